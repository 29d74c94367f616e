"""KIP-848 rebalances as plain data: epochs, current and target assignments, and when a rebalance settled.

In the ``consumer`` protocol (KIP-848) the group coordinator, not a leader consumer, computes the
assignment. A change (a member joins or leaves, a subscription changes) bumps the **group epoch**; the
coordinator then computes a **target assignment** at that epoch (the **target assignment epoch**). Each
member converges to its target on its own heartbeats: it first gives up what is no longer its own
(*pending revocation*), and a partition another member must give up is *unowned* by its new owner until
then. A member whose **member epoch** equals the target epoch and whose current assignment equals its
target has caught up; when every member has, the rebalance has settled.

No I/O here: the Java admin helper's answer is turned into :class:`ConsumerGroupEpochs` by
:mod:`deliverytui.kafka.consumer_group_epochs`, and :class:`RebalanceTracker` turns a series of them into
event-log lines (``rebalance to epoch 7 settled in 3.2 s (2 members)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deliverytui.model.group import TopicPartitionId
from deliverytui.model.text import visible, visible_or_none


def _partitions(rows: Iterable[Mapping[str, Any]] | None) -> frozenset[TopicPartitionId]:
    return frozenset(TopicPartitionId(visible(str(row["topic"])), int(row["partition"])) for row in rows or ())


@dataclass(frozen=True, slots=True)
class MemberEpochs:
    """One member of a consumer-protocol group: its epoch, what it owns now and what it is meant to own.

    ``target`` is None when the broker did not say (a classic group has no target assignment). Names are
    held in their visible form, as in :class:`~deliverytui.model.group.MemberInfo`.
    """

    member_id: str
    client_id: str
    host: str
    member_epoch: int | None
    assignment: frozenset[TopicPartitionId]
    target: frozenset[TopicPartitionId] | None
    instance_id: str | None = None
    upgraded: bool | None = None

    @property
    def revoking(self) -> frozenset[TopicPartitionId]:
        """Owned now but not in the target: the member must give these up (pending revocation)."""
        return self.assignment - self.target if self.target is not None else frozenset()

    @property
    def incoming(self) -> frozenset[TopicPartitionId]:
        """In the target but not owned yet: waiting for another member's revocation, or for a heartbeat."""
        return self.target - self.assignment if self.target is not None else frozenset()

    def caught_up(self, target_epoch: int | None) -> bool:
        """At the target epoch and owning exactly its target."""
        return self.member_epoch == target_epoch and (self.target is None or self.assignment == self.target)


@dataclass(frozen=True, slots=True)
class ConsumerGroupEpochs:
    """One DescribeConsumerGroups answer with the KIP-848 fields; ``at`` is a monotonic time in seconds."""

    group_id: str
    group_type: str
    state: str
    group_epoch: int | None
    target_epoch: int | None
    members: tuple[MemberEpochs, ...]
    at: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any], at: float = 0.0) -> ConsumerGroupEpochs:
        """From the helper's ``describe_consumer_group_epochs`` answer (see ConsumerGroupRequests.java)."""
        members = tuple(
            MemberEpochs(
                member_id=visible(str(row.get("member_id") or "")),
                client_id=visible(str(row.get("client_id") or "")),
                host=visible(str(row.get("host") or "")),
                member_epoch=row.get("member_epoch"),
                assignment=_partitions(row.get("assignment")),
                target=None if row.get("target_assignment") is None else _partitions(row.get("target_assignment")),
                instance_id=visible_or_none(row.get("instance_id")),
                upgraded=row.get("upgraded"),
            )
            for row in data.get("members") or ()
        )
        return cls(
            group_id=visible(str(data.get("group") or "")),
            group_type=str(data.get("type") or "unknown"),
            state=str(data.get("state") or "Unknown"),
            group_epoch=data.get("group_epoch"),
            target_epoch=data.get("target_assignment_epoch"),
            members=tuple(sorted(members, key=lambda m: (m.client_id, m.member_id))),
            at=at,
        )

    @property
    def settled(self) -> bool:
        """The target is computed for the current group epoch and every member has caught up to it."""
        return self.group_epoch == self.target_epoch and all(m.caught_up(self.target_epoch) for m in self.members)

    def pending_revocation(self) -> dict[TopicPartitionId, MemberEpochs]:
        """Each partition a member owns but must give up, with that member."""
        return {tp: member for member in self.members for tp in member.revoking}

    def unowned(self, partitions: Iterable[TopicPartitionId] = ()) -> frozenset[TopicPartitionId]:
        """Partitions no member owns now: in some target but in no current assignment, or (among
        ``partitions``, the group's partitions the consumer-group snapshot lists) in no assignment at all."""
        owned = frozenset().union(*(m.assignment for m in self.members))
        targeted = frozenset().union(*(m.target or frozenset() for m in self.members))
        return frozenset((targeted | frozenset(partitions)) - owned)

    def member_for(self, partition: TopicPartitionId) -> MemberEpochs | None:
        """The member whose target holds ``partition`` (its next owner), if any."""
        return next((m for m in self.members if m.target is not None and partition in m.target), None)


@dataclass(frozen=True, slots=True)
class RebalanceSettled:
    """A rebalance seen from its first unsettled snapshot to its first settled one.

    ``seconds`` is measured between snapshots, so it is at most one refresh interval too long; when the
    whole rebalance fell between two snapshots, ``within_one_refresh`` is True and ``seconds`` is the
    time between those two snapshots (an upper bound).
    """

    epoch: int | None
    seconds: float
    members: int
    within_one_refresh: bool = False
    #: Already under way when the view attached: the real start was earlier, ``seconds`` a lower bound.
    under_way_on_attach: bool = False

    def describe(self) -> str:
        members = f"{self.members} member{'s' if self.members != 1 else ''}"
        epoch = f"epoch {self.epoch}" if self.epoch is not None else "an unknown epoch"
        if self.within_one_refresh:
            return f"rebalance to {epoch} settled within {self.seconds:.1f} s, between two refreshes ({members})"
        if self.under_way_on_attach:
            return f"rebalance to {epoch} settled in at least {self.seconds:.1f} s (under way when the view attached; {members})"
        return f"rebalance to {epoch} settled in {self.seconds:.1f} s ({members})"


@dataclass(frozen=True, slots=True)
class RebalanceStarted:
    """The first snapshot of a rebalance: the group epoch moved, or a member has not caught up."""

    epoch: int | None
    from_epoch: int | None

    def describe(self) -> str:
        moved = f" (from {self.from_epoch})" if self.from_epoch is not None and self.from_epoch != self.epoch else ""
        return f"rebalance to epoch {self.epoch}{moved} in progress: members converging on the target assignment"


class RebalanceTracker:
    """Follows one group's snapshots and says when a rebalance started and how long it took to settle.

    A rebalance starts at the first snapshot where the group epoch moved or the group is not settled
    (:attr:`ConsumerGroupEpochs.settled`), and ends at the first settled snapshot after it. A group already
    unsettled when first seen starts a rebalance at that snapshot (its real start was earlier: the figure
    is then a lower bound, and says "at least").
    """

    def __init__(self) -> None:
        self._previous: ConsumerGroupEpochs | None = None
        self._started: ConsumerGroupEpochs | None = None
        self._started_on_attach = False

    @property
    def in_progress(self) -> bool:
        return self._started is not None

    def observe(self, epochs: ConsumerGroupEpochs) -> list[RebalanceStarted | RebalanceSettled]:
        """The events this snapshot adds (empty when nothing changed)."""
        previous, self._previous = self._previous, epochs
        moved = previous is not None and previous.group_epoch != epochs.group_epoch
        if self._started is None:
            if epochs.settled:
                if moved and previous is not None:  # began and settled between two refreshes
                    return [RebalanceSettled(epochs.group_epoch, epochs.at - previous.at, len(epochs.members), True)]
                return []
            self._started = epochs
            self._started_on_attach = previous is None
            return [RebalanceStarted(epochs.group_epoch, previous.group_epoch if previous else None)]
        if not epochs.settled:
            return []
        started, self._started = self._started, None
        return [
            RebalanceSettled(
                epochs.group_epoch, epochs.at - started.at, len(epochs.members), under_way_on_attach=self._started_on_attach
            )
        ]
