"""Which demo consumer processes belong to a state dir, including those a dead lab left behind.

Why records *and* a scan: a lab that is SIGKILLed (or whose machine hangs up) cannot stop its
consumers, and the next lab on the same state must not start a second set beside them — two
processes with one ``group.instance.id`` fence each other and manufacture duplicates. Each
started consumer is recorded in ``<run-dir>/pids/<name>.json`` with its pid and its kernel start
time (``/proc/<pid>/stat`` field 22), so a recycled pid is never mistaken for ours. The scan of
``/proc`` for ``deliverytui.demo.consumer … --run-dir <dir>`` catches consumers started before
records existed. Both are Linux-only, like the lab.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CONSUMER_MODULE = "deliverytui.demo.consumer"


@dataclass(frozen=True, slots=True)
class ConsumerProcess:
    """One live consumer process of a state dir: ``name`` is ``semantic`` or ``semantic-N``."""

    name: str
    pid: int
    start_time: int | None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rfind(")") + 2 :].startswith("Z")
    return False


def alive(pid: int, started: int | None = None) -> bool:
    """True while ``pid`` runs (not a zombie) and, if given, still has start time ``started``."""
    now = start_time(pid)
    if now is None or is_zombie(pid):
        return False
    return started is None or now == started


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def records_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "pids"


def record(run_dir: Path, name: str, pid: int) -> None:
    """Remember that ``pid`` is this state dir's consumer ``name`` (atomically replaced)."""
    directory = records_dir(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"name": name, "pid": pid, "start_time": start_time(pid)}))
    os.replace(tmp, path)


def forget(run_dir: Path, name: str, pid: int | None = None) -> None:
    """Drop ``name``'s record (only if it is still about ``pid``, when given)."""
    path = records_dir(run_dir) / f"{name}.json"
    with contextlib.suppress(OSError, ValueError):
        if pid is not None and json.loads(path.read_text()).get("pid") != pid:
            return
        path.unlink()


def leftovers(run_dir: Path) -> list[ConsumerProcess]:
    """Consumers of ``run_dir`` that are alive now: recorded ones, and any found by the ``/proc`` scan."""
    found: dict[int, ConsumerProcess] = {}
    directory = records_dir(run_dir)
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(path.read_text())
            pid, started = int(data["pid"]), data.get("start_time")
            if alive(pid, started) and CONSUMER_MODULE in _cmdline(pid):
                found[pid] = ConsumerProcess(str(data.get("name") or path.stem), pid, started)
    wanted = str(Path(run_dir).resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in found or int(entry.name) == os.getpid():
            continue
        argv = _cmdline(int(entry.name))
        if CONSUMER_MODULE not in argv or "--run-dir" not in argv:
            continue
        index = argv.index("--run-dir") + 1
        if index < len(argv) and _same_dir(argv[index], wanted, int(entry.name)):
            semantic = argv[argv.index("--semantic") + 1] if "--semantic" in argv[:-1] else "consumer"
            pid = int(entry.name)
            if alive(pid):
                found[pid] = ConsumerProcess(semantic, pid, start_time(pid))
    return sorted(found.values(), key=lambda p: p.pid)


def _same_dir(given: str, wanted: str, pid: int) -> bool:
    path = Path(given)
    if not path.is_absolute():  # relative to the process's own working directory
        with contextlib.suppress(OSError):
            path = Path(os.readlink(f"/proc/{pid}/cwd")) / path
    with contextlib.suppress(OSError):
        return str(path.resolve()) == wanted
    return False


def stop(processes: list[ConsumerProcess], timeout: float = 15.0) -> list[tuple[ConsumerProcess, str]]:
    """SIGTERM each (a graceful stop by its semantic's rules), SIGKILL what is left after ``timeout``.

    Returns each process with how it ended: ``"stopped"`` or ``"killed"``. They are not our
    children (a dead lab started them), so the kernel's init reaps them; we wait for them to go.
    """
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGTERM)
            os.kill(process.pid, signal.SIGCONT)  # a stopped (^Z, SIGSTOP) process handles SIGTERM only when continued
    deadline = time.monotonic() + timeout
    ended: dict[int, str] = {}
    while time.monotonic() < deadline:
        for process in processes:
            if process.pid not in ended and not alive(process.pid, process.start_time):
                ended[process.pid] = "stopped"
        if len(ended) == len(processes):
            break
        time.sleep(0.1)
    for process in processes:
        if process.pid not in ended:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)
            ended[process.pid] = "killed"
    final = time.monotonic() + 5.0
    while time.monotonic() < final and any(alive(p.pid, p.start_time) for p in processes):
        time.sleep(0.05)
    return [(process, ended[process.pid]) for process in processes]
