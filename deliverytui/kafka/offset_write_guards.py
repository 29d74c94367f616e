"""The guards around an offset write: the user's consent, an inactive group, and one-line broker refusals.

Kafka refuses to rewrite the offsets of a group with live members; these checks say so
before the write (and translate the broker's codes after it) in words a user can act on,
with the exit codes the README promises.
"""

from __future__ import annotations

from collections.abc import Sized

from confluent_kafka import KafkaError

from deliverytui.errors import (
    MESSAGE_LIMIT,
    ExitCode,
    NotAuthorizedError,
    UnknownGroupError,
    UserFacingError,
    one_line,
)
from deliverytui.kafka.offset_lookups import OffsetLookups
from deliverytui.model.reset import active_group_message
from deliverytui.model.text import quoted


class ActiveGroupError(UserFacingError):
    """The group has live members, so Kafka will not let its offsets be rewritten."""

    exit_code = ExitCode.GROUP_ACTIVE


class WritesDisabledError(UserFacingError):
    """A write was asked for without the user's consent (``--allow-writes`` in the TUI)."""

    exit_code = ExitCode.WRITES_DISABLED


#: Broker answers to an offset write that mean "someone is consuming this group right now".
_GROUP_ACTIVE_CODES = frozenset(
    {
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.NON_EMPTY_GROUP,
        KafkaError.GROUP_SUBSCRIBED_TO_TOPIC,
        getattr(KafkaError, "STALE_MEMBER_EPOCH", KafkaError.UNKNOWN_MEMBER_ID),
        getattr(KafkaError, "FENCED_MEMBER_EPOCH", KafkaError.UNKNOWN_MEMBER_ID),
    }
)
_AUTHZ_CODES = frozenset(
    {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)


class WriteGuards(OffsetLookups):
    """Checks run right before and right after :class:`~deliverytui.kafka.offset_reset.OffsetResetter` writes."""

    def _ready_to_write(
        self, group_id: str, partitions: Sized, allow_writes: bool, doing: str, action: str
    ) -> bool:
        """Refuse without consent (``doing`` names the write) or with an active group (``action``);
        False when the plan has nothing to write."""
        require_writes(allow_writes, f"{doing} group {quoted(group_id)}")
        if not partitions:
            return False
        self._require_inactive(action, group_id)
        return True

    def _require_inactive(self, action: str, group_id: str) -> None:
        """Describe the group now (it may have come alive since the plan) and refuse if it has members."""
        describe = self._inspector.admin.describe_consumer_groups([group_id], request_timeout=self.request_timeout)[group_id]
        self._inspector.await_all([describe], f"describing group {quoted(group_id)}")
        state, members = self._group_state(describe, group_id)
        message = active_group_message(action, group_id, state, members)
        if message:
            raise ActiveGroupError(message)

    def _raise_write_error(
        self, error: KafkaError | None, action: str, group_id: str, what: str, exc: Exception | None = None
    ) -> None:
        code = error.code() if error is not None else None
        text = one_line(error.str(), limit=MESSAGE_LIMIT) if error is not None else one_line(exc, limit=MESSAGE_LIMIT)
        if code in _GROUP_ACTIVE_CODES:
            if code == KafkaError.GROUP_SUBSCRIBED_TO_TOPIC:
                raise ActiveGroupError(
                    f"cannot {action} group {quoted(group_id)}: its members are subscribed to the topic ({text}); stop its consumers first"
                )
            raise ActiveGroupError(
                f"cannot {action} group {quoted(group_id)}: the broker says the group is active ({text}); stop its consumers first"
            )
        if code in _AUTHZ_CODES:
            raise NotAuthorizedError(
                f"not authorized while {what} on {self.bootstrap}: {text}; the principal needs Read on the group and its topics"
                + (" and Delete on the group" if action.startswith("delete") else "")
            )
        if code == KafkaError.GROUP_ID_NOT_FOUND:
            raise UnknownGroupError(f"cannot {action} group {quoted(group_id)}: the group does not exist on {self.bootstrap}")
        self._inspector.raise_for(error, what, exc or Exception(text))



def require_writes(allow_writes: bool, action: str) -> None:
    """Refuse ``action`` (:class:`WritesDisabledError`) unless the user consented to writes."""
    if not allow_writes:
        raise WritesDisabledError(
            f"writes are disabled: {action} changes what the group consumes next; pass --allow-writes to enable it"
        )
