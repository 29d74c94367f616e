"""The lab's ``t`` on real consumers: the story plot it delivers draws the lab's own audit.

Two consumers crash at the point that tells their story (at-least-once: a duplicate; upsert: a
dedup hit), the producer is stopped so the audit settles, and the SVG written by ``t`` into the
working directory is parsed: each lane's marks count what the lab's audit says.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deliverytui.demo.lab import Lab
from deliverytui.model.story_plot import CRASH, DEDUP_HIT, DUPLICATE_MARK, EFFECT, LOST_MARK
from deliverytui.tui.demo_app import DemoLabScreen, demo_app
from tests.lab_helpers import audit_of, crash_and_restart, lab_settings, settle
from tests.test_story_plot import marks_in_svg
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka
SEMANTICS = ("at-least-once", "upsert")


async def test_t_plots_the_labs_audit(bootstrap: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lab = Lab(lab_settings(bootstrap, tmp_path / "state", unique, semantics=SEMANTICS)).open()
    try:
        app = demo_app(lab)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="lab screen")
            await wait_until(
                pilot, lambda: all((audit_of(app, s) or 0) and audit_of(app, s).unique_effects >= 5 for s in SEMANTICS),
                timeout=60, what="effects",
            )  # fmt: skip
            for semantic in SEMANTICS:
                await crash_and_restart(pilot, app, semantic, "after-effect")
            await wait_until(pilot, lambda: audit_of(app, "at-least-once").duplicates >= 1, timeout=60, what="the duplicate")
            await wait_until(pilot, lambda: audit_of(app, "upsert").dedup_hits >= 1, timeout=60, what="the dedup hit")
            await asyncio.to_thread(lab.producer.stop)  # nothing new: the audit settles on every event
            await wait_until(
                pilot, lambda: all(audit_of(app, s).processed == app.lab_update.audit.produced for s in SEMANTICS),
                timeout=60, what="every event processed",
            )  # fmt: skip
            await settle(pilot, app)
            audits = {s: audit_of(app, s) for s in SEMANTICS}
            await pilot.press("t")
            await wait_until(pilot, lambda: list(tmp_path.glob("deliverytui-story-*.svg")), timeout=60, what="the plot")
            assert {s: audit_of(app, s) for s in SEMANTICS} == audits  # the figures did not move meanwhile
    finally:
        lab.close()
    (plot,) = tmp_path.glob("deliverytui-story-*.svg")
    for semantic, audit in audits.items():
        drawn = marks_in_svg(plot, semantic)
        assert drawn[EFFECT] == audit.unique_effects, (semantic, drawn, audit)
        assert drawn[DUPLICATE_MARK] == audit.duplicates
        assert drawn[LOST_MARK] == audit.lost == 0
        assert drawn[DEDUP_HIT] == audit.dedup_hits
        assert drawn[CRASH] == audit.crashes == 1
    assert marks_in_svg(plot, "at-least-once")[DUPLICATE_MARK] >= 1
    assert marks_in_svg(plot, "upsert")[DEDUP_HIT] >= 1
