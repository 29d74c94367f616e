"""Group states and protocols as Kafka's own tools spell them (``Stable``, ``PreparingRebalance``, ``consumer``).

confluent-kafka hands back enums whose names differ from Kafka's (``PREPARING_REBALANCING``);
the snapshot, the reset plan and the TUI all show Kafka's spelling, from this one table.
"""

from __future__ import annotations

#: Kafka's own spelling of group states, as ``kafka-consumer-groups`` prints them.
_STATE_NAMES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
    "PREPARING_REBALANCE": "PreparingRebalance",
    "PREPARING_REBALANCING": "PreparingRebalance",  # confluent-kafka's enum spelling
    "COMPLETING_REBALANCE": "CompletingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "ASSIGNING": "Assigning",
    "RECONCILING": "Reconciling",
    "UNKNOWN": "Unknown",
}


def _enum_name(value: object) -> str:
    return getattr(value, "name", None) or str(value)


def state_name(state: object) -> str:
    """A group state (enum or text) in Kafka's spelling: ``PREPARING_REBALANCING`` is ``PreparingRebalance``."""
    name = _enum_name(state).upper()
    return _STATE_NAMES.get(name, name.title())


def protocol_name(group_type: object) -> str:
    """The group protocol in lower case (``classic``, ``consumer``); ``unknown`` when not reported."""
    return _enum_name(group_type).lower() if group_type is not None else "unknown"
