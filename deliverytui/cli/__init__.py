"""Command line: argument parsing and the non-interactive commands.

``parser`` declares every command; ``connection`` resolves ``--bootstrap``/``--config``/``--timeout``
once per command; one module per command family (``broker``, ``inspect_commands``, ``offsets``,
``demo``, ``tui``) runs it; ``output`` prints. Every command reuses the collectors the TUI uses
(``GroupInspector``, ``deliverytui.broker.embedded.EmbeddedBroker``), so what the CLI prints is what
the screens show. Errors the user can fix are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from deliverytui.cli.parser import build_parser
from deliverytui.cli.tui import cluster_named, viewer_config
from deliverytui.errors import ExitCode, UserFacingError
from deliverytui.model.text import visible

__all__ = ["build_parser", "main", "run", "viewer_config"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None and args.group is None and not cluster_named(args):
        # Bare `deliverytui` with no cluster anywhere (no --bootstrap, --config, $KAFKA_BOOTSTRAP_SERVERS
        # or running embedded broker): guessing localhost:9092 would open a fleet of errors; say what to pass.
        parser.print_help()
        print("\ndeliverytui: no cluster given: pass --bootstrap HOST:PORT (or --config FILE, "
              "$KAFKA_BOOTSTRAP_SERVERS, or `deliverytui broker start`) to see every group", file=sys.stderr)
        return ExitCode.USAGE
    handler = args.handler
    try:
        return int(handler(args) or 0)
    except UserFacingError as exc:
        # visible(): a message may quote a name someone else chose (a group id, a broker's error text).
        print(f"deliverytui: error: {visible(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("deliverytui: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return 0


def run() -> NoReturn:
    """The ``deliverytui`` process (the console script and ``python -m deliverytui``): :func:`main`, then exit.

    After a command whose Kafka work ran in a forked child (:mod:`deliverytui.cli.forked`) it leaves
    with ``os._exit`` once stdout and stderr are flushed: the client lived and died in the child, and
    this process opened no file and started no thread. The interpreter's teardown (collecting and
    clearing ~250 modules, confluent_kafka's and asyncio's among them) was 20-40 ms of a ~250 ms
    ``snapshot --json``. Every other command exits normally (its threads joined, its atexit run).
    """
    code = main()
    from deliverytui.cli.forked import result_printed

    if result_printed():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:  # a reader that left early (`| head`), as main() treats it
            pass
        except OSError as exc:  # a full disk behind `> file`: one line, as any other failure
            print(f"deliverytui: error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
            code = ExitCode.ERROR
        os._exit(code)
    raise SystemExit(code)
