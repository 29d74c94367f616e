"""``deliverytui demo``: the teaching lab (Textual, in :mod:`deliverytui.tui.demo_app`), or with
``--headless`` one crash experiment and its audit (:mod:`deliverytui.demo.headless`)."""

from __future__ import annotations

import argparse

from deliverytui.cli.connection import DEFAULT_TIMEOUT
from deliverytui.cli.output import print_json, progress
from deliverytui.cli.store_options import store_url
from deliverytui.demo.semantics import SEMANTICS
from deliverytui.errors import UsageError

#: ``--semantic``'s choices: the lab's seven consumers, in the lab's order.
SEMANTIC_NAMES = tuple(spec.name for spec in SEMANTICS.values())


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
    progress(f"starting (or reusing) the embedded {args.nodes}-node Apache Kafka cluster…")
    info, _ = EmbeddedBroker(default_cluster_dir()).start(args.nodes, progress=progress)  # in its recorded mode
    if not args.kafka_config:
        from deliverytui.demo.kafka_access import refuse_secured_embedded_broker_without_login

        refuse_secured_embedded_broker_without_login(info.bootstrap)
    factor, min_isr = replication_for(args.nodes)
    for topic in (args.topic, output_topic(args.topic)):
        ensure_topic(
            info.bootstrap, topic, args.partitions, factor, config={"min.insync.replicas": str(min_isr)},
            kafka_config=args.kafka_config,
        )
    return info.bootstrap


def check_plot_path(path: str) -> None:
    """``--plot``: an SVG file in a directory that exists (a usage error now, not after the whole run)."""
    from pathlib import Path

    target = Path(path)
    if target.suffix.lower() != ".svg":
        raise UsageError(f"--plot writes SVG: give a file name ending in .svg, got {path!r}")
    if not target.parent.is_dir():
        raise UsageError(f"--plot: the directory {str(target.parent)!r} does not exist")


def _ledger_url(args: argparse.Namespace) -> str | None:
    """``--ledger``/``--ledger-file``: a file that cannot be used is a ledger error (LEDGER), like a bad URL."""
    from deliverytui.dedup.errors import StoreUrlError
    from deliverytui.demo.ledger.connection import LedgerError

    try:
        return store_url(args.ledger, args.ledger_file, "ledger")
    except StoreUrlError as exc:
        raise LedgerError(str(exc)) from None


def _load_login(args: argparse.Namespace) -> None:
    """``--config``: the login of every Kafka client of the lab (``args.kafka_config``), and its cluster when
    ``--bootstrap`` is not given (``bootstrap.servers`` in the file, as the other commands take it)."""
    args.kafka_config = None
    args.connect_timeout = min(DEFAULT_TIMEOUT, args.timeout) if args.timeout and args.timeout > 0 else DEFAULT_TIMEOUT
    if not args.config:
        return
    from deliverytui.kafka.client_config import load_properties

    args.kafka_config = load_properties(args.config)
    if not args.bootstrap and args.nodes is None:
        args.bootstrap = args.kafka_config.get("bootstrap.servers") or None


def run(args: argparse.Namespace) -> int:
    """Without --headless: the lab TUI (deliverytui.tui.demo_app). With it: one crash experiment, then its audit."""
    if args.headless and args.lesson:
        raise UsageError("--lesson is the lab's guided lesson on the screen; it does not combine with --headless")
    _load_login(args)
    args.dedup = store_url(args.dedup, args.dedup_file, "dedup")
    args.ledger = _ledger_url(args)
    if not args.headless:
        if args.plot:
            raise UsageError("--plot draws a --headless run; in the lab, t draws the story so far")
        args.bootstrap = _demo_cluster(args)
        from deliverytui.tui.demo_app import demo_app, run_demo  # Textual is imported only here
        from deliverytui.tui.lesson_host import lesson_app

        return int(run_demo(args, lesson_app if args.lesson else demo_app) or 0)
    from deliverytui.broker.embedded import EmbeddedBroker
    from deliverytui.broker.paths import default_data_dir
    from deliverytui.demo.headless import malformed_values, run_headless
    from deliverytui.demo.semantics import check_crash_point

    if not args.semantic:
        raise UsageError(f"--headless needs --semantic ({', '.join(SEMANTIC_NAMES)})")
    if args.crash_at:
        check_crash_point(args.semantic, args.crash_at)  # before starting a broker for nothing
    if args.plot:
        check_plot_path(args.plot)  # before starting a broker for nothing
    if args.poison > args.events:
        raise UsageError(f"--poison must be between 0 and --events ({args.events}), got {args.poison}")
    bootstrap = _demo_cluster(args)
    if not bootstrap:
        bootstrap = EmbeddedBroker(default_data_dir()).start(progress=progress)[0].bootstrap  # in its recorded mode
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
        progress=None if args.json else progress,
        malformed=malformed_values(max(0, args.malformed)),
        commit_every=args.commit_every,
        keep_run_dir=args.keep_run_dir,
        kafka_config=args.kafka_config,
        connect_timeout=args.connect_timeout,
        poison=args.poison,
        plot=args.plot,
    )
    if args.json:
        print_json(result)
    else:
        print(
            f"{result['semantic']}: {result['events']} events, {result['effects']} effects "
            f"({result['unique_effects']} unique), {result['duplicates']} duplicate(s), {result['lost']} lost, "
            f"{result['unexpected']} unexpected, {result['dedup_hits']} dedup hit(s), {result['dedup_retakes']} retake(s), {result['crashes']} crash(es) "
            + (f"— ledger in {result['run_dir']}" if result["run_dir_kept"] else "— run dir removed (keep it with --keep-run-dir)")
        )
        anomalies = {k: v for k, v in result["anomalies"].items() if k != "cases"}
        print("Jepsen classes: " + ", ".join(f"{name} {count}" for name, count in anomalies.items()))
        if result.get("delivery_count_limit"):  # the queue: its archive and its delivery counts
            counts = ", ".join(f"{count}: {n}" for count, n in result["delivery_counts"].items())
            print(
                f"archived {result['archived']} (after {result['delivery_count_limit']} deliveries each), "
                f"highest delivery count {result['max_delivery_count']}, delivery counts {{{counts}}}"
            )
        if result.get("plot"):
            print(f"story plot: {result['plot']}")
        for warning in result["warnings"]:
            print(f"warning: {warning}")
    return 0

