"""The presenter's journey (shared/JOURNEYS.md §1), walked on the real lab screen, twice.

Real broker, six real consumer processes, the real app driven by Pilot. After every step the
test reads what the presenter would read: the lab table's figures, the "why" lines, the event
log. Then ``q``, a new lab on the same state: the same figures, and no process of the old lab.
The second walk starts from the first one's figures, so every step is checked as a difference.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import DataTable

from deliverytui.demo.lab import Lab
from deliverytui.tui.demo_app import DemoLabScreen, demo_app
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.screens.lab_dialogs import ReplayScreen
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.lab_helpers import (
    Figures,
    audit_of,
    consumers_of,
    crash_and_restart,
    lab_settings,
    select,
    settle,
    state_cell,
)
from tests.tui_helpers import cell, shown, wait_until

pytestmark = pytest.mark.kafka

SEMANTICS = ("at-most-once", "at-least-once", "idempotent", "upsert", "state-check", "exactly-once")


def all_figures(app) -> dict[str, Figures]:
    return {name: Figures.of(app, name) for name in SEMANTICS}


async def wait_for_figure(pilot, app, semantic: str, field: str, value: int, timeout: float = 60) -> None:
    await wait_until(
        pilot, lambda: getattr(Figures.of(app, semantic), field) >= value, timeout=timeout,
        what=f"{semantic} {field} to reach {value} (now {getattr(Figures.of(app, semantic), field)})",
    )


async def replay_to_earliest(pilot, app, semantic: str) -> tuple[int, int]:
    """``o`` → dry run → Replay; (the dry run's redelivered count, the count the replay applied)."""
    await select(pilot, app, semantic)
    await pilot.press("o")
    await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), what="replay dialog")
    dialog = app.screen
    await pilot.click("#replay-dry-run")
    await wait_until(pilot, lambda: dialog.plan is not None, timeout=30, what="dry run")
    dry = dialog.plan.total_redelivered
    assert dry > 0 and "will be redelivered" in str(dialog.query_one("#replay-summary").render())
    await pilot.click("#replay-execute")
    events = app.lab_screen.query_one("#lab-events")
    seen = len(events.entries)
    await wait_until(
        pilot, lambda: any(f"replayed {semantic}:" in e for e in events.entries[seen:]), timeout=90, what="replay done"
    )
    assert isinstance(app.screen, DemoLabScreen)
    line = next(e for e in reversed(events.entries) if f"replayed {semantic}:" in e)
    applied = int(line.split(":")[-1].split()[0])
    assert applied >= dry  # the producer kept going while the consumer stopped
    return dry, applied


async def walk(app, pilot, state_dir: Path) -> dict[str, Figures]:
    """Steps 1–8 of the presenter's journey; returns the figures just before ``q``."""
    await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="lab screen")
    await wait_until(
        pilot,
        lambda: all(state_cell(app, n).startswith("running") for n in SEMANTICS)
        and all((audit_of(app, n) or 0) and audit_of(app, n).unique_effects >= 3 for n in SEMANTICS),
        timeout=120, what="six consumers running with effects",
    )
    start = all_figures(app)
    for name in SEMANTICS:  # 1. nothing lost, duplicated or unexpected without a crash (or since the last walk)
        assert start[name].unexpected == 0, name
    shown_keys = {key for key, b in app.lab_screen.active_bindings.items() if b.enabled and b.binding.show}
    assert {"k", "c", "R", "o", "w", "q"} <= shown_keys and not {"r", "x", "g", "p"} & shown_keys, shown_keys

    # 2. at-least-once, crash after the effect: exactly one duplicate, explained.
    await crash_and_restart(pilot, app, "at-least-once", "after-effect")
    await wait_for_figure(pilot, app, "at-least-once", "duplicates", start["at-least-once"].duplicates + 1)
    await settle(pilot, app)
    alo = Figures.of(app, "at-least-once")
    assert alo.duplicates == start["at-least-once"].duplicates + 1 and alo.lost == 0
    audit = audit_of(app, "at-least-once")
    assert any(o.kind == "duplicate" and o.partition is not None and o.offset is not None for o in audit.offending)
    assert any("a crash at after-effect" in r.explain() for r in audit.redeliveries), [r.explain() for r in audit.redeliveries]
    offending = str(app.lab_screen.query_one("#offending").render())
    assert "why" in offending and "duplicate" in offending

    # 3. at-most-once, crash after the commit: exactly one loss.
    await crash_and_restart(pilot, app, "at-most-once", "after-commit")
    await wait_for_figure(pilot, app, "at-most-once", "lost", start["at-most-once"].lost + 1)
    await settle(pilot, app)
    amo = Figures.of(app, "at-most-once")
    assert amo.lost == start["at-most-once"].lost + 1 and amo.duplicates == 0

    # 4. idempotent: after the effect, a dedup hit and no duplicate; after the claim, a retake.
    before = Figures.of(app, "idempotent")
    await crash_and_restart(pilot, app, "idempotent", "after-effect")
    await wait_for_figure(pilot, app, "idempotent", "dedup_hits", before.dedup_hits + 1)
    await crash_and_restart(pilot, app, "idempotent", "after-claim")
    await wait_for_figure(pilot, app, "idempotent", "retakes", before.retakes + 1, timeout=90)
    await settle(pilot, app)
    idem = Figures.of(app, "idempotent")
    assert (idem.duplicates, idem.lost) == (0, 0)
    assert idem.dedup_hits == before.dedup_hits + 1 and idem.retakes == before.retakes + 1

    # 5. upsert and state-check, after the effect: a hit each, never a duplicate.
    for name in ("upsert", "state-check"):
        before = Figures.of(app, name)
        await crash_and_restart(pilot, app, name, "after-effect")
        await wait_for_figure(pilot, app, name, "dedup_hits", before.dedup_hits + 1)
        await settle(pilot, app)
        after = Figures.of(app, name)
        assert (after.duplicates, after.lost, after.dedup_hits) == (0, 0, before.dedup_hits + 1), name

    # 6. exactly-once, crash mid-transaction: nothing lost, nothing duplicated.
    before = Figures.of(app, "exactly-once")
    await crash_and_restart(pilot, app, "exactly-once", "mid-transaction")
    restarted_at = audit_of(app, "exactly-once").unique_effects
    await wait_until(
        pilot, lambda: audit_of(app, "exactly-once").unique_effects >= restarted_at + 10,
        timeout=90, what="exactly-once making progress after the crash",
    )
    await settle(pilot, app, 5.0)
    eos = Figures.of(app, "exactly-once")
    assert (eos.duplicates, eos.lost, eos.unexpected) == (0, 0, 0) and eos.crashes == before.crashes + 1

    # 7. replay to earliest: at-least-once duplicates grow by the replayed count; idempotent's hits do.
    before = Figures.of(app, "at-least-once")
    _dry, applied = await replay_to_earliest(pilot, app, "at-least-once")
    await wait_for_figure(pilot, app, "at-least-once", "duplicates", before.duplicates + applied, timeout=90)
    await settle(pilot, app)
    assert Figures.of(app, "at-least-once").duplicates == before.duplicates + applied
    replayed = audit_of(app, "at-least-once")
    assert any("a replay" in r.explain() for r in replayed.redeliveries)
    before = Figures.of(app, "idempotent")
    _dry, applied = await replay_to_earliest(pilot, app, "idempotent")
    await wait_for_figure(pilot, app, "idempotent", "dedup_hits", before.dedup_hits + applied, timeout=90)
    await settle(pilot, app)
    idem = Figures.of(app, "idempotent")
    assert idem.dedup_hits == before.dedup_hits + applied and idem.duplicates == 0 and idem.lost == 0

    # 8a. b widens at-least-once's commit window; in its live view the position runs ahead (yellow).
    await select(pilot, app, "at-least-once")
    await pilot.press("b")
    await wait_until(pilot, lambda: "(commit/20)" in state_cell(app, "at-least-once"), timeout=60, what="commit window")
    await wait_until(pilot, lambda: state_cell(app, "at-least-once").startswith("running"), timeout=60, what="restarted")
    await pilot.press("w")
    await wait_until(pilot, lambda: app.group.endswith("notification-service") and not app.lab_in_front(), what="its view")

    def ahead_in_yellow() -> bool:
        for key in shown(app):
            position = app.query_one(PartitionsTable).get_cell(key, "position")
            if "yellow" in position.style and position.plain.strip() not in ("", "-"):
                return True
        return False

    await wait_until(pilot, ahead_in_yellow, timeout=60, what="a position ahead of committed, in yellow")
    await pilot.press("d")
    await wait_until(pilot, lambda: app.lab_in_front(), what="back to the lab")
    await select(pilot, app, "at-least-once")
    await pilot.press("b")  # per message again, as the next walk expects
    await wait_until(pilot, lambda: "(commit/" not in state_cell(app, "at-least-once"), timeout=60, what="window closed")

    # 8. w: the group live, position against committed, the lab's own dedup store; d: the lab, refreshing.
    await select(pilot, app, "idempotent")
    await pilot.press("w")
    await wait_until(pilot, lambda: not app.lab_in_front() and app.group.endswith("idempotent-notifier"), what="live view")
    await wait_until(pilot, lambda: app.update is not None and app.update.positions, timeout=30, what="positions")
    await wait_until(
        pilot, lambda: any((cell(app, key, "position") or "").strip() not in ("", "-") for key in shown(app)),
        timeout=30, what="a position in the Position column",
    )
    await wait_until(pilot, lambda: "hits" in str(app.query_one("#dedup").render()), timeout=30, what="dedup panel")
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="live help")
    await pilot.press("escape")
    await pilot.press("d")
    await wait_until(pilot, lambda: app.lab_in_front(), what="back to the lab")
    polls, produced = app.lab_polls, app.lab_update.produced
    await wait_until(pilot, lambda: app.lab_polls >= polls + 2 and app.lab_update.produced > produced, what="lab refreshing")
    header = str(app.lab_screen.query_one("#lab-header").render())
    assert f"{app.lab_update.produced:,}" in header
    assert app.lab_screen.query_one("#lab-table", DataTable).row_count == len(SEMANTICS) + 1  # and the queue (step 9 elsewhere)
    await pilot.press("question_mark")  # the lab's own help, and Esc closes it
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="lab help")
    help_keys = dict(app.screen.keys)
    assert "kill the selected consumer" in help_keys["k"] and "r" not in help_keys and "x" not in help_keys
    assert "poison" in help_keys["P"] and "ignore" in help_keys["P"]  # the queue's lesson, and the others ignore it
    legend = dict(app.screen.legend)  # each Jepsen class explained in one line
    assert all(name in legend and "\n" not in legend[name] for name in ("nonmonotonic-poll", "poll-skip", "G1a", "inconsistent-offsets"))
    await pilot.press("escape")
    await wait_until(pilot, lambda: isinstance(app.screen, DemoLabScreen), what="help closed")
    assert not app.check_action("reset_offsets", ())  # the live view's writes are not the lab's keys
    # Jepsen's classes read 0 through every crash, kill, replay and restart of the walk, and the panel says so.
    for name in (*SEMANTICS, "queue"):  # the queue's workers, untouched by the walk, ran through it all
        audit = audit_of(app, name)
        assert audit is not None and audit.anomalies.total == 0, (name, audit and audit.anomalies)
    assert app.lab_update.audit.anomalies.total == 0, app.lab_update.audit.anomalies
    assert "nonmonotonic-poll 0 · poll-skip 0 · G1a 0 · inconsistent-offsets 0" in str(app.lab_screen.query_one("#offending").render())
    return all_figures(app)


async def run_lab_once(settings, expect: dict[str, Figures] | None) -> dict[str, Figures]:
    lab = Lab(settings).open()
    app = demo_app(lab, refresh_seconds=1.0)
    try:
        async with app.run_test(size=(180, 45)) as pilot:
            await wait_until(pilot, lambda: app.lab_polls >= 2, timeout=60, what="first lab polls")
            if expect is not None:  # 9. the same figures as before the quit
                await wait_until(
                    pilot, lambda: all(state_cell(app, n).startswith("running") for n in SEMANTICS), timeout=90,
                    what="consumers running again",
                )
                await settle(pilot, app)
                again = all_figures(app)
                for name in SEMANTICS:
                    assert again[name] == expect[name], (name, again[name], expect[name])
            figures = await walk(app, pilot, settings.state_dir)
            await pilot.press("q")
    finally:
        lab.close()
    assert consumers_of(settings.state_dir) == [], "a consumer of the lab outlived it"
    return figures


@pytest.mark.timeout(900)
async def test_the_presenter_journey_twice_on_the_same_state(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = lab_settings(bootstrap, tmp_path / "state", unique)
    first = await run_lab_once(settings, expect=None)
    second = await run_lab_once(settings, expect=first)
    assert second["at-least-once"].duplicates > first["at-least-once"].duplicates
    final = Lab(settings).open()  # a third lab: still the same figures after the second quit
    try:
        update = await asyncio.to_thread(final.poll)  # the lab is polled off the event loop, as in the app
        assert update.error is None, update.error
        for name in ("at-least-once", "at-most-once"):
            audit = update.audit_of(name)
            assert (audit.duplicates, audit.lost) == (second[name].duplicates, second[name].lost)
    finally:
        final.close()
    assert consumers_of(settings.state_dir) == []
