"""Run a command's Kafka work in a forked child, so a librdkafka crash becomes one line and an exit code.

librdkafka 2.x can kill the whole process while a broker starts or a group coordinator moves:
a segfault in ``rd_kafka_ListConsumerGroupOffsetsResponse_parse`` (librdkafka #5040) or an
assertion abort (#4605, #3663). The live view keeps its client in a child for that reason
(:mod:`deliverytui.kafka.isolated`); the CLI commands do the same here, without its cost: the CLI
process forks *after* its imports and *before* any librdkafka client exists, so the child
starts with everything loaded (a fork costs a few milliseconds, a second interpreter a quarter
of a second). The child runs the command with its stdout and stderr captured, sends the exit
code and the captured text back over a pipe, and leaves with ``os._exit`` (librdkafka's
destructors, which can crash too, never run). The parent only waits: it prints the child's
output only once the child has sent all of it, so a crash never leaves half a table, and it maps
a child killed by a signal to one line and :data:`ExitCode.UNREACHABLE`.

A read-only command whose child crashed is forked again while its ``--timeout`` lasts: a
crash while a broker starts is gone a second later. A write is not repeated once the child
announced it (:func:`announce_write`), because a relative reset (``--shift-by``) planned again
would shift twice: the line then says that the write may have happened and how to check.

A child never outlives its parent: it asks the kernel for SIGKILL when the parent dies
(``PR_SET_PDEATHSIG``), and the parent kills it on any exit from the wait (Ctrl-C included).
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import io
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterator

from deliverytui.errors import ExitCode, UserFacingError

#: A frame on the pipe: one type byte and a payload length.
_FRAME = struct.Struct("!cI")
_WRITE_STARTED = b"W"
_STDOUT = b"O"
_STDERR = b"E"
_EXIT_CODE = b"C"  # the last frame: its length field is the exit code, and the result is complete
#: How long after ``--timeout`` the parent still waits for a child that bounds its own requests
#: (a command makes several rounds of requests, each bounded by the timeout).
_WAIT_MARGIN_S = 30.0
_PAUSE_BEFORE_REFORK_S = 0.3
_PR_SET_PDEATHSIG = 1

#: The pipe to the parent while running in a child (``None`` in the parent).
_result_pipe: int | None = None
#: Whether :func:`run_forked` has printed a child's result in this process (see :func:`result_printed`).
_printed = False


def result_printed() -> bool:
    """True once :func:`run_forked` printed what its child sent (or the line saying it crashed).

    The process entry point then leaves without the interpreter's teardown: the Kafka client lived
    and died in the child, and the parent opened no file and started no thread worth cleaning up.
    """
    return _printed


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the garbage collector while a command loads its modules, then freeze what they loaded.

    Imports allocate hundreds of thousands of objects and free almost none, so the collections
    they trigger (each full one walks every object loaded so far) find nothing: with them paused,
    loading confluent_kafka and the collectors cost 10-14 ms less CPU. ``gc.freeze()`` then moves
    the loaded objects out of the collector's sight, so re-enabling it does not bring the skipped
    full collection back at the next allocation (and a forked child shares those pages untouched).
    The collector is back on afterwards (the child turns it off again on its own).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def announce_write() -> None:
    """Tell the parent that the write starts now: from here on a crash must not repeat the command."""
    if _result_pipe is not None:
        os.write(_result_pipe, _FRAME.pack(_WRITE_STARTED, 0))


def run_forked(work: Callable[[float], int], *, bootstrap: str, timeout: float) -> int:
    """Run ``work(budget_s)`` in a forked child and return its exit code; print what it printed.

    ``work`` gets the seconds left of ``timeout`` (to retry a coordinator that is not ready
    within them), prints its result and returns an exit code; it may raise a
    :class:`UserFacingError`, which becomes the usual one line on stderr.
    """
    global _printed
    started = time.monotonic()
    crashes = 0
    while True:
        budget = max(1.0, timeout - (time.monotonic() - started))
        outcome = _run_child(work, budget, timeout)
        _printed = True
        if isinstance(outcome, tuple):  # the child finished and sent its output
            code, out, err = outcome
            sys.stdout.write(out)
            sys.stdout.flush()
            sys.stderr.write(err)
            return code
        crashes += 1
        signal_name, write_started = outcome.signal_name, outcome.write_started
        if write_started:
            print(
                f"deliverytui: error: the Kafka client crashed ({signal_name}) during the write to {bootstrap}: "
                "it may or may not have been applied; check with `deliverytui snapshot --group ...` before repeating it",
                file=sys.stderr,
            )
            return ExitCode.ERROR
        elapsed = time.monotonic() - started
        if elapsed + _PAUSE_BEFORE_REFORK_S >= timeout:
            print(
                f"deliverytui: error: the Kafka client crashed ({signal_name}) talking to {bootstrap}, {crashes} time(s) "
                f"in {elapsed:.1f}s (librdkafka does this while a broker starts or a group moves); try again in a few seconds",
                file=sys.stderr,
            )
            return ExitCode.UNREACHABLE
        time.sleep(_PAUSE_BEFORE_REFORK_S)


class _Crash:
    """A child that died without sending its result."""

    def __init__(self, signal_name: str, write_started: bool) -> None:
        self.signal_name = signal_name
        self.write_started = write_started


def _run_child(work: Callable[[float], int], budget: float, timeout: float) -> tuple[int, str, str] | _Crash:
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child_main(work, budget, write_end, parent)
    os.close(write_end)
    frames: list[tuple[bytes, bytes]] = []  # (kind, payload) in the order sent
    finished = False
    try:
        finished = _read_frames(read_end, time.monotonic() + timeout + _WAIT_MARGIN_S, frames)
    finally:
        os.close(read_end)
        status = _reap(pid, kill=not finished)  # not finished: it hangs, or the parent is leaving (Ctrl-C)
    sent = dict(frames)
    if _EXIT_CODE in sent:  # complete, even if librdkafka crashed on the way out
        text = sent.get(_STDOUT, b"").decode(), sent.get(_STDERR, b"").decode()
        return int.from_bytes(sent[_EXIT_CODE], "big"), *text
    write_started = _WRITE_STARTED in sent
    if os.WIFSIGNALED(status):
        return _Crash(signal.Signals(os.WTERMSIG(status)).name, write_started)
    return _Crash(f"exit {os.waitstatus_to_exitcode(status)}, no answer", write_started)


def _read_frames(fd: int, deadline: float, frames: list[tuple[bytes, bytes]]) -> bool:
    """Collect the child's frames until it closes the pipe (True: it is exiting) or the deadline passes
    (False: it hangs)."""
    chunks: list[bytes] = []  # joined once: a snapshot of 5,000 partitions arrives in ~100 pipe reads
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        poller = select.poll()  # not select.select: it refuses a descriptor numbered 1024 or more
        poller.register(fd, select.POLLIN)
        if not poller.poll(remaining * 1000):
            return False
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    buffer = memoryview(b"".join(chunks))
    while len(buffer) >= _FRAME.size:
        kind, length = _FRAME.unpack_from(buffer)
        if kind == _EXIT_CODE:  # no payload: the length field is the code
            frames.append((kind, length.to_bytes(4, "big")))
            length = 0
        elif len(buffer) < _FRAME.size + length:
            break  # a cut-off frame: the child died while writing it
        else:
            frames.append((kind, bytes(buffer[_FRAME.size : _FRAME.size + length])))
        buffer = buffer[_FRAME.size + length :]
    return True


def _reap(pid: int, *, kill: bool) -> int:
    """The child's wait status; with ``kill``, SIGKILL it first (a child that closed the pipe is exiting)."""
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _child_main(work: Callable[[float], int], budget: float, pipe: int, parent: int) -> None:
    """Run ``work`` with captured output, send the result, and leave without running any destructor."""
    global _result_pipe
    code: int = ExitCode.ERROR
    try:
        # Short-lived: the collector would only copy the parent's pages (copy-on-write) to free nothing.
        gc.disable()
        _die_with(parent)
        _silence_native_output()
        _result_pipe = pipe
        out, err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = out, err
        try:
            code = int(work(budget) or 0)
        except UserFacingError as exc:
            print(f"deliverytui: error: {exc}", file=err)
            code = exc.exit_code
        except KeyboardInterrupt:
            print("deliverytui: interrupted", file=err)
            code = ExitCode.INTERRUPTED
        except BaseException:  # noqa: BLE001 - a bug: its traceback goes to the parent's stderr, as without the fork
            import traceback

            traceback.print_exc(file=err)
            code = ExitCode.ERROR
        for kind, text in ((_STDOUT, out.getvalue()), (_STDERR, err.getvalue())):
            _send(pipe, kind, text.encode())
        os.write(pipe, _FRAME.pack(_EXIT_CODE, code))
    finally:
        os._exit(code)


def _send(pipe: int, kind: bytes, payload: bytes) -> None:
    view = memoryview(_FRAME.pack(kind, len(payload)) + payload)
    while view:
        view = view[os.write(pipe, view) :]


def _silence_native_output() -> None:
    """Point the child's file descriptors 1 and 2 at /dev/null: librdkafka's assertion message and a fault
    handler's dump are written there by C code, past ``sys.stderr``, and would add lines to the one line."""
    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _die_with(parent: int) -> None:
    """Ask the kernel to SIGKILL this child when its parent dies; leave at once if it already has."""
    import ctypes  # here: only a child pays for loading it

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(ExitCode.INTERRUPTED)
