"""Building a small jar from Java sources that ship in the package, with Maven, into the per-user cache.

Why one place: deliverytui ships Java sources, never jars (the admin helper in ``deliverytui/kafka/java``,
the JVM consumers' probe in ``deliverytui/probe/java``). Each is built once into the cache, next to the
Kafka jars, under a directory named by a hash of its sources, its pom and the Kafka version: a changed
source is rebuilt, an unchanged one never is. The build runs in a temporary directory that is renamed into
place when it succeeded, so a half-built jar is never found.

The sources are located as files of the ``deliverytui`` package (not imported as packages of their own):
the broker layer may not import :mod:`deliverytui.kafka` or :mod:`deliverytui.probe`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from deliverytui.broker.distribution import KafkaSetupError
from deliverytui.broker.paths import cache_root
from deliverytui.kafka.child_process import child_environment


@dataclass(frozen=True, slots=True)
class JavaBuild:
    """One Maven project shipped as source: where it is, what it builds, and what else goes next to the jar."""

    #: The project directory, relative to the ``deliverytui`` package (e.g. ``kafka/java``).
    source_dir: str
    #: The cache directory's name before the hash (e.g. ``admin-helper``).
    cache_prefix: str
    #: The jar Maven writes into ``target/`` (its ``finalName`` + ``.jar``).
    jar_name: str
    #: What the progress and error messages call it (e.g. ``the Java admin helper``).
    what: str
    #: Files of the project copied next to the jar (e.g. a log configuration).
    extra_files: tuple[str, ...] = ()

    def sources(self) -> Traversable:
        return resources.files("deliverytui").joinpath(self.source_dir)

    def source_hash(self, kafka_version: str) -> str:
        digest = hashlib.sha256(kafka_version.encode())
        for name, data in source_files(self.sources()):
            digest.update(name.encode() + b"\0" + data + b"\0")
        return digest.hexdigest()[:16]

    def target_dir(self, kafka_version: str) -> Path:
        return cache_root() / f"{self.cache_prefix}-{self.source_hash(kafka_version)}"

    def jar(self, kafka_version: str) -> Path:
        return self.target_dir(kafka_version) / self.jar_name


def source_files(root: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    """Every file under ``root`` as (relative path, bytes), sorted: what the build hash covers."""
    files: list[tuple[str, bytes]] = []
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name not in ("target", "__pycache__"):
                files.extend(source_files(entry, name + "/"))
        elif entry.is_file() and not entry.name.endswith((".pyc", ".class")):
            files.append((name, entry.read_bytes()))
    return sorted(files)


def build_jar(build: JavaBuild, kafka_version: str, *, progress: Callable[[str], None] | None = None) -> tuple[Path, bool]:
    """``build``'s jar, built with Maven if this version of its sources never was; and whether it was built now."""
    target = build.target_dir(kafka_version)
    jar = target / build.jar_name
    if jar.exists():
        return jar, False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaSetupError(f"Maven was not found: install it (e.g. 'apt-get install -y maven') to build {build.what}.")
    if progress:
        progress(f"Building {build.what} with Maven (first use only)...")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{build.cache_prefix}-", dir=target.parent))
    try:
        for name, data in source_files(build.sources()):
            path = staging / "src-tree" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        command = [mvn, "-B", "-q", "-f", str(staging / "src-tree" / "pom.xml"), f"-Dkafka.version={kafka_version}", "package"]
        done = subprocess.run(command, capture_output=True, text=True, env=child_environment(), timeout=900)
        built = staging / "src-tree" / "target" / build.jar_name
        if done.returncode != 0 or not built.exists():
            lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in (done.stdout + done.stderr).splitlines()]
            reason = next((line for line in lines if "[ERROR]" in line), lines[-1] if lines else "no output")
            raise KafkaSetupError(f"Maven could not build {build.what} (exit {done.returncode}): {reason.strip()}")
        (staging / build.jar_name).write_bytes(built.read_bytes())
        for name in build.extra_files:
            (staging / name).write_bytes(build.sources().joinpath(name).read_bytes())
        shutil.rmtree(staging / "src-tree")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if progress:
        progress(f"  done: {jar}")
    return jar, True
