"""Nemesis: the six demo semantics on a 3-node cluster under a seeded, repeatable schedule of faults.

Why: each fault test injects one fault; a nemesis mixes them, at random moments, as production
does. Everything is real: a 3-node embedded Kafka 4.4 cluster (replication factor 3,
``min.insync.replicas=2``), the six demo consumers (real OS processes, auto-restarted 1 s after
they die) and the rate-limited ``acks=all`` producer, the effects ledger on a real PostgreSQL,
the idempotent consumer's dedup store on a real Redis (append-only, fsync always).

The schedule (``--seed``) is planned before the run and printed: one fault per slot of
``--slot`` seconds, the kinds dealt so that each appears, at a random moment in its slot,
plus consumer SIGKILLs at random moments anywhere:

* ``kill-node N`` — SIGKILL a broker node; restarted 15 s later (in the background);
* ``kill-coordinator S`` — SIGKILL the node that coordinates semantic S's group (asked of
  the Admin API when the fault fires); restarted 15 s later;
* ``kill-consumer S`` — SIGKILL consumer S at whatever it is doing;
* ``crash-consumer S P`` — arm S to SIGKILL itself at crash point P;
* ``restart-redis`` / ``restart-postgres`` — stop the server, start it again 5 s later;
* ``instance S`` — a second instance joins S's group (a rebalance) and is SIGKILLed 12 s later
  (it leaves: another rebalance after the static member's session timeout).

A broker fault that comes due while a node is still down is skipped (and said so): two nodes
down would stop the quorum, which is not a fault the semantics are about. At the end every
server is back, the producer stops, the topic drains, and the final audit must hold each
semantic's guarantee (``soak.check_guarantees``): at-most-once may lose, never duplicates;
at-least-once may duplicate, never loses; idempotent, upsert and state-check never lose and
duplicate only when a SIGKILL from outside landed between the effect and its completion (each
listed, with its explanation); exactly-once neither loses nor duplicates; nothing is
unexpected; and every Jepsen class (nonmonotonic-poll, poll-skip, G1a, inconsistent offsets)
reads 0. It prints the schedule, every fault as injected, every figure; exits 1 if a guarantee
failed.

Usage: python benchmarks/nemesis.py [--minutes 10] [--seed S] [--rate 10] [--slot 25] [--commit-every 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from confluent_kafka import KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from soak import audit_figures, check_guarantees  # noqa: E402

from deliverytui.broker.embedded import EmbeddedBroker  # noqa: E402
from deliverytui.demo.auditor import audit  # noqa: E402
from deliverytui.demo.ledger import EffectsLedger  # noqa: E402
from deliverytui.demo.offsets import OffsetReader  # noqa: E402
from deliverytui.demo.producer_loop import RateLimitedProducer  # noqa: E402
from deliverytui.demo.semantics import CONSUMER_GROUP_SEMANTICS, output_topic, semantic_spec  # noqa: E402
from deliverytui.demo.supervisor import DemoSupervisor  # noqa: E402
from deliverytui.demo.task_api import ensure_topic  # noqa: E402
from deliverytui.errors import one_line  # noqa: E402
from deliverytui.kafka.client_config import silent_librdkafka_logger  # noqa: E402
from deliverytui.model.demo import AuditReport  # noqa: E402

SLOT_KINDS = ("kill-node", "kill-coordinator", "restart-redis", "restart-postgres", "instance", "crash-consumer")
NODE_DOWN_SECONDS = 15.0
SERVER_DOWN_SECONDS = 5.0
INSTANCE_SECONDS = 12.0
NODES = 3


@dataclass(frozen=True)
class Fault:
    """One planned fault: when (seconds into the run), what, and on what."""

    at: float
    kind: str
    target: str = ""
    detail: str = ""

    def describe(self) -> str:
        return " ".join(part for part in (self.kind, self.target, self.detail) if part)


def plan_schedule(seed: int, minutes: float, slot: float = 25.0) -> list[Fault]:
    """The run's faults, from ``seed`` alone: the same seed always gives the same schedule."""
    rng = random.Random(seed)
    names = list(CONSUMER_GROUP_SEMANTICS)
    length = minutes * 60
    faults: list[Fault] = []
    kinds: list[str] = []
    start = slot / 2
    while start + slot / 2 < length:
        if not kinds:
            kinds = list(SLOT_KINDS)
            rng.shuffle(kinds)
        kind = kinds.pop()
        at = round(start + rng.uniform(0, slot / 4), 1)
        if kind == "kill-node":
            faults.append(Fault(at, kind, f"node {rng.randint(1, NODES)}"))
        elif kind in ("kill-coordinator", "instance"):
            faults.append(Fault(at, kind, rng.choice(names)))
        elif kind == "crash-consumer":
            name = rng.choice(names)
            faults.append(Fault(at, kind, name, f"at {rng.choice(semantic_spec(name).crash_points)}"))
        else:
            faults.append(Fault(at, kind))
        start += slot
    for _ in range(max(1, int(length // 30))):  # SIGKILLs at random moments, not only at crash points
        faults.append(Fault(round(rng.uniform(5, max(6.0, length - 5)), 1), "kill-consumer", rng.choice(names)))
    return sorted(faults, key=lambda f: (f.at, f.kind))


@dataclass
class NemesisReport:
    seed: int
    minutes: float
    rate: float
    commit_every: int | None = None
    schedule: list[str] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    killed_pids: dict[str, list[str]] = field(default_factory=dict)
    window_duplicates: dict[str, int] = field(default_factory=dict)
    window_explanations: dict[str, list[str]] = field(default_factory=dict)
    produced: int = 0
    producer_failed: int = 0
    elapsed_s: float = 0.0
    drain_s: float = 0.0
    audits: int = 0
    audit_errors: list[str] = field(default_factory=list)
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    anomalies: dict[str, dict[str, int]] = field(default_factory=dict)
    topic_anomalies: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


class Nemesis:
    """Injects the planned faults into the running cluster, servers and consumers, and heals them."""

    def __init__(self, cluster: EmbeddedBroker, supervisor: DemoSupervisor, redis: Any, postgres: Any,
                 bootstrap: str, report: NemesisReport, started: float) -> None:  # fmt: skip
        self.cluster, self.supervisor, self.redis, self.postgres = cluster, supervisor, redis, postgres
        self.report, self.started = report, started
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap}, logger=silent_librdkafka_logger())
        self.pending: list[tuple[float, int, str, Callable[[], str]]] = []
        self.node_down: int | None = None
        self.next_instance = 2
        self._seq = 0
        self._lock = threading.Lock()

    def log(self, line: str) -> None:
        stamped = f"t+{time.monotonic() - self.started:6.1f}s {line}"
        with self._lock:
            self.report.injected.append(stamped)
        print(f"  {stamped}", flush=True)

    def later(self, delay: float, what: str, action: Callable[[], str]) -> None:
        self._seq += 1
        heapq.heappush(self.pending, (time.monotonic() + delay, self._seq, what, action))

    def run_due(self) -> None:
        while self.pending and self.pending[0][0] <= time.monotonic():
            _at, _seq, what, action = heapq.heappop(self.pending)
            try:
                self.log(action())
            except Exception as exc:  # noqa: BLE001 - a fault that could not be healed is reported, the run goes on
                self.log(f"{what} failed: {one_line(exc)}")

    def inject(self, fault: Fault) -> None:
        kind = fault.kind
        if kind in ("kill-node", "kill-coordinator"):
            if self.node_down is not None:
                self.report.skipped.append(f"{fault.describe()} at t+{fault.at:g}s: node {self.node_down} still down")
                self.log(f"skipped {fault.describe()}: node {self.node_down} is still down")
                return
            node = int(fault.target.split()[-1]) if kind == "kill-node" else self.coordinator_node(fault.target)
            self.kill_node(node, fault)
        elif kind == "kill-consumer":
            pid = self.supervisor.pid(fault.target)
            if pid is None or not self.supervisor.kill(fault.target):
                self.report.skipped.append(f"{fault.describe()} at t+{fault.at:g}s: not running")
                self.log(f"skipped {fault.describe()}: it was not running")
                return
            self.report.killed_pids.setdefault(fault.target, []).append(str(pid))
            self.log(f"SIGKILL consumer {fault.target} (pid {pid})")
        elif kind == "crash-consumer":
            point = fault.detail.removeprefix("at ")
            self.supervisor.arm_crash(fault.target, point)
            self.log(f"armed {fault.target} to crash at {point}")
        elif kind == "restart-redis":
            self.redis.stop()
            self.log("Redis stopped (the idempotent consumer's dedup store)")
            self.later(SERVER_DOWN_SECONDS, "Redis start", lambda: (self.redis.start(), "Redis started again")[1])
        elif kind == "restart-postgres":
            self.postgres.stop()
            self.log("PostgreSQL stopped (the effects ledger)")
            self.later(SERVER_DOWN_SECONDS, "PostgreSQL start", lambda: (self.postgres.start(), "PostgreSQL started again")[1])
        elif kind == "instance":
            self.join_and_leave(fault.target)
        self.report.faults_by_kind[kind] = self.report.faults_by_kind.get(kind, 0) + 1

    def coordinator_node(self, semantic: str, attempts: int = 5) -> int:
        """The node coordinating ``semantic``'s group, from the Admin API; retried while the coordinator
        moves (NOT_COORDINATOR and its kin right after an earlier node kill)."""
        group = self.supervisor.group_of(semantic)
        for attempt in range(attempts):
            try:
                description = self.admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
                return int(description.coordinator.id)
            except KafkaException:
                if attempt == attempts - 1:
                    raise
                time.sleep(2.0)
                # A fresh client looks the coordinator up again (the old one kept asking a node that no longer is).
                self.admin = AdminClient({"bootstrap.servers": self.bootstrap}, logger=silent_librdkafka_logger())
        raise AssertionError("not reached")

    def kill_node(self, node: int, fault: Fault) -> None:
        self.cluster.kill(node)
        self.node_down = node
        why = f" (coordinator of {self.supervisor.group_of(fault.target)})" if fault.kind == "kill-coordinator" else ""
        self.log(f"SIGKILL broker node {node}{why}")

        def restart() -> None:
            time.sleep(NODE_DOWN_SECONDS)
            try:
                result = self.cluster.restart(node)
                self.log(f"broker node {node} restarted, " + ("back in every ISR" if result["in_sync"] else "not yet in sync"))
            except Exception as exc:  # noqa: BLE001 - said, and retried by the final heal
                self.log(f"broker node {node} restart failed: {one_line(exc)}")
            finally:
                self.node_down = None

        threading.Thread(target=restart, name=f"restart-node-{node}", daemon=True).start()

    def join_and_leave(self, semantic: str) -> None:
        instance = self.next_instance
        self.next_instance += 1  # a new number each time: a static member with a new id forces a rebalance
        pid = self.supervisor.start_instance(semantic, instance)
        self.log(f"instance {instance} of {semantic} joined (pid {pid}): a rebalance")

        def leave() -> str:
            if self.supervisor.kill_instance(semantic, instance):
                self.report.killed_pids.setdefault(semantic, []).append(str(pid))
                return f"instance {instance} of {semantic} SIGKILLed: it leaves after the session timeout"
            return f"instance {instance} of {semantic} had already exited"

        self.later(INSTANCE_SECONDS, f"instance {instance} leave", leave)

    def heal(self) -> None:
        """Run every pending heal now and bring every server and node back."""
        for _at, _seq, what, action in sorted(self.pending):
            try:
                self.log(action())
            except Exception as exc:  # noqa: BLE001
                self.log(f"{what} failed: {one_line(exc)}")
        self.pending.clear()
        deadline = time.monotonic() + 180
        while self.node_down is not None and time.monotonic() < deadline:
            time.sleep(1.0)
        self.redis.start()
        self.postgres.start()
        self.cluster.start()  # starts any node still down


def run_nemesis(
    cluster: EmbeddedBroker, bootstrap: str, redis: Any, postgres: Any, ledger_url: str, run_dir: Path, *,
    minutes: float, seed: int, rate: float, slot: float = 25.0, audit_every: float = 15.0, partitions: int = 3,
    drain_timeout: float = 420.0, commit_every: int | None = None,
) -> NemesisReport:  # fmt: skip
    """Run the schedule of ``seed`` for ``minutes`` and return the figures (``violations`` lists what failed)."""
    report = NemesisReport(seed=seed, minutes=minutes, rate=rate, commit_every=commit_every)
    schedule = plan_schedule(seed, minutes, slot)
    report.schedule = [f"t+{f.at:6.1f}s {f.describe()}" for f in schedule]
    print(f"nemesis: {minutes:g} min at {rate:g} events/s, seed {seed}; the schedule ({len(schedule)} faults):", flush=True)
    for line in report.schedule:
        print(f"  {line}", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    unique = uuid.uuid4().hex[:8]
    topic = f"nemesis-{unique}"
    replicated = {"min.insync.replicas": "2"}
    ensure_topic(bootstrap, topic, partitions, NODES, config=replicated)
    ensure_topic(bootstrap, output_topic(topic), partitions, NODES, config=replicated)  # else a consumer makes it RF 1
    semantics = CONSUMER_GROUP_SEMANTICS
    supervisor = DemoSupervisor(
        bootstrap, run_dir, ledger_url, redis.url, group_prefix=f"nemesis-{unique}-", semantics=semantics,
        auto_restart=1.0, topic=topic, probe=False, commit_every=commit_every,
    )  # fmt: skip
    producer = RateLimitedProducer(bootstrap, ledger_url, topic=topic, task_prefix=f"task-{unique}")
    reader = OffsetReader(bootstrap)
    stop_audits = threading.Event()
    audit_ledger: EffectsLedger | None = None

    def audit_now() -> AuditReport:
        nonlocal audit_ledger
        if audit_ledger is None:
            audit_ledger = EffectsLedger(ledger_url)
        result = audit(audit_ledger, bootstrap, group_prefix=supervisor.group_prefix, semantics=semantics, topic=topic,
                       dedup_url=redis.url, run_dir=run_dir)  # fmt: skip
        report.audits += 1
        return result

    def audit_loop() -> None:
        while not stop_audits.wait(audit_every):
            try:
                audit_now()
            except Exception as exc:  # noqa: BLE001 - a ledger that is down is part of the run
                report.audit_errors.append(one_line(exc))

    try:
        supervisor.start_all()
        deadline = time.monotonic() + 180
        while not all(s.state == "running" for s in supervisor.poll()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumers did not start: {supervisor.poll()}")
            time.sleep(0.5)
        producer.start(rate)
        started = time.monotonic()
        nemesis = Nemesis(cluster, supervisor, redis, postgres, bootstrap, report, started)
        auditor = threading.Thread(target=audit_loop, name="nemesis-audit", daemon=True)
        auditor.start()
        due = list(schedule)
        end = started + minutes * 60
        while (now := time.monotonic()) < end:
            while due and started + due[0].at <= now:
                fault = due.pop(0)
                try:
                    nemesis.inject(fault)
                except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is said, not fatal
                    report.skipped.append(f"{fault.describe()} at t+{fault.at:g}s: {one_line(exc)}")
                    nemesis.log(f"could not inject {fault.describe()}: {one_line(exc)}")
            nemesis.run_due()
            supervisor.poll()  # reap and auto-restart, once a second, as the lab does
            time.sleep(max(0.0, min(1.0, end - time.monotonic())))
        report.elapsed_s = round(time.monotonic() - started, 1)
        nemesis.log("run over: healing every fault, stopping the producer, draining")
        nemesis.heal()
        for name in semantics:
            supervisor.disarm_crash(name)
        producer.stop()
        report.produced, report.producer_failed = producer.acknowledged, producer.failed
        stop_audits.set()
        auditor.join()
        drain_begun = time.monotonic()
        groups = [supervisor.group_of(name) for name in semantics]
        while not all(reader.drained(g, topic) for g in groups):
            if time.monotonic() - drain_begun > drain_timeout:
                report.violations.append(f"the consumers did not drain the topic within {drain_timeout:g} s")
                break
            supervisor.poll()
            time.sleep(1.0)
        report.drain_s = round(time.monotonic() - drain_begun, 1)
        supervisor.stop_all()
        final = audit_now()
        judge(final, report)
    finally:
        stop_audits.set()
        producer.stop()
        supervisor.close()
        reader.close()
        if audit_ledger is not None:
            audit_ledger.close()
    return report


def judge(final: AuditReport, report: NemesisReport) -> None:
    """Each semantic's guarantee and every Jepsen class on the final audit, into ``report``."""
    report.audit = {a.semantic: audit_figures(a) for a in final.consumers}
    report.violations += check_guarantees(final, report.killed_pids, report.window_duplicates)
    for name in report.window_duplicates:
        report.window_explanations[name] = [r.explain() for r in final.for_semantic(name).redeliveries]
    if final.produced != report.produced:
        report.violations.append(f"the ledger holds {final.produced} acks, the producer counted {report.produced}")
    for a in final.consumers:
        report.anomalies[a.semantic] = a.anomalies.by_class()
        if a.anomalies.total:
            cases = "; ".join(case.detail for case in a.anomalies.cases[:5])
            report.violations.append(f"{a.semantic}: Jepsen anomalies {a.anomalies.by_class()}: {cases}")
    report.topic_anomalies = final.anomalies.by_class()
    if final.anomalies.total:
        report.violations.append(f"the topic: {final.anomalies.inconsistent_offsets} offset(s) carry two events")


def format_report(r: NemesisReport) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.faults_by_kind.items()))
    lines = [
        f"nemesis: {r.elapsed_s / 60:.1f} min at {r.rate:g} events/s offered, seed {r.seed}, "
        + (f"commits every {r.commit_every} messages" if r.commit_every else "commits per message"),
        f"  faults injected    {sum(r.faults_by_kind.values())} ({kinds}); skipped {len(r.skipped)}",
        f"  produced (acked)   {r.produced:,}, {r.producer_failed} failed sends; drain after the run {r.drain_s:g} s",
        f"  audits             {r.audits}" + (f", {len(r.audit_errors)} failed while a server was down (last: {r.audit_errors[-1]})"
                                               if r.audit_errors else ""),  # fmt: skip
        "  semantic        processed  effects   unique    dup   lost  unexp  dedup-hits  crashes  "
        "nonmono  skip  G1a  incons",
    ]
    for name, a in r.audit.items():
        j = r.anomalies.get(name, {})
        lines.append(
            f"  {name:<15} {a['processed']:>9,} {a['effects']:>8,} {a['unique']:>8,} {a['duplicates']:>6,} "
            f"{a['lost']:>6,} {a['unexpected']:>6,} {a['dedup_hits']:>11,} {a['crashes']:>8} "
            f"{j.get('nonmonotonic-poll', 0):>8} {j.get('poll-skip', 0):>5} {j.get('G1a', 0):>4} {j.get('inconsistent-offsets', 0):>7}"
        )
        causes = a.get("redelivery_causes") or {}
        if causes:
            lines.append(f"  {'':<15} duplicates by cause: " + ", ".join(f"{k} {v}" for k, v in sorted(causes.items())))
    lines.append(f"  the topic's own inconsistent offsets: {r.topic_anomalies.get('inconsistent-offsets', 0)}")
    for name, count in sorted(r.window_duplicates.items()):
        lines.append(f"  {name}: {count} duplicate(s) in the kill-between-effect-and-complete window:")
        lines += [f"    {line}" for line in r.window_explanations.get(name, [])]
    for line in r.skipped:
        lines.append(f"  skipped: {line}")
    lines.append("  verdict            " + ("OK: every guarantee held, every Jepsen class 0" if r.ok else "FAILED"))
    lines += [f"  ! {v}" for v in r.violations]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, help="the schedule's seed (default: a random one, printed)")
    parser.add_argument("--rate", type=float, default=10.0, help="events/s offered (default 10: six consumers drain it on 2 loaded cores)")
    parser.add_argument("--slot", type=float, default=25.0, help="seconds per planned fault (default 25)")
    parser.add_argument(
        "--commit-every", type=int, default=10, metavar="N",
        help="each consumer's --commit-every (default 10: per-message commits to a 3-node cluster and a "
        "PostgreSQL ledger drain ~5 events/s per consumer on a loaded 2-core machine)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON here")
    parser.add_argument(
        "--keep-dir", action="store_true",
        help="keep the run's directory (cluster data, consumer logs) even when the run passes; a failed run always keeps it",
    )  # fmt: skip
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    from deliverytui.broker.distribution import resolve_distribution
    from tests.services import PostgresServerProcess, RedisServerProcess

    base = Path(tempfile.mkdtemp(prefix="deliverytui-nemesis-"))
    cluster = EmbeddedBroker(base / "cluster")
    redis = RedisServerProcess(persistent=True)  # a restart keeps every completed dedup key
    postgres = PostgresServerProcess(settings={"fsync": "off"})
    try:
        redis.start()
        postgres.start()
        postgres.psql("CREATE DATABASE ledger")
        info, _ = cluster.start(NODES, distribution=resolve_distribution())
        print(f"3-node Apache Kafka at {info.bootstrap}; Redis {redis.url}; ledger {postgres.url_for('ledger')}", flush=True)
        report = run_nemesis(
            cluster, info.bootstrap, redis, postgres, postgres.url_for("ledger"), base / "run",
            minutes=args.minutes, seed=seed, rate=args.rate, slot=args.slot, commit_every=args.commit_every,
        )  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        redis.cleanup()
        postgres.cleanup()
    print(format_report(report), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=1))
    if report.ok and not args.keep_dir:
        shutil.rmtree(base, ignore_errors=True)
    else:  # the consumers' logs and status files are what a failed run is debugged from
        print(f"run directory kept: {base} (consumer logs in {base / 'run'})", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
