"""``deliverytui serve``: the lab (classroom mode) or the live view in a browser, and ``deliverytui classroom``.

``serve demo ARGS…`` runs the presenter's lab in this terminal, as ``demo`` does, and serves every visitor
a read-only classroom view of that one lab (:mod:`deliverytui.tui.classroom_app`): visitors start no
consumers. ``serve --group G ARGS…`` (or any live-view arguments) gives each visitor their own live view.
Off loopback a random token is required (:mod:`deliverytui.serve.server`); it is printed once, in the URL.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from deliverytui.errors import UsageError, one_line

SERVE_OPTIONS = frozenset({"--host", "--port", "--public-url"})
SERVE_FLAGS = frozenset({"-h", "--help", "--presenter-browser"})


def split_arguments(arguments: list[str]) -> tuple[list[str], list[str]]:
    """serve's own options (they come first), and the served command's line (everything from the first other)."""
    own: list[str] = []
    index = 0
    while index < len(arguments):
        word = arguments[index]
        name = word.split("=", 1)[0]
        if word in SERVE_FLAGS:
            own.append(word)
            index += 1
        elif name in SERVE_OPTIONS:
            step = 1 if "=" in word else 2
            own += arguments[index:index + step]
            index += step
        else:
            break
    served = arguments[index:]
    return own, served[1:] if served[:1] == ["--"] else served


def _visitor_command(arguments: list[str]) -> str:
    return "exec " + shlex.join([sys.executable, "-m", "deliverytui", *arguments])  # no shell left behind


def viewer_command(frames: Path) -> str:
    """A classroom viewer's command line. textual-serve hands each visitor's shell this process's whole
    environment; a viewer reads no store, so the shell becomes ``env -u``, which drops the store passwords
    (their names only on argv) and becomes the viewer."""
    from deliverytui.kafka.child_process import SECRET_VARIABLES

    unset = [word for name in SECRET_VARIABLES for word in ("-u", name)]
    # exec: textual-serve runs the line through /bin/sh, which would otherwise keep the full environment
    return "exec " + shlex.join(["env", *unset, sys.executable, "-m", "deliverytui", "classroom", str(frames)])


def _settings(args: argparse.Namespace, command: str, title: str, presenter_command: str | None = None):  # -> ServeSettings
    from deliverytui.serve.server import ServeSettings, is_loopback, new_token

    token = None if is_loopback(args.host) else new_token()
    return ServeSettings(
        command=command, host=args.host, port=args.port, public_url=args.public_url, token=token, title=title,
        presenter_command=presenter_command, presenter_token=new_token() if presenter_command else None,
    )


def _start(settings) -> object:
    from deliverytui.serve.server import BackgroundServer

    server = BackgroundServer(settings)
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {one_line(exc)} (choose another --port)") from None
    scope = "anyone who has this URL (it carries the access token)" if settings.token else "this machine only (loopback)"
    print(f"deliverytui serve: open {settings.visitor_url}  — reachable by {scope}; Ctrl-C stops", flush=True)
    if settings.presenter_url:
        print(f"deliverytui serve: the presenter (drives the lab; keep it private): {settings.presenter_url}", flush=True)
    return server


def run(args: argparse.Namespace) -> int:
    served = list(args.arguments)
    if served and served[0] == "demo":
        return _serve_lab(args, served)
    if served and served[0] in {"serve", "classroom"} or any(a.startswith("--record") for a in served):
        raise UsageError("serve serves 'demo ARGS…' or the live view ('--group G ARGS…'), nothing else")
    return _serve_live_view(args, served)


def _serve_lab(args: argparse.Namespace, served: list[str]) -> int:
    from deliverytui.cli import demo as demo_command
    from deliverytui.demo.classroom import classroom_file
    from deliverytui.demo.lab import default_state_dir

    demo_args = args.served_parser().parse_args(served)
    if demo_args.headless:
        raise UsageError("serve demo serves the lab screen; --headless has no screen to serve")
    demo_args.classroom = True
    state_dir = Path(demo_args.run_dir) if demo_args.run_dir else default_state_dir()
    viewer = viewer_command(classroom_file(state_dir.resolve()))
    if args.presenter_browser:  # the lab runs in the presenter's tab (one at a time: the lab's lock)
        presenter = _visitor_command(["demo", "--classroom", *served[1:]])
        return _serve_until_stopped(_settings(args, viewer, "deliverytui classroom", presenter))
    server = _start(_settings(args, viewer, "deliverytui classroom"))
    try:
        return demo_command.run(demo_args)
    finally:
        server.stop()  # type: ignore[attr-defined]


def _serve_live_view(args: argparse.Namespace, served: list[str]) -> int:
    if args.presenter_browser:
        raise UsageError("--presenter-browser is for 'serve demo': the live view has no presenter")
    args.served_parser().parse_args(served)  # a bad argument is refused here, once, not in every visitor's process
    return _serve_until_stopped(_settings(args, _visitor_command(served), "deliverytui"))


def _serve_until_stopped(settings) -> int:
    server = _start(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.stop()  # type: ignore[attr-defined]
    return 0


def run_classroom(args: argparse.Namespace) -> int:
    from deliverytui.tui.classroom_app import run_classroom as run_viewer

    return run_viewer(Path(args.frames))
