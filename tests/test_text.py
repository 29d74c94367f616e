"""The one sanitizer for names other people choose (deliverytui/model/text.py), and the model types that apply it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deliverytui.model import GroupListing, MemberInfo
from deliverytui.model.dedup import DedupPanelData
from deliverytui.model.demo import AuditReport, ConsumerAudit, LabEvent, OffendingEvent
from deliverytui.model.text import NAME_LIMIT, UNSAFE_CHARACTERS, quoted, shortened, shown_name, visible

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;aGk=\x07\u202e\x9b\x7f\u2066"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("billing-service.v2", "billing-service.v2"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\u202eb\u2066c\u2069\u200f", "a\\u202eb\\u2066c\\u2069\\u200f"),
        ("del\x7f c1\x9b nul\x00 nl\n", "del\\x7f c1\\x9b nul\\x00 nl\\x0a"),
        ("日本語 ümlaut émoji 🎉", "日本語 ümlaut émoji 🎉"),  # printable text is kept as it is
    ],
)
def test_visible_escapes_controls_and_bidi_only(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_output_is_safe_and_idempotent() -> None:
    every_code_point_below_0x3000 = "".join(map(chr, range(0x3000)))
    once = visible(every_code_point_below_0x3000)
    assert UNSAFE_CHARACTERS.search(once) is None
    assert visible(once) == once


def test_long_names_are_shortened_with_an_ellipsis_for_messages() -> None:
    name = "g" * 10_000
    assert shortened(name) == "g" * (NAME_LIMIT - 1) + "…" and len(shown_name(name)) == NAME_LIMIT
    assert quoted(name) == f"'{'g' * (NAME_LIMIT - 1)}…'"
    assert shown_name("short\x1b") == "short\\x1b"


def test_model_types_hold_other_peoples_names_in_visible_form() -> None:
    member = MemberInfo(f"m{HOSTILE}", f"c{HOSTILE}", f"h{HOSTILE}", f"i{HOSTILE}", ())
    assert all(UNSAFE_CHARACTERS.search(text) is None for text in (member.member_id, member.client_id, member.host, member.group_instance_id))
    listing = GroupListing(f"g{HOSTILE}", "Empty", "classic", False)
    assert listing.group_id == f"g{HOSTILE}" and listing.name == visible(f"g{HOSTILE}")  # exact id kept for Kafka
    assert LabEvent(f"unexpected effect for {HOSTILE}").text == visible(f"unexpected effect for {HOSTILE}")
    assert OffendingEvent(HOSTILE, 0, 1, "unexpected").event_id == visible(HOSTILE)
    audit = ConsumerAudit("at-least-once", "g", 1, 1, 1, 1, 0, 0, 1, 0, 0, lost_event_ids=(HOSTILE,), notes=(HOSTILE,))
    assert audit.lost_event_ids == (visible(HOSTILE),) and audit.notes == (visible(HOSTILE),)
    assert AuditReport("t", 1, (audit,), datetime.now(UTC), warnings=(HOSTILE,)).warnings == (visible(HOSTILE),)
    panel = DedupPanelData("redis://x", "redis", HOSTILE, None, None, None, True, HOSTILE, known_groups=(HOSTILE,))
    assert (panel.group, panel.note, panel.known_groups) == (visible(HOSTILE), visible(HOSTILE), (visible(HOSTILE),))
