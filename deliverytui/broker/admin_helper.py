"""Building and starting the Java admin helper: Kafka's own Admin client for what confluent-kafka lacks.

The helper's source (``deliverytui/kafka/java``) ships with the package; no binary does. Maven
builds it once into the per-user cache (:mod:`deliverytui.broker.java_build`, which the JVM
consumers' probe jar shares): a changed source is rebuilt, an unchanged one never is. ``deliverytui broker fetch`` (and so ``scripts/setup``) builds it; a command that
needs it and finds it missing builds it then (a few seconds, once).

It lives here, in the broker layer, because it needs the Kafka distribution (the ``java`` and
the jars the broker runs on), which :mod:`deliverytui.kafka` may not import; the client that
talks to the running helper is :class:`deliverytui.kafka.java_admin.JavaAdmin`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from deliverytui.broker.distribution import KafkaDistribution, KafkaSetupError, resolve_distribution
from deliverytui.broker.java_build import JavaBuild, build_jar
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


#: The helper's Maven project (``deliverytui/kafka/java``) and where its jar is cached.
ADMIN_HELPER_BUILD = JavaBuild(
    source_dir="kafka/java", cache_prefix="admin-helper", jar_name=JAR_NAME, what="deliverytui's Java admin helper",
    extra_files=(LOG_CONFIG,),
)


def source_hash(kafka_version: str) -> str:
    return ADMIN_HELPER_BUILD.source_hash(kafka_version)


def helper_dir(kafka_version: str) -> Path:
    return ADMIN_HELPER_BUILD.target_dir(kafka_version)


def build_admin_helper(
    dist: KafkaDistribution | None = None, *, progress: Callable[[str], None] | None = None
) -> Path:
    """The helper's jar, built with Maven on first use (:func:`~deliverytui.broker.java_build.build_jar`), plus its class archive."""
    dist = dist or resolve_distribution(progress=progress)
    jar, _ = build_jar(ADMIN_HELPER_BUILD, dist.kafka_version, progress=progress)
    if not (jar.parent / CLASS_ARCHIVE).exists() and not (jar.parent / NO_ARCHIVE_MARKER).exists():
        _dump_class_archive(dist, jar)  # after a build, or for a helper built before archives existed
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
