"""Reading log-end, last-stable and log-start offsets for many partitions in one round trip.

confluent-kafka's public ``AdminClient.list_offsets`` makes one Python future per
partition (15,000 futures for three batches over 5,000 partitions: most of a snapshot's
CPU), so the batches go through the client's C call with one future per batch, falling
back to the public call if that signature ever changes. Log start offsets may be reused
for ``log_start_max_age_s`` by a long-lived caller.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterable, Mapping

from confluent_kafka import (
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

try:  # the C implementation under AdminClient.list_offsets (see _list_offsets)
    from confluent_kafka.cimpl import _AdminClientImpl
except ImportError:  # pragma: no cover - a confluent-kafka without it uses the public call
    _AdminClientImpl = None  # type: ignore[assignment,misc]

from deliverytui.kafka.acl_errors import missing_acl
from deliverytui.kafka.admin_requests import AdminRequests

#: Partitions per ListOffsets request. librdkafka's cost per request grows faster than
#: linearly with its size (5,000 partitions in one request: ~130 ms of CPU; in ten requests
#: of 500: ~35 ms), and the chunks still travel together, so a snapshot keeps its two round trips.
_LIST_OFFSETS_CHUNK = 500


class LogOffsetReader(AdminRequests):
    """The ListOffsets requests of :class:`~deliverytui.kafka.group_inspector.GroupInspector`."""

    log_start_max_age_s: float
    _log_start_cache: dict[tuple[str, int], int]
    _log_start_read_at: float

    def _log_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """Log-end, last stable and log start offsets by ``(topic, partition)``; missing when unknown."""
        partitions = list(partitions)
        if not partitions:
            return {}, {}, {}
        now = time.monotonic()
        cached_start = self._log_start_cache
        reuse_start = (
            self.log_start_max_age_s > 0
            and now - self._log_start_read_at <= self.log_start_max_age_s
            and all(tp in cached_start for tp in partitions)
        )
        specs = [
            (OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED),
            (OffsetSpec.latest(), IsolationLevel.READ_COMMITTED),
        ]
        if not reuse_start:
            specs.append((OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED))
        chunk = _LIST_OFFSETS_CHUNK
        batches = [
            [self._list_offsets(partitions[i : i + chunk], spec, isolation) for i in range(0, len(partitions), chunk)]
            for spec, isolation in specs
        ]
        self.await_all([f for batch in batches for f in batch], "listing partition offsets")
        results: list[dict[tuple[str, int], int]] = []
        for batch in batches:
            values: dict[tuple[str, int], int] = {}
            for part in batch:
                try:
                    answers = part.result(timeout=0)
                except KafkaException as exc:
                    # A request-level error: global ones (auth, unreachable) raise; otherwise every
                    # offset of the chunk is unknown, rows kept (as with per-partition errors).
                    self._raise_if_global(exc, "listing partition offsets")
                    continue
                self._collect_offsets(answers, values)
            results.append(values)
        self._ever_answered = True
        if reuse_start:
            start = {tp: cached_start[tp] for tp in partitions if tp in cached_start}
        else:
            start = results[2]
            if self.log_start_max_age_s > 0:
                self._log_start_cache = {tp: start[tp] for tp in partitions if tp in start}
                # Unknown ones (no leader) are not cached: the next snapshot asks again.
                self._log_start_read_at = now if len(self._log_start_cache) == len(partitions) else float("-inf")
        return results[0], results[1], start

    def _collect_offsets(self, answers: Mapping[TopicPartition, object], values: dict[tuple[str, int], int]) -> None:
        for tp, answer in answers.items():
            if isinstance(answer, KafkaError):
                if answer.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                    raise missing_acl(self.principal, "describe", "topic", tp.topic, context="its log-end offsets (the lag) are unknown")
                self._raise_if_global(KafkaException(answer), "listing partition offsets")
                continue  # a deleted topic or a leaderless partition: offset unknown, row kept
            if isinstance(answer, BaseException):
                continue  # only from the fallback path: an unexpected per-partition failure
            values[(tp.topic, tp.partition)] = answer.offset  # type: ignore[attr-defined]

    def _list_offsets(
        self, partitions: list[tuple[str, int]], spec: OffsetSpec, isolation: IsolationLevel
    ) -> concurrent.futures.Future:
        """One ListOffsets batch as ONE future resolving to ``{TopicPartition: ListOffsetsResultInfo | KafkaError}``.

        ``AdminClient.list_offsets`` wraps the C call in a future per partition (creating,
        resolving and waiting on 5,000 futures costs more CPU than the request itself); the C
        call takes a single future and resolves it with exactly this mapping, so it is called
        directly. Should its signature change, the public call is used and its futures folded.
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        if _AdminClientImpl is not None:
            value = int(spec._value)
            request = [TopicPartition(topic, partition, value) for topic, partition in partitions]
            try:
                _AdminClientImpl.list_offsets(
                    self.admin, request, future,
                    isolation_level_value=isolation.value, request_timeout=self.request_timeout,
                )
                return future
            except TypeError:
                pass  # a different C signature: use the public API below
        futmap = self.admin.list_offsets(
            {TopicPartition(topic, partition): spec for topic, partition in partitions},
            isolation_level=isolation,
            request_timeout=self.request_timeout,
        )
        remaining = [len(futmap)]
        answers: dict[TopicPartition, object] = {}
        lock = threading.Lock()

        def collect(tp: TopicPartition, part: concurrent.futures.Future) -> None:
            exc = part.exception()
            answer = exc.args[0] if isinstance(exc, KafkaException) and exc.args else (exc or part.result())
            with lock:
                answers[tp] = answer
                remaining[0] -= 1
                done = remaining[0] == 0
            if done:
                future.set_result(answers)

        for tp, part in futmap.items():
            part.add_done_callback(lambda f, tp=tp: collect(tp, f))
        return future
