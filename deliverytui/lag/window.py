"""One partition's sliding window of committed-offset observations, with O(1) rule counters.

Burrow judges a partition on its last N commits (offset, time, lag). Re-scanning N entries
for every partition on every refresh is what makes such evaluation slow on thousands of
partitions, so the window keeps running counts of the facts the rules ask about (entries
that were caught up, backward steps, offset changes, lag decreases between neighbours) and
updates them as entries enter and leave. Every rule then reads a counter.
"""

from __future__ import annotations

from collections import deque

#: One window entry: (timestamp in seconds, committed offset, lag clamped at 0).
Entry = tuple[float, int, int]


class CommitWindow:
    """The last ``capacity`` entries, oldest first, and counters over them.

    ``entries`` is the deque itself, exposed for cheap reads; change it only through
    :meth:`record`, :meth:`append`, :meth:`replace_last` and :meth:`clear`, which keep the
    counters right:

    - ``caught_up``: entries whose lag is ``<= allowed_lag``;
    - ``backward_steps``: neighbouring pairs where the offset went down;
    - ``offset_changes``: neighbouring pairs where the offset differs;
    - ``lag_decreases``: neighbouring pairs where the lag went down.
    """

    __slots__ = (
        "capacity",
        "allowed_lag",
        "entries",
        "caught_up",
        "backward_steps",
        "offset_changes",
        "lag_decreases",
    )

    def __init__(self, capacity: int, allowed_lag: int = 0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.allowed_lag = allowed_lag
        self.entries: deque[Entry] = deque()
        self.caught_up = 0
        self.backward_steps = 0
        self.offset_changes = 0
        self.lag_decreases = 0

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def is_full(self) -> bool:
        return len(self.entries) == self.capacity

    @property
    def span_s(self) -> float:
        """Seconds between the oldest and newest entries (0 with fewer than two)."""
        entries = self.entries
        return entries[-1][0] - entries[0][0] if entries else 0.0

    def record(self, timestamp_s: float, offset: int, lag: int, min_interval_s: float) -> None:
        """Add an observation, or fold it into the newest entry if that is under ``min_interval_s`` old.

        Folding keeps the newest entry's timestamp (as Burrow's ``min-distance`` does: otherwise a
        consumer committing more often than the interval would never open a new entry). An
        observation whose offset went backwards always opens a new entry, so the backward step
        stays in the window. Called for most partitions on every refresh, hence written out flat.
        """
        entries = self.entries
        if not entries:
            if lag <= self.allowed_lag:
                self.caught_up += 1
            entries.append((timestamp_s, offset, lag))
            return
        last_s, last_offset, last_lag = entries[-1]
        if timestamp_s - last_s < min_interval_s and offset >= last_offset:
            if offset == last_offset and lag == last_lag:
                return  # nothing to fold in
            if len(entries) > 1:  # re-count the pair (older, newest) with the new values
                _, older_offset, older_lag = entries[-2]
                self.backward_steps += (offset < older_offset) - (last_offset < older_offset)
                self.offset_changes += (offset != older_offset) - (last_offset != older_offset)
                self.lag_decreases += (lag < older_lag) - (last_lag < older_lag)
            allowed_lag = self.allowed_lag
            self.caught_up += (lag <= allowed_lag) - (last_lag <= allowed_lag)
            entries[-1] = (last_s, offset, lag)
            return
        self.append(timestamp_s, offset, lag)

    def append(self, timestamp_s: float, offset: int, lag: int) -> None:
        """Add the newest entry, evicting the oldest when full."""
        entries = self.entries
        if len(entries) == self.capacity:
            _, old_offset, old_lag = entries.popleft()
            if old_lag <= self.allowed_lag:
                self.caught_up -= 1
            if entries:  # the pair (evicted, new oldest) leaves the window
                _, newer_offset, newer_lag = entries[0]
                if newer_offset < old_offset:
                    self.backward_steps -= 1
                if newer_offset != old_offset:
                    self.offset_changes -= 1
                if newer_lag < old_lag:
                    self.lag_decreases -= 1
        if entries:
            _, older_offset, older_lag = entries[-1]
            if offset < older_offset:
                self.backward_steps += 1
            if offset != older_offset:
                self.offset_changes += 1
            if lag < older_lag:
                self.lag_decreases += 1
        if lag <= self.allowed_lag:
            self.caught_up += 1
        entries.append((timestamp_s, offset, lag))

    def replace_last(self, offset: int, lag: int) -> None:
        """Overwrite the newest entry's offset and lag, keeping its timestamp."""
        entries = self.entries
        timestamp_s, old_offset, old_lag = entries.pop()
        if old_lag <= self.allowed_lag:
            self.caught_up -= 1
        if entries:  # the pair (older, replaced) leaves the window
            _, older_offset, older_lag = entries[-1]
            if old_offset < older_offset:
                self.backward_steps -= 1
            if old_offset != older_offset:
                self.offset_changes -= 1
            if old_lag < older_lag:
                self.lag_decreases -= 1
        self.append(timestamp_s, offset, lag)

    def clear(self) -> None:
        self.entries.clear()
        self.caught_up = self.backward_steps = self.offset_changes = self.lag_decreases = 0
