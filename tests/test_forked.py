"""The CLI's fork runner on its own: a child killed by a signal is one line and a documented code, a crashed
read is forked again within the timeout, a crashed write is never repeated. ``capfd`` reads the file
descriptors, so whatever the dying child's C code writes would show. (The crash a real broker start
provokes is in tests/test_cli_during_broker_start.py; here the child kills itself, to hit each path every time.)"""

from __future__ import annotations

import os
import signal

import pytest

from deliverytui.cli.forked import announce_write, run_forked
from deliverytui.errors import ExitCode, UnknownGroupError


def test_a_crashing_read_is_retried_then_reported_in_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    parent = os.getpid()

    def crash_in_the_child(budget_s: float) -> int:
        if os.getpid() != parent:  # never the test's own process
            os.kill(os.getpid(), signal.SIGSEGV)
        return 0

    code = run_forked(crash_in_the_child, bootstrap="127.0.0.1:9", timeout=1.5)
    out, err = capfd.readouterr()
    assert code == ExitCode.UNREACHABLE and out == ""
    [line] = err.splitlines()
    assert line.startswith("deliverytui: error: the Kafka client crashed (SIGSEGV) talking to 127.0.0.1:9, ")
    assert int(line.split(" time(s)")[0].rsplit(" ", 1)[1]) >= 2, line  # forked again within the timeout


def test_a_crash_after_the_write_started_is_not_repeated(capfd: pytest.CaptureFixture[str]) -> None:
    def write_then_crash(budget_s: float) -> int:
        print("half a table")
        announce_write()
        os.write(2, b"rdkafka_admin.c:123: assertion failed\n")  # as librdkafka's C code writes before abort()
        os.kill(os.getpid(), signal.SIGSEGV)
        return 0

    code = run_forked(write_then_crash, bootstrap="127.0.0.1:9", timeout=30)
    out, err = capfd.readouterr()
    assert code == ExitCode.ERROR and out == ""  # nothing of the dead child's output
    [line] = err.splitlines()
    assert "crashed (SIGSEGV) during the write" in line and "may or may not have been applied" in line


def test_the_childs_output_and_error_come_back_whole(capfd: pytest.CaptureFixture[str]) -> None:
    def table(budget_s: float) -> int:
        print("TOPIC  PARTITION\n" + "orders 0\n" * 20000, end="")
        return 0

    assert run_forked(table, bootstrap="b", timeout=10) == 0
    out, _ = capfd.readouterr()
    assert out.count("orders 0\n") == 20000

    def unknown(budget_s: float) -> int:
        raise UnknownGroupError("consumer group 'x' does not exist on b")

    assert run_forked(unknown, bootstrap="b", timeout=10) == ExitCode.GROUP_NOT_FOUND
    assert capfd.readouterr().err == "deliverytui: error: consumer group 'x' does not exist on b\n"
