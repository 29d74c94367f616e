"""Waiting on AdminClient futures within a deadline, and turning Kafka's errors into one-line user errors.

Every request of the inspector and the offset reset goes through :meth:`AdminRequests.await_all`,
so an unreachable cluster is reported in bounded time, a quitting TUI cancels a wait at once,
and an authentication, authorization or "unknown group" answer has one wording everywhere.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import (
    KafkaError,
    KafkaException,
)

from deliverytui.errors import (
    MESSAGE_LIMIT,
    AuthenticationError,
    ClusterUnreachableError,
    NotAuthorizedError,
    UnknownGroupError,
    UserFacingError,
    one_line,
)

T = TypeVar("T")

#: librdkafka error codes that mean "nobody answered".
_UNREACHABLE_CODES = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._RESOLVE, KafkaError.REQUEST_TIMED_OUT}
)
_AUTH_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError.ILLEGAL_SASL_STATE,
     KafkaError.UNSUPPORTED_SASL_MECHANISM, KafkaError._SSL}
)
_AUTHZ_CODES = frozenset(
    {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)
#: The group coordinator is still loading its partition of ``__consumer_offsets``, has moved, or is not
#: elected yet: right after a broker starts, for a second or two. Such a request is worth repeating.
COORDINATOR_NOT_READY_CODES = frozenset(
    {KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE}
)
#: Pause between two attempts of a request the coordinator was not ready for.
COORDINATOR_RETRY_PAUSE_S = 0.25


def coordinator_not_ready(message: str) -> ClusterUnreachableError:
    """The error for a group coordinator that was not ready (loading, moved, not elected).

    It passes on its own, so callers retry it (:func:`retry_while_coordinator_not_ready`) and report it
    only when it outlasts their time, as "did not answer" (exit 3). A mark on the instance, not a
    subclass: every error class owns an exit code of its own (tests/test_exit_codes.py).
    """
    error = ClusterUnreachableError(message)
    error.coordinator_not_ready = True  # type: ignore[attr-defined]
    return error


def is_coordinator_not_ready(error: BaseException) -> bool:
    return getattr(error, "coordinator_not_ready", False) is True


def retry_while_coordinator_not_ready(call: Callable[[], T], budget_s: float) -> T:
    """``call()``, repeated while it raises :func:`coordinator_not_ready`'s error, for up to ``budget_s`` seconds.

    Right after ``broker start`` the first group request answers NOT_COORDINATOR or
    COORDINATOR_LOAD_IN_PROGRESS; on-call should get the answer a second later, not an error.
    Only read requests (and writes of absolute offsets, which are idempotent) may be retried.
    """
    deadline = time.monotonic() + budget_s
    while True:
        try:
            return call()
        except ClusterUnreachableError as error:
            if not is_coordinator_not_ready(error) or time.monotonic() + COORDINATOR_RETRY_PAUSE_S >= deadline:
                raise
            time.sleep(COORDINATOR_RETRY_PAUSE_S)


class CollectionCancelled(Exception):
    """Raised inside a wait when the owner (the TUI quitting) set the cancel event."""


class AdminRequests:
    """The waiting and error translation of :class:`~deliverytui.kafka.group_inspector.GroupInspector`.

    Its subclass sets the attributes below in ``__init__``; ``_fatal`` is set by the
    client's error callback (authentication failures, all brokers down).
    """

    admin: Any
    bootstrap: str
    principal: str
    authenticates: bool
    request_timeout: float
    cancel_event: threading.Event | None
    _lock: threading.Lock
    _fatal: KafkaError | None
    _ever_answered: bool

    def _on_error(self, error: KafkaError) -> None:
        code = error.code()
        with self._lock:
            if code in _AUTH_CODES:
                self._fatal = error
            elif code == KafkaError._ALL_BROKERS_DOWN and not self._ever_answered and self._fatal is None:
                # Not over an authentication failure: a refused login also reports "all brokers down" next.
                self._fatal = error

    def await_all(self, futures: list[concurrent.futures.Future], what: str) -> None:
        deadline = time.monotonic() + self.request_timeout + 2.0
        pending = set(futures)
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=0.05)
            self.admin.poll(0)  # serve error_cb so auth failures and dead bootstraps surface early
            if self.cancel_event is not None and self.cancel_event.is_set():
                raise CollectionCancelled(what)
            with self._lock:
                fatal = self._fatal
            if fatal is not None:
                self.raise_for(fatal, what)
            if pending and time.monotonic() > deadline:
                raise ClusterUnreachableError(
                    f"no answer from Kafka at {self.bootstrap} within {self.request_timeout:.0f}s while {what}; "
                    "check --bootstrap and that the cluster is up"
                )

    def _await_one(self, future: concurrent.futures.Future, what: str):
        self.await_all([future], what)
        return self._result(future, what)

    def _result(self, future: concurrent.futures.Future, what: str):
        try:
            value = future.result(timeout=0)
        except KafkaException as exc:
            self.raise_for(exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None, what, exc)
        self._ever_answered = True
        return value

    def _raise_if_global(self, exc: KafkaException, what: str) -> None:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if error is not None and (error.code() in _AUTH_CODES or error.code() in _UNREACHABLE_CODES):
            self.raise_for(error, what, exc)

    def raise_for(self, error: KafkaError | None, what: str, exc: Exception | None = None):
        code = error.code() if error is not None else None
        text = complete_error_text(error) if error is not None else one_line(exc, limit=MESSAGE_LIMIT)
        if code in COORDINATOR_NOT_READY_CODES:
            raise coordinator_not_ready(
                f"the group coordinator on {self.bootstrap} was not ready while {what} ({text}): "
                "the broker is starting or moving the group; try again in a few seconds"
            ) from None
        if code in _AUTH_CODES:
            raise AuthenticationError(
                f"Kafka at {self.bootstrap} refused authentication: {text}; check the sasl.*/ssl.* settings in --config"
            ) from None
        if code in _UNREACHABLE_CODES:
            hint = "" if self.authenticates else " (a cluster that needs SASL or SSL drops a client without --config)"
            raise ClusterUnreachableError(
                f"cannot reach Kafka at {self.bootstrap} while {what}: {text}; check --bootstrap and that the cluster is up{hint}"
            ) from None
        if code == KafkaError.GROUP_ID_NOT_FOUND:
            raise UnknownGroupError(f"consumer group does not exist on {self.bootstrap} ({text})") from None
        if code in _AUTHZ_CODES:
            raise NotAuthorizedError(
                f"not authorized while {what} on {self.bootstrap}: {text}; the principal needs Describe on the group and its topics"
            ) from None
        raise UserFacingError(f"Kafka error while {what}: {text}") from None


def complete_error_text(error: KafkaError) -> str:
    """``error``'s text as one line that never ends in nothing.

    librdkafka leaves the broker's message empty for some codes (``ConsumerGroupDescribe: `` for
    NOT_COORDINATOR), which printed as a cut-off sentence; the code's name completes it.
    """
    text = one_line(error.str(), limit=MESSAGE_LIMIT)
    if not text or text.endswith(":"):
        text = f"{text} {error.name()}".strip()
    return text


def kafka_error_text(exc: KafkaException) -> str:
    """The Kafka error inside ``exc`` as one line, at most :data:`MESSAGE_LIMIT` characters."""
    error = exc.args[0] if exc.args else exc
    return one_line(error.str() if isinstance(error, KafkaError) else str(error), limit=MESSAGE_LIMIT)
