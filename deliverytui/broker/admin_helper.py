"""Building and starting the Java admin helper: Kafka's own Admin client for what confluent-kafka lacks.

The helper's source (``deliverytui/kafka/java``) ships with the package; no binary does. Maven
builds it once into the per-user cache, next to the Kafka jars, under a directory named by a
hash of the sources, the pom and the Kafka version: a changed source is rebuilt, an unchanged
one never is. ``deliverytui broker fetch`` (and so ``scripts/setup``) builds it; a command that
needs it and finds it missing builds it then (a few seconds, once).

It lives here, in the broker layer, because it needs the Kafka distribution (the ``java`` and
the jars the broker runs on), which :mod:`deliverytui.kafka` may not import; the client that
talks to the running helper is :class:`deliverytui.kafka.java_admin.JavaAdmin`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from deliverytui.broker.distribution import KafkaDistribution, KafkaSetupError, resolve_distribution
from deliverytui.broker.paths import cache_root
from deliverytui.kafka.child_process import child_environment

MAIN_CLASS = "io.github.deliverytui.admin.AdminHelper"
JAR_NAME = "deliverytui-admin-helper.jar"
LOG_CONFIG = "log4j2-helper.properties"
CLASS_ARCHIVE = "helper-classes.jsa"
NO_ARCHIVE_MARKER = ".no-class-archive"

#: JVM flags for a short-lived client: no JIT beyond C1, a serial collector, a small heap,
#: class-data sharing (plus, when it could be dumped, an archive of the helper's own classes:
#: ``_dump_class_archive``). They halve a cold start (measured in benchmarks/share.py).
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx256m", "-XX:-UsePerfData")


def _sources() -> Traversable:
    return resources.files("deliverytui.kafka").joinpath("java")


def _source_files(root: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    """Every file under ``root`` as (relative path, bytes), sorted: what the build hash covers."""
    files: list[tuple[str, bytes]] = []
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            files.extend(_source_files(entry, name + "/"))
        elif entry.is_file() and not entry.name.endswith((".pyc", ".class")):
            files.append((name, entry.read_bytes()))
    return sorted(files)


def source_hash(kafka_version: str) -> str:
    digest = hashlib.sha256(kafka_version.encode())
    for name, data in _source_files(_sources()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()[:16]


def helper_dir(kafka_version: str) -> Path:
    return cache_root() / f"admin-helper-{source_hash(kafka_version)}"


def build_admin_helper(
    dist: KafkaDistribution | None = None, *, progress: Callable[[str], None] | None = None
) -> Path:
    """The helper's jar, built with Maven on first use (into a temporary directory, then renamed into place)."""
    dist = dist or resolve_distribution(progress=progress)
    target = helper_dir(dist.kafka_version)
    jar = target / JAR_NAME
    if jar.exists():
        if not (target / CLASS_ARCHIVE).exists() and not (target / NO_ARCHIVE_MARKER).exists():
            _dump_class_archive(dist, jar)  # a helper built before archives existed
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaSetupError("Maven was not found: install it (e.g. 'apt-get install -y maven') to build deliverytui's Java admin helper.")
    if progress:
        progress("Building deliverytui's Java admin helper with Maven (first use only)...")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="admin-helper-", dir=target.parent))
    try:
        for name, data in _source_files(_sources()):
            path = staging / "src-tree" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        command = [mvn, "-B", "-q", "-f", str(staging / "src-tree" / "pom.xml"), f"-Dkafka.version={dist.kafka_version}", "package"]
        done = subprocess.run(command, capture_output=True, text=True, env=child_environment(), timeout=900)
        built = staging / "src-tree" / "target" / JAR_NAME
        if done.returncode != 0 or not built.exists():
            lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in (done.stdout + done.stderr).splitlines()]
            reason = next((line for line in lines if "[ERROR]" in line), lines[-1] if lines else "no output")
            raise KafkaSetupError(f"Maven could not build the Java admin helper (exit {done.returncode}): {reason.strip()}")
        (staging / JAR_NAME).write_bytes(built.read_bytes())
        (staging / LOG_CONFIG).write_bytes(_sources().joinpath(LOG_CONFIG).read_bytes())
        shutil.rmtree(staging / "src-tree")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _dump_class_archive(dist, jar)
    if progress:
        progress(f"  done: {jar}")
    return jar


def _dump_class_archive(dist: KafkaDistribution, jar: Path) -> None:
    """Record the classes a helper start loads into a class-data-sharing archive next to the jar.

    Why: the JVM start is most of what a CLI command on a share group costs, and mapping the
    classes from an archive instead of reading and verifying them from jars cuts it by about
    40% (measured in benchmarks/share.py). The helper is started once with
    ``-XX:ArchiveClassesAtExit`` and asked for a ``ping`` (no broker needed: creating the
    Admin client loads the client's classes). Best effort: without the archive the helper
    still starts, only slower; a JVM that cannot use it ignores it (``-Xshare:auto``).
    """
    archive = jar.parent / CLASS_ARCHIVE
    dumping = jar.parent / f".{CLASS_ARCHIVE}.{os.getpid()}"
    command = [dist.java, *JVM_FLAGS, f"-XX:ArchiveClassesAtExit={dumping}", f"-Dlog4j2.configurationFile={jar.parent / LOG_CONFIG}",
               "-cp", f"{jar}:{dist.classpath}", MAIN_CLASS]
    lines = '{"properties": {"bootstrap.servers": "127.0.0.1:9"}}\n{"id": 1, "op": "ping"}\n'
    try:
        done = subprocess.run(command, input=lines, capture_output=True, text=True, timeout=120, env=child_environment())
        if done.returncode == 0 and dumping.exists():
            dumping.rename(archive)  # whole or not at all: a half-written archive is never used
            return
    except (OSError, subprocess.TimeoutExpired):
        pass
    dumping.unlink(missing_ok=True)
    (jar.parent / NO_ARCHIVE_MARKER).write_text("this JVM could not dump a class archive; the helper runs without one\n")


def admin_helper_command(*, progress: Callable[[str], None] | None = None) -> list[str]:
    """The argv that starts the helper (built first if needed). It holds no secret: those go on its stdin."""
    dist = resolve_distribution(progress=progress)
    jar = build_admin_helper(dist, progress=progress)
    log_config = jar.parent / LOG_CONFIG
    archive = jar.parent / CLASS_ARCHIVE
    sharing = (f"-XX:SharedArchiveFile={archive}",) if archive.exists() else ()
    return [dist.java, *JVM_FLAGS, *sharing, f"-Dlog4j2.configurationFile={log_config}", "-cp", f"{jar}:{dist.classpath}", MAIN_CLASS]


def admin_helper_built() -> bool:
    """Whether the helper for these sources is built already (``scripts/setup`` asks, to stay silent when it is)."""
    try:
        dist = resolve_distribution(fetch=False)
    except KafkaSetupError:
        return False
    target = helper_dir(dist.kafka_version)
    return (target / JAR_NAME).exists() and ((target / CLASS_ARCHIVE).exists() or (target / NO_ARCHIVE_MARKER).exists())
