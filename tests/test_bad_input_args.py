"""Issue #13, finding 10: bad command-line values get one actionable line and a documented exit code.

Each case runs the real CLI; none may print a traceback, the whole help, or echo a huge value back.
"""

from __future__ import annotations

import pytest

from deliverytui.errors import ExitCode
from deliverytui.model.text import NAME_LIMIT
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.widgets.panels import ConnectionBanner, GroupHeader
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic
from tests.tui_helpers import wait_until

LONG_GROUP = "g" * 10_000


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["snapshot", "--group", ""], "a consumer group id cannot be empty"),
        (["reset", "--group", "", "--all-topics", "--to-latest"], "a consumer group id cannot be empty"),
        (["--group", ""], "a consumer group id cannot be empty"),
        (["groups", "--type", "classic,queue"], "'queue': choose from classic, consumer, share"),
        (["--group", "billing", "--refresh", "0"], "must be at least 0.2 seconds, got 0"),
        (["--group", "billing", "--refresh", "-1"], "must be at least 0.2 seconds, got -1"),
        (["--group", "billing", "--refresh", "nan"], "must be at least 0.2 seconds"),
        (["demo", "--headless", "--semantic", "at-least-once", "--events", "-5"], "argument --events: must be at least 1, got -5"),
        (["demo", "--headless", "--semantic", "at-least-once", "--crashes", "-1"], "argument --crashes: must be 0 or more, got -1"),
        (["demo", "--headless", "--semantic", "queue", "--poison", "-1"], "argument --poison: must be 0 or more, got -1"),
        (["demo", "--headless", "--semantic", "queue", "--events", "3", "--poison", "5"], "--poison must be between 0 and --events (3), got 5"),
        (["snapshot", "--group", "g", "--bogus", "\x1b]0;pwned\x07"], "unrecognized arguments: --bogus \\x1b]0;pwned\\x07"),
    ],
)
def test_bad_values_are_one_usage_line(args: list[str], says: str) -> None:
    result = run_cli(*args, timeout=30)
    assert result.returncode == ExitCode.USAGE, result
    assert says in one_error_line(result.stderr)
    assert result.stdout == ""  # not the help


@pytest.mark.kafka
def test_a_huge_group_name_is_shortened_in_the_error(bootstrap: str, unique: str) -> None:
    # A group coordinator that is up first (on a fresh broker, librdkafka may crash on the first
    # offset fetch: issue #13 finding 9, not this test's subject).
    create_topic(bootstrap, f"warm-{unique}", 1)
    commit(bootstrap, f"warm-{unique}", {(f"warm-{unique}", 0): 0})
    result = run_cli("snapshot", "--group", LONG_GROUP, "--bootstrap", bootstrap, "--timeout", "10")
    assert result.returncode == ExitCode.GROUP_NOT_FOUND, result.stderr
    line = one_error_line(result.stderr)
    assert len(line) < 300 and "g" * (NAME_LIMIT - 1) + "…" in line


@pytest.mark.kafka
async def test_a_huge_group_name_is_shortened_in_the_header(bootstrap: str) -> None:
    """The header and the banner show the name cut with an ellipsis; the view still asks Kafka for the exact id."""
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=LONG_GROUP, refresh_seconds=0.3, request_timeout=5))
    async with app.run_test(size=(160, 40)) as pilot:
        banner = app.query_one(ConnectionBanner)
        await wait_until(pilot, lambda: banner.has_class("-visible"), what="the unknown-group banner")
        header = str(app.query_one(GroupHeader).content)
        assert "g" * (NAME_LIMIT - 1) + "…" in header and "g" * NAME_LIMIT not in header
        assert "does not exist" in str(banner.content) and "g" * NAME_LIMIT not in str(banner.content)
        assert app.group == LONG_GROUP
