"""Classroom mode: the presenter's lab publishes each poll for read-only viewers. No Textual.

One lab runs the consumers; every viewer (one process per browser visitor, started by ``deliverytui
serve demo``) reads what the lab last saw instead of starting consumers of its own. The lab writes one
*frame* per poll to a file in its state directory (owner-only, replaced atomically, so a reader never
sees half a frame); viewers read it when its modification time changes. A frame carries the poll's
:class:`~deliverytui.model.demo.LabUpdate` and the last lines of the lab's event log, so a viewer who
joins late still sees the crash that just happened.

The file is a pickle: it is written and read by the same user's processes, in a directory only that
user may write (anyone able to replace it could already run code as that user).
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from deliverytui.model.demo import LabEvent, LabUpdate

CLASSROOM_FILE = "classroom.frame"
"""The frame's file name in the lab's state directory."""
EVENTS_KEPT = 40


@dataclass(frozen=True, slots=True)
class ClassroomFrame:
    """What the lab showed at one poll: the update, the broker it runs on, and its recent event lines."""

    sequence: int
    bootstrap: str
    update: LabUpdate
    recent_events: tuple[tuple[int, LabEvent], ...]
    """The last :data:`EVENTS_KEPT` event lines, each numbered, so a viewer logs each line once."""


def classroom_file(state_dir: Path) -> Path:
    return Path(state_dir) / CLASSROOM_FILE


class ClassroomPublisher:
    """Writes a frame per poll (called from the lab's one poller thread)."""

    def __init__(self, path: Path, bootstrap: str) -> None:
        self.path = Path(path)
        self.bootstrap = bootstrap
        self.sequence = 0
        self.event_number = 0
        self.events: deque[tuple[int, LabEvent]] = deque(maxlen=EVENTS_KEPT)

    def publish(self, update: LabUpdate) -> None:
        for event in update.events:
            self.event_number += 1
            self.events.append((self.event_number, event))
        self.sequence += 1
        frame = ClassroomFrame(self.sequence, self.bootstrap, update, tuple(self.events))
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            pickle.dump(frame, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, self.path)  # atomic: a viewer reads the old frame or the new one

    def withdraw(self) -> None:
        """The lab closed: viewers must not keep showing it as live."""
        self.path.unlink(missing_ok=True)


class ClassroomReader:
    """A viewer's side: the newest frame, read only when the file changed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.seen: tuple[int, int] | None = None

    def read_new(self) -> ClassroomFrame | None:
        """The frame if it changed since the last call; None if unchanged or absent."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp == self.seen:
            return None
        try:
            with self.path.open("rb") as source:
                frame = pickle.load(source)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None  # replaced while opening: the next read gets the new one
        self.seen = stamp
        return frame if isinstance(frame, ClassroomFrame) else None
