"""``build_parser()``: every command's options. Choices come from the tables that define them (the lab's
semantics and crash points, the broker's security modes, the reset modes), so the CLI cannot drift from them.

Parsing stays cheap: none of the modules imported here imports Textual or confluent_kafka before a command
runs (``deliverytui --help`` is fast), and the commands whose tables and handlers cost more to load
(``reset``, ``delete-offsets``, ``demo``) declare their options only when they are the command parsed
(:class:`LazyCommandParser`), so ``deliverytui snapshot`` does not pay for them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from deliverytui import __version__
from deliverytui.argtypes import (
    GROUP_TYPES,
    MIN_REFRESH_SECONDS,
    consumer_group,
    group_types,
    non_negative_int,
    positive_int,
    refresh_seconds,
)
from deliverytui.broker import SECURITY_MODES
from deliverytui.cli import broker as broker_command
from deliverytui.cli import inspect_commands
from deliverytui.cli import replay as replay_command
from deliverytui.cli import tui as tui_command
from deliverytui.cli.connection import DEFAULT_TIMEOUT, add_connection_option, add_connection_options
from deliverytui.cli.store_options import SECRET_FILE_HELP
from deliverytui.errors import ExitCode
from deliverytui.model.probe_topic import DEFAULT_PROBE_TOPIC
from deliverytui.model.text import visible


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line that says what is wrong and where the options are listed
    (argparse prints its usage block first: five to twelve lines before the one that matters)."""

    def error(self, message: str) -> NoReturn:
        # visible(): argparse quotes what was typed (an unrecognized argument may hold escape sequences).
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {visible(message)} (see '{self.prog} --help')\n")


class LazyCommandParser(OneLineErrorParser):
    """A subcommand whose options are declared only when it is the command being parsed (or its --help shown).

    ``reset``, ``delete-offsets`` and ``demo`` take their choices from the reset modes and the lab's
    semantics, and their handlers import more: declaring them for every command cost
    ``deliverytui snapshot`` 25-45 ms of imports. ``declare(parser)`` adds the options and the handler.
    """

    declare: Callable[[argparse.ArgumentParser], None] | None = None
    passes_through: Callable[[list[str]], tuple[list[str], list[str]]] | None = None
    """``serve``: splits its own options from another command's line (kept whole in ``arguments``)."""

    def _declare_once(self) -> None:
        declare, self.declare = self.declare, None
        if declare is not None:
            declare(self)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._declare_once()
        if self.passes_through is not None and args is not None:
            own, served = self.passes_through(list(args))
            namespace, extras = super().parse_known_args(own, namespace)
            namespace.arguments = served
            return namespace, extras
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._declare_once()
        return super().format_help()


def _lazy_command(
    sub: argparse._SubParsersAction, name: str, declare: Callable[[argparse.ArgumentParser], None], **kwargs: str
) -> argparse.ArgumentParser:
    command = sub.add_parser(name, **kwargs)  # a LazyCommandParser: build_parser's subparsers make no other kind
    command.declare = declare
    return command


def _group_command(sub: argparse._SubParsersAction, name: str, **kwargs: str) -> argparse.ArgumentParser:
    """A subcommand about one consumer group: the connection options and a required ``--group``."""
    command = sub.add_parser(name, **kwargs)
    _group_options(command)
    return command


def _group_options(command: argparse.ArgumentParser) -> None:
    add_connection_options(command)
    command.add_argument("--group", required=True, type=consumer_group, help="consumer group id")


def _add_dry_run_or_execute(command: argparse.ArgumentParser, *, dry_run_help: str, execute_help: str) -> None:
    """``--dry-run`` (the default) or ``--execute``, never both."""
    run = command.add_mutually_exclusive_group()
    run.add_argument("--dry-run", action="store_true", help=dry_run_help)
    run.add_argument("--execute", action="store_true", help=execute_help)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="deliverytui",
        description="See how a Kafka consumer group really delivers: committed offsets, positions, lag, redeliveries.",
    )
    parser.add_argument("--version", action="version", version=f"deliverytui {__version__}")
    tui = parser.add_argument_group("live view (deliverytui --group G)")
    tui.add_argument("--group", type=consumer_group, help="consumer group to watch in the TUI")
    add_connection_option(tui, "--bootstrap", default=None, help_text="Kafka bootstrap servers (same defaults as 'snapshot')")
    add_connection_option(tui, "--config", default=None)
    tui.add_argument(
        "--probe-topic", default=DEFAULT_PROBE_TOPIC, metavar="TOPIC",
        help=f"the topic the group's probes publish positions on (default {DEFAULT_PROBE_TOPIC})",
    )
    tui.add_argument(
        "--refresh", type=refresh_seconds, default=2.0, metavar="SECONDS",
        help=f"seconds between snapshots (default 2, at least {MIN_REFRESH_SECONDS})",
    )
    add_connection_option(tui, "--timeout", default=DEFAULT_TIMEOUT)
    tui.add_argument("--dedup", metavar="URL", help="dedup store to watch: redis://, postgresql:// or sqlite:///path")
    tui.add_argument("--dedup-file", metavar="PATH", help=f"--dedup from {SECRET_FILE_HELP}")
    tui.add_argument("--dedup-prefix", default="processed:", help="key prefix sampled in a Redis store deliverytui did not write")
    tui.add_argument(
        "--allow-writes", action="store_true", help="enable offset reset and delete (read-only without it)"
    )
    tui.add_argument("--record", metavar="FILE.db", help="record every snapshot of the group to FILE.db (see 'record')")
    add_theme_option(tui)
    parser.set_defaults(handler=tui_command.run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=LazyCommandParser)

    broker = sub.add_parser(
        "broker", help="start, stop or inspect the embedded Apache Kafka broker (or an N-node cluster: --nodes)"
    )
    broker.add_argument("action", choices=broker_command.ACTIONS)
    broker.add_argument("--port", type=int, help="listener port for start (default: the recorded one, else a free one)")
    broker.add_argument(
        "--nodes", type=int, metavar="N",
        help="start an N-node KRaft cluster, one process per node (default data dir: ~/.local/share/deliverytui/cluster)",
    )
    broker.add_argument("--node", type=int, metavar="N", help="the cluster node to kill (SIGKILL) or restart")
    broker.add_argument("--data-dir", help="broker data directory (default: ~/.local/share/deliverytui/broker)")
    broker.add_argument(
        "--security", choices=SECURITY_MODES,
        help="start: 'sasl' runs SASL (PLAIN/SCRAM-SHA-256) with ACLs and writes client-<user>.properties into the "
        "data dir (default: the mode recorded in the data dir, else none)",
    )
    broker.add_argument("--json", action="store_true", help="print JSON")
    broker.set_defaults(handler=broker_command.run)

    probe_jar = sub.add_parser(
        "probe-jar", help="print the path of the probe jar for JVM consumers (interceptor.classes="
        "deliverytui.probe.ProbeInterceptor), building it with Maven first if needed",
    )
    probe_jar.add_argument("--json", action="store_true", help="print JSON: the jar and the interceptor's class name")
    probe_jar.set_defaults(handler=broker_command.probe_jar)

    snapshot = _group_command(sub, "snapshot", help="print one snapshot of a consumer group")
    snapshot.add_argument("--json", action="store_true", help="print JSON")
    snapshot.add_argument(
        "--positions", action="store_true",
        help="also read the positions consumers publish through deliverytui.probe; a reporter that is not a "
        "current member of the group is marked unverified",
    )
    snapshot.add_argument(
        "--probe-topic", default=DEFAULT_PROBE_TOPIC, metavar="TOPIC",
        help=f"the topic the group's probes publish on (default {DEFAULT_PROBE_TOPIC}; e.g. one per group, for ACLs)",
    )
    snapshot.add_argument(
        "--time-lag", action="store_true",
        help="also read the exact time lag of every partition with lag (the age of the record at its committed "
        "offset; one fetch pass, never commits; needs Read on the topics)",
    )
    snapshot.set_defaults(handler=inspect_commands.snapshot)

    groups = sub.add_parser("groups", help="list the cluster's groups with type, state, members and total lag")
    add_connection_options(groups)
    groups.add_argument("--json", action="store_true", help="print JSON")
    groups.add_argument(
        "--type", type=group_types, default=frozenset(GROUP_TYPES), metavar="TYPES",
        help="only these group types, comma-separated: classic, consumer, share (default all). Share groups are "
        "listed by Kafka's Java Admin client (a JVM start); --type classic,consumer needs none",
    )
    groups.add_argument(
        "--time-lag", action="store_true",
        help="also read each group's exact max time lag (the age of the oldest record a partition waits on; one "
        "fetch pass per group, never commits; needs Read on the topics)",
    )
    groups.set_defaults(handler=inspect_commands.groups)

    replay = sub.add_parser(
        "replay", help="replay a flight recording (deliverytui record) on the live view's screen, read-only",
        description="Open FILE, a recording, on the live view's screen: [ and ] step, space plays, t jumps to a "
        "time, Home/End go to the ends. Nothing is read from or written to Kafka.",
    )
    replay.add_argument("file", metavar="FILE", help="the recording (an SQLite file written by 'deliverytui record')")
    replay.set_defaults(handler=replay_command.run)

    _lazy_command(
        sub,
        "reset",
        _reset_options,
        help="reset a group's committed offsets (dry run unless --execute), like kafka-consumer-groups --reset-offsets",
        description="Plan, and with --execute apply, an offset reset for a consumer group with no active members. "
        "Modes, partition selection and clamping follow Kafka's kafka-consumer-groups --reset-offsets. "
        "On a share group (no consumer group has the id) it moves the start offsets, as kafka-share-groups "
        "--reset-offsets does, with that tool's modes only (no --shift-by, no --by-duration).",
    )

    _lazy_command(
        sub,
        "delete-offsets",
        _delete_offsets_options,
        help="delete a group's committed offsets for a topic (dry run unless --execute)",
        description="Drop a consumer group's committed offsets for one or more topics (Kafka's OffsetDelete), "
        "for example after the topic was deleted. The group must have no active members. "
        "On a share group it deletes whole topics' start offsets, as kafka-share-groups --delete-offsets does.",
    )

    _lazy_command(
        sub,
        "record",
        _record_options,
        help="the flight recorder: write every snapshot of a group to a SQLite file (headless, for cron or systemd)",
        description="Poll a consumer group as the live view does and record every snapshot, its lag statuses and "
        "event lines (and positions, dedup counters) to FILE.db, for 'deliverytui replay'. Survives broker outages.",
    )

    _lazy_command(
        sub,
        "demo",
        _demo_options,
        help="the teaching lab: one real consumer per delivery semantic, crashes, audit (--headless: one experiment)",
        description="Without --headless: the lab TUI. With --headless: produce --events events, run one semantic's "
        "consumer crashing --crashes times at --crash-at, let it drain, audit, print the result.",
    )
    _lazy_command(
        sub,
        "serve",
        _serve_options,
        help="serve the lab (classroom mode: viewers read-only) or the live view in a browser",
        description="'serve demo ARGS…': the lab runs in this terminal and every browser visitor gets a read-only "
        "view of it. 'serve --group G ARGS…': each visitor gets the live view. Binds loopback unless --host says "
        "otherwise; then a random token, printed once in the URL, is required (HTTP 403 without it).",
    )
    _lazy_command(
        sub,
        "classroom",
        _classroom_options,
        help="one read-only viewer of a served lab (what 'serve demo' runs for each browser visitor)",
    )
    return parser


def _serve_options(serve: argparse.ArgumentParser) -> None:
    from deliverytui.argtypes import positive_int
    from deliverytui.cli import serve as serve_command

    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; another needs the token)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port (default 8000)")
    serve.add_argument("--public-url", metavar="URL", help="the URL browsers reach the server by (behind a proxy)")
    serve.add_argument(
        "--presenter-browser", action="store_true",
        help="serve demo: the presenter drives the lab from a browser tab (its own token, printed once) instead of this terminal",
    )
    serve.add_argument(
        "arguments", nargs=argparse.REMAINDER, metavar="demo ARGS… | --group G ARGS…",
        help="what to serve: the lab with its 'demo' options, or the live view's options",
    )
    serve.set_defaults(handler=serve_command.run, served_parser=build_parser)  # parses the served line (no cycle)
    serve.passes_through = serve_command.split_arguments  # type: ignore[attr-defined]


def _classroom_options(classroom: argparse.ArgumentParser) -> None:
    from deliverytui.cli import serve as serve_command

    classroom.add_argument("frames", metavar="FILE", help="the lab's classroom frame file (<state dir>/classroom.frame)")
    classroom.set_defaults(handler=serve_command.run_classroom)


def _record_options(record: argparse.ArgumentParser) -> None:
    from deliverytui.cli.record import record_options

    record_options(record)


def _reset_options(reset: argparse.ArgumentParser) -> None:
    from deliverytui.cli import offsets
    from deliverytui.model.reset import RESET_MODES

    _group_options(reset)
    scope = reset.add_mutually_exclusive_group()
    scope.add_argument(
        "--topic", action="append", metavar="TOPIC[:P,P...]", help="topic, or some of its partitions (repeatable)"
    )
    scope.add_argument("--all-topics", action="store_true", help="every partition the group has committed offsets for")
    mode = reset.add_mutually_exclusive_group(required=True)
    for spec in RESET_MODES.values():
        if spec.takes_value:
            mode.add_argument(
                f"--{spec.mode.value}", dest=offsets.option_dest(spec), type=int if spec.whole_number else str,
                metavar=spec.metavar, help=spec.help,
            )
        else:
            mode.add_argument(f"--{spec.mode.value}", dest=offsets.option_dest(spec), action="store_true", help=spec.help)
    _add_dry_run_or_execute(
        reset, dry_run_help="only show the plan (the default)",
        execute_help="commit the new offsets (the group must have no active members)",
    )
    reset.add_argument("--export", metavar="CSV", help="also write the new offsets as a CSV for --from-file")
    reset.add_argument("--json", action="store_true", help="print JSON")
    reset.set_defaults(handler=offsets.reset)


def _delete_offsets_options(delete_offsets: argparse.ArgumentParser) -> None:
    from deliverytui.cli import offsets

    _group_options(delete_offsets)
    delete_offsets.add_argument(
        "--topic", action="append", required=True, metavar="TOPIC[:P,P...]", help="topic, or some of its partitions (repeatable)"
    )
    _add_dry_run_or_execute(
        delete_offsets, dry_run_help="only show what would be deleted (the default)", execute_help="delete the offsets"
    )
    delete_offsets.add_argument("--json", action="store_true", help="print JSON")
    delete_offsets.set_defaults(handler=offsets.delete_offsets)


def add_theme_option(group: Any) -> None:
    """``--theme``: the live view's and the lab's (``T`` cycles them on screen)."""
    from deliverytui.tui.viewer_config import THEME_NAMES

    group.add_argument(
        "--theme", choices=THEME_NAMES,
        help="colours: textual-dark (default), colorblind-dark (Okabe-Ito), ansi-dark/ansi-light (the terminal's "
        "own 16 colours, for projectors); T cycles them on screen",
    )


def _demo_options(demo: argparse.ArgumentParser) -> None:
    from deliverytui.cli import demo as demo_command
    from deliverytui.demo.semantics import CRASH_POINTS

    demo.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka bootstrap servers (default: start or reuse the embedded broker)")
    demo.add_argument(
        "--nodes", type=int, metavar="N",
        help="run on the embedded N-node cluster (3: topics with replication factor 3, min.insync.replicas 2)",
    )
    demo.add_argument(
        "--config", metavar="FILE",
        help="librdkafka properties (security.protocol, sasl.*, ssl.*) every client of the lab logs in with; "
        "the secured embedded broker's is <data-dir>/client-lab.properties",
    )
    demo.add_argument("--headless", action="store_true", help="run one crash experiment without a screen")
    demo.add_argument("--lesson", action="store_true", help="the lab with the guided lesson in a side panel: the chapter's stories step by step (n next, N back, Enter does the key)")
    demo.add_argument(
        "--classroom", action="store_true", help="publish each poll for 'deliverytui serve' viewers (serve demo sets it)"
    )
    demo.add_argument("--semantic", choices=demo_command.SEMANTIC_NAMES)
    demo.add_argument("--events", type=positive_int, default=100, help="events to produce (headless, default 100)")
    demo.add_argument(
        "--crash-at", choices=CRASH_POINTS, help="crash point (headless)"
    )
    demo.add_argument("--crashes", type=non_negative_int, default=1, help="crashes before the consumer may drain (headless, default 1)")
    demo.add_argument("--dedup", metavar="URL", help="idempotency store (default sqlite:///<run-dir>/dedup.db)")
    demo.add_argument("--dedup-file", metavar="PATH", help=f"--dedup from {SECRET_FILE_HELP}")
    demo.add_argument("--ledger", metavar="URL", help="effects ledger (default sqlite:///<run-dir>/ledger.db)")
    demo.add_argument("--ledger-file", metavar="PATH", help=f"--ledger from {SECRET_FILE_HELP}")
    demo.add_argument(
        "--run-dir", metavar="DIR", help="headless run dir (default: a new temporary directory, removed after the run)"
    )
    demo.add_argument("--keep-run-dir", action="store_true", help="keep the temporary run dir (headless)")
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
        "--poison", type=non_negative_int, default=0, metavar="M",
        help="mark M of the events poison: the queue consumer fails on them until the broker archives them; "
        "the other semantics ignore the mark (headless)",
    )
    demo.add_argument(
        "--commit-every", type=positive_int, metavar="N",
        help="messages per offset commit for every consumer, each the way its semantic allows "
        "(default: per message; exactly-once: per transaction of up to 100)",
    )
    add_theme_option(demo)
    demo.add_argument(
        "--plot", metavar="FILE.svg",
        help="also write the run's story as an SVG timeline: events along offsets, crashes, duplicates, losses (headless)",
    )
    demo.add_argument("--json", action="store_true", help="print JSON (headless)")
    demo.set_defaults(handler=demo_command.run)
