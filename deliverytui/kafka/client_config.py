"""librdkafka client configuration: the ``--config`` file, bootstrap resolution, secret redaction.

``--config FILE`` takes a Java-style properties file of librdkafka settings
(``security.protocol``, ``sasl.*``, ``ssl.*``), the way Kafka's own CLIs take
``--command-config``. Secrets read from it must never reach the screen, a log,
``--json`` output or an exception message, so everything that prints a config
goes through :func:`redact`, and configurations are held as :class:`RedactedConfig`,
whose ``repr`` is redacted: a traceback that shows locals (Textual's crash report
does) or an f-string cannot print a password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from deliverytui.errors import ConfigError, read_user_file
from deliverytui.kafka.admin import silent_librdkafka_logger

#: ``silent_librdkafka_logger`` lives in :mod:`deliverytui.kafka.admin`; it is re-exported here for
#: the modules that already import it from this one.
__all__ = [
    "DEFAULT_BOOTSTRAP",
    "RedactedConfig",
    "client_config",
    "is_secret_key",
    "load_properties",
    "redact",
    "silent_librdkafka_logger",
]

DEFAULT_BOOTSTRAP = "localhost:9092"

#: Keys whose values are secrets (matched as substrings of the lowercased key).
_SECRET_MARKERS = ("password", "secret", "sasl.jaas.config", "ssl.key.pem", "token", "credentials")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def redact(config: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``config`` safe to print: secret values replaced by ``***``."""
    return {k: ("***" if is_secret_key(k) else v) for k, v in config.items()}


class RedactedConfig(dict):
    """A client configuration (a plain ``dict`` to librdkafka) whose ``repr``/``str`` hide secret values."""

    def __repr__(self) -> str:
        return repr(redact(self))

    __str__ = __repr__


def load_properties(path: str | os.PathLike[str]) -> RedactedConfig:
    """Parse a librdkafka/Java properties file (``key=value`` or ``key: value``, ``#``/``!`` comments).

    Raises :class:`ConfigError` with one line when the file is missing or a line is not
    a property; the message names the file and line, never the value (it may be a secret).
    """
    file = Path(path)
    text = read_user_file(file, "config file", missing_hint="; pass a librdkafka properties file to --config")
    props = RedactedConfig()
    logical_lines: list[tuple[int, str]] = []
    pending = ""
    start_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", "!"))):
            continue
        if not pending:
            start_line = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        logical_lines.append((start_line, pending + line))
        pending = ""
    if pending:
        logical_lines.append((start_line, pending))
    for number, line in logical_lines:
        sep_positions = [p for p in (line.find("="), line.find(":")) if p > 0]
        if not sep_positions:
            raise ConfigError(f"{file}:{number}: expected 'key=value' (a librdkafka property)")
        sep = min(sep_positions)
        key, value = line[:sep].strip(), line[sep + 1 :].strip()
        if not key:
            raise ConfigError(f"{file}:{number}: empty property name")
        props[key] = value
    return props


def client_config(bootstrap: str, file_config: Mapping[str, str] | None = None, **overrides: object) -> RedactedConfig:
    """The dict handed to confluent-kafka clients: file settings, then ours."""
    config = RedactedConfig((k, v) for k, v in (file_config or {}).items() if k != "bootstrap.servers")
    config["bootstrap.servers"] = bootstrap
    config.setdefault("client.id", "deliverytui")
    config.update(overrides)
    return config
