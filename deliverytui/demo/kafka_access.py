"""The lab on a secured cluster: one ``--config`` for every Kafka client it runs, and failures said in one line.

``deliverytui demo --config FILE`` takes the same librdkafka properties file as the other commands
(``security.protocol``, ``sasl.*``, ``ssl.*``). The lab's producer, its consumer processes, the auditor,
the offset reader and the replay all log in with it (:func:`lab_client_config`). Consumer processes get
it as a private file (mode 0600, :func:`write_private_config`) whose *path* is on their command line:
a password on argv or in the environment is readable by other local users (``/proc/<pid>/cmdline``).

Why a pre-flight (:func:`check_lab_access`): a client without the right login is not refused by a SASL
broker, it is disconnected, and librdkafka keeps retrying: the lab used to wait 30 s in topic creation
and end in a ``TimeoutError`` traceback. One metadata request within ``--timeout`` tells "cannot reach",
"refused the login" and "not allowed" apart, each one line with its exit code.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException

from deliverytui.errors import (
    MESSAGE_LIMIT,
    AuthenticationError,
    ClusterUnreachableError,
    ConfigError,
    UserFacingError,
    one_line,
)
from deliverytui.kafka.acl_errors import authenticates, missing_acl, principal_of
from deliverytui.kafka.admin import admin_client
from deliverytui.kafka.client_config import RedactedConfig

#: The embedded broker's principal with the lab's ACLs (see :func:`deliverytui.broker.security.default_acls`).
LAB_PRINCIPAL = "lab"
#: The private copy of ``--config`` in a lab's state dir that its consumer processes read.
CONSUMER_CONFIG_FILE = "kafka-client.properties"

_AUTH_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError.ILLEGAL_SASL_STATE,
     KafkaError.UNSUPPORTED_SASL_MECHANISM, KafkaError._SSL}
)
_AUTHZ_CODES = frozenset(
    {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
     KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED}
)


def lab_client_config(bootstrap: str, kafka_config: Mapping[str, str] | None, settings: Mapping[str, object] | None = None) -> RedactedConfig:
    """A lab client's configuration: the ``--config`` properties, then the client's own ``settings``, then ``bootstrap``."""
    config = RedactedConfig((k, v) for k, v in (kafka_config or {}).items() if k != "bootstrap.servers")
    config.update(settings or {})
    config["bootstrap.servers"] = bootstrap
    return config


def config_key(bootstrap: str, kafka_config: Mapping[str, str] | None) -> str:
    """A cache key for long-lived clients of one cluster and login (a digest: no secret is kept in a key)."""
    digest = hashlib.sha256(repr(sorted((kafka_config or {}).items())).encode()).hexdigest()[:16]
    return f"{bootstrap}#{digest}"


def write_private_config(directory: Path, kafka_config: Mapping[str, str] | None) -> Path | None:
    """Write ``kafka_config`` to ``directory``/kafka-client.properties, readable by its owner only; None without one."""
    path = Path(directory) / CONSUMER_CONFIG_FILE
    if not kafka_config:
        path.unlink(missing_ok=True)
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# deliverytui demo: the lab's --config, for its consumer processes (mode 0600).\n")
        out.writelines(f"{key}={value}\n" for key, value in kafka_config.items() if key != "bootstrap.servers")
    os.replace(tmp, path)
    return path


def refuse_secured_embedded_broker_without_login(bootstrap: str) -> None:
    """Without ``--config``, the secured embedded broker at ``bootstrap`` is refused at once, naming the lab's client file.

    The embedded broker's ``--security sasl`` writes ``client-lab.properties``: the principal with
    exactly the ACLs the lab needs (README: "The lab on a secured cluster"). Security stays on.
    """
    from deliverytui.broker.security import client_config_file
    from deliverytui.broker.state import secured_embedded_dir

    data_dir = secured_embedded_dir(bootstrap)
    if data_dir is not None:
        raise AuthenticationError(
            f"the embedded broker at {bootstrap} runs with SASL and ACLs: run the lab as its 'lab' principal with "
            f"--config {client_config_file(data_dir, LAB_PRINCIPAL)}"
        )


def check_lab_access(bootstrap: str, kafka_config: Mapping[str, str] | None, timeout: float) -> None:
    """One metadata request within ``timeout``: unreachable (3), login refused (4), or fine.

    librdkafka reports a refused login through the error callback, and a SASL listener simply
    drops a client that does not speak SASL ("brokers are down"); both are collected here.
    """
    errors: list[KafkaError] = []
    lock = threading.Lock()

    def on_error(error: KafkaError) -> None:
        with lock:
            errors.append(error)

    config = lab_client_config(
        bootstrap, kafka_config,
        {"error_cb": on_error, "socket.connection.setup.timeout.ms": int(max(1.0, min(timeout, 10.0)) * 1000)},
    )
    try:
        admin = admin_client(config)
    except KafkaException as exc:
        raise ConfigError(f"invalid client configuration in --config: {_text(exc)}") from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            metadata = admin.list_topics(timeout=max(0.5, min(1.0, deadline - time.monotonic())))
            if metadata.brokers:
                return
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is not None:
                errors.append(error)
        admin.poll(0)  # serves the error callback: a refused login is reported there
        with lock:
            refused = next((e for e in errors if e.code() in _AUTH_CODES), None)
        if refused is not None:
            raise AuthenticationError(
                f"Kafka at {bootstrap} refused the lab's login: {_text(refused)}; check the sasl.*/ssl.* settings in --config"
            )
        if time.monotonic() >= deadline:
            hint = "" if authenticates(kafka_config) else "; a cluster that needs SASL or SSL drops a client without --config"
            raise ClusterUnreachableError(
                f"cannot reach Kafka at {bootstrap} within {timeout:.0f}s{hint} (check --bootstrap, --config and that the cluster is up)"
            )
        time.sleep(0.1)


def kafka_failure(
    exc: BaseException, bootstrap: str, kafka_config: Mapping[str, str] | None, *, doing: str,
    operation: str, resource_type: str, resource: str,
) -> UserFacingError:
    """``exc`` (raised while ``doing``) as one line: the missing ACL (9), a refused login (4), no answer (3), or the reason (1).

    ``operation``/``resource_type``/``resource`` name the ACL the request needs, as ``kafka-acls`` spells it.
    """
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError) else None
    code = error.code() if error is not None else None
    if code in _AUTHZ_CODES:
        return missing_acl(principal_of(kafka_config), operation, resource_type, resource, context=f"the lab needs it for {doing}")
    if code in _AUTH_CODES:
        return AuthenticationError(f"Kafka at {bootstrap} refused the lab's login while {doing}: {_text(error)}")
    if error is None or code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError.REQUEST_TIMED_OUT):
        reason = _text(error) if error is not None else (one_line(exc, limit=MESSAGE_LIMIT) or "no answer")
        return ClusterUnreachableError(f"no answer from Kafka at {bootstrap} while {doing}: {reason}")
    return UserFacingError(f"Kafka refused {doing} at {bootstrap}: {_text(error)}")


def _text(error: KafkaError | KafkaException) -> str:
    inner = error.args[0] if isinstance(error, KafkaException) and error.args else error
    return one_line(inner.str() if isinstance(inner, KafkaError) else str(inner), limit=MESSAGE_LIMIT)
