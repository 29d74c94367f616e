"""``deliverytui broker start --security sasl``: the embedded broker with SASL and ACLs.

A secured cluster is what on-call engineers meet in production, so the embedded broker
can run like one: every listener speaks SASL_PLAINTEXT, the KRaft ``StandardAuthorizer``
checks every request against ACLs, ``allow.everyone.if.no.acl.found=false``, and nobody
but the super user ``admin`` may do anything without an ACL. Each node's authorizer log
(``logs/kafka-authorizer.log`` in its directory) records every denial (INFO) and every authorization
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
- ``lab`` — SCRAM-SHA-256; the teaching lab (``deliverytui demo --config client-lab.properties``): exactly
  the ACLs of :func:`lab_acls` on the lab's topics, groups and transactional ids, nothing else.

For each, a librdkafka properties file ``<data-dir>/client-<user>.properties``
(``bootstrap.servers``, ``security.protocol``, ``sasl.mechanism``, ``sasl.username``,
``sasl.password``; mode 0600) is ready for ``--config``. SCRAM users are created through
the AdminClient as ``admin`` after every start (an upsert), so
:func:`deliverytui.kafka.security.add_scram_user` can add more at run time (tests do, to give a principal exactly
the ACLs they want).

The same set-up secures a cluster of N nodes: every node's properties go through
:meth:`SaslSecurity.server_settings` (brokers and controllers log in to each other as
``admin``), the client files list every node in ``bootstrap.servers``, and after a start the
SCRAM logins are awaited on each node, since credentials reach each one through the metadata
log. :class:`deliverytui.broker.embedded.EmbeddedBroker` calls :func:`broker_security` and then
the methods of the object it returns; the client-side admin operations (SCRAM users, ACLs)
are in :mod:`deliverytui.kafka.security`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from deliverytui.broker import SECURITY_MODES  # the values --security accepts (light, for the CLI's parser)
from deliverytui.broker.properties import write_private
from deliverytui.errors import ConfigError
from deliverytui.kafka.admin import admin_client
from deliverytui.kafka.client_config import load_properties
from deliverytui.kafka.security import (
    SCRAM_MECHANISM,
    acl_bindings,
    create_acl_bindings,
    reset_acls,
    sasl_client_settings,
    upsert_scram_user,
    wait_until_login,
)

ADMIN_USER = "admin"
#: (user, mechanism) of every principal deliverytui creates; the admin is in the broker's JAAS config.
PRINCIPALS = ((ADMIN_USER, "PLAIN"), ("reader", SCRAM_MECHANISM), ("writer", SCRAM_MECHANISM), ("lab", SCRAM_MECHANISM))

#: The teaching lab's consumer groups (``deliverytui.demo.semantics``: the broker cannot import the lab; a
#: test keeps the two lists equal) and the group prefixes of its headless runs and of ``--group-prefix demo-…``.
LAB_GROUPS = (
    "analytics-service", "notification-service", "idempotent-notifier", "task-projection", "task-completer", "order-processor",
    "queue-workers",
)  # fmt: skip
#: The lab's share group (the queue consumer), which sets its own ``share.auto.offset.reset``: AlterConfigs on it.
LAB_SHARE_GROUP = "queue-workers"
LAB_GROUP_PREFIXES = ("headless-", "demo-")
#: The group ids of the lab's own readers (``deliverytui-demo-metadata-…``, ``deliverytui-audit-…``).
LAB_READER_GROUP_PREFIX = "deliverytui-"
#: The exactly-once consumer's ``transactional.id`` (``<group>-tx``; with a prefix, under the group prefixes).
LAB_TRANSACTIONAL_ID = "order-processor-tx"
#: The lab's topics all start with this (``task-events``, ``task-events.processed``, ``--topic task-events-…``).
LAB_TOPIC_PREFIX = "task-events"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
AUTHORIZER_LOG = "kafka-authorizer.log"

_PROTOCOL_KEYS = ("listeners", "advertised.listeners", "inter.broker.listener.name", "listener.security.protocol.map")
_PLAINTEXT = re.compile(r"(?<![A-Z_])PLAINTEXT(?![A-Z_])")


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


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SaslSecurity:
    """What ``--security sasl`` adds to the embedded broker (one node or N) living in ``data_dir``."""

    mode = "sasl"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._passwords: dict[str, str] | None = None

    # -- credentials --------------------------------------------------------------
    @property
    def passwords(self) -> dict[str, str]:
        """``{user: password}``, read from the client config files or generated once."""
        if self._passwords is None:
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
    def after_start(self, node_bootstraps: Sequence[str], timeout: float = 60.0) -> None:
        """As ``admin``: create the SCRAM users and their ACLs, write the client files, wait until they log in.

        ``node_bootstraps`` is every node's address; the client files list them all, and each
        node must accept the SCRAM logins before the start counts as done.
        """
        bootstrap = ",".join(node_bootstraps)
        admin = admin_client({"bootstrap.servers": bootstrap, **self.client_settings(ADMIN_USER), "client.id": "deliverytui-security"})
        deadline = time.monotonic() + timeout
        for user, mechanism in PRINCIPALS:
            if mechanism == SCRAM_MECHANISM:
                upsert_scram_user(admin, user, self.passwords[user], deadline)
        reset_acls(admin, [f"User:{user}" for user, mechanism in PRINCIPALS if user != ADMIN_USER], deadline)
        create_acl_bindings(admin, default_acls(), deadline)
        for user, _mechanism in PRINCIPALS:
            self._write_client_file(user, bootstrap)
        for node in node_bootstraps:
            for user, mechanism in PRINCIPALS:
                if mechanism == SCRAM_MECHANISM:
                    wait_until_login(node, self.client_settings(user), user, deadline)

    def _write_client_file(self, user: str, bootstrap: str) -> None:
        file = client_config_file(self.data_dir, user)
        lines = [
            f"# deliverytui: principal {user!r} of the embedded broker in {self.data_dir} (--security sasl).",
            f"# Use it with --config {file}",
            f"bootstrap.servers={bootstrap}",
            *(f"{key}={value}" for key, value in self.client_settings(user).items()),
        ]
        write_private(file, "\n".join(lines) + "\n")

    # -- reporting ----------------------------------------------------------------------
    def describe(self, log_dirs: Sequence[Path]) -> dict[str, object]:
        """What ``broker info`` shows: the mode, the client config files and the authorizer log(s) (no secrets).

        One node keeps the single broker's ``authorizer_log``; a cluster has one log per node,
        listed in ``authorizer_logs``.
        """
        logs = [str(Path(log_dir) / AUTHORIZER_LOG) for log_dir in log_dirs]
        return {
            "security": self.mode,
            "client_configs": {user: str(client_config_file(self.data_dir, user)) for user, _ in PRINCIPALS},
            **({"authorizer_log": logs[0]} if len(logs) == 1 else {"authorizer_logs": logs}),
        }


def default_acls():
    """The ACLs of ``reader`` and ``writer`` (``admin`` is a super user and needs none)."""
    reader = [("topic", "*", "literal", op) for op in ("describe", "read")]
    reader += [("group", "*", "literal", "describe")]  # not Read: that would allow OffsetCommit
    writer = [("topic", "*", "literal", op) for op in ("describe", "read", "write", "create")]
    writer += [("group", "*", "literal", op) for op in ("describe", "read", "delete")]
    writer += [("cluster", "kafka-cluster", "literal", "idempotent_write")]
    return acl_bindings("User:reader", reader) + acl_bindings("User:writer", writer) + acl_bindings("User:lab", lab_acls())


def lab_acls() -> list[tuple[str, str, str, str]]:
    """What the teaching lab needs, and no more (README: "The lab on a secured cluster").

    Its topics (prefix ``task-events``): create, produce, consume. The probe topic: publish positions and read
    them (the live view, ``w``). Its groups: consume and commit (Read), and describe (the audit, the replay).
    The exactly-once consumer's transactional ids (``<group>-tx``): Write and Describe. The idempotent producer:
    IdempotentWrite on the cluster.
    """
    grants = [("topic", LAB_TOPIC_PREFIX, "prefixed", op) for op in ("describe", "read", "write", "create")]
    grants += [("topic", "__deliverytui_probe", "literal", op) for op in ("describe", "read", "write", "create")]
    for op in ("describe", "read"):
        grants += [("group", group, "literal", op) for group in LAB_GROUPS]
        grants += [("group", prefix, "prefixed", op) for prefix in LAB_GROUP_PREFIXES]
    # The queue's workers set their share group's share.auto.offset.reset (a group config) before joining.
    for op in ("describe_configs", "alter_configs"):
        grants.append(("group", LAB_SHARE_GROUP, "literal", op))
        grants += [("group", prefix, "prefixed", op) for prefix in LAB_GROUP_PREFIXES]
    for op in ("describe", "write"):
        grants.append(("transactional_id", LAB_TRANSACTIONAL_ID, "literal", op))
        grants += [("transactional_id", prefix, "prefixed", op) for prefix in LAB_GROUP_PREFIXES]
    # Its readers (offset reader, audit) assign partitions and never commit, but librdkafka still looks up
    # the coordinator of their group id: Describe only.
    grants.append(("group", LAB_READER_GROUP_PREFIX, "prefixed", "describe"))
    grants.append(("cluster", "kafka-cluster", "literal", "idempotent_write"))
    return grants
