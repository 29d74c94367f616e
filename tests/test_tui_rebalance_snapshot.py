"""SVG snapshot of the KIP-848 panel mid-rebalance, on data recorded from a real broker (tests/rebalance_replay.py).

What a person sees: billing-1 behind the target epoch, still owning orders:0-5 with 3-5 pending revocation
(``⇠``), billing-2 at the target epoch owning nothing yet, and the event log's "in progress" line.
Update deliberately with ``pytest tests/test_tui_rebalance_snapshot.py --snapshot-update``.
"""

from __future__ import annotations

import time

import pytest

from tests.rebalance_replay import rebalance_replay_app

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch: pytest.MonkeyPatch):
    """Event-log timestamps are local time: pin the zone so the SVG does not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_kip848_panel_mid_rebalance(snap_compare) -> None:
    app, replay = rebalance_replay_app()

    async def run_before(pilot) -> None:
        for _ in range(600):
            if replay.done:
                break
            await pilot.pause(0.05)
        assert replay.done, f"served {replay.served}, answered {replay.answered}"
        app.query_one("#partitions").move_cursor(row=0, animate=False)
        await pilot.pause(0.3)
        panel = app.rebalance_panel
        assert panel is not None and "⇠ orders:3-5" in panel.shown_text and "rebalancing" in panel.shown_text

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
