"""The dedup panel's watcher, mixed into the live view: the store's counters, hit rate and key growth.

The idempotency store is not Kafka: its clients are asyncio-native, so the watcher runs on the
event loop (not a thread worker), at the view's refresh, and follows the watched group when the
user switches (the lab keeps one store per semantic: ``dedup_url_for`` says which).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from rich.text import Text
from textual import work

from deliverytui.errors import UserFacingError
from deliverytui.model.text import shown_name
from deliverytui.tui.widgets.panels import DedupPanel, EventLog


class DedupWatchHost:
    """Mixed into the app, which provides ``config``, ``group``, ``paused`` and ``closing``."""

    config: Any
    group: str
    paused: bool
    closing: bool
    #: The store's counters for the watched group at its last read (None: no store, or no counters yet).
    dedup_counters: Any = None

    def dedup_url_for(self, group: str) -> str | None:
        """The store whose counters the dedup panel shows for ``group`` (``--dedup``, the same for every group)."""
        return self.config.dedup_url

    @work(exclusive=True, exit_on_error=False, group="dedup")
    async def watch_dedup(self, panel: DedupPanel, events: EventLog) -> None:
        """Poll the store's counters on the event loop (its clients are asyncio-native) into ``panel``;
        the store going down and coming back are ``events``."""
        from deliverytui.dedup import DedupPanelReader
        from deliverytui.model.dedup import CounterSample, rate_over_window

        group = self.group
        url = self.dedup_url_for(group)
        reader = DedupPanelReader(url, group, prefix=self.config.dedup_prefix) if url else None
        samples: deque[CounterSample] = deque(maxlen=120)
        key_samples: deque[tuple[float, int]] = deque(maxlen=120)
        was_down = False
        try:
            while not self.closing:
                if group != self.group:  # switched: watch the new group's counters (in its own store)
                    if reader is not None:
                        await reader.close()
                    group = self.group
                    url = self.dedup_url_for(group)
                    reader = DedupPanelReader(url, group, prefix=self.config.dedup_prefix) if url else None
                    samples.clear()
                    key_samples.clear()
                if reader is None:
                    panel.show_text(Text(f"dedup: group {shown_name(group)} keeps no idempotency store", style="dim"))
                    await asyncio.sleep(self.config.refresh_seconds)
                    continue
                try:
                    data = await reader.read()
                except UserFacingError as exc:
                    panel.show_text(Text(f"dedup store: {exc}", style="bold red"))
                    if not was_down:
                        events.add(f"dedup store down: {exc}", "bold red")
                    was_down = True
                else:
                    if was_down:
                        events.add("dedup store reachable again", "bold green")
                    was_down = False
                    now = time.monotonic()
                    rates = None
                    if data.counters is not None:
                        samples.append(CounterSample(now, data.counters))
                        rates = rate_over_window(list(samples), 60.0)
                    key_rate = None
                    if data.sample is not None:
                        key_samples.append((now, data.sample.estimated_keys))
                        recent = [s for s in key_samples if now - s[0] <= 60.0]
                        if len(recent) >= 2 and recent[-1][0] > recent[0][0]:
                            key_rate = (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0])
                    self.dedup_counters = data.counters  # the flight recorder stores them with each frame
                    if not self.paused:
                        panel.show_data(data, rates, key_rate)
                await asyncio.sleep(self.config.refresh_seconds)
        finally:
            if reader is not None:
                await reader.close()
