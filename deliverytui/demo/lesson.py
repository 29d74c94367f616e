"""The guided lesson (``deliverytui demo --lesson``): the chapter's stories as steps over the live lab.

Why a model apart from the screen: a step is a small state machine fed only by the lab's own
:class:`LabUpdate`s (a consumer armed, dead, running again; an audit counter moving), so it is the
real event, not a timer, that ends a step, and the outcome is explained from the lab's figures
(the event id, its partition and offset, the "why" the auditor found). The screen renders
:meth:`Lesson.view` and asks :meth:`Lesson.next_action` what Enter should do; it never decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deliverytui.demo.semantics import AFTER_CLAIM, AFTER_COMMIT, AFTER_EFFECT, MID_TRANSACTION, Semantic
from deliverytui.model.demo import ConsumerAudit, ConsumerProcessStatus, LabUpdate

CRASH, REPLAY, WINDOW = "crash", "replay", "window"
"""What a step asks of the presenter: a crash at a point then a restart; a replay to earliest; a wider commit window."""

PROGRESS_AFTER_CRASH = 10
"""Exactly-once's outcome: this many more unique effects after the restart, with nothing lost or duplicated."""


@dataclass(frozen=True)
class LessonStep:
    """One story: what to do (by hand or with Enter), what to watch, and the chapter's claim it shows."""

    title: str
    semantic: str
    act: str
    by_hand: str
    watch: str
    claim: str
    point: str | None = None


STEPS: tuple[LessonStep, ...] = (
    LessonStep(
        "The crash between send and commit", Semantic.AT_LEAST_ONCE, CRASH,
        "select at-least-once, c → after-effect, then R once it is DEAD",
        "Duplicates goes up by one after the restart",
        "Committing after the work means a crash in between hands the same record out again: nothing is lost, "
        "but the work is done a second time.",
        AFTER_EFFECT,
    ),
    LessonStep(
        "Commit first, lose instead", Semantic.AT_MOST_ONCE, CRASH,
        "select at-most-once, c → after-commit, then R",
        "Lost goes up by one; Duplicates stays put",
        "Committing before the work trades the duplicate for a gap: after a crash the group starts past a record "
        "whose work never happened.",
        AFTER_COMMIT,
    ),
    LessonStep(
        "The idempotent consumer", Semantic.IDEMPOTENT, CRASH,
        "select idempotent, c → after-effect, then R",
        "Dedup hits goes up by one; Duplicates stays 0",
        "Keep at-least-once and remember which event ids were handled: the second delivery is recognised "
        "and skipped, so the redelivery costs nothing.",
        AFTER_EFFECT,
    ),
    LessonStep(
        "A claim that never finished", Semantic.IDEMPOTENT, CRASH,
        "select idempotent, c → after-claim, then R",
        "Retakes goes up by one once the 4 s lease expires; nothing lost or duplicated",
        "Remembering an id before the work is done can hide a failure; a lease on the claim lets a restarted "
        "consumer take the event over instead of skipping it.",
        AFTER_CLAIM,
    ),
    LessonStep(
        "Upsert on a natural key", Semantic.UPSERT, CRASH,
        "select upsert, c → after-effect, then R",
        "Dedup hits goes up by one; Duplicates stays 0",
        "A write keyed by the task's own id replaces the row instead of adding one, so doing it twice leaves "
        "the same single row.",
        AFTER_EFFECT,
    ),
    LessonStep(
        "Check the state before changing it", Semantic.STATE_CHECK, CRASH,
        "select state-check, c → after-effect, then R",
        "Dedup hits goes up by one; Duplicates stays 0",
        "A transition guarded by the current state (only a pending task completes) finds the work done the "
        "second time and changes nothing.",
        AFTER_EFFECT,
    ),
    LessonStep(
        "Exactly-once", Semantic.EXACTLY_ONCE, CRASH,
        "select exactly-once, c → mid-transaction, then R",
        "Crashes goes up; Duplicates and Lost stay 0 while it carries on",
        "When the output is a Kafka topic, the output and the offset commit share one transaction: a crash "
        "aborts both, and read_committed readers never see the half-done output.",
        MID_TRANSACTION,
    ),
    LessonStep(
        "Replay an at-least-once consumer", Semantic.AT_LEAST_ONCE, REPLAY,
        "select at-least-once, o, to earliest, Dry run, then Replay",
        "Duplicates grows by the replayed count, each 'after a replay'",
        "Moving a group's committed offset back redelivers everything after it: to a consumer that is not "
        "idempotent every one of those records is a duplicate effect.",
    ),
    LessonStep(
        "Replay an idempotent consumer", Semantic.IDEMPOTENT, REPLAY,
        "select idempotent, o, to earliest, Dry run, then Replay",
        "Dedup hits grows by the replayed count; Duplicates stays 0",
        "The same replay against a consumer that remembers its event ids is harmless: it is why idempotency "
        "makes at-least-once safe to rewind.",
    ),
    LessonStep(
        "Position versus committed", Semantic.AT_LEAST_ONCE, WINDOW,
        "select at-least-once, b (commit every 20), then w; d back, b again to undo",
        "the state cell says (commit/20); in w's view Position runs ahead of Committed, in yellow",
        "What a crash would redeliver is the gap between where the consumer has read and what it has "
        "committed; committing less often widens it.",
    ),
    LessonStep(
        "A queue redelivers too", Semantic.QUEUE, CRASH,
        "select queue, c → after-effect, then R",
        "a few seconds later Duplicates +1, and the delivery counts gain a 2:",
        "A share group hands the unacknowledged record to another worker: still at-least-once, so the same "
        "idempotency patterns are what stop the second effect.",
        AFTER_EFFECT,
    ),
)

READY, ARMED, CRASHED, RESTARTED, WAITING, DONE = "ready", "armed", "crashed", "restarted", "waiting", "done"


@dataclass
class StepProgress:
    """Where the current step stands, against the consumer's figures when the step began."""

    phase: str = READY
    baseline: ConsumerAudit | None = None
    seen_ids: frozenset[str] = frozenset()
    unique_at_restart: int | None = None
    replayed: int | None = None
    dry_run: int | None = None
    outcome: str | None = None


@dataclass
class Lesson:
    """The steps, the current one, and what the lab has shown of it so far."""

    steps: tuple[LessonStep, ...] = STEPS
    index: int = 0
    progress: StepProgress = field(default_factory=StepProgress)
    semantics: frozenset[str] | None = None
    """The lab's consumers: steps for a consumer the lab does not run are left out."""

    def __post_init__(self) -> None:
        if self.semantics is not None:
            self.steps = tuple(s for s in self.steps if s.semantic in self.semantics)

    @property
    def step(self) -> LessonStep:
        return self.steps[self.index]

    def move(self, by: int) -> bool:
        """``n``/``N``: the next or previous step, started afresh (its baseline is the next update)."""
        target = self.index + by
        if not 0 <= target < len(self.steps):
            return False
        self.index, self.progress = target, StepProgress()
        return True

    def next_action(self) -> tuple[str, ...] | None:
        """What Enter does now: a lab action and its arguments, or None (nothing to press: wait)."""
        step, phase = self.step, self.progress.phase
        if self.progress.baseline is None or phase == DONE:
            return None
        if step.act == CRASH and phase == READY:
            return ("arm_crash", step.semantic, str(step.point))
        if step.act == CRASH and phase == CRASHED:
            return ("restart", step.semantic)
        if step.act == REPLAY and phase == READY:
            return ("replay", step.semantic)
        if step.act == WINDOW and phase == READY:
            return ("toggle_window", step.semantic)
        return None

    def note_replay(self, semantic: str, dry_run: int | None, applied: int) -> None:
        """The replay dialog's answer: how many records the dry run announced and the replay applied."""
        if self.step.act == REPLAY and semantic == self.step.semantic and self.progress.phase != DONE:
            self.progress.dry_run, self.progress.replayed, self.progress.phase = dry_run, applied, WAITING

    def observe(self, update: LabUpdate) -> bool:
        """Feed one lab update; True when the step's phase changed."""
        step, progress = self.step, self.progress
        audit = update.audit_of(step.semantic)
        status = next((s for s in update.statuses if s.semantic == step.semantic), None)
        if audit is None or status is None:
            return False
        before = progress.phase
        if progress.baseline is None:
            progress.baseline = audit
            progress.seen_ids = frozenset(o.event_id for o in audit.offending)
        if step.act == CRASH:
            self._crash_phase(status, audit)
        elif step.act == WINDOW and progress.phase != DONE and (update.commit_every.get(step.semantic) or 1) > 1:
            progress.phase = DONE
            progress.outcome = (
                f"{step.semantic} now commits every {update.commit_every[step.semantic]} messages. Press w: in its "
                "group's view the Position column runs ahead of Committed, in yellow; a crash now would redeliver "
                "everything in that gap. d comes back; b again commits per message."
            )
        elif step.act == REPLAY and progress.phase == WAITING:
            self._replay_outcome(audit)
        return progress.phase != before

    def _crash_phase(self, status: ConsumerProcessStatus, audit: ConsumerAudit) -> None:
        progress = self.progress
        if progress.phase in (READY, ARMED) and not status.alive:
            progress.phase = CRASHED
        elif progress.phase == READY and status.armed:
            progress.phase = ARMED
        elif progress.phase == CRASHED and status.alive:
            progress.phase, progress.unique_at_restart = RESTARTED, audit.unique_effects
        if progress.phase == RESTARTED:
            outcome = self._crash_outcome(audit)
            if outcome is not None:
                progress.phase, progress.outcome = DONE, outcome

    def _crash_outcome(self, audit: ConsumerAudit) -> str | None:
        base, step = self.progress.baseline, self.step
        assert base is not None
        if step.semantic == Semantic.EXACTLY_ONCE:
            done = audit.unique_effects - (self.progress.unique_at_restart or 0)
            if done < PROGRESS_AFTER_CRASH:
                return None
            return (
                f"{audit.crashes - base.crashes} crash mid-transaction, then {done} events done since the restart; "
                f"Duplicates {audit.duplicates - base.duplicates}, Lost {audit.lost - base.lost}: the aborted "
                "transaction took its output and its offsets with it, and the restart did the event again once."
            )
        if step.point == AFTER_CLAIM:
            if audit.dedup_retakes <= base.dedup_retakes:
                return None
            return (
                f"{audit.dedup_retakes - base.dedup_retakes} retake: the crashed claim's lease expired and the "
                f"restarted consumer took the event over; Lost {audit.lost - base.lost}, "
                f"Duplicates {audit.duplicates - base.duplicates}."
            )
        if step.semantic in (Semantic.AT_LEAST_ONCE, Semantic.QUEUE):
            return self._new_offending(audit, "duplicate", audit.duplicates - base.duplicates, (
                "done twice because the crash came after the effect and before the "
                + ("acknowledgement" if step.semantic == Semantic.QUEUE else "commit")
            ))
        if step.semantic == Semantic.AT_MOST_ONCE:
            return self._new_offending(audit, "lost", audit.lost - base.lost,
                                       "never done because the offset was committed before the crash")
        if audit.dedup_hits <= base.dedup_hits:
            return None
        return (
            f"{audit.dedup_hits - base.dedup_hits} dedup hit, Duplicates {audit.duplicates - base.duplicates}: "
            f"the event came back after the crash and {step.semantic} recognised it, so its effect happened once."
        )

    def _new_offending(self, audit: ConsumerAudit, kind: str, grown: int, because: str) -> str | None:
        if grown <= 0:
            return None
        fresh = [o for o in audit.offending if o.kind == kind and o.event_id not in self.progress.seen_ids]
        noun = "duplicate" if kind == "duplicate" else "lost event"
        if not fresh:
            return f"{grown} {noun}{'s' if grown > 1 else ''}: {because}."
        first = fresh[0]
        where = f"partition {first.partition} offset {first.offset}"
        line = f"{grown} {noun}{'s' if grown > 1 else ''}: event {first.event_id}, {where}, {because}."
        why = next((r for r in audit.redeliveries if r.event_id == first.event_id and r.because), None)
        if why is not None:
            line += f" The lab's record: after {why.because}."
        if audit.is_queue and audit.delivery_counts:
            counts = ", ".join(f"{count}: {n:,}" for count, n in audit.delivery_counts.items())
            line += f" Delivery counts {{{counts}}}."
        return line

    def _replay_outcome(self, audit: ConsumerAudit) -> None:
        progress, base = self.progress, self.progress.baseline
        assert base is not None and progress.replayed is not None
        counter = "dedup_hits" if self.step.semantic == Semantic.IDEMPOTENT else "duplicates"
        grown = getattr(audit, counter) - getattr(base, counter)
        if grown < progress.replayed:
            return
        said = f"the dry run announced {progress.dry_run:,}, " if progress.dry_run is not None else ""
        label = "Dedup hits" if counter == "dedup_hits" else "Duplicates"
        progress.phase = DONE
        progress.outcome = (
            f"{said}the replay redelivered {progress.replayed:,} (the producer kept going while the consumer "
            f"stopped); {label} +{grown:,}, Duplicates {audit.duplicates - base.duplicates:,}, "
            f"Lost {audit.lost - base.lost}."
        )

    def view(self) -> LessonView:
        """What the panel shows now."""
        step, progress = self.step, self.progress
        waiting = {
            READY: f"do it: {step.by_hand}" + (" — or press Enter" if self.next_action() else ""),
            ARMED: f"armed at {step.point}: it crashes on its next message",
            CRASHED: "it is DEAD: press R (or Enter) to restart it",
            RESTARTED: f"running again — watch: {step.watch}",
            WAITING: f"replayed — watch: {step.watch}",
            DONE: "done: n for the next step",
        }[progress.phase]
        return LessonView(
            number=self.index + 1, total=len(self.steps), title=step.title, semantic=step.semantic,
            claim=step.claim, watch=step.watch, now=waiting, outcome=progress.outcome, phase=progress.phase,
        )


@dataclass(frozen=True)
class LessonView:
    """The panel's content: plain data, so the screen only lays it out."""

    number: int
    total: int
    title: str
    semantic: str
    claim: str
    watch: str
    now: str
    outcome: str | None
    phase: str
