"""The consumer's command line: ``python -m deliverytui.demo.consumer --semantic S ...``.

Why it stays this small: the supervisor and the semantics benchmark build this command line,
so its options are an interface; everything else is in :class:`ConsumerOptions`.

Why store URLs come on stdin (``--urls-from-stdin``): a URL may hold a password, and a command
line is readable by every local user in ``/proc/<pid>/cmdline`` (``ps``) for the life of the
process. The supervisor writes one JSON line ``{"ledger": URL, "dedup": URL}`` and closes the
pipe; ``--ledger``/``--dedup`` on the command line are kept for URLs without a password (the
benchmarks' SQLite files) and refuse one that has a password.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deliverytui.argtypes import positive_int
from deliverytui.dedup import DedupStoreError
from deliverytui.dedup.url import redact_url
from deliverytui.demo.consumer.options import EOS_BATCH, LEASE_SECONDS, ConsumerOptions
from deliverytui.demo.consumer.runner import DemoConsumer
from deliverytui.demo.consumer_launch import URLS_FROM_STDIN
from deliverytui.demo.task_api import TASK_EVENTS_TOPIC
from deliverytui.errors import UserFacingError
from deliverytui.kafka.client_config import load_properties


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run one deliverytui demo consumer (one delivery semantic).")
    parser.add_argument("--semantic", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--ledger", help="effects ledger URL without a password: sqlite:///path or postgresql://...")
    parser.add_argument("--dedup", help="idempotency store URL without a password (default: sqlite:///<run-dir>/dedup.db)")
    parser.add_argument(
        URLS_FROM_STDIN, action="store_true",
        help='read {"ledger": URL, "dedup": URL} as one JSON line on stdin (URLs with passwords stay off ps)',
    )
    parser.add_argument("--run-dir", required=True, help="directory for crash and status files")
    parser.add_argument("--group-prefix", default="")
    parser.add_argument("--topic", default=TASK_EVENTS_TOPIC)
    parser.add_argument("--crash-at", help="crash point to crash at (one of the semantic's points)")
    parser.add_argument("--crash-after", type=int, default=1, help="crash on the Nth message this process handles")
    parser.add_argument("--lease", type=float, default=LEASE_SECONDS, help="dedup lease in seconds (idempotent)")
    parser.add_argument("--no-probe", action="store_true", help="do not publish positions to the probe topic")
    parser.add_argument(
        "--kafka-config", metavar="FILE", help="librdkafka properties (SASL/SSL login), a 0600 file: never a password on argv"
    )
    parser.add_argument(
        "--instance", type=positive_int, default=1, help="instance number in the group (2+ joins as another member)"
    )
    parser.add_argument(
        "--commit-every",
        type=positive_int,
        help=f"messages per commit (per transaction for exactly-once); default 1, exactly-once {EOS_BATCH}",
    )
    return parser


STDIN_LIMIT = 64 * 1024


def store_urls(args: argparse.Namespace) -> tuple[str, str | None]:
    """(ledger URL, dedup URL or None): from stdin with ``--urls-from-stdin``, else from the command line."""
    for option, url in (("--ledger", args.ledger), ("--dedup", args.dedup)):
        if url and redact_url(url) != url:
            raise UserFacingError(
                f"{option} holds a password, which every local user can read in ps; pass it with --urls-from-stdin"
            )
    ledger, dedup = args.ledger, args.dedup
    if args.urls_from_stdin:
        line = sys.stdin.buffer.readline(STDIN_LIMIT)
        try:
            urls = json.loads(line)
        except ValueError:
            urls = None
        if not isinstance(urls, dict):
            raise UserFacingError('--urls-from-stdin: expected one JSON line {"ledger": URL, "dedup": URL} on stdin')
        ledger, dedup = urls.get("ledger") or ledger, urls.get("dedup") or dedup
    if not ledger:
        raise UserFacingError("no effects ledger: give --ledger URL, or its URL on stdin with --urls-from-stdin")
    return str(ledger), str(dedup) if dedup else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        ledger_url, dedup_url = store_urls(args)
        consumer = DemoConsumer(
            ConsumerOptions(
                semantic=args.semantic,
                bootstrap=args.bootstrap,
                ledger_url=ledger_url,
                run_dir=run_dir,
                dedup_url=dedup_url,
                group_prefix=args.group_prefix,
                topic=args.topic,
                crash_at=args.crash_at,
                crash_after=max(1, args.crash_after),
                lease_seconds=args.lease,
                probe=not args.no_probe,
                commit_every=args.commit_every,
                instance=args.instance,
                watch_parent=True,
                kafka_config=load_properties(args.kafka_config) if args.kafka_config else None,
            )
        )
        return consumer.run()
    except (UserFacingError, DedupStoreError) as exc:
        print(f"deliverytui demo consumer: error: {exc}", file=sys.stderr)
        return 2
