"""What a story plot costs to draw: seconds and SVG size for seven lanes of N events each.

The lanes are built in memory (the pure model, deliverytui.model.story_plot): this measures the
drawing (matplotlib's SVG canvas), not the ledger reads, which are one indexed query per lane. Each
lane has one crash, one duplicate, one lost event and one dedup hit, like a lab story; above
``VECTOR_EFFECTS_MAX`` effects a lane's dots are one embedded image, so the file stops growing with N.

    python benchmarks/story_plot.py [--events 100 1000 1001 2000 10000 50000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.demo.semantics import SEMANTICS  # noqa: E402
from deliverytui.demo.story_plot_svg import VECTOR_EFFECTS_MAX, render_story_svg  # noqa: E402
from deliverytui.model.story_plot import (  # noqa: E402
    CRASH,
    DEDUP_HIT,
    DUPLICATE_MARK,
    EFFECT,
    LOST_MARK,
    LaneFigures,
    PlotMark,
    StoryLane,
    StoryPlot,
)

PARTITIONS = 3


def lane(semantic: str, events: int) -> StoryLane:
    per = max(1, events // PARTITIONS)
    marks = [PlotMark(EFFECT, n % PARTITIONS, n // PARTITIONS) for n in range(events)]
    middle = per // 2
    marks += [
        PlotMark(DUPLICATE_MARK, 0, middle, stack=1), PlotMark(LOST_MARK, 1, middle),
        PlotMark(DEDUP_HIT, 2, middle, stack=1), PlotMark(CRASH, 0, middle, label="after-effect"),
    ]  # fmt: skip
    figures = LaneFigures(events, events + 1, events, 1, 1, 1, 0, 0, 1, 1)
    return StoryLane(semantic, f"bench-{semantic}", tuple(range(PARTITIONS)), 0, per, tuple(marks), figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100, 1000, 1001, 2000, 10000, 50000])
    args = parser.parse_args()
    started = time.perf_counter()
    import matplotlib  # noqa: F401 - its import is timed apart from the drawing

    print(f"matplotlib import: {time.perf_counter() - started:.2f} s (paid once, on the first plot only)")
    print(f"vector effects up to {VECTOR_EFFECTS_MAX:,} per lane; 7 lanes each")
    print(f"{'events/lane':>12} {'draw s':>8} {'SVG KB':>9} {'KB per 1k events':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        for events in args.events:
            plot = StoryPlot("bench-events", tuple(lane(str(name), events) for name in SEMANTICS))
            path = Path(tmp) / f"{events}.svg"
            started = time.perf_counter()
            render_story_svg(plot, path)
            seconds = time.perf_counter() - started
            size = path.stat().st_size / 1024
            print(f"{events:>12,} {seconds:>8.2f} {size:>9,.0f} {size / (7 * events / 1000):>17,.1f}")


if __name__ == "__main__":
    main()
