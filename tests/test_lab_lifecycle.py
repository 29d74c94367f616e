"""The lab owns its processes and its story: one lab per state, leftovers stopped, signals, identity.

Each test runs real consumer processes against the real broker and reads ``/proc`` to check
that nothing outlives the lab that started it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from deliverytui.demo import processes
from deliverytui.demo.lab import Lab, LabBusyError
from deliverytui.demo.story import STORIES_DIR
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.lab_helpers import consumers_of, lab_settings

pytestmark = pytest.mark.kafka



def poll_until(lab: Lab, predicate, timeout: float, what: str):
    """Poll the lab (as its screen does, once a second) until ``predicate(update)``; the updates seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        update = lab.poll()
        seen.append(update)
        if update.error is None and predicate(update):
            return seen
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error {seen[-1].error if seen else None}")


def all_running_with_effects(update) -> bool:
    return all(s.alive and s.state == "running" for s in update.statuses) and update.audit is not None and all(
        a.unique_effects >= 5 for a in update.audit.consumers
    )


def test_a_second_lab_on_the_same_state_is_refused_in_one_line(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = lab_settings(bootstrap, tmp_path / "state", unique, semantics=("at-least-once",))
    lab = Lab(settings).open()
    try:
        with pytest.raises(LabBusyError, match=rf"pid {os.getpid()}"):
            Lab(settings).open()
        result = run_cli(
            "demo", "--bootstrap", bootstrap, "--topic", settings.topic, env={"DELIVERYTUI_DEMO_DIR": str(settings.state_dir)}
        )
        assert result.returncode == LabBusyError.exit_code, result
        assert result.stderr.count("\n") == 1 and f"pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr
    finally:
        lab.close()
    assert consumers_of(settings.state_dir) == []


def test_leftovers_of_a_killed_lab_are_found_and_stopped(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """A lab SIGKILLed while its consumers could not notice (stopped): the next lab stops them first."""
    state = tmp_path / "state"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from deliverytui.demo.lab import Lab, LabSettings
        lab = Lab(LabSettings(state_dir=Path({str(state)!r}), bootstrap={bootstrap!r}, topic={f"task-events-{unique}"!r},
                              group_prefix={f"{unique}-"!r}, semantics=("at-least-once", "idempotent"), rate=20.0)).open()
        print("open", flush=True)
        time.sleep(600)
        """
    )
    first = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "open"
        wait_for(lambda: len(consumers_of(state)) == 2, 30, "two consumers")
        orphans = consumers_of(state)
        for pid in orphans:
            os.kill(pid, signal.SIGSTOP)  # they cannot see their lab die
        first.kill()
        first.wait()
        time.sleep(1.0)
        assert sorted(consumers_of(state)) == sorted(orphans)  # left behind, as after a crashed lab
        second = Lab(lab_settings(bootstrap, state, unique, semantics=("at-least-once", "idempotent"))).open()
        try:
            assert not any(processes.alive(pid) for pid in orphans)
            updates = poll_until(second, all_running_with_effects, 90, "the new consumers")
            update = updates[-1]
            lines = [e.text for u in updates for e in u.events]
            assert any("left running by an earlier lab" in line and str(orphans[0]) in line for line in lines), lines
            assert set(consumers_of(state)).isdisjoint(orphans)
            for audit in update.audit.consumers:
                assert (audit.duplicates, audit.lost, audit.unexpected) == (0, 0, 0), audit
        finally:
            second.close()
    finally:
        if first.poll() is None:
            first.kill()
        for pid in consumers_of(state):
            os.kill(pid, signal.SIGKILL)
    assert consumers_of(state) == []


def test_sigterm_five_times_in_50ms_to_a_busy_consumer(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """The handler only sets a flag: repeated signals cannot deadlock it, and the last commit holds."""
    settings = lab_settings(bootstrap, tmp_path / "state", unique, semantics=("at-least-once",), rate=500.0)
    lab = Lab(settings).open()
    try:
        poll_until(lab, lambda u: u.audit.consumers[0].unique_effects >= 200, 60, "a busy consumer")
        assert lab.supervisor is not None
        pid = lab.supervisor.pid("at-least-once")
        for _ in range(5):
            os.kill(pid, signal.SIGTERM)
            time.sleep(0.01)
        code = lab.supervisor.wait("at-least-once", timeout=15)
        assert code == 0, f"the consumer did not stop on SIGTERM (exit {code})"
        lab.supervisor.start("at-least-once")  # the same consumer again, from its last commit
        update = poll_until(lab, lambda u: u.audit.consumers[0].unique_effects >= 400, 60, "more effects")[-1]
        audit = update.audit.consumers[0]
        assert (audit.duplicates, audit.lost) == (0, 0), audit  # the graceful stop committed what it had done
    finally:
        lab.close()


def test_a_lab_state_pointed_at_another_broker_starts_a_new_story(
    bootstrap: str, unique: str, tmp_path: Path, kafka_distribution
) -> None:
    from deliverytui.broker.embedded import EmbeddedBroker

    state = tmp_path / "state"
    semantics = ("at-most-once", "at-least-once", "exactly-once")
    lab = Lab(lab_settings(bootstrap, state, unique, semantics=semantics)).open()
    try:
        first = poll_until(lab, all_running_with_effects, 90, "the first story")[-1]
    finally:
        lab.close()
    other = EmbeddedBroker(tmp_path / "other-broker")
    info, _ = other.start(distribution=kafka_distribution)
    try:
        lab = Lab(lab_settings(info.bootstrap, state, unique, semantics=semantics)).open()
        try:
            updates = poll_until(
                lab, lambda u: all_running_with_effects(u) and u.produced >= 60, 120, "the new story running"
            )
            lines = [e.text for u in updates for e in u.events]
            assert any(line.startswith("new story: the cluster changed") for line in lines), lines
            moved = list((state / STORIES_DIR).iterdir())
            assert len(moved) == 1 and (moved[0] / "ledger.db").exists()
            update = updates[-1]
            assert update.produced < first.produced + 200  # counted from this story's start, not the old one's
            for audit in update.audit.consumers:
                assert (audit.lost, audit.duplicates, audit.unexpected) == (0, 0, 0), audit
        finally:
            lab.close()
    finally:
        other.stop()


def test_a_wiped_state_on_a_kept_broker_sees_no_old_outputs(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """The old story's exactly-once outputs stay in the topic; the new story must not call them unexpected."""
    state = tmp_path / "state"
    semantics = ("at-most-once", "exactly-once")
    lab = Lab(lab_settings(bootstrap, state, unique, semantics=semantics)).open()
    try:
        poll_until(lab, all_running_with_effects, 90, "the first story")
    finally:
        lab.close()
    import shutil

    shutil.rmtree(state)
    lab = Lab(lab_settings(bootstrap, state, unique, semantics=semantics)).open()
    try:
        update = poll_until(lab, all_running_with_effects, 120, "the new story")[-1]
        time.sleep(3)
        update = lab.poll()
        for audit in update.audit.consumers:
            assert (audit.lost, audit.duplicates, audit.unexpected) == (0, 0, 0), audit
    finally:
        lab.close()


def test_closing_the_terminal_stops_everything(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """Journey §1.10: the tmux window is closed (SIGHUP) instead of ``q``: no consumer survives."""
    state = tmp_path / "state"
    session = f"lab-{unique}"
    command = (
        f"cd {REPO_ROOT} && DELIVERYTUI_DEMO_DIR={state} {sys.executable} -m deliverytui demo "
        f"--bootstrap {bootstrap} --topic task-events-{unique}"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "180", "-y", "45", command], check=True)
    try:
        wait_for(lambda: len(consumers_of(state)) == 8, 90, "seven consumers: eight processes, the queue has two")
        screen = ""

        def lab_drawn() -> bool:
            nonlocal screen
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            return "acknowledged" in screen and "exactly-once" in screen

        wait_for(lab_drawn, 60, "the lab screen")
        lab_pid = int(Path(state / "lab.lock").read_text().split()[0])
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    wait_for(lambda: not processes.alive(lab_pid), 30, "the lab to exit on SIGHUP")
    wait_for(lambda: consumers_of(state) == [], 30, "its consumers to stop")


async def test_the_lab_keeps_supervising_behind_the_live_view(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """``w`` then a crash: the lab still reaps and auto-restarts while the live view is in front."""
    from deliverytui.tui.demo_app import demo_app
    from tests.tui_helpers import wait_until

    settings = lab_settings(bootstrap, tmp_path / "state", unique, semantics=("at-least-once",), auto_restart=1.0)
    lab = Lab(settings).open()
    try:
        app = demo_app(lab)
        async with app.run_test(size=(180, 45)) as pilot:
            await wait_until(pilot, lambda: app.lab_polls >= 2, timeout=60, what="lab polls")
            await pilot.press("w")
            await wait_until(pilot, lambda: not app.lab_in_front(), what="the live view")
            old = lab.supervisor.pid("at-least-once")
            await asyncio.to_thread(lab.kill, "at-least-once")
            await wait_until(
                pilot, lambda: (lab.supervisor.pid("at-least-once") or old) != old, timeout=30, what="auto-restart behind w"
            )
            await pilot.press("d")
            await wait_until(pilot, lambda: app.lab_in_front(), what="the lab")
            log = app.lab_screen.query_one("#lab-events").entries
            assert any("died" in line for line in log) and any("started again" in line for line in log), log
    finally:
        lab.close()
