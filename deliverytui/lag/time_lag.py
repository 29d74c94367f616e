"""Time lag: how old the first record the group has not consumed yet is.

Offsets say how many records are behind; time lag says how late delivery is, which is
what a reader of the event log cares about. It needs the timestamp of the record at the
committed offset, which costs a fetch per partition, so a collector reads it only where
cheap (the selected partition, or a sampled few) and passes what it has; everything else
is ``None``, never a guess.
"""

from __future__ import annotations


def time_lag_seconds(lag: int | None, record_timestamp_ms: int | None, now_s: float) -> float | None:
    """Seconds between ``now_s`` and the timestamp of the record at the committed offset.

    - ``lag`` 0 or less (caught up: there is no unconsumed record) -> ``0.0``;
    - lag unknown, or no timestamp supplied (not fetched, or the broker returned none, -1) -> ``None``;
    - a timestamp in the future (producer clock skew with CreateTime) -> ``0.0``.
    """
    if lag is None:
        return None
    if lag <= 0:
        return 0.0
    if record_timestamp_ms is None or record_timestamp_ms < 0:
        return None
    age = now_s - record_timestamp_ms / 1000.0
    return age if age > 0.0 else 0.0
