"""``reset`` and ``delete-offsets`` on a share group: the fallback when no classic or consumer group has the id.

The classic path cannot tell a share group from an absent group (both are "Dead" with no
commits to librdkafka), so when it sees one of those, this module asks Kafka's own Admin
client (the Java helper) whether a share group has the id. Only then is the JVM started, so a reset of
an existing consumer group starts none; a new consumer group (which a reset may create) costs one JVM
start (about a second). Every reset or delete costs two more batched reads (describe and fetch the
classic group) before its plan. Runs in the forked child, like the rest of the command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from deliverytui.cli.connection import Connection, start_java_admin

if TYPE_CHECKING:
    from deliverytui.kafka.group_inspector import GroupInspector
    from deliverytui.kafka.share_offset_reset import ShareOffsetResetter


@contextmanager
def share_resetter(
    connection: Connection, inspector: GroupInspector, group_id: str, retry: Callable[[Callable[[], bool]], bool]
) -> Iterator[ShareOffsetResetter | None]:
    """A :class:`~deliverytui.kafka.share_offset_reset.ShareOffsetResetter` if ``group_id`` is a share group,
    else ``None``; the helper JVM is closed when the block ends.

    Where Java cannot run the helper, or the cluster has no share groups, the id cannot be a share
    group's: ``None`` (with a warning for the first), so the consumer-group path goes on as before.
    """
    from deliverytui.broker.distribution import KafkaSetupError
    from deliverytui.kafka.java_admin import SharesUnavailableError
    from deliverytui.kafka.share_offset_reset import ShareOffsetResetter

    try:
        java = start_java_admin(connection)
    except KafkaSetupError as exc:
        print(f"deliverytui: warning: cannot check whether {group_id!r} is a share group: {exc}", file=sys.stderr)
        yield None
        return
    with java:
        resetter = ShareOffsetResetter(java, inspector, request_timeout=connection.timeout)
        try:
            found = retry(lambda: resetter.is_share_group(group_id))
        except SharesUnavailableError:
            found = False
        yield resetter if found else None
