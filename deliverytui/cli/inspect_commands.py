"""``deliverytui snapshot`` and ``deliverytui groups``: read-only, through the collector the live view uses.

The Kafka work runs in a forked child (:mod:`deliverytui.cli.forked`): a librdkafka crash while a
broker starts becomes one line and exit 3, and the command is tried again within ``--timeout``; a
group coordinator that is still loading is asked again within the same time.
"""

from __future__ import annotations

import argparse

from deliverytui.cli.connection import Connection, resolve_connection
from deliverytui.cli.forked import run_forked
from deliverytui.cli.output import (
    print_json,
    render_groups_table,
    render_positions_table,
    render_snapshot_table,
)


def _inspector(connection: Connection):
    """Called in the forked child: the parent imported the module, the child creates the client."""
    from deliverytui.kafka.group_inspector import GroupInspector

    return GroupInspector(connection.bootstrap, connection.config, request_timeout=connection.timeout)


def _read_positions(connection: Connection, snapshot, probe_topic: str):
    """The probe topic read to its end (within ``--timeout``), each position checked against the snapshot's members."""
    import time

    from deliverytui.kafka.probe_positions import PositionCollector
    from deliverytui.model.positions import verify_reporters

    deadline = time.monotonic() + connection.timeout
    with PositionCollector(
        connection.bootstrap, connection.config, snapshot.group_id, topic=probe_topic, request_timeout=connection.timeout
    ) as collector:
        view = collector.poll(min(1.0, connection.timeout))
        while not view.caught_up and view.error is None and time.monotonic() < deadline:
            view = collector.poll(min(1.0, max(0.0, deadline - time.monotonic())))
    return verify_reporters(view, snapshot.members)


def _import_kafka_modules() -> None:
    """Load librdkafka and the collectors in the parent, before the fork, so a re-forked child starts warm."""
    import deliverytui.kafka.admin_requests  # noqa: F401
    import deliverytui.kafka.group_inspector  # noqa: F401


def snapshot(args: argparse.Namespace) -> int:
    connection = resolve_connection(args)
    _import_kafka_modules()
    if args.positions:
        import deliverytui.kafka.probe_positions  # noqa: F401 - before the fork, as the others

    def work(budget_s: float) -> int:
        from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

        inspector = _inspector(connection)
        result = retry_while_coordinator_not_ready(lambda: inspector.snapshot(args.group), budget_s)
        positions = _read_positions(connection, result, args.probe_topic) if args.positions else None
        if args.json:
            data = result.to_json()
            if positions is not None:
                data["positions"] = positions.to_json()
            print_json(data)
        else:
            print(render_snapshot_table(result))
            if positions is not None:
                print("\n" + render_positions_table(positions))
        return 0

    return run_forked(work, bootstrap=connection.bootstrap, timeout=connection.timeout)


def groups(args: argparse.Namespace) -> int:
    connection = resolve_connection(args)
    _import_kafka_modules()

    def work(budget_s: float) -> int:
        from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

        inspector = _inspector(connection)
        listed = retry_while_coordinator_not_ready(inspector.list_groups, budget_s)
        if args.json:
            print_json([g.to_json() for g in listed])
        else:
            print(render_groups_table(listed))
        return 0

    return run_forked(work, bootstrap=connection.bootstrap, timeout=connection.timeout)
