"""The story plot (demo --headless --plot): its marks, counted in the SVG, match the audit of a real run.

One real headless run per semantic, each crashed once (a real SIGKILL) at the point that tells its
story, the queue also fed one poison event; the SVG is parsed and each kind's marks (one ``gid``'d
group per kind and lane) are counted against the audit's figures returned by the same run.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from deliverytui.model.story_plot import (
    ARCHIVED,
    CRASH,
    DEDUP_HIT,
    DUPLICATE_MARK,
    EFFECT,
    LOST_MARK,
    MARK_KINDS,
    RETAKE,
)
from tests.helpers import run_crash_case

EVENTS = 40
SVG = "{http://www.w3.org/2000/svg}"
STORIES = {
    # semantic: (crash point, the kind of mark that crash must leave, extra headless arguments)
    "at-most-once": ("after-commit", LOST_MARK, {}),
    "at-least-once": ("after-effect", DUPLICATE_MARK, {}),
    "idempotent": ("after-claim", RETAKE, {}),
    "upsert": ("after-effect", DEDUP_HIT, {}),
    "state-check": ("after-effect", DEDUP_HIT, {}),
    "exactly-once": ("mid-transaction", CRASH, {}),
    "queue": ("after-effect", ARCHIVED, {"poison": 1}),
}


def marks_in_svg(path: Path, semantic: str) -> dict[str, int]:
    """How many markers each kind's group (``gid`` ``<kind>:<semantic>``) holds in the SVG."""
    root = ElementTree.parse(path).getroot()
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    return {kind: sum(1 for _ in groups[f"{kind}:{semantic}"].iter(f"{SVG}use")) for kind in MARK_KINDS}


def test_every_semantics_plot_draws_the_audits_figures(bootstrap: str, tmp_path: Path, unique: str) -> None:
    def one(semantic: str) -> tuple[str, dict[str, Any]]:
        point, _kind, extra = STORIES[semantic]
        result = run_crash_case(
            bootstrap, semantic, point, tmp_path / semantic, f"{unique}-plot-", f"plot-{unique}-{semantic}",
            events=EVENTS, crashes=1, plot=tmp_path / f"{semantic}.svg", **extra,
        )  # fmt: skip
        return semantic, result

    with ThreadPoolExecutor(3) as pool:
        results = dict(pool.map(one, STORIES))
    for semantic, result in results.items():
        case = f"{semantic}: {result}"
        plot = Path(result["plot"])
        drawn = marks_in_svg(plot, semantic)
        assert drawn == {
            EFFECT: result["unique_effects"],
            DUPLICATE_MARK: result["duplicates"],
            LOST_MARK: result["lost"],
            DEDUP_HIT: result["dedup_hits"],
            RETAKE: result["dedup_retakes"],
            ARCHIVED: result["archived"],
            CRASH: result["crashes"],
        }, case
        # The crash told its story: the mark it must leave is there (not a plot of nothing).
        assert result["crashes"] == 1, case
        assert drawn[STORIES[semantic][1]] >= 1, case
        # The caption states the same audit, as text (searchable on a slide).
        text = plot.read_text()
        assert f"{result['effects']} effects ({result['unique_effects']} unique), {result['duplicates']} duplicate(s)" in text, case
        assert f"{result['lost']} lost" in text, case


def test_plot_needs_an_svg_file_in_an_existing_directory(tmp_path: Path) -> None:
    import subprocess
    import sys

    cases = (
        (["--headless", "--semantic", "at-least-once", "--plot", str(tmp_path / "story.png")], "ending in .svg"),
        (["--headless", "--semantic", "at-least-once", "--plot", str(tmp_path / "no-such-dir" / "story.svg")], "does not exist"),
        (["--plot", str(tmp_path / "story.svg")], "in the lab, t draws"),  # the lab: its key, not an option
    )
    for arguments, says in cases:
        run = subprocess.run(
            [sys.executable, "-m", "deliverytui", "demo", *arguments], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 2, run.stderr
        assert says in run.stderr and "Traceback" not in run.stderr, run.stderr


@pytest.mark.parametrize("kind", MARK_KINDS)
def test_no_two_kinds_share_a_colour_or_a_shape(kind: str) -> None:
    from deliverytui.demo.story_plot_svg import STYLES

    colour, marker, _size, _text = STYLES[kind]
    others = [style for other, style in STYLES.items() if other != kind]
    assert colour not in [c for c, _m, _s, _t in others]
    assert marker not in [m for _c, m, _s, _t in others]


def test_matplotlib_loads_only_when_a_plot_is_drawn() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from deliverytui.cli import build_parser\n"
        "build_parser().parse_args(['demo', '--headless', '--semantic', 'queue', '--plot', 'x.svg'])\n"
        "import deliverytui.demo.headless, deliverytui.demo.story_plot_svg, deliverytui.tui.demo_app\n"
        "print('LOADED:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "LOADED:", run.stdout
