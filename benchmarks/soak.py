"""Soak: the demo lab for N minutes at R events/s with a random crash every 20 s — guarantees, memory, fds.

What runs is what ``deliverytui demo`` runs, minus the screen: one process (this one, "the
app") holds the supervisor of the six demo consumers (real OS processes, auto-restarted
1 s after they die), the rate-limited producer thread, and the auditor; it polls the
supervisor every second as the lab does and audits every ``--audit-every`` seconds.
Every ``--crash-every`` seconds a random consumer is crashed: half the time SIGKILLed
from outside at whatever it is doing, half the time armed to SIGKILL itself at a random
crash point of its semantic.

At the end the producer stops, the consumers drain the topic, and the final audit must
show each semantic's guarantee: at-most-once never duplicates, at-least-once never
loses, idempotent / upsert / state-check neither lose nor duplicate, exactly-once's
output has every event exactly once; nothing is ever unexpected. Meanwhile it samples the
app's RSS and open file descriptors (``/proc/PID``) and every consumer's fds: the app's
RSS may grow at most 10 % after the warm-up (default 5 minutes), and no process's fd
count may keep growing.

Speed is reported, not asserted: if the machine cannot sustain the rate, the figures say
what it did sustain (producer acks/s and each consumer's processed/s).

Usage: python benchmarks/soak.py [--minutes 30] [--rate 500] [--crash-every 20] [--warmup 5]
       [--bootstrap HOST:PORT] [--commit-every N] [--redis | --dedup URL] [--seed S] [--json FILE]
Without --bootstrap it starts its own embedded broker in a temporary data dir.
``tests/test_soak.py`` runs the same :func:`run_soak` for 3 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deliverytui.demo.auditor import audit  # noqa: E402
from deliverytui.demo.ledger import EffectsLedger, sqlite_ledger_url  # noqa: E402
from deliverytui.demo.offsets import OffsetReader  # noqa: E402
from deliverytui.demo.producer_loop import RateLimitedProducer  # noqa: E402
from deliverytui.demo.semantics import CONSUMER_GROUP_SEMANTICS, semantic_spec  # noqa: E402
from deliverytui.demo.supervisor import DemoSupervisor  # noqa: E402
from deliverytui.demo.task_api import ensure_topic  # noqa: E402
from deliverytui.errors import one_line
from deliverytui.model.demo import AuditReport  # noqa: E402

RSS_GROWTH_LIMIT = 0.10
WINDOW_SEMANTICS = ("idempotent", "upsert", "state-check")
"""The semantics that never lose and duplicate only when a SIGKILL from outside lands between the
effect and its completion (the dedup key's, or the row's effect record): each such duplicate must be
explained by a kill of the process that did the first attempt (:func:`killed_window_duplicates`)."""
FD_SETTLE_SECONDS = 30.0
"""A consumer's fd count is compared from this long after its start (connections are opened lazily)."""
FD_GROWTH_LIMIT = 8
"""More fds than this added within one process's life (after it settled) counts as a leak."""


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (``VmRSS``), or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid: int) -> int | None:
    """Open file descriptors of ``pid``, or None if it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


@dataclass
class ProcessFds:
    """fd counts of one consumer process over its life."""

    semantic: str
    pid: int
    first_at: float
    settled: int | None = None
    last: int | None = None
    peak: int = 0

    def growth(self) -> int:
        return 0 if self.settled is None or self.last is None else self.last - self.settled


@dataclass
class SoakReport:
    minutes: float
    rate: float
    seed: int
    commit_every: int | None = None
    elapsed_s: float = 0.0
    produced: int = 0
    producer_failed: int = 0
    sustained_produce_rate: float = 0.0
    crashes_injected: int = 0
    kills: int = 0
    armed: int = 0
    #: semantic -> pids SIGKILLed from outside (explains the idempotent consumer's window duplicates).
    killed_pids: dict[str, list[str]] = field(default_factory=dict)
    #: semantic -> duplicates allowed because a kill landed between the effect and the dedup completion.
    window_duplicates: dict[str, int] = field(default_factory=dict)
    crashes_recorded: dict[str, int] = field(default_factory=dict)
    processed_rate: dict[str, float] = field(default_factory=dict)
    lag_at_end_of_run: dict[str, int] = field(default_factory=dict)
    drain_s: float = 0.0
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit_seconds_first: float = 0.0
    audit_seconds_last: float = 0.0
    audits: int = 0
    rss_kib_start: int = 0
    rss_kib_warm: int = 0
    rss_kib_end: int = 0
    rss_kib_after_final_audit: int = 0
    rss_growth: float = 0.0
    app_fds_warm: int = 0
    app_fds_end: int = 0
    app_fds_max: int = 0
    consumer_fds_peak: dict[str, int] = field(default_factory=dict)
    consumer_fd_growth_max: dict[str, int] = field(default_factory=dict)
    consumer_processes: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    audit_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def killed_window_duplicates(audit: Any, killed_pids: Sequence[str]) -> int:
    """Duplicates of the idempotent (pattern 1) consumer that a SIGKILL from outside explains.

    Pattern 1 claims the key, does the effect, then marks the key done. A SIGKILL that lands
    between the effect and the completion leaves a claimed, unfinished key: the lease
    expires, the redelivered event is claimed again and the effect happens twice. That is
    the limit of the pattern the chapter's own exercise is about (an external call that
    cannot be made idempotent), not a bug, and only an outside kill can land there: the armed
    crash points sit elsewhere. Counted only when every duplicate is listed and each one's
    first attempt was made by a process that was killed from outside; else 0 (not explained).
    """
    redeliveries = getattr(audit, "redeliveries", ())
    listed = sum(len(r.attempts) - 1 for r in redeliveries)
    if not audit.duplicates or listed != audit.duplicates:
        return 0
    killed = set(killed_pids)
    if all(r.attempts and r.attempts[0].pid in killed for r in redeliveries):
        return audit.duplicates
    return 0


def check_guarantees(report: AuditReport, killed_pids: Mapping[str, Sequence[str]] | None = None,
                     window: dict[str, int] | None = None) -> list[str]:
    """Each semantic's promise, on the final audit (after the topic was drained).

    ``killed_pids`` (semantic -> pids SIGKILLed from outside) lets the duplicates of the
    :data:`WINDOW_SEMANTICS` through when :func:`killed_window_duplicates` explains every one;
    they are recorded in ``window``.
    """
    problems = []
    for a in report.consumers:
        name = a.semantic
        allowed = 0
        if name in WINDOW_SEMANTICS and killed_pids:
            allowed = killed_window_duplicates(a, killed_pids.get(name, ()))
            if allowed and window is not None:
                window[name] = allowed
        if a.unexpected:
            problems.append(f"{name}: {a.unexpected} unexpected effect(s)")
        if a.processed != report.produced:
            # Not drained: loss and duplicates are still checked on what the group committed past.
            problems.append(f"{name}: the group passed {a.processed} of {report.produced} events (not drained)")
            if a.duplicates and name != "at-least-once":
                problems.append(f"{name} duplicated {a.duplicates} effect(s)")
            if a.lost and name != "at-most-once":
                problems.append(f"{name} lost {a.lost} event(s)")
            continue
        if name == "at-most-once":
            if a.duplicates:
                problems.append(f"at-most-once duplicated {a.duplicates} effect(s)")
            if a.unique_effects + a.lost != report.produced:
                problems.append(f"at-most-once: {a.unique_effects} done + {a.lost} lost != {report.produced}")
        elif name == "at-least-once":
            if a.lost:
                problems.append(f"at-least-once lost {a.lost} event(s)")
            if a.unique_effects != report.produced:
                problems.append(f"at-least-once: {a.unique_effects} events done of {report.produced}")
        else:
            if a.lost or a.duplicates - allowed:
                problems.append(f"{name}: {a.lost} lost, {a.duplicates} duplicate(s)")
            if a.effects - allowed != report.produced or a.unique_effects != report.produced:
                problems.append(f"{name}: {a.effects} effects / {a.unique_effects} unique for {report.produced} events")
    return problems


def run_soak(
    bootstrap: str,
    *,
    minutes: float = 30.0,
    rate: float = 500.0,
    crash_every: float = 20.0,
    warmup_minutes: float = 5.0,
    sample_every: float = 10.0,
    audit_every: float = 10.0,
    run_dir: str | Path | None = None,
    ledger_url: str | None = None,
    dedup_url: str | None = None,
    partitions: int = 3,
    seed: int | None = None,
    drain_timeout: float | None = None,
    probe: bool = True,
    commit_every: int | None = None,
    progress: Callable[[str], None] = lambda line: print(line, flush=True),
) -> SoakReport:
    """Run the soak and return its figures; ``report.violations`` lists every broken promise."""
    seed = seed if seed is not None else random.randrange(2**31)
    rng = random.Random(seed)
    unique = uuid.uuid4().hex[:8]
    run_path = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="deliverytui-soak-"))
    run_path.mkdir(parents=True, exist_ok=True)
    ledger_url = ledger_url or sqlite_ledger_url(run_path / "ledger.db")
    topic = f"soak-{unique}"
    ensure_topic(bootstrap, topic, partitions)
    semantics = CONSUMER_GROUP_SEMANTICS
    supervisor = DemoSupervisor(
        bootstrap, run_path, ledger_url, dedup_url, group_prefix=f"soak-{unique}-", semantics=semantics,
        auto_restart=1.0, topic=topic, probe=probe, commit_every=commit_every,
    )  # fmt: skip
    producer = RateLimitedProducer(bootstrap, ledger_url, topic=topic, task_prefix=f"task-{unique}")
    reader = OffsetReader(bootstrap)
    me = os.getpid()
    result = SoakReport(minutes=minutes, rate=rate, seed=seed, commit_every=commit_every)
    fds: dict[int, ProcessFds] = {}
    result.rss_kib_start = rss_kib(me) or 0
    app_fds: list[int] = []

    def sample(now: float, started: float) -> None:
        rss = rss_kib(me) or 0
        app = fd_count(me) or 0
        app_fds.append(app)
        consumers: dict[str, int | None] = {}
        for status in supervisor.poll():
            if status.pid is None:
                continue
            count = fd_count(status.pid)
            consumers[status.semantic] = count
            if count is None:
                continue
            entry = fds.setdefault(status.pid, ProcessFds(status.semantic, status.pid, now))
            entry.peak = max(entry.peak, count)
            if now - entry.first_at >= FD_SETTLE_SECONDS:
                if entry.settled is None:
                    entry.settled = count
                entry.last = count
        result.samples.append(
            {"t": round(now - started, 1), "rss_kib": rss, "app_fds": app, "consumer_fds": consumers,
             "acked": producer.acknowledged}
        )  # fmt: skip

    audit_ledger = EffectsLedger(ledger_url)  # the audit thread's own connection, as the lab's worker has
    stop_audits = threading.Event()

    def audit_now() -> AuditReport:
        begun = time.monotonic()
        report = audit(
            audit_ledger, bootstrap, group_prefix=supervisor.group_prefix, semantics=semantics, topic=topic,
            dedup_url=dedup_url, run_dir=run_path,
        )  # fmt: skip
        took = time.monotonic() - begun
        if result.audits == 0:
            result.audit_seconds_first = took
        result.audit_seconds_last = took
        result.audits += 1
        return report

    try:
        supervisor.start_all()
        deadline = time.monotonic() + 120
        while not all(s.state == "running" for s in supervisor.poll()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumers did not start: {supervisor.poll()}")
            time.sleep(0.5)
        progress(
            f"soak: {minutes:g} min at {rate:g} events/s, a crash every {crash_every:g} s, seed {seed}, "
            f"topic {topic}, run dir {run_path}"
        )
        producer.start(rate)
        started = time.monotonic()
        end = started + minutes * 60
        warm_at = started + warmup_minutes * 60
        next_crash = started + crash_every
        next_sample = started

        def audit_loop() -> None:  # like the lab's worker: audits never hold up polling and crashes
            while not stop_audits.wait(audit_every):
                try:
                    audit_now()
                except Exception as exc:  # noqa: BLE001 - reported, the soak goes on
                    result.audit_errors.append(one_line(exc))

        auditor = threading.Thread(target=audit_loop, name="soak-audit", daemon=True)
        auditor.start()
        next_report = started + 60
        processed_at_start = {s.semantic: s.processed for s in supervisor.poll()}
        while (now := time.monotonic()) < end:
            if now >= next_crash:
                next_crash += crash_every
                victim = rng.choice(semantics)
                if rng.random() < 0.5:
                    pid = next((s.pid for s in supervisor.poll() if s.semantic == victim and s.alive), None)
                    if supervisor.kill(victim):
                        if pid is not None:
                            result.killed_pids.setdefault(victim, []).append(str(pid))
                        result.kills += 1
                        result.crashes_injected += 1
                else:
                    point = rng.choice(semantic_spec(victim).crash_points)
                    supervisor.arm_crash(victim, point)
                    result.armed += 1
                    result.crashes_injected += 1
            if now >= next_sample:
                next_sample += sample_every
                sample(now, started)
                if not result.rss_kib_warm and now >= warm_at:
                    result.rss_kib_warm = result.samples[-1]["rss_kib"]
                    result.app_fds_warm = result.samples[-1]["app_fds"]
            else:
                supervisor.poll()  # reap and auto-restart, once a second, as the lab does
            if now >= next_report:
                next_report += 60
                last = result.samples[-1]
                progress(
                    f"  {(now - started) / 60:5.1f} min: acked {producer.acknowledged:,}, "
                    f"RSS {last['rss_kib'] / 1024:.1f} MiB, app fds {last['app_fds']}, "
                    f"crashes injected {result.crashes_injected}, last audit {result.audit_seconds_last:.1f} s"
                )
            time.sleep(max(0.0, min(1.0, next_sample - time.monotonic(), next_crash - time.monotonic())))
        elapsed = time.monotonic() - started
        stop_audits.set()
        auditor.join()
        sample(time.monotonic(), started)
        result.rss_kib_end = result.samples[-1]["rss_kib"]
        result.app_fds_end = result.samples[-1]["app_fds"]
        if not result.rss_kib_warm:
            result.rss_kib_warm = result.samples[0]["rss_kib"]
            result.app_fds_warm = result.samples[0]["app_fds"]
        result.elapsed_s = elapsed
        statuses = {s.semantic: s for s in supervisor.poll()}
        result.processed_rate = {
            name: round((statuses[name].processed - processed_at_start.get(name, 0)) / elapsed, 1) for name in semantics
        }
        producer.stop()
        result.produced = producer.acknowledged
        result.producer_failed = producer.failed
        result.sustained_produce_rate = round(producer.acknowledged / elapsed, 1)
        result.lag_at_end_of_run = {
            name: max(0, result.produced - statuses[name].processed) for name in semantics
        }  # approximate: processed counts messages handled, across restarts
        progress(f"  run over after {elapsed / 60:.1f} min: {result.produced:,} acked; draining")
        for name in semantics:
            supervisor.disarm_crash(name)
        drain_begun = time.monotonic()
        drain_deadline = drain_begun + (drain_timeout if drain_timeout is not None else max(300.0, minutes * 60))
        groups = [supervisor.group_of(name) for name in semantics]
        while not all(reader.drained(g, topic) for g in groups):
            if time.monotonic() > drain_deadline:
                result.violations.append("the consumers did not drain the topic in time")
                break
            supervisor.poll()
            time.sleep(1.0)
        result.drain_s = round(time.monotonic() - drain_begun, 1)
        supervisor.stop_all()
        final = audit_now()
        result.rss_kib_after_final_audit = rss_kib(me) or 0
        result.audit = {a.semantic: audit_figures(a) for a in final.consumers}
        result.crashes_recorded = {a.semantic: a.crashes for a in final.consumers}
        result.violations += check_guarantees(final, result.killed_pids, result.window_duplicates)
        if final.produced != result.produced:
            result.violations.append(f"the ledger holds {final.produced} acks, the producer counted {result.produced}")
    finally:
        stop_audits.set()
        producer.stop()
        supervisor.close()
        reader.close()
        audit_ledger.close()

    result.rss_growth = round((result.rss_kib_end - result.rss_kib_warm) / max(1, result.rss_kib_warm), 4)
    if result.rss_growth >= RSS_GROWTH_LIMIT:
        result.violations.append(
            f"app RSS grew {result.rss_growth:.1%} after the warm-up "
            f"({result.rss_kib_warm / 1024:.1f} -> {result.rss_kib_end / 1024:.1f} MiB)"
        )
    warm_index = next(
        (i for i, s in enumerate(result.samples) if s["t"] >= warmup_minutes * 60), max(0, len(result.samples) - 1)
    )
    result.app_fds_max = max(app_fds[warm_index:] or [0])
    if result.app_fds_end > result.app_fds_warm + FD_GROWTH_LIMIT:
        result.violations.append(f"app fds grew from {result.app_fds_warm} to {result.app_fds_end}")
    result.consumer_processes = len(fds)
    for entry in fds.values():
        result.consumer_fds_peak[entry.semantic] = max(result.consumer_fds_peak.get(entry.semantic, 0), entry.peak)
        result.consumer_fd_growth_max[entry.semantic] = max(
            result.consumer_fd_growth_max.get(entry.semantic, 0), entry.growth()
        )
        if entry.growth() > FD_GROWTH_LIMIT:
            result.violations.append(
                f"{entry.semantic} pid {entry.pid}: fds grew from {entry.settled} to {entry.last} in one process"
            )
    return result


def audit_figures(a: Any) -> dict[str, Any]:
    return {
        "processed": a.processed, "effects": a.effects, "unique": a.unique_effects, "duplicates": a.duplicates,
        "lost": a.lost, "unexpected": a.unexpected, "dedup_hits": a.dedup_hits, "crashes": a.crashes,
        "redelivery_causes": a.redelivery_causes,
    }  # fmt: skip


def format_report(r: SoakReport) -> str:
    lines = [
        f"soak: {r.elapsed_s / 60:.1f} min at {r.rate:g} events/s offered (seed {r.seed}), "
        + (f"commits every {r.commit_every} messages" if r.commit_every else "commits per message"),
        f"  produced (acked)   {r.produced:,} ({r.sustained_produce_rate:g}/s sustained), {r.producer_failed} failed",
        f"  crashes injected   {r.crashes_injected} ({r.kills} SIGKILL from outside, {r.armed} armed at a crash point)",
        f"  consumer processes {r.consumer_processes} seen; drain after the run {r.drain_s:g} s",
        f"  audits             {r.audits} (first took {r.audit_seconds_first:.2f} s, last {r.audit_seconds_last:.2f} s)"
        + (f", {len(r.audit_errors)} failed: {r.audit_errors[-1]}" if r.audit_errors else ""),
        "  semantic        processed/s  lag@end  effects    unique     dup    lost  unexp  dedup-hits  crashes",
    ]
    for name, a in r.audit.items():
        lines.append(
            f"  {name:<15} {r.processed_rate.get(name, 0):>10.1f} {r.lag_at_end_of_run.get(name, 0):>8,} "
            f"{a['effects']:>8,} {a['unique']:>9,} {a['duplicates']:>7,} {a['lost']:>7,} {a['unexpected']:>6,} "
            f"{a['dedup_hits']:>10,} {a['crashes']:>8}"
        )
    lines += [
        f"  app RSS            start {r.rss_kib_start / 1024:.1f} MiB, after warm-up {r.rss_kib_warm / 1024:.1f} MiB, "
        f"end {r.rss_kib_end / 1024:.1f} MiB ({r.rss_growth:+.1%}), after the final audit "
        f"{r.rss_kib_after_final_audit / 1024:.1f} MiB",
        f"  app fds            after warm-up {r.app_fds_warm}, end {r.app_fds_end}, max {r.app_fds_max}",
        "  consumer fds       peak " + ", ".join(f"{k} {v}" for k, v in sorted(r.consumer_fds_peak.items()))
        + "; max growth within one process " + ", ".join(f"{k} {v:+d}" for k, v in sorted(r.consumer_fd_growth_max.items())),
    ]
    if r.window_duplicates:
        lines.append(
            "  window duplicates  " + ", ".join(f"{k} {v}" for k, v in sorted(r.window_duplicates.items()))
            + " (a SIGKILL from outside between the effect and the dedup completion: pattern 1's limit)"
        )
    lines += [
        "  verdict            " + ("OK: every guarantee held, flat memory, no fd leak" if r.ok else "FAILED"),
    ]
    lines += [f"  ! {v}" for v in r.violations]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start an embedded one in a temp dir)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--crash-every", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before the RSS baseline (default 5)")
    parser.add_argument("--audit-every", type=float, default=10.0, help="seconds between audits (default 10)")
    parser.add_argument("--dedup", help="idempotency store URL (default: SQLite in the run dir, as the lab)")
    parser.add_argument(
        "--redis", action="store_true",
        help="start a private redis-server for the idempotent consumer's dedup store (the chapter's pattern 1)",
    )  # fmt: skip
    parser.add_argument("--ledger", help="ledger URL (default: SQLite in the run dir, as the lab)")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--commit-every", type=int, metavar="N", help="each consumer's --commit-every (default: per message)"
    )
    parser.add_argument("--drain-timeout", type=float, help="seconds to wait for the drain (default: the run's length)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure and sample as JSON here")
    args = parser.parse_args()
    # Stopped from outside (a background job ignores SIGINT): stop the consumers and the broker cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    broker = None
    redis = None
    bootstrap = args.bootstrap
    base = Path(tempfile.mkdtemp(prefix="deliverytui-soak-"))
    if args.redis:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.services import RedisServerProcess

        redis = RedisServerProcess(persistent=False)
        redis.start()
        args.dedup = redis.url
        print(f"redis-server for the dedup store at {redis.url}", flush=True)
    if not bootstrap:
        from deliverytui.broker.distribution import resolve_distribution
        from deliverytui.broker.embedded import EmbeddedBroker

        dist = resolve_distribution()
        broker = EmbeddedBroker(base / "broker")
        bootstrap = broker.start(distribution=dist)[0].bootstrap
        print(f"embedded Apache Kafka {dist.kafka_version} at {bootstrap}", flush=True)
    try:
        report = run_soak(
            bootstrap, minutes=args.minutes, rate=args.rate, crash_every=args.crash_every, warmup_minutes=args.warmup,
            audit_every=args.audit_every, run_dir=base / "run", ledger_url=args.ledger, dedup_url=args.dedup,
            seed=args.seed, drain_timeout=args.drain_timeout, commit_every=args.commit_every,
        )  # fmt: skip
    finally:
        if broker is not None:
            with contextlib.suppress(Exception):
                broker.stop()
        if redis is not None:
            with contextlib.suppress(Exception):
                redis.stop()
    print(format_report(report), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=1))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
