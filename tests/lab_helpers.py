"""Helpers for tests that drive the lab's real screen (Pilot) with real consumer processes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual.widgets import DataTable

from deliverytui.demo import processes
from deliverytui.demo.lab import Lab, LabSettings
from deliverytui.model.demo import ConsumerAudit
from deliverytui.tui.demo_app import DemoApp, DemoLabScreen
from deliverytui.tui.screens.lab_dialogs import CrashPointScreen
from tests.tui_helpers import wait_until


def lab_settings(bootstrap: str, state_dir: Path, unique: str, **overrides: object) -> LabSettings:
    """A lab on the test broker with its own topic and group names (tests never share them)."""
    values: dict[str, object] = {
        "state_dir": state_dir, "bootstrap": bootstrap, "topic": f"task-events-{unique}",
        "group_prefix": f"{unique}-", "rate": 20.0, "stop_timeout": 20.0,
    }
    values.update(overrides)
    return LabSettings(**values)  # type: ignore[arg-type]


def audit_of(app: DemoApp, semantic: str) -> ConsumerAudit | None:
    return app.lab_update.audit_of(semantic) if app.lab_update is not None else None


@dataclass(frozen=True)
class Figures:
    """What the lab table says about one consumer: the numbers a presenter reads out."""

    duplicates: int
    lost: int
    unexpected: int
    dedup_hits: int
    retakes: int
    crashes: int

    @classmethod
    def of(cls, app: DemoApp, semantic: str) -> Figures:
        table = app.lab_screen.query_one("#lab-table", DataTable)

        def number(column: str) -> int:
            value = table.get_cell(semantic, column)
            return int(getattr(value, "plain", str(value)).replace(",", ""))

        return cls(
            number("duplicates"), number("lost"), number("unexpected"),
            number("dedup_hits"), number("retakes"), number("crashes"),
        )


def state_cell(app: DemoApp, semantic: str) -> str:
    table = app.lab_screen.query_one("#lab-table", DataTable)
    if semantic not in table.rows:
        return ""
    value = table.get_cell(semantic, "state")
    return getattr(value, "plain", str(value))


async def select(pilot, app: DemoApp, semantic: str) -> None:
    table = app.lab_screen.query_one("#lab-table", DataTable)
    table.move_cursor(row=list(table.rows).index(semantic))
    await pilot.pause(0.1)


async def crash_and_restart(pilot, app: DemoApp, semantic: str, point: str) -> None:
    """``c`` → the crash point → Enter; wait for DEAD; ``R``; wait until it runs again."""
    await select(pilot, app, semantic)
    await pilot.press("c")
    await wait_until(pilot, lambda: isinstance(app.screen, CrashPointScreen), what="crash menu")
    menu = app.screen
    menu.query_one("#points").highlighted = list(menu.points).index(point)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="back to the lab")
    await wait_until(pilot, lambda: "DEAD" in state_cell(app, semantic), timeout=60, what=f"{semantic} crash at {point}")
    await pilot.press("R")
    await wait_until(pilot, lambda: state_cell(app, semantic).startswith("running"), timeout=60, what=f"{semantic} restart")


async def settle(pilot, app: DemoApp, seconds: float = 3.0) -> None:
    """Let a few more lab polls happen (a figure that must stay put has had time to move)."""
    polls = app.lab_polls
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or app.lab_polls < polls + 2:
        await pilot.pause(0.2)


def consumers_of(state_dir: Path) -> list[int]:
    """Pids of every live consumer process of ``state_dir`` (read from /proc)."""
    return [p.pid for p in processes.leftovers(state_dir)]


def open_lab(settings: LabSettings) -> Lab:
    return Lab(settings).open()
