"""``deliverytui snapshot`` and ``deliverytui groups``: read-only, through the collector the live view uses.

The Kafka work runs in a forked child (:mod:`deliverytui.cli.forked`): a librdkafka crash while a
broker starts becomes one line and exit 3, and the command is tried again within ``--timeout``; a
group coordinator that is still loading is asked again within the same time.
"""

from __future__ import annotations

import argparse
import time

from deliverytui.argtypes import GROUP_TYPES
from deliverytui.cli.connection import Connection, resolve_connection, start_java_admin
from deliverytui.cli.forked import collector_paused, run_forked
from deliverytui.cli.output import (
    fleet_group_json,
    print_json,
    render_fleet_table,
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
        if args.time_lag:
            import deliverytui.cli.exact_time_lag  # noqa: F401 - before the fork, as the others
            import deliverytui.kafka.commit_timestamps  # noqa: F401 - before the fork, as the others

    def work(budget_s: float) -> int:
        from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

        started = time.monotonic()
        inspector = _inspector(connection)
        try:
            result = retry_while_coordinator_not_ready(lambda: inspector.snapshot(args.group), budget_s)
        except UnknownGroupError:  # not a classic or consumer group: a share group has its own describe
            shared = retry_while_coordinator_not_ready(lambda: _share_snapshot(connection, inspector, args.group), budget_s)
            if args.positions:
                raise UsageError("--positions reads the probe topic of classic and consumer groups; a share group has no positions to report") from None
            if args.time_lag:
                raise UsageError("--time-lag reads the records at committed offsets; a share group has no committed offsets") from None
            print_json(shared.to_json()) if args.json else print(render_share_snapshot_table(shared))
            return 0
        positions = _read_positions(connection, result, args.probe_topic) if args.positions else None
        # Within what is left of --timeout: the parent waits for the child that long (plus a margin), not twice.
        from deliverytui.cli.exact_time_lag import exact_time_lags

        time_lags = exact_time_lags(connection, result, max(1.0, budget_s - (time.monotonic() - started))) if args.time_lag else None
        if args.json:
            data = result.to_json()
            if time_lags is not None:
                for row, item in zip(result.partitions, data["partitions"]):
                    seconds = time_lags.get((row.topic, row.partition))
                    item["time_lag_s"] = None if seconds is None else round(seconds, 3)
            if positions is not None:  # the model was loaded by _read_positions (not at parse time: 3-8 ms)
                from deliverytui.model.positions import partition_position_fields

                data["positions"] = positions.to_json()
                for row, item in zip(result.partitions, data["partitions"]):
                    item.update(partition_position_fields(positions.get(row.topic, row.partition)))
            print_json(data)
        else:
            print(render_snapshot_table(result, time_lags))
            if positions is not None:
                print("\n" + render_positions_table(positions))
        return 0

    return run_forked(work, bootstrap=connection.bootstrap, timeout=connection.timeout)


def groups(args: argparse.Namespace) -> int:
    """Every group with its type, state, members, topics and total lag: one batched fleet refresh
    (:class:`~deliverytui.kafka.fleet_collector.FleetCollector`), plus share groups from the Java helper."""
    with collector_paused():
        connection = resolve_connection(args)
        _import_kafka_modules()
        import deliverytui.kafka.fleet_collector  # noqa: F401 - before the fork, as the others
        if args.time_lag:
            import deliverytui.cli.exact_time_lag  # noqa: F401 - before the fork, as the others
            import deliverytui.kafka.commit_timestamps  # noqa: F401 - before the fork, as the others

    def work(budget_s: float) -> int:
        import sys

        from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready
        from deliverytui.kafka.fleet_collector import FleetCollector, share_readings

        started = time.monotonic()

        collector = FleetCollector(connection.bootstrap, connection.config, request_timeout=connection.timeout)
        java = _start_java_admin_for_listing(connection) if "share" in args.type else None
        try:
            fleet = retry_while_coordinator_not_ready(collector.read, budget_s)
            readings = list(fleet.groups)
            if java is not None:
                from deliverytui.kafka.share_inspector import ShareGroupInspector

                shared = retry_while_coordinator_not_ready(ShareGroupInspector(java, collector).list_share_groups, budget_s)
                share_ids = {g.group_id for g in shared}
                readings = [r for r in readings if r.group_id not in share_ids] + share_readings(shared)
        finally:
            if java is not None:
                java.close()
        if args.type != frozenset(GROUP_TYPES):  # a group whose type the broker did not report stays in the full list
            readings = [r for r in readings if r.group_type in args.type]
        readings.sort(key=lambda r: r.group_id)
        time_lags = None
        if args.time_lag:
            remaining = max(1.0, budget_s - (time.monotonic() - started))
            from deliverytui.cli.exact_time_lag import fleet_max_time_lags

            time_lags, failures = fleet_max_time_lags(connection, readings, fleet.taken_at, remaining)
            if failures:
                print(f"deliverytui: warning: time lag not read for {len(failures)} group(s); first: {failures[0]}", file=sys.stderr)
        if args.json:
            print_json([fleet_group_json(r, time_lags) for r in readings])
        else:
            print(render_fleet_table(readings, time_lags))
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
