"""The recording file: deltas and keyframes give back every frame exactly; bad files get one-line errors.

No Kafka here: the frames are built in the test (what the store must keep is the model objects, whatever
produced them). A real full disk is a 256 kB tmpfs when this test may mount one, and always SQLite's own
SQLITE_FULL from ``max_bytes`` (``PRAGMA max_page_count``).
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deliverytui.errors import ExitCode
from deliverytui.model.dedup import DedupCounters
from deliverytui.model.group import BrokerNode, GroupSnapshot, MemberInfo, PartitionRow, TopicPartitionId
from deliverytui.model.positions import PartitionPosition, PositionsView
from deliverytui.model.recording import RECORDING_FORMAT_VERSION, RecordedFrame, RecordingHeader
from deliverytui.recorder.errors import RecordingError, RecordingStoppedError
from deliverytui.recorder.store import KEYFRAME_INTERVAL, RecordingReader, RecordingWriter

HOSTILE_GROUP = "billing\x1b]0;pwned\x07\u202e-grp"
HOSTILE_CLIENT = "worker\x1b[2J\ud800"
T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def header(group: str = HOSTILE_GROUP, cluster: str | None = "cluster-A") -> RecordingHeader:
    return RecordingHeader(RECORDING_FORMAT_VERSION, group, "localhost:9092", cluster, T0.timestamp(), 2.0)


def row(topic: str, partition: int, committed: int | None, end: int | None, owner: str | None, **extra) -> PartitionRow:
    return PartitionRow(
        topic, partition, committed, extra.pop("metadata", None), 3 if committed is not None else None, end,
        extra.pop("lso", end), 0, owner and f"{owner}-id", owner, owner and "/10.0.0.1",
        extra.pop("leader", 1), extra.pop("replicas", (1,)), extra.pop("isr", (1,)),
    )


def varied_frames(count: int, seed: int = 7) -> list[RecordedFrame]:
    """Frames exercising every kind of change: offsets, owners, None offsets, partitions coming and going,
    members, outages, positions, statuses, dedup counters, events, hostile names."""
    rng = random.Random(seed)
    topics = ["orders", "pay\x1bments"]
    committed = {(t, p): rng.randrange(0, 10_000) for t in topics for p in range(6)}
    frames: list[RecordedFrame] = []
    for i in range(count):
        at = T0 + timedelta(seconds=2 * i, microseconds=rng.randrange(1_000_000))
        if i % 37 == 5:  # a failed poll
            frames.append(RecordedFrame(i, at.timestamp(), None, None, frames[-1].group_status if frames else None,
                                        dict(frames[-1].statuses) if frames else {},
                                        (("poll failed: broker down", "bold red"),), None, "cluster unreachable"))
            continue
        owner = HOSTILE_CLIENT if i % 50 < 25 else "other"
        rows = []
        for (topic, partition), value in committed.items():
            if i % 60 > 40 and partition == 5:
                continue  # the partition disappears for a while
            value += rng.randrange(0, 30)
            committed[(topic, partition)] = value
            end = value + rng.randrange(0, 200)
            none_commit = i % 29 == 3 and partition == 1
            rows.append(row(topic, partition, None if none_commit else value, None if i % 31 == 7 else end,
                            owner if partition % 2 else None, lso=end - (i % 3), leader=1 + i % 11 // 5,
                            isr=(1, 2) if i % 13 else (1,), replicas=(1, 2), metadata="m" if i % 17 == 2 else None))
        # Offsets near Kafka's limit, and a jump back: varints of any size and sign.
        rows.append(row("huge", 0, 2**62 + i * 7 - (2**40 if i % 9 == 4 else 0), 2**63 - 1 - i, None, lso=-1))
        members = (MemberInfo(f"{owner}-id", owner, "/10.0.0.1", "static\x07" if i % 2 else None,
                              tuple(TopicPartitionId(r.topic, r.partition) for r in rows if r.member_id)),)
        snapshot = GroupSnapshot(HOSTILE_GROUP, "Stable" if i % 23 else "PreparingRebalance", "consumer",
                                 BrokerNode(1, "localhost", 9092), "uniform", members if i % 19 else (), tuple(rows),
                                 at, brokers=(1, 2) if i % 7 else (1,))
        positions = None
        if i % 4:
            positions = PositionsView(HOSTILE_GROUP, "__deliverytui_positions", tuple(
                PartitionPosition(r.topic, r.partition, (r.committed_offset or 0) + i % 3, r.committed_offset, owner,
                                  None, f"{owner}@h", "probe", at - timedelta(seconds=1), 1.25 + i / 1000, i % 9 == 0,
                                  True if i % 5 else None)
                for r in rows if r.partition < 3 + i % 3), at, i > 3, i // 10, 0, None if i % 11 else "probe lag")
        statuses = {r.tp.key: ("OK", "WARN", "STALL", "STOP")[(i // 9 + r.partition) % 4] for r in rows}
        frames.append(RecordedFrame(
            i, at.timestamp(), snapshot, positions, ("OK", "WARN", None)[i // 15 % 3], statuses,
            tuple((f"event {n} of {i} {HOSTILE_CLIENT}", "cyan") for n in range(i % 3)),
            DedupCounters(HOSTILE_GROUP, hits=i // 7, misses=i, updated_at=at if i % 2 else None) if i % 10 < 8 else None,
            None,
        ))
    return frames


def test_every_frame_round_trips_through_deltas_and_keyframes(tmp_path: Path) -> None:
    path = tmp_path / "rec.db"
    frames = varied_frames(2 * KEYFRAME_INTERVAL + 31)
    writer = RecordingWriter(path, header())
    for frame in frames:
        writer.write(frame)
    writer.close()
    reader = RecordingReader(path)
    assert reader.header == header() and reader.header.group == "billing\\x1b]0;pwned\\x07\\u202e-grp"
    assert reader.instants() == [f.at for f in frames]
    assert list(reader.frames(0, len(frames))) == frames  # sequential: one delta per frame
    for index in random.Random(1).sample(range(len(frames)), 40) + [0, KEYFRAME_INTERVAL - 1, KEYFRAME_INTERVAL]:
        assert reader.frame(index) == frames[index]  # random access: from the last keyframe
    outage = reader.frame(5)
    assert outage.snapshot is None and outage.failure == "cluster unreachable"
    assert reader.index_at(frames[10].at) == 10 and reader.index_at(frames[10].at + 0.5) == 10
    assert reader.index_at(0.0) == 0 and reader.index_at(frames[-1].at + 99) == len(frames) - 1
    stored = sqlite3.connect(path).execute("SELECT idx FROM frames WHERE keyframe = 1").fetchall()
    assert [idx for (idx,) in stored] == [0, KEYFRAME_INTERVAL, 2 * KEYFRAME_INTERVAL]
    reader.close()


def test_same_cluster_and_group_appends_another_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.db"
    frames = varied_frames(30)
    first = RecordingWriter(path, header())
    for frame in frames[:12]:
        first.write(frame)
    first.close()
    again = RecordingWriter(path, replace(header(), started_at=T0.timestamp() + 3600))
    assert again.header.started_at == T0.timestamp()  # the recording keeps its own header
    for frame in frames[12:]:
        again.write(frame)
    again.close()
    reader = RecordingReader(path)
    assert list(reader.frames(0, 30)) == frames
    assert reader.frame(12) == frames[12]  # the appended run starts with a keyframe
    reader.close()
    for other in (header(cluster="cluster-B"), header(group="another-group"), header(cluster=None)):
        with pytest.raises(RecordingError) as refused:
            RecordingWriter(path, other)
        assert refused.value.exit_code == ExitCode.RECORDING and "give another file" in str(refused.value)


def test_reader_errors_are_one_line_with_the_recording_exit_code(tmp_path: Path) -> None:
    cases = {}
    cases["missing"] = tmp_path / "absent.db"
    (text := tmp_path / "notes.txt").write_text("not a database\n" * 100)
    cases["text"] = text
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    cases["other sqlite"] = other
    newer = tmp_path / "newer.db"
    RecordingWriter(newer, header()).close()
    db = sqlite3.connect(newer)
    db.execute("UPDATE recording SET value = replace(value, ?, ?)",
               (f'"format_version": {RECORDING_FORMAT_VERSION}', '"format_version": 99'))
    db.commit()
    db.close()
    cases["newer"] = newer
    older = tmp_path / "older.db"
    RecordingWriter(older, header()).close()
    db = sqlite3.connect(older)
    db.execute("UPDATE recording SET value = replace(value, ?, ?)",
               (f'"format_version": {RECORDING_FORMAT_VERSION}', '"format_version": 1'))
    db.commit()
    db.close()
    cases["older"] = older
    cases["directory"] = tmp_path
    messages = {}
    for name, path in cases.items():
        with pytest.raises(RecordingError) as error:
            RecordingReader(path)
        assert error.value.exit_code == ExitCode.RECORDING, name
        assert "\n" not in str(error.value) and str(path) in str(error.value), name
        messages[name] = str(error.value)
    assert "no such file" in messages["missing"] and "directory" in messages["directory"]
    assert "not a deliverytui recording" in messages["text"] and "not a deliverytui recording" in messages["other sqlite"]
    assert "format 99" in messages["newer"] and "upgrade" in messages["newer"]
    assert "format 1 recording" in messages["older"] and "record it again" in messages["older"]
    with pytest.raises(RecordingError, match="format 1 recording"):
        RecordingWriter(older, header())  # not appended to in another layout
    with pytest.raises(RecordingError, match="not a deliverytui recording"):
        RecordingWriter(other, header())  # and never written into


def test_a_size_cap_is_a_full_disk_and_stops_recording(tmp_path: Path) -> None:
    path = tmp_path / "capped.db"
    writer = RecordingWriter(path, header(), max_bytes=64 * 1024)
    frames = varied_frames(400)
    with pytest.raises(RecordingStoppedError) as stopped:
        for frame in frames:
            writer.write(frame)
    kept = writer.next_index
    assert 0 < kept < len(frames)
    assert str(stopped.value).startswith(f"recording stopped: disk full writing {path}")
    assert stopped.value.exit_code == ExitCode.RECORDING_STOPPED and writer.closed
    reader = RecordingReader(path)  # every frame before the full one is intact
    assert list(reader.frames(0, kept)) == frames[:kept] and len(reader.instants()) == kept


def test_a_full_tmpfs_stops_recording(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    tag = uuid.uuid4().hex[:8]
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", f"rec-{tag}", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): the max_bytes test covers SQLITE_FULL")
    try:
        writer = RecordingWriter(mount / "rec.db", header())
        with pytest.raises(RecordingStoppedError, match=r"^recording stopped: disk full writing .*rec\.db"):
            for frame in varied_frames(3000):
                writer.write(frame)
        assert writer.closed and writer.next_index > 0
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_recording_appears_whole_to_a_reader_polling_for_it(tmp_path: Path) -> None:
    """``record`` creates the file while ``replay`` (or a script) may already poll for it: a file that
    exists is a readable recording, never one whose header is still being written (CI saw "not a
    deliverytui recording" from a reader that opened the file between the two)."""
    import threading

    paths = [tmp_path / f"rec-{i}.db" for i in range(40)]
    refused: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            for path in paths:
                if path.exists():
                    try:
                        RecordingReader(path).close()
                    except RecordingError as exc:
                        refused.append(str(exc))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for path in paths:
            RecordingWriter(path, header()).close()
    finally:
        done.set()
        reader.join()
    assert refused == []
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == sorted(p.name for p in paths)
