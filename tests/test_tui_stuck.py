"""Stuck on what? The record a stopped partition is stuck on, the transaction pinning an LSO, and skipping one record.

Every test runs against the real broker: a real poison record with hostile bytes at a group's committed
offset, a real transactional producer that begins a transaction and never commits, and, on the secured
broker, a real principal without Read on the topic.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from confluent_kafka import Producer
from textual.widgets import Button

from deliverytui.broker.distribution import KafkaSetupError
from deliverytui.kafka.record_time import RecordTimestampReader
from deliverytui.kafka.share_collector import ShareGroupCollector
from deliverytui.model import PartitionRow
from deliverytui.model.lag import LagStatus
from deliverytui.model.stuck import PINNED_LSO_REFRESHES, LsoPins
from deliverytui.model.text import escaped_bytes
from deliverytui.tui.app import DeliveryApp, ViewerConfig
from deliverytui.tui.screens.reset import ResetOffsetsScreen
from deliverytui.tui.stuck_diagnosis import StuckDiagnosis
from deliverytui.tui.widgets.stuck_panel import StuckPanel
from tests.helpers import run_cli
from tests.kafka_helpers import commit, create_topic, produce
from tests.security_fixtures import Secured, seed
from tests.test_security import tui_config
from tests.test_tui_live import SIZE, viewer
from tests.tui_helpers import shown, wait_until

pytestmark = pytest.mark.kafka

#: What a poison record from a hostile producer may hold: retitle, clear screen, NUL, CR, BEL.
HOSTILE_KEY = b"order-7\x1b]0;pwned\x07\x00\r"
HOSTILE_VALUE = b'{"amount": "\x1b[2J\x00NaN\r\x07"}' + b"x" * 300
HOSTILE_HEADERS = [("trace\x1b[31m", b"\x00\x07\r-id"), ("retry", b"3")]
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def panel_text(app: DeliveryApp) -> str:
    """The stuck panel as rendered ("" while it is hidden)."""
    panel = app.query_one(StuckPanel)
    return str(panel.render()) if panel.has_class("-visible") else ""


def produce_poison(bootstrap: str, topic: str) -> None:
    """Three good records, the poison one at offset 3, then two more."""
    produce(bootstrap, topic, {0: 3})
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    producer.produce(topic, key=HOSTILE_KEY, value=HOSTILE_VALUE, headers=HOSTILE_HEADERS, partition=0)
    assert producer.flush(30) == 0
    produce(bootstrap, topic, {0: 2})


def committed_by_cli(bootstrap: str, group: str) -> dict[int, int]:
    result = run_cli("snapshot", "--group", group, "--bootstrap", bootstrap, "--json")
    assert result.returncode == 0, result.stderr
    return {p["partition"]: p["committed_offset"] for p in json.loads(result.stdout)["partitions"]}


async def test_poison_record_shown_escaped_then_skipped_by_one(bootstrap: str, unique: str) -> None:
    topic, group = f"poison-{unique}", f"poison-{unique}"
    create_topic(bootstrap, topic, 2)
    produce_poison(bootstrap, topic)
    produce(bootstrap, topic, {1: 4})
    commit(bootstrap, group, {(topic, 0): 3, (topic, 1): 2})  # the consumer died on offset 3 and never committed past it
    app = viewer(bootstrap, group, allow_writes=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 2, what="rows")
        assert app.query_one("#partitions").selected_key == f"{topic}:0"
        await pilot.press("i")
        await wait_until(pilot, lambda: "record at the committed offset 3" in panel_text(app), what="the record")
        text = panel_text(app)
        assert RAW_CONTROL.search(text) is None, text
        assert RAW_CONTROL.search(app.export_screenshot()) is None
        assert "order-7\\x1b]0;pwned\\x07\\x00\\x0d" in text  # the key, every control character escaped
        assert '{"amount": "\\x1b[2J\\x00NaN\\x0d\\x07"}' in text and "(324 B)" in text and "…" in text  # first bytes of the value
        assert "trace\\x1b[31m=\\x00\\x07\\x0d-id" in text and "retry=3" in text  # headers
        assert "(343 B, timestamp 20" in text and "create" in text  # key + value size, CreateTime
        # k: the reset dialog, filled in with shift-by +1 on this partition only, its dry run shown.
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, ResetOffsetsScreen), what="reset dialog")
        dialog = app.screen
        await wait_until(pilot, lambda: dialog.plan is not None, what="dry run")
        plan = [(r.topic, r.partition, r.current_offset, r.new_offset, r.skipped) for r in dialog.plan.partitions]
        assert plan == [(topic, 0, 3, 4, 1)]
        assert "0 record(s) will be redelivered, 1 skipped" in str(dialog.query_one("#plan-summary").render())
        assert committed_by_cli(bootstrap, group) == {0: 3, 1: 2}  # the dry run wrote nothing
        assert not dialog.query_one("#execute", Button).disabled
        await pilot.click("#execute")
        await wait_until(pilot, lambda: not isinstance(app.screen, ResetOffsetsScreen), what="dialog to close")
    assert committed_by_cli(bootstrap, group) == {0: 4, 1: 2}  # exactly one record skipped, the other partition untouched


async def test_skip_in_a_read_only_view_is_a_dry_run_only(bootstrap: str, unique: str) -> None:
    topic, group = f"poison-ro-{unique}", f"poison-ro-{unique}"
    create_topic(bootstrap, topic, 1)
    produce_poison(bootstrap, topic)
    commit(bootstrap, group, {(topic, 0): 3})
    app = viewer(bootstrap, group)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(shown(app)) == 1, what="row")
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, ResetOffsetsScreen), what="reset dialog")
        dialog = app.screen
        await wait_until(pilot, lambda: dialog.plan is not None, what="dry run")
        assert [(r.current_offset, r.new_offset) for r in dialog.plan.partitions] == [(3, 4)]
        assert "start deliverytui with --allow-writes to execute" in str(dialog.query_one("#plan-summary").render())
        assert dialog.query_one("#execute", Button).disabled
    assert committed_by_cli(bootstrap, group) == {0: 3}


def test_stall_and_stop_partitions_show_their_record_unasked(bootstrap: str, unique: str) -> None:
    """The poll worker's side: STALL/STOP read the record at the committed offset, OK does not (no fetch for it)."""
    topic, group = f"poison-stop-{unique}", f"poison-stop-{unique}"
    create_topic(bootstrap, topic, 1)
    produce_poison(bootstrap, topic)
    reader = RecordTimestampReader(bootstrap, group_id=group)
    try:
        diagnosis = StuckDiagnosis(lambda: reader, lambda: None)
        row = PartitionRow(topic, 0, 3, None, None, 6, 6, 0, None, None, None)
        for status in (LagStatus.STOP, LagStatus.STALL):
            view = diagnosis.view(f"{topic}:0", {f"{topic}:0": row}, {f"{topic}:0": SimpleNamespace(status=status)})
            assert view is not None and view.record is not None and view.record.record is not None
            assert view.record.record.key == HOSTILE_KEY and view.record.record.offset == 3
            assert view.pinned is None  # LSO at the log end
        assert diagnosis.view(f"{topic}:0", {f"{topic}:0": row}, {f"{topic}:0": SimpleNamespace(status=LagStatus.OK)}) is None
    finally:
        reader.close()


def open_transaction(config: dict, topic: str, transactional_id: str) -> Producer:
    """A real transactional producer that begins a transaction, writes three records and never commits (the caller aborts)."""
    producer = Producer({**config, "transactional.id": transactional_id, "transaction.timeout.ms": 600_000})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"in-flight-{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    return producer


async def test_pinned_lso_names_the_open_transaction(bootstrap: str, unique: str) -> None:
    topic, group, transactional_id = f"pinned-{unique}", f"pinned-{unique}", f"payments-tx-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 5})
    commit(bootstrap, group, {(topic, 0): 5})
    producer = open_transaction({"bootstrap.servers": bootstrap}, topic, transactional_id)  # LSO 5, log end 8
    try:
        app = viewer(bootstrap, group)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(shown(app)) == 1, what="row")
            assert not app.shares.helper_running  # no JVM until the LSO has been pinned for N refreshes
            await wait_until(pilot, lambda: "transactional id" in panel_text(app), timeout=90, what="the transaction named")
            text = panel_text(app)
            assert "last stable offset pinned at 5 below log end 8 for" in text
            refreshes = int(re.search(r"for (\d+) refreshes", text).group(1))
            assert refreshes >= PINNED_LSO_REFRESHES
            assert re.search(r"producer id \d+ \(epoch \d+\)", text), text
            assert f"transactional id {transactional_id}" in text and "Ongoing" in text
            assert "from offset 5" in text and "started 20" in text and "open for" in text
            assert "kafka-transactions" in text
            assert app.shares.helpers_started == 1
    finally:
        producer.abort_transaction(30)


async def test_without_java_the_panel_says_why_the_transaction_is_not_named(bootstrap: str, unique: str) -> None:
    topic, group = f"nojava-{unique}", f"nojava-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 2})
    commit(bootstrap, group, {(topic, 0): 2})
    producer = open_transaction({"bootstrap.servers": bootstrap}, topic, f"nojava-tx-{unique}")

    def no_java() -> list[str]:
        raise KafkaSetupError("Java 17+ is needed for Kafka's Admin client: java was not found on PATH")

    try:
        app = DeliveryApp(
            ViewerConfig(bootstrap=bootstrap, group=group, refresh_seconds=0.3, request_timeout=5),
            share_collector_factory=lambda config, cancel: ShareGroupCollector(bootstrap, {}, helper_command=no_java),
        )
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "could not be named" in panel_text(app), timeout=60, what="the reason")
            text = panel_text(app)
            assert "last stable offset pinned at 2 below log end 5" in text
            assert "the transaction could not be named: Java 17+ is needed" in text and "open transaction:" not in text
    finally:
        producer.abort_transaction(30)


async def test_no_read_on_the_topic_is_one_line(secured: Secured, unique: str, tmp_path) -> None:
    """Record and transaction alike: a principal with Describe but no Read on the topic is told which ACL is missing."""
    topic, group = f"noread-{unique}", f"noread-{unique}"
    seed(secured.config("writer"), topic, {0: 4}, group, {(topic, 0): 1})
    producer = open_transaction(secured.config("admin"), topic, f"noread-tx-{unique}")  # pins the LSO at 4
    viewer_file = secured.add_principal(
        f"noread-{unique}", [("group", group, "literal", "describe"), ("topic", topic, "literal", "describe")], tmp_path
    )
    try:
        app = DeliveryApp(tui_config(viewer_file, group))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: shown(app) == [f"{topic}:0"], timeout=90, what="the row")
            await pilot.press("i")
            await wait_until(pilot, lambda: "record at the committed offset 1" in panel_text(app), timeout=60, what="the panel")
            missing = f"principal User:noread-{unique} lacks Read on topic {topic} (ACL needed: READ on TOPIC {topic})"
            assert missing in panel_text(app).splitlines()[1]
            await wait_until(pilot, lambda: "could not be named" in panel_text(app), timeout=120, what="the transaction line")
            line = next(line for line in panel_text(app).splitlines() if "could not be named" in line)
            assert missing in line and "DescribeProducers needs it" in line
    finally:
        producer.abort_transaction(30)


def test_record_bytes_and_pins_in_plain_data() -> None:
    """The pure parts: bytes shown escaped (not UTF-8 too), and N unmoved readings below the log end make a pin."""
    assert escaped_bytes(b"a\x1b[2J\x00\r\x07\xff\xfe", 64) == "a\\x1b[2J\\x00\\x0d\\x07\\xff\\xfe"
    assert escaped_bytes("é".encode() * 3, 3) == "é\\xc3"  # a character cut by the limit reads as its byte
    pins = LsoPins()
    readings = [(5, 8), (5, 8), (5, 9), (6, 9), (6, 9), (6, 9), (9, 9)]
    seen = [(pins.observe("t:0", lso, end), pins.pinned("t:0")) for lso, end in readings]
    assert seen == [(1, False), (2, False), (3, True), (1, False), (2, False), (3, True), (0, False)]
    assert PINNED_LSO_REFRESHES == 3
