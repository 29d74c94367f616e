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

from array import array
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
        """One phrase for a header or a panel: ``drains in 42 s`` / ``falling behind +12.0/s`` (the backlog grows that much a second) / ``caught up``."""
        if self.lag <= 0:
            return "caught up"
        if self.eta_s is not None:
            return f"drains in {format_duration(self.eta_s)} (net {self.net_rate:,.1f}/s)"
        if self.net_rate == 0:
            return "not draining (net 0/s)"
        return f"falling behind +{-self.net_rate:,.1f}/s"


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 10 min``: an ETA read at a glance."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


class RateWindow:
    """(time, committed, log end) samples of one partition or one group, kept for ``window_s``.

    Held in three typed arrays rather than a tuple per sample: the live view keeps one window per
    partition (5,000 × ~30 samples at a 2 s refresh), and arrays cost 24 bytes a sample and nothing
    to the garbage collector.
    """

    __slots__ = ("_times", "_committed", "_log_end", "window_s")

    def __init__(self, window_s: float = DEFAULT_WINDOW_S) -> None:
        self.window_s = window_s
        self._times = array("d")
        self._committed = array("q")
        self._log_end = array("q")

    def add(self, at_s: float, committed: int, log_end: int) -> None:
        times, commits, ends = self._times, self._committed, self._log_end
        if times:
            if at_s <= times[-1]:
                return  # out of order
            if committed < commits[-1] or log_end < ends[-1]:
                del times[:], commits[:], ends[:]  # went backwards: the old history describes another position
        times.append(at_s)
        commits.append(committed)
        ends.append(log_end)
        drop = 0
        while len(times) - drop > 2 and at_s - times[drop + 1] >= self.window_s:
            drop += 1
        if drop:
            del times[:drop], commits[:drop], ends[:drop]

    def rates(self) -> tuple[float, float, int, float] | None:
        """``(consume rate, produce rate, lag, span)`` over the window held, or ``None`` before two samples.

        The tuple (not a :class:`DrainEstimate`) lets a caller sum thousands of partitions cheaply.
        """
        times = self._times
        if len(times) < 2:
            return None
        span = times[-1] - times[0]
        if span <= 0:
            return None
        commits, ends = self._committed, self._log_end
        return (
            (commits[-1] - commits[0]) / span, (ends[-1] - ends[0]) / span, max(0, ends[-1] - commits[-1]), span,
        )  # fmt: skip

    def estimate(self) -> DrainEstimate | None:
        """The rates over the window held, or ``None`` before two samples a moment apart."""
        rates = self.rates()
        if rates is None:
            return None
        consume, produce, lag, span = rates
        return DrainEstimate(consume_rate=consume, produce_rate=produce, lag=lag, window_s=span)
