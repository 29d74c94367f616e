"""The recorder's one-line errors, each with its exit code (:mod:`deliverytui.errors`)."""

from __future__ import annotations

from deliverytui.errors import ExitCode, UserFacingError


class RecordingError(UserFacingError):
    """A recording file cannot be used: missing, not a recording, a newer format, another cluster or group."""

    exit_code = ExitCode.RECORDING


class RecordingStoppedError(UserFacingError):
    """Writing a frame failed (a full disk, a size cap reached, an I/O error): recording stops there."""

    exit_code = ExitCode.RECORDING_STOPPED
