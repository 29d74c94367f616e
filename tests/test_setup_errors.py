"""What a machine without Java or Maven is told: one sentence saying what to install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deliverytui.broker import distribution
from deliverytui.broker.distribution import KafkaDistribution, KafkaSetupError, resolve_distribution
from tests.helpers import run_cli


def test_missing_maven_without_kafka_home_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERYTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    monkeypatch.setattr(distribution.shutil, "which", lambda name: None if name == "mvn" else "/usr/bin/" + name)
    with pytest.raises(KafkaSetupError, match="install Maven .* or set KAFKA_HOME"):
        resolve_distribution()


def test_missing_java_says_what_to_install(tmp_path: Path) -> None:
    env = {"JAVA_HOME": str(tmp_path / "no-jdk"), "DELIVERYTUI_BROKER_DIR": str(tmp_path / "b")}
    result = run_cli("broker", "start", env=env)
    assert result.returncode != 0
    assert "Java was not found: install Java 17 or newer" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_kafka_home_distribution_is_used_instead_of_maven(
    kafka_distribution: KafkaDistribution, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "kafka_2.13-dist"
    home.mkdir()
    (home / "libs").symlink_to(kafka_distribution.libs_dir, target_is_directory=True)
    monkeypatch.setenv("KAFKA_HOME", str(home))
    monkeypatch.setattr(distribution.shutil, "which", lambda name: None if name == "mvn" else "/usr/bin/" + name)
    if not os.environ.get("JAVA_HOME"):
        monkeypatch.setenv("JAVA_HOME", str(Path(kafka_distribution.java).resolve().parent.parent))
    dist = resolve_distribution()
    assert dist.source == "KAFKA_HOME" and dist.libs_dir == home / "libs"
    assert dist.kafka_version == kafka_distribution.kafka_version


def test_kafka_home_that_is_not_a_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_HOME", str(tmp_path))
    with pytest.raises(KafkaSetupError, match="not an unpacked Apache Kafka distribution"):
        resolve_distribution()
