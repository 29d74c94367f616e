"""The lesson's model on its own: which steps a lab gets, how ``n``/``N`` move, what Enter does when.

No Kafka here and none claimed: the updates are built by hand to pin the step machine's rules
(``tests/test_lesson.py`` walks the same steps on the real lab). The outcome wording is checked
against the figures it is given.
"""

from __future__ import annotations

from datetime import UTC, datetime

from deliverytui.demo.lesson import ARMED, CRASHED, DONE, READY, RESTARTED, STEPS, Lesson
from deliverytui.demo.semantics import SEMANTICS
from deliverytui.model.demo import (
    AuditReport,
    ConsumerAudit,
    ConsumerProcessStatus,
    LabUpdate,
    OffendingEvent,
)


def update(semantic: str, *, alive: bool = True, armed: str | None = None, duplicates: int = 0,
           offending: tuple[OffendingEvent, ...] = ()) -> LabUpdate:
    status = ConsumerProcessStatus(semantic, "g", 1, alive, "running" if alive else "crashed", 10, 0, armed,
                                   None if alive else -9, None)
    audit = ConsumerAudit(semantic, "g", 10, 10, 10 + duplicates, 10, duplicates, 0, 0, 0, 0, offending=offending)
    report = AuditReport("t", 10, (audit,), datetime.now(UTC))
    return LabUpdate((status,), report, 10, 5.0)


def test_every_lab_consumer_has_a_step_and_a_lab_without_the_queue_skips_its_step() -> None:
    assert {s.semantic for s in STEPS} == set(SEMANTICS)
    lesson = Lesson(semantics=frozenset(SEMANTICS) - {"queue"})
    assert len(lesson.steps) == len(STEPS) - 1 and all(s.semantic != "queue" for s in lesson.steps)


def test_n_and_back_stop_at_the_ends_and_start_the_step_afresh() -> None:
    lesson = Lesson()
    assert not lesson.move(-1) and lesson.index == 0
    lesson.observe(update("at-least-once"))
    assert lesson.progress.baseline is not None
    assert lesson.move(1) and lesson.index == 1 and lesson.progress.baseline is None
    lesson.index = len(lesson.steps) - 1
    assert not lesson.move(1)


def test_enter_arms_then_restarts_and_the_duplicate_is_explained_from_the_audit() -> None:
    lesson = Lesson()
    assert lesson.next_action() is None  # no baseline yet: nothing to press
    lesson.observe(update("at-least-once"))
    assert lesson.next_action() == ("arm_crash", "at-least-once", "after-effect")
    lesson.observe(update("at-least-once", armed="after-effect"))
    assert lesson.progress.phase == ARMED and lesson.next_action() is None
    lesson.observe(update("at-least-once", alive=False))
    assert lesson.progress.phase == CRASHED and lesson.next_action() == ("restart", "at-least-once")
    lesson.observe(update("at-least-once"))
    assert lesson.progress.phase == RESTARTED  # no duplicate yet: it waits for the real one
    dup = OffendingEvent("6920abcd", 2, 176, "duplicate")
    lesson.observe(update("at-least-once", duplicates=1, offending=(dup,)))
    assert lesson.progress.phase == DONE
    assert lesson.progress.outcome == (
        "1 duplicate: event 6920abcd, partition 2 offset 176, done twice because the crash came after the "
        "effect and before the commit."
    )
    assert lesson.move(1) and lesson.progress.phase == READY
