"""The KIP-848 panel: each member's epoch, current and target assignment, and what is moving.

Shown only for groups of the ``consumer`` protocol (KIP-848), under the members panel. Why a panel of its
own and not more columns in the members panel: a classic group has no epochs or targets, and the side
column is narrow, so the consumer-protocol detail takes room only where it means something.

Marks (the legend is on the panel): ``⇠`` pending revocation (a member still owns a partition that is no
longer in its target: it must give it up before the next owner may take it); ``✗`` unowned (no member
owns the partition now: its new owner is waiting for a revocation or a heartbeat, or no target holds it).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Static

from deliverytui.model.group import TopicPartitionId
from deliverytui.model.rebalance import ConsumerGroupEpochs
from deliverytui.model.text import shown_name

#: Members listed before "+N more": the side column is one of several panels.
MAX_MEMBERS = 6
REVOKING_MARK = "⇠"
UNOWNED_MARK = "✗"
LEGEND = f"{REVOKING_MARK} pending revocation  {UNOWNED_MARK} unowned"


def _runs(numbers: list[int]) -> str:
    """``0,1,2,5`` → ``0-2,5``: a 60-partition assignment fits the side column."""
    runs: list[str] = []
    start = previous = None
    for number in sorted(numbers):
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            runs.append(f"{start}-{previous}" if previous != start else f"{start}")
        start = previous = number
    if start is not None:
        runs.append(f"{start}-{previous}" if previous != start else f"{start}")
    return ",".join(runs)


def partitions_text(partitions: Iterable[TopicPartitionId]) -> str:
    """``topic:0-2; other:1``, topic names shortened and made visible (they are untrusted)."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return "; ".join(f"{shown_name(topic, 18)}:{_runs(numbers)}" for topic, numbers in sorted(by_topic.items())) or "-"


def _epoch(value: int | None) -> str:
    return "-" if value is None else str(value)


class RebalancePanel(Static):
    """Renders one :class:`ConsumerGroupEpochs` (or why there is none); the KIP-848 section of the side column."""

    _shown_key: object = ()
    #: The plain text on screen now (tests and screenshots read it; the styles are in the rendered Text).
    shown_text: str = ""

    def update(self, content="", *, layout: bool = True) -> None:  # type: ignore[override]
        self.shown_text = content.plain if isinstance(content, Text) else str(content)
        super().update(content, layout=layout)

    def show_unavailable(self, reason: str) -> None:
        """Java or the helper cannot run (or the broker refused): one line, the rest of the view carries on."""
        key = ("unavailable", reason)
        if key != self._shown_key:
            self._shown_key = key
            self.update(Text(f"epochs and targets unavailable: {reason}", style="yellow"))

    def show_waiting(self) -> None:
        if self._shown_key != "waiting":
            self._shown_key = "waiting"
            self.update(Text("reading epochs and target assignments…", style="dim"))

    def show_epochs(self, epochs: ConsumerGroupEpochs, partitions: Iterable[TopicPartitionId] = ()) -> None:
        """``partitions``: the group's partitions from the consumer-group snapshot (for "in no assignment")."""
        unowned = epochs.unowned(partitions)
        key = (epochs.group_epoch, epochs.target_epoch, epochs.state, epochs.members, unowned)
        if key == self._shown_key:
            return  # the usual refresh: nothing moved, no layout pass
        self._shown_key = key
        text = Text()
        text.append(f"group epoch {_epoch(epochs.group_epoch)} · target epoch {_epoch(epochs.target_epoch)}\n")
        if epochs.settled:
            text.append("settled", "green")
        else:
            text.append("rebalancing", "bold yellow")
        text.append(f" ({epochs.state})\n", "dim")
        targeted = frozenset().union(*(m.target or frozenset() for m in epochs.members))
        for member in epochs.members[:MAX_MEMBERS]:
            behind = member.member_epoch != epochs.target_epoch
            text.append(shown_name(f"{member.client_id}@{member.host}", 24), "bold")
            text.append(f" epoch {_epoch(member.member_epoch)}", "bold yellow" if behind else "")
            if member.upgraded is False:  # a classic-protocol member in a consumer group (an online upgrade under way)
                text.append(" classic", "dim")
            text.append("\n")
            text.append("  now    ", "dim")
            text.append(partitions_text(member.assignment) + "\n")
            if member.target is not None:
                text.append("  target ", "dim")
                text.append("= now\n" if member.target == member.assignment else partitions_text(member.target) + "\n")
            if member.revoking:
                text.append(f"  {REVOKING_MARK} {partitions_text(member.revoking)}\n", "magenta")
            waiting = member.incoming & unowned
            if waiting:
                text.append(f"  {UNOWNED_MARK} {partitions_text(waiting)}\n", "bold red")
        if len(epochs.members) > MAX_MEMBERS:
            text.append(f"+{len(epochs.members) - MAX_MEMBERS} more member(s)\n", "dim")
        if not epochs.members:
            text.append("no members\n", "dim")
        orphans = unowned - targeted
        if orphans:
            text.append(f"{UNOWNED_MARK} in no assignment: {partitions_text(orphans)}\n", "bold red")
        text.append(LEGEND, "dim")
        self.update(text)
