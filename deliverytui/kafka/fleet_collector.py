"""Every classic and consumer group of a cluster in one refresh: a :class:`FleetReading` from batched Admin requests.

The fleet view and ``deliverytui groups`` read all groups at once, so a refresh must cost a number of
requests that does not grow with the partition count (500 groups × 10 partitions is 5,000
partitions: one ListOffsets each would take seconds and load the brokers). One refresh is:

1. one ``ListGroups`` (classic and consumer groups, as :meth:`GroupInspector.list_groups`);
2. ``DescribeConsumerGroups`` for all ids, :data:`DESCRIBE_CHUNK` ids a call (librdkafka groups
   them per coordinator);
3. ``ListConsumerGroupOffsets`` for every group, issued together: librdkafka takes one group per
   request, so they are fired :data:`OFFSETS_IN_FLIGHT` at a time and then awaited;
4. ONE latest ``ListOffsets`` for the union of every group's partitions (sent in chunks of
   :data:`LIST_OFFSETS_CHUNK` that travel together, through the one-future-per-batch call
   :class:`LogOffsetReader` already uses).

Share groups are not seen by ListGroups through librdkafka: callers add them from the Java helper
(:func:`share_readings`). A group whose own describe or offset fetch fails gets a one-line ``error``
and the others still show; a cluster-wide failure (unreachable, authentication) raises as any
inspector request does.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaError, KafkaException
from confluent_kafka.admin import OffsetSpec

from deliverytui.errors import MESSAGE_LIMIT, ClusterUnreachableError, one_line
from deliverytui.kafka.admin_requests import kafka_error_text
from deliverytui.kafka.group_inspector import GroupInspector, group_listings
from deliverytui.kafka.group_states import protocol_name, state_name
from deliverytui.model import GroupListing
from deliverytui.model.fleet import FleetGroupReading, FleetReading
from deliverytui.model.text import visible

#: Group ids per DescribeConsumerGroups call.
DESCRIBE_CHUNK = 100
#: ListConsumerGroupOffsets requests in flight at once (one group each: librdkafka's limit).
OFFSETS_IN_FLIGHT = 512
#: Partitions per ListOffsets chunk (the size LogOffsetReader found cheapest for librdkafka).
LIST_OFFSETS_CHUNK = 500


class FleetCollector(GroupInspector):
    """A long-lived AdminClient that reads every group at once; keep one per cluster (warm connections)."""

    def __init__(self, bootstrap: str, client_config=None, request_timeout: float = 10.0, **kwargs) -> None:
        super().__init__(bootstrap, client_config, request_timeout=request_timeout, **kwargs)

    def read(self) -> FleetReading:
        """One refresh of every classic and consumer group (see the module docstring for its requests)."""
        listed = self._list_every_group()
        taken_at = datetime.now(UTC)
        ids = [g.group_id for g in listed]
        # The describes travel while the offset fetches are fired and awaited: the two are independent,
        # and describing 500 groups takes longer than fetching their offsets (waiting for one after the
        # other cost ~0.9 s a refresh on 500 groups; together, the slower of the two).
        describing = self._send_describes(ids)
        offsets = self._offsets_all(ids)
        descriptions = self._describe_results(describing)
        partitions = sorted({key for found in offsets.values() if isinstance(found, dict) for key in found}
                            | {key for d in descriptions.values() if not isinstance(d, str) for key in _assigned(d)})
        log_ends = self._latest_offsets(partitions)
        readings = tuple(
            _reading(listing, descriptions.get(listing.group_id), offsets.get(listing.group_id), log_ends)
            for listing in listed
        )
        return FleetReading(groups=readings, taken_at=taken_at)

    def _list_every_group(self) -> list[GroupListing]:
        """:meth:`list_groups`, refusing a partial answer: librdkafka returns the groups of the brokers
        that answered beside the errors of those that did not (``result.errors``, which ``list_groups``
        leaves aside), and a fleet that showed them alone would report groups as gone. Such a refresh
        raises (retried by the CLI; a banner and backoff in the view). The benchmark's first refresh
        right after a broker start once listed 498 of 500 groups; whether that answer carried an error
        was not caught in the act."""
        result = self._await_one(self.admin.list_consumer_groups(request_timeout=self.request_timeout), "listing every group")
        for error in result.errors or []:
            kafka_error = error.args[0] if isinstance(error, KafkaException) and error.args else error
            if isinstance(kafka_error, KafkaError):
                self.raise_for(kafka_error, "listing every group")  # always raises: a partial list is no list
            raise ClusterUnreachableError(f"listing every group on {self.bootstrap} failed in part: {one_line(error)}")
        listings = group_listings(result.valid)
        if not listings and self.authenticates:
            self._require_cluster_describe()
        return sorted(listings, key=lambda g: g.group_id)

    def close(self) -> None:
        """Nothing to release explicitly: the AdminClient closes when collected (as GroupInspector's)."""

    # -- the batched requests -------------------------------------------------------------
    def _send_describes(self, ids: list[str]) -> dict[str, concurrent.futures.Future]:
        """DescribeConsumerGroups for every id, :data:`DESCRIBE_CHUNK` a call, all sent at once."""
        futures: dict[str, concurrent.futures.Future] = {}
        for start in range(0, len(ids), DESCRIBE_CHUNK):
            futures.update(self.admin.describe_consumer_groups(ids[start : start + DESCRIBE_CHUNK], request_timeout=self.request_timeout))
        return futures

    def _describe_results(self, futures: dict[str, concurrent.futures.Future]) -> dict[str, object]:
        """Each id's ConsumerGroupDescription, or a one-line error text for a group refused alone."""
        self.await_all(list(futures.values()), "describing every group")
        return {group: self._per_group(future, "describing every group") for group, future in futures.items()}

    def _offsets_all(self, ids: list[str]) -> dict[str, object]:
        """Each id's committed offsets ``{(topic, partition): offset}``, or a one-line error text."""
        answers: dict[str, object] = {}
        for start in range(0, len(ids), OFFSETS_IN_FLIGHT):
            futures: dict[str, concurrent.futures.Future] = {}
            for group in ids[start : start + OFFSETS_IN_FLIGHT]:
                futures.update(self.admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group)], request_timeout=self.request_timeout
                ))
            self.await_all(list(futures.values()), "fetching every group's committed offsets")
            for group, future in futures.items():
                answer = self._per_group(future, "fetching every group's committed offsets")
                if isinstance(answer, str):
                    answers[group] = answer
                    continue
                answers[group] = {
                    (tp.topic, tp.partition): tp.offset
                    for tp in (answer.topic_partitions or [])
                    if tp.error is None and tp.offset >= 0
                }
        return answers

    def _per_group(self, future: concurrent.futures.Future, what: str) -> object:
        """The future's value; a failure of this group alone as one line (a cluster-wide one raises)."""
        try:
            return future.result(timeout=0)
        except KafkaException as exc:
            self._raise_if_global(exc, what)
            return kafka_error_text(exc)
        except Exception as exc:  # noqa: BLE001 - one group's odd answer must not hide the others
            return one_line(exc, limit=MESSAGE_LIMIT)

    def _latest_offsets(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Log-end offsets of ``partitions``: one latest ListOffsets batch, never one request per partition."""
        if not partitions:
            return {}
        chunks = [
            self._list_offsets(partitions[i : i + LIST_OFFSETS_CHUNK], OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED)
            for i in range(0, len(partitions), LIST_OFFSETS_CHUNK)
        ]
        self.await_all(chunks, "listing every group's log-end offsets")
        values: dict[tuple[str, int], int] = {}
        for chunk in chunks:
            try:
                answers = chunk.result(timeout=0)
            except KafkaException as exc:
                self._raise_if_global(exc, "listing every group's log-end offsets")
                continue  # that chunk's log ends are unknown: its groups show no lag, not a wrong one
            for tp, answer in answers.items():
                if isinstance(answer, KafkaError):
                    # One topic this principal may not describe, deleted, or leaderless: its partitions'
                    # log ends stay unknown (their groups show no lag for them), the fleet still shows.
                    self._raise_if_global(KafkaException(answer), "listing every group's log-end offsets")
                elif not isinstance(answer, BaseException):
                    values[(tp.topic, tp.partition)] = answer.offset
        self._ever_answered = True
        return values


def _assigned(description) -> Iterable[tuple[str, int]]:
    for member in description.members:
        for tp in getattr(member.assignment, "topic_partitions", None) or []:
            yield (tp.topic, tp.partition)


def _reading(
    listing: GroupListing,
    description: object,
    offsets: object,
    log_ends: dict[tuple[str, int], int],
) -> FleetGroupReading:
    """One group's reading; topic names are made visible here, where other people's text enters the model."""
    errors = [text for text in (description, offsets) if isinstance(text, str)]
    described = description if description is not None and not isinstance(description, str) else None
    committed: dict[tuple[str, int], int] = offsets if isinstance(offsets, dict) else {}
    assigned = set(_assigned(described)) if described is not None else set()
    keys = sorted(committed.keys() | assigned)
    partition_lags = {key: (committed.get(key), log_ends.get(key)) for key in keys}
    lags = [end - offset for offset, end in partition_lags.values() if offset is not None and end is not None]
    return FleetGroupReading(
        group_id=listing.group_id,
        group_type=protocol_name(getattr(described, "type", None)) if described is not None else listing.protocol,
        state=state_name(described.state) if described is not None else listing.state,
        members=len(described.members) if described is not None else 0,
        topics=tuple(sorted({visible(topic) for topic, _ in keys})),
        # Unknown (None) when the offsets could not be read, or when no partition has a known lag (only
        # uncommitted, owned partitions: Kafka's CLI prints "-" for each of them).
        total_lag=None if isinstance(offsets, str) or offsets is None or (keys and not lags) else sum(lags),
        partition_lags=partition_lags,
        # visible(): a broker's message may quote the group id, which anyone who joins chose.
        error=visible(one_line(errors[0], limit=MESSAGE_LIMIT)) if errors else None,
        simple=listing.is_simple,
        owned_partitions=frozenset(assigned),
    )


def share_readings(listed: Iterable[GroupListing]) -> list[FleetGroupReading]:
    """Share groups as the fleet shows them when only their listing is cheap: type, state, no lag read.

    Their share lag needs two Java calls per group (DescribeShareGroups, ListShareGroupOffsets); the
    fleet leaves it unknown (``None``) rather than making a refresh cost one round trip per share group.
    """
    return [
        FleetGroupReading(
            group_id=g.group_id, group_type="share", state=g.state, members=0, topics=(), total_lag=None, partition_lags={}
        )
        for g in listed
    ]


__all__ = ["FleetCollector", "share_readings"]


def reading_to_wire(reading: FleetReading) -> dict[str, object]:
    """A reading as JSON for the isolated child's answer (partition keys become ``[topic, partition, committed, end]``)."""
    return {
        "taken_at": reading.taken_at.isoformat(),
        "groups": [
            {
                "group": g.group_id, "type": g.group_type, "state": g.state, "members": g.members,
                "topics": list(g.topics), "total_lag": g.total_lag, "error": g.error, "simple": g.simple,
                "owned": [list(tp) for tp in g.owned_partitions],
                "partitions": [[topic, partition, committed, end] for (topic, partition), (committed, end) in g.partition_lags.items()],
            }
            for g in reading.groups
        ],
    }


def reading_from_wire(data: dict) -> FleetReading:
    """:func:`reading_to_wire` decoded in the parent."""
    return FleetReading(
        groups=tuple(
            FleetGroupReading(
                group_id=g["group"], group_type=g["type"], state=g["state"], members=g["members"],
                topics=tuple(g["topics"]), total_lag=g["total_lag"], error=g["error"], simple=g["simple"],
                owned_partitions=frozenset((topic, partition) for topic, partition in g["owned"]),
                partition_lags={(topic, partition): (committed, end) for topic, partition, committed, end in g["partitions"]},
            )
            for g in data["groups"]
        ),
        taken_at=datetime.fromisoformat(data["taken_at"]),
    )
