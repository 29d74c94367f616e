"""The flight recorder's journey (issue #16): record a real incident, replay it, read the screen at three instants.

A real lab (one at-least-once demo consumer, its producer, the probe) on the test broker, recorded by the real
``deliverytui record`` process: steady state → the consumer crashes after an effect → its group is replayed from
the earliest offset (the reset the lab's ``o`` makes) → it recovers. Then ``deliverytui replay``'s screen, driven
by Pilot, must show at each chosen instant what was true then: before the crash OK with its lag; at the reset
REWIND and the event line; after recovery OK again. Quit, open again: the same screens.

Why the consumer commits every 600 messages: the live view (Burrow's rules) calls a partition OK whenever its
window holds an entry that was caught up, and a consumer committing every message is caught up at nearly every
snapshot, so a reset would show as OK. Committing in batches keeps a lag at almost every snapshot (a partition
is caught up only if no record reached it since the last commit: about 3/600 of the time), as a busy group has.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from deliverytui.demo.lab import Lab
from deliverytui.model.reset import ResetTarget
from deliverytui.recorder.store import RecordingReader
from deliverytui.tui.replay_app import ReplayApp
from deliverytui.tui.replay_source import ReplaySource
from deliverytui.tui.rows import COLUMN_KEYS
from deliverytui.tui.widgets.panels import EventLog
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from deliverytui.tui.widgets.time_bar import TimeBar
from tests.helpers import REPO_ROOT, wait_for
from tests.lab_helpers import consumers_of, lab_settings

pytestmark = pytest.mark.kafka

SEMANTIC = "at-least-once"
STATUS = COLUMN_KEYS.index("status")


def frames_so_far(path: Path) -> list:
    if not path.exists():
        return []
    try:
        reader = RecordingReader(path)
    except Exception:  # noqa: BLE001 - the recorder may not have written its header yet
        return []
    try:
        return list(reader.frames(0, len(reader.instants())))
    finally:
        reader.close()


def lab_state(lab: Lab) -> str:
    update = lab.poll()
    status = next((s for s in update.statuses if s.semantic == SEMANTIC), None)
    return "" if status is None else ("DEAD" if not status.alive else status.state)


def record_incident(bootstrap: str, unique: str, tmp_path: Path) -> tuple[Path, float, str]:
    """Run the incident under ``deliverytui record``; the recording, the instant of the crash, the group."""
    settings = lab_settings(
        bootstrap, tmp_path / "state", unique, semantics=(SEMANTIC,), rate=30.0, commit_every=600,
    )
    recording = tmp_path / "incident.db"
    lab = Lab(settings).open()
    recorder = None
    try:
        group = lab.group_of(SEMANTIC)
        recorder = subprocess.Popen(
            [sys.executable, "-m", "deliverytui", "record", "--bootstrap", bootstrap, "--group", group,
             "--out", str(recording), "--refresh", "0.5", "--positions"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # Steady state: the consumer has committed twice, and the recording holds a window of OK frames.
        wait_for(lambda: sum(1 for f in frames_so_far(recording) if f.snapshot and f.snapshot.members
                             and f.snapshot.total_lag > 0 and f.group_status == "OK") >= 20,
                 timeout=120, what="20 recorded frames of a running, lagging, OK group", every=1.0)
        crashed_at = time.time()
        lab.arm_crash(SEMANTIC, "after-effect")
        wait_for(lambda: lab_state(lab) == "DEAD", timeout=60, what="the armed crash")
        lab.replay(SEMANTIC, ResetTarget.to_earliest(), dry_run=False)  # waits for the empty group, resets, restarts

        def recovered() -> bool:
            frames = frames_so_far(recording)
            rewound = [f.index for f in frames if "REWIND" in f.statuses.values()]
            return bool(rewound) and frames[-1].group_status == "OK" and frames[-1].index > rewound[-1] + 10

        wait_for(recovered, timeout=180, what="REWIND recorded, then OK again", every=1.0)
    finally:
        if recorder is not None:
            recorder.send_signal(signal.SIGTERM)
            _out, err = recorder.communicate(timeout=30)
            assert recorder.returncode == 0, err
        lab.close()
    assert consumers_of(tmp_path / "state") == []
    return recording, crashed_at, group


def screen(app: ReplayApp) -> dict[str, object]:
    """What the operator reads: header, time bar, every row's cells, the event log."""
    table = app.query_one(PartitionsTable)
    return {
        "header": str(app.query_one("#header").render()),
        "bar": app.query_one(TimeBar).describe(),
        "rows": {key: tuple(table.get_cell(key, column).plain for column in COLUMN_KEYS if column not in ("leader", "isr"))
                 for key in table.shown_keys},
        "events": list(app.query_one(EventLog).entries),
        "selected": str(app.query_one("#selected").render()),
    }


async def go_to(pilot, app: ReplayApp, at: float) -> None:
    await pilot.press("t")
    app.query_one("#goto").value = datetime.fromtimestamp(at).astimezone().isoformat()
    await pilot.press("enter")


async def walk(path: Path, instants: dict[str, float]) -> dict[str, dict[str, object]]:
    seen: dict[str, dict[str, object]] = {}
    app = ReplayApp(ReplaySource(RecordingReader(path)), path)
    async with app.run_test(size=(180, 50)) as pilot:
        for name, at in instants.items():
            await go_to(pilot, app, at)
            await pilot.pause()
            assert app.source.instants[app.index] == at, name
            seen[name] = screen(app)
        await pilot.press("q")
    return seen


async def test_a_recorded_incident_replays_with_the_right_state_at_chosen_instants(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    recording, crashed_at, group = record_incident(bootstrap, unique, tmp_path)
    frames = frames_so_far(recording)
    before = [f for f in frames if f.at < crashed_at and f.snapshot is not None][-1]
    rewind = next(f for f in frames if "REWIND" in f.statuses.values())
    after = frames[-1]
    assert before.group_status == "OK" and before.snapshot.total_lag > 0 and before.snapshot.members
    assert after.group_status == "OK" and after.snapshot.members

    # The recorded statuses are the ones the replay derives from the recorded snapshots, at every frame.
    source = ReplaySource(RecordingReader(recording))
    try:
        for frame in frames:
            update = source.update_at(frame.index)
            if frame.snapshot is not None:
                assert {k: r.cells[STATUS][0] for k, r in update.rows.items()} == dict(frame.statuses), frame.index
                assert update.group_status == frame.group_status, frame.index
    finally:
        source.close()

    instants = {"before": before.at, "rewind": rewind.at, "after": after.at}
    first = await walk(recording, instants)

    shot = first["before"]
    assert "REPLAY of incident.db" in shot["header"] and group in shot["header"]
    assert "status OK" in shot["header"] and f"total lag {before.snapshot.total_lag:,}" in shot["header"]
    assert {row[-1] for row in shot["rows"].values()} == {"OK"}
    assert not any("reset seen on" in line for line in shot["events"])

    shot = first["rewind"]
    rewound = [key for key, status in rewind.statuses.items() if status == "REWIND"]
    assert "status REWIND" in shot["header"]
    assert all(shot["rows"][key][-1] == "REWIND" for key in rewound)
    assert any("reset seen on" in line and "records will be redelivered" in line for line in shot["events"])
    assert any(f"{key}: " in line and "→ REWIND" in line for line in shot["events"] for key in rewound)
    assert f"frame {rewind.index + 1}/{len(frames)}" in shot["bar"]

    shot = first["after"]
    assert "status OK" in shot["header"] and {row[-1] for row in shot["rows"].values()} == {"OK"}
    assert any("reset seen on" in line for line in shot["events"])  # the log still holds the incident
    assert after.positions is not None and after.positions.partitions  # --positions: what the probe reported then
    assert any(row[COLUMN_KEYS.index("position")] not in ("", "-") for row in shot["rows"].values())

    second = await walk(recording, instants)  # quit, open again: the same screens
    assert second == first

