"""Reading a record's value as a task event, without ever raising.

Why never raise: a record that is not a usable event must be counted and stepped over,
not crash the consumer or put it in a retry loop on the same offset (a poison pill).
"""

from __future__ import annotations

import json
from typing import Any

NOT_JSON = "not-json"
"""The value is empty, not UTF-8 JSON, or JSON but not an object: there is nothing to process."""
NO_EVENT_ID = "no-event-id"
"""A JSON object without a non-empty string ``event_id``: processed anyway, without dedup (the chapter)."""


def parse_event(value: bytes | None) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """``(event, None)`` for a usable event, else ``(None, NOT_JSON | NO_EVENT_ID)`` (never an exception)."""
    if not value:
        return None, NOT_JSON
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None, NOT_JSON
    if not isinstance(event, dict):
        return None, NOT_JSON
    if not isinstance(event.get("event_id"), str) or not event["event_id"]:
        return None, NO_EVENT_ID
    return event, None
