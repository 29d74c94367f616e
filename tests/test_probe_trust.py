"""The probe's trust model: a position is a consumer's own claim, so one whose reporter is not a current member
of the group is shown as "unverified", never as fact (issue #13, finding 4).

Anyone with Write on ``__deliverytui_probe`` can publish a record for any group under any client id. These
tests forge one with a plain producer for a group that has no member, and check that ``snapshot --positions``
(JSON and text) and the live view call it unverified; a real member's report stays verified.
"""

from __future__ import annotations

import json
import threading

import pytest
from confluent_kafka import Consumer, Producer

from deliverytui.kafka.probe_positions import PositionCollector
from deliverytui.probe import (
    DEFAULT_PROBE_TOPIC,
    ProbePublisher,
    attach_probe,
    encode_probe_key,
    encode_probe_record,
    probe_of,
)
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from tests.helpers import run_cli, wait_for
from tests.kafka_helpers import (
    commit,
    consume_committing_once,
    create_topic,
    produce,
    start_probed_member,
    stop_probed_member,
)
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka


def forge_position(
    bootstrap: str, group: str, topic: str, *, client_id: str, position: int, committed: int,
    probe_topic: str = DEFAULT_PROBE_TOPIC,
) -> None:
    """What a writer on the probe topic can do: claim a position for ``group`` under any ``client_id``."""
    creator = ProbePublisher(bootstrap, f"creator-{group}", "creator", topic=probe_topic)  # creates the topic
    assert creator.wait_until_ready(30), creator.counters
    creator.close()
    producer = Producer({"bootstrap.servers": bootstrap})
    value = encode_probe_record(
        group=group, client_id=client_id, reporter=f"forger:{client_id}", source="librdkafka-stats",
        partitions=[[topic, 0, position, committed]], interval_ms=600_000,
    )
    producer.produce(probe_topic, key=encode_probe_key(group, f"forger:{client_id}"), value=value)
    assert producer.flush(30) == 0


def empty_group_with_forged_position(bootstrap: str, unique: str) -> tuple[str, str]:
    """A group with a commit of 5 and no member, and a forged report "position 8, committed 5" for it."""
    topic, group = f"trust-{unique}", f"trust-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 10})
    commit(bootstrap, group, {(topic, 0): 5})
    forge_position(bootstrap, group, topic, client_id="billing-1", position=8, committed=5)
    return topic, group


def test_snapshot_marks_a_forged_position_unverified(bootstrap: str, unique: str) -> None:
    topic, group = empty_group_with_forged_position(bootstrap, unique)

    result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--positions", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["state"] == "Empty" and data["members"] == []
    [entry] = [p for p in data["positions"]["partitions"] if p["topic"] == topic]
    assert (entry["position"], entry["committed"], entry["client_id"]) == (8, 5, "billing-1")
    assert entry["verified"] is False

    text = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--positions")
    assert text.returncode == 0, text.stderr
    [row] = [line for line in text.stdout.splitlines() if line.startswith(topic) and "billing-1" in line]
    gap = row.split("billing-1", 1)[1]
    assert " no " in row and "unverified: billing-1 is not a current member of the group" in gap, row
    assert not gap.split()[1].startswith("3"), f"the forged gap is stated as fact: {row}"


def test_snapshot_reads_a_groups_own_probe_topic(bootstrap: str, unique: str) -> None:
    """One probe topic per group (what per-group prefixed ACLs need): ``--probe-topic`` reads it, and checks it."""
    topic, group = f"trust-own-{unique}", f"trust-own-{unique}"
    probe_topic = f"__deliverytui_probe.{group}"
    create_topic(bootstrap, topic, 1)
    commit(bootstrap, group, {(topic, 0): 0})
    forge_position(bootstrap, group, topic, client_id="billing-2", position=3, committed=0, probe_topic=probe_topic)

    result = run_cli(
        "snapshot", "--bootstrap", bootstrap, "--group", group, "--positions", "--probe-topic", probe_topic, "--json"
    )
    assert result.returncode == 0, result.stderr
    positions = json.loads(result.stdout)["positions"]
    assert positions["probe_topic"] == probe_topic
    assert [(p["topic"], p["client_id"], p["verified"]) for p in positions["partitions"]] == [(topic, "billing-2", False)]


def test_snapshot_verifies_a_real_members_position(bootstrap: str, unique: str) -> None:
    """A subscribed consumer with the probe attached: processed 10, committed 5, and it is a member."""
    topic, group = f"trust-real-{unique}", f"trust-real-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 10})
    config = attach_probe(
        {"bootstrap.servers": bootstrap, "group.id": group, "client.id": f"real-{unique}",
         "enable.auto.commit": False, "auto.offset.reset": "earliest"},
        interval_ms=300,
    )
    consumer = Consumer(config)
    probe_of(config).bind_consumer(consumer)  # its reports carry its member id, which must match
    consumer.subscribe([topic])
    stop = threading.Event()
    member = threading.Thread(target=consume_committing_once, args=(consumer, stop, 5))
    member.start()
    try:
        with PositionCollector(bootstrap, None, group) as collector:
            wait_for(
                lambda: (e := collector.poll(0.2).get(topic, 0)) is not None and (e.position, e.committed) == (10, 5),
                40, "the member's report of position 10, committed 5",
            )
        result = run_cli("snapshot", "--bootstrap", bootstrap, "--group", group, "--positions", "--json")
    finally:
        stop.set()
        member.join()
        consumer.close()
        probe_of(config).close()
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [entry] = [p for p in data["positions"]["partitions"] if p["topic"] == topic]
    assert entry["client_id"] == f"real-{unique}" and entry["member_id"] in [m["member_id"] for m in data["members"]]
    assert entry["verified"] is True
    assert (entry["gap"], entry["gap_count"]) == ("processed-not-committed", 5)


async def test_live_view_shows_a_forged_position_as_unverified(bootstrap: str, unique: str) -> None:
    from deliverytui.tui.widgets.panels import SelectedPartitionPanel

    topic, group = empty_group_with_forged_position(bootstrap, unique)
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5))
    async with app.run_test(size=(160, 48)) as pilot:
        key = f"{topic}:0"
        await wait_until(pilot, lambda: cell(app, key, "position") == "8?", timeout=40, what="the forged position, marked")
        panel = app.query_one(SelectedPartitionPanel)
        await wait_until(pilot, lambda: "unverified: billing-1 is not a current member" in str(panel.render()),
                         timeout=20, what="the panel saying unverified")
        from deliverytui.tui.widgets.partitions_table import PartitionsTable

        assert "yellow" not in app.query_one(PartitionsTable).get_cell(key, "position").style
        assert app.update is not None and "unverified (not current members): billing-1" in app.update.positions_note


async def test_live_view_keeps_a_real_members_position_verified(bootstrap: str, unique: str) -> None:
    """The same view on a real member: the position is stated, with no "unverified" anywhere. This member's
    reports carry no member id (the consumer is not bound to its probe), so its client id is what matches."""
    from deliverytui.tui.widgets.panels import SelectedPartitionPanel

    topic, group = f"trust-live-{unique}", f"trust-live-{unique}"
    consumer, config, stop, loop_done = start_probed_member(bootstrap, topic, group, interval_ms=300)
    app = DeliveryApp(ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            key = f"{topic}:0"
            await wait_until(pilot, lambda: cell(app, key, "position") == "10", timeout=40, what="position 10")
            panel = app.query_one(SelectedPartitionPanel)
            await wait_until(pilot, lambda: "5 processed, not committed" in str(panel.render()), timeout=20, what="gap")
            assert "unverified" not in str(panel.render())
            assert app.update is not None and "unverified" not in app.update.positions_note
            assert app.update.positions[key].verified is True  # checked against the members, not merely unflagged
    finally:
        await stop_probed_member(stop, loop_done, consumer, config)
