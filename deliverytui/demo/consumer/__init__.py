"""One demo consumer process: ``python -m deliverytui.demo.consumer --semantic S ...``.

Why real OS processes: a crash in the lab must be a real crash — the process dies
with SIGKILL at a precise point (``os.kill(os.getpid(), SIGKILL)``), so whatever it
had not committed is gone, exactly as in production. Before dying it writes a crash
row to the ledger, so crashes are counted.

Every semantic commits explicitly and synchronously, one message at a time
(``enable.auto.commit=False``; the chapter's at-most-once uses auto-commit, here the
commit happens explicitly *before* the effect, which is the same guarantee made
deterministic). The effect is a row in the ledger's ``effects`` table. The
exactly-once consumer instead produces to ``<topic>.processed`` inside a Kafka
transaction, with its offsets, and the auditor reads that topic.

``--commit-every N`` batches commits the way each semantic allows, for the semantics
benchmark (the default, 1, is the per-message behaviour above). The at-least-once
family still commits only *after* the effects, every N messages (and when the topic
goes quiet, and on shutdown), so a crash redelivers up to N messages instead of one;
it reads up to N messages at once and each idempotency pattern decides them in one round
trip to its store (:mod:`.batches`).
At-most-once still commits *before* the effects: it takes up to N messages at once,
commits the batch's end, then runs the batch, so a crash loses up to N instead of
one. Exactly-once puts up to N messages in one transaction (default ``EOS_BATCH``;
1 = one transaction per message).

Consumers use static group membership (``group.instance.id``): a restarted consumer
takes its predecessor's place at once instead of waiting for its session to expire.
The price is that a stopped consumer stays a group member until its session timeout
(6 s), which only the replay (offset reset) has to wait for. A consumer whose commit is
refused because the group moved on (the coordinator moved, a rebalance, UNKNOWN_MEMBER_ID)
commits nothing and handles the message again; one fenced by FENCED_INSTANCE_ID (which
librdkafka makes fatal) is closed and created again with the same instance id, in the
same process (see :func:`classify_commit_error`).

The package, by room:

* :mod:`.options` — constants, :class:`ConsumerOptions`, the crash and status files;
* :mod:`.events` — reading a record as an event (:func:`parse_event`);
* :mod:`.commit` — commits, fencing and the rejoin (:class:`GroupMember`);
* :mod:`.outage` — waiting out a ledger or store that is down (on ``Backoff``);
* :mod:`.tasks` — the upsert and state-check patterns' ``tasks`` table;
* :mod:`.core` — what every loop shares (ledger, store, status, crashes, effects);
* :mod:`.handlers` — one handler per semantic, the per-message loop and at-most-once's batched loop;
* :mod:`.batches` — the at-least-once family with ``--commit-every N``: a batch decided in one store round trip;
* :mod:`.exactly_once` — the transactional loop;
* :mod:`.queue` — the share-group worker (explicit acknowledgements, poison events);
* :mod:`.runner` — :class:`DemoConsumer`: signals, the loop table, clean-up;
* :mod:`.command` — the command line (:func:`main`).
"""

from __future__ import annotations

from deliverytui.demo.consumer.command import build_parser, main
from deliverytui.demo.consumer.commit import (
    FENCED,
    RETRIABLE_COMMIT,
    STALE_ASSIGNMENT,
    GroupMember,
    classify_commit_error,
)
from deliverytui.demo.consumer.events import NO_EVENT_ID, NOT_JSON, parse_event
from deliverytui.demo.consumer.options import (
    EOS_BATCH,
    LEASE_SECONDS,
    QUIET_COMMIT_SECONDS,
    SESSION_TIMEOUT_MS,
    STATUS_INTERVAL,
    TASKS_TABLE,
    ConsumerOptions,
    Retry,
    crash_file,
    instance_name,
    read_status,
    status_file,
)
from deliverytui.demo.consumer.runner import DemoConsumer
from deliverytui.demo.consumer.tasks import TaskTable

__all__ = [
    "EOS_BATCH",
    "FENCED",
    "LEASE_SECONDS",
    "NOT_JSON",
    "NO_EVENT_ID",
    "QUIET_COMMIT_SECONDS",
    "RETRIABLE_COMMIT",
    "SESSION_TIMEOUT_MS",
    "STALE_ASSIGNMENT",
    "STATUS_INTERVAL",
    "TASKS_TABLE",
    "ConsumerOptions",
    "DemoConsumer",
    "GroupMember",
    "Retry",
    "TaskTable",
    "build_parser",
    "classify_commit_error",
    "crash_file",
    "instance_name",
    "main",
    "parse_event",
    "read_status",
    "status_file",
]
