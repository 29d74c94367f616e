"""Where a command's Kafka is: ``--bootstrap``, ``--config`` and ``--timeout``, resolved once per command."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

#: The connection options, declared once: the live view takes them at the top level, and every
#: command that talks to a cluster takes them again after its name (see :func:`add_connection_option`).
CONNECTION_OPTIONS: dict[str, dict] = {
    "--bootstrap": {
        "metavar": "HOST:PORT",
        "help": "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, then the running embedded broker, "
        "then localhost:9092)",
    },
    "--config": {"metavar": "FILE", "help": "librdkafka properties file (security.protocol, sasl.*, ssl.*)"},
    "--timeout": {"type": float, "metavar": "SECONDS", "help": "per-request timeout (default 10)"},
}
DEFAULT_TIMEOUT = 10.0


def add_connection_option(parser, flag: str, *, default=argparse.SUPPRESS, help_text: str | None = None) -> None:
    """Declare one of :data:`CONNECTION_OPTIONS` on ``parser`` (an ArgumentParser or an argument group).

    The default ``SUPPRESS``: a subcommand that is not given the option keeps the value given
    before it (``deliverytui --bootstrap B snapshot --group G``), or the top-level default.
    """
    spec = dict(CONNECTION_OPTIONS[flag])
    if help_text is not None:
        spec["help"] = help_text
    parser.add_argument(flag, default=default, **spec)


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap``, ``--config`` and ``--timeout`` for a command that talks to a cluster."""
    for flag in CONNECTION_OPTIONS:
        add_connection_option(parser, flag)


@dataclass(frozen=True, slots=True)
class Connection:
    """A command's cluster: its bootstrap servers, where they came from, the ``--config`` properties
    (``None`` without ``--config``) and the per-request timeout."""

    bootstrap: str
    source: str
    config: Mapping[str, str] | None
    timeout: float


def refuse_plain_client_on_secured_embedded_broker(bootstrap: str, *, principal: str = "reader") -> None:
    """"This broker needs SASL", with the client file to pass, instead of "cannot reach Kafka" ten seconds later.

    A secured embedded broker drops a client that does not log in, which librdkafka reports as
    "brokers are down". Its data dir holds ready client files: ``principal`` names the one to suggest.
    """
    from deliverytui.broker.state import secured_embedded_dir

    data_dir = secured_embedded_dir(bootstrap)
    if data_dir is not None:
        # Imported only to name the file: broker.security loads secrets and hashlib (~20 ms of every command).
        from deliverytui.broker.security import client_config_file
        from deliverytui.errors import AuthenticationError

        raise AuthenticationError(
            f"the embedded broker at {bootstrap} needs SASL: use --config {client_config_file(data_dir, principal)}"
        )


def resolve_connection(args: argparse.Namespace) -> Connection:
    """Load ``--config`` (one-line ConfigError when unreadable) and pick the bootstrap servers."""
    from deliverytui.broker.state import resolve_bootstrap
    from deliverytui.kafka.client_config import load_properties

    config = load_properties(args.config) if args.config else None
    bootstrap, source = resolve_bootstrap(args.bootstrap, file_config=config)
    if not (config or {}).get("security.protocol"):
        refuse_plain_client_on_secured_embedded_broker(bootstrap)
    return Connection(bootstrap=bootstrap, source=source, config=config, timeout=args.timeout)


def start_java_admin(connection: Connection):
    """Kafka's own Admin client (the Java helper, built on first use) for the same connection.

    For the share-group calls librdkafka lacks. The caller owns it (a context manager); in a forked
    command it is the child's, so its JVM dies with the child (its stdin closes). The JVM starts
    while the caller goes on: the first request waits for it. Raises ``KafkaSetupError`` where Java
    cannot build or run it.
    """
    from deliverytui.broker.admin_helper import admin_helper_command
    from deliverytui.cli.output import progress
    from deliverytui.kafka.java_admin import JavaAdmin

    return JavaAdmin(
        admin_helper_command(progress=progress), connection.bootstrap, connection.config, request_timeout=connection.timeout
    )
