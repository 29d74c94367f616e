"""``deliverytui snapshot`` and ``deliverytui groups``: read-only, through the collector the live view uses.

The Kafka work runs in a forked child (:mod:`deliverytui.cli.forked`): a librdkafka crash while a
broker starts becomes one line and exit 3, and the command is tried again within ``--timeout``; a
group coordinator that is still loading is asked again within the same time.
"""

from __future__ import annotations

import argparse

from deliverytui.cli.connection import Connection, resolve_connection, start_java_admin
from deliverytui.cli.forked import collector_paused, run_forked
from deliverytui.cli.output import (
    print_json,
    render_groups_table,
    render_positions_table,
    render_share_snapshot_table,
    render_snapshot_table,
)
from deliverytui.errors import UnknownGroupError, UsageError


def _inspector(connection: Connection):
    """Called in the forked child: the parent imported the module, the child creates the client."""
    from deliverytui.kafka.group_inspector import GroupInspector

    return GroupInspector(connection.bootstrap, connection.config, request_timeout=connection.timeout)


def _share_snapshot(connection: Connection, inspector, group_id: str):
    """The share group ``group_id`` (asked for when no classic or consumer group has that id)."""
    from deliverytui.kafka.share_inspector import ShareGroupInspector

    with start_java_admin(connection) as java:
        return ShareGroupInspector(java, inspector).snapshot(group_id)


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
    with collector_paused():
        connection = resolve_connection(args)
        _import_kafka_modules()
        if args.positions:
            import deliverytui.kafka.probe_positions  # noqa: F401 - before the fork, as the others

    def work(budget_s: float) -> int:
        from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

        inspector = _inspector(connection)
        try:
            result = retry_while_coordinator_not_ready(lambda: inspector.snapshot(args.group), budget_s)
        except UnknownGroupError:  # not a classic or consumer group: a share group has its own describe
            shared = retry_while_coordinator_not_ready(lambda: _share_snapshot(connection, inspector, args.group), budget_s)
            if args.positions:
                raise UsageError("--positions reads the probe topic of classic and consumer groups; a share group has no positions to report") from None
            print_json(shared.to_json()) if args.json else print(render_share_snapshot_table(shared))
            return 0
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
    with collector_paused():
        connection = resolve_connection(args)
        _import_kafka_modules()

    def work(budget_s: float) -> int:
        from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

        inspector = _inspector(connection)
        java = _start_java_admin_for_listing(connection)
        try:
            listed = retry_while_coordinator_not_ready(inspector.list_groups, budget_s)
            if java is not None:
                from deliverytui.kafka.share_inspector import ShareGroupInspector

                shared = retry_while_coordinator_not_ready(ShareGroupInspector(java, inspector).list_share_groups, budget_s)
                listed = sorted([*listed, *shared], key=lambda g: g.group_id)
        finally:
            if java is not None:
                java.close()
        if args.json:
            print_json([g.to_json() for g in listed])
        else:
            print(render_groups_table(listed))
        return 0

    return run_forked(work, bootstrap=connection.bootstrap, timeout=connection.timeout)


def _start_java_admin_for_listing(connection: Connection):
    """The helper that lists share groups, or ``None`` (with a warning) where Java cannot build or run it:
    classic and consumer groups are still worth listing then."""
    import sys

    from deliverytui.broker.distribution import KafkaSetupError

    try:
        return start_java_admin(connection)
    except KafkaSetupError as exc:
        print(f"deliverytui: warning: share groups are not listed: {exc}", file=sys.stderr)
        return None
