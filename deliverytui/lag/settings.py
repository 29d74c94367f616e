"""The knobs of lag evaluation, in one immutable place so the CLI and the TUI can pass them through."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LagSettings:
    """How the lag window is kept and judged.

    - ``window_size``: entries per partition in the evaluation window (Burrow's ``intervals``,
      default 10).
    - ``min_entry_interval_s``: an observation less than this many seconds after the window's
      newest entry overwrites that entry (keeping its timestamp) instead of adding one
      (Burrow's ``min-distance``). It makes the window cover at least
      ``(window_size - 1) * min_entry_interval_s`` seconds whatever the refresh rate, so a
      consumer that commits every 5 s (Kafka's ``auto.commit.interval.ms`` default) is not
      judged on two snapshots taken between its commits. 0 keeps every observation.
    - ``allowed_lag``: a lag at or below this counts as caught up (Burrow's "lag is zero" rule).
      Raise it for read_committed consumers of transactional topics, whose lag can rest at a
      few records (the transaction markers).
    - ``series_length``: samples kept per partition and for the group for the sparklines.
    - ``forget_after_absent``: a partition missing from this many consecutive snapshots is
      forgotten (window, series and status), which bounds memory.
    """

    window_size: int = 10
    min_entry_interval_s: float = 5.0
    allowed_lag: int = 0
    series_length: int = 60
    forget_after_absent: int = 3

    def __post_init__(self) -> None:
        if self.window_size < 2:
            raise ValueError("window_size must be at least 2 (the rules compare neighbouring entries)")
        if self.min_entry_interval_s < 0:
            raise ValueError("min_entry_interval_s must not be negative")
        if self.allowed_lag < 0:
            raise ValueError("allowed_lag must not be negative")
        if self.series_length < 1:
            raise ValueError("series_length must be at least 1")
        if self.forget_after_absent < 1:
            raise ValueError("forget_after_absent must be at least 1")
