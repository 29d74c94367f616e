"""The live view's share-group collector: one Java admin helper and one log-end reader for a whole session.

A JVM start and its first answer took 2.3 s on the shared 2-core test machine (a warm snapshot then
takes 20-40 ms), so the live view must not start one per poll, nor one per share group it is switched to. :class:`ShareGroupCollector` starts the helper on the
first share-group question of the session (a classic-only session never starts it), keeps it for
every later poll, listing and switch, and closes it on :meth:`close` (the live view's quit). Log-end
offsets come from an :class:`~deliverytui.kafka.isolated.IsolatedGroupInspector` child, so that a
librdkafka abort costs a "cannot reach Kafka" banner here too, never the screen.

Calls may come from two worker threads (the share view's poll and the group picker's listing):
:class:`JavaAdmin` and the isolated inspector each serialise their requests, and the lazy start is
under a lock here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from deliverytui.errors import UserFacingError, one_line
from deliverytui.kafka.client_config import RedactedConfig
from deliverytui.kafka.isolated import IsolatedGroupInspector
from deliverytui.kafka.java_admin import JavaAdmin
from deliverytui.kafka.share_inspector import ShareGroupInspector
from deliverytui.model import GroupListing
from deliverytui.model.share import ShareGroupSnapshot


class ShareGroupCollector:
    """Share-group snapshots and listings for the live view; it owns (and closes) its helper and its child.

    ``helper_command`` returns the helper's argv (it may build the helper first: called once, on first
    use, from a worker thread). The TUI passes
    :func:`deliverytui.broker.admin_helper.admin_helper_command`, which this layer may not import.
    """

    def __init__(
        self,
        bootstrap: str,
        file_config: Mapping[str, str] | None,
        *,
        helper_command: Callable[[], Sequence[str]],
        request_timeout: float = 10.0,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self._file_config = RedactedConfig(file_config or {})  # may hold secrets: never in a repr or a crash report
        self._helper_command = helper_command
        self.request_timeout = request_timeout
        self._cancel_event = cancel_event
        self._start_lock = threading.Lock()
        self._java: JavaAdmin | None = None
        self._log_ends: IsolatedGroupInspector | None = None
        self._closed = False
        #: Why the last :meth:`is_share_group` could not ask (None when it could): the live view says so.
        self.last_error: str | None = None
        #: How many helpers this collector started (a test checks it stays 1 across polls and switches).
        self.helpers_started = 0

    def java_admin(self) -> JavaAdmin:
        """The session's one helper, started on first use: the share view and the stuck diagnosis
        (:mod:`deliverytui.kafka.open_transactions`) both ask through it, so a session pays one JVM."""
        with self._start_lock:
            return self._java_admin_locked()

    def _java_admin_locked(self) -> JavaAdmin:
        if self._closed:
            raise UserFacingError("the share-group collector is closed (the live view is quitting)")
        if self._java is None or not self._java.running:
            if self._java is not None:
                self._java.close(timeout=0.5)
            self._java = JavaAdmin(
                self._helper_command(), self.bootstrap, self._file_config, request_timeout=self.request_timeout
            )
            self.helpers_started += 1
        return self._java

    def _inspector(self) -> ShareGroupInspector:
        with self._start_lock:
            self._java_admin_locked()
            if self._log_ends is None:
                self._log_ends = IsolatedGroupInspector(
                    self.bootstrap, self._file_config, request_timeout=self.request_timeout, cancel_event=self._cancel_event
                )
            return ShareGroupInspector(self._java, self._log_ends)  # type: ignore[arg-type] - same log_offsets/bootstrap

    def snapshot(self, group_id: str) -> ShareGroupSnapshot:
        """One snapshot of share group ``group_id`` (:class:`~deliverytui.errors.UnknownGroupError` when there is none)."""
        return self._inspector().snapshot(group_id)

    def list_share_groups(self) -> list[GroupListing]:
        return self._inspector().list_share_groups()

    def is_share_group(self, group_id: str) -> bool:
        """Whether ``group_id`` is a share group, asked when the consumer-group collector found no such group.

        Any failure (no Java or Maven to build the helper, a cluster without share groups, a timeout) is
        "no": the live view then says what it said before share groups existed, that the group is unknown.
        """
        try:
            listed = self.list_share_groups()
        except Exception as exc:  # noqa: BLE001 - UserFacingError, OSError, KafkaSetupError (a broker-layer class): see above
            self.last_error = one_line(str(exc))
            return False
        self.last_error = None
        return any(listing.group_id == group_id for listing in listed)

    @property
    def helper_running(self) -> bool:
        return self._java is not None and self._java.running

    def close(self) -> None:
        """Stop the helper (its stdin closes: it exits) and the log-end child. Safe to call twice."""
        with self._start_lock:
            self._closed = True
            java, self._java = self._java, None
            log_ends, self._log_ends = self._log_ends, None
        if java is not None:
            java.close()
        if log_ends is not None:
            log_ends.close()

