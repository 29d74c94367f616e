"""argparse value types shared by the CLI and the demo consumer's own command line."""

from __future__ import annotations

import argparse


def whole_number_at_least(text: str, minimum: int, requirement: str) -> int:
    """``text`` as a whole number of at least ``minimum``, or argparse's one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{requirement}, got {value}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse turns the error into its one-line usage message)."""
    return whole_number_at_least(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """A whole number of at least 0 (a count that may be zero: crashes, malformed records)."""
    return whole_number_at_least(text, 0, "must be 0 or more")


def consumer_group(text: str) -> str:
    """A consumer group id as Kafka takes it: any text but the empty one (which no client can join,
    and which the AdminClient refuses with a ValueError). Kept exact, never stripped or shortened."""
    if text == "":
        raise argparse.ArgumentTypeError("a consumer group id cannot be empty; 'deliverytui groups' lists the cluster's groups")
    return text


#: The shortest ``--refresh``: each poll is two round trips of batched requests; below this the view
#: would only re-read a cluster that has not had time to change (and 0 would poll back to back).
MIN_REFRESH_SECONDS = 0.2


def refresh_seconds(text: str) -> float:
    """``--refresh SECONDS``: a number of seconds of at least :data:`MIN_REFRESH_SECONDS`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= MIN_REFRESH_SECONDS:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be at least {MIN_REFRESH_SECONDS} seconds, got {value:g}")
    if value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number of seconds")
    return value


#: The group types ``groups --type`` filters on, as Kafka's ``kafka-groups --group-type`` names them.
GROUP_TYPES = ("classic", "consumer", "share")


def group_types(text: str) -> frozenset[str]:
    """``--type classic,consumer``: a comma-separated set of group types, each one of :data:`GROUP_TYPES`."""
    wanted = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = sorted(wanted - set(GROUP_TYPES))
    if not wanted or unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(map(repr, unknown)) or 'nothing'}: choose from {', '.join(GROUP_TYPES)}")
    return wanted
