"""What a consumer does when its dedup store is down: wait, then retry the same message.

Without a dedup decision the consumer must neither run the side effect (it might
be a duplicate) nor commit the offset (the message would be lost). So it pauses
on the message it has, backing off, until the store answers — and the store
reconnects by itself, so no restart is needed. :func:`with_store_retry` is that
loop; ``on_wait`` lets the caller show or log the one-line reason.

Retry a claim with the *same* token (``claim(key, lease_seconds=…, token=t)``):
if the failed try had in fact reached the store, the retry is recognised as the
same owner instead of being told ``IN_PROGRESS`` until its own lease expires.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from deliverytui.dedup.errors import StoreUnavailableError

T = TypeVar("T")

WaitCallback = Callable[[StoreUnavailableError, float], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between retries: ``initial_s``, times ``factor``, capped at ``max_s``."""

    initial_s: float = 0.1
    max_s: float = 5.0
    factor: float = 2.0

    def delays(self) -> _Delays:
        return _Delays(self)


class _Delays:
    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._next = backoff.initial_s

    def __next__(self) -> float:
        delay = self._next
        self._next = min(self._backoff.max_s, self._next * self._backoff.factor)
        return delay


async def with_store_retry(
    op: Callable[[], Awaitable[T]],
    *,
    on_wait: WaitCallback | None = None,
    backoff: Backoff = Backoff(),
    give_up_after_s: float | None = None,
) -> T:
    """Run ``op`` until it stops raising :class:`StoreUnavailableError`, and return its result.

    Before each wait, ``on_wait(error, delay_s)`` is called (it may be async). With
    ``give_up_after_s``, the last error is re-raised once that much time has
    passed; by default the consumer waits as long as the outage lasts, which is
    what keeps "no effect without a decision, no commit without an effect" true.
    """
    delays = backoff.delays()
    started = time.monotonic()
    while True:
        try:
            return await op()
        except StoreUnavailableError as error:
            if give_up_after_s is not None and time.monotonic() - started >= give_up_after_s:
                raise
            delay = next(delays)
            if on_wait is not None:
                result = on_wait(error, delay)
                if inspect.isawaitable(result):
                    await result
            await asyncio.sleep(delay)
