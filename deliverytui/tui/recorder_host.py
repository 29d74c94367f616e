"""``deliverytui --group G --record FILE.db``: the live view records what it shows, mixed into the app.

Each poll the view renders (or fails) becomes a frame: the snapshot, the positions, the statuses and
group status of the :class:`~deliverytui.tui.fetch.ViewUpdate`, and exactly the event-log lines the
view added since the previous frame. Frames go to a :class:`~deliverytui.recorder.background.BackgroundWriter`:
the UI thread only builds the frame and enqueues it (the file is opened, encoded and committed in the
writer's thread). A failure there (a full disk) is one event-log line and the "● REC" marker goes away;
the view goes on. Only the group the view was started on is recorded (the picker may switch away).
"""

from __future__ import annotations

from typing import Any

from deliverytui.recorder.background import BackgroundWriter
from deliverytui.recorder.session import PollRecorder


class RecorderHost:
    """Mixed into the app, which provides ``config``, ``group``, ``dedup_counters``, ``call_from_thread``
    and the held ``_event_log`` and ``_header`` widgets."""

    config: Any
    group: str
    dedup_counters: Any
    _recorder: PollRecorder | None = None
    _recording: BackgroundWriter | None = None
    recording_stopped: str | None = None

    def record_poll(self, update: Any = None, failure: str | None = None) -> None:
        """Record this poll (``update``, or the one-line ``failure``) when ``--record`` was given."""
        if not self.config.record_path or self.recording_stopped or self.group != self.config.group:
            return
        if self._recorder is None:
            self._start_recording()
        events = tuple(self._event_log.unrecorded)
        self._event_log.unrecorded.clear()
        if update is None:
            self._recorder.failure(failure or "poll failed", events=events, dedup=self.dedup_counters)
            return
        statuses = {key: view.status.value for key, view in update.lag_partitions.items()}
        self._recorder.snapshot(update.snapshot, update.group_status, statuses, events,
                                positions=update.positions_view, dedup=self.dedup_counters)

    def _start_recording(self) -> None:
        from deliverytui.recorder.headless import open_recording

        config = self.config

        def open_writer():
            return open_recording(config.record_path, config.group, config.bootstrap, config.client_config,
                                  config.refresh_seconds, timeout=config.request_timeout)

        self._recording = BackgroundWriter(open_writer, self._recording_failed)
        self._recorder = PollRecorder(self._recording, config.bootstrap)
        self._header.recording = True

    def _recording_failed(self, line: str) -> None:
        """From the writer's thread (or the UI's, on a full queue): say it once, drop the marker."""
        self.recording_stopped = line

        def show() -> None:
            self._header.recording = False
            self._event_log.add(line, "bold red")

        try:
            self.call_from_thread(show)
        except RuntimeError:  # already on the UI thread
            show()

    def stop_recording(self) -> None:
        """At exit: write what is queued and close the file."""
        if self._recording is not None:
            self._recording.close()
