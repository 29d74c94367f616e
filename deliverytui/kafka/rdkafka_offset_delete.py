"""``DeleteConsumerGroupOffsets`` through librdkafka's C API, which confluent-kafka's Python binding does not expose.

confluent-kafka (up to at least 2.16) wraps ``AlterConsumerGroupOffsets`` but not
``DeleteConsumerGroupOffsets`` (Kafka's ``OffsetDelete`` request, KIP-496). Rather than
add a second Kafka client or speak the wire protocol ourselves, this calls the very
librdkafka that confluent-kafka already loaded (found through the symbols of its
``cimpl`` extension), so it gets the same security settings, the same bootstrap and the
same broker compatibility. It is deliberately tiny: one request, one result, bounded by
the request timeout, logging off so librdkafka never prints on the terminal.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

_ERRSTR_SIZE = 512
_RD_KAFKA_PRODUCER = 0
_RD_KAFKA_ADMIN_OP_ANY = 0  # options valid for every admin request


class _TopicPartition(ctypes.Structure):
    """``rd_kafka_topic_partition_t`` (public, ABI-stable since librdkafka 0.9)."""

    _fields_ = [
        ("topic", ctypes.c_char_p),
        ("partition", ctypes.c_int32),
        ("offset", ctypes.c_int64),
        ("metadata", ctypes.c_void_p),
        ("metadata_size", ctypes.c_size_t),
        ("opaque", ctypes.c_void_p),
        ("err", ctypes.c_int),
        ("_private", ctypes.c_void_p),
    ]


class _TopicPartitionList(ctypes.Structure):
    _fields_ = [("cnt", ctypes.c_int), ("size", ctypes.c_int), ("elems", ctypes.POINTER(_TopicPartition))]


@dataclass(frozen=True, slots=True)
class OffsetDeleteResult:
    """What the broker answered: a request-level error, or an error code per partition (0 = deleted)."""

    error_code: int
    error_text: str
    partition_errors: dict[tuple[str, int], tuple[int, str]]


class RdKafkaUnavailable(RuntimeError):
    """The loaded librdkafka lacks the symbols this module needs (too old)."""


@cache
def _library() -> ctypes.CDLL:
    from confluent_kafka import cimpl

    lib = ctypes.CDLL(cimpl.__file__)
    vp, cp, sz, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
    signatures: dict[str, tuple[object, list[object]]] = {
        "rd_kafka_conf_new": (vp, []),
        "rd_kafka_conf_set": (i, [vp, cp, cp, cp, sz]),
        "rd_kafka_conf_set_log_cb": (None, [vp, vp]),
        "rd_kafka_conf_destroy": (None, [vp]),
        "rd_kafka_new": (vp, [i, vp, cp, sz]),
        "rd_kafka_destroy": (None, [vp]),
        "rd_kafka_queue_new": (vp, [vp]),
        "rd_kafka_queue_destroy": (None, [vp]),
        "rd_kafka_queue_poll": (vp, [vp, i]),
        "rd_kafka_AdminOptions_new": (vp, [vp, i]),
        "rd_kafka_AdminOptions_set_request_timeout": (i, [vp, i, cp, sz]),
        "rd_kafka_AdminOptions_destroy": (None, [vp]),
        "rd_kafka_topic_partition_list_new": (ctypes.POINTER(_TopicPartitionList), [i]),
        "rd_kafka_topic_partition_list_add": (vp, [ctypes.POINTER(_TopicPartitionList), cp, ctypes.c_int32]),
        "rd_kafka_topic_partition_list_destroy": (None, [ctypes.POINTER(_TopicPartitionList)]),
        "rd_kafka_DeleteConsumerGroupOffsets_new": (vp, [cp, ctypes.POINTER(_TopicPartitionList)]),
        "rd_kafka_DeleteConsumerGroupOffsets_destroy": (None, [vp]),
        "rd_kafka_DeleteConsumerGroupOffsets": (None, [vp, ctypes.POINTER(vp), sz, vp, vp]),
        "rd_kafka_event_DeleteConsumerGroupOffsets_result": (vp, [vp]),
        "rd_kafka_DeleteConsumerGroupOffsets_result_groups": (ctypes.POINTER(vp), [vp, ctypes.POINTER(sz)]),
        "rd_kafka_group_result_error": (vp, [vp]),
        "rd_kafka_group_result_partitions": (ctypes.POINTER(_TopicPartitionList), [vp]),
        "rd_kafka_error_code": (i, [vp]),
        "rd_kafka_error_string": (cp, [vp]),
        "rd_kafka_event_error": (i, [vp]),
        "rd_kafka_event_error_string": (cp, [vp]),
        "rd_kafka_event_destroy": (None, [vp]),
        "rd_kafka_err2str": (cp, [i]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise RdKafkaUnavailable(f"the librdkafka loaded by confluent-kafka has no {name}") from None
        function.restype = restype
        function.argtypes = argtypes
    return lib


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def delete_consumer_group_offsets(
    config: Mapping[str, object],
    group_id: str,
    partitions: Iterable[tuple[str, int]],
    *,
    request_timeout: float,
) -> OffsetDeleteResult:
    """Send one ``OffsetDelete`` for ``group_id`` and wait (bounded) for the answer.

    ``config`` is a librdkafka configuration (as from ``client_config``); entries that are
    not plain settings (callbacks, loggers) are ignored. Raises :class:`ValueError` with
    librdkafka's message for an invalid setting, :class:`TimeoutError` when no answer came
    within the timeout, and :class:`RdKafkaUnavailable` if librdkafka is too old.
    """
    lib = _library()
    errstr = ctypes.create_string_buffer(_ERRSTR_SIZE)
    conf = lib.rd_kafka_conf_new()
    handle = queue = options = request = tp_list = None
    try:
        for key, value in config.items():
            if callable(value) or key in ("error_cb", "logger", "stats_cb", "throttle_cb", "oauth_cb"):
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if lib.rd_kafka_conf_set(conf, key.encode(), text.encode(), errstr, _ERRSTR_SIZE) != 0:
                raise ValueError(_text(errstr.value) or f"invalid setting {key}")
        if not os.environ.get("DELIVERYTUI_DEBUG"):
            lib.rd_kafka_conf_set_log_cb(conf, None)  # no log lines on the user's terminal
        handle = lib.rd_kafka_new(_RD_KAFKA_PRODUCER, conf, errstr, _ERRSTR_SIZE)
        if not handle:
            raise ValueError(_text(errstr.value) or "librdkafka refused the configuration")
        conf = None  # owned by the handle now
        queue = lib.rd_kafka_queue_new(handle)
        options = lib.rd_kafka_AdminOptions_new(handle, _RD_KAFKA_ADMIN_OP_ANY)
        lib.rd_kafka_AdminOptions_set_request_timeout(options, int(request_timeout * 1000), errstr, _ERRSTR_SIZE)
        wanted = list(partitions)
        tp_list = lib.rd_kafka_topic_partition_list_new(len(wanted))
        for topic, partition in wanted:
            lib.rd_kafka_topic_partition_list_add(tp_list, topic.encode(), partition)
        request = lib.rd_kafka_DeleteConsumerGroupOffsets_new(group_id.encode(), tp_list)
        requests = (ctypes.c_void_p * 1)(request)
        lib.rd_kafka_DeleteConsumerGroupOffsets(handle, requests, 1, options, queue)
        deadline = time.monotonic() + request_timeout + 2.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to OffsetDelete within {request_timeout:.0f}s")
            event = lib.rd_kafka_queue_poll(queue, int(min(remaining, 0.2) * 1000))
            if not event:
                continue
            try:
                result = lib.rd_kafka_event_DeleteConsumerGroupOffsets_result(event)
                if not result:
                    continue
                return _read_result(lib, event, result)
            finally:
                lib.rd_kafka_event_destroy(event)
    finally:
        # Innermost first; a pointer is None (or NULL) when its step was never reached or it was handed over.
        for pointer, destroy in (
            (request, lib.rd_kafka_DeleteConsumerGroupOffsets_destroy),
            (tp_list, lib.rd_kafka_topic_partition_list_destroy),
            (options, lib.rd_kafka_AdminOptions_destroy),
            (queue, lib.rd_kafka_queue_destroy),
            (handle, lib.rd_kafka_destroy),
            (conf, lib.rd_kafka_conf_destroy),
        ):
            if pointer:
                destroy(pointer)


def _read_result(lib: ctypes.CDLL, event: int, result: int) -> OffsetDeleteResult:
    code = lib.rd_kafka_event_error(event)
    if code:
        return OffsetDeleteResult(code, _text(lib.rd_kafka_event_error_string(event)), {})
    count = ctypes.c_size_t(0)
    groups = lib.rd_kafka_DeleteConsumerGroupOffsets_result_groups(result, ctypes.byref(count))
    partition_errors: dict[tuple[str, int], tuple[int, str]] = {}
    for index in range(count.value):
        group_result = groups[index]
        error = lib.rd_kafka_group_result_error(group_result)
        if error:
            return OffsetDeleteResult(lib.rd_kafka_error_code(error), _text(lib.rd_kafka_error_string(error)), {})
        tp_list = lib.rd_kafka_group_result_partitions(group_result)
        if not tp_list:
            continue
        for i in range(tp_list.contents.cnt):
            tp = tp_list.contents.elems[i]
            partition_errors[(_text(tp.topic), tp.partition)] = (tp.err, _text(lib.rd_kafka_err2str(tp.err)) if tp.err else "")
    return OffsetDeleteResult(0, "", partition_errors)
