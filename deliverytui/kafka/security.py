"""``deliverytui broker start --security sasl``: the embedded broker with SASL and ACLs.

A secured cluster is what on-call engineers meet in production, so the embedded broker
can run like one: every listener speaks SASL_PLAINTEXT, the KRaft ``StandardAuthorizer``
checks every request against ACLs, ``allow.everyone.if.no.acl.found=false``, and nobody
but the super user ``admin`` may do anything without an ACL. Its authorizer log
(``logs/kafka-authorizer.log``) records every denial (INFO) and every authorization
(DEBUG), with the principal, the operation and the request, so a test can prove what a
client did and did not send.

Principals (their passwords are random, generated on the first secured start and kept
in the client config files, which are reused on restarts):

- ``admin`` — the super user, PLAIN (the broker itself and its controller use it too);
- ``reader`` — SCRAM-SHA-256; Describe and Read on every topic, Describe on every group,
  nothing else: what the read-only live view and ``snapshot``/``groups`` need, and no more
  (Read on a group would also allow committing offsets to it);
- ``writer`` — SCRAM-SHA-256; an application principal: Describe, Read, Write and Create on
  every topic, Describe, Read and Delete on every group, IdempotentWrite on the cluster.

For each, a librdkafka properties file ``<data-dir>/client-<user>.properties``
(``bootstrap.servers``, ``security.protocol``, ``sasl.mechanism``, ``sasl.username``,
``sasl.password``; mode 0600) is ready for ``--config``. SCRAM users are created through
the AdminClient as ``admin`` after every start (an upsert), so
:func:`add_scram_user` can add more at run time (tests do, to give a principal exactly
the ACLs they want).

Nothing here is imported unless ``--security`` is used. :mod:`deliverytui.kafka.embedded`
calls :func:`broker_security` and then the methods of the object it returns.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from deliverytui.errors import ConfigError, UserFacingError

#: The values ``--security`` accepts; ``none`` is the plain broker.
SECURITY_MODES = ("none", "sasl")

ADMIN_USER = "admin"
SCRAM_MECHANISM = "SCRAM-SHA-256"
SCRAM_ITERATIONS = 8192
#: (user, mechanism) of every principal deliverytui creates; the admin is in the broker's JAAS config.
PRINCIPALS = ((ADMIN_USER, "PLAIN"), ("reader", SCRAM_MECHANISM), ("writer", SCRAM_MECHANISM))
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
AUTHORIZER_LOG = "kafka-authorizer.log"

_PROTOCOL_KEYS = ("listeners", "advertised.listeners", "inter.broker.listener.name", "listener.security.protocol.map")
_PLAINTEXT = re.compile(r"(?<![A-Z_])PLAINTEXT(?![A-Z_])")


class SecuritySetupError(UserFacingError):
    exit_code = 7  # as BrokerStartError: the broker could not be brought up as asked


def check_mode(mode: str | None) -> str | None:
    """``None`` for a plain broker, else the mode; one-line error for an unknown one."""
    if mode in (None, "", "none"):
        return None
    if mode not in SECURITY_MODES:
        raise ConfigError(f"unknown security mode {mode!r}; use one of: {', '.join(SECURITY_MODES)}")
    return mode


def broker_security(mode: str | None, data_dir: Path) -> SaslSecurity | None:
    """The security set-up for ``mode`` (``None``/``"none"``: a plain broker, nothing to do)."""
    return SaslSecurity(Path(data_dir)) if check_mode(mode) == "sasl" else None


def client_config_file(data_dir: Path, user: str) -> Path:
    return Path(data_dir) / f"client-{user}.properties"


def sasl_client_settings(user: str, password: str, mechanism: str) -> dict[str, str]:
    from deliverytui.kafka.client_config import RedactedConfig

    return RedactedConfig(
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism,
            "sasl.username": user,
            "sasl.password": password,
        }
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SaslSecurity:
    """What ``--security sasl`` adds to one embedded broker living in ``data_dir``."""

    mode = "sasl"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._passwords: dict[str, str] | None = None

    # -- credentials --------------------------------------------------------------
    @property
    def passwords(self) -> dict[str, str]:
        """``{user: password}``, read from the client config files or generated once."""
        if self._passwords is None:
            from deliverytui.kafka.client_config import load_properties

            passwords = {}
            for user, _mechanism in PRINCIPALS:
                file = client_config_file(self.data_dir, user)
                try:
                    password = load_properties(file).get("sasl.password") if file.exists() else None
                except ConfigError:
                    password = None
                passwords[user] = password or secrets.token_urlsafe(18)
            self._passwords = passwords
        return self._passwords

    def client_settings(self, user: str = ADMIN_USER) -> dict[str, str]:
        mechanism = dict(PRINCIPALS)[user]
        return sasl_client_settings(user, self.passwords[user], mechanism)

    # -- before start ---------------------------------------------------------------
    def server_settings(self, settings: Mapping[str, object]) -> dict[str, object]:
        """``settings`` (server.properties as a dict) with every listener on SASL and the authorizer on.

        Works on any listener layout: each listener whose protocol was PLAINTEXT becomes
        SASL_PLAINTEXT (a listener named PLAINTEXT is renamed SASL_PLAINTEXT). The controller
        listener and inter-broker traffic authenticate as ``admin`` with PLAIN; client listeners
        also accept SCRAM-SHA-256.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # server.properties and the client files hold passwords
        out = dict(settings)
        for key in _PROTOCOL_KEYS:
            if key in out:
                out[key] = _PLAINTEXT.sub("SASL_PLAINTEXT", str(out[key]))
        listener_names = [entry.split(":", 1)[0] for entry in str(out["listener.security.protocol.map"]).split(",")]
        controllers = {name.strip() for name in str(out.get("controller.listener.names", "")).split(",")}
        password = self.passwords[ADMIN_USER]
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f"username={_quote(ADMIN_USER)} password={_quote(password)} user_{ADMIN_USER}={_quote(password)};"
        )
        out.update(
            {
                "sasl.enabled.mechanisms": f"PLAIN,{SCRAM_MECHANISM}",
                "sasl.mechanism.inter.broker.protocol": "PLAIN",
                "sasl.mechanism.controller.protocol": "PLAIN",
                "authorizer.class.name": AUTHORIZER,
                "super.users": f"User:{ADMIN_USER}",
                "allow.everyone.if.no.acl.found": "false",
            }
        )
        for name in listener_names:
            prefix = f"listener.name.{name.lower()}"
            out[f"{prefix}.plain.sasl.jaas.config"] = plain
            if name in controllers:
                out[f"{prefix}.sasl.enabled.mechanisms"] = "PLAIN"
            else:
                out[f"{prefix}.sasl.enabled.mechanisms"] = f"PLAIN,{SCRAM_MECHANISM}"
                out[f"{prefix}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                )
        return out

    @staticmethod
    def log4j_settings() -> str:
        """log4j2 properties appended to the broker's: the authorizer's decisions in logs/kafka-authorizer.log."""
        return "\n".join(
            [
                "",
                "# --security sasl: every authorization decision (denials at INFO, grants at DEBUG).",
                "appender.authorizer.type = File",
                "appender.authorizer.name = AUTHORIZER",
                f"appender.authorizer.fileName = ${{sys:kafka.logs.dir}}/{AUTHORIZER_LOG}",
                "appender.authorizer.layout.type = PatternLayout",
                "appender.authorizer.layout.pattern = [%d] %p %m (%c)%n",
                "logger.authorizer.name = kafka.authorizer.logger",
                "logger.authorizer.level = DEBUG",
                "logger.authorizer.additivity = false",
                "logger.authorizer.appenderRef.authorizer.ref = AUTHORIZER",
                "",
            ]
        )

    # -- after start ------------------------------------------------------------------
    def after_start(self, bootstrap: str, timeout: float = 60.0) -> None:
        """As ``admin``: create the SCRAM users and their ACLs, write the client files, wait until they log in."""
        from confluent_kafka.admin import AdminClient

        from deliverytui.kafka.client_config import silent_librdkafka_logger

        admin = AdminClient(
            {"bootstrap.servers": bootstrap, **self.client_settings(ADMIN_USER), "client.id": "deliverytui-security"},
            logger=silent_librdkafka_logger(),
        )
        deadline = time.monotonic() + timeout
        for user, mechanism in PRINCIPALS:
            if mechanism == SCRAM_MECHANISM:
                _upsert_scram(admin, user, self.passwords[user], deadline)
        _reset_acls(admin, [f"User:{user}" for user, mechanism in PRINCIPALS if user != ADMIN_USER], deadline)
        _create_acls(admin, default_acls(), deadline)
        for user, _mechanism in PRINCIPALS:
            self._write_client_file(user, bootstrap)
        # SCRAM credentials reach the broker through the metadata log: wait until they work.
        for user, mechanism in PRINCIPALS:
            if mechanism == SCRAM_MECHANISM:
                _wait_until_login(bootstrap, self.client_settings(user), user, deadline)

    def _write_client_file(self, user: str, bootstrap: str) -> None:
        file = client_config_file(self.data_dir, user)
        lines = [
            f"# deliverytui: principal {user!r} of the embedded broker in {self.data_dir} (--security sasl).",
            f"# Use it with --config {file}",
            f"bootstrap.servers={bootstrap}",
            *(f"{key}={value}" for key, value in self.client_settings(user).items()),
        ]
        tmp = file.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(file)

    # -- reporting ----------------------------------------------------------------------
    def describe(self) -> dict[str, object]:
        """What ``broker info`` shows: the mode, the client config files and the authorizer log (no secrets)."""
        return {
            "security": self.mode,
            "client_configs": {user: str(client_config_file(self.data_dir, user)) for user, _ in PRINCIPALS},
            "authorizer_log": str(self.data_dir / "logs" / AUTHORIZER_LOG),
        }


# -- ACLs --------------------------------------------------------------------------------
def acl_bindings(principal: str, grants: Iterable[tuple[str, str, str, str]]):
    """``AclBinding``s allowing ``principal`` (``User:x``) each (resource type, name, pattern, operation)."""
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    types = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
             "transactional_id": ResourceType.TRANSACTIONAL_ID}
    return [
        AclBinding(
            types[restype.lower()], name, ResourcePatternType[pattern.upper()], principal, "*",
            AclOperation[operation.upper()], AclPermissionType.ALLOW,
        )
        for restype, name, pattern, operation in grants
    ]


def default_acls():
    """The ACLs of ``reader`` and ``writer`` (``admin`` is a super user and needs none)."""
    reader = [("topic", "*", "literal", op) for op in ("describe", "read")]
    reader += [("group", "*", "literal", "describe")]  # not Read: that would allow OffsetCommit
    writer = [("topic", "*", "literal", op) for op in ("describe", "read", "write", "create")]
    writer += [("group", "*", "literal", op) for op in ("describe", "read", "delete")]
    writer += [("cluster", "kafka-cluster", "literal", "idempotent_write")]
    return acl_bindings("User:reader", reader) + acl_bindings("User:writer", writer)


def _reset_acls(admin, principals: list[str], deadline: float) -> None:
    """Drop every ACL of deliverytui's own principals, so they have exactly the documented ones after a start."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    filters = [
        AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ANY)
        for principal in principals
    ]
    for future in admin.delete_acls(filters, request_timeout=max(1.0, deadline - time.monotonic())).values():
        try:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as exc:
            raise SecuritySetupError(f"resetting the ACLs on the embedded broker failed: {_text(exc)}") from None


def _create_acls(admin, bindings, deadline: float) -> None:
    from confluent_kafka import KafkaException

    futures = admin.create_acls(bindings, request_timeout=max(1.0, deadline - time.monotonic()))
    for future in futures.values():
        try:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as exc:
            raise SecuritySetupError(f"creating the ACLs on the embedded broker failed: {_text(exc)}") from None


def create_acls(admin_config: Mapping[str, object], principal: str, grants: Iterable[tuple[str, str, str, str]]) -> None:
    """Grant ``principal`` exactly ``grants`` ((resource type, name, pattern, operation), all ALLOW)."""
    from confluent_kafka.admin import AdminClient

    from deliverytui.kafka.client_config import silent_librdkafka_logger

    admin = AdminClient(dict(admin_config), logger=silent_librdkafka_logger())
    _create_acls(admin, acl_bindings(principal, grants), time.monotonic() + 30)


def add_scram_user(admin_config: Mapping[str, object], user: str, password: str, timeout: float = 30.0) -> dict[str, str]:
    """Create (or update) a SCRAM-SHA-256 user as the admin; returns its client settings once it can log in."""
    from confluent_kafka.admin import AdminClient

    from deliverytui.kafka.client_config import silent_librdkafka_logger

    deadline = time.monotonic() + timeout
    admin = AdminClient(dict(admin_config), logger=silent_librdkafka_logger())
    _upsert_scram(admin, user, password, deadline)
    settings = sasl_client_settings(user, password, SCRAM_MECHANISM)
    _wait_until_login(str(admin_config["bootstrap.servers"]), settings, user, deadline)
    return settings


def _upsert_scram(admin, user: str, password: str, deadline: float) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, SCRAM_ITERATIONS), password.encode()
    )
    while True:
        try:
            admin.alter_user_scram_credentials([upsert], request_timeout=10)[user].result(timeout=15)
            return
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise SecuritySetupError(f"creating the SCRAM user {user!r} on the embedded broker failed: {_text(exc)}") from None
            time.sleep(0.3)


def _wait_until_login(bootstrap: str, settings: Mapping[str, str], user: str, deadline: float) -> None:
    from deliverytui.kafka.embedded import metadata_answers

    while not metadata_answers(bootstrap, timeout=2.0, config=settings):
        if time.monotonic() > deadline:
            raise SecuritySetupError(f"the embedded broker does not accept the SCRAM login of {user!r} (see its logs)")
        time.sleep(0.3)


def _text(exc: Exception) -> str:
    error = exc.args[0] if exc.args else exc
    text = error.str() if hasattr(error, "str") else str(error)
    return " ".join(str(text).split())[:300]
