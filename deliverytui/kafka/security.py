"""SASL client settings, SCRAM users and ACLs: what an admin does to a secured cluster through the AdminClient.

These work on any SASL cluster an admin can log in to; the embedded broker's
``--security sasl`` (:mod:`deliverytui.broker.security`) uses them after every start, and
tests use :func:`add_scram_user` and :func:`create_acls` to give a principal exactly the
ACLs they want.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from deliverytui.errors import MESSAGE_LIMIT, ExitCode, UserFacingError, one_line
from deliverytui.kafka.admin import admin_client, metadata_answers
from deliverytui.kafka.client_config import RedactedConfig

SCRAM_MECHANISM = "SCRAM-SHA-256"
SCRAM_ITERATIONS = 8192


class SecuritySetupError(UserFacingError):
    exit_code = ExitCode.BROKER_SECURITY


def sasl_client_settings(user: str, password: str, mechanism: str) -> dict[str, str]:
    """The librdkafka settings that log in as ``user`` (held redacted: the password never prints)."""
    return RedactedConfig(
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism,
            "sasl.username": user,
            "sasl.password": password,
        }
    )


def acl_bindings(principal: str, grants: Iterable[tuple[str, str, str, str]]) -> list[AclBinding]:
    """``AclBinding``s allowing ``principal`` (``User:x``) each (resource type, name, pattern, operation)."""
    types = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
             "transactional_id": ResourceType.TRANSACTIONAL_ID}
    return [
        AclBinding(
            types[restype.lower()], name, ResourcePatternType[pattern.upper()], principal, "*",
            AclOperation[operation.upper()], AclPermissionType.ALLOW,
        )
        for restype, name, pattern, operation in grants
    ]


def reset_acls(admin, principals: list[str], deadline: float) -> None:
    """Drop every ACL of ``principals``, so they have exactly the ones created next."""
    filters = [
        AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ANY)
        for principal in principals
    ]
    for future in admin.delete_acls(filters, request_timeout=max(1.0, deadline - time.monotonic())).values():
        try:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as exc:
            raise SecuritySetupError(f"resetting the ACLs on the embedded broker failed: {_text(exc)}") from None


def create_acl_bindings(admin, bindings: list[AclBinding], deadline: float) -> None:
    """Create ``bindings`` with ``admin``; one-line error when the cluster refuses."""
    futures = admin.create_acls(bindings, request_timeout=max(1.0, deadline - time.monotonic()))
    for future in futures.values():
        try:
            future.result(timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as exc:
            raise SecuritySetupError(f"creating the ACLs on the embedded broker failed: {_text(exc)}") from None


def create_acls(admin_config: Mapping[str, object], principal: str, grants: Iterable[tuple[str, str, str, str]]) -> None:
    """Grant ``principal`` exactly ``grants`` ((resource type, name, pattern, operation), all ALLOW)."""
    create_acl_bindings(admin_client(admin_config), acl_bindings(principal, grants), time.monotonic() + 30)


def add_scram_user(admin_config: Mapping[str, object], user: str, password: str, timeout: float = 30.0) -> dict[str, str]:
    """Create (or update) a SCRAM-SHA-256 user as the admin; returns its client settings once it can log in."""
    deadline = time.monotonic() + timeout
    upsert_scram_user(admin_client(admin_config), user, password, deadline)
    settings = sasl_client_settings(user, password, SCRAM_MECHANISM)
    wait_until_login(str(admin_config["bootstrap.servers"]), settings, user, deadline)
    return settings


def upsert_scram_user(admin, user: str, password: str, deadline: float) -> None:
    """Create or update ``user``'s SCRAM-SHA-256 credential, retrying until ``deadline`` (the controller may be busy)."""
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


def wait_until_login(bootstrap: str, settings: Mapping[str, str], user: str, deadline: float) -> None:
    """Until ``settings`` log in at ``bootstrap``: SCRAM credentials reach each broker through the metadata log."""
    while not metadata_answers(bootstrap, timeout=2.0, config=settings):
        if time.monotonic() > deadline:
            raise SecuritySetupError(f"the embedded broker does not accept the SCRAM login of {user!r} (see its logs)")
        time.sleep(0.3)


def _text(exc: Exception) -> str:
    error = exc.args[0] if exc.args else exc
    text = error.str() if hasattr(error, "str") else str(error)
    return one_line(text, limit=MESSAGE_LIMIT)
