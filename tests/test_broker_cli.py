"""The embedded broker as a user drives it: start, reuse, status and info from another process, stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.errors import ExitCode
from deliverytui.kafka.admin import metadata_answers
from deliverytui.model import BrokerInfo
from tests.helpers import run_cli

pytestmark = pytest.mark.kafka


def test_status_and_info_work_from_another_process(kafka_broker: BrokerInfo, kafka_broker_dir: Path) -> None:
    status = run_cli("broker", "status", "--data-dir", str(kafka_broker_dir), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["running"] is True and data["bootstrap"] == kafka_broker.bootstrap and data["pid"] == kafka_broker.pid

    info = run_cli("broker", "info", "--data-dir", str(kafka_broker_dir), "--json")
    data = json.loads(info.stdout)
    assert {"bootstrap", "kafka_version", "libs_dir", "pid", "data_dir"} <= data.keys()
    assert data["kafka_version"].startswith("4.")
    assert Path(data["libs_dir"], f"kafka_2.13-{data['kafka_version']}.jar").exists()


def test_second_start_reuses_the_running_broker(kafka_broker: BrokerInfo, kafka_broker_dir: Path) -> None:
    again = run_cli("broker", "start", "--data-dir", str(kafka_broker_dir), "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["started"] is False and data["pid"] == kafka_broker.pid and data["bootstrap"] == kafka_broker.bootstrap
    text = run_cli("broker", "start", "--data-dir", str(kafka_broker_dir))
    assert "already running" in text.stdout


def test_bootstrap_defaults_to_the_running_embedded_broker(kafka_broker: BrokerInfo, kafka_broker_dir: Path) -> None:
    env = {"DELIVERYTUI_BROKER_DIR": str(kafka_broker_dir), "KAFKA_BOOTSTRAP_SERVERS": ""}
    result = run_cli("groups", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_full_lifecycle_on_a_fresh_data_dir(kafka_distribution: KafkaDistribution, tmp_path: Path) -> None:
    """start → answers metadata → stop from another process → status says stopped → start again keeps the port."""
    data_dir = tmp_path / "broker"
    started = run_cli("broker", "start", "--data-dir", str(data_dir), "--json", timeout=180)
    assert started.returncode == 0, started.stderr
    first = json.loads(started.stdout)
    try:
        assert first["started"] is True and metadata_answers(first["bootstrap"])
        assert (data_dir / "broker.json").exists() and (data_dir / "logs" / "server.log").stat().st_size > 0
        stopped = run_cli("broker", "stop", "--data-dir", str(data_dir), "--json")
        assert json.loads(stopped.stdout)["stopped"] is True
        status = run_cli("broker", "status", "--data-dir", str(data_dir))
        assert status.returncode == ExitCode.BROKER_NOT_RUNNING and "not running" in status.stdout
        assert not metadata_answers(first["bootstrap"], timeout=1.0)
        restarted = json.loads(run_cli("broker", "start", "--data-dir", str(data_dir), "--json", timeout=180).stdout)
        assert restarted["started"] is True and restarted["bootstrap"] == first["bootstrap"]
        assert restarted["cluster_id"] == first["cluster_id"]  # same storage, not re-formatted
    finally:
        run_cli("broker", "stop", "--data-dir", str(data_dir))


def test_info_on_a_data_dir_never_used_is_one_line(tmp_path: Path) -> None:
    result = run_cli("broker", "info", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode != 0 and "broker start" in result.stderr and result.stderr.count("\n") == 1
