"""Will it catch up, and when? Consume and produce rates over a window, and the drain ETA they imply.

"How long until the backlog is gone" is not "how old is the oldest unread record" (time lag):
a group can be ten minutes behind and drain in ten seconds, or one second behind and never catch
up. The rates come from samples the view already holds (committed offset and log end at each
refresh), over a window long enough to smooth a consumer that commits in batches:

- consume rate = committed offsets advanced ÷ time; produce rate = log end advanced ÷ time;
- net = consume − produce; with net > 0 the ETA is lag ÷ net; otherwise the group is
  **falling behind** (or holding), and the net rate says by how much.

An offset that went backwards in the window (a reset, a re-created topic) makes the rates
meaningless: the estimate is ``None`` until the window holds only the new history.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: The default window: long enough to span several commit intervals of a batching consumer.
DEFAULT_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class DrainEstimate:
    """Rates in records per second over ``window_s``; ``eta_s`` is ``None`` unless the backlog shrinks."""

    consume_rate: float
    produce_rate: float
    lag: int
    window_s: float

    @property
    def net_rate(self) -> float:
        """Records per second the backlog shrinks by (negative: it grows)."""
        return self.consume_rate - self.produce_rate

    @property
    def eta_s(self) -> float | None:
        if self.lag <= 0:
            return 0.0
        return self.lag / self.net_rate if self.net_rate > 0 else None

    @property
    def falling_behind(self) -> bool:
        return self.lag > 0 and self.net_rate <= 0

    def describe(self) -> str:
        """One phrase for a header or a panel: ``drains in 42 s`` / ``falling behind by 12.0/s`` / ``caught up``."""
        if self.lag <= 0:
            return "caught up"
        if self.eta_s is not None:
            return f"drains in {format_duration(self.eta_s)} (net {self.net_rate:,.1f}/s)"
        if self.net_rate == 0:
            return "not draining (net 0/s)"
        return f"falling behind by {-self.net_rate:,.1f}/s"


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 10 min``: an ETA read at a glance."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


class RateWindow:
    """(time, committed, log end) samples of one partition or one group, kept for ``window_s``."""

    __slots__ = ("_samples", "window_s")

    def __init__(self, window_s: float = DEFAULT_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int, int]] = deque()

    def add(self, at_s: float, committed: int, log_end: int) -> None:
        samples = self._samples
        if samples and at_s <= samples[-1][0]:
            return  # out of order
        if samples and (committed < samples[-1][1] or log_end < samples[-1][2]):
            samples.clear()  # went backwards: the old history describes another position
        samples.append((at_s, committed, log_end))
        while len(samples) > 2 and at_s - samples[1][0] >= self.window_s:
            samples.popleft()

    def estimate(self) -> DrainEstimate | None:
        """The rates over the window held, or ``None`` before two samples a moment apart."""
        if len(self._samples) < 2:
            return None
        (t0, c0, e0), (t1, c1, e1) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span <= 0:
            return None
        return DrainEstimate(consume_rate=(c1 - c0) / span, produce_rate=(e1 - e0) / span, lag=max(0, e1 - c1), window_s=span)
