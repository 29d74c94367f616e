"""The environment of every child process deliverytui starts: the caller's, without its passwords.

Why: ``/proc/<pid>/environ`` of a process is readable by its owner (and by root), and a child
keeps what it was given for its whole life, long after the variable served its purpose. The
passwords a user may export for deliverytui (``REDISCLI_AUTH`` for Redis, ``PGPASSWORD`` for
PostgreSQL, as their own tools read them) are resolved into the store URLs by the process that
reads the command line, and those URLs travel to a child on its stdin. No child of ours (the Kafka
client child, the broker's JVMs, the demo consumers) needs the variables themselves.

It lives in :mod:`deliverytui.kafka` because that is the lowest layer whose code starts a child
(the isolated Kafka client); the broker and the demo import it from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Environment variables that hold a password for a store deliverytui can talk to.
SECRET_VARIABLES = ("REDISCLI_AUTH", "PGPASSWORD")


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without :data:`SECRET_VARIABLES`: pass it as a child's ``env``."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if name not in SECRET_VARIABLES}
