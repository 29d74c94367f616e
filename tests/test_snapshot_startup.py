"""What ``deliverytui snapshot`` loads and sets before its first request: the start-up it pays on every run.

``benchmarks/snapshot.py`` measures the whole process against ``kafka-consumer-groups --describe``; these
tests hold the choices that made it faster, so a later import does not quietly bring the cost back.
Speed itself is measured by the benchmark, not asserted here.
"""

from __future__ import annotations

import subprocess
import sys

from deliverytui.demo.semantics import CRASH_POINTS
from deliverytui.kafka import group_inspector
from deliverytui.model.reset import RESET_MODES
from tests.helpers import run_cli

#: Modules that ``snapshot`` never uses: other commands' option tables and handlers, the broker's
#: process and security code (only a secured embedded broker's refusal names its client file).
NOT_FOR_SNAPSHOT = [
    "deliverytui.model.reset",
    "deliverytui.demo.semantics",
    "deliverytui.cli.demo",
    "deliverytui.cli.offsets",
    "deliverytui.broker.security",
    "deliverytui.broker.process",
    "deliverytui.model.share",
    "deliverytui.model.positions",
]

PROBE = """
import sys
from deliverytui.cli import build_parser
from deliverytui.cli.connection import resolve_connection
args = build_parser().parse_args(["snapshot", "--group", "g", "--bootstrap", "kafka.example:9092"])
resolve_connection(args)
print(",".join(m for m in {modules!r} if m in sys.modules))
"""


def test_parsing_and_resolving_a_snapshot_loads_no_other_commands_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=NOT_FOR_SNAPSHOT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"loaded for snapshot: {result.stdout.strip()}"


def test_commands_declared_on_demand_still_show_every_option() -> None:
    """reset and demo declare their options only when parsed: their --help must still list them all."""
    reset = run_cli("reset", "--help")
    assert reset.returncode == 0, reset.stderr
    for spec in RESET_MODES.values():
        assert f"--{spec.mode.value}" in reset.stdout
    demo = run_cli("demo", "--help")
    assert demo.returncode == 0, demo.stderr
    for point in CRASH_POINTS:
        assert point in demo.stdout
    delete = run_cli("delete-offsets", "--group", "g")
    assert delete.returncode == 2
    assert delete.stderr.strip().endswith("the following arguments are required: --topic (see 'deliverytui delete-offsets --help')")


def _client_settings(monkeypatch, file_config: dict[str, str] | None) -> dict[str, object]:
    """The settings GroupInspector hands librdkafka (the client is created for real, against a closed port)."""
    seen: dict[str, object] = {}
    real = group_inspector.admin_client

    def recording(config):
        seen.update(config)
        return real(config)

    monkeypatch.setattr(group_inspector, "admin_client", recording)
    group_inspector.GroupInspector("127.0.0.1:1", file_config, request_timeout=1)
    return seen


def test_first_connections_are_not_held_back_unless_config_says_so(monkeypatch) -> None:
    """librdkafka spaces new connections by half of reconnect.backoff.ms; a snapshot needs two at once."""
    assert _client_settings(monkeypatch, None)["reconnect.backoff.ms"] == group_inspector.FIRST_CONNECT_BACKOFF_MS
    assert _client_settings(monkeypatch, {"reconnect.backoff.ms": "500"})["reconnect.backoff.ms"] == "500"
    kept = _client_settings(monkeypatch, {"reconnect.backoff.max.ms": "1000"})
    assert "reconnect.backoff.ms" not in kept
    assert kept["reconnect.backoff.max.ms"] == "1000"
