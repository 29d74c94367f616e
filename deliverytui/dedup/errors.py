"""Errors a dedup store raises that the user can act on, each one line.

A store that is down is not a bug: the consumer must pause and retry, and the
person at the terminal must be told which store and what to check. So outages,
bad URLs and missing tables are :class:`~deliverytui.errors.UserFacingError`
subclasses whose message names the store URL *without* its password.
"""

from __future__ import annotations

from deliverytui.errors import ExitCode, UserFacingError


class DedupStoreError(UserFacingError):
    """A dedup store operation failed for a reason the user can fix."""

    exit_code = ExitCode.DEDUP_STORE


class StoreUrlError(DedupStoreError):
    """The store URL is malformed or uses a scheme deliverytui does not support."""

    exit_code = ExitCode.BAD_STORE_URL


class StoreUnavailableError(DedupStoreError):
    """The store did not answer (down, refused, timed out, locked, or refused our login).

    A consumer that gets this must neither run the side effect nor commit the
    offset; it waits and retries the same message (see ``with_store_retry``).
    """

    exit_code = ExitCode.STORE_UNAVAILABLE
