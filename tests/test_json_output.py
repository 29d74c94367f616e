"""``--json`` output: the same values as ``json.dumps``, laid out one member per line without json's slow
pure-Python indenting encoder (a 1,000-partition snapshot spent 40 ms there)."""

from __future__ import annotations

import json

from deliverytui.cli.output import format_json


def test_format_json_round_trips_and_puts_each_list_element_on_one_line() -> None:
    snapshot_like = {
        "group": "billing",
        "coordinator": {"id": 1, "host": "127.0.0.1", "port": 9092},
        "members": [],
        "partitions": [{"topic": "orders", "partition": p, "lag": None, "replicas": [1, 2]} for p in range(3)],
        "total_lag": 0,
    }
    text = format_json(snapshot_like)
    assert json.loads(text) == snapshot_like
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert '  "partitions": [' in lines
    assert [line for line in lines if line.startswith('    {"topic": "orders"')] == [
        f"    {json.dumps(row)}" + ("," if row["partition"] < 2 else "") for row in snapshot_like["partitions"]
    ]
    for value in ({}, [], [1, {"a": None}], "text", None, 3):
        assert json.loads(format_json(value)) == value
