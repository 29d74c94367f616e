"""Pure parts of the dedup library: rates from counter reads, URLs, identifiers, backoff."""

from __future__ import annotations

import pytest

from deliverytui.dedup import Backoff, StoreUrlError, redact_url
from deliverytui.dedup.errors import DedupStoreError
from deliverytui.dedup.identifiers import identifier_parts, sqlite_quoted
from deliverytui.dedup.url import Backend, parse_store_url
from deliverytui.model.dedup import ClaimOutcome, CounterSample, DedupCounters, rate_over_window


def _sample(at: float, hits: int, misses: int, retakes: int = 0, errors: int = 0) -> CounterSample:
    return CounterSample(at=at, counters=DedupCounters("g", hits=hits, misses=misses, retakes=retakes, errors=errors))


def test_rates_use_the_oldest_sample_inside_the_window() -> None:
    samples = [_sample(0, 0, 0), _sample(30, 10, 50), _sample(60, 40, 110, retakes=3, errors=6)]
    rates = rate_over_window(samples, window_s=45)
    assert rates is not None
    assert rates.window_s == 30
    assert rates.hits_per_s == (40 - 10) / 30
    assert rates.misses_per_s == (110 - 50) / 30
    assert rates.retakes_per_s == 3 / 30
    assert rates.errors_per_s == 6 / 30
    assert rates.hit_ratio == 30 / (30 + 60 + 3)


def test_rates_need_two_samples_in_the_window() -> None:
    assert rate_over_window([_sample(0, 1, 1)], window_s=60) is None
    assert rate_over_window([_sample(0, 1, 1), _sample(120, 5, 5)], window_s=60) is None
    with pytest.raises(ValueError):
        rate_over_window([_sample(0, 1, 1), _sample(1, 2, 2)], window_s=0)


def test_a_counter_reset_never_shows_as_a_negative_rate() -> None:
    samples = [_sample(0, 100, 100), _sample(10, 200, 200), _sample(20, 5, 5), _sample(30, 25, 15)]
    rates = rate_over_window(samples, window_s=60)
    assert rates is not None
    assert rates.window_s == 10 and rates.hits_per_s == 2.0 and rates.misses_per_s == 1.0


def test_idle_window_has_no_hit_ratio() -> None:
    rates = rate_over_window([_sample(0, 5, 5), _sample(10, 5, 5)], window_s=60)
    assert rates is not None and rates.hits_per_s == 0 and rates.hit_ratio is None


def test_counter_totals() -> None:
    counters = DedupCounters("g", hits=3, misses=5, retakes=1, in_progress=1)
    assert counters.decisions == 10 and counters.hit_ratio == 0.3
    assert DedupCounters("g").hit_ratio is None
    assert [o for o in ClaimOutcome if o.owned] == [ClaimOutcome.FIRST, ClaimOutcome.RETAKEN]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://user:pw@h/1", "rediss://user:***@h/1"),
        ("postgresql://u:p%40ss@db:5432/app?sslmode=require", "postgresql://u:***@db:5432/app?sslmode=require"),
        ("postgres://u@db/app", "postgres://u@db/app"),
        ("sqlite:////var/lib/x.db", "sqlite:////var/lib/x.db"),
    ],
)
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert parse_store_url(url).display == shown


def test_sqlite_paths_follow_the_sqlalchemy_convention() -> None:
    assert parse_store_url("sqlite:///rel/x.db").sqlite_path == "rel/x.db"
    assert parse_store_url("sqlite:////abs/x.db").sqlite_path == "/abs/x.db"
    assert parse_store_url("sqlite:///:memory:").sqlite_path == ":memory:"
    assert parse_store_url("postgres://db/app").backend is Backend.POSTGRESQL


@pytest.mark.parametrize("url", ["redis://", "redis://h:notaport/0", "postgresql://h:99999999/x", "ftp://h"])
def test_malformed_urls_are_user_errors(url: str) -> None:
    with pytest.raises(StoreUrlError):
        parse_store_url(url)


def test_identifiers_allow_only_plain_names() -> None:
    assert identifier_parts("public.tasks", qualified=True) == ("public", "tasks")
    assert sqlite_quoted("tasks") == '"tasks"'
    for bad in ["", "a b", 'x"y', "1abc", "a.b.c", "a;b", "x" * 64]:
        with pytest.raises(DedupStoreError):
            identifier_parts(bad, qualified=True)
    with pytest.raises(DedupStoreError):
        identifier_parts("public.tasks")  # not qualified where a column is expected


def test_backoff_grows_to_its_cap() -> None:
    delays = Backoff(initial_s=0.1, max_s=0.5, factor=2).delays()
    assert [next(delays) for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_a_named_cause_keeps_the_rebalance_in_the_explanation() -> None:
    """A kill names why the first attempt never committed; the line must still say how the event came back."""
    from deliverytui.model.demo import REBALANCE, RESTART, Attempt, Redelivery

    first = Attempt("2:12260", 2, 20, 1.0)
    elsewhere = Attempt("1:12242", 2, 20, 2.0)
    killed = Redelivery("evt-1", REBALANCE, (first, elsewhere), because="a kill (SIGKILL from the lab)")
    line = killed.explain()
    assert "a kill (SIGKILL from the lab)" in line and "rebalance" in line and "instance 1 (pid 12242)" in line
    restarted = Redelivery("evt-2", RESTART, (first, Attempt("2:13000", 2, 20, 3.0)), because="a crash at after-effect")
    assert "a crash at after-effect" in restarted.explain() and "restarted" in restarted.explain()
    assert "\n" not in line
