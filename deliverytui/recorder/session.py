"""Polls in, frames out: what the live view's ``--record`` and the headless ``record`` both do with each poll.

A poll either produced a snapshot (with the :class:`~deliverytui.lag.observer.GroupObservation` the live
view derives from it: statuses and event lines) or failed. Either way it becomes one
:class:`RecordedFrame`; a failed poll keeps the last statuses (the live view goes on showing them, marked
stale) and logs "connection lost" once, as the live view does, and the first poll after it
"connection recovered". A group status that changes between two successful polls fires the ``--alert``
hook, if any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from deliverytui.lag.observer import GroupObservation
from deliverytui.model.dedup import DedupCounters
from deliverytui.model.group import GroupSnapshot
from deliverytui.model.lag import GroupLagView
from deliverytui.model.positions import PositionsView
from deliverytui.model.recording import RecordedFrame
from deliverytui.recorder.alerts import AlertHook, alert_payload


class FrameSink(Protocol):
    """Where frames go: a :class:`~deliverytui.recorder.store.RecordingWriter` or a background one."""

    def write(self, frame: RecordedFrame) -> None: ...


def recovered_line(bootstrap: str) -> tuple[str, str]:
    return f"connection recovered: reading {bootstrap} again", "bold green"


def lost_line(text: str) -> tuple[str, str]:
    return f"connection lost: {text}", "bold red"


class PollRecorder:
    """Turns one group's polls into frames for ``sink``; ``alert`` (optional) hears of status transitions."""

    def __init__(self, sink: FrameSink, bootstrap: str, *, alert: AlertHook | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.sink = sink
        self.bootstrap = bootstrap
        self.alert = alert
        self.clock = clock or time.time
        self.frames = 0
        self.failing = False
        self.group_status: str | None = None
        self.statuses: Mapping[str, str] = {}
        self._last_at = 0.0

    def _next_at(self, at: float) -> float:
        # `at` ascends with the index: a clock stepping back (NTP) must not make two frames swap.
        at = max(at, self._last_at)
        self._last_at = at
        return at

    def observed(
        self,
        snapshot: GroupSnapshot,
        observation: GroupObservation,
        *,
        positions: PositionsView | None = None,
        dedup: DedupCounters | None = None,
    ) -> RecordedFrame:
        """Record a successful poll with the lines the live view logs for it ("connection recovered" first)."""
        events = ([recovered_line(self.bootstrap)] if self.failing else []) + list(observation.events)
        return self.snapshot(snapshot, observation.group_status, observation.statuses, tuple(events),
                             lag=observation.lag, positions=positions, dedup=dedup)

    def snapshot(
        self,
        snapshot: GroupSnapshot,
        group_status: str,
        statuses: Mapping[str, str],
        events: tuple[tuple[str, str], ...],
        *,
        lag: GroupLagView | None = None,
        positions: PositionsView | None = None,
        dedup: DedupCounters | None = None,
    ) -> RecordedFrame:
        """Record a successful poll: its status, partition statuses and event lines as the view computed them.

        ``lag`` (the poll's lag view) lets a status transition fire the alert hook.
        """
        events = list(events)
        previous = self.group_status
        if self.alert is not None:
            if lag is not None and previous is not None and group_status != previous:
                self.alert.fire(alert_payload(snapshot.group_id, previous, lag))
            events += self.alert.drain_events()
        self.failing = False
        self.group_status, self.statuses = group_status, statuses
        frame = RecordedFrame(
            index=self.frames, at=self._next_at(snapshot.taken_at.timestamp()), snapshot=snapshot,
            positions=positions, group_status=group_status, statuses=statuses, events=tuple(events), dedup=dedup,
        )
        self._write(frame)
        return frame

    def failure(self, text: str, *, events: tuple[tuple[str, str], ...] | None = None,
                dedup: DedupCounters | None = None) -> RecordedFrame:
        """Record a failed poll (``text``: its one-line reason); ``events`` replaces the default "connection lost"."""
        lines = list(events if events is not None else (() if self.failing else (lost_line(text),)))
        if self.alert is not None:
            lines += self.alert.drain_events()
        self.failing = True
        frame = RecordedFrame(
            index=self.frames, at=self._next_at(self.clock()), snapshot=None, positions=None,
            group_status=self.group_status, statuses=self.statuses, events=tuple(lines), dedup=dedup, failure=text,
        )
        self._write(frame)
        return frame

    def _write(self, frame: RecordedFrame) -> None:
        self.sink.write(frame)
        self.frames += 1
