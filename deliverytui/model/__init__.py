"""Plain, immutable data shared by every layer: no I/O, no Textual.

Collectors build these; screens and the CLI render them. One module per concept:
``group`` (consumer groups, partitions, the embedded broker), ``dedup`` (idempotency
stores), ``lag`` (lag status and history), ``positions`` (consumer positions), ``reset``
(offset reset plans).
"""

from deliverytui.model.group import (
    BrokerInfo,
    BrokerNode,
    GroupListing,
    GroupSnapshot,
    MemberInfo,
    PartitionRow,
    TopicPartitionId,
)

__all__ = [
    "BrokerInfo",
    "BrokerNode",
    "GroupListing",
    "GroupSnapshot",
    "MemberInfo",
    "PartitionRow",
    "TopicPartitionId",
]
