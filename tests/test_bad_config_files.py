"""Issue #13, finding 5: a ``--config`` that is not a small UTF-8 text file is one line and exit 8.

Each case runs the real CLI with a timeout: a FIFO must not block, ``/dev/zero`` must not fill memory,
a 2 MB file is refused, and binary or UTF-16 text names the file and the line instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from deliverytui.errors import ExitCode
from tests.helpers import run_cli


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _write(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (_fifo, "is a FIFO, not a regular file"),
    "dev-zero": (lambda _path: Path("/dev/zero"), "/dev/zero is a device or socket, not a regular file"),
    "directory": (lambda path: path.parent, "is a directory, not a regular file"),
    "two-megabytes": (_write(b"# padding\n" * 200_000), "is larger than 1 MB"),
    "utf-16": (_write("security.protocol=SASL_PLAINTEXT\n".encode("utf-16")), ":1: byte 0xff is not UTF-8 text"),
    "utf-16-no-bom": (_write("bootstrap.servers=x\nsasl.mechanism=PLAIN\n".encode("utf-16-le")), ":1: NUL byte"),
    "binary": (_write(b"security.protocol=PLAINTEXT\n\x89PNG\r\n\x1a\n\x00\x00"), ":2: byte 0x89 is not UTF-8 text"),
}


def run_with_config(command: list[str], config: Path):
    return run_cli(*command, "--config", str(config), "--bootstrap", "127.0.0.1:1", "--timeout", "2", timeout=20)


def assert_one_line(result, config: Path, says: str) -> None:
    assert result.returncode == ExitCode.BAD_CONFIG, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(config) in lines[0] and says in lines[0], lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_file_is_one_line_and_exit_8(case: str, tmp_path: Path) -> None:
    make, says = CASES[case]
    config = make(tmp_path / "client.properties")
    assert_one_line(run_with_config(["snapshot", "--group", "billing"], config), config, says)


def test_the_live_view_refuses_a_fifo_before_its_screen_opens(tmp_path: Path) -> None:
    config = _fifo(tmp_path / "client.properties")
    assert_one_line(run_with_config(["--group", "billing"], config), config, "is a FIFO, not a regular file")
