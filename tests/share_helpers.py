"""Share groups driven by Apache Kafka's own tools: the console share consumer and kafka-share-groups.

Tests of share-group behaviour compare deliverytui with these, run from the same jars as the
broker, so nothing here stands in for Kafka. The group config ``share.auto.offset.reset=earliest``
is set with Kafka's own ConfigCommand (a share group starts at the log end by default, and a
test wants the records it produced).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from deliverytui.broker.distribution import KafkaDistribution

SHARE_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"
CONSOLE_SHARE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleShareConsumer"
CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
QUIET_JVM = ("-Dlog4j2.level=ERROR", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def kafka_tool(dist: KafkaDistribution, main_class: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one of Kafka's command-line tools from the broker's jars; the caller checks the outcome."""
    return subprocess.run(
        dist.java_command(main_class, *args, jvm_args=QUIET_JVM), capture_output=True, text=True, timeout=timeout
    )


def share_groups(dist: KafkaDistribution, bootstrap: str, *args: str) -> str:
    """``kafka-share-groups --bootstrap-server B ARGS``: its stdout (the test fails on a non-zero exit)."""
    result = kafka_tool(dist, SHARE_GROUP_COMMAND, "--bootstrap-server", bootstrap, *args)
    assert result.returncode == 0, f"kafka-share-groups {' '.join(args)} failed: {result.stderr or result.stdout}"
    return result.stdout


def table_rows(output: str, first_header: str, group: str) -> list[dict[str, str]]:
    """The rows of a table Kafka's tool printed (whitespace-separated, first column the group), as dicts.

    Several tables (one per describe flag) may follow each other; the one whose header starts with
    ``first_header`` (e.g. ``GROUP``) and holds the most columns of the next rows is read.
    """
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in output.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == first_header:
            header = fields
            continue
        if header and fields[0] == group:
            # COORDINATOR (ID) is two words in the header and two values ("host:port", "(1)") in a row.
            rows.append(dict(zip([h for h in header if h != "(ID)"], _joined_coordinator(fields, header))))
    return rows


def _joined_coordinator(fields: list[str], header: list[str]) -> list[str]:
    if "(ID)" in header:
        at = header.index("COORDINATOR")
        return [*fields[:at], f"{fields[at]} {fields[at + 1]}", *fields[at + 2 :]]
    return fields


def set_group_config(dist: KafkaDistribution, bootstrap: str, group: str, **configs: str) -> None:
    """``kafka-configs --entity-type groups --alter --add-config k=v``, e.g. ``share_auto_offset_reset="earliest"``."""
    pairs = ",".join(f"{key.replace('_', '.')}={value}" for key, value in configs.items())
    result = kafka_tool(
        dist, CONFIG_COMMAND, "--bootstrap-server", bootstrap, "--entity-type", "groups", "--entity-name", group,
        "--alter", "--add-config", pairs,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr or result.stdout


@contextmanager
def console_share_consumer(
    dist: KafkaDistribution, bootstrap: str, topic: str, group: str, *, client_id: str | None = None
) -> Iterator[subprocess.Popen]:
    """Kafka's own console share consumer in group ``group`` for the duration of the ``with`` block.

    Its stdout (the records) goes to a pipe the block may read; it is stopped (SIGTERM, then SIGKILL) and reaped.
    """
    extra = ("--consumer-property", f"client.id={client_id}") if client_id else ()
    process = subprocess.Popen(
        dist.java_command(
            CONSOLE_SHARE_CONSUMER, "--bootstrap-server", bootstrap, "--topic", topic, "--group", group, *extra,
            jvm_args=QUIET_JVM,
        ),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wait_for_members(dist: KafkaDistribution, bootstrap: str, group: str, count: int, timeout: float = 60) -> list[dict[str, str]]:
    """Poll ``kafka-share-groups --describe --members`` until ``group`` has ``count`` members holding an assignment."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        result = kafka_tool(dist, SHARE_GROUP_COMMAND, "--bootstrap-server", bootstrap, "--describe", "--group", group, "--members")
        rows = table_rows(result.stdout, "GROUP", group) if result.returncode == 0 else []
        if len(rows) == count and all(row.get("ASSIGNMENT", "-") != "-" for row in rows):
            return rows
        time.sleep(1)
    raise AssertionError(f"share group {group} did not reach {count} member(s) with an assignment in {timeout}s: {rows}")


def share_start_offsets(dist: KafkaDistribution, bootstrap: str, group: str) -> dict[tuple[str, int], str]:
    """``kafka-share-groups --describe --group G``: each partition's START-OFFSET as Kafka prints it ("-": no state)."""
    return {
        (row["TOPIC"], int(row["PARTITION"])): row["START-OFFSET"]
        for row in table_rows(share_groups(dist, bootstrap, "--describe", "--group", group), "GROUP", group)
    }


def kafka_reset_plan(dist: KafkaDistribution, bootstrap: str, group: str, *mode_args: str) -> dict[tuple[str, int], int]:
    """``kafka-share-groups --reset-offsets --dry-run``: the NEW-OFFSET Kafka's tool plans for each partition."""
    output = share_groups(dist, bootstrap, "--reset-offsets", "--group", group, *mode_args, "--dry-run")
    return {(row["TOPIC"], int(row["PARTITION"])): int(row["NEW-OFFSET"]) for row in table_rows(output, "GROUP", group)}


def share_consume(bootstrap: str, topic: str, group: str, count: int, *, timeout: float = 60, settle: float = 2.0) -> list[tuple[int, int]]:
    """Read with confluent-kafka's ``ShareConsumer`` (implicit acknowledgement: every record accepted) until
    ``count`` records arrived, then ``settle`` seconds more (so extra records would show); closed cleanly
    (its acknowledgements committed, the group left). Returns each record's (partition, offset) in order."""
    from confluent_kafka import ShareConsumer

    seen: list[tuple[int, int]] = []
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
            for message in consumer.poll(0.5):
                if message.error() is None:
                    seen.append((message.partition(), message.offset()))
            if settle_until is None and len(seen) >= count:
                consumer.commit_sync(30)
                settle_until = time.monotonic() + settle
    finally:
        consumer.close()
    return seen
