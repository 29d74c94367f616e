"""The story plot's data, from the lab's ledger and one audit: which marks go on which consumer's lane.

Why from the ledger and not from the audit alone: the audit keeps counts and at most its id limit of
ids, while a timeline needs every effect at its offset. The audit still decides what counts (its
lost events, its archived events, its store counters), so the picture never tells a different story
from the table; ``tests/test_story_plot.py`` checks that the drawn marks match the audit's figures.

Dedup hits and retakes are counters kept by the idempotency store, not rows with an offset: each is
drawn beside the crash whose redelivery it caught (spread over the crashes in order; at the lane's
last effect when the lane had no crash).
"""

from __future__ import annotations

from collections.abc import Iterable

from deliverytui.demo.ledger import EffectsLedger
from deliverytui.demo.semantics import semantic_spec
from deliverytui.model.demo import LOST, AuditReport, ConsumerAudit
from deliverytui.model.story_plot import (
    ARCHIVED,
    CRASH,
    DEDUP_HIT,
    DUPLICATE_MARK,
    EFFECT,
    LOST_MARK,
    RETAKE,
    LaneFigures,
    PlotMark,
    StoryLane,
    StoryPlot,
)


def story_plot(ledger: EffectsLedger, report: AuditReport, semantics: Iterable[str] | None = None) -> StoryPlot:
    """One lane per consumer of ``report`` (or of ``semantics``, in that order) on ``report.topic``."""
    wanted = list(semantics) if semantics is not None else [a.semantic for a in report.consumers]
    ranges = ledger.acked_offset_range(report.topic)
    lanes = tuple(story_lane(ledger, report.topic, report.for_semantic(name), ranges) for name in wanted)
    return StoryPlot(topic=report.topic, lanes=lanes)


def story_lane(
    ledger: EffectsLedger, topic: str, audit: ConsumerAudit, ranges: dict[int, tuple[int, int]]
) -> StoryLane:
    """The marks of one consumer: every effect (first ones once, repeats as duplicates), its losses,
    archived events and crashes from the audit and the ledger, and the store's hits and retakes.

    In a running lab the ledger has moved on by the time the plot is drawn: only the first ``audit.effects``
    effect rows (by id, the order the audit's running count passed them) and ``audit.crashes`` crashes
    are drawn, so the marks tell the audit's moment, not a second later."""
    table = "outputs" if semantic_spec(audit.semantic).transactional else "effects"
    starts = ledger.stream_starts(audit.group, topic)
    partitions = sorted(set(ranges) | set(starts))
    first = min(starts.values(), default=min((lo for lo, _hi in ranges.values()), default=0))
    last = max((hi for _lo, hi in ranges.values()), default=first)
    home = (partitions[0] if partitions else 0, first)
    marks: list[PlotMark] = []
    seen: dict[str, int] = {}
    timeline: list[tuple[float, int, int]] = []  # (at, partition, offset) of every effect, for the crashes
    for n, (event_id, partition, offset, at) in enumerate(ledger.effect_positions(audit.group, table)):
        if n >= audit.effects:
            break  # the audit counted this consumer's rows in id order: the rest came after it
        spot = (partition, offset) if partition is not None and offset is not None else home
        done = seen.get(event_id, 0)
        seen[event_id] = done + 1
        marks.append(PlotMark(EFFECT if done == 0 else DUPLICATE_MARK, spot[0], spot[1], stack=done, label=event_id))
        timeline.append((at, spot[0], spot[1]))
    lost = [o for o in audit.offending if o.kind == LOST]
    marks += [
        PlotMark(LOST_MARK, o.partition if o.partition is not None else home[0], o.offset if o.offset is not None else home[1], label=o.event_id)
        for o in lost
    ]
    archived_at = ledger.ack_positions([a.event_id for a in audit.archived_events])
    marks += [
        PlotMark(ARCHIVED, *archived_at.get(a.event_id, home), label=a.event_id) for a in audit.archived_events
    ]
    crash_spots = []
    for point, at in ledger.crashes_of(audit.group)[: audit.crashes]:
        before = [(p, o) for t, p, o in timeline if t <= at]
        crash_spots.append(before[-1] if before else home)
        marks.append(PlotMark(CRASH, *crash_spots[-1], label=point))
    marks += _counter_marks(DEDUP_HIT, audit.dedup_hits, crash_spots, timeline, home)
    marks += _counter_marks(RETAKE, audit.dedup_retakes, crash_spots, timeline, home)
    figures = LaneFigures(
        events=audit.produced, effects=audit.effects, unique_effects=audit.unique_effects, duplicates=audit.duplicates,
        lost=audit.lost, dedup_hits=audit.dedup_hits, dedup_retakes=audit.dedup_retakes, archived=audit.archived,
        crashes=audit.crashes, lost_shown=len(lost),
    )  # fmt: skip
    return StoryLane(
        semantic=audit.semantic, group=audit.group, partitions=tuple(partitions), first_offset=first,
        last_offset=last, marks=tuple(marks), figures=figures,
    )  # fmt: skip


def _counter_marks(
    kind: str, count: int, crash_spots: list[tuple[int, int]], timeline: list[tuple[float, int, int]],
    home: tuple[int, int],
) -> list[PlotMark]:
    """``count`` marks of a store counter, spread over the crash spots in order (see the module docstring)."""
    spots = crash_spots or [(timeline[-1][1], timeline[-1][2]) if timeline else home]
    return [
        PlotMark(kind, *spots[n % len(spots)], stack=1 + n // len(spots))
        for n in range(count)
    ]
