"""How deliverytui's Kafka clients are used and freed: the two causes of stop 20's segmentation fault.

CI died (exit 139) inside a snapshot. Reproduced by taking cold snapshots in a loop: librdkafka
2.16's ListOffsets looks up its partitions' leaders on the calling thread, a metadata answer
landing meanwhile re-runs that lookup on librdkafka's own thread, and the two free the same
state (a core dump showed ``mtx_lock(NULL)`` in ``query_leaders_async_worker``). The metadata
read then ran on a helper thread alongside ListOffsets; it now runs first. And each client was
kept alive by a cycle through its error callback, so the cycle collector freed it whenever and
wherever it happened to run.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from deliverytui.kafka.group_inspector import GroupInspector
from deliverytui.kafka.probe_positions import PositionCollector
from deliverytui.probe.publisher import ProbePublisher
from tests.kafka_helpers import commit, create_topic


def test_metadata_is_read_before_list_offsets_and_never_alongside_it(bootstrap: str, unique: str) -> None:
    topic, group = f"order-{unique}", f"order-{unique}"
    create_topic(bootstrap, topic, 3)
    commit(bootstrap, group, {(topic, p): 0 for p in range(3)})
    inspector = GroupInspector(bootstrap)
    real = inspector.admin
    calls: list[tuple[str, str, float, float]] = []  # (call, thread, started, ended)

    class TimingAdmin:
        def __getattr__(self, name: str):
            attr = getattr(real, name)
            if name not in ("list_topics", "list_offsets"):
                return attr

            def timed(*args, **kwargs):
                started = time.monotonic()
                try:
                    return attr(*args, **kwargs)
                finally:
                    calls.append((name, threading.current_thread().name, started, time.monotonic()))

            return timed

    inspector.admin = TimingAdmin()  # type: ignore[assignment]
    snap = inspector.snapshot(group)

    assert [row.log_end_offset for row in snap.partitions] == [0, 0, 0]
    assert snap.brokers, "the metadata was read: the snapshot knows the brokers"
    metadata = [c for c in calls if c[0] == "list_topics"]
    offsets = [c for c in calls if c[0] == "list_offsets"]
    assert metadata and len(offsets) == 3
    # Every metadata request had returned before the first ListOffsets was issued, on the same thread.
    assert max(c[3] for c in metadata) <= min(c[2] for c in offsets)
    assert {c[1] for c in calls} == {threading.current_thread().name}


def test_clients_are_freed_by_reference_counting_not_by_the_cycle_collector(bootstrap: str) -> None:
    owners = [
        lambda: GroupInspector(bootstrap),
        lambda: PositionCollector(bootstrap, None, "lifetimes"),
        lambda: ProbePublisher(bootstrap, "lifetimes", "lifetimes-client", create_topic=False),
    ]
    gc.collect()
    gc.disable()
    try:
        for make in owners:
            owner = make()
            ref = weakref.ref(owner)
            name = type(owner).__name__
            if hasattr(owner, "close"):
                owner.close()
            del owner
            assert ref() is None, f"{name} outlived its last reference: a cycle keeps its client for the cycle collector"
    finally:
        gc.enable()


def test_a_poll_that_outlives_close_makes_no_client(bootstrap: str, unique: str) -> None:
    """The lab screen's fetcher was closed while its poll still ran (a worker thread); the poll then made a
    positions consumer nobody closed, found alive at the end of CI's session."""
    from deliverytui.errors import UserFacingError
    from deliverytui.tui.fetch import GroupFetcher
    from deliverytui.tui.viewer_config import ViewerConfig
    from tests.conftest import live_kafka_clients

    topic, group = f"late-{unique}", f"late-{unique}"
    create_topic(bootstrap, topic, 2)
    commit(bootstrap, group, {(topic, 0): 0, (topic, 1): 0})
    fetcher = GroupFetcher(ViewerConfig(bootstrap=bootstrap, group=group), group, threading.Event())
    update = fetcher.fetch()  # a real poll: the positions consumer exists now
    assert update.snapshot.group_id == group
    fetcher.close()
    before = len(live_kafka_clients())
    assert fetcher.positions_for(update.snapshot) == {}  # the rest of a poll that was running at close()
    with pytest.raises(UserFacingError):
        fetcher.record_reader()
    assert len(live_kafka_clients()) == before
