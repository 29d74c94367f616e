"""Classroom mode under load: N browser-like viewers of one served lab, on this machine.

One real lab (real broker, its real consumer processes) publishes its frames; ``deliverytui serve``'s server
(with a token, as off loopback) serves each viewer a ``deliverytui classroom`` process. The viewers are
websocket clients doing what the page's JavaScript does (the page, its cookie, then the websocket with a
terminal size), reading every byte the page would draw. Printed, from one run:

- CPU and memory of each viewer's process over a steady window (CPU % of one core; RSS, and PSS, which
  splits shared pages fairly between processes);
- for each of ``--crashes`` kills by the presenter (``Lab.kill``, what ``k`` calls): the seconds until the
  word DEAD reached the first, the median and the last viewer;
- the machine's load average before and after, as the machine is shared.

    python benchmarks/classroom.py [--viewers 30] [--crashes 3] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._prep import bootstrap_or_embedded  # noqa: E402
from deliverytui.cli.serve import viewer_command  # noqa: E402
from deliverytui.demo.classroom import classroom_file  # noqa: E402
from deliverytui.demo.lab import Lab, LabSettings  # noqa: E402
from deliverytui.serve.server import BackgroundServer, ServeSettings, new_token  # noqa: E402

VICTIM = "at-least-once"
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b\][^\x07]*\x07")
TICKS = os.sysconf("SC_CLK_TCK")


class Viewer:
    """One browser tab: the page (for the cookie), then the websocket; keeps the text the page would draw."""

    def __init__(self) -> None:
        self.text = ""
        self.ready = asyncio.Event()

    async def run(self, url: str, base: str, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(url) as page:
                assert page.status == 200, page.status
            async with session.ws_connect(f"{base}/ws?width=160&height=45", max_msg_size=0) as websocket:
                while not stop.is_set():
                    try:
                        message = await websocket.receive(timeout=0.5)
                    except TimeoutError:
                        continue
                    if message.type == aiohttp.WSMsgType.BINARY:
                        self.text += ESCAPES.sub("", message.data.decode("utf-8", "replace"))
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        continue  # textual-serve's meta messages
                    else:
                        break
                    if not self.ready.is_set() and "Duplicates" in self.text and "running" in self.text:
                        self.ready.set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def viewer_pids(frames: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and not args[0].endswith(b"sh") and str(frames).encode() in args:
            found.append(int(entry))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def memory_kib(pid: int) -> tuple[int, int]:
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    pss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines() if line.startswith("Pss:"))
    return rss, pss


def poll_forever(lab: Lab, stop: threading.Event) -> None:
    """What the presenter's app does: one poll a second (each poll publishes a frame)."""
    while not stop.is_set():
        lab.poll()
        stop.wait(1.0)


async def measure(lab: Lab, frames: Path, served: ServeSettings, count: int, crashes: int, window: float) -> None:
    stop = asyncio.Event()
    viewers = [Viewer() for _ in range(count)]
    base = served.base_url
    tasks = [asyncio.create_task(v.run(served.visitor_url, base, stop)) for v in viewers]
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(v.ready.wait() for v in viewers)), timeout=600)
    print(f"{count} viewers drew the lab's table {time.monotonic() - started:.1f} s after they connected (all at once)")
    pids = viewer_pids(frames)
    print(f"viewer processes: {len(pids)}; consumer groups run by the lab: {len(lab.settings.semantics)} (one set, not one per viewer)")
    await asyncio.sleep(5)  # past the start-up burst
    before = {pid: cpu_ticks(pid) for pid in pids}
    await asyncio.sleep(window)
    cpu = [100.0 * (cpu_ticks(pid) - before[pid]) / TICKS / window for pid in pids]
    memory = [memory_kib(pid) for pid in pids]
    print(f"steady {window:.0f} s, per viewer: CPU mean {statistics.mean(cpu):.1f} % max {max(cpu):.1f} % of one core "
          f"(all viewers {sum(cpu):.0f} %); RSS mean {statistics.mean(m[0] for m in memory) / 1024:.1f} MiB "
          f"max {max(m[0] for m in memory) / 1024:.1f} MiB; PSS mean {statistics.mean(m[1] for m in memory) / 1024:.1f} MiB "
          f"(all viewers {sum(m[1] for m in memory) / 1024:.0f} MiB)")
    for crash in range(1, crashes + 1):
        marks = [len(v.text) for v in viewers]
        shown: list[float | None] = [None] * count
        killed = time.monotonic()
        await asyncio.to_thread(lab.kill, VICTIM)
        while any(s is None for s in shown) and time.monotonic() - killed < 120:
            for index, viewer in enumerate(viewers):
                if shown[index] is None and "DEAD" in viewer.text[marks[index]:]:
                    shown[index] = time.monotonic() - killed
            await asyncio.sleep(0.02)
        seen = sorted(s for s in shown if s is not None)
        print(f"crash {crash}: k → DEAD on every viewer: first {seen[0]:.2f} s, median {statistics.median(seen):.2f} s, "
              f"last {seen[-1]:.2f} s ({len(seen)}/{count} viewers)")
        await asyncio.to_thread(lab.restart, VICTIM)
        await asyncio.sleep(8)  # running again on every viewer before the next kill
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of the steady CPU measurement")
    parser.add_argument("--bootstrap", help="an existing broker (default: an embedded one in a temp dir)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f} (shared with other work)")
    with bootstrap_or_embedded(args.bootstrap, "classroom-bench-") as bootstrap:
        unique = uuid.uuid4().hex[:8]
        state = Path(tempfile.mkdtemp(prefix="classroom-lab-"))
        settings = LabSettings(
            state_dir=state, bootstrap=bootstrap, topic=f"task-events-{unique}", group_prefix=f"{unique}-",
            rate=20.0, classroom=True,
        )
        frames = classroom_file(state)
        served = ServeSettings(
            command=viewer_command(frames), port=free_port(), token=new_token(),
        )
        server = BackgroundServer(served)
        server.start()
        lab = Lab(settings).open()
        stop = threading.Event()
        poller = threading.Thread(target=poll_forever, args=(lab, stop), daemon=True)
        poller.start()
        try:
            asyncio.run(measure(lab, frames, served, args.viewers, args.crashes, args.window))
        finally:
            stop.set()
            poller.join(10)
            server.stop()
            lab.close()
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
