"""``deliverytui record`` against the real broker: frames as the live view computes them, alerts, refusals, a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from deliverytui.errors import ExitCode
from deliverytui.model.recording import RecordedFrame
from deliverytui.recorder.store import RecordingReader
from deliverytui.tui.fetch import GroupFetcher
from deliverytui.tui.viewer_config import ViewerConfig
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.kafka_helpers import commit, create_topic, produce

pytestmark = pytest.mark.kafka


def recorded(path: Path) -> list[RecordedFrame]:
    reader = RecordingReader(path)
    try:
        return list(reader.frames(0, len(reader.instants())))
    finally:
        reader.close()


def start_record(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "deliverytui", "record", *args], cwd=REPO_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
    )


class Replayed:
    """The recorded snapshots, served in order to the live view's own GroupFetcher (only the Kafka client replaced)."""

    def __init__(self, frames: list[RecordedFrame]) -> None:
        self.snapshots = iter([f.snapshot for f in frames if f.snapshot is not None])

    def snapshot(self, group_id: str):
        return next(self.snapshots)

    def close(self) -> None:
        pass


def test_record_duration_stores_what_the_live_view_computes(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, group = f"rec-{unique}", f"rec-{unique}"
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 30, 1: 20, 2: 10})
    commit(bootstrap, group, {(topic, 0): 30, (topic, 1): 5, (topic, 2): 0})
    stay = threading.Event()
    member = threading.Thread(target=consume_slowly, args=(bootstrap, group, topic, stay), daemon=True)
    out = tmp_path / "rec.db"
    proc = start_record("--bootstrap", bootstrap, "--group", group, "--out", str(out),
                        "--duration", "12s", "--refresh", "0.5", "--timeout", "5")
    try:
        wait_for(lambda: out.exists() and recorded(out), 30, "the first frame")
        member.start()  # joins while recording: a "member joined" and a rebalance to record
        _, stderr = proc.communicate(timeout=60)
    finally:
        stay.set()
        if member.is_alive():
            member.join(30)
    assert proc.returncode == 0, stderr
    assert f"recorded {len(recorded(out))} frame(s) to {out}" in stderr
    frames = recorded(out)
    assert len(frames) >= 8 and all(f.snapshot is not None and f.failure is None for f in frames)
    assert frames[0].events[0][0].startswith(f"attached to {group}")
    assert any("member joined" in text for f in frames for text, _ in f.events)
    # The live view's own pipeline, fed the same snapshots, computes the same statuses and event lines.
    fetcher = GroupFetcher(ViewerConfig(bootstrap=bootstrap, group=group), group, threading.Event(),
                           inspector=Replayed(frames), read_positions=False)
    for frame in frames:
        update = fetcher.fetch()
        assert update.snapshot == frame.snapshot
        assert frame.group_status == update.group_status
        assert dict(frame.statuses) == {key: view.status.value for key, view in update.lag_partitions.items()}
        assert frame.events == update.events
    assert {frame.statuses.get(f"{topic}:0") for frame in frames} == {"OK"}


def consume_slowly(bootstrap: str, group: str, topic: str, stay: threading.Event) -> None:
    """A member that commits one record every 0.3 s: offsets move, a rebalance is seen."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "rec-member",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        while not stay.wait(0.3):
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()


HOOK = """
import json, os, sys
payload = json.loads(sys.stdin.read())
payload["secret_seen"] = "REDISCLI_AUTH" in os.environ
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(payload) + "\\n")
"""


def test_alert_hook_hears_ok_to_stop_and_back(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, group = f"alert-{unique}", f"alert-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 5})
    commit(bootstrap, group, {(topic, 0): 5})  # caught up, nobody in the group: OK
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    heard = tmp_path / "alerts.jsonl"
    out = tmp_path / "rec.db"
    alert = f"{sys.executable} {hook} {heard}"
    proc = start_record("--bootstrap", bootstrap, "--group", group, "--out", str(out), "--refresh", "0.5",
                        "--timeout", "5", "--alert", alert, env={"REDISCLI_AUTH": "not-for-hooks"})

    def alerts() -> list[dict]:
        return [json.loads(line) for line in heard.read_text().splitlines()] if heard.exists() else []

    try:
        wait_for(lambda: out.exists() and any(f.group_status == "OK" for f in recorded(out)), 30, "an OK frame")
        produce(bootstrap, topic, {0: 5})  # lag 5, no consumer: STOP once the commit is 10 s old
        wait_for(lambda: any(a["to"] == "STOP" for a in alerts()), 40, "the OK → STOP alert")
        commit(bootstrap, group, {(topic, 0): 10})  # caught up again
        wait_for(lambda: any(a["to"] == "OK" for a in alerts()), 30, "the STOP → OK alert")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    stop, back = alerts()[:2]
    assert (stop["group"], stop["from"], stop["to"], stop["total_lag"]) == (group, "OK", "STOP", 5)
    assert stop["partitions"] == [{"partition": f"{topic}:0", "from": "OK", "to": "STOP"}]
    assert datetime.fromisoformat(stop["at"]).tzinfo is not None
    assert (back["from"], back["to"], back["total_lag"]) == ("STOP", "OK", 0)
    assert not stop["secret_seen"] and not back["secret_seen"]  # the store password never reaches a hook
    statuses = [f.group_status for f in recorded(out)]
    first_stop = statuses.index("STOP")
    assert "OK" in statuses[:first_stop] and "OK" in statuses[first_stop:]


def test_a_failing_hook_is_an_event_not_an_error(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, group = f"alertfail-{unique}", f"alertfail-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 5})
    commit(bootstrap, group, {(topic, 0): 5})
    out = tmp_path / "rec.db"
    proc = start_record("--bootstrap", bootstrap, "--group", group, "--out", str(out), "--refresh", "0.5",
                        "--timeout", "5", "--alert", f"{sys.executable} -c 'import sys; sys.exit(3)'")
    try:
        wait_for(lambda: out.exists() and any(f.group_status == "OK" for f in recorded(out)), 30, "an OK frame")
        produce(bootstrap, topic, {0: 5})

        def failed_line() -> bool:
            return any("failed (exit 3)" in text for f in recorded(out) for text, _ in f.events)

        wait_for(failed_line, 45, "the hook's failure in the recording")
        assert proc.poll() is None  # still recording
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_record_refuses_a_file_of_another_group(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic = f"refuse-{unique}"
    create_topic(bootstrap, topic, 1)
    commit(bootstrap, f"a-{unique}", {(topic, 0): 0})
    commit(bootstrap, f"b-{unique}", {(topic, 0): 0})
    out = tmp_path / "rec.db"
    first = run_cli("record", "--bootstrap", bootstrap, "--group", f"a-{unique}", "--out", str(out), "--duration", "1")
    assert first.returncode == 0, first.stderr
    again = run_cli("record", "--bootstrap", bootstrap, "--group", f"a-{unique}", "--out", str(out), "--duration", "1")
    assert again.returncode == 0, again.stderr  # the same cluster and group: appended
    other = run_cli("record", "--bootstrap", bootstrap, "--group", f"b-{unique}", "--out", str(out), "--duration", "1")
    assert other.returncode == ExitCode.RECORDING
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and "give another file" in lines[0] and "Traceback" not in other.stderr
    frames = recorded(out)
    assert frames[0].snapshot.group_id == f"a-{unique}" and len(frames) >= 2
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    result = run_cli("record", "--bootstrap", bootstrap, "--group", f"a-{unique}", "--out", str(notes), "--duration", "1")
    assert result.returncode == ExitCode.RECORDING and len(result.stderr.strip().splitlines()) == 1
    assert notes.read_text() == "hello\n"  # never written into


def test_record_on_a_full_disk_stops_with_one_line(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, group = f"full-{unique}", f"full-{unique}"
    create_topic(bootstrap, topic, 40)
    produce(bootstrap, topic, dict.fromkeys(range(40), 3))
    commit(bootstrap, group, {(topic, p): 1 for p in range(40)})
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", f"rec-{uuid.uuid4().hex[:6]}", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here: test_recorder_store covers SQLITE_FULL through max_bytes")
    try:
        out = mount / "rec.db"
        result = run_cli("record", "--bootstrap", bootstrap, "--group", group, "--out", str(out),
                         "--refresh", "0.2", "--duration", "120", timeout=150)
        assert result.returncode == ExitCode.RECORDING_STOPPED
        error = [line for line in result.stderr.splitlines() if "error" in line]
        assert error == [error[0]] and error[0].startswith(f"deliverytui: error: recording stopped: disk full writing {out}")
        assert "Traceback" not in result.stderr
        assert len(recorded(out)) > 0  # what was written before is readable
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_record_survives_a_broker_outage(kafka_distribution, tmp_path: Path) -> None:
    from deliverytui.broker.embedded import EmbeddedBroker

    broker = EmbeddedBroker(tmp_path / "restartable")
    info, _ = broker.start(distribution=kafka_distribution)
    out = tmp_path / "rec.db"
    proc = None
    try:
        create_topic(info.bootstrap, "outage-topic", 1)
        produce(info.bootstrap, "outage-topic", {0: 3})
        commit(info.bootstrap, "outage-group", {("outage-topic", 0): 1})
        proc = start_record("--bootstrap", info.bootstrap, "--group", "outage-group", "--out", str(out),
                            "--refresh", "0.5", "--timeout", "2")
        wait_for(lambda: out.exists() and recorded(out), 30, "the first frame")
        broker.stop()
        wait_for(lambda: any(f.failure for f in recorded(out)), 40, "an outage frame")
        broker.start(distribution=kafka_distribution)
        wait_for(lambda: recorded(out)[-1].snapshot is not None and any(f.failure for f in recorded(out)), 90,
                 "a frame after the broker came back")
        assert proc.poll() is None  # recording all along
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        broker.stop()
    assert proc.returncode == 0
    frames = recorded(out)
    first_failure = next(i for i, f in enumerate(frames) if f.failure)
    outage = frames[first_failure]
    assert outage.snapshot is None and outage.events[0][0].startswith("connection lost: ")
    assert outage.group_status == frames[first_failure - 1].group_status  # the last status stays shown
    back = next(f for f in frames[first_failure:] if f.snapshot is not None)
    assert all(not f.events for f in frames[first_failure + 1 : back.index])  # "lost" is said once per outage
    assert back.events[0] == (f"connection recovered: reading {info.bootstrap} again", "bold green")
    assert back.snapshot.partitions[0].committed_offset == 1 and back.index == frames.index(back)
    assert [f.at for f in frames] == sorted(f.at for f in frames)


def test_record_keeps_dedup_counters_and_positions(bootstrap: str, unique: str, sqlite_url: str, tmp_path: Path) -> None:
    import asyncio

    from deliverytui.dedup import open_store
    from tests.kafka_helpers import start_probed_member, stop_probed_member

    topic, group = f"dd-{unique}", f"dd-{unique}"

    async def claims() -> None:
        async with open_store(sqlite_url, group=group) as store:
            for key in ("e1", "e2", "e3"):
                claim = await store.claim(key, lease_seconds=30)
                await store.complete(key, claim.token)
            await store.claim("e1", lease_seconds=30)  # a redelivery: caught

    async def scenario() -> subprocess.CompletedProcess[str]:
        await claims()
        consumer, config, stop, loop_done = start_probed_member(bootstrap, topic, group, interval_ms=200)
        try:
            return await asyncio.to_thread(
                run_cli, "record", "--bootstrap", bootstrap, "--group", group, "--out", str(out), "--refresh", "0.5",
                "--duration", "12", "--positions", "--dedup", sqlite_url, timeout=90,
            )
        finally:
            await stop_probed_member(stop, loop_done, consumer, config)

    out = tmp_path / "rec.db"
    result = asyncio.run(scenario())
    assert result.returncode == 0, result.stderr
    frames = recorded(out)
    assert {(f.dedup.hits, f.dedup.misses) for f in frames} == {(1, 3)}
    reported = [f.positions for f in frames if f.positions is not None and f.positions.partitions]
    assert reported, "no frame holds the probe's positions"
    last = reported[-1].partitions[0]
    assert (last.topic, last.partition, last.position, last.committed, last.verified) == (topic, 0, 10, 5, True)


def test_record_without_a_cluster_or_a_group_is_one_line_and_no_file(bootstrap: str, unique: str, tmp_path: Path) -> None:
    from tests.services import free_port

    out = tmp_path / "rec.db"
    down = run_cli("record", "--bootstrap", f"127.0.0.1:{free_port()}", "--timeout", "2", "--group", "g",
                   "--out", str(out))
    assert down.returncode == ExitCode.UNREACHABLE and len(down.stderr.strip().splitlines()) == 1
    assert "to read its cluster id" in down.stderr and not out.exists()
    # A cluster whose group coordinators are up (on a brand-new one, librdkafka's DescribeConsumerGroups can
    # crash the client child while __consumer_offsets is created: recorded as an outage, not as exit 5).
    create_topic(bootstrap, f"warm-{unique}", 1)
    commit(bootstrap, f"warm-{unique}", {(f"warm-{unique}", 0): 0})
    missing = run_cli("record", "--bootstrap", bootstrap, "--group", f"nobody-{unique}", "--out", str(out),
                      "--duration", "5")
    assert missing.returncode == ExitCode.GROUP_NOT_FOUND, missing.stderr
    assert missing.stderr.strip().splitlines()[-1].startswith("deliverytui: error:") and "Traceback" not in missing.stderr
    assert not out.exists() and not Path(f"{out}-wal").exists()
