"""``deliverytui record``: the flight recorder without a screen (for cron or a systemd unit).

One poll per refresh, as the live view polls: the snapshot from the same isolated Kafka client child,
the statuses and event lines from the same :class:`~deliverytui.lag.observer.GroupObserver`, positions
and dedup counters when asked for. It survives the cluster going away (each failed poll is a frame with
its failure; the recording goes on when the cluster answers again) and stops on a full disk
(:class:`~deliverytui.recorder.errors.RecordingStoppedError`, exit code 24). SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deliverytui.errors import UnknownGroupError, UserFacingError
from deliverytui.kafka.admin_requests import CollectionCancelled
from deliverytui.kafka.cluster_identity import read_cluster_id
from deliverytui.kafka.isolated import IsolatedGroupInspector
from deliverytui.kafka.probe_positions import PositionCollector
from deliverytui.lag.observer import GroupObserver
from deliverytui.model.positions import PositionsView, verify_reporters
from deliverytui.model.probe_topic import DEFAULT_PROBE_TOPIC
from deliverytui.model.recording import RECORDING_FORMAT_VERSION, RecordingHeader
from deliverytui.model.text import shown_name
from deliverytui.recorder.alerts import AlertHook
from deliverytui.recorder.session import PollRecorder
from deliverytui.recorder.store import RecordingWriter

#: A probe topic that could not be read is looked for again after this many seconds (as the live view does).
POSITIONS_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class RecordOptions:
    path: Path
    group: str
    bootstrap: str
    client_config: Mapping[str, str] = field(default_factory=dict)
    request_timeout: float = 10.0
    refresh_seconds: float = 2.0
    duration: float | None = None  # None: until stopped
    positions: bool = False
    probe_topic: str = DEFAULT_PROBE_TOPIC
    dedup_url: str | None = None
    alert: str | None = None
    max_bytes: int | None = None


def open_recording(path: Path, group: str, bootstrap: str, client_config: Mapping[str, str] | None,
                   refresh_seconds: float, *, timeout: float = 10.0, max_bytes: int | None = None) -> RecordingWriter:
    """A writer for ``path`` once the cluster has said who it is (the recording's identity)."""
    cluster_id = read_cluster_id(bootstrap, client_config, timeout=timeout)
    header = RecordingHeader(RECORDING_FORMAT_VERSION, group, bootstrap, cluster_id, time.time(), refresh_seconds)
    return RecordingWriter(path, header, max_bytes=max_bytes)


class _Positions:
    """The probe topic's positions, read as the live view reads them (absent or unreadable: None, retried later)."""

    def __init__(self, options: RecordOptions) -> None:
        self.options = options
        self._collector: PositionCollector | None = None
        self._retry_at = 0.0

    def read(self, members) -> PositionsView | None:
        now = time.monotonic()
        if self._collector is None:
            if now < self._retry_at:
                return None
            o = self.options
            self._collector = PositionCollector(o.bootstrap, o.client_config, o.group, topic=o.probe_topic,
                                                request_timeout=o.request_timeout)
        view = self._collector.poll(0.2)
        if view.error:
            self.close()
            self._retry_at = now + POSITIONS_RETRY_SECONDS
            return None
        return verify_reporters(view, members)

    def close(self) -> None:
        if self._collector is not None:
            self._collector.close()
            self._collector = None


class _DedupCounters:
    """The dedup store's counters for the group, on a private event loop (the store clients are asyncio)."""

    def __init__(self, url: str, group: str) -> None:
        from deliverytui.dedup import DedupPanelReader

        self._loop = asyncio.new_event_loop()
        self._reader = DedupPanelReader(url, group)

    def read(self):
        try:
            return self._loop.run_until_complete(self._reader.read()).counters
        except UserFacingError:
            return None  # a store that is down has no counters to record; the frame says None

    def close(self) -> None:
        self._loop.run_until_complete(self._reader.close())
        self._loop.close()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def record(options: RecordOptions, *, stop: threading.Event | None = None,
           log: Callable[[str], None] | None = None) -> int:
    """Record until ``options.duration`` has passed or ``stop`` is set; the number of frames written."""
    stop = stop or threading.Event()
    log = log or _say
    created = not options.path.exists()
    writer = open_recording(options.path, options.group, options.bootstrap, options.client_config,
                            options.refresh_seconds, timeout=options.request_timeout, max_bytes=options.max_bytes)
    inspector = IsolatedGroupInspector(options.bootstrap, options.client_config,
                                       request_timeout=options.request_timeout, cancel_event=stop)
    positions = _Positions(options) if options.positions else None
    dedup = None
    alert = AlertHook(options.alert) if options.alert else None
    recorder = PollRecorder(writer, options.bootstrap, alert=alert)
    observer = GroupObserver()
    deadline = None if options.duration is None else time.monotonic() + options.duration
    log(f"recording group {shown_name(options.group)} of cluster {writer.header.cluster_id} to {options.path} "
        f"every {options.refresh_seconds:g} s (from frame {writer.next_index}); SIGTERM or Ctrl-C stops")
    try:
        dedup = _DedupCounters(options.dedup_url, options.group) if options.dedup_url else None
        while not stop.is_set():
            started = time.monotonic()
            counters = dedup.read() if dedup is not None else None
            try:
                snapshot = inspector.snapshot(options.group)
            except CollectionCancelled:
                break  # stopped mid-poll: nothing to record
            except UnknownGroupError as exc:
                if recorder.frames == 0:
                    raise  # a group that never existed is a typo, not an outage
                frame = recorder.failure(str(exc), dedup=counters)
            except UserFacingError as exc:  # unreachable, refused, timed out: an outage, recorded as such
                frame = recorder.failure(str(exc), dedup=counters)
            else:
                view = positions.read(snapshot.members) if positions is not None else None
                frame = recorder.observed(snapshot, observer.observe(snapshot), positions=view, dedup=counters)
            for text, _ in frame.events:
                log(f"{time.strftime('%H:%M:%S', time.localtime(frame.at))} {text}")
            if deadline is not None and time.monotonic() >= deadline:
                break
            wait = options.refresh_seconds - (time.monotonic() - started)
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            stop.wait(max(0.0, wait))
    finally:
        if alert is not None:
            alert.wait(5.0)
        writer.close()
        if created and recorder.frames == 0:  # a typo'd group: leave no empty recording behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{options.path}{suffix}").unlink(missing_ok=True)
        inspector.close()
        if positions is not None:
            positions.close()
        if dedup is not None:
            dedup.close()
    log(f"recorded {recorder.frames} frame(s) to {options.path}")
    return recorder.frames


def stop_on_sigterm(stop: threading.Event) -> None:
    """SIGTERM (systemd's stop, ``kill``) ends the recording as a finished one: the last frame committed."""
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
