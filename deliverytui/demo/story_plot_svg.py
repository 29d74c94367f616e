"""Draw a :class:`~deliverytui.model.story_plot.StoryPlot` as an SVG timeline for a slide (matplotlib).

matplotlib is imported here, lazily, and only its SVG canvas is used: no pyplot, no GUI backend, no
global backend state, and the CLI's start-up never pays for it. Colours are the Okabe–Ito palette
(distinguishable with the common colour-vision deficiencies) and every kind also has its own marker
shape, so the picture survives a grey-scale projector. Each kind's marks on each lane are one
artist with a ``gid`` (``<kind>:<semantic>``), which the SVG keeps as an element id: a test counts them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from deliverytui.demo.ledger import EffectsLedger
from deliverytui.demo.story_plot_data import story_plot
from deliverytui.model.demo import AuditReport
from deliverytui.model.story_plot import (
    ARCHIVED,
    CRASH,
    DEDUP_HIT,
    DUPLICATE_MARK,
    EFFECT,
    LOST_MARK,
    MARK_KINDS,
    RETAKE,
    StoryPlot,
)

STYLES: dict[str, tuple[str, str, float, str]] = {
    # kind: (colour, marker, size in points², legend text)
    EFFECT: ("#999999", "o", 9.0, "effect (each event once)"),
    DUPLICATE_MARK: ("#D55E00", "^", 36.0, "duplicate (an effect done again)"),
    LOST_MARK: ("#000000", "X", 49.0, "lost (committed past, no effect)"),
    DEDUP_HIT: ("#009E73", "s", 30.0, "dedup hit (store caught a repeat)"),
    RETAKE: ("#0072B2", "D", 30.0, "retake (expired lease taken over)"),
    ARCHIVED: ("#CC79A7", "P", 49.0, "archived (queue: poison, given up)"),
    CRASH: ("#E69F00", "*", 160.0, "crash point"),
}
"""Okabe–Ito colours and distinct shapes: no two kinds differ by colour alone."""
STACK_STEP = 0.22
"""How far a repeat of one spot (a second duplicate, the next hit) is lifted within a partition's row."""
VECTOR_EFFECTS_MAX = 1_000
"""Above this many effects on a lane their dots are one embedded image, not one SVG element each: a long
lab story stays a slide-sized file (benchmarks/story_plot.py: 1,000 events on seven lanes draw 0.9 MB
as vectors, 2,000 draw 1.8 MB; as an image ~90 KB at any length). The rarer marks stay vector."""
LIFTS = {RETAKE: STACK_STEP / 2, CRASH: -0.3}
"""Retakes sit between hits; a crash points up at its row from below, never hiding the event lost there."""


def render_story_svg(plot: StoryPlot, path: str | Path) -> Path:
    """Write ``plot`` to ``path`` as SVG and return the path."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    lanes = plot.lanes
    rows = sum(max(1, len(lane.partitions)) for lane in lanes)
    figure = Figure(figsize=(13, 1.6 + 0.55 * rows + 0.9 * len(lanes)), layout="constrained")
    FigureCanvasSVG(figure)
    axes = figure.subplots(max(1, len(lanes)), 1, squeeze=False, sharex=True)[:, 0]
    for ax, lane in zip(axes, lanes):
        partitions = lane.partitions or (0,)
        for kind in MARK_KINDS:
            marks = lane.marks_of(kind)
            colour, marker, size, _text = STYLES[kind]
            xs = [m.offset for m in marks]
            ys = [m.partition + m.stack * STACK_STEP + LIFTS.get(kind, 0.0) for m in marks]
            ax.scatter(
                xs, ys, s=size, c=colour, marker=marker, gid=f"{kind}:{lane.semantic}", zorder=3 if kind != EFFECT else 2,
                edgecolors="black" if kind == CRASH else "face", linewidths=0.6,
                rasterized=kind == EFFECT and len(marks) > VECTOR_EFFECTS_MAX,
            )
        for mark in lane.marks_of(CRASH):
            ax.annotate(mark.label, (mark.offset, mark.partition + LIFTS[CRASH]), xytext=(6, -3), textcoords="offset points", fontsize=7)
        ax.set_yticks(list(partitions), [f"p{p}" for p in partitions], fontsize=7)
        ax.set_ylim(min(partitions) - 0.6, max(partitions) + 0.8)
        ax.set_title(f"{lane.semantic} — {lane.figures.caption()}", loc="left", fontsize=8.5)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel(
        f"offset in {plot.topic} (one row per partition)\nFigures: the lab's audit of its ledger. Dedup hits and retakes "
        "are the store's counters, drawn beside the crash whose redelivery they caught.",
        fontsize=8,
    )
    handles = [
        Line2D([], [], linestyle="none", marker=STYLES[k][1], color=STYLES[k][0], markeredgecolor="black" if k == CRASH else STYLES[k][0],
               markersize=8 if k != EFFECT else 5, label=STYLES[k][3])
        for k in MARK_KINDS
    ]  # fmt: skip
    figure.legend(
        handles=handles, loc="outside upper center", ncols=4, fontsize=8, frameon=False, title=plot.title, title_fontsize=11
    )
    out = Path(path)
    with rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, editable on a slide, read by screen readers
        figure.savefig(out, format="svg", metadata={"Date": None}, dpi=150)
    return out


def story_svg_text(ledger_url: str, report: AuditReport) -> str:
    """The lab's story so far (every consumer of ``report``) as SVG text, read through its own ledger connection
    (the caller is a worker thread; the ledger's connections are not shared between threads)."""
    ledger = EffectsLedger(ledger_url)
    try:
        plot = story_plot(ledger, report)
    finally:
        ledger.close()
    with tempfile.TemporaryDirectory(prefix="deliverytui-plot-") as scratch:
        return render_story_svg(plot, Path(scratch) / "story.svg").read_text(encoding="utf-8")
