"""``demo --lesson``: the guided lesson walked end to end on the real lab, with Enter and ``n`` (and the replay dialog's buttons).

Real broker, the seven real consumer processes, the real app driven by Pilot. Every step is done
by the lesson's Enter (arm the crash, restart, open the replay, widen the window); the test waits
for the panel to say the step is done, then checks that its outcome line carries the lab table's
own figures (the duplicate's event id, partition and offset; the replayed count).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deliverytui.demo.lab import Lab
from deliverytui.demo.lesson import CRASH, CRASHED, DONE, REPLAY, WINDOW
from deliverytui.tui.lesson_host import LessonLabScreen, LessonPanel, lesson_app
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.screens.lab_dialogs import ReplayScreen
from tests.lab_helpers import Figures, audit_of, consumers_of, lab_settings, state_cell
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka


def panel_text(app) -> str:
    return str(app.lab_screen.query_one(LessonPanel).render())


async def do_crash_step(pilot, app, lesson) -> None:
    step = lesson.step
    await wait_until(pilot, lambda: lesson.progress.baseline is not None, what="the step's baseline")
    await pilot.press("enter")  # arm the crash
    await wait_until(pilot, lambda: lesson.progress.phase == CRASHED, timeout=60, what=f"{step.semantic} crash")
    assert "DEAD" in state_cell(app, step.semantic) and "press R" in panel_text(app)
    await pilot.press("enter")  # restart
    await wait_until(pilot, lambda: lesson.progress.phase == DONE, timeout=120, what=f"{step.title} outcome")


async def do_replay_step(pilot, app, lesson) -> None:
    step = lesson.step
    await wait_until(pilot, lambda: lesson.progress.baseline is not None, what="the step's baseline")
    await pilot.press("enter")  # opens the replay dialog on the step's consumer
    await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), what="replay dialog")
    dialog = app.screen
    assert dialog.semantic == step.semantic
    await pilot.click("#replay-dry-run")
    await wait_until(pilot, lambda: dialog.plan is not None, timeout=30, what="dry run")
    await pilot.click("#replay-execute")
    await wait_until(pilot, lambda: lesson.progress.replayed is not None, timeout=90, what="replay applied")
    await wait_until(pilot, lambda: lesson.progress.phase == DONE, timeout=120, what=f"{step.title} outcome")
    assert lesson.progress.dry_run == dialog.plan.total_redelivered
    assert f"the replay redelivered {lesson.progress.replayed:,}" in lesson.progress.outcome


def check_outcome(app, lesson, before: Figures) -> None:
    step, outcome = lesson.step, lesson.progress.outcome
    after = Figures.of(app, step.semantic)
    assert outcome and outcome in panel_text(app), (outcome, panel_text(app))
    if step.act == CRASH and step.semantic in ("at-least-once", "queue"):
        assert after.duplicates >= before.duplicates + 1 and after.lost == before.lost
        duplicate = next(o for o in audit_of(app, step.semantic).offending if o.event_id in outcome)
        assert f"partition {duplicate.partition} offset {duplicate.offset}" in outcome
        assert "after the effect and before the" in outcome
    elif step.act == CRASH and step.semantic == "at-most-once":
        assert after.lost == before.lost + 1 and after.duplicates == before.duplicates
        assert outcome.startswith("1 lost event: event ") and "partition " in outcome
    elif step.act == CRASH and step.point == "after-claim":
        assert after.retakes == before.retakes + 1 and (after.duplicates, after.lost) == (0, 0)
    elif step.act == CRASH and step.semantic == "exactly-once":
        assert (after.duplicates, after.lost, after.unexpected) == (0, 0, 0) and after.crashes == before.crashes + 1
        assert "Duplicates 0, Lost 0" in outcome
    elif step.act == CRASH:
        assert after.dedup_hits == before.dedup_hits + 1 and after.duplicates == 0 and outcome.startswith("1 dedup hit")
    elif step.act == REPLAY:
        counter = "dedup_hits" if step.semantic == "idempotent" else "duplicates"
        grown = getattr(after, counter) - getattr(before, counter)
        assert grown >= lesson.progress.replayed > 0
        if step.semantic == "idempotent":
            assert after.duplicates == 0


@pytest.mark.timeout(900)
async def test_the_lesson_walks_end_to_end(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = lab_settings(bootstrap, tmp_path / "state", unique)
    lab = Lab(settings).open()
    app = lesson_app(lab, refresh_seconds=1.0)
    walked: list[str] = []
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, LessonLabScreen), what="the lesson's lab")
            lesson = app.lab_screen.lesson
            await wait_until(pilot, lambda: "Lesson 1/11" in panel_text(app), what="the panel on step 1")
            await wait_until(
                pilot, lambda: all((audit_of(app, s.semantic) or 0) and audit_of(app, s.semantic).unique_effects >= 3
                                   for s in lesson.steps),
                timeout=120, what="every consumer with effects",
            )
            await pilot.press("n")
            assert lesson.index == 1
            await pilot.press("N")
            assert lesson.index == 0
            await pilot.press("N")  # before the first step: stays
            assert lesson.index == 0
            while True:
                step = lesson.step
                before = Figures.of(app, step.semantic)
                if step.act == CRASH:
                    await do_crash_step(pilot, app, lesson)
                elif step.act == REPLAY:
                    await do_replay_step(pilot, app, lesson)
                elif step.act == WINDOW:
                    await wait_until(pilot, lambda: lesson.progress.baseline is not None, what="baseline")
                    await pilot.press("enter")
                    await wait_until(pilot, lambda: lesson.progress.phase == DONE, timeout=60, what="window widened")
                    assert "(commit/20)" in state_cell(app, step.semantic) or "commits every 20" in lesson.progress.outcome
                check_outcome(app, lesson, before)
                walked.append(step.title)
                if lesson.index == len(lesson.steps) - 1:
                    break
                await pilot.press("n")
            assert len(walked) == len(lesson.steps) == 11  # the queue's step included: the lab runs one
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            keys = dict(app.screen.keys)
            assert "next step" in keys["n"] and "previous" in keys["N"] and "b" in keys
            await pilot.press("escape")
            await pilot.press("q")
    finally:
        lab.close()
    assert consumers_of(settings.state_dir) == []
