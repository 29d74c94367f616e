"""The live view's share-group collector, without a broker: what it holds and when it starts a JVM."""

from __future__ import annotations

from deliverytui.kafka.share_collector import ShareGroupCollector


def test_the_share_collector_keeps_its_secrets_out_of_reprs() -> None:
    """A crash report (Textual prints locals) must not show the --config password the collector holds."""
    collector = ShareGroupCollector(
        "127.0.0.1:9092", {"sasl.username": "reader", "sasl.password": "hunter2-secret"}, helper_command=lambda: ["false"]
    )
    assert "hunter2-secret" not in repr(vars(collector))


def test_nothing_starts_until_a_share_group_question_and_a_closed_collector_refuses() -> None:
    """A session on consumer groups never starts the Java helper; after close (quit) nothing starts again."""
    started: list[int] = []
    collector = ShareGroupCollector("127.0.0.1:9092", {}, helper_command=lambda: started.append(1) or ["false"])
    assert not started and not collector.helper_running
    collector.close()
    assert collector.is_share_group("anything") is False and not started
