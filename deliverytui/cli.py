"""Command line: argument parsing and the non-interactive commands.

Every command reuses the collectors the TUI uses (``GroupInspector``,
``deliverytui.broker.embedded.EmbeddedBroker``), so what the CLI prints is what the screens show. Errors the
user can fix are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deliverytui import __version__
from deliverytui.argtypes import positive_int
from deliverytui.errors import ExitCode, UsageError, UserFacingError


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- broker ------------------------------------------------------------------
def _broker_dir(args: argparse.Namespace) -> Path:
    """``--data-dir``, else the default single broker's dir, or the default cluster's for a cluster action."""
    from deliverytui.broker.paths import default_cluster_dir, default_data_dir
    from deliverytui.broker.state import STATE_FILE, is_cluster_dir

    if args.data_dir:
        return Path(args.data_dir)
    if (args.nodes or 1) > 1 or args.node is not None:
        return default_cluster_dir()
    single = default_data_dir()
    if args.action in ("status", "stop", "info") and not (single / STATE_FILE).exists() and is_cluster_dir(default_cluster_dir()):
        return default_cluster_dir()
    return single


def _broker(args: argparse.Namespace) -> int:
    """``broker ACTION``: one embedded broker of one node or N (see :mod:`deliverytui.broker.embedded`)."""
    from deliverytui.broker.distribution import resolve_distribution
    from deliverytui.broker.embedded import MAX_NODES, EmbeddedBroker
    from deliverytui.broker.state import is_cluster_dir

    if args.nodes is not None and not 1 <= args.nodes <= MAX_NODES:
        raise UsageError(f"--nodes must be between 1 and {MAX_NODES}, got {args.nodes}")
    if args.action in ("kill", "restart") and args.node is None:
        raise UsageError(f"'broker {args.action}' needs --node N (a node of a cluster started with --nodes)")
    if args.node is not None and args.action not in ("kill", "restart"):
        raise UsageError(f"--node applies to 'broker kill' and 'broker restart', not to 'broker {args.action}'")
    data_dir = _broker_dir(args)
    if args.action == "fetch":
        dist = resolve_distribution(progress=_progress)
        if args.json:
            _print_json({"kafka_version": dist.kafka_version, "libs_dir": str(dist.libs_dir), "source": dist.source})
        else:
            print(f"Apache Kafka {dist.kafka_version} jars ready in {dist.libs_dir} ({dist.source})")
        return 0
    broker = EmbeddedBroker(data_dir)
    cluster = is_cluster_dir(data_dir) or (args.action == "start" and (args.nodes or 1) > 1 and broker.node_count == 0)
    if cluster and args.port is not None:
        raise UsageError("--port applies to a single-node broker; a cluster's nodes take free ports, recorded in cluster.json")
    if args.action == "start":
        info, started = broker.start(args.nodes, port=args.port, progress=_progress, security=args.security)
        if args.json:
            _print_json({**info.to_json(), "started": started})
        elif "node_count" in info.extra:
            if started:
                print(
                    f"Apache Kafka {info.kafka_version}: {info.extra['node_count']}-node cluster running at {info.bootstrap} "
                    f"(replication factor {info.extra['replication_factor']}, min.insync.replicas "
                    f"{info.extra['min_insync_replicas']}, data dir {info.data_dir})"
                )
            else:
                print(f"the {info.extra['node_count']}-node cluster is already running at {info.bootstrap} (data dir {info.data_dir}); reusing it")
        elif started:
            print(f"Apache Kafka {info.kafka_version} started at {info.bootstrap} (pid {info.pid}, data dir {info.data_dir})")
        else:
            print(f"Apache Kafka is already running at {info.bootstrap} (pid {info.pid}, data dir {info.data_dir}); reusing it")
        if not args.json:
            for user, path in (info.extra.get("client_configs") or {}).items():  # --security sasl
                print(f"  SASL principal {user}: --config {path}")
        return 0
    if args.action == "stop":
        stopped = broker.stop()
        what = ("the cluster", "no node was running") if cluster else ("the broker", "no broker was running")
        if args.json:
            _print_json({"stopped": stopped, "data_dir": str(broker.data_dir)})
        else:
            print(f"stopped {what[0]} in {broker.data_dir}" if stopped else f"{what[1]} in {broker.data_dir}")
        return 0
    if args.action == "kill":
        broker.check_node(args.node)
        killed = broker.kill(args.node)
        if args.json:
            _print_json({"node": args.node, "killed": killed, "data_dir": str(broker.data_dir)})
        else:
            print(f"killed node {args.node} (SIGKILL)" if killed else f"node {args.node} was not running")
        return 0
    if args.action == "restart":
        broker.check_node(args.node)
        result = broker.restart(args.node, progress=_progress)
        if args.json:
            _print_json({**result, "data_dir": str(broker.data_dir)})
        else:
            print(f"node {args.node} {'restarted' if result['was_running'] else 'started'} at {result['bootstrap']} (pid {result['pid']})"
                  + ("; back in the ISR of every partition it replicates" if result["in_sync"] else ""))
        if not result["in_sync"]:
            lagging = result["out_of_sync_partitions"]
            print(f"deliverytui: warning: node {args.node} answers but is not yet in the ISR of {len(lagging)} partition(s), "
                  f"e.g. {', '.join(lagging[:3])}", file=sys.stderr)
        return 0
    info = broker.info()
    if args.action == "status":
        return _broker_status(args, broker, info)
    # info
    if info is None:
        what = "cluster" if cluster else "broker"
        hint = " --nodes 3" if cluster else ""
        raise UserFacingError(
            f"no embedded {what} was ever started in {broker.data_dir}; run 'deliverytui broker start{hint}'",
            exit_code=ExitCode.BROKER_NOT_RUNNING,
        )
    if args.json:
        _print_json(info.to_json())
        return 0
    for key, value in info.to_json().items():
        if key == "nodes":
            for node in value:
                state = f"pid {node['pid']}" if node["running"] else "down"
                print(f"{'node ' + str(node['id']):>14}: {node['bootstrap']} ({state}, {node['data_dir']})")
        elif isinstance(value, dict):  # client_configs of a secured broker: one line each
            for sub_key, sub_value in value.items():
                print(f"{sub_key + ' config':>14}: {sub_value}")
        elif isinstance(value, list):  # authorizer_logs of a secured cluster: one line per node
            for i, item in enumerate(value):
                print(f"{key if i == 0 else '':>14}: {item}")
        else:
            print(f"{key:>14}: {value}")
    return 0


def _broker_status(args: argparse.Namespace, broker, info) -> int:
    """``broker status``: 0 when every node runs, BROKER_NOT_RUNNING when none does, NODES_DOWN in between."""
    running = bool(info and info.running)
    nodes = info.extra.get("node_count") if info else None
    if args.json:
        _print_json(info.to_json() if info else {"running": False, "data_dir": str(broker.data_dir)})
    elif running and nodes is not None:
        missing = [str(n["id"]) for n in info.extra["nodes"] if not n["running"]]
        down = f"; node(s) {', '.join(missing)} down" if missing else ""
        print(
            f"running at {info.bootstrap} ({info.extra['nodes_running']}/{nodes} nodes{down}, "
            f"Kafka {info.kafka_version}, data dir {info.data_dir})"
        )
    elif running:
        print(f"running at {info.bootstrap} (pid {info.pid}, Kafka {info.kafka_version}, data dir {info.data_dir})")
    else:
        print(f"not running (data dir {broker.data_dir})")
    if not running:
        return ExitCode.BROKER_NOT_RUNNING
    return ExitCode.OK if nodes is None or info.extra["nodes_running"] == nodes else ExitCode.NODES_DOWN


# -- snapshot and groups -------------------------------------------------------
def _inspector(args: argparse.Namespace):
    from deliverytui.broker.state import resolve_bootstrap
    from deliverytui.kafka.client_config import load_properties
    from deliverytui.kafka.inspect import GroupInspector

    file_config = load_properties(args.config) if args.config else None
    bootstrap, _source = resolve_bootstrap(args.bootstrap, file_config=file_config)
    return GroupInspector(bootstrap, file_config, request_timeout=args.timeout)


def _snapshot(args: argparse.Namespace) -> int:
    from deliverytui.render_text import render_snapshot_table

    snapshot = _inspector(args).snapshot(args.group)
    if args.json:
        _print_json(snapshot.to_json())
    else:
        print(render_snapshot_table(snapshot))
    return 0


def _groups(args: argparse.Namespace) -> int:
    from deliverytui.render_text import render_groups_table

    groups = _inspector(args).list_groups()
    if args.json:
        _print_json([g.to_json() for g in groups])
    else:
        print(render_groups_table(groups))
    return 0


# -- reset and delete-offsets (the only write paths) -----------------------------------
def _resetter(args: argparse.Namespace):
    from deliverytui.broker.state import resolve_bootstrap
    from deliverytui.kafka.client_config import load_properties
    from deliverytui.kafka.reset import OffsetResetter

    file_config = load_properties(args.config) if args.config else None
    bootstrap, _source = resolve_bootstrap(args.bootstrap, file_config=file_config)
    return OffsetResetter(bootstrap, file_config, request_timeout=args.timeout)


def _reset_target(args: argparse.Namespace):
    """The target of the one mode option given (argparse makes them exclusive and requires one)."""
    from deliverytui.kafka.reset import build_target
    from deliverytui.model.reset import RESET_MODES

    for spec in RESET_MODES.values():
        value = getattr(args, spec.mode.value.replace("-", "_"))
        if value is not None and value is not False:
            return build_target(spec.mode, str(value) if spec.takes_value else "", group_id=args.group)
    raise UsageError("name a reset mode, e.g. --to-earliest")


def _reset(args: argparse.Namespace) -> int:
    """Dry run by default; ``--execute`` is the consent to write (as in Kafka's own tool)."""
    from deliverytui.kafka.reset import parse_topic_args, reset_csv
    from deliverytui.model.reset import PartitionSelection
    from deliverytui.render_text import format_table

    if args.to_offset is not None and args.to_offset < 0:
        raise UsageError("--to-offset must be 0 or more")
    if args.from_file and (args.topic or args.all_topics):
        raise UsageError(
            "--from-file takes its partitions from the file; do not combine it with --topic or --all-topics")
    selection = PartitionSelection(all_topics=True) if args.all_topics else parse_topic_args(args.topic or [])
    target = _reset_target(args)
    resetter = _resetter(args)
    plan = resetter.plan_reset(args.group, selection, target)
    if args.execute:
        resetter.execute_reset(plan, allow_writes=True)
    if args.export:
        try:
            Path(args.export).write_text(reset_csv(plan), encoding="utf-8")
        except OSError as exc:
            raise UserFacingError(f"cannot write {args.export}: {exc.strerror}") from None
    if args.json:
        _print_json(plan.to_json(executed=bool(args.execute)))
        return 0
    print(
        f"Group {plan.group_id} ({plan.group_state}, {plan.active_members} active member(s)): "
        f"reset {target.describe()} on {len(plan.partitions)} partition(s)\n"
    )
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
    if args.execute:
        print(f"executed: committed the new offsets of group {plan.group_id}")
    else:
        if plan.blocked_reason:
            print(f"warning: {plan.blocked_reason}")
        print("dry run: nothing was changed (add --execute to apply)")
    if args.export:
        print(f"exported the new offsets to {args.export} (use it with --from-file)")
    return 0


def _delete_offsets(args: argparse.Namespace) -> int:
    from deliverytui.kafka.reset import parse_topic_args
    from deliverytui.render_text import format_table

    resetter = _resetter(args)
    plan = resetter.plan_offset_delete(args.group, parse_topic_args(args.topic))
    if args.execute:
        resetter.execute_offset_delete(plan, allow_writes=True)
    if args.json:
        _print_json(plan.to_json(executed=bool(args.execute)))
        return 0
    print(
        f"Group {plan.group_id} ({plan.group_state}, {plan.active_members} active member(s)): "
        f"delete the committed offsets of {len(plan.partitions)} partition(s)\n"
    )
    print(format_table(["TOPIC", "PARTITION", "COMMITTED"], ((tp.topic, tp.partition, off) for tp, off in plan.partitions)))
    if args.execute:
        print(f"\nexecuted: deleted the committed offsets above from group {plan.group_id}")
    else:
        if plan.blocked_reason:
            print(f"\nwarning: {plan.blocked_reason}")
        print("\ndry run: nothing was changed (add --execute to apply)")
    return 0


# -- the demo lab -------------------------------------------------------------------
def _demo_cluster(args: argparse.Namespace) -> str | None:
    """``demo --nodes N`` (N > 1): start or reuse the embedded N-node cluster and create the demo's topics
    replicated on it (replication factor 3 and min.insync.replicas 2 on three nodes). Its bootstrap, else None."""
    if args.nodes is None:
        return args.bootstrap
    from deliverytui.broker.embedded import MAX_NODES, EmbeddedBroker
    from deliverytui.broker.paths import default_cluster_dir
    from deliverytui.broker.properties import replication_for
    from deliverytui.demo.semantics import output_topic
    from deliverytui.demo.task_api import ensure_topic

    if args.bootstrap:
        raise UsageError("--nodes starts the embedded cluster; do not combine it with --bootstrap")
    if not 1 <= args.nodes <= MAX_NODES:
        raise UsageError(f"--nodes must be between 1 and {MAX_NODES}, got {args.nodes}")
    if args.nodes == 1:
        return None  # the single embedded broker, as without --nodes
    _progress(f"starting (or reusing) the embedded {args.nodes}-node Apache Kafka cluster…")
    info, _ = EmbeddedBroker(default_cluster_dir()).start(args.nodes, progress=_progress, security="none")  # PLAINTEXT clients
    factor, min_isr = replication_for(args.nodes)
    for topic in (args.topic, output_topic(args.topic)):
        ensure_topic(info.bootstrap, topic, args.partitions, factor, config={"min.insync.replicas": str(min_isr)})
    return info.bootstrap


def _demo(args: argparse.Namespace) -> int:
    """Without --headless: the lab TUI (deliverytui.tui.demo_app). With it: one crash experiment, then its audit."""
    if not args.headless:
        args.bootstrap = _demo_cluster(args)
        from deliverytui.tui.demo_app import run_demo  # Textual is imported only here

        return int(run_demo(args) or 0)
    from deliverytui.broker.embedded import EmbeddedBroker
    from deliverytui.broker.paths import default_data_dir
    from deliverytui.demo.headless import malformed_values, run_headless
    from deliverytui.demo.semantics import check_crash_point

    if not args.semantic:
        raise UsageError("--headless needs --semantic (at-most-once, at-least-once, idempotent, upsert, state-check, exactly-once)")
    if args.crash_at:
        check_crash_point(args.semantic, args.crash_at)  # before starting a broker for nothing
    bootstrap = _demo_cluster(args)
    if not bootstrap:
        bootstrap = EmbeddedBroker(default_data_dir()).start(progress=_progress, security="none")[0].bootstrap  # PLAINTEXT clients
    result = run_headless(
        bootstrap=bootstrap,
        semantic=args.semantic,
        events=args.events,
        crash_at=args.crash_at,
        crashes=args.crashes,
        ledger_url=args.ledger,
        dedup_url=args.dedup,
        run_dir=args.run_dir,
        partitions=args.partitions,
        group_prefix=args.group_prefix,
        topic=args.topic,
        timeout=args.timeout,
        progress=None if args.json else _progress,
        malformed=malformed_values(max(0, args.malformed)),
        commit_every=args.commit_every,
    )
    if args.json:
        _print_json(result)
    else:
        print(
            f"{result['semantic']}: {result['events']} events, {result['effects']} effects "
            f"({result['unique_effects']} unique), {result['duplicates']} duplicate(s), {result['lost']} lost, "
            f"{result['unexpected']} unexpected, {result['dedup_hits']} dedup hit(s), {result['dedup_retakes']} retake(s), {result['crashes']} crash(es) "
            f"— ledger in {result['run_dir']}"
        )
        for warning in result["warnings"]:
            print(f"warning: {warning}")
    return 0


# -- the TUI -----------------------------------------------------------------------
def _tui(args: argparse.Namespace) -> int:
    if not args.group:
        build_parser().print_help()
        return ExitCode.USAGE
    from deliverytui.tui.app import DeliveryApp  # Textual is imported only here

    config = viewer_config(args)
    if config.client_config:
        from deliverytui.kafka.inspect import GroupInspector

        # A config librdkafka rejects (unknown key, bad value) is one line before the screen opens
        # (the app itself would show it as a banner, for a config that breaks later).
        GroupInspector(config.bootstrap, config.client_config, request_timeout=config.request_timeout)
    DeliveryApp(config).run()
    return 0


def viewer_config(args: argparse.Namespace):
    """The live view's ViewerConfig for ``deliverytui --group G ...`` (tests build the app from it)."""
    from deliverytui.broker.state import resolve_bootstrap
    from deliverytui.kafka.client_config import load_properties
    from deliverytui.tui.viewer_config import ViewerConfig

    file_config = load_properties(args.config) if args.config else None
    bootstrap, _source = resolve_bootstrap(args.bootstrap, file_config=file_config)
    return ViewerConfig(
        bootstrap=bootstrap,
        group=args.group,
        client_config=file_config or {},
        refresh_seconds=max(0.2, args.refresh),
        request_timeout=args.timeout,
        dedup_url=args.dedup,
        dedup_prefix=args.dedup_prefix,
        allow_writes=args.allow_writes,
    )


# -- parser ----------------------------------------------------------------------
def _add_cluster_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand that is not given these keeps the value given before it
    # (`deliverytui --bootstrap B snapshot --group G`), or the top-level default.
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=argparse.SUPPRESS,
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, then the running embedded broker, "
        "then localhost:9092)",
    )
    parser.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS,
        help="librdkafka properties file (security.protocol, sasl.*, ssl.*)",
    )
    parser.add_argument(
        "--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS", help="per-request timeout (default 10)"
    )


def build_parser() -> argparse.ArgumentParser:
    from deliverytui.model.reset import RESET_MODES

    parser = argparse.ArgumentParser(
        prog="deliverytui",
        description="See how a Kafka consumer group really delivers: committed offsets, positions, lag, redeliveries.",
    )
    parser.add_argument("--version", action="version", version=f"deliverytui {__version__}")
    tui = parser.add_argument_group("live view (deliverytui --group G)")
    tui.add_argument("--group", help="consumer group to watch in the TUI")
    tui.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka bootstrap servers (same defaults as 'snapshot')")
    tui.add_argument("--config", metavar="FILE", help="librdkafka properties file (security.protocol, sasl.*, ssl.*)")
    tui.add_argument("--refresh", type=float, default=2.0, metavar="SECONDS", help="seconds between snapshots (default 2)")
    tui.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-request timeout (default 10)")
    tui.add_argument("--dedup", metavar="URL", help="dedup store to watch: redis://, postgresql:// or sqlite:///path")
    tui.add_argument("--dedup-prefix", default="processed:", help="key prefix sampled in a Redis store deliverytui did not write")
    tui.add_argument(
        "--allow-writes", action="store_true", help="enable offset reset and delete (read-only without it)"
    )
    parser.set_defaults(handler=_tui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    broker = sub.add_parser(
        "broker", help="start, stop or inspect the embedded Apache Kafka broker (or an N-node cluster: --nodes)"
    )
    broker.add_argument("action", choices=["start", "stop", "status", "info", "fetch", "kill", "restart"])
    broker.add_argument("--port", type=int, help="listener port for start (default: the recorded one, else a free one)")
    broker.add_argument(
        "--nodes", type=int, metavar="N",
        help="start an N-node KRaft cluster, one process per node (default data dir: ~/.local/share/deliverytui/cluster)",
    )
    broker.add_argument("--node", type=int, metavar="N", help="the cluster node to kill (SIGKILL) or restart")
    broker.add_argument("--data-dir", help="broker data directory (default: ~/.local/share/deliverytui/broker)")
    broker.add_argument(
        "--security", choices=["none", "sasl"],
        help="start: 'sasl' runs SASL (PLAIN/SCRAM-SHA-256) with ACLs and writes client-<user>.properties into the "
        "data dir (default: the mode recorded in the data dir, else none)",
    )
    broker.add_argument("--json", action="store_true", help="print JSON")
    broker.set_defaults(handler=_broker)

    snapshot = sub.add_parser("snapshot", help="print one snapshot of a consumer group")
    _add_cluster_options(snapshot)
    snapshot.add_argument("--group", required=True, help="consumer group id")
    snapshot.add_argument("--json", action="store_true", help="print JSON")
    snapshot.set_defaults(handler=_snapshot)

    groups = sub.add_parser("groups", help="list the cluster's consumer groups with state and type")
    _add_cluster_options(groups)
    groups.add_argument("--json", action="store_true", help="print JSON")
    groups.set_defaults(handler=_groups)

    reset = sub.add_parser(
        "reset",
        help="reset a group's committed offsets (dry run unless --execute), like kafka-consumer-groups --reset-offsets",
        description="Plan, and with --execute apply, an offset reset for a consumer group with no active members. "
        "Modes, partition selection and clamping follow Kafka's kafka-consumer-groups --reset-offsets.",
    )
    _add_cluster_options(reset)
    reset.add_argument("--group", required=True, help="consumer group id")
    scope = reset.add_mutually_exclusive_group()
    scope.add_argument(
        "--topic", action="append", metavar="TOPIC[:P,P...]", help="topic, or some of its partitions (repeatable)"
    )
    scope.add_argument("--all-topics", action="store_true", help="every partition the group has committed offsets for")
    mode = reset.add_mutually_exclusive_group(required=True)
    for spec in RESET_MODES.values():
        if spec.takes_value:
            mode.add_argument(
                f"--{spec.mode.value}", type=int if spec.whole_number else str, metavar=spec.metavar, help=spec.help
            )
        else:
            mode.add_argument(f"--{spec.mode.value}", action="store_true", help=spec.help)
    run = reset.add_mutually_exclusive_group()
    run.add_argument("--dry-run", action="store_true", help="only show the plan (the default)")
    run.add_argument("--execute", action="store_true", help="commit the new offsets (the group must have no active members)")
    reset.add_argument("--export", metavar="CSV", help="also write the new offsets as a CSV for --from-file")
    reset.add_argument("--json", action="store_true", help="print JSON")
    reset.set_defaults(handler=_reset)

    delete_offsets = sub.add_parser(
        "delete-offsets",
        help="delete a group's committed offsets for a topic (dry run unless --execute)",
        description="Drop a consumer group's committed offsets for one or more topics (Kafka's OffsetDelete), "
        "for example after the topic was deleted. The group must have no active members.",
    )
    _add_cluster_options(delete_offsets)
    delete_offsets.add_argument("--group", required=True, help="consumer group id")
    delete_offsets.add_argument(
        "--topic", action="append", required=True, metavar="TOPIC[:P,P...]", help="topic, or some of its partitions (repeatable)"
    )
    delete_run = delete_offsets.add_mutually_exclusive_group()
    delete_run.add_argument("--dry-run", action="store_true", help="only show what would be deleted (the default)")
    delete_run.add_argument("--execute", action="store_true", help="delete the offsets")
    delete_offsets.add_argument("--json", action="store_true", help="print JSON")
    delete_offsets.set_defaults(handler=_delete_offsets)

    demo = sub.add_parser(
        "demo",
        help="the teaching lab: one real consumer per delivery semantic, crashes, audit (--headless: one experiment)",
        description="Without --headless: the lab TUI. With --headless: produce --events events, run one semantic's "
        "consumer crashing --crashes times at --crash-at, let it drain, audit, print the result.",
    )
    demo.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka bootstrap servers (default: start or reuse the embedded broker)")
    demo.add_argument(
        "--nodes", type=int, metavar="N",
        help="run on the embedded N-node cluster (3: topics with replication factor 3, min.insync.replicas 2)",
    )
    demo.add_argument("--headless", action="store_true", help="run one crash experiment without a screen")
    demo.add_argument("--semantic", choices=["at-most-once", "at-least-once", "idempotent", "upsert", "state-check", "exactly-once"])
    demo.add_argument("--events", type=int, default=100, help="events to produce (headless, default 100)")
    demo.add_argument(
        "--crash-at", choices=["after-commit", "after-effect", "after-claim", "mid-transaction"], help="crash point (headless)"
    )
    demo.add_argument("--crashes", type=int, default=1, help="crashes before the consumer may drain (headless, default 1)")
    demo.add_argument("--dedup", metavar="URL", help="idempotency store (default sqlite:///<run-dir>/dedup.db)")
    demo.add_argument("--ledger", metavar="URL", help="effects ledger (default sqlite:///<run-dir>/ledger.db)")
    demo.add_argument("--run-dir", metavar="DIR", help="headless run dir (default: a new temporary directory)")
    demo.add_argument("--partitions", type=int, default=3, help="partitions of a topic created now (default 3)")
    demo.add_argument("--group-prefix", help="prefix for the consumer groups (headless default: a fresh one per run)")
    demo.add_argument("--topic", default="task-events", help="input topic (default task-events)")
    demo.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS", help="headless overall time limit (default 300)")
    demo.add_argument("--rate", type=float, default=5.0, help="events per second the lab's producer starts at (TUI)")
    demo.add_argument("--auto-restart", type=float, metavar="SECONDS", help="restart crashed consumers after this delay (TUI)")
    demo.add_argument(
        "--malformed", type=int, default=0, metavar="N",
        help="also produce N bad records among the events: not JSON and JSON without event_id (headless)",
    )
    demo.add_argument(
        "--commit-every", type=positive_int, metavar="N",
        help="messages per offset commit for every consumer, each the way its semantic allows "
        "(default: per message; exactly-once: per transaction of up to 100)",
    )
    demo.add_argument("--json", action="store_true", help="print JSON (headless)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    try:
        return int(handler(args) or 0)
    except UserFacingError as exc:
        print(f"deliverytui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("deliverytui: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
