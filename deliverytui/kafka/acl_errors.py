""""Not allowed to see" said as the ACL that is missing, never as "no lag" or a generic failure.

A secured cluster answers a principal that lacks Describe on a topic by leaving the topic out
(OffsetFetch for a whole group, Metadata for all topics, ListGroups without Describe on the
cluster) or with a per-partition ``TOPIC_AUTHORIZATION_FAILED``. Shown as it comes, that reads
"(no committed or assigned partitions)", "total lag 0": the worst answer an on-call tool can give.
Every such answer becomes a :class:`~deliverytui.errors.NotAuthorizedError` (exit code
``NOT_AUTHORIZED``) that names the principal, the operation and the resource, in the words of
``kafka-acls`` (``ACL needed: DESCRIBE on TOPIC orders``), so the fix is one command away.
"""

from __future__ import annotations

from collections.abc import Mapping

from deliverytui.errors import NotAuthorizedError
from deliverytui.model.text import quoted, shown_name

#: Mechanisms whose principal is ``User:<sasl.username>`` under Kafka's default principal builder.
_USERNAME_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
CLUSTER_RESOURCE = "kafka-cluster"


def principal_of(config: Mapping[str, object] | None) -> str:
    """``User:<name>`` for a PLAIN/SCRAM login, else a description (the broker alone knows an SSL or OAuth principal)."""
    config = config or {}
    user = str(config.get("sasl.username") or "")
    mechanism = str(config.get("sasl.mechanism") or config.get("sasl.mechanisms") or "GSSAPI").upper()
    if user and mechanism in _USERNAME_MECHANISMS:
        return f"User:{user}"
    return "this client's principal"


def authenticates(config: Mapping[str, object] | None) -> bool:
    """True when the client logs in (SASL or SSL): only then can a cluster's ACLs hide what it asks for."""
    protocol = str((config or {}).get("security.protocol") or "PLAINTEXT").upper()
    return protocol != "PLAINTEXT"


def missing_acl(principal: str, operation: str, resource_type: str, name: str, *, context: str = "") -> NotAuthorizedError:
    """The one-line error for a missing ACL: ``principal User:x lacks Describe on topic t (ACL needed: DESCRIBE on TOPIC t)``.

    ``context`` adds why it matters (what the command could not show or do).
    """
    name = shown_name(name)  # a group or topic name is other people's text: escaped and shortened
    needed = f"ACL needed: {operation.upper()} on {resource_type.upper()} {name}"
    text = f"principal {principal} lacks {operation.capitalize()} on {resource_type.lower()} {name} ({needed})"
    return NotAuthorizedError(f"{text}{': ' + context if context else ''}")


def hidden_topics_error(principal: str, group_id: str) -> NotAuthorizedError:
    """A group that exists (no members: it lives on its committed offsets) yet shows none of them.

    Kafka leaves out of OffsetFetch every topic the principal may not describe, without naming
    it, so the topic is unknown here; the message says which ACL to add for each of them. An Empty group
    whose offsets were all deleted looks the same until Kafka removes it (minutes later): the message says so.
    """
    return NotAuthorizedError(
        f"principal {principal} may lack Describe on the group's topics: group {quoted(group_id)} is Empty yet shows it no "
        "committed offset, which is how Kafka hides offsets on topics a principal may not describe (ACL needed: "
        f"DESCRIBE on TOPIC <each topic {quoted(group_id)} consumes>; unless its offsets were all deleted moments ago); "
        "its lag is unknown, not 0"
    )


def hidden_share_state_error(principal: str, group_id: str) -> NotAuthorizedError:
    """A share group that exists (no members) yet shows no share-partition state at all.

    ListShareGroupOffsets leaves out, without a word, every topic the principal may not describe, as
    OffsetFetch does for a consumer group, so an Empty share group would read as "0 lag". A share group
    gets its state as soon as a member is assigned a partition, so an Empty one without any is one whose
    topics are hidden (or whose state was deleted moments ago: the message says so).
    """
    return NotAuthorizedError(
        f"principal {principal} may lack Describe on the share group's topics: share group {quoted(group_id)} is Empty "
        "yet shows it no share-partition state, which is how Kafka hides the state on topics a principal may not "
        f"describe (ACL needed: DESCRIBE on TOPIC <each topic {quoted(group_id)} reads>; unless its offsets were all "
        "deleted moments ago); its share lag is unknown, not 0"
    )
