"""The Java admin helper's client configuration: librdkafka's ``--config`` names turned into the Java client's.

A wrong translation would log in as nobody (or as the wrong user) only where share groups are
asked for, so each rule is pinned here; the login itself is checked against the secured broker
in the share-group tests.
"""

from __future__ import annotations

import pytest

from deliverytui.errors import ConfigError
from deliverytui.kafka.java_admin import java_properties
from deliverytui.model.share import ShareGroupSnapshot


def test_plaintext_needs_only_the_bootstrap() -> None:
    assert java_properties("127.0.0.1:9092", None) == {"bootstrap.servers": "127.0.0.1:9092"}


@pytest.mark.parametrize(
    "mechanism, module",
    [
        ("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
        ("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
        ("scram-sha-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    ],
)
def test_sasl_username_and_password_become_a_jaas_login(mechanism: str, module: str) -> None:
    config = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": mechanism,
        "sasl.username": "reader",
        "sasl.password": 'p"a\\ss',
        "socket.keepalive.enable": "true",  # librdkafka only: left out
    }
    properties = java_properties("b:1", config)
    assert properties["sasl.mechanism"] == mechanism.upper()
    assert properties["security.protocol"] == "SASL_PLAINTEXT"
    # Quotes and backslashes in a password are escaped, so the JAAS line parses to the same password.
    assert properties["sasl.jaas.config"] == f'{module} required username="reader" password="p\\"a\\\\ss";'
    assert "socket.keepalive.enable" not in properties and "sasl.password" not in properties


def test_a_ca_file_becomes_a_pem_trust_store_and_none_disables_hostname_checks() -> None:
    properties = java_properties(
        "b:1", {"security.protocol": "SSL", "ssl.ca.location": "/etc/ca.pem", "ssl.endpoint.identification.algorithm": "none"}
    )
    assert properties["ssl.truststore.type"] == "PEM"
    assert properties["ssl.truststore.location"] == "/etc/ca.pem"
    assert properties["ssl.endpoint.identification.algorithm"] == ""


@pytest.mark.parametrize(
    "config, words",
    [
        ({"sasl.mechanisms": "GSSAPI", "sasl.username": "u"}, "GSSAPI"),
        ({"ssl.certificate.location": "/c.pem", "ssl.key.location": "/k.pem"}, "ssl.keystore.location"),
    ],
)
def test_logins_the_helper_cannot_take_are_refused_in_one_line(config: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words) as raised:
        java_properties("b:1", config)
    assert "\n" not in str(raised.value)


def test_share_snapshot_survives_json_and_shows_names_escaped() -> None:
    data = {
        "group": "q\x1b]0;x\x07",
        "state": "Stable",
        "coordinator": {"id": 1, "host": "h", "port": 9},
        "group_epoch": 3,
        "assignment_epoch": 3,
        "members": [
            {"member_id": "m1", "client_id": "c\x1b[2J", "host": "/h", "rack_id": None, "member_epoch": 3,
             "assignment": [{"topic": "t", "partition": 0}]},
            {"member_id": "m2", "client_id": "c2", "host": "h", "rack_id": "r", "member_epoch": 3,
             "assignment": [{"topic": "t", "partition": 0}]},
        ],
        "partitions": [
            {"topic": "t", "partition": 0, "start_offset": 5, "leader_epoch": 0, "lag": 7, "log_end_offset": 12, "owners": ["m1", "m2"]},
            {"topic": "t", "partition": 1, "start_offset": None, "leader_epoch": None, "lag": None, "log_end_offset": 0, "owners": []},
        ],
        "total_lag": 7,
        "taken_at": "2026-11-30T18:00:00+00:00",
    }  # fmt: skip
    snapshot = ShareGroupSnapshot.from_json(data)
    assert snapshot.to_json() == {**data, "type": "share", "members": [
        {**data["members"][0], "client_id": "c\\x1b[2J"}, data["members"][1]]}  # fmt: skip
    assert snapshot.group_id == data["group"]  # the exact id, to call Kafka with; screens escape it
    assert snapshot.total_lag == 7  # the partition the group never fetched from counts nothing, as Kafka's "-"
    assert [m.member_id for m in snapshot.owners_of(snapshot.partitions[0])] == ["m1", "m2"]


def test_the_helper_starts_from_its_class_archive() -> None:
    """The class-data-sharing archive dumped at build time is valid for this JVM and classpath:
    with ``-Xshare:on`` a JVM that cannot map it refuses to start, so a ping proves it is used."""
    from deliverytui.broker.admin_helper import admin_helper_command
    from deliverytui.kafka.java_admin import JavaAdmin

    command = admin_helper_command()
    assert any(flag.startswith("-XX:SharedArchiveFile=") for flag in command), command
    strict = ["-Xshare:on" if flag == "-Xshare:auto" else flag for flag in command]
    with JavaAdmin(strict, "127.0.0.1:9", request_timeout=5) as helper:
        assert helper.call("ping", "pinging the helper") == {"pong": True}
