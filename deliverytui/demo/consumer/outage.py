"""The one way a demo consumer waits out a ledger or store that is down: on :class:`Backoff`.

Why wait in place instead of failing: the consumer is in the middle of a message whose
guarantee depends on the next step (record the effect, complete the claim, open the
ledger). Giving up would either crash-loop the process or skip a step; waiting keeps the
order "no commit without its effect", and the waiting shows in the status file so the lab
says why nothing moves. A stop request ends the wait at once (the error is raised then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from deliverytui.dedup.retry import Backoff
from deliverytui.demo.stop_flag import StopFlag

T = TypeVar("T")

OUTAGE_BACKOFF = Backoff(initial_s=0.2, max_s=2.0)
"""0.2 s, doubling, at most 2 s: a restarted server is noticed within 2 s, a long outage costs little."""
STEADY_BACKOFF = Backoff(initial_s=1.0, max_s=1.0)
"""Once a second, for a read that is retried while the rest of the message waits anyway."""


def wait_out(
    call: Callable[[], T],
    *,
    errors: type[Exception] | tuple[type[Exception], ...],
    stopping: StopFlag,
    on_down: Callable[[Exception], None],
    backoff: Backoff = OUTAGE_BACKOFF,
) -> T:
    """Return ``call()``, repeating it after ``backoff``'s delays while it raises ``errors``.

    ``on_down(error)`` runs before each wait (the caller records the pause in its status).
    When a stop is requested during a wait, the last error is raised.
    """
    delays = backoff.delays()
    while True:
        try:
            return call()
        except errors as exc:
            on_down(exc)
            if stopping.wait(next(delays)):
                raise
