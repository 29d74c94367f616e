"""The Admin client factory, librdkafka's quiet logger and weak client callbacks: a leaf every other module may import.

``AdminClient({...}, logger=silent_librdkafka_logger())`` was written out in a dozen places;
a caller that forgot the logger let librdkafka print multi-line connection errors on stderr,
which breaks the "one line, no traceback" promise. This module imports nothing from
deliverytui, so the broker, the inspectors and the demo can all use it without import cycles.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient


def weak_callback(method: Callable[..., None]) -> Callable[..., None]:
    """A librdkafka callback (``error_cb``, ``stats_cb``) that calls ``method`` without keeping its object alive.

    Handing a client its owner's bound method makes a reference cycle (owner → client →
    callback → owner). Such a pair is then freed only by Python's cyclic garbage collector,
    which runs in whichever thread happens to allocate, at any moment: it destroyed one
    admin client while another thread was inside librdkafka, and the process died of a
    segmentation fault (stop 20's CI run; reproduced with a low collection threshold).
    Through a weak reference the owner is freed by reference counting, where and when its
    last user drops it; a call after that does nothing.
    """
    target = weakref.WeakMethod(method)

    def call(*args: object) -> None:
        bound = target()
        if bound is not None:
            bound(*args)

    return call


def silent_librdkafka_logger() -> logging.Logger:
    """A logger for librdkafka that stays quiet unless DELIVERYTUI_DEBUG is set.

    librdkafka otherwise prints multi-line connection errors on stderr, which would
    break the "one line, no traceback" promise.
    """
    logger = logging.getLogger("deliverytui.librdkafka")
    if not logger.handlers:
        if os.environ.get("DELIVERYTUI_DEBUG"):
            logger.addHandler(logging.StreamHandler())
            logger.setLevel(logging.DEBUG)
        else:
            logger.addHandler(logging.NullHandler())
            logger.propagate = False
    return logger


def admin_client(config: Mapping[str, object]) -> AdminClient:
    """An ``AdminClient`` for ``config`` (which must hold ``bootstrap.servers``) that logs quietly.

    confluent_kafka is imported here, not at the top: commands that never talk to Kafka
    (``broker status``, ``--help``) should not pay for loading librdkafka.
    """
    from confluent_kafka.admin import AdminClient

    # A dict is passed as it is: a RedactedConfig must stay redacted in a traceback's locals.
    return AdminClient(config if isinstance(config, dict) else dict(config), logger=silent_librdkafka_logger())


def metadata_answers(bootstrap: str, timeout: float = 2.0, config: Mapping[str, object] | None = None) -> bool:
    """True when a broker at ``bootstrap`` answers a metadata request within ``timeout``.

    ``config`` adds client settings (the SASL login of a secured broker).
    """
    admin = admin_client({**(config or {}), "bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000})
    try:
        metadata = admin.list_topics(timeout=timeout)
        return bool(metadata.brokers)
    except Exception:  # noqa: BLE001 - any failure means "does not answer"
        return False


TRANSIENT_COORDINATOR_ERRORS = frozenset(
    {
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)
"""Errors that pass on their own: the group coordinator is loading or moving, or a request timed out."""
