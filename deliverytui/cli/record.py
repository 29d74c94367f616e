"""``deliverytui record --group G --out FILE.db``: the headless flight recorder, and the live view's ``--record`` check.

The command's options are declared only when it is the command parsed (``LazyCommandParser``): the
recorder's modules are not loaded for any other command.
"""

from __future__ import annotations

import argparse
import re
import threading
from pathlib import Path

from deliverytui.argtypes import MIN_REFRESH_SECONDS, consumer_group, refresh_seconds
from deliverytui.cli.connection import add_connection_options, resolve_connection
from deliverytui.cli.store_options import SECRET_FILE_HELP, store_url
from deliverytui.model.probe_topic import DEFAULT_PROBE_TOPIC

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE_UNITS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3}


def duration(text: str) -> float:
    """``--duration``: seconds, or a number with s, m, h or d (``90``, ``10m``, ``1.5h``, ``1d``)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 30s, 10m, 2h, 1d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def size(text: str) -> int:
    """``--max-size``: bytes with KB, MB or GB (``500MB``, ``2GB``)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]b)\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500MB, 2GB)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def record_options(command: argparse.ArgumentParser) -> None:
    add_connection_options(command)
    command.add_argument("--group", required=True, type=consumer_group, help="consumer group to record")
    command.add_argument("--out", required=True, metavar="FILE.db",
                         help="the recording (SQLite); a recording of the same cluster and group is appended to")
    command.add_argument("--duration", type=duration, metavar="D",
                         help="stop after D (90, 30s, 10m, 2h, 1d; default: until SIGTERM or Ctrl-C)")
    command.add_argument("--refresh", type=refresh_seconds, default=2.0, metavar="SECONDS",
                         help=f"seconds between snapshots (default 2, at least {MIN_REFRESH_SECONDS})")
    command.add_argument("--positions", action="store_true",
                         help="also record the positions consumers publish through deliverytui.probe")
    command.add_argument("--probe-topic", default=DEFAULT_PROBE_TOPIC, metavar="TOPIC",
                         help=f"the topic the group's probes publish on (default {DEFAULT_PROBE_TOPIC})")
    command.add_argument("--dedup", metavar="URL", help="also record this dedup store's counters for the group")
    command.add_argument("--dedup-file", metavar="PATH", help=f"--dedup from {SECRET_FILE_HELP}")
    command.add_argument("--alert", metavar="CMD",
                         help="run CMD (split like a shell would, run without one) when the group's status changes, "
                         "the transition as one JSON object on its stdin")
    command.add_argument("--max-size", type=size, metavar="SIZE",
                         help="stop recording when the file reaches SIZE (500MB, 2GB), as on a full disk")
    command.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from deliverytui.recorder.headless import RecordOptions, record, stop_on_sigterm

    connection = resolve_connection(args)
    options = RecordOptions(
        path=Path(args.out), group=args.group, bootstrap=connection.bootstrap,
        client_config=connection.config or {}, request_timeout=connection.timeout, refresh_seconds=args.refresh,
        duration=args.duration, positions=args.positions, probe_topic=args.probe_topic,
        dedup_url=store_url(args.dedup, args.dedup_file, "dedup"), alert=args.alert, max_bytes=args.max_size,
    )
    if options.alert:
        from deliverytui.recorder.alerts import AlertHook

        AlertHook(options.alert)  # a command that cannot be split is a usage error before anything starts
    stop = threading.Event()
    stop_on_sigterm(stop)
    record(options, stop=stop)
    return 0


def check_live_recording(path: str, group: str, bootstrap: str, client_config, refresh: float, timeout: float) -> None:
    """``deliverytui --group G --record FILE``: refuse a file of another cluster or group before the screen opens."""
    from deliverytui.recorder.headless import open_recording

    open_recording(Path(path), group, bootstrap, client_config, refresh, timeout=timeout).close()
