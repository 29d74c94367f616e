"""``--dedup``/``--dedup-file`` and ``--ledger``/``--ledger-file``: one store URL, with its password
from the place the user chose to keep it.

Why a file and the environment: a password on the command line is readable by every local user in
``ps`` for as long as the process runs. ``--dedup-file PATH`` reads the URL from a private (0600)
file instead; a URL without a password takes it from ``REDISCLI_AUTH`` (Redis) or ``PGPASSWORD``
(PostgreSQL), as ``redis-cli`` and ``psql`` do, and libpq still reads ``~/.pgpass`` itself.
"""

from __future__ import annotations

from deliverytui.errors import UsageError

SECRET_FILE_HELP = "a file (mode 0600, yours) holding the URL, so its password stays off the command line"


def store_url(url: str | None, url_file: str | None, option: str) -> str | None:
    """The URL of ``--OPTION`` or ``--OPTION-file`` (not both), with the environment's password if it has none."""
    # Imported here, not at parse time: --help stays fast.
    from deliverytui.dedup.url import read_url_file, with_environment_password

    if url and url_file:
        raise UsageError(f"give --{option} or --{option}-file, not both")
    if url_file:
        url = read_url_file(url_file, f"--{option}-file")
    return with_environment_password(url) if url else None
