"""The live view's side of KIP-848 rebalances: epochs, current vs target assignments, and settle times.

Kept out of :mod:`deliverytui.tui.app` (at its size limit) as a mixin of :class:`DeliveryApp`, like
:mod:`deliverytui.tui.share_host`. After each consumer-group snapshot whose protocol is ``consumer``, a
thread worker asks the session's Java admin helper (borrowed from the share-group collector, ``java_admin``: one JVM per
session, started on the first consumer-protocol group only; a classic group never starts it) for the
group's epochs and target assignments. The answer is rendered in a panel under the members panel, which
is mounted on the first consumer-protocol snapshot and hidden for any other group, and a
:class:`~deliverytui.model.rebalance.RebalanceTracker` turns the series into event-log lines
(``rebalance to epoch 7 settled in 3.2 s (2 members)``).

Why after the snapshot and not inside it: the consumer-group snapshot comes from an isolated librdkafka
child that knows nothing of Java, and the epochs are self-consistent on their own (current and target
assignments come from one DescribeConsumerGroups answer). Only the "in no assignment at all" check uses
the snapshot's partition list.
"""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.widgets import Label

from deliverytui.errors import one_line
from deliverytui.kafka.consumer_group_epochs import ConsumerGroupEpochReader
from deliverytui.model import GroupSnapshot
from deliverytui.model.rebalance import RebalanceSettled, RebalanceTracker
from deliverytui.tui.messages import EpochsArrived, EpochsUnavailable
from deliverytui.tui.widgets.rebalance_panel import RebalancePanel

#: The protocol whose groups have epochs and target assignments (KIP-848).
CONSUMER_PROTOCOL = "consumer"
#: After a failed read, the next waits this long: where Java is missing, each attempt may try a Maven
#: build of the helper (seconds of CPU), which must not happen on every refresh.
RETRY_SECONDS = 30.0


class RebalanceViewHost:
    """Mixed into the app: ``rebalance_panel`` is the KIP-848 panel once mounted (None before).

    Handlers are named ``on_<message>`` rather than decorated with ``@on``: Textual collects ``@on``
    handlers only from classes built by its message-pump metaclass, which a mixin is not.
    """

    #: False where no group can use the consumer protocol (nothing is read, no helper is started).
    WATCHES_REBALANCES = True
    rebalance_panel: RebalancePanel | None = None
    rebalance_title: Label | None = None
    rebalance_tracker: RebalanceTracker | None = None
    rebalance_tracker_group: str | None = None
    epochs_reader: ConsumerGroupEpochReader | None = None
    epochs_in_flight = False
    epochs_retry_at = 0.0

    def observe_rebalance(self, snapshot: GroupSnapshot) -> None:
        """Called on the UI thread with each consumer-group snapshot shown: read its epochs if it is KIP-848."""
        if not self.WATCHES_REBALANCES or snapshot.protocol != CONSUMER_PROTOCOL:
            self.show_rebalance_panel(False)
            return
        self.show_rebalance_panel(True)
        if snapshot.group_id != self.rebalance_tracker_group and self.rebalance_panel is not None:
            self.rebalance_panel.show_waiting()  # switched groups: the last group's epochs must not linger
        if not self.epochs_in_flight and time.monotonic() >= self.epochs_retry_at:
            self.epochs_in_flight = True
            self.read_epochs(snapshot.group_id, tuple(row.tp for row in snapshot.partitions))

    def show_rebalance_panel(self, visible: bool) -> None:
        """Mount the panel (under the members panel) the first time it is needed; hide it for other groups."""
        app: Any = self
        if self.rebalance_panel is None:
            if not visible:
                return
            self.rebalance_title = Label("KIP-848 rebalance", classes="section-title")
            self.rebalance_panel = RebalancePanel(id="rebalance")
            self.rebalance_panel.show_waiting()
            app.screen_stack[0].query_one("#side").mount(self.rebalance_title, self.rebalance_panel, after=app.screen_stack[0].query_one("#members"))
        self.rebalance_title.display = visible  # type: ignore[union-attr] - mounted together with the panel
        self.rebalance_panel.display = visible

    def epoch_reader(self) -> ConsumerGroupEpochReader:
        """The session's reader, over the share-group collector's helper (``java_admin``)."""
        if self.epochs_reader is None:
            app: Any = self
            java_admin = getattr(app.shares, "java_admin", None)
            if java_admin is None:
                raise RuntimeError("this session has no Java admin helper")
            self.epochs_reader = ConsumerGroupEpochReader(java_admin)
        return self.epochs_reader

    @work(thread=True, exclusive=False, exit_on_error=False, group="rebalance")
    def read_epochs(self, group: str, partitions: tuple[Any, ...]) -> None:
        app: Any = self
        try:
            epochs = self.epoch_reader().read(group)
        except Exception as exc:  # noqa: BLE001 - no Java, no helper, a refusal: said in the panel, never fatal
            app.post_message(EpochsUnavailable(one_line(str(exc)) or type(exc).__name__, group))
        else:
            app.post_message(EpochsArrived(epochs, partitions, group))

    def on_epochs_unavailable(self, message: EpochsUnavailable) -> None:
        app: Any = self
        self.epochs_in_flight = False
        self.epochs_retry_at = time.monotonic() + RETRY_SECONDS
        if app.closing or message.group != app.group or self.rebalance_panel is None:
            return
        self.rebalance_panel.show_unavailable(f"{message.reason} (trying again in {RETRY_SECONDS:.0f} s)")

    def on_epochs_arrived(self, message: EpochsArrived) -> None:
        app: Any = self
        self.epochs_in_flight = False
        if app.closing or message.group != app.group or self.rebalance_panel is None:
            return
        if self.rebalance_tracker is None or self.rebalance_tracker_group != message.group:
            self.rebalance_tracker, self.rebalance_tracker_group = RebalanceTracker(), message.group
        events = app.screen_stack[0].query_one("#events")  # the base screen's, even under a modal
        for event in self.rebalance_tracker.observe(message.epochs):
            events.add(event.describe(), "bold green" if isinstance(event, RebalanceSettled) else "bold cyan")
        if not app.paused:
            self.rebalance_panel.show_epochs(message.epochs, message.partitions)
