"""A closed lab leaves no Kafka client behind: the leak behind CI's segmentation fault at exit.

The auditor caches clients per cluster, because the lab audits every second. It also kept, for
the life of the process, one offset consumer per lab group and one output-tally consumer per
ledger. A test process that ran a hundred labs held hundreds of librdkafka clients (their
threads, and about 870 pipes), and tearing them down in the interpreter's own teardown ended
pytest with exit 139 after every test had passed.
"""

from __future__ import annotations

import gc
from pathlib import Path

import confluent_kafka
from confluent_kafka import cimpl

from deliverytui.demo.auditor import close_cached_clients
from tests.helpers import run_crash_case

KAFKA_CLIENTS = (confluent_kafka.Producer, confluent_kafka.Consumer, cimpl._AdminClientImpl)


def _live_clients() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, KAFKA_CLIENTS))


def _lab(bootstrap: str, tmp_path: Path, name: str) -> dict:
    # exactly-once: the audit reads its output topic with a tally consumer of its own, besides the offsets
    return run_crash_case(bootstrap, "exactly-once", None, tmp_path / name, f"{name}-", f"release-{name}", events=12, crashes=0)


def test_closed_labs_leave_no_kafka_client_behind(bootstrap: str, tmp_path: Path, unique: str) -> None:
    before = _live_clients()
    first = _lab(bootstrap, tmp_path, f"first-{unique}")
    assert (first["lost"], first["duplicates"], first["processed"]) == (0, 0, 12), first
    after_first = _live_clients()
    # What may stay is per cluster (one metadata consumer and one admin), not per lab.
    assert after_first - before <= 2, (before, after_first)

    second = _lab(bootstrap, tmp_path, f"second-{unique}")
    assert (second["lost"], second["duplicates"], second["processed"]) == (0, 0, 12), second
    assert _live_clients() == after_first, "a second lab left clients behind"

    # At exit (atexit), the cluster's cached clients are closed too, while the interpreter still runs.
    close_cached_clients()
    assert _live_clients() <= before
