"""``deliverytui reset`` and ``deliverytui delete-offsets``: the CLI's only write paths, dry run unless --execute.

The Kafka work runs in a forked child (:mod:`deliverytui.cli.forked`), as for ``snapshot``: a librdkafka
crash is one line, never a core dump. A group coordinator that is not ready yet is asked again within
``--timeout`` (plans are reads; the write commits absolute offsets, so repeating a refused one is safe).
An id no classic or consumer group has may be a share group's: :mod:`deliverytui.cli.share_offsets`
asks, and its start offsets are then planned and written the same way (same output, same exit codes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deliverytui.cli.connection import Connection, resolve_connection
from deliverytui.cli.forked import announce_write, run_forked
from deliverytui.cli.output import format_table, print_json
from deliverytui.errors import UsageError, UserFacingError
from deliverytui.model.reset import RESET_MODES
from deliverytui.model.text import shown_name


def _resetter(connection: Connection):
    """Called in the forked child: the parent imported the module (:func:`_import_kafka_modules`)."""
    from deliverytui.kafka.offset_reset import OffsetResetter

    return OffsetResetter(connection.bootstrap, connection.config, request_timeout=connection.timeout)


def _import_kafka_modules() -> None:
    """Load librdkafka and the resetter in the parent, before the fork, so a re-forked child starts warm."""
    import deliverytui.kafka.admin_requests  # noqa: F401
    import deliverytui.kafka.offset_reset  # noqa: F401


def option_dest(spec) -> str:
    """The attribute argparse gives a mode's option (``--to-offset`` → ``to_offset``)."""
    return spec.mode.value.replace("-", "_")


def _reset_target(args: argparse.Namespace):
    """The target of the one mode option given (argparse makes them exclusive and requires one)."""
    from deliverytui.kafka.reset_arguments import build_target

    for spec in RESET_MODES.values():
        value = getattr(args, option_dest(spec))
        if value is not None and value is not False:
            return build_target(spec.mode, str(value) if spec.takes_value else "", group_id=args.group)
    raise UsageError("name a reset mode, e.g. --to-earliest")


def _print_heading(plan, action: str) -> None:
    """The plan's first line: the group, its state and members, and what the command does to it."""
    print(f"Group {shown_name(plan.group_id)} ({plan.group_state}, {plan.active_members} active member(s)): {action}\n")


def _print_outcome(args: argparse.Namespace, plan, executed: str, *, gap: str) -> None:
    """What ``--execute`` did, or why this dry run changed nothing; ``gap`` goes before each line."""
    if args.execute:
        print(f"{gap}executed: {executed}")
    else:
        if plan.blocked_reason:
            print(f"{gap}warning: {plan.blocked_reason}")
        print(f"{gap}dry run: nothing was changed (add --execute to apply)")


def reset(args: argparse.Namespace) -> int:
    """Dry run by default; ``--execute`` is the consent to write (as in Kafka's own tool)."""
    from deliverytui.kafka.reset_arguments import parse_topic_args
    from deliverytui.model.reset import PartitionSelection

    if args.to_offset is not None and args.to_offset < 0:
        raise UsageError("--to-offset must be 0 or more")
    if args.from_file and (args.topic or args.all_topics):
        raise UsageError(
            "--from-file takes its partitions from the file; do not combine it with --topic or --all-topics")
    selection = PartitionSelection(all_topics=True) if args.all_topics else parse_topic_args(args.topic or [])
    target = _reset_target(args)
    connection = resolve_connection(args)
    _import_kafka_modules()
    return run_forked(
        lambda budget_s: _reset_in_child(args, connection, selection, target, budget_s),
        bootstrap=connection.bootstrap, timeout=connection.timeout,
    )


def _reset_in_child(args: argparse.Namespace, connection: Connection, selection, target, budget_s: float) -> int:
    from deliverytui.cli.share_offsets import share_resetter
    from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

    def retry(call):
        return retry_while_coordinator_not_ready(call, budget_s)

    resetter = _resetter(connection)
    if retry(lambda: resetter.is_unknown_group(args.group)):
        with share_resetter(connection, resetter.inspector, args.group, retry) as share:
            if share is not None:  # a share group: its start offsets are reset (Kafka's kafka-share-groups)
                plan = retry(lambda: share.plan_reset(args.group, selection, target))
                if args.execute:
                    announce_write()
                    retry(lambda: share.execute_reset(plan))
                return _report_reset(args, plan, target, f"set the start offsets of share group {shown_name(plan.group_id)}")
    plan = retry(lambda: resetter.plan_reset(args.group, selection, target))
    if args.execute:
        announce_write()
        retry(lambda: resetter.execute_reset(plan, allow_writes=True))
    return _report_reset(args, plan, target, f"committed the new offsets of group {shown_name(plan.group_id)}")


def _report_reset(args: argparse.Namespace, plan, target, executed: str) -> int:
    """Export, then print the plan (JSON or a table) and what ``--execute`` did."""
    from deliverytui.kafka.reset_arguments import reset_csv

    if args.export:
        try:
            Path(args.export).write_text(reset_csv(plan), encoding="utf-8")
        except OSError as exc:
            raise UserFacingError(f"cannot write {args.export}: {exc.strerror}") from None
    if args.json:
        print_json(plan.to_json(executed=bool(args.execute)))
        return 0
    _print_heading(plan, f"reset {target.describe()} on {len(plan.partitions)} partition(s)")
    print(
        format_table(
            ["TOPIC", "PARTITION", "CURRENT", "NEW", "REDELIVERED", "SKIPPED", "LOG-START", "LOG-END"],
            (
                (p.topic, p.partition, p.current_offset, p.new_offset, p.redelivered, p.skipped, p.log_start_offset, p.log_end_offset)
                for p in plan.partitions
            ),
        )
    )
    print(f"\ntotal: {plan.total_redelivered} record(s) will be redelivered, {plan.total_skipped} skipped")
    for warning in plan.warnings:
        print(f"warning: {warning}")
    _print_outcome(args, plan, executed, gap="")
    if args.export:
        print(f"exported the new offsets to {args.export} (use it with --from-file)")
    return 0


def delete_offsets(args: argparse.Namespace) -> int:
    from deliverytui.kafka.reset_arguments import parse_topic_args

    selection = parse_topic_args(args.topic)
    connection = resolve_connection(args)
    _import_kafka_modules()
    return run_forked(
        lambda budget_s: _delete_in_child(args, connection, selection, budget_s),
        bootstrap=connection.bootstrap, timeout=connection.timeout,
    )


def _delete_in_child(args: argparse.Namespace, connection: Connection, selection, budget_s: float) -> int:
    from deliverytui.cli.share_offsets import share_resetter
    from deliverytui.kafka.admin_requests import retry_while_coordinator_not_ready

    def retry(call):
        return retry_while_coordinator_not_ready(call, budget_s)

    resetter = _resetter(connection)
    if retry(lambda: resetter.is_unknown_group(args.group)):
        with share_resetter(connection, resetter.inspector, args.group, retry) as share:
            if share is not None:  # a share group: its share-partition state of whole topics is deleted
                plan = retry(lambda: share.plan_offset_delete(args.group, selection))
                if args.execute:
                    announce_write()
                    retry(lambda: share.execute_offset_delete(plan))
                return _report_delete(args, plan, "START-OFFSET", f"deleted the start offsets above from share group {shown_name(plan.group_id)}")
    plan = retry(lambda: resetter.plan_offset_delete(args.group, selection))
    if args.execute:
        announce_write()
        retry(lambda: resetter.execute_offset_delete(plan, allow_writes=True))
    return _report_delete(args, plan, "COMMITTED", f"deleted the committed offsets above from group {shown_name(plan.group_id)}")


def _report_delete(args: argparse.Namespace, plan, offset_header: str, executed: str) -> int:
    if args.json:
        print_json(plan.to_json(executed=bool(args.execute)))
        return 0
    noun = "committed offsets" if offset_header == "COMMITTED" else "start offsets"
    _print_heading(plan, f"delete the {noun} of {len(plan.partitions)} partition(s)")
    print(format_table(["TOPIC", "PARTITION", offset_header], ((tp.topic, tp.partition, off) for tp, off in plan.partitions)))
    _print_outcome(args, plan, executed, gap="\n")
    return 0
