"""The queue consumer's audit row: a share group is audited by what was done, not by committed offsets.

Why a module apart from the auditor: everything else there compares effects with a consumer
group's committed offsets; a share group has none, so its lost, processed, archived and
delivery-count figures come from the ledger alone (:mod:`deliverytui.demo.ledger.queue_reads`).
"""

from __future__ import annotations

import time
from dataclasses import replace

from deliverytui.demo.ledger import EffectsLedger
from deliverytui.demo.semantics import SHARE_DELIVERY_COUNT_LIMIT, SHARE_RECORD_LOCK_SECONDS
from deliverytui.model.demo import LOST, ArchivedEvent, ConsumerAudit, OffendingEvent

QUEUE_SETTLE_SECONDS = 30.0
"""A running queue's event counts as lost only once acknowledged this long ago (and behind what the queue
has done): five deliveries of a 4 s lock and the ack grace fit in it, so a redelivery in progress is not a loss."""


def queue_audit(ledger: EffectsLedger, base: ConsumerAudit, topic: str, id_limit: int, *, drained: bool) -> ConsumerAudit:
    """The queue's row: lost and processed by what is done (effects, archives), and its delivery counts.

    Effects, duplicates and unexpected effects come from the running tally like every consumer's
    (``base``); there are no committed offsets, so lost is what no worker did and the broker did
    not archive — everything of that kind once ``drained``, else only events acknowledged
    :data:`QUEUE_SETTLE_SECONDS` ago and behind what the queue has done (a backlog is not a loss).
    """
    group, limit = base.group, SHARE_DELIVERY_COUNT_LIMIT
    acked_before = time.time() if drained else time.time() - QUEUE_SETTLE_SECONDS
    lost, lost_rows = ledger.queue_lost(group, topic, limit, acked_before, id_limit, behind_frontier=not drained)
    archived = tuple(ArchivedEvent(*row) for row in ledger.archived_events(group, limit)[:id_limit])
    offending = tuple(o for o in base.offending if o.kind != LOST) + tuple(OffendingEvent(e, p, o, LOST) for e, p, o in lost_rows)
    notes = (f"share group: a record is redelivered when its {SHARE_RECORD_LOCK_SECONDS:g} s lock expires; "
             f"archived after {limit} deliveries",)  # fmt: skip
    return replace(
        base,
        processed=ledger.queue_done(group, topic, limit),
        lost=lost,
        lost_event_ids=tuple(e for e, _p, _o in lost_rows),
        offending=offending,
        delivery_count_limit=limit,
        archived_events=archived,
        delivery_counts=ledger.delivery_count_histogram(group, limit),
        max_delivery_count=ledger.max_delivery_count(group),
        notes=base.notes + notes,
    )
