"""Issue #13, finding 1 and journey §2.8: names other people choose never reach a terminal raw.

Real groups on the session broker are named with terminal escape sequences (retitle the window,
clear the screen, fill the clipboard through OSC 52) and a right-to-left override; a real member
joins with such a ``client.id``, and a probe record reports under one. The CLI's text, the live
view's screen and the group picker must show them escaped (``\\x1b``, ``\\u202e``) and hold no raw
control character; the picker must still switch to the exact group; ``--json`` keeps the exact
group id (JSON-escaped) and the visible form of every other name.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import OptionList

from deliverytui.model.text import visible
from deliverytui.probe.publisher import ProbePublisher
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.group_picker import GroupPickerScreen
from deliverytui.tui.widgets.panels import GroupHeader, SelectedPartitionPanel
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.kafka_helpers import commit, create_topic, live_member, produce
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka

#: Retitle the terminal, clear the screen, put "hi" on the clipboard (OSC 52), reverse what follows.
RETITLE, CLEAR, CLIPBOARD, RTL_OVERRIDE = "\x1b]0;pwned\x07", "\x1b[2J", "\x1b]52;c;aGk=\x07", "\u202e"
HOSTILE = RETITLE + CLEAR + CLIPBOARD + RTL_OVERRIDE
#: Bytes a terminal obeys, other than the newline: C0, DEL, C1, and the bidi controls.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class HostileCluster:
    bootstrap: str
    topic: str
    watched: str  # a group with a live member whose client.id is hostile, and a probe report
    other: str  # a group with only committed offsets, to switch to from the picker
    client_id: str


@pytest.fixture(scope="module")
def hostile(bootstrap: str) -> Iterator[HostileCluster]:
    import uuid

    unique = uuid.uuid4().hex[:8]
    topic = f"hostile-{unique}"
    # "!" sorts before the letters and digits other tests' groups start with: in a full session the
    # picker (30 rows, sorted by id) shows this group at the top rather than scrolled out of view.
    watched, other = f"w{unique}{HOSTILE}", f"!o{unique}{RETITLE}{RTL_OVERRIDE}"
    client_id = f"c{unique}{HOSTILE}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 10, 1: 10})
    commit(bootstrap, other, {(topic, 0): 3, (topic, 1): 4})
    commit(bootstrap, watched, {(topic, 0): 5, (topic, 1): 5})
    member = live_member(bootstrap, watched, [topic], client_id=client_id)
    stop = threading.Event()
    polling = threading.Thread(target=lambda: [member.poll(0.2) for _ in iter(stop.is_set, True)], daemon=True)
    polling.start()  # stays in the group (heartbeats) without committing
    probe = ProbePublisher(bootstrap, watched, client_id, interval_ms=60_000)
    assert probe.wait_until_ready(30)
    probe.publish_positions({(topic, 0): (8, 5)}, member_id=f"m{unique}{HOSTILE}", force=True)
    assert probe.flush(10) == 0
    try:
        yield HostileCluster(bootstrap, topic, watched, other, client_id)
    finally:
        stop.set()
        polling.join(5)
        member.close()
        probe.close(retract=False)


def assert_terminal_safe(text: str, where: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, f"{where} holds the raw character {found.group()!r} at {found.start()}: {text[max(0, found.start() - 40):found.start() + 40]!r}"


# -- the CLI -----------------------------------------------------------------------------------
def test_groups_show_hostile_ids_escaped(hostile: HostileCluster) -> None:
    result = run_cli("groups", "--bootstrap", hostile.bootstrap)
    assert result.returncode == 0, result.stderr
    assert_terminal_safe(result.stdout, "deliverytui groups")
    assert visible(hostile.watched) in result.stdout and visible(hostile.other) in result.stdout
    assert "\\x1b]0;pwned\\x07" in result.stdout and "\\u202e" in result.stdout
    # --json prints the exact id (a script passes it back to --group), escaped by JSON: terminal-safe too.
    result = run_cli("groups", "--bootstrap", hostile.bootstrap, "--json")
    assert result.returncode == 0, result.stderr
    assert_terminal_safe(result.stdout, "deliverytui groups --json")
    assert "\\u001b]0;pwned\\u0007" in result.stdout
    assert hostile.watched in {g["group"] for g in json.loads(result.stdout)}


def test_snapshot_text_shows_hostile_names_escaped(hostile: HostileCluster) -> None:
    result = run_cli("snapshot", "--group", hostile.watched, "--bootstrap", hostile.bootstrap)
    assert result.returncode == 0, result.stderr
    assert_terminal_safe(result.stdout, "deliverytui snapshot")
    assert f"Group {visible(hostile.watched)}:" in result.stdout
    assert visible(hostile.client_id) in result.stdout  # CLIENT-ID, and CONSUMER-ID starts with it


def test_snapshot_json_shows_names_visible_and_the_group_exact(hostile: HostileCluster) -> None:
    result = run_cli("snapshot", "--group", hostile.watched, "--bootstrap", hostile.bootstrap, "--json")
    assert result.returncode == 0, result.stderr
    assert_terminal_safe(result.stdout, "deliverytui snapshot --json")
    data = json.loads(result.stdout)
    assert data["group"] == hostile.watched
    assert [m["client_id"] for m in data["members"]] == [visible(hostile.client_id)]
    assert {p["client_id"] for p in data["partitions"]} == {visible(hostile.client_id)}
    # An unknown hostile group: one terminal-safe line.
    result = run_cli("snapshot", "--group", f"missing{HOSTILE}", "--bootstrap", hostile.bootstrap, "--timeout", "5")
    assert result.returncode == 5, result.stderr
    assert_terminal_safe(result.stderr, "the error line")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# -- the live view (Pilot) ------------------------------------------------------------------------
def shown_everywhere(app: DeliveryApp) -> str:
    """The whole screen as exported (what the terminal would be sent), for the raw-character check."""
    return app.export_screenshot()


async def test_live_view_and_picker_show_hostile_names_escaped(hostile: HostileCluster) -> None:
    app = DeliveryApp(ViewerConfig(bootstrap=hostile.bootstrap, group=hostile.watched, refresh_seconds=0.3, request_timeout=5))
    owner = visible(hostile.client_id)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: (cell(app, f"{hostile.topic}:0", "owner") or "-") != "-", what="the owner")
        await wait_until(pilot, lambda: app.update is not None and app.update.positions.get(f"{hostile.topic}:0") is not None,
                         what="the probe's position")
        table = app.query_one(PartitionsTable)
        table.focus()
        for _ in range(len(table.shown_keys)):
            if table.selected_key == f"{hostile.topic}:0":
                break
            await pilot.press("down")
        await pilot.pause(0.5)
        assert_terminal_safe(shown_everywhere(app), "the live view")
        assert cell(app, f"{hostile.topic}:0", "owner").startswith(owner[:30])
        assert visible(hostile.watched) in str(app.query_one(GroupHeader).content)
        assert f"reported by {visible(hostile.client_id)}" in str(app.query_one(SelectedPartitionPanel).content)
        assert "\\x1b]52;c;aGk=\\x07" in cell(app, f"{hostile.topic}:0", "owner")

        await pilot.press("G")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupPickerScreen), what="the group picker")
        await pilot.pause(0.3)
        assert_terminal_safe(shown_everywhere(app), "the group picker")
        options = app.screen.query_one(OptionList)
        prompts = [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]
        target = next(i for i, prompt in enumerate(prompts) if prompt.startswith(visible(hostile.other)))
        options.highlighted = target
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, GroupPickerScreen), what="the picker to close")
        assert app.group == hostile.other  # the exact id, not its shown form
        await wait_until(pilot, lambda: app.update is not None and cell(app, f"{hostile.topic}:0", "committed") == "3",
                         what="the picked group's snapshot")
        assert not app.query_one("#banner").has_class("-visible")
        assert_terminal_safe(shown_everywhere(app), "the live view after switching")


async def test_fleet_shows_hostile_names_escaped_and_opens_the_exact_group(hostile: HostileCluster) -> None:
    """The fleet lists every group by its shown form; Enter opens the exact id (as the picker does)."""
    from textual.widgets import DataTable

    from deliverytui.tui.screens.fleet import FleetScreen

    app = DeliveryApp(ViewerConfig(bootstrap=hostile.bootstrap, group="", refresh_seconds=0.5, request_timeout=5))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the fleet")
        fleet = app.screen
        await pilot.press("slash", *hostile.topic, "enter")  # the filter matches topics too: both hostile groups
        table = fleet.query_one("#fleet-table", DataTable)
        names = lambda: [str(table.get_row_at(i)[0]) for i in range(table.row_count)]  # noqa: E731
        await wait_until(pilot, lambda: len(names()) == 2, timeout=30, what="the two hostile groups")
        await pilot.pause(0.3)
        assert_terminal_safe(shown_everywhere(app), "the fleet")
        assert any(name.startswith(visible(hostile.other)[:20]) for name in names())
        table.move_cursor(row=next(i for i, name in enumerate(names()) if name.startswith(visible(hostile.other)[:20])))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.update is not None and app.group == hostile.other, what="the exact group opened")
        await wait_until(pilot, lambda: cell(app, f"{hostile.topic}:0", "committed") == "3", what="its snapshot")
        assert_terminal_safe(shown_everywhere(app), "the live view opened from the fleet")


# -- journey §2.8 in a real terminal (tmux) --------------------------------------------------------
def _pane(target: str, what: str = "") -> str:
    args = ["tmux", "display", "-p", "-t", target, "#{pane_title}"] if what == "title" else ["tmux", "capture-pane", "-p", "-t", target]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_journey_hostile_group_never_changes_the_terminal(hostile: HostileCluster, tmp_path: Path) -> None:
    """§2.8: the live view and the picker on a hostile group in a real tmux pane leave its title alone."""
    import uuid

    session = f"hostile-{uuid.uuid4().hex[:8]}"
    group_file = tmp_path / "group"
    group_file.write_text(hostile.watched, encoding="utf-8")
    command = (
        f"sleep 1; cd {REPO_ROOT} && exec {sys.executable} -m deliverytui --group \"$(cat {group_file})\" "
        f"--bootstrap {hostile.bootstrap} --refresh 0.5 --timeout 5"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", command], check=True)
    try:
        subprocess.run(["tmux", "select-pane", "-t", session, "-T", "journey-2.8"], check=True)
        wait_for(lambda: "partitions" in _pane(session) and "members" in _pane(session), 60, "the live view's first snapshot")
        assert _pane(session, "title").strip() == "journey-2.8"
        wait_for(lambda: visible(hostile.watched)[:40] in _pane(session) and visible(hostile.client_id)[:20] in _pane(session),
                 10, "the escaped group and owner")
        subprocess.run(["tmux", "send-keys", "-t", session, "G"], check=True)
        wait_for(lambda: "Switch group" in _pane(session), 30, "the group picker")
        wait_for(lambda: visible(hostile.other)[:20] in _pane(session), 10, "the escaped names in the picker")
        assert _pane(session, "title").strip() == "journey-2.8"
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape", "q"], check=False)
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


# -- the lab: an event id someone else produced ------------------------------------------------------
async def test_lab_shows_a_hostile_event_id_escaped(bootstrap: str, tmp_path: Path) -> None:
    """A record nobody acknowledged, with an escape sequence for its event id, is an *unexpected* effect:
    the lab's screen names it in its visible form and holds no raw control character."""
    import uuid

    from confluent_kafka import Producer

    from deliverytui.demo.lab import Lab
    from deliverytui.tui.demo_app import demo_app
    from tests.lab_helpers import audit_of, lab_settings, select

    unique = uuid.uuid4().hex[:8]
    settings = lab_settings(bootstrap, tmp_path / "state", unique, semantics=("at-least-once",), rate=2.0)
    event_id = f"evil-{unique}{HOSTILE}"
    lab = Lab(settings).open()
    try:
        app = demo_app(lab)
        async with app.run_test(size=(180, 45)) as pilot:
            await wait_until(pilot, lambda: app.lab_polls >= 2, timeout=90, what="lab polls")
            producer = Producer({"bootstrap.servers": bootstrap})
            record = {"event_id": event_id, "task_id": f"t-{unique}", "title": RETITLE, "created_at": "2026-01-01T00:00:00Z"}
            producer.produce(settings.topic, value=json.dumps(record).encode())
            assert producer.flush(10) == 0
            del producer  # its connection closes now, not when the session's broker is gone
            await select(pilot, app, "at-least-once")
            await wait_until(pilot, lambda: (audit_of(app, "at-least-once") or None) is not None
                             and audit_of(app, "at-least-once").unexpected >= 1, timeout=60, what="the unexpected effect")
            await pilot.pause(1.5)
            offending = str(app.lab_screen.query_one("#offending").content)
            assert visible(event_id) in offending
            assert_terminal_safe(app.export_screenshot(), "the lab screen")
    finally:
        await asyncio.to_thread(lab.close)
