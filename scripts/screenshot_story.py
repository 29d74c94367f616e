"""Regenerate screenshots/story.svg (the story plot, the lab's ``t``) and screenshots/lab-colorblind-dark.svg
(a slide, ``S``, in the colour-blind theme) from a real lab run with one crash per semantic.

Runs the lab on its own topic and group prefix (a presenter's lab on the same broker is left alone),
drives its screen with Pilot: each consumer crashed once at the point that tells its story and
restarted, one poison event for the queue, then the producer stopped so the audit settles on
every event before ``t``.

    python scripts/screenshot_story.py [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.broker.embedded import EmbeddedBroker  # noqa: E402
from deliverytui.broker.paths import default_data_dir  # noqa: E402
from deliverytui.demo.lab import Lab, LabSettings  # noqa: E402
from deliverytui.tui.demo_app import DemoLabScreen, demo_app  # noqa: E402
from deliverytui.tui.screens.lab_dialogs import CrashPointScreen  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STORIES = {
    "at-most-once": "after-commit", "at-least-once": "after-effect", "idempotent": "after-claim",
    "upsert": "after-effect", "state-check": "after-effect", "exactly-once": "mid-transaction", "queue": "after-effect",
}


async def until(pilot, predicate, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.2)


def state(app, semantic: str) -> str:
    table = app.lab_screen.query_one("#lab-table")
    return table.get_cell(semantic, "state").plain if semantic in table.rows else ""


async def shoot(lab: Lab, scratch: Path) -> None:
    app = demo_app(lab)
    audit = lambda name: app.lab_update.audit_of(name) if app.lab_update else None  # noqa: E731
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DemoLabScreen), "the lab screen")
        await until(pilot, lambda: all(audit(s) and audit(s).unique_effects >= 20 for s in STORIES), "20 effects each")
        table = app.lab_screen.query_one("#lab-table")
        for semantic, point in STORIES.items():
            table.move_cursor(row=list(table.rows).index(semantic))
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, CrashPointScreen), "the crash menu")
            app.screen.query_one("#points").highlighted = list(app.screen.points).index(point)
            await pilot.press("enter")
            await until(pilot, lambda s=semantic: "DEAD" in state(app, s), f"{semantic} to crash")
            await pilot.press("R")
            await until(pilot, lambda s=semantic: state(app, s).startswith("running"), f"{semantic} to run again")
        await pilot.press("P")
        await until(pilot, lambda: audit("queue").archived == 1, "the poison event archived", timeout=120)
        await asyncio.to_thread(lab.producer.stop)
        await until(pilot, lambda: all(audit(s).processed >= app.lab_update.audit.produced for s in STORIES if s != "queue"), "every event processed")
        polls = app.lab_polls
        await until(pilot, lambda: app.lab_polls >= polls + 3, "three more audits")
        await pilot.press("t")
        await until(pilot, lambda: list(scratch.glob("deliverytui-story-*.svg")), "the story plot")
        app.theme = "colorblind-dark"
        await pilot.pause(3)
        await pilot.press("S")
        await until(pilot, lambda: list(scratch.glob("deliverytui-demolabscreen-*.svg")), "the slide")
    (plot,) = scratch.glob("deliverytui-story-*.svg")
    (slide,) = scratch.glob("deliverytui-demolabscreen-*.svg")
    shutil.copy(plot, ROOT / "screenshots" / "story.svg")
    shutil.copy(slide, ROOT / "screenshots" / "lab-colorblind-dark.svg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing cluster (default: start or reuse the embedded broker)")
    args = parser.parse_args()
    bootstrap = args.bootstrap or EmbeddedBroker(default_data_dir()).start(progress=print)[0].bootstrap
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="deliverytui-story-") as tmp:
        scratch = Path(tmp)
        lab = Lab(LabSettings(
            state_dir=scratch / "state", bootstrap=bootstrap, topic=f"story-events-{tag}", group_prefix=f"story-{tag}-",
            rate=2.0,
        )).open(progress=print)  # fmt: skip
        os.chdir(scratch)  # t and S deliver into the working directory
        try:
            asyncio.run(shoot(lab, scratch))
        finally:
            lab.close()
            os.chdir(ROOT)
    print("wrote screenshots/story.svg and screenshots/lab-colorblind-dark.svg")


if __name__ == "__main__":
    main()
