"""What a ledger's story is about: where each group started reading, and the cluster and topics it was written against.

Acknowledged events below a group's stream start were never that group's to process,
so the audit never calls them lost; the story identity lets the lab notice a ledger
written against another cluster (or a recreated topic) and start a new one.
"""

from __future__ import annotations

from collections.abc import Mapping

from deliverytui.demo.ledger.connection import LedgerConnection


class StoryRecords(LedgerConnection):
    """The stream-start and story records of :class:`~deliverytui.demo.ledger.EffectsLedger`."""

    def record_stream_start(self, consumer: str, topic: str, offsets: Mapping[int, int]) -> None:
        """Where ``consumer`` starts reading ``topic`` in this ledger's story (kept if already recorded)."""
        statement = self._sql(
            'INSERT INTO stream_starts (consumer, topic, "partition", "offset") VALUES (?, ?, ?, ?) '
            'ON CONFLICT (consumer, topic, "partition") DO NOTHING'
        )
        self._insert_many(statement, [(consumer, topic, int(p), int(o)) for p, o in sorted(offsets.items())])

    def stream_starts(self, consumer: str, topic: str) -> dict[int, int]:
        rows = self._rows('SELECT "partition", "offset" FROM stream_starts WHERE consumer = ? AND topic = ?', (consumer, topic))
        return {int(p): int(o) for p, o in rows}

    def story(self) -> dict[str, str]:
        """What the ledger's story was written against (``cluster_id``, ``topic:<name>`` ids); empty if new."""
        return {str(k): str(v) for k, v in self._rows("SELECT name, value FROM story")}

    def record_story(self, identity: Mapping[str, str]) -> None:
        statement = self._sql("INSERT INTO story (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        self._insert_many(statement, [(k, v) for k, v in sorted(identity.items())])
