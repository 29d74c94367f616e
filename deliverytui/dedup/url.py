"""Store URLs: which backend a URL names, and how to show it without its password.

URLs are the one way to name a store (CLI flag, config, demo consumers), so
parsing and redaction live in one place and every message uses
:func:`redact_url` — a password must never reach a log line or the screen.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from deliverytui.dedup.errors import StoreUrlError

SUPPORTED_SCHEMES = "redis://, rediss://, postgresql://, postgres:// or sqlite:///path"
#: The variable each server's own client reads a password from (``redis-cli``, ``psql``/libpq).
PASSWORD_VARIABLES = {"redis": "REDISCLI_AUTH", "rediss": "REDISCLI_AUTH", "postgresql": "PGPASSWORD", "postgres": "PGPASSWORD"}
URL_FILE_LIMIT = 64 * 1024


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


def with_environment_password(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``url`` with the password its server's own tools would use when it names none.

    ``redis://`` and ``rediss://`` take ``REDISCLI_AUTH`` (as ``redis-cli`` does; redis-py does not read
    it), ``postgresql://`` takes ``PGPASSWORD`` (as libpq does). Put into the URL here, the password
    reaches the demo consumers on their stdin, so no child needs the variable (see
    :func:`deliverytui.kafka.child_process.child_environment`). A password in the URL wins; ``~/.pgpass``
    needs nothing, since libpq reads it in whichever process connects.
    """
    source = os.environ if environ is None else environ
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    password = source.get(PASSWORD_VARIABLES.get(scheme, ""), "")
    if not password:
        return url
    try:
        parts = urlsplit(url)
        if parts.password is not None or not parts.netloc:
            return url
    except ValueError:
        return url  # parse_store_url says what is wrong with it
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def read_url_file(path: str | Path, what: str = "the URL file") -> str:
    """The URL held in ``path`` (``--dedup-file``): a private regular file of one line, owned by us.

    A URL kept in a file stays off the command line, where every local user can read it in
    ``/proc/<pid>/cmdline``; a file others may read would only move the leak, so it is refused,
    as ssh refuses a private key with loose modes. One-line :class:`StoreUrlError` otherwise.
    """
    file = Path(path)
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise StoreUrlError(f"cannot read {what} {file}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise StoreUrlError(f"{what} {file} is not a regular file")
        if info.st_mode & 0o077:
            raise StoreUrlError(
                f"{what} {file} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run 'chmod 600 {file}'"
            )
        if info.st_uid != os.geteuid():
            raise StoreUrlError(f"{what} {file} belongs to another user; it must be yours and mode 0600")
        data = handle.read(URL_FILE_LIMIT + 1)
    try:
        lines = [line.strip() for line in data.decode("utf-8").splitlines() if line.strip() and not line.lstrip().startswith("#")]
    except UnicodeDecodeError:
        raise StoreUrlError(f"{what} {file} is not UTF-8 text") from None
    if len(data) > URL_FILE_LIMIT or len(lines) != 1:
        raise StoreUrlError(f"{what} {file} must hold exactly one URL on one line")
    return lines[0]
