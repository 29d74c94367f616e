"""Typed messages that cross from worker threads to the UI (only ``post_message`` crosses threads)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from deliverytui.model import GroupListing, GroupSnapshot
from deliverytui.model.fleet import FleetSnapshot
from deliverytui.model.group import TopicPartitionId
from deliverytui.model.rebalance import ConsumerGroupEpochs
from deliverytui.tui.fetch import ViewUpdate
from deliverytui.tui.share_rows import ShareViewUpdate


@dataclass
class SnapshotArrived(Message):
    """A fresh poll of the watched group (supersedes any older one still queued).

    ``group`` is the group the poll was for: the user may have switched groups meanwhile.
    """

    update: ViewUpdate
    group: str

    @property
    def snapshot(self) -> GroupSnapshot:
        return self.update.snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived)


@dataclass
class CollectionFailed(Message):
    """A poll failed; ``kind`` is 'unreachable', 'auth', 'unknown-group', 'config' or 'error'."""

    kind: str
    text: str
    group: str


@dataclass
class GroupsListed(Message):
    """The cluster's groups, for the group picker."""

    groups: list[GroupListing]
    error: str | None = None


@dataclass
class ShareGroupFound(Message):
    """The watched group is no consumer group but a share group: the app opens the share-group view."""

    group: str


@dataclass
class ShareSnapshotArrived(Message):
    """A fresh poll of the watched share group (supersedes any older one still queued)."""

    update: ShareViewUpdate
    group: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ShareSnapshotArrived)


@dataclass
class ShareCollectionFailed(Message):
    """A poll of the share group failed; ``text`` is the one-line reason."""

    text: str
    group: str


@dataclass
class EpochsArrived(Message):
    """A KIP-848 group's epochs and target assignments (read after a consumer-group snapshot of it).

    ``partitions`` are that snapshot's partitions: one in no assignment at all is unowned too.
    """

    epochs: ConsumerGroupEpochs
    partitions: tuple[TopicPartitionId, ...]
    group: str


@dataclass
class EpochsUnavailable(Message):
    """The epochs could not be read (no Java, the helper failed, the broker refused): ``reason`` in one line."""

    reason: str
    group: str


@dataclass
class FleetArrived(Message):
    """A fresh fleet refresh, ranked (supersedes any older one still queued)."""

    snapshot: FleetSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetArrived)


@dataclass
class FleetFailed(Message):
    """A fleet refresh failed; ``kind`` is 'unreachable' or 'error' (the banner shows ``text``)."""

    kind: str
    text: str
