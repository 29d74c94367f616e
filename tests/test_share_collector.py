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


def test_a_helper_that_cannot_start_is_a_reason_not_a_share_group() -> None:
    """No Java (here: a helper command that fails to build) means "not known as a share group", with the reason kept
    for the live view's banner, instead of an exception in the poll worker."""

    def no_java() -> list[str]:
        raise OSError("java: not found")

    collector = ShareGroupCollector("127.0.0.1:9092", {}, helper_command=no_java)
    try:
        assert collector.is_share_group("orders-queue") is False
        assert collector.last_error == "java: not found"
    finally:
        collector.close()
