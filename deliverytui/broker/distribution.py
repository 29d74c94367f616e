"""Where the Apache Kafka jars come from: ``$KAFKA_HOME/libs`` or a Maven-resolved per-user cache.

deliverytui never ships Kafka. On first use it asks Maven to copy ``kafka_2.13``,
``kafka-tools`` and a log4j2 binding (see the packaged ``pom.xml``) from Maven
Central into ``~/.cache/deliverytui/kafka-<version>/libs``; later runs reuse the
cache. When ``KAFKA_HOME`` points at an unpacked Apache Kafka distribution its
``libs/`` is used instead and Maven is not needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deliverytui.broker.paths import cache_root
from deliverytui.errors import ExitCode, UserFacingError
from deliverytui.kafka.child_process import child_environment

#: The pinned Apache Kafka release (KRaft, KIP-848 consumer protocol and share groups on by default).
KAFKA_VERSION = "4.4.0"

_INSTALL_JAVA = "install Java 17 or newer (e.g. 'apt-get install -y openjdk-17-jre-headless') or set JAVA_HOME"
_COMPLETE_MARKER = ".complete"


class KafkaSetupError(UserFacingError):
    """Java, Maven or the Kafka jars are missing."""

    exit_code = ExitCode.KAFKA_SETUP


@dataclass(frozen=True, slots=True)
class KafkaDistribution:
    """A directory of Kafka jars and the ``java`` to run them with."""

    libs_dir: Path
    kafka_version: str
    java: str
    source: str  # "KAFKA_HOME" or "maven-cache"

    @property
    def classpath(self) -> str:
        return str(self.libs_dir / "*")

    def java_command(self, main_class: str, *args: str, jvm_args: tuple[str, ...] = ()) -> list[str]:
        """The argv that runs ``main_class`` from these jars."""
        return [self.java, *jvm_args, "-cp", self.classpath, main_class, *args]


def find_java() -> str:
    """The java executable: ``$JAVA_HOME/bin/java`` or ``java`` on PATH, checked to be 17+."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise KafkaSetupError(f"Java was not found: {_INSTALL_JAVA}.")
    try:
        out = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=30, env=child_environment())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaSetupError(f"cannot run {candidate}: {exc}; {_INSTALL_JAVA}.") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))
        if major < 17:
            raise KafkaSetupError(f"{candidate} is Java {major}; Apache Kafka {KAFKA_VERSION} needs 17+: {_INSTALL_JAVA}.")
    return candidate


def _version_from_libs(libs: Path) -> str | None:
    for jar in libs.glob("kafka_2.13-*.jar"):
        match = re.fullmatch(r"kafka_2\.13-(\d+\.\d+\.\d+(?:[-.][\w.]+)?)\.jar", jar.name)
        if match and "sources" not in jar.name and "test" not in jar.name:
            return match.group(1)
    return None


def _from_kafka_home(kafka_home: str, java: str) -> KafkaDistribution:
    libs = Path(kafka_home) / "libs"
    version = _version_from_libs(libs) if libs.is_dir() else None
    if version is None:
        raise KafkaSetupError(
            f"KAFKA_HOME={kafka_home} is not an unpacked Apache Kafka distribution (no libs/kafka_2.13-*.jar); "
            "unset it to let deliverytui fetch the jars with Maven."
        )
    if not version.startswith("4."):
        raise KafkaSetupError(f"KAFKA_HOME holds Apache Kafka {version}; deliverytui needs a 4.x release (KRaft).")
    return KafkaDistribution(libs_dir=libs, kafka_version=version, java=java, source="KAFKA_HOME")


def cached_libs_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_root() / f"kafka-{version}" / "libs"


def resolve_distribution(
    *, fetch: bool = True, progress: Callable[[str], None] | None = None
) -> KafkaDistribution:
    """Find (and on first use fetch) the Kafka jars.

    ``progress`` receives one human line per step (the CLI prints them on stderr).
    """
    java = find_java()
    kafka_home = os.environ.get("KAFKA_HOME")
    if kafka_home:
        return _from_kafka_home(kafka_home, java)
    libs = cached_libs_dir()
    if (libs.parent / _COMPLETE_MARKER).exists():
        return KafkaDistribution(libs_dir=libs, kafka_version=KAFKA_VERSION, java=java, source="maven-cache")
    if not fetch:
        raise KafkaSetupError(f"the Apache Kafka {KAFKA_VERSION} jars are not cached yet; run 'deliverytui broker fetch'.")
    fetch_with_maven(libs, progress=progress)
    return KafkaDistribution(libs_dir=libs, kafka_version=KAFKA_VERSION, java=java, source="maven-cache")


def fetch_with_maven(libs: Path, *, progress: Callable[[str], None] | None = None) -> None:
    """Resolve the packaged pom into ``libs`` with ``mvn dependency:copy-dependencies``.

    Copies into a temporary sibling first and renames it into place, so an interrupted
    download never leaves a half-filled cache that later runs would trust.
    """
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaSetupError(
            "Maven was not found and KAFKA_HOME is not set: install Maven (e.g. 'apt-get install -y maven') "
            "or set KAFKA_HOME to an unpacked Apache Kafka 4.x distribution."
        )
    root = libs.parent
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=root))
    pom = root / "pom.xml"
    pom.write_bytes(resources.files("deliverytui.broker").joinpath("pom.xml").read_bytes())
    say(f"Fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {libs} (first use only)...")
    command = [
        mvn, "-B", "-f", str(pom), f"-Dkafka.version={KAFKA_VERSION}",
        "dependency:copy-dependencies", f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
    ]
    downloaded = 0
    tail: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_environment()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip())
            tail = (tail + [line])[-15:]
            if line.startswith(("Downloaded from", "[INFO] Downloaded from")):
                downloaded += 1
                if downloaded % 10 == 0:
                    say(f"  ... {downloaded} files downloaded")
        code = proc.wait()
    if code != 0:
        shutil.rmtree(staging, ignore_errors=True)
        reason = next((line for line in reversed(tail) if "[ERROR]" in line), tail[-1] if tail else "no output")
        raise KafkaSetupError(f"Maven could not fetch the Kafka jars (exit {code}): {reason.strip()}")
    if libs.exists():
        shutil.rmtree(libs)
    staging.rename(libs)
    (root / _COMPLETE_MARKER).write_text(KAFKA_VERSION + "\n")
    say(f"  done: {sum(1 for _ in libs.glob('*.jar'))} jars in {libs}")
