"""Name the open transaction that pins a partition's last stable offset, through Kafka's Java Admin client.

confluent-kafka's AdminClient has neither DescribeProducers nor ListTransactions nor DescribeTransactions,
so these go through the package's Java admin helper (op ``open_transactions``, source in
``deliverytui/kafka/java/.../TransactionRequests.java``), the same three steps as Kafka's own
``kafka-transactions --find-hanging``. A JVM start costs ~400 ms, so the helper is not started by this
module: ``java_admin`` returns the session's helper (the live view's share-group collector starts it on
first use, so a session shares one JVM whatever asks first), and the live view asks only once a last
stable offset has been pinned for :data:`~deliverytui.model.stuck.PINNED_LSO_REFRESHES` refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deliverytui.errors import UserFacingError, one_line
from deliverytui.kafka.acl_errors import missing_acl
from deliverytui.model.stuck import OpenTransaction
from deliverytui.model.text import visible


class OpenTransactionFinder:
    """Open transactions of one partition, answered by the session's Java helper (cached per LSO)."""

    def __init__(self, java_admin: Callable[[], Any]) -> None:
        """``java_admin`` returns a started :class:`~deliverytui.kafka.java_admin.JavaAdmin` (or raises why not)."""
        self._java_admin = java_admin
        self._cache: dict[tuple[str, int, int], tuple[tuple[OpenTransaction, ...], str | None]] = {}

    def find(self, topic: str, partition: int, last_stable_offset: int) -> tuple[tuple[OpenTransaction, ...], str | None]:
        """(transactions open on the partition, None), or ((), why they could not be named)."""
        cache_key = (topic, partition, last_stable_offset)
        if cache_key in self._cache:
            return self._cache[cache_key]
        try:
            java = self._java_admin()
            answer = java.call(
                "open_transactions", f"describing the producers of {visible(topic)}:{partition}",
                partitions=[{"topic": topic, "partition": partition}],
            )
            found = self._parse(answer[0], topic, getattr(java, "principal", "this client's principal"))
        except UserFacingError as exc:
            return (), one_line(str(exc))  # not cached: a helper that failed to start may start next time
        except Exception as exc:  # noqa: BLE001 - no Java or Maven (KafkaSetupError, OSError): said in the panel
            return (), f"{type(exc).__name__}: {one_line(str(exc))}"
        if len(self._cache) > 100:
            self._cache.clear()
        self._cache[cache_key] = found
        return found

    @staticmethod
    def _parse(entry: dict[str, Any], topic: str, principal: str) -> tuple[tuple[OpenTransaction, ...], str | None]:
        error = entry.get("error")
        if error:
            if error.get("type") == "TopicAuthorizationException":
                return (), str(missing_acl(principal, "read", "topic", topic, context="DescribeProducers needs it"))
            return (), f"{visible(str(error.get('type')))}: {visible(str(error.get('message')))[:200]}"
        transactions = tuple(
            OpenTransaction(
                producer_id=item["producer_id"],
                producer_epoch=item["producer_epoch"],
                start_offset=item["start_offset"],
                last_timestamp_ms=item["last_timestamp_ms"],
                transactional_id=visible(item["transactional_id"]) if item.get("transactional_id") is not None else None,
                state=item.get("state"),
                start_time_ms=item.get("start_time_ms"),
                timeout_ms=item.get("timeout_ms"),
                coordinator_counts_partition=item.get("coordinator_counts_partition"),
            )
            for item in entry.get("transactions", ())
        )
        lookup = next((item["lookup_error"] for item in entry.get("transactions", ()) if item.get("lookup_error")), None)
        problem = None
        if lookup:
            problem = f"transactional id unknown: ListTransactions failed ({visible(str(lookup.get('type')))})"
        return transactions, problem
