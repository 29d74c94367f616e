"""Text other people chose (group ids, client ids, hosts, event ids), made safe to put on a terminal.

A consumer group id, a consumer's ``client.id``, a member id or a probe record's fields are
written by whoever runs a client against the cluster. A terminal obeys control sequences in
what it is given: ``ESC ] 0 ; … BEL`` retitles the window, ``ESC [ 2 J`` clears the screen,
``ESC ] 52 ; c ; …`` fills the clipboard, and the bidi overrides (U+202E) make a name read
backwards. Textual writes a widget's text to the terminal as it is, and Rich's ``Text``
strips only BEL, backspace, VT, FF and CR, so such a name must be neutralised before any
screen or CLI line holds it.

:func:`visible` is the one sanitizer: it replaces each such character with its escape
(``\\x1b``, ``\\u202e``), so the name stays recognisable and nothing reaches the terminal
raw. The model's constructors apply it to the names they receive (the boundary where other
people's text enters deliverytui), so every screen and CLI line built from the model is safe
without calling it again. It is pure and idempotent: ``visible(visible(s)) == visible(s)``,
since its output holds only printable characters. Backslashes are kept as they are (names with
a literal ``\\x1b`` in them look the same as names with an ESC: the id Kafka is called with
is kept apart from the shown one where it matters, the group picker).

:func:`shortened` cuts a long name (Kafka allows group ids of 32,767 characters) with an
ellipsis, for messages and headers; the id Kafka is called with is never shortened.
"""

from __future__ import annotations

import re

#: What :func:`visible` escapes: C0 controls (NUL to US), DEL and the C1 controls (U+0080 to
#: U+009F, which some terminals obey like ESC sequences); the Arabic letter mark, left-to-right and
#: right-to-left marks, the line and paragraph separators (they break a one-line layout) and the
#: bidi embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069).
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")

#: The longest name a message or a header shows whole (longer ones end in an ellipsis).
NAME_LIMIT = 80
ELLIPSIS = "…"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control and bidi character in :data:`UNSAFE_CHARACTERS` written as its escape."""
    if UNSAFE_CHARACTERS.search(text) is None:  # the common case: a name anybody would choose
        return text
    return UNSAFE_CHARACTERS.sub(_escape, text)


def visible_or_none(text: str | None) -> str | None:
    """:func:`visible` for an optional name (a static member's ``group.instance.id``, say)."""
    return None if text is None else visible(text)


def shortened(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis, when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def shown_name(text: str, limit: int = NAME_LIMIT) -> str:
    """A name as a message or a header shows it: :func:`visible`, then :func:`shortened`."""
    return shortened(visible(text), limit)


def quoted(name: str) -> str:
    """A name inside a message: ``'billing'``; visible and shortened like :func:`shown_name`."""
    return f"'{shown_name(name)}'"


def escaped_bytes(data: bytes, limit: int) -> str:
    """The first ``limit`` bytes of a record's key, value or header as one safe line.

    UTF-8 text stays readable; bytes that are not UTF-8 read ``\\xNN`` (``backslashreplace``), and control
    and bidi characters are escaped by :func:`visible`: NUL, CR, BEL, ESC never reach the terminal.
    A multi-byte character cut by ``limit`` shows as its bytes' escapes.
    """
    return visible(data[:limit].decode("utf-8", "backslashreplace"))
