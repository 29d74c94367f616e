"""The one exception type that reaches the user as a single line.

Every failure the user can fix (a bad address, a missing file, an unknown group)
is raised as a :class:`UserFacingError` whose message is one actionable sentence.
The CLI prints it on stderr and exits non-zero; the TUI shows it in a banner.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is meant for the person at the terminal."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        # Keep it to one line: multi-line messages from libraries are folded.
        super().__init__(" ".join(message.split()))
        if exit_code is not None:
            self.exit_code = exit_code


class ClusterUnreachableError(UserFacingError):
    """No broker answered within the bounded time."""

    exit_code = 3


class AuthenticationError(UserFacingError):
    """The cluster refused our credentials."""

    exit_code = 4


class UnknownGroupError(UserFacingError):
    """The consumer group does not exist on this cluster."""

    exit_code = 5


class ConfigError(UserFacingError):
    """A configuration file or option is wrong."""

    exit_code = 2
