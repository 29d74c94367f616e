"""Plain, immutable data shared by every layer: no I/O, no Textual.

Collectors build these; screens and the CLI render them. One module per concept:
``group`` (consumer groups and partitions), ``broker`` (the embedded broker).
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
