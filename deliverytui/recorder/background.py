"""A recording written by a thread of its own: the live view hands frames over and never waits for the disk.

Why a thread: encoding a 1,000-partition frame and committing it to SQLite takes milliseconds (more on a
slow or busy disk, and an fsync at a WAL checkpoint can take far longer), and the live view's UI thread
must not stall on it. :meth:`write` only enqueues; the thread opens the file (so the first open's
cost is not the UI's either), writes, and on a failure calls ``on_stopped`` once with the one-line
reason and drops everything after it. The queue is bounded: a disk so slow that
:data:`MAX_PENDING_FRAMES` frames wait stops the recording rather than fill memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from deliverytui.errors import UserFacingError, one_line
from deliverytui.model.recording import RecordedFrame
from deliverytui.recorder.store import RecordingWriter

#: Frames waiting for the disk beyond this stop the recording (at a 2 s refresh, ten minutes behind).
MAX_PENDING_FRAMES = 300
_CLOSE = object()


class BackgroundWriter:
    """Writes frames from a daemon thread; ``open_writer`` runs there first, ``on_stopped(line)`` on a failure."""

    def __init__(self, open_writer: Callable[[], RecordingWriter], on_stopped: Callable[[str], None]) -> None:
        self._open = open_writer
        self._on_stopped = on_stopped
        self._queue: queue.Queue = queue.Queue(maxsize=MAX_PENDING_FRAMES)
        self.stopped: str | None = None
        #: Seconds each write took in the thread (benchmarks and the README's figure read it).
        self.write_seconds: list[float] = []
        self._thread = threading.Thread(target=self._run, name="deliverytui-recorder", daemon=True)
        self._thread.start()

    def write(self, frame: RecordedFrame) -> None:
        if self.stopped is not None:
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self._stop(f"recording stopped: the disk is too slow ({MAX_PENDING_FRAMES} frames waiting)")

    def _stop(self, line: str) -> None:
        if self.stopped is None:
            self.stopped = line
            self._on_stopped(line)

    def _run(self) -> None:
        import time

        writer = None
        closed = False
        try:
            writer = self._open()
            while not (closed := (frame := self._queue.get()) is _CLOSE):
                if self.stopped is not None:
                    continue
                started = time.perf_counter()
                writer.write(frame)
                self.write_seconds.append(time.perf_counter() - started)
        except UserFacingError as exc:
            self._stop(str(exc))
        except Exception as exc:  # noqa: BLE001 - a recorder bug must not take the live view down
            self._stop(f"recording stopped: {type(exc).__name__}: {one_line(exc)}")
        finally:
            if writer is not None:
                writer.close()
            while not closed:  # drain until close(), so the UI's puts never block
                closed = self._queue.get() is _CLOSE

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then close the file (waits at most ``timeout`` seconds)."""
        try:
            self._queue.put(_CLOSE, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
