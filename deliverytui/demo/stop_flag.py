"""A stop request that a signal handler can make safely: a plain flag and a self-pipe.

Why not ``threading.Event``: ``Event.set`` takes the event's lock. A Python signal handler
runs in the main thread between two bytecodes, possibly while that same thread is inside
``Event.wait`` or ``Event.set`` holding the lock; a second SIGTERM arriving then re-enters
``set`` and waits for a lock its own thread holds. That deadlock was seen in a lab consumer
that ignored SIGTERM for minutes (py-spy: ``request_stop`` -> ``Event.set`` ->
``Condition.__enter__``, three deep). Here the handler only assigns a bool and writes one
byte to a non-blocking pipe: no lock, no allocation that can block, any number of times.

A waiter sleeps in ``select`` on the pipe, so a stop request wakes it at once.

The flag also counts as set when the process has been orphaned (its parent changed since the
flag was made): a demo consumer belongs to the lab that started it, and when that lab is gone
(SIGKILLed, its terminal closed) the consumer stops by its semantic's rules instead of running on.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from types import FrameType


class StopFlag:
    """Set from a signal handler (or any thread); checked and waited on by the poll loop."""

    def __init__(self, *, watch_parent: bool = False) -> None:
        self.requested = False
        self._parent = os.getppid() if watch_parent else None
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    # -- signal side: no locks, no I/O beyond one write to our own pipe -------------------------
    def set(self, *_: object) -> None:
        self.requested = True
        with contextlib.suppress(BlockingIOError, OSError):  # a full pipe already says "stop"
            os.write(self._write_fd, b"x")

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        """A signal handler (``signal.signal(SIGTERM, flag.handle)``)."""
        self.set()

    def install(self, *signums: int) -> None:
        for signum in signums or (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self.handle)

    # -- loop side ---------------------------------------------------------------------------------
    def orphaned(self) -> bool:
        return self._parent is not None and os.getppid() != self._parent

    def is_set(self) -> bool:
        if not self.requested and self.orphaned():
            self.requested = True
        return self.requested

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once on a stop request; True if stop was asked."""
        if self.is_set():
            return True
        # poll, not select: select refuses a descriptor numbered 1024 or more (a lab holds many).
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        with contextlib.suppress(InterruptedError):
            poller.poll(max(0.0, timeout) * 1000)
        return self.is_set()

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
