"""The store goes away mid-run: the consumer pauses, nothing is lost, nothing is done twice.

Also: an unreachable or malformed store URL is one line, with no password in it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from deliverytui.dedup import (
    Backoff,
    StoreUnavailableError,
    StoreUrlError,
    new_token,
    open_store,
    sample_foreign_keys,
    with_store_retry,
)
from deliverytui.dedup.store import DedupStore
from deliverytui.errors import UserFacingError
from tests.services import PostgresServerProcess, RedisServerProcess, free_port

EVENTS = [f"event-{i}" for i in range(150)]
STOP_AFTER_EFFECTS = 50
FAST_RETRY = Backoff(initial_s=0.05, max_s=0.3)


class Consumer:
    """A consumer loop as the demo consumers will run it: claim → effect → complete."""

    def __init__(self, store: DedupStore) -> None:
        self.store = store
        self.effects: list[str] = []
        self.errors: list[StoreUnavailableError] = []
        self.effects_at_first_error: int | None = None
        self.first_error = asyncio.Event()
        self.reached_stop_point = asyncio.Event()

    def _on_wait(self, error: StoreUnavailableError, delay: float) -> None:
        if not self.errors:
            self.effects_at_first_error = len(self.effects)
            self.first_error.set()
        self.errors.append(error)

    async def run(self, events: list[str]) -> None:
        for event in events:
            token = new_token()  # one token per attempt, kept across retries of it
            claim = await with_store_retry(
                lambda event=event, token=token: self.store.claim(event, lease_seconds=60, token=token), on_wait=self._on_wait, backoff=FAST_RETRY
            )
            if not claim.owned:
                continue
            self.effects.append(event)  # the side effect
            if len(self.effects) == STOP_AFTER_EFFECTS:
                self.reached_stop_point.set()
                await asyncio.sleep(0)  # let the test stop the server now, between effect and complete
            done = await with_store_retry(
                lambda event=event, claim=claim: self.store.complete(event, claim.token), on_wait=self._on_wait, backoff=FAST_RETRY
            )
            assert done, f"lost the lease on {event}"


async def _run_through_outage(url: str, stop: Callable[[], None], start: Callable[[], None]) -> None:
    async with open_store(url, group="outage") as store:
        consumer = Consumer(store)
        task = asyncio.create_task(consumer.run(EVENTS))
        await consumer.reached_stop_point.wait()
        await asyncio.to_thread(stop)
        await asyncio.wait_for(consumer.first_error.wait(), timeout=60)
        # While the store is down the consumer waits on the same message: no new effect.
        await asyncio.sleep(0.5)
        effects_while_down = len(consumer.effects)
        assert effects_while_down == consumer.effects_at_first_error
        await asyncio.to_thread(start)
        await asyncio.wait_for(task, timeout=60)

        assert consumer.effects == EVENTS, "every event exactly once, in order"
        assert len(consumer.errors) >= 1
        for error in consumer.errors:
            assert isinstance(error, UserFacingError)
            assert "\n" not in str(error) and "is unreachable" in str(error)

        # Redelivery of everything after the restart: all duplicates, no second effect.
        replay = Consumer(store)
        await replay.run(EVENTS)
        assert replay.effects == []
        counters = await store.read_counters()
        assert counters is not None
        assert counters.misses == len(EVENTS)
        assert counters.hits == len(EVENTS)
        assert counters.errors == len(consumer.errors), "every failed call is counted once it can be"


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_restart_mid_run_loses_nothing_and_duplicates_nothing(backend: str, request: pytest.FixtureRequest) -> None:
    server: RedisServerProcess | PostgresServerProcess = request.getfixturevalue(f"{backend}_server")
    url: str = request.getfixturevalue(f"{backend}_url")
    try:
        await _run_through_outage(url, server.stop, server.start)
    finally:
        server.start()


@pytest.mark.parametrize(
    "template",
    [
        "redis://:s3cret-pw@127.0.0.1:{port}/0",
        "redis://app:s3cret-pw@127.0.0.1:{port}/0",
        "postgresql://app:s3cret-pw@127.0.0.1:{port}/postgres",
    ],
)
async def test_unreachable_store_is_one_line_without_password(template: str) -> None:
    port = free_port()  # nothing listens here
    store = open_store(template.format(port=port), group="g")
    try:
        for operation in (store.connect(), store.claim("k", lease_seconds=1), store.read_counters()):
            with pytest.raises(StoreUnavailableError) as caught:
                await operation
            message = str(caught.value)
            assert "\n" not in message
            assert "s3cret-pw" not in message
            assert f"127.0.0.1:{port}" in message
            assert "is unreachable" in message
    finally:
        await store.close()


async def test_wrong_redis_password_is_one_line_without_password(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://someone:s3cret-pw@")
    store = open_store(url, group="g")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.connect()
    finally:
        await store.close()
    message = str(caught.value)
    assert "\n" not in message and "s3cret-pw" not in message
    assert "password" in message


def _aiosqlite_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


async def test_unopenable_sqlite_file_is_one_line(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/missing-dir/dedup.db"
    before = _aiosqlite_workers()
    store = open_store(url, group="g")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.claim("k", lease_seconds=1)
        assert "\n" not in str(caught.value) and "missing-dir" in str(caught.value)
        # The failed open's worker thread has finished while this loop still runs: left behind, it
        # would hand its result to a closed loop ("Event loop is closed" in a later test).
        assert _aiosqlite_workers() == before
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:80/", "mysql://u:s3cret-pw@db/x", "redis-cluster", "sqlite://relative.db", "sqlite:///"],
)
async def test_bad_store_url_is_one_line(url: str) -> None:
    with pytest.raises(StoreUrlError) as caught:
        open_store(url, group="g")
    assert "\n" not in str(caught.value) and "s3cret-pw" not in str(caught.value)


async def test_sampling_a_non_redis_url_is_a_user_error() -> None:
    with pytest.raises(StoreUrlError, match="redis://"):
        await sample_foreign_keys("postgresql://u:s3cret-pw@127.0.0.1/x")


async def test_with_store_retry_gives_up_only_when_told(redis_server: RedisServerProcess, redis_url: str) -> None:
    async with open_store(redis_url, group="g") as store:
        waits: list[float] = []
        redis_server.stop()
        try:
            with pytest.raises(StoreUnavailableError):
                await with_store_retry(
                    lambda: store.claim("k", lease_seconds=1),
                    on_wait=lambda error, delay: waits.append(delay),
                    backoff=Backoff(initial_s=0.01, max_s=0.04),
                    give_up_after_s=0.2,
                )
        finally:
            redis_server.start()
        assert len(waits) >= 2 and max(waits) == 0.04  # backed off up to the cap
        claim = await store.claim("k", lease_seconds=1)  # reconnected by itself
        assert claim.owned
