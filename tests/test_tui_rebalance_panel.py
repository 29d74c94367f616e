"""The KIP-848 panel's marks and its handling of hostile names, rendered in a real (tiny) Textual app.

No broker: the transient states a real group passes through too fast to catch every time (a partition
revoked by its old owner and not yet taken by its new one) are built here from the helper's answer format.
"""

from __future__ import annotations

from textual.app import App, ComposeResult

from deliverytui.model.rebalance import ConsumerGroupEpochs
from deliverytui.tui.widgets.rebalance_panel import LEGEND, REVOKING_MARK, UNOWNED_MARK, RebalancePanel


def tps(*numbers: int, topic: str = "orders") -> list[dict[str, object]]:
    return [{"topic": topic, "partition": n} for n in numbers]


def member(name: str, epoch: int, current: list, target: list) -> dict[str, object]:
    return {"member_id": f"id-{name}", "client_id": name, "host": "/10.0.0.7", "member_epoch": epoch,
            "assignment": current, "target_assignment": target}


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RebalancePanel()


async def shown(epochs: ConsumerGroupEpochs) -> str:
    app = PanelApp()
    async with app.run_test(size=(60, 30)) as pilot:
        panel = app.query_one(RebalancePanel)
        panel.show_epochs(epochs)
        await pilot.pause()
        return panel.shown_text


async def test_a_partition_revoked_but_not_yet_taken_is_marked_unowned_on_its_next_owner() -> None:
    epochs = ConsumerGroupEpochs.from_json({
        "group": "g", "type": "consumer", "state": "Reconciling", "group_epoch": 5, "target_assignment_epoch": 5,
        "members": [member("a", 5, tps(0, 1, 2), tps(0, 1, 2)), member("b", 5, tps(3), tps(3, 4, 5))],
    })
    text = await shown(epochs)
    assert "group epoch 5 · target epoch 5\nrebalancing (Reconciling)" in text
    b_block = text[text.index("b@"):]
    assert "now    orders:3\n" in b_block and "target orders:3-5\n" in b_block
    assert f"{UNOWNED_MARK} orders:4-5" in b_block and REVOKING_MARK + " orders" not in text
    assert text.endswith(LEGEND)


async def test_a_settled_group_shows_target_equal_to_now_and_no_marks() -> None:
    epochs = ConsumerGroupEpochs.from_json({
        "group": "g", "type": "consumer", "state": "Stable", "group_epoch": 7, "target_assignment_epoch": 7,
        "members": [member("a", 7, tps(0, 1, 2, 5), tps(0, 1, 2, 5))],
    })
    text = await shown(epochs)
    assert "settled (Stable)" in text and "a@/10.0.0.7 epoch 7" in text
    assert "now    orders:0-2,5\n  target = now" in text
    assert f"{UNOWNED_MARK} orders" not in text and f"{REVOKING_MARK} orders" not in text


async def test_a_member_still_on_the_classic_protocol_is_tagged() -> None:
    """During an online upgrade a consumer group may hold classic-protocol members (``upgraded`` false)."""
    old = member("old", 3, tps(0), tps(0)) | {"upgraded": False}
    new = member("new", 3, tps(1), tps(1)) | {"upgraded": True}
    epochs = ConsumerGroupEpochs.from_json({
        "group": "g", "type": "consumer", "state": "Stable", "group_epoch": 3, "target_assignment_epoch": 3,
        "members": [old, new],
    })
    text = await shown(epochs)
    assert "old@/10.0.0.7 epoch 3 classic\n" in text and "new@/10.0.0.7 epoch 3\n" in text


async def test_hostile_client_ids_and_topics_reach_the_screen_escaped() -> None:
    """Client ids and topic names are chosen by others: no escape sequence may reach the terminal."""
    epochs = ConsumerGroupEpochs.from_json({
        "group": "g", "type": "consumer", "state": "Stable", "group_epoch": 1, "target_assignment_epoch": 1,
        "members": [member("evil\x1b]0;pwned\x07", 1, tps(0, topic="t\x1b[2J"), tps(0, topic="t\x1b[2J"))],
    })
    text = await shown(epochs)
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b]0;pwned\\x07@" in text  # shown, escaped: the reader sees what the id really is
    assert "now    t\\x1b[2J:0" in text
