"""Journey 2.7 (shared JOURNEYS.md): under a read-only principal, everything in the on-call journey except the
write works, with zero authorization denials.

As the secured broker's ``reader`` (its ready ``client-reader.properties``: Describe and Read on topics,
Describe on groups), on real processes, twice in a row on the same state: the live view of a group, the
group picker (``g``) and entering another group, ``snapshot``, ``groups``, a reset dry run; then the
write, refused in one line. The broker's authorizer log, which records every decision (denials at INFO,
grants at DEBUG: tests/security_fixtures.py), counts the reader's denials during the read-only steps: 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import OptionList

from deliverytui.cli import build_parser, viewer_config
from deliverytui.errors import ExitCode
from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.screens.group_picker import GroupPickerScreen
from deliverytui.tui.widgets.panels import ConnectionBanner, EventLog
from tests.helpers import run_cli
from tests.security_fixtures import Secured, commit, seed
from tests.tui_helpers import cell, shown, wait_until

pytestmark = pytest.mark.kafka
NO_ENV_BOOTSTRAP = {"KAFKA_BOOTSTRAP_SERVERS": ""}  # the client file's bootstrap.servers is the cluster


def reader_decisions(secured: Secured) -> list[dict[str, str]]:
    return secured.audit("reader")


async def walk_the_live_view(reader: Path, first: str, second: str, topic: str) -> None:
    """Journey 2.1-2.2 on screen: the first group's partitions, then ``g``, pick the second, its partitions."""
    args = build_parser().parse_args(["--group", first, "--config", str(reader), "--refresh", "0.3", "--timeout", "15"])
    app = DeliveryApp(viewer_config(args))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: sorted(shown(app)) == [f"{topic}:0", f"{topic}:1"], timeout=90, what=f"{first}'s rows")
        await wait_until(pilot, lambda: cell(app, f"{topic}:1", "lag") == "4", timeout=60, what=f"{first}'s lag")
        assert cell(app, f"{topic}:0", "committed") == "5" and cell(app, f"{topic}:0", "lag") == "0"

        await pilot.press("G")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupPickerScreen), timeout=60, what="the group picker")
        assert {first, second} <= {g.group_id for g in app.screen.groups}
        options = app.screen.query_one(OptionList)
        options.focus()
        options.highlighted = [g.group_id for g in app.screen.groups].index(second)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.group == second, timeout=30, what="entering the second group")
        await wait_until(pilot, lambda: cell(app, f"{topic}:0", "committed") == "1", timeout=60, what=f"{second}'s rows")
        assert cell(app, f"{topic}:0", "lag") == "4" and cell(app, f"{topic}:1", "lag") == "6"
        polls = app.polls_completed
        await wait_until(pilot, lambda: app.polls_completed >= polls + 2, timeout=60, what="two more refreshes")
        assert not app.query_one(ConnectionBanner).has_class("-visible")
        assert "authoriz" not in "\n".join(app.query_one(EventLog).entries).lower()

        await pilot.press("r")  # the write, in the view: refused without --allow-writes, nothing opens
        await wait_until(
            pilot, lambda: any("needs --allow-writes" in n.message for n in app._notifications), what="the refusal"
        )
        assert app.screen is app.screen_stack[0]


def walk_the_cli(reader: Path, first: str, second: str, topic: str) -> None:
    """Journey 2.1 and 2.6 in the CLI: snapshot, groups, the reset's dry run."""
    snap = run_cli("snapshot", "--group", second, "--config", str(reader), "--json", env=NO_ENV_BOOTSTRAP)
    assert snap.returncode == 0, snap.stderr
    data = json.loads(snap.stdout)
    assert [(p["partition"], p["committed_offset"], p["lag"]) for p in data["partitions"]] == [(0, 1, 4), (1, 4, 6)]
    text = run_cli("snapshot", "--group", first, "--config", str(reader), env=NO_ENV_BOOTSTRAP)
    assert text.returncode == 0 and "total lag 4" in text.stdout, text.stderr
    groups = run_cli("groups", "--config", str(reader), "--json", env=NO_ENV_BOOTSTRAP)
    assert groups.returncode == 0, groups.stderr
    assert {first, second} <= {g["group"] for g in json.loads(groups.stdout)}
    dry = run_cli(
        "reset", "--group", second, "--topic", topic, "--to-earliest", "--config", str(reader), "--json", env=NO_ENV_BOOTSTRAP
    )
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["executed"] is False
    assert [(p["partition"], p["current_offset"], p["new_offset"], p["redelivered"]) for p in plan["partitions"]] == [
        (0, 1, 0, 1), (1, 4, 0, 4),
    ]


async def test_read_only_on_call_journey_has_no_denial_and_the_write_is_refused(secured: Secured, unique: str) -> None:
    topic, first, second = f"oncall-{unique}", f"oncall-billing-{unique}", f"oncall-audit-{unique}"
    writer = secured.config("writer")
    seed(writer, topic, {0: 5, 1: 10}, first, {(topic, 0): 5, (topic, 1): 6})
    commit(writer, second, {(topic, 0): 1, (topic, 1): 4})
    reader = secured.config_file("reader")

    for attempt in (1, 2):  # a journey holds twice in a row on the same state
        before = len(reader_decisions(secured))
        await walk_the_live_view(reader, first, second, topic)
        walk_the_cli(reader, first, second, topic)
        during = reader_decisions(secured)[before:]
        assert during, "the authorizer log recorded nothing for the reader: the count below would mean nothing"
        denied = [e for e in during if e["decision"] == "Denied"]
        assert denied == [], f"walk {attempt}: {denied[:5]}"
        assert {e["operation"] for e in during} <= {"DESCRIBE", "READ"}

        # The one write of the journey: refused in one line, NOT_AUTHORIZED, and nothing changed.
        execute = run_cli(
            "reset", "--group", second, "--topic", topic, "--to-earliest", "--execute", "--config", str(reader), env=NO_ENV_BOOTSTRAP
        )
        assert execute.returncode == ExitCode.NOT_AUTHORIZED, execute.stderr
        assert execute.stderr.count("\n") == 1 and "Traceback" not in execute.stderr and "not authorized" in execute.stderr
        after = json.loads(run_cli("snapshot", "--group", second, "--config", str(reader), "--json", env=NO_ENV_BOOTSTRAP).stdout)
        assert [p["committed_offset"] for p in after["partitions"]] == [1, 4]
        # The refusal is the broker's: it is in the log as the reader's only denial, on the group.
        denials = [e for e in reader_decisions(secured)[before:] if e["decision"] == "Denied"]
        assert denials and {e["resource"] for e in denials} == {f"Group:LITERAL:{second}"}
