"""Journey: on-call opens ``deliverytui`` with no group and sees every group of a real cluster, worst first.

30 groups in mixed states on a real broker: two Stable with a live consumer (classic and KIP-848
consumer protocol), twenty Empty with lag, seven Empty caught up, and one share group (read by a real
share consumer; listed through the Java helper — where the helper cannot run, the fleet shows the 29
others and the test says so). What is asserted is what a person
reads on screen: the table's rendered cells and the header's text.
"""

from __future__ import annotations

import pytest
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from deliverytui.cli import build_parser
from deliverytui.cli.tui import cluster_named, viewer_config
from deliverytui.errors import ExitCode
from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.screens.fleet import FleetScreen
from deliverytui.tui.screens.help import HelpScreen
from deliverytui.tui.screens.share_group import ShareGroupScreen
from deliverytui.tui.viewer_config import ViewerConfig
from deliverytui.tui.widgets.partitions_table import PartitionsTable
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, live_member, produce
from tests.share_helpers import share_consume
from tests.tui_helpers import wait_until

pytestmark = pytest.mark.kafka

SEVERITY = {"REWIND": 5, "STOP": 4, "STALL": 3, "WARN": 2, "OK": 1, "-": 0, "ERR": 0}


def table_rows(screen: FleetScreen) -> list[list[str]]:
    table = screen.query_one("#fleet-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def header(screen: FleetScreen) -> str:
    return str(screen.query_one("#fleet-header", Static).render())


def lag(text: str) -> int:
    return 0 if text == "-" else int(text.replace(",", ""))


def seed_thirty_groups(bootstrap: str, unique: str) -> tuple[dict[str, int], list]:
    topic = f"fleet-j-{unique}"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 40, 1: 40, 2: 40})
    expected: dict[str, int] = {}
    for i in range(20):  # Empty with lag: i + 1 records behind on partition 0, different for each
        group = f"fj-{unique}-lagging-{i:02d}"
        commit(bootstrap, group, {(topic, 0): 40 - (i + 1), (topic, 1): 40})
        expected[group] = i + 1
    for i in range(7):  # Empty, caught up
        group = f"fj-{unique}-idle-{i}"
        commit(bootstrap, group, {(topic, 0): 40, (topic, 1): 40, (topic, 2): 40})
        expected[group] = 0
    members = []
    for protocol in ("classic", "consumer"):  # Stable, a live member each (nothing committed: lag unknown)
        group = f"fj-{unique}-live-{protocol}"
        members.append(live_member(bootstrap, group, [topic], client_id=f"fj-{protocol}", protocol=protocol))
        expected[group] = 0
    share = f"fj-{unique}-queue"
    share_consume(bootstrap, topic, share, 0, settle=1.0)  # a real share group (Empty once its consumer left)
    expected[share] = 0
    return expected, members


async def test_fleet_of_thirty_groups_worst_first_filter_sort_open_and_back(bootstrap: str, unique: str) -> None:
    expected, members = seed_thirty_groups(bootstrap, unique)
    assert len(expected) == 30
    config = ViewerConfig(bootstrap=bootstrap, group="", refresh_seconds=1.0, request_timeout=20)
    try:
        app = DeliveryApp(config)
        async with app.run_test(size=(180, 50)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the fleet at start")
            fleet = app.screen
            # Only this test's groups (the session's broker holds others'): the filter, shown in the header.
            await pilot.press("slash", *f"fj-{unique}", "enter")
            share = f"fj-{unique}-queue"
            await wait_until(
                pilot, lambda: set(expected) - {share} <= {row[0] for row in table_rows(fleet)} and "Stable" in {r[2] for r in table_rows(fleet)},
                timeout=60, what="the classic and consumer groups on screen",
            )
            if app.shares.last_error is None:  # the Java helper runs: the share group is listed too
                await wait_until(pilot, lambda: share in {row[0] for row in table_rows(fleet)}, timeout=60, what="the share group")
            else:
                del expected[share]
                print(f"share group not listed: the Java helper cannot run ({app.shares.last_error})")
            assert {row[0] for row in table_rows(fleet)} == set(expected)
            assert f"~fj-{unique}" in header(fleet) and f"({len(expected)} shown)" in header(fleet)
            assert "sort: worst first" in header(fleet)
            rows = table_rows(fleet)
            assert {row[0]: lag(row[5]) for row in rows} == expected
            shown_states = {row[0]: row[2] for row in rows}
            assert shown_states[f"fj-{unique}-live-classic"] == "Stable" and shown_states[f"fj-{unique}-live-consumer"] == "Stable"
            assert {row[0]: row[1] for row in rows}[f"fj-{unique}-live-consumer"] == "consumer"
            assert shown_states[f"fj-{unique}-idle-0"] == "Empty"
            assert {row[0]: row[5] for row in rows}[f"fj-{unique}-live-classic"] == "-"  # nothing committed: lag unknown, as Kafka prints it
            if share in expected:
                assert {row[0]: (row[1], row[5]) for row in rows}[share] == ("share", "-")  # share lag not read by the fleet
            # Worst first: status severity, then lag, then name, as the rows read on screen.
            ranks = [(-SEVERITY[row[7]], -lag(row[5]), row[0]) for row in rows]
            assert ranks == sorted(ranks)
            assert rows[0][0] == f"fj-{unique}-lagging-19"  # the most lagging of the worst status

            # s: sort by lag, said in the header; the most lagging group comes first.
            await pilot.press("s")
            await wait_until(pilot, lambda: "sort: lag ↓" in header(fleet), what="the sort in the header")
            by_lag = table_rows(fleet)
            assert by_lag[0][0] == f"fj-{unique}-lagging-19"
            assert [lag(row[5]) for row in by_lag] == sorted((lag(row[5]) for row in by_lag), reverse=True)
            await pilot.press("s", "s")
            await wait_until(pilot, lambda: "sort: group ↑" in header(fleet), what="sorted by name")
            by_name = [row[0] for row in table_rows(fleet)]
            assert by_name == sorted(expected) and by_name[0] == f"fj-{unique}-idle-0" != rows[0][0]
            await pilot.press("s")  # a full cycle: worst first again
            await wait_until(pilot, lambda: "sort: worst first" in header(fleet), what="the sort cycled")
            assert [row[0] for row in table_rows(fleet)][0] == f"fj-{unique}-lagging-19"

            # A narrower filter: only the live groups.
            await pilot.press("slash", *f"fj-{unique}-live", "enter")
            await wait_until(pilot, lambda: len(table_rows(fleet)) == 2, what="the filter narrowed to 2")
            assert f"~fj-{unique}-live" in header(fleet) and "(2 shown)" in header(fleet)
            assert app.screen is fleet  # the Enter that applied the filter opened nothing
            target = table_rows(fleet)[0][0]

            # Enter: that group's live view, with its partitions.
            await pilot.press("enter")
            await wait_until(
                pilot, lambda: not isinstance(app.screen, FleetScreen) and app.update is not None and app.update.snapshot.group_id == target,
                timeout=60, what="the group's live view",
            )
            table = app.query_one(PartitionsTable)
            await wait_until(pilot, lambda: len(table.shown_keys) == 3, what="the group's three partitions")
            assert set(table.shown_keys) == {f"fleet-j-{unique}:{p}" for p in range(3)}
            assert target in app.title

            # Esc: back to the fleet, which refreshes again at once and keeps its filter.
            polls = fleet.polls_completed
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is fleet and fleet.polls_completed > polls, what="the fleet again")
            assert {row[0] for row in table_rows(fleet)} == {f"fj-{unique}-live-classic", f"fj-{unique}-live-consumer"}
            assert "deliverytui — fleet" in app.title

            if share in expected:  # Enter on a share group: its share view; g there: the fleet; Esc: the share view again
                await pilot.press("slash", *share, "enter")
                await wait_until(pilot, lambda: [row[0] for row in table_rows(fleet)] == [share], what="only the share group")
                await pilot.press("enter")
                await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen), timeout=60, what="the share view")
                await pilot.press("g")
                await wait_until(pilot, lambda: app.screen is fleet, what="the fleet from the share view")
                await pilot.press("escape", "escape")  # the first clears the filter, the second goes back
                await wait_until(pilot, lambda: isinstance(app.screen, ShareGroupScreen), what="the share view again")
                assert share in app.title
            await pilot.press("q")
        assert app.return_code in (0, None)

        # Started again: the fleet comes back with every group.
        again = DeliveryApp(config)
        async with again.run_test(size=(180, 50)) as pilot:
            await wait_until(pilot, lambda: isinstance(again.screen, FleetScreen), what="the fleet on restart")
            screen = again.screen
            await wait_until(pilot, lambda: set(expected) <= {row[0] for row in table_rows(screen)}, timeout=60, what="the groups again")
            assert "groups" in header(screen) and "not OK" in header(screen)
            await pilot.press("question_mark")  # the fleet's own keys and columns
            await wait_until(pilot, lambda: isinstance(again.screen, HelpScreen), what="the fleet's help")
            help_text = str(again.screen.query_one(VerticalScroll).query(Static).first().render())
            assert "Keys (fleet)" in help_text
            await pilot.press("escape")
            await wait_until(pilot, lambda: again.screen is screen, what="the fleet after its help")
            await pilot.press("q")
    finally:
        for member in members:
            member.close()


def test_bare_deliverytui_without_any_cluster_prints_help_and_says_what_to_pass(tmp_path) -> None:
    """No --bootstrap, --config, $KAFKA_BOOTSTRAP_SERVERS or running embedded broker: help, a hint, exit 2."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": "", "DELIVERYTUI_BROKER_DIR": str(tmp_path / "b"), "DELIVERYTUI_CLUSTER_DIR": str(tmp_path / "c")}
    result = run_cli(env=env)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout.startswith("usage: deliverytui")
    assert result.stderr.strip() == (
        "deliverytui: no cluster given: pass --bootstrap HOST:PORT (or --config FILE, $KAFKA_BOOTSTRAP_SERVERS, "
        "or `deliverytui broker start`) to see every group"
    )


def test_a_cluster_without_a_group_means_the_fleet() -> None:
    """``deliverytui --bootstrap B`` builds a viewer with no group: the app then opens the fleet (the journey above)."""
    args = build_parser().parse_args(["--bootstrap", "127.0.0.1:1"])
    assert args.command is None and cluster_named(args)
    assert viewer_config(args).group == ""


async def test_fleet_says_when_the_cluster_cannot_be_read() -> None:
    """The unreachable banner, as the group view's: no refresh yet, and when the next try comes."""
    app = DeliveryApp(ViewerConfig(bootstrap="127.0.0.1:1", group="", refresh_seconds=1.0, request_timeout=2))
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the fleet")
        fleet = app.screen
        banner = fleet.query_one("#fleet-banner", Static)
        await wait_until(pilot, lambda: banner.has_class("-visible"), timeout=30, what="the unreachable banner")
        text = str(banner.render())
        assert "127.0.0.1:1" in text and "no refresh yet; retrying in 1s" in text
        assert "no refresh yet" in header(fleet) and table_rows(fleet) == []
        await pilot.press("q")
