"""Nemesis: cold snapshots in a loop, each from a new GroupInspector, in a child process that must survive.

Stop 20's CI died of a segmentation fault inside a snapshot. Taking cold snapshots back to back
reproduced it within a minute: librdkafka 2.16 races when a metadata answer lands while
ListOffsets looks up its leaders, and the snapshot then read its metadata on a helper thread
alongside ListOffsets (see deliverytui/kafka/replication_metadata.py). This runs the same loop
for ``--seconds`` in a child process, under a low cycle-collector threshold (clients are freed
at arbitrary moments, as in a long test session), and prints how many snapshots it took and
how the child ended. A crash is the child's exit by signal, printed as such.

Usage: python benchmarks/cold_snapshots.py [--bootstrap HOST:PORT] [--seconds 60] [--partitions 3]
Without --bootstrap it starts its own embedded broker in a temporary data dir and stops it at the end.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _prep import bootstrap_or_embedded, topic_with_committed_group  # noqa: E402

CHILD = textwrap.dedent(
    """
    import gc, sys, time
    from deliverytui.kafka.group_inspector import GroupInspector
    bootstrap, group, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    gc.set_threshold(50, 2, 2)
    taken = failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            GroupInspector(bootstrap).snapshot(group)
            taken += 1
        except Exception:
            failed += 1
    print(taken, failed)
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    with bootstrap_or_embedded(args.bootstrap, "deliverytui-cold-") as bootstrap:
        _topic, group = topic_with_committed_group(bootstrap, args.partitions, "cold", records_per_partition=5)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, bootstrap, group, str(args.seconds)],
            capture_output=True, text=True, timeout=args.seconds + 120,
        )  # fmt: skip
        if child.returncode < 0:
            print(f"child killed by {signal.Signals(-child.returncode).name} after {args.seconds:.0f}s budget")
            print(child.stderr[-2000:])
            sys.exit(1)
        taken, failed = (int(x) for x in child.stdout.split())
        print(f"cold snapshots: {taken} in {args.seconds:.0f}s ({taken / args.seconds:.0f}/s), {failed} failed, child exit {child.returncode}")


if __name__ == "__main__":
    main()
