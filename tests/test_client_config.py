"""--config files, bootstrap resolution and secret redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from deliverytui.broker.state import resolve_bootstrap
from deliverytui.errors import ConfigError, ExitCode
from deliverytui.kafka.client_config import client_config, load_properties, redact
from deliverytui.kafka.group_inspector import GroupInspector
from tests.helpers import run_cli


def test_properties_file_is_parsed_like_kafka_command_config(tmp_path: Path) -> None:
    file = tmp_path / "client.properties"
    file.write_text(
        "# secured cluster\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanisms : PLAIN\n"
        "! another comment style\n"
        "sasl.username=alice\n"
        "sasl.password=s3cr=t\n"
        "ssl.ca.location=/etc/ssl/ca.pem\\\n"
        "\n"
    )
    props = load_properties(file)
    assert props == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": "s3cr=t",
        "ssl.ca.location": "/etc/ssl/ca.pem",
    }
    safe = redact(props)
    assert safe["sasl.password"] == "***" and safe["sasl.username"] == "alice"


def test_bad_line_names_file_and_line_but_not_the_value(tmp_path: Path) -> None:
    file = tmp_path / "bad.properties"
    file.write_text("security.protocol=PLAINTEXT\nhunter2-without-a-key\n")
    with pytest.raises(ConfigError) as info:
        load_properties(file)
    assert f"{file}:2" in str(info.value) and "hunter2" not in str(info.value)


def test_unknown_librdkafka_property_is_a_config_error_without_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid client configuration"):
        GroupInspector("127.0.0.1:1", {"no.such.property": "x", "sasl.password": "topsecret"})
    file = tmp_path / "unknown.properties"
    file.write_text("no.such.property=1\nsasl.password=topsecret\n")
    result = run_cli("snapshot", "--bootstrap", "127.0.0.1:1", "--group", "g", "--config", str(file))
    assert result.returncode == ExitCode.BAD_CONFIG and "no.such.property" in result.stderr
    assert "topsecret" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = run_cli("groups", "--bootstrap", "127.0.0.1:1", "--config", str(tmp_path / "missing.properties"))
    assert result.returncode == ExitCode.BAD_CONFIG and "does not exist" in result.stderr and result.stderr.count("\n") == 1


def test_bootstrap_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DELIVERYTUI_BROKER_DIR", str(tmp_path / "no-broker"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "env:9092")
    assert resolve_bootstrap("flag:9092") == ("flag:9092", "--bootstrap")
    assert resolve_bootstrap(None)[0] == "env:9092"
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS")
    assert resolve_bootstrap(None, file_config={"bootstrap.servers": "file:9092"})[0] == "file:9092"
    assert resolve_bootstrap(None) == ("localhost:9092", "the default")


def test_client_config_keeps_file_settings_but_our_bootstrap() -> None:
    config = client_config("ours:1", {"bootstrap.servers": "theirs:2", "security.protocol": "SASL_PLAINTEXT"})
    assert config["bootstrap.servers"] == "ours:1" and config["security.protocol"] == "SASL_PLAINTEXT"
