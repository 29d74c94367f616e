"""Reading a KIP-848 group's epochs and target assignments through the session's Java admin helper.

librdkafka's DescribeConsumerGroups returns each member's current assignment only; the group epoch,
the target assignment epoch, each member's epoch and its target assignment come from Kafka's own Admin
client (``ConsumerGroupRequests.java``). The live view borrows the one helper its share-group collector
already keeps for the session (a JVM start costs seconds: never one per poll), and asks only for groups
whose protocol is ``consumer``: a classic-only session never starts a JVM for this.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from deliverytui.kafka.java_admin import JavaAdmin
from deliverytui.model.rebalance import ConsumerGroupEpochs
from deliverytui.model.text import quoted

#: The helper's request name (registered in ConsumerGroupRequests.java).
DESCRIBE_OP = "describe_consumer_group_epochs"


class ConsumerGroupEpochReader:
    """One :meth:`read` per live-view refresh; ``java_admin`` returns the session's (started) helper.

    Not thread-safe beyond what :class:`JavaAdmin` serialises: the live view reads from one worker at a time.
    """

    def __init__(self, java_admin: Callable[[], JavaAdmin], clock: Callable[[], float] = time.monotonic) -> None:
        self._java_admin = java_admin
        self._clock = clock

    def read(self, group_id: str) -> ConsumerGroupEpochs:
        """The group's epochs and assignments now (:class:`~deliverytui.errors.UnknownGroupError` if it is gone)."""
        answer = self._java_admin().call(DESCRIBE_OP, f"describing the epochs of consumer group {quoted(group_id)}", group=group_id)
        return ConsumerGroupEpochs.from_json(answer, at=self._clock())
