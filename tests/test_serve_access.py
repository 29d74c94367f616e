"""``deliverytui serve``: loopback unless asked, and then only with the token (JOURNEYS.md §4).

The real command in a real process, reached over real sockets: what it listens on (``/proc``), what it
refuses (HTTP 403 for the page, the websocket and the static files without the token), and that the
token is on no process's command line or environment, not even the visitor's process it starts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.process_tree import cmdline, descendants, environ, is_loopback, listening_addresses

LIVE_VIEW = ["--group", "classroom-test", "--bootstrap", "127.0.0.1:9"]  # nothing listens on 9: the view says so


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """``deliverytui serve …`` running; its first line is the URL it prints once."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deliverytui", "serve", *args], cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        self.line = self.process.stdout.readline()
        match = re.search(r"open (\S+)", self.line)
        assert match, (self.line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = match.group(1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process.stdout.close()  # type: ignore[union-attr]
        self.process.stderr.close()  # type: ignore[union-attr]
        return code


def test_serve_listens_on_loopback_only_by_default() -> None:
    port = free_port()
    served = Served("--port", str(port), *LIVE_VIEW)
    try:
        assert served.url == f"http://127.0.0.1:{port}/" and "token" not in served.line
        assert "this machine only" in served.line
        addresses = listening_addresses([served.process.pid])[served.process.pid]
        assert addresses and all(is_loopback(address) for address in addresses), addresses
    finally:
        assert served.stop() == 0


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        return response.status


def test_serve_off_loopback_refuses_without_the_token_and_never_hands_it_on() -> None:
    port = free_port()
    served = Served("--host", "0.0.0.0", "--port", str(port), *LIVE_VIEW)
    try:
        assert served.url.startswith(f"http://{socket.gethostname()}:{port}/?token=")  # a URL others can open
        token = re.search(r"token=([\w-]+)", served.url).group(1)  # type: ignore[union-attr]
        assert len(token) >= 32 and "anyone who has this URL" in served.line
        addresses = listening_addresses([served.process.pid])[served.process.pid]
        assert any(not is_loopback(address) for address in addresses), addresses  # asked for: all interfaces
        base = f"http://127.0.0.1:{port}"
        visitors = asyncio.run(_visit(base, token))
        assert visitors, "the websocket with the token's cookie started no visitor process"
        for pid in [served.process.pid, *visitors]:
            assert token not in cmdline(pid) and token not in environ(pid), pid
    finally:
        assert served.stop() == 0
    assert descendants(served.process.pid) == []


async def _visit(base: str, token: str) -> list[int]:
    """Every refusal, then the page with the token, then its websocket (cookie only): the visitor's pids."""
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anonymous:
        for path in ("/", "/ws", "/static/js/textual.js", f"/?token={wrong}", "/download/any"):
            assert await _status(anonymous, base + path) == 403, path
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(base + "/ws")
        assert refused.value.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as visitor:
        assert await _status(visitor, f"{base}/?token={token}") == 200
        assert await _status(visitor, base + "/static/js/textual.js") == 200  # the cookie, not the URL, from now on
        async with visitor.ws_connect(base + "/ws?width=100&height=30") as websocket:
            await websocket.receive(timeout=30)  # the visitor's app has started and drawn
            return _visitor_pids()


def _visitor_pids() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and "deliverytui --group classroom-test" in cmdline(int(entry)):
            found.append(int(entry))
    return found


def test_serve_bad_input_is_one_line_with_exit_code_2() -> None:
    headless = run_cli("serve", "demo", "--headless", "--semantic", "at-least-once")
    assert headless.returncode == 2 and headless.stderr.count("\n") == 1 and "--headless" in headless.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = run_cli("serve", "--port", str(taken.getsockname()[1]), *LIVE_VIEW)
    assert busy.returncode == 2 and busy.stderr.count("\n") == 1 and "choose another --port" in busy.stderr, busy.stderr
    recursive = run_cli("serve", "serve", "demo")
    assert recursive.returncode == 2 and recursive.stderr.count("\n") == 1


def test_the_presenter_token_and_the_viewer_token_start_different_commands(tmp_path) -> None:
    """``serve --presenter-browser demo``: the presenter's tab runs the lab, a viewer's tab only the viewer."""
    from deliverytui.serve.server import BackgroundServer, ServeSettings, new_token

    viewer_file, presenter_file = tmp_path / "viewer.frame", tmp_path / "presenter.frame"
    settings = ServeSettings(
        command=f"{sys.executable} -m deliverytui classroom {viewer_file}", port=free_port(), token=new_token(),
        presenter_command=f"{sys.executable} -m deliverytui classroom {presenter_file}", presenter_token=new_token(),
    )
    assert settings.presenter_token != settings.token
    server = BackgroundServer(settings)
    server.start()
    try:
        assert asyncio.run(_started_by(settings.base_url, settings.token)) == {str(viewer_file)}
        wait_for(lambda: not any(str(viewer_file) in cmdline(int(p)) for p in os.listdir("/proc") if p.isdigit()),
                 30, "the viewer's process to end with its tab")  # fmt: skip
        assert asyncio.run(_started_by(settings.base_url, settings.presenter_token)) == {str(presenter_file)}
    finally:
        server.stop()


async def _started_by(base: str, token: str | None) -> set[str]:
    """The frame files named by the processes one tab with ``token`` started."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as tab:
        assert await _status(tab, f"{base}/?token={token}" if token else f"{base}/") == 200
        async with tab.ws_connect(base + "/ws?width=100&height=30") as websocket:
            await websocket.receive(timeout=30)
            return {
                cmdline(int(pid)).split()[-1] for pid in os.listdir("/proc")
                if pid.isdigit() and "deliverytui classroom" in cmdline(int(pid))
                and not cmdline(int(pid)).startswith(("/bin/sh", "env "))
            }


def test_a_viewer_gets_no_store_password_from_the_server(tmp_path, monkeypatch) -> None:
    """textual-serve copies its environment into each visitor's process; a classroom viewer reads no store."""
    from deliverytui.cli.serve import viewer_command
    from deliverytui.kafka.child_process import SECRET_VARIABLES
    from deliverytui.serve.server import BackgroundServer, ServeSettings

    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, f"secret-{name}-value")
    frames = tmp_path / "viewer.frame"
    settings = ServeSettings(command=viewer_command(frames), port=free_port())
    server = BackgroundServer(settings)
    server.start()
    try:
        assert asyncio.run(_started_by(settings.base_url, None)) == {str(frames)}
        viewers = [int(p) for p in os.listdir("/proc") if p.isdigit() and str(frames) in cmdline(int(p))]
        assert viewers
        for pid in viewers:
            assert "secret-" not in environ(pid) and "secret-" not in cmdline(pid), cmdline(pid)
    finally:
        server.stop()
