"""The JVM probe on the secured broker (SASL/SCRAM + ACLs): it logs in with the consumer's own settings, and a
principal without Write on the probe topic gets one warning line and a consumer that works as before.

Each test uses its own probe topic (``deliverytui.probe.topic``), so the ACLs on it are exactly the test's.
The SASL settings reach the console consumer in a properties file (``--command-config``), never on its argv.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deliverytui.broker.distribution import KafkaDistribution
from deliverytui.broker.probe_jar import build_probe_jar
from deliverytui.kafka.client_config import load_properties
from deliverytui.kafka.java_admin import java_properties
from tests.helpers import run_cli, wait_for
from tests.jvm_consumer import console_consumer
from tests.security_fixtures import Secured, create_topic, produce

pytestmark = pytest.mark.kafka


def consumer_principal(secured: Secured, name: str, topic: str, group: str, probe_grants: list[str], directory: Path) -> Path:
    """A SCRAM principal that may consume ``topic`` in ``group``, plus ``probe_grants`` on the probe topic;
    its Java properties file (mode 0600)."""
    probe_topic = f"__deliverytui_probe.{group}"
    grants = [("topic", topic, "literal", op) for op in ("describe", "read")]
    grants += [("group", group, "literal", op) for op in ("describe", "read")]
    grants += [("topic", probe_topic, "literal", op) for op in probe_grants]
    librdkafka_file = secured.add_principal(name, grants, directory)
    java_file = directory / f"{name}-java.properties"
    java_file.touch(mode=0o600)
    properties = java_properties(secured.bootstrap, load_properties(librdkafka_file))
    java_file.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    return java_file


def test_probe_publishes_with_the_consumers_sasl_login(
    secured: Secured, kafka_distribution: KafkaDistribution, unique: str, tmp_path: Path
) -> None:
    topic, group = f"jvm-sasl-{unique}", f"jvm-sasl-{unique}"
    probe_topic = f"__deliverytui_probe.{group}"
    create_topic(secured.config("admin"), topic, 2)
    produce(secured.config("admin"), topic, {0: 3, 1: 6})
    config = consumer_principal(secured, f"jvm-{unique}", topic, group, ["describe", "write", "create"], tmp_path)
    with console_consumer(
        kafka_distribution, build_probe_jar(kafka_distribution), secured.bootstrap, topic, group, "consumer",
        f"deliverytui.probe.topic={probe_topic}", command_config=config,
    ) as consumer:
        wait_for(lambda: consumer.printed == 9, 60, "the console consumer printing 9 records")
        rows: dict[int, dict] = {}

        def reached() -> bool:
            result = run_cli("snapshot", "--config", str(secured.config_file("admin")), "--group", group,
                             "--positions", "--probe-topic", probe_topic, "--json")
            assert result.returncode == 0, result.stderr
            rows.update({row["partition"]: row for row in json.loads(result.stdout)["partitions"]})
            return rows.get(0, {}).get("position") == 3 and rows.get(1, {}).get("position") == 6

        wait_for(reached, 60, "positions 3 and 6 published under the consumer's own SASL login")
    assert {row["position_verified"] for row in rows.values()} == {True}
    assert any(entry["principal"] == f"User:jvm-{unique}" and entry["operation"] == "WRITE" and probe_topic in entry["resource"]
               and entry["decision"] == "Allowed" for entry in secured.audit(f"jvm-{unique}"))


def test_probe_without_write_on_its_topic_logs_one_line_and_the_consumer_goes_on(
    secured: Secured, kafka_distribution: KafkaDistribution, unique: str, tmp_path: Path
) -> None:
    topic, group = f"jvm-noacl-{unique}", f"jvm-noacl-{unique}"
    create_topic(secured.config("admin"), topic, 1)
    produce(secured.config("admin"), topic, {0: 5})
    config = consumer_principal(secured, f"jvm-noacl-{unique}", topic, group, [], tmp_path)
    with console_consumer(
        kafka_distribution, build_probe_jar(kafka_distribution), secured.bootstrap, topic, group, "classic",
        f"deliverytui.probe.topic=__deliverytui_probe.{group}", command_config=config,
        jvm_args=("-Dlog4j2.level=WARN",),  # the tools' default (log4j2's default configuration) shows errors only
    ) as consumer:
        wait_for(lambda: consumer.printed == 5, 60, "the console consumer printing 5 records")
        wait_for(lambda: any("deliverytui probe" in line for line in consumer.log), 30, "the probe's warning")
        produce(secured.config("admin"), topic, {0: 4})
        wait_for(lambda: consumer.printed == 9, 60, "the console consumer going on after the probe gave up")
    probe_lines = [line for line in consumer.log if "deliverytui probe" in line]
    assert len(probe_lines) == 1, probe_lines
    assert "not authorized" in probe_lines[0] and "pw-" not in "".join(consumer.log)  # no password in any log line
