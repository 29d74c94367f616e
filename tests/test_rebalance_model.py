"""The KIP-848 rebalance logic without Kafka: pending revocation, unowned partitions, and settle times."""

from __future__ import annotations

from deliverytui.model.group import TopicPartitionId
from deliverytui.model.rebalance import (
    ConsumerGroupEpochs,
    RebalanceSettled,
    RebalanceStarted,
    RebalanceTracker,
)


def tps(*numbers: int, topic: str = "t") -> list[dict[str, object]]:
    return [{"topic": topic, "partition": n} for n in numbers]


def member(name: str, epoch: int | None, current: list, target: list | None) -> dict[str, object]:
    return {"member_id": f"id-{name}", "client_id": name, "host": "/10.0.0.1", "member_epoch": epoch,
            "assignment": current, "target_assignment": target}


def epochs(group_epoch: int, target_epoch: int, *members: dict[str, object], at: float = 0.0) -> ConsumerGroupEpochs:
    return ConsumerGroupEpochs.from_json(
        {"group": "g", "type": "consumer", "state": "Stable", "group_epoch": group_epoch,
         "target_assignment_epoch": target_epoch, "members": list(members)},
        at=at,
    )


def test_a_member_that_owns_more_than_its_target_is_revoking_and_the_difference_is_unowned_by_the_new_owner() -> None:
    view = epochs(3, 3, member("a", 2, tps(0, 1, 2, 3, 4, 5), tps(0, 1, 2)), member("b", 3, [], tps(3, 4, 5)))
    assert not view.settled
    revoking = view.pending_revocation()
    assert sorted(tp.partition for tp in revoking) == [3, 4, 5]
    assert {m.client_id for m in revoking.values()} == {"a"}
    assert view.unowned() == frozenset()  # still owned by a: not unowned, pending revocation
    assert view.member_for(TopicPartitionId("t", 4)).client_id == "b"  # type: ignore[union-attr]


def test_partitions_in_a_target_or_in_the_group_but_in_no_current_assignment_are_unowned() -> None:
    view = epochs(4, 4, member("a", 4, tps(0, 1, 2), tps(0, 1, 2)), member("b", 3, tps(3), tps(3, 4, 5)))
    assert view.unowned() == {TopicPartitionId("t", 4), TopicPartitionId("t", 5)}
    everything = [TopicPartitionId("t", n) for n in range(6)] + [TopicPartitionId("other", 0)]
    assert TopicPartitionId("other", 0) in view.unowned(everything)


def test_settled_means_target_epoch_reached_by_every_member_with_current_equal_to_target() -> None:
    assert epochs(5, 5, member("a", 5, tps(0, 1), tps(0, 1)), member("b", 5, tps(2), tps(2))).settled
    assert not epochs(6, 5, member("a", 5, tps(0, 1), tps(0, 1))).settled  # target not computed yet for epoch 6
    assert not epochs(5, 5, member("a", 4, tps(0, 1), tps(0, 1))).settled  # member epoch behind


def test_the_tracker_reports_how_long_a_rebalance_took_from_its_first_unsettled_snapshot() -> None:
    tracker = RebalanceTracker()
    assert tracker.observe(epochs(2, 2, member("a", 2, tps(0, 1, 2, 3, 4, 5), tps(0, 1, 2, 3, 4, 5)), at=10.0)) == []
    started = tracker.observe(epochs(3, 3, member("a", 2, tps(0, 1, 2, 3, 4, 5), tps(0, 1, 2)),
                                     member("b", 3, [], tps(3, 4, 5)), at=11.0))
    assert started == [RebalanceStarted(3, 2)]
    assert tracker.observe(epochs(3, 3, member("a", 3, tps(0, 1, 2), tps(0, 1, 2)),
                                  member("b", 3, [], tps(3, 4, 5)), at=12.0)) == []
    settled = tracker.observe(epochs(3, 3, member("a", 3, tps(0, 1, 2), tps(0, 1, 2)),
                                     member("b", 3, tps(3, 4, 5), tps(3, 4, 5)), at=14.2))
    assert len(settled) == 1 and isinstance(settled[0], RebalanceSettled)
    assert settled[0].describe() == "rebalance to epoch 3 settled in 3.2 s (2 members)"
    assert not tracker.in_progress


def test_a_rebalance_that_began_and_settled_between_two_refreshes_is_reported_with_an_upper_bound() -> None:
    tracker = RebalanceTracker()
    tracker.observe(epochs(2, 2, member("a", 2, tps(0, 1), tps(0, 1)), at=0.0))
    [event] = tracker.observe(epochs(4, 4, member("a", 4, tps(0), tps(0)), member("b", 4, tps(1), tps(1)), at=1.5))
    assert event.describe() == "rebalance to epoch 4 settled within 1.5 s, between two refreshes (2 members)"


def test_a_rebalance_under_way_on_attach_is_reported_as_a_lower_bound() -> None:
    tracker = RebalanceTracker()
    [started] = tracker.observe(epochs(3, 3, member("a", 2, tps(0, 1), tps(0)), at=0.0))
    assert isinstance(started, RebalanceStarted)
    [settled] = tracker.observe(epochs(3, 3, member("a", 3, tps(0), tps(0)), at=2.0))
    assert settled.describe() == "rebalance to epoch 3 settled in at least 2.0 s (under way when the view attached; 1 member)"


def test_untrusted_names_are_held_in_their_visible_form() -> None:
    view = epochs(1, 1, member("evil\x1b[2J", 1, tps(0, topic="t\x07"), tps(0, topic="t\x07")))
    assert "\x1b" not in view.members[0].client_id
    assert all("\x07" not in tp.topic for tp in view.members[0].assignment)
