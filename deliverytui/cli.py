"""Command line: argument parsing and the non-interactive commands.

Every command reuses the collectors the TUI uses (``GroupInspector``,
``EmbeddedBroker``), so what the CLI prints is what the screens show. Errors the
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
from deliverytui.errors import UserFacingError


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- broker ------------------------------------------------------------------
def _broker(args: argparse.Namespace) -> int:
    from deliverytui.kafka.distribution import resolve_distribution
    from deliverytui.kafka.embedded import EmbeddedBroker, default_data_dir

    broker = EmbeddedBroker(Path(args.data_dir) if args.data_dir else default_data_dir())
    if args.action == "fetch":
        dist = resolve_distribution(progress=_progress)
        if args.json:
            _print_json({"kafka_version": dist.kafka_version, "libs_dir": str(dist.libs_dir), "source": dist.source})
        else:
            print(f"Apache Kafka {dist.kafka_version} jars ready in {dist.libs_dir} ({dist.source})")
        return 0
    if args.action == "start":
        info, started = broker.start(port=args.port, progress=_progress)
        if args.json:
            _print_json({**info.to_json(), "started": started})
        elif started:
            print(f"Apache Kafka {info.kafka_version} started at {info.bootstrap} (pid {info.pid}, data dir {info.data_dir})")
        else:
            print(f"Apache Kafka is already running at {info.bootstrap} (pid {info.pid}, data dir {info.data_dir}); reusing it")
        return 0
    if args.action == "stop":
        stopped = broker.stop()
        if args.json:
            _print_json({"stopped": stopped, "data_dir": str(broker.data_dir)})
        else:
            print(f"stopped the broker in {broker.data_dir}" if stopped else f"no broker was running in {broker.data_dir}")
        return 0
    info = broker.info()
    if args.action == "status":
        running = bool(info and info.running)
        if args.json:
            _print_json(info.to_json() if info else {"running": False, "data_dir": str(broker.data_dir)})
        elif running and info:
            print(f"running at {info.bootstrap} (pid {info.pid}, Kafka {info.kafka_version}, data dir {info.data_dir})")
        else:
            print(f"not running (data dir {broker.data_dir})")
        return 0 if running else 1
    # info
    if info is None:
        raise UserFacingError(f"no embedded broker was ever started in {broker.data_dir}; run 'deliverytui broker start'")
    if args.json:
        _print_json(info.to_json())
    else:
        for key, value in info.to_json().items():
            print(f"{key:>14}: {value}")
    return 0


# -- snapshot and groups -------------------------------------------------------
def _inspector(args: argparse.Namespace):
    from deliverytui.kafka.client_config import load_properties, resolve_bootstrap
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


# -- the TUI -----------------------------------------------------------------------
def _tui(args: argparse.Namespace) -> int:
    if not args.group:
        build_parser().print_help()
        return 2
    from deliverytui.kafka.client_config import load_properties, resolve_bootstrap
    from deliverytui.tui.app import DeliveryApp, ViewerConfig  # Textual is imported only here

    file_config = load_properties(args.config) if args.config else None
    bootstrap, _source = resolve_bootstrap(args.bootstrap, file_config=file_config)
    config = ViewerConfig(
        bootstrap=bootstrap,
        group=args.group,
        client_config=file_config or {},
        refresh_seconds=max(0.2, args.refresh),
        request_timeout=args.timeout,
        dedup_url=args.dedup,
        dedup_prefix=args.dedup_prefix,
        allow_writes=args.allow_writes,
    )
    DeliveryApp(config).run()
    return 0


# -- parser ----------------------------------------------------------------------
def _add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, then the running embedded broker, "
        "then localhost:9092)",
    )
    parser.add_argument("--config", metavar="FILE", help="librdkafka properties file (security.protocol, sasl.*, ssl.*)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-request timeout (default 10)")


def build_parser() -> argparse.ArgumentParser:
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

    broker = sub.add_parser("broker", help="start, stop or inspect the embedded Apache Kafka broker")
    broker.add_argument("action", choices=["start", "stop", "status", "info", "fetch"])
    broker.add_argument("--port", type=int, help="listener port for start (default: the recorded one, else a free one)")
    broker.add_argument("--data-dir", help="broker data directory (default: ~/.local/share/deliverytui/broker)")
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
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
