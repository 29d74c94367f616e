"""The classroom viewer's journey (shared/JOURNEYS.md §3), in Debian's chromium, twice.

A real lab (real broker, real consumer processes) is driven by the presenter's real screen (Pilot); the lab
is served by ``deliverytui serve``'s server with a token; a headless chromium (selenium, chromium-driver)
opens the URL. The page's terminal is a canvas, so the test reads what reached it: a script installed before
the page loads keeps every byte its websocket received, which is exactly what xterm.js draws. Then:
the table is drawn; the presenter's ``k`` kills a consumer; the page shows it DEAD within seconds; and the
viewer's keys (every key of the lab) change nothing in the lab, though they do reach the viewer (``?``
opens its help).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from deliverytui.cli.serve import viewer_command
from deliverytui.demo.classroom import classroom_file
from deliverytui.demo.lab import Lab
from deliverytui.serve.server import BackgroundServer, ServeSettings, new_token
from deliverytui.tui.demo_app import demo_app
from tests.lab_helpers import consumers_of, lab_settings, select, state_cell
from tests.process_tree import cmdline
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka

SEMANTICS = ("at-most-once", "at-least-once", "idempotent", "upsert", "state-check", "exactly-once")
VICTIM = "at-least-once"
SHOWN_WITHIN = 10.0
"""Seconds from the presenter's k to DEAD on the viewer's page: the lab polls each second, the viewer reads
the frame four times a second; ten seconds is "within a few seconds" with a shared, loaded machine's margin."""
LAB_KEYS = "kcRobiwP+-q"
RECORDER = """
window.__received = "";
const decoder = new TextDecoder();
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new NativeWebSocket(...args);
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") { window.__received += event.data; }
    else if (event.data instanceof ArrayBuffer) { window.__received += decoder.decode(event.data, {stream: true}); }
  });
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, NativeWebSocket);
"""
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b\][^\x07]*\x07")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def browser():
    """Debian's chromium, headless, through chromium-driver (scripts/setup installs both)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromium-driver are missing: run scripts/setup (it installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,1000"):
        options.add_argument(argument)
    options.page_load_strategy = "eager"  # the page links a web font; this machine may not reach it
    session = webdriver.Chrome(options=options, service=Service(driver))
    session.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    return session


def received(session) -> str:
    """What the page's terminal was sent, escape sequences removed: the text xterm.js drew."""
    return ESCAPES.sub("", session.execute_script("return window.__received || ''"))


def wait_in_page(session, predicate, timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate(received(session)):
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"the viewer's page did not show {what} within {timeout}s")


def press_in_page(session, keys: str) -> None:
    """Type into the page's terminal as a learner would (xterm.js reads keys from its hidden textarea)."""
    from selenium.webdriver.common.by import By

    terminal = session.find_element(By.CSS_SELECTOR, "textarea.xterm-helper-textarea")
    for key in keys:
        terminal.send_keys(key)
        time.sleep(0.05)


def lab_state(lab: Lab) -> dict[str, object]:
    """What a viewer's key could change: who runs (and as which pid), the rate, crash points, windows, instances."""
    update = lab.poll()
    return {
        "statuses": {s.semantic: (s.alive, s.pid, s.armed, s.extra_instances) for s in update.statuses},
        "rate": update.rate,
        "commit_every": update.commit_every,
    }


async def walk(app, pilot, lab: Lab, url: str, shots: Path) -> float:
    """Steps 1-3 of the journey; returns seconds from the presenter's k to DEAD on the viewer's page."""
    session = await asyncio.to_thread(browser)
    try:
        await asyncio.to_thread(session.get, url)
        # 1. The presenter's lab, live: the table, its columns and the consumers, running.
        await asyncio.to_thread(
            wait_in_page, session,
            lambda text: "Duplicates" in text and all(name in text for name in SEMANTICS) and "running" in text,
            60, "the lab's table",
        )
        assert await asyncio.to_thread(session.execute_script, "return document.body.classList.contains('-first-byte')")
        assert "read-only" in await asyncio.to_thread(received, session)
        # 2. The presenter kills a consumer; the viewer sees it DEAD within seconds.
        await wait_until(pilot, lambda: state_cell(app, VICTIM).startswith("running"), timeout=60, what="victim running")
        before = len(await asyncio.to_thread(received, session))
        await select(pilot, app, VICTIM)
        await pilot.press("k")
        seconds = await asyncio.to_thread(
            wait_in_page, session, lambda text: "DEAD" in text[before:], SHOWN_WITHIN, "the killed consumer DEAD",
        )
        await wait_until(pilot, lambda: state_cell(app, VICTIM).startswith("DEAD"), timeout=20, what="DEAD for the presenter")
        await asyncio.to_thread(session.save_screenshot, str(shots / "viewer-dead.png"))
        # 3. The viewer presses every key of the lab: nothing in the lab changes (the victim stays dead).
        state = await asyncio.to_thread(lab_state, lab)
        await asyncio.to_thread(press_in_page, session, LAB_KEYS)
        await asyncio.sleep(3)  # three of the lab's polls, a dozen of the viewer's reads
        assert await asyncio.to_thread(lab_state, lab) == state
        assert not (lab.state_dir / f"{VICTIM}.crash").exists()  # no crash point armed from the page
        # ... and the keys did reach the viewer: its own help opens.
        shown = len(await asyncio.to_thread(received, session))
        await asyncio.to_thread(press_in_page, session, "?")
        await asyncio.to_thread(wait_in_page, session, lambda text: "The classroom view" in text[shown:], 15, "the viewer's help")
        await asyncio.to_thread(press_in_page, session, "\ue00c")  # Escape
        # The presenter restarts the consumer for the next walk.
        await pilot.press("R")
        await wait_until(pilot, lambda: state_cell(app, VICTIM).startswith("running"), timeout=90, what="victim restarted")
        return seconds
    finally:
        await asyncio.to_thread(session.quit)


@pytest.mark.timeout(900)
async def test_the_classroom_viewer_journey_twice(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = lab_settings(bootstrap, tmp_path / "state", unique, classroom=True)
    frames = classroom_file(settings.state_dir)
    token = new_token()
    served = ServeSettings(
        command=viewer_command(frames), port=free_port(), token=token,
    )
    server = BackgroundServer(served)
    server.start()
    lab = Lab(settings).open()
    app = demo_app(lab, refresh_seconds=1.0)
    try:
        async with app.run_test(size=(180, 45)) as pilot:
            await wait_until(pilot, lambda: app.lab_polls >= 2 and frames.exists(), timeout=60, what="first frames")
            assert os.stat(frames).st_mode & 0o077 == 0  # the frame file is the presenter's alone
            timings = [await walk(app, pilot, lab, served.visitor_url, tmp_path) for _ in range(2)]
            assert all(seconds < SHOWN_WITHIN for seconds in timings), timings
            viewers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if str(frames) in cmdline(pid)]
            assert all(token not in cmdline(pid) for pid in viewers)
            await pilot.press("q")
    finally:
        lab.close()
        server.stop()
    assert not frames.exists(), "a closed lab left its frame: viewers would show it as live"
    assert consumers_of(settings.state_dir) == [], "a consumer of the lab outlived it"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(str(frames) in cmdline(int(p)) for p in os.listdir("/proc") if p.isdigit()):
        time.sleep(0.2)
    assert not any(str(frames) in cmdline(int(p)) for p in os.listdir("/proc") if p.isdigit()), "a viewer outlived the server"


@pytest.mark.timeout(600)
async def test_the_presenter_drives_from_a_browser_and_the_viewer_follows(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """``serve --presenter-browser demo``: the lab runs in the presenter's tab; its ``k`` reaches the viewer's tab;
    closing the presenter's tab stops the lab (nothing left) and the viewer says so."""
    state = tmp_path / "state"
    frames = classroom_file(state)
    served = ServeSettings(
        command=viewer_command(frames), port=free_port(), token=new_token(),
        presenter_command=f"{sys.executable} -m deliverytui demo --classroom --bootstrap {bootstrap} "
                          f"--run-dir {state} --topic task-events-{unique} --rate 20",
        presenter_token=new_token(),
    )  # fmt: skip
    server = BackgroundServer(served)
    server.start()
    presenter = viewer = None
    try:
        presenter = await asyncio.to_thread(browser)
        await asyncio.to_thread(presenter.get, served.presenter_url)
        await asyncio.to_thread(
            wait_in_page, presenter, lambda text: "Kill" in text and text.count("running") >= 6, 120, "the presenter's lab",
        )
        viewer = await asyncio.to_thread(browser)
        await asyncio.to_thread(viewer.get, served.visitor_url)
        await asyncio.to_thread(wait_in_page, viewer, lambda text: "read-only" in text and "running" in text, 60, "the viewer's lab")
        before = len(await asyncio.to_thread(received, viewer))
        await asyncio.to_thread(press_in_page, presenter, "k")  # the first row: at-most-once
        await asyncio.to_thread(wait_in_page, viewer, lambda text: "DEAD" in text[before:], SHOWN_WITHIN, "DEAD after the presenter's k")
        await asyncio.to_thread(presenter.quit)  # the presenter closes the tab: the lab stops as on q
        presenter = None
        await asyncio.to_thread(wait_in_page, viewer, lambda text: "lab stopped" in text, 60, "the lab's stop")
        assert not frames.exists()
        assert consumers_of(state) == [], "a consumer outlived the presenter's tab"
    finally:
        for session in (presenter, viewer):
            if session is not None:
                await asyncio.to_thread(session.quit)
        server.stop()
