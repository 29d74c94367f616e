"""``deliverytui snapshot`` and ``deliverytui groups``: read-only, through the collector the live view uses."""

from __future__ import annotations

import argparse

from deliverytui.cli.connection import Connection, resolve_connection
from deliverytui.cli.output import print_json, render_groups_table, render_snapshot_table


def _inspector(connection: Connection):
    from deliverytui.kafka.group_inspector import GroupInspector

    return GroupInspector(connection.bootstrap, connection.config, request_timeout=connection.timeout)


def snapshot(args: argparse.Namespace) -> int:
    result = _inspector(resolve_connection(args)).snapshot(args.group)
    if args.json:
        print_json(result.to_json())
    else:
        print(render_snapshot_table(result))
    return 0


def groups(args: argparse.Namespace) -> int:
    listed = _inspector(resolve_connection(args)).list_groups()
    if args.json:
        print_json([g.to_json() for g in listed])
    else:
        print(render_groups_table(listed))
    return 0
