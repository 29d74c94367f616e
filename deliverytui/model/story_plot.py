"""What a story plot shows: one lane per demo consumer, its events along offsets, and the marks of the audit.

A pure model (no I/O, no plotting library): :mod:`deliverytui.demo.story_plot_data` builds it from the
lab's ledger and audit, :mod:`deliverytui.demo.story_plot_svg` draws it. Kept apart so that a test can
compare the marks with the audit's figures without reading a picture, and the picture can be
checked against the same marks.
"""

from __future__ import annotations

from dataclasses import dataclass

from deliverytui.model.text import visible

EFFECT = "effect"
"""An event that has an effect: drawn once, whatever how often it was done."""
DUPLICATE_MARK = "duplicate"
"""An effect beyond the first of its event (one mark per extra effect)."""
LOST_MARK = "lost"
DEDUP_HIT = "dedup-hit"
RETAKE = "retake"
ARCHIVED = "archived"
CRASH = "crash"

MARK_KINDS: tuple[str, ...] = (EFFECT, DUPLICATE_MARK, LOST_MARK, DEDUP_HIT, RETAKE, ARCHIVED, CRASH)
"""Every kind of mark, in the legend's order."""


@dataclass(frozen=True, slots=True)
class PlotMark:
    """One mark on a lane: at ``offset`` in ``partition``'s row; ``stack`` lifts repeats of one spot apart."""

    kind: str
    partition: int
    offset: int
    stack: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        # Labels quote crash points and event ids, which come from processes and records.
        object.__setattr__(self, "label", visible(self.label))


@dataclass(frozen=True, slots=True)
class LaneFigures:
    """The audit's figures for one consumer, as the caption states them and the marks must count them."""

    events: int
    effects: int
    unique_effects: int
    duplicates: int
    lost: int
    dedup_hits: int
    dedup_retakes: int
    archived: int
    crashes: int
    lost_shown: int
    """Lost events the audit listed by position (the audit keeps at most its id limit)."""

    def expected_marks(self) -> dict[str, int]:
        """How many marks of each kind the lane must have to match these figures."""
        return {
            EFFECT: self.unique_effects,
            DUPLICATE_MARK: self.duplicates,
            LOST_MARK: self.lost_shown,
            DEDUP_HIT: self.dedup_hits,
            RETAKE: self.dedup_retakes,
            ARCHIVED: self.archived,
            CRASH: self.crashes,
        }

    def caption(self) -> str:
        text = (
            f"{self.events} events, {self.effects} effects ({self.unique_effects} unique), {self.duplicates} duplicate(s), "
            f"{self.lost} lost, {self.dedup_hits} dedup hit(s), {self.dedup_retakes} retake(s), {self.crashes} crash(es)"
        )
        if self.archived:
            text += f", {self.archived} archived"
        if self.lost_shown < self.lost:
            text += f" (first {self.lost_shown} lost drawn)"
        return text


@dataclass(frozen=True, slots=True)
class StoryLane:
    """One consumer's lane: which partitions it read, where it started, its marks and its audit figures."""

    semantic: str
    group: str
    partitions: tuple[int, ...]
    first_offset: int
    last_offset: int
    marks: tuple[PlotMark, ...]
    figures: LaneFigures

    def __post_init__(self) -> None:
        object.__setattr__(self, "group", visible(self.group))

    def marks_of(self, kind: str) -> tuple[PlotMark, ...]:
        return tuple(m for m in self.marks if m.kind == kind)

    def mark_counts(self) -> dict[str, int]:
        return {kind: len(self.marks_of(kind)) for kind in MARK_KINDS}


@dataclass(frozen=True, slots=True)
class StoryPlot:
    """The whole picture: the topic, one lane per consumer, and a title line."""

    topic: str
    lanes: tuple[StoryLane, ...]
    title: str = "What each consumer did with each event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", visible(self.topic))
