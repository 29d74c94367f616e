"""Store URLs: which backend a URL names, and how to show it without its password.

URLs are the one way to name a store (CLI flag, config, demo consumers), so
parsing and redaction live in one place and every message uses
:func:`redact_url` — a password must never reach a log line or the screen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from deliverytui.dedup.errors import StoreUrlError

SUPPORTED_SCHEMES = "redis://, rediss://, postgresql://, postgres:// or sqlite:///path"


class Backend(enum.Enum):
    """The kind of server behind a store URL."""

    REDIS = "redis"
    POSTGRESQL = "postgresql"
    SQLITE = "sqlite"


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A parsed store URL.

    ``raw`` is what the client library receives (with credentials); ``display``
    is the redacted form for messages. For SQLite, ``sqlite_path`` follows the
    SQLAlchemy convention: ``sqlite:///rel/path.db`` is relative to the working
    directory, ``sqlite:////abs/path.db`` is absolute, ``sqlite:///:memory:`` is a
    private in-memory database.
    """

    raw: str
    backend: Backend
    display: str
    sqlite_path: str | None = None


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for logs and screens)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{user}:***@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub_secret(message: str, url: str) -> str:
    """``message`` with the URL's password removed, in case a library echoed it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        for form in {password, unquote(password)}:
            message = message.replace(form, "***")
    return message


def parse_store_url(url: str) -> StoreUrl:
    """Parse ``url`` into a :class:`StoreUrl`, or raise a one-line :class:`StoreUrlError`."""
    if not isinstance(url, str) or "://" not in url:
        raise StoreUrlError(f"dedup store URL {redact_url(str(url))!r} has no scheme: use {SUPPORTED_SCHEMES}")
    display = redact_url(url)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss"):
        parts = urlsplit(url)
        if not parts.hostname:
            raise StoreUrlError(f"dedup store URL {display!r} names no host: write redis://HOST:PORT/DB")
        try:
            _ = parts.port  # urlsplit checks the port only when asked
        except ValueError as exc:
            raise StoreUrlError(f"dedup store URL {display!r} has a bad port: {exc}") from None
        return StoreUrl(raw=url, backend=Backend.REDIS, display=display)
    if scheme in ("postgresql", "postgres"):
        try:
            _ = urlsplit(url).port  # urlsplit checks the port only when asked
        except ValueError as exc:
            raise StoreUrlError(f"dedup store URL {display!r} has a bad port: {exc}") from None
        return StoreUrl(raw=url, backend=Backend.POSTGRESQL, display=display)
    if scheme == "sqlite":
        if not url.startswith("sqlite:///"):
            raise StoreUrlError(
                f"dedup store URL {display!r} is not a SQLite file URL: write sqlite:///relative.db "
                "or sqlite:////absolute/path.db"
            )
        path = url[len("sqlite:///") :]
        if not path:
            raise StoreUrlError(f"dedup store URL {display!r} names no file: write sqlite:///path/to/file.db")
        return StoreUrl(raw=url, backend=Backend.SQLITE, display=display, sqlite_path=path)
    raise StoreUrlError(f"unsupported dedup store URL {display!r}: use {SUPPORTED_SCHEMES}")
