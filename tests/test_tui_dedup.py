"""The dedup panel reads live counters from a real store, or says its figures are estimates."""

from __future__ import annotations

import pytest
import redis

from deliverytui.dedup import open_store
from deliverytui.tui.widgets.panels import DedupPanel, EventLog
from tests.kafka_helpers import commit, create_topic
from tests.test_tui_live import SIZE, viewer
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka


def panel_text(app) -> str:
    return str(app.query_one(DedupPanel).render())


def _idle_group(bootstrap: str, name: str) -> str:
    """A group named ``name`` with offset 0 committed on a one-partition topic of the same name."""
    create_topic(bootstrap, name, 1)
    commit(bootstrap, name, {(name, 0): 0})
    return name


async def _claims(url: str, group: str) -> None:
    async with open_store(url, group=group) as store:
        for key in ("e1", "e2", "e3"):
            claim = await store.claim(key, lease_seconds=30)
            await store.complete(key, claim.token)
        for key in ("e1", "e2"):
            await store.claim(key, lease_seconds=30)  # redeliveries: caught


@pytest.mark.parametrize("backend", ["redis_url", "sqlite_url", "postgres_url"])
async def test_panel_shows_counters_written_by_another_client(
    backend: str, request: pytest.FixtureRequest, bootstrap: str, unique: str
) -> None:
    url = request.getfixturevalue(backend)
    group = _idle_group(bootstrap, f"dedup-{unique}")
    await _claims(url, group)
    app = viewer(bootstrap, group, dedup_url=url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "hits 2" in panel_text(app), what="dedup counters")
        text = panel_text(app)
        assert "misses 3" in text and "ESTIMATES" not in text
        await _claims(url, group)  # 3 more duplicates + 2 more
        await wait_until(pilot, lambda: "hits 7" in panel_text(app), what="counters to move")
        await wait_until(pilot, lambda: "hits/s" in panel_text(app), what="rates over the last minute")


async def test_foreign_redis_store_is_sampled_and_marked_estimated(redis_url: str, bootstrap: str, unique: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.mset({f"processed:{i}": "1" for i in range(500)})
    client.mset({f"session:{i}": "x" for i in range(500)})
    group = _idle_group(bootstrap, f"foreign-{unique}")
    app = viewer(bootstrap, group, dedup_url=redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "ESTIMATES" in panel_text(app), what="estimate banner")
        assert "500 under 'processed:'" in panel_text(app)


async def test_store_down_is_one_line_and_recovers(redis_server, redis_url: str, bootstrap: str, unique: str) -> None:
    group = _idle_group(bootstrap, f"down-{unique}")
    await _claims(redis_url, group)
    app = viewer(bootstrap, group, dedup_url=redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "hits 2" in panel_text(app), what="counters")
        redis_server.stop()
        try:
            await wait_until(pilot, lambda: "unreachable" in panel_text(app), what="store down line")
            assert "Traceback" not in panel_text(app)
        finally:
            redis_server.start()
        await wait_until(pilot, lambda: "hits 2" in panel_text(app), timeout=40, what="recovery")
        log = "\n".join(app.query_one(EventLog).entries)
        assert "dedup store down" in log and "dedup store reachable again" in log


async def test_without_dedup_url_one_line_says_how(bootstrap: str, unique: str) -> None:
    app = viewer(bootstrap, f"none-{unique}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert "--dedup" in panel_text(app)
