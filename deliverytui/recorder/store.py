"""The flight recording file: SQLite, one row per frame, each a delta against the previous (:mod:`.codec`).

Why SQLite: one file, crash-safe (a frame is a transaction: a recorder killed mid-write leaves every
earlier frame readable), readable while it is written (WAL), and queryable by index and time without
a format of our own. Every :data:`KEYFRAME_INTERVAL`-th frame (and the first one a writer adds) is a
keyframe, so :meth:`RecordingReader.frame` applies at most that many deltas for any index.

The file says what it records (``recording`` table: the format and the :class:`RecordingHeader`): a
writer appends to a recording of the same cluster and group and refuses any other file.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

from deliverytui.errors import one_line
from deliverytui.model.recording import RECORDING_FORMAT_VERSION, RecordedFrame, RecordingHeader
from deliverytui.recorder.codec import FrameState, decode, encode
from deliverytui.recorder.errors import RecordingError, RecordingStoppedError

#: A full frame every this many frames: a random access decodes at most this many deltas.
KEYFRAME_INTERVAL = 100
#: What the ``recording`` table's ``format`` row holds in every deliverytui recording.
FORMAT_NAME = "deliverytui-recording"
#: SQLite's page size for new recordings (also the unit of ``max_bytes``). A frame of a 1,000-partition
#: group with positions is ~2.4 kB: with 4 kB pages only one fits a page (measured: 4.5 kB on disk per
#: frame); 8 kB pages hold three (3.2 kB per frame).
PAGE_SIZE = 8192

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recording (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    idx INTEGER PRIMARY KEY,   -- RecordedFrame.index
    at REAL NOT NULL,          -- RecordedFrame.at
    keyframe INTEGER NOT NULL, -- 1: body is encoded against the empty state
    body BLOB NOT NULL         -- codec.encode's zlib-compressed JSON
);
"""


def _read_header(db: sqlite3.Connection, path: Path) -> RecordingHeader:
    """The header of the recording open as ``db``; a RecordingError when it is not one this version reads."""
    try:
        meta = dict(db.execute("SELECT key, value FROM recording").fetchall())
    except sqlite3.DatabaseError:
        raise RecordingError(f"{path} is not a deliverytui recording (not SQLite, or no recording table in it)") from None
    if meta.get("format") != FORMAT_NAME or "header" not in meta:
        raise RecordingError(f"{path} is not a deliverytui recording (an SQLite file of something else)")
    fields = json.loads(meta["header"])
    version = fields.get("format_version", 0)
    if version > RECORDING_FORMAT_VERSION:
        raise RecordingError(
            f"{path} is a format {version} recording; this deliverytui reads format "
            f"{RECORDING_FORMAT_VERSION}: upgrade deliverytui to read it"
        )
    if version < RECORDING_FORMAT_VERSION:
        raise RecordingError(
            f"{path} is a format {version} recording, written by a development build; this deliverytui reads "
            f"format {RECORDING_FORMAT_VERSION} only: record it again"
        )
    return RecordingHeader(**fields)


def _disk_full(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc).lower()


def _write_schema(db: sqlite3.Connection, header: RecordingHeader) -> None:
    """The tables and the header row (the caller holds the transaction: a reader never sees one without the other)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.executemany(
        "INSERT INTO recording (key, value) VALUES (?, ?)",
        [("format", FORMAT_NAME), ("header", json.dumps(asdict(header)))],
    )


def _create_recording(path: Path, header: RecordingHeader) -> None:
    """Create a recording under a temporary name and rename it into place: a reader (``replay``, or a
    test polling for the file) that finds ``path`` finds a whole recording, never a file whose header
    is still being written. Failing here leaves nothing behind; the caller's open then reports it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.creating")
    try:
        with contextlib.closing(sqlite3.connect(temporary, isolation_level=None)) as db:
            db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            db.execute("BEGIN IMMEDIATE")
            _write_schema(db, header)
            db.execute("COMMIT")
        os.replace(temporary, path)
    except (sqlite3.Error, OSError):
        with contextlib.suppress(OSError):
            temporary.unlink()


class RecordingWriter:
    """Appends frames to a recording file; a frame is written (and committed) by :meth:`write`.

    ``max_bytes`` caps the file (SQLite's ``max_page_count``): reaching it is the same condition as a
    full disk. A write that fails raises :class:`RecordingStoppedError` (one line, naming the file) and
    the writer is closed: nothing more is recorded.
    """

    def __init__(self, path: str | Path, header: RecordingHeader, *, max_bytes: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            _create_recording(self.path, replace(header, format_version=RECORDING_FORMAT_VERSION))
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if max_bytes is not None:
                self._db.execute(f"PRAGMA max_page_count={max(1, int(max_bytes) // PAGE_SIZE)}")
            existing = self._db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT IN ('recording', 'frames')"
            ).fetchone()[0]
            has_recording = self._db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='recording'"
            ).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"cannot record to {self.path}: {one_line(exc)} (is it a deliverytui recording?)") from None
        if existing and not has_recording:
            self._db.close()
            raise RecordingError(f"{self.path} is not a deliverytui recording (an SQLite file of something else): give a new file")
        if not has_recording:  # an empty file someone created for us: made a recording in one transaction
            self._db.execute("BEGIN IMMEDIATE")
            _write_schema(self._db, replace(header, format_version=RECORDING_FORMAT_VERSION))
            self._db.execute("COMMIT")
        self.header = self._check_append(header)
        last = self._db.execute("SELECT max(idx) FROM frames").fetchone()[0]
        #: The index the next frame gets (frames appended to a recording continue its numbering).
        self.next_index = 0 if last is None else last + 1
        self._state: FrameState | None = None  # None: the next frame is a keyframe
        self.closed = False

    def _check_append(self, header: RecordingHeader) -> RecordingHeader:
        """The existing header when the file records the same cluster and group; a RecordingError otherwise."""
        try:
            existing = _read_header(self._db, self.path)
        except RecordingError:
            self._db.close()
            raise
        if (existing.cluster_id, existing.group) != (header.cluster_id, header.group):
            self._db.close()
            raise RecordingError(
                f"{self.path} records group {existing.group!r} of cluster {existing.cluster_id}, not group "
                f"{header.group!r} of cluster {header.cluster_id}: give another file"
            )
        return existing

    def write(self, frame: RecordedFrame) -> None:
        """Store ``frame`` (its ``index`` is the caller's; the stored one is :attr:`next_index`)."""
        if self.closed:
            raise RecordingStoppedError(f"recording to {self.path} has stopped")
        keyframe = self._state is None or self.next_index % KEYFRAME_INTERVAL == 0
        body, state = encode(frame, FrameState() if keyframe else self._state)
        try:
            self._db.execute(
                "INSERT INTO frames (idx, at, keyframe, body) VALUES (?, ?, ?, ?)",
                (self.next_index, frame.at, int(keyframe), body),
            )
        except sqlite3.Error as exc:
            self.close()
            if _disk_full(exc):
                raise RecordingStoppedError(
                    f"recording stopped: disk full writing {self.path} ({one_line(exc)}); "
                    f"{self.next_index} frame(s) kept"
                ) from None
            raise RecordingStoppedError(f"recording stopped: cannot write {self.path}: {one_line(exc)}") from None
        self._state = state
        self.next_index += 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(sqlite3.Error):
                self._db.close()


class RecordingReader:
    """Reads a recording: its header, the instants of its frames, any frame fully materialised."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            what = "a directory" if self.path.is_dir() else "no such file"
            raise RecordingError(f"cannot replay {self.path}: {what}; give a file written by 'deliverytui record'")
        try:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self.header = _read_header(self._db, self.path)
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"cannot read {self.path}: {one_line(exc)}") from None
        except RecordingError:
            self._db.close()
            raise
        self._instants: list[float] = []
        self._cached: tuple[int, FrameState] | None = None  # (index, the state frame `index` left)
        self.instants()

    def instants(self) -> list[float]:
        """``at`` of every frame, ascending (re-read: a recording may still be growing)."""
        self._instants = [row[0] for row in self._db.execute("SELECT at FROM frames ORDER BY idx")]
        return list(self._instants)

    def __len__(self) -> int:
        return len(self._instants)

    def frame(self, index: int) -> RecordedFrame:
        """Frame ``index`` with every delta applied (from the last keyframe, or from the frame read before)."""
        if not 0 <= index < len(self._instants) and not 0 <= index < len(self.instants()):
            raise IndexError(f"{self.path} has no frame {index} ({len(self._instants)} frame(s))")
        start = self._db.execute("SELECT max(idx) FROM frames WHERE keyframe = 1 AND idx <= ?", (index,)).fetchone()[0]
        if start is None:
            raise RecordingError(f"{self.path} is damaged: no keyframe before frame {index}")
        state = FrameState()
        if self._cached is not None and start <= self._cached[0] < index:
            start, state = self._cached[0] + 1, self._cached[1]
        if start < index:
            state = self._advance(start, index, state)
        *_, frame = self._decoded(index, index + 1, state)
        return frame

    def frames(self, start: int, stop: int) -> Iterator[RecordedFrame]:
        """Frames ``start`` to ``stop - 1``, decoded in one pass."""
        if start >= stop:
            return
        yield self.frame(start)
        yield from self._decoded(start + 1, stop, self._cached[1])

    def _decoded(self, start: int, stop: int, state: FrameState) -> Iterator[RecordedFrame]:
        rows = self._db.execute(
            "SELECT idx, at, keyframe, body FROM frames WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop)
        ).fetchall()
        for idx, at, keyframe, body in rows:
            frame, state = decode(idx, at, body, FrameState() if keyframe else state)
            self._cached = (idx, state)
            yield frame

    def _advance(self, start: int, stop: int, state: FrameState) -> FrameState:
        """The state frame ``stop - 1`` leaves, from ``state`` (what frame ``start - 1`` left): nothing materialised."""
        rows = self._db.execute(
            "SELECT idx, at, keyframe, body FROM frames WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop)
        ).fetchall()
        for idx, at, keyframe, body in rows:
            _, state = decode(idx, at, body, FrameState() if keyframe else state, materialize=False)
        return state

    def index_at(self, at: float) -> int:
        """The last frame at or before ``at`` (0 if ``at`` is before the first)."""
        return max(0, bisect.bisect_right(self._instants, at) - 1)

    def close(self) -> None:
        self._db.close()
