"""The client side of the Java admin helper: one long-lived JVM, JSON lines over its stdin and stdout.

Why a JVM: confluent-kafka's AdminClient has no share-group calls (ListGroups of every type,
DescribeShareGroups, ListShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets), and
deliverytui never hand-writes the wire protocol. Kafka's own Admin client has them. A JVM start
costs about a second to the first answer (benchmarks/share.py, on a shared 2-core machine), so a live
view starts one helper per session; a CLI command pays one.

Ownership: the helper's only input is its stdin. When this process closes it, or dies in any way
(SIGKILL included: the kernel closes the pipe), the helper reads end of file, closes its client
and exits, so it can never be left behind. :meth:`JavaAdmin.close` closes the pipe, waits a few
seconds, then kills and reaps it.

Secrets: the client configuration (``--config``, translated from librdkafka's property names to
the Java client's) is the first line on the helper's stdin, never its argv, and its environment
is :func:`~deliverytui.kafka.child_process.child_environment` (no store passwords).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from deliverytui.errors import (
    AuthenticationError,
    ClusterUnreachableError,
    ConfigError,
    ExitCode,
    UnknownGroupError,
    UserFacingError,
)
from deliverytui.kafka.acl_errors import missing_acl, principal_of
from deliverytui.kafka.child_process import child_environment
from deliverytui.kafka.offset_write_guards import ActiveGroupError
from deliverytui.model.text import quoted, visible

#: librdkafka property names whose Java client name is the same: passed through as they are.
_SAME_NAME = (
    "bootstrap.servers",
    "client.id",
    "security.protocol",
    "request.timeout.ms",
    "sasl.jaas.config",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.key.password",
)
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def _jaas_quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def java_properties(bootstrap: str, file_config: Mapping[str, object] | None) -> dict[str, str]:
    """The Java Admin client's properties for the same connection librdkafka makes with ``file_config``.

    Translated: ``sasl.mechanisms`` → ``sasl.mechanism``; ``sasl.username``/``sasl.password`` →
    ``sasl.jaas.config`` (PLAIN, SCRAM); ``ssl.ca.location`` → a PEM trust store;
    ``ssl.endpoint.identification.algorithm=none`` → empty. Settings only librdkafka has (``debug``,
    socket tuning) are left out; a login the Java client cannot be given this way is refused in one line.
    """
    config = {key: str(value) for key, value in (file_config or {}).items()}
    properties = {"bootstrap.servers": bootstrap}
    for key in _SAME_NAME:
        if key in config and key != "bootstrap.servers":
            properties[key] = config[key]
    mechanism = (config.get("sasl.mechanism") or config.get("sasl.mechanisms") or "").upper()
    if mechanism:
        properties["sasl.mechanism"] = mechanism
    if "sasl.username" in config and "sasl.jaas.config" not in config:
        module = _LOGIN_MODULES.get(mechanism or "GSSAPI")
        if module is None:
            raise ConfigError(
                f"sasl.username is set for mechanism {mechanism or 'GSSAPI'}, which the Java admin helper cannot log in "
                "with; use PLAIN or SCRAM-SHA-256/512, or give sasl.jaas.config in the --config file"
            )
        properties["sasl.jaas.config"] = (
            f"{module} required username={_jaas_quoted(config['sasl.username'])} "
            f"password={_jaas_quoted(config.get('sasl.password', ''))};"
        )
    if "ssl.ca.location" in config:
        properties.setdefault("ssl.truststore.type", "PEM")
        properties.setdefault("ssl.truststore.location", config["ssl.ca.location"])
    if "ssl.certificate.location" in config or "ssl.key.location" in config:
        raise ConfigError(
            "ssl.certificate.location/ssl.key.location (a client certificate) cannot be given to the Java admin helper "
            "yet; use ssl.keystore.location (PKCS12 or PEM) in the --config file"
        )
    algorithm = config.get("ssl.endpoint.identification.algorithm")
    if algorithm is not None:
        properties["ssl.endpoint.identification.algorithm"] = "" if algorithm.lower() == "none" else algorithm
    return properties


class JavaAdmin:
    """A running Java admin helper. Not thread-safe: one request at a time (the lock enforces it)."""

    def __init__(
        self,
        command: Sequence[str],
        bootstrap: str,
        file_config: Mapping[str, object] | None = None,
        *,
        request_timeout: float = 10.0,
        start_timeout: float = 60.0,
    ) -> None:
        """``command`` is the helper's argv (:func:`deliverytui.broker.admin_helper.admin_helper_command`)."""
        self.bootstrap = bootstrap
        self.principal = principal_of(file_config)
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending = b""
        self._stderr_tail: deque[str] = deque(maxlen=20)
        properties = java_properties(bootstrap, file_config)
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environment(),
            close_fds=True,
        )
        threading.Thread(target=self._drain_stderr, name="java-admin-stderr", daemon=True).start()
        self._start_deadline = time.monotonic() + start_timeout
        self._ready = False
        try:
            self._send({"properties": properties})
        except BaseException:
            self.close()
            raise

    def _await_ready(self) -> None:
        """Wait for the helper's ``{"ready": true}``. The first request waits for it, not the constructor:
        the JVM starts while the caller does other work (``groups`` lists classic groups meanwhile)."""
        if self._ready:
            return
        answer = self._read(self._start_deadline, "starting the Java admin helper")
        if "error" in answer:
            self.close()
            raise self._error(answer["error"], "starting the Java admin helper", {})
        self._ready = True

    # -- lifetime -----------------------------------------------------------------
    def __enter__(self) -> JavaAdmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, timeout: float = 5.0) -> None:
        """Close the helper's stdin (it closes its client and exits), wait, then kill and reap it."""
        process = self.process
        if process.poll() is None:
            try:
                if process.stdin:
                    process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for stream in (process.stdin, process.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    # -- requests -----------------------------------------------------------------
    def call(self, op: str, what: str, **args: Any) -> Any:
        """Send one request and return its answer; an error becomes the project's one-line error.

        ``what`` says what was being done, for the message (``describing share group "x"``).
        """
        with self._lock:
            self._await_ready()
            if not self.running:
                raise ClusterUnreachableError(f"{what}: the Java admin helper has stopped ({self._last_stderr()})")
            self._next_id += 1
            request_id = self._next_id
            self._send({"id": request_id, "op": op, "args": args, "timeout_ms": int(self.request_timeout * 1000)})
            deadline = time.monotonic() + self.request_timeout + 10
            while True:
                answer = self._read(deadline, what)
                if answer.get("id") == request_id:
                    break
        if "error" in answer:
            raise self._error(answer["error"], what, args)
        return answer["ok"]

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise ClusterUnreachableError(f"the Java admin helper has stopped ({self._last_stderr()})") from None

    def _read(self, deadline: float, what: str) -> dict[str, Any]:
        """The next answer line, read without blocking past ``deadline``."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close(timeout=0.5)
                    raise ClusterUnreachableError(f"{what}: no answer from {self.bootstrap} in time (the Java admin helper gave up)")
                if selector.select(left):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        self.process.wait(5)
                        raise ClusterUnreachableError(
                            f"{what}: the Java admin helper exited ({self.process.returncode}): {self._last_stderr()}"
                        )
                    self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return json.loads(line)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self._stderr_tail.append(visible(raw.decode("utf-8", "replace").rstrip()))

    def _last_stderr(self) -> str:
        lines = [line for line in self._stderr_tail if line.strip()]
        return lines[-1][:200] if lines else "no output"

    def _error(self, error: Mapping[str, Any], what: str, args: Mapping[str, Any]) -> UserFacingError:
        """The project's error for a Kafka exception the helper reported by its Java class name."""
        kind = str(error.get("type", ""))
        message = visible(str(error.get("message", "")))[:300]
        group = str(args.get("group", ""))
        if kind == "GroupIdNotFoundException":
            return UnknownGroupError(
                f"group {quoted(group)} does not exist on {self.bootstrap} (neither as a consumer group nor as a share group)"
            )
        if kind == "GroupNotEmptyException":  # an offset write to a share group with members (a reset's race)
            return ActiveGroupError(f"{what}: the broker refused, share group {quoted(group)} is not empty ({message}); stop its consumers first")
        if kind == "GroupAuthorizationException":
            return missing_acl(self.principal, "describe", "group", group, context=what)
        if kind == "TopicAuthorizationException":
            return missing_acl(self.principal, "describe", "topic", "<the group's topics>", context=f"{what}: {message}")
        if kind == "ClusterAuthorizationException":
            return missing_acl(self.principal, "describe", "cluster", "kafka-cluster", context=what)
        if kind in ("SaslAuthenticationException", "AuthenticationException", "SslAuthenticationException"):
            return AuthenticationError(f"{what}: authentication failed at {self.bootstrap}: {message}")
        if kind in ("UnsupportedVersionException", "InvalidRequestException") and "share" in what.lower():
            return SharesUnavailableError(
                f"{what}: {self.bootstrap} does not serve share groups (share.version=0); enable them with "
                "'kafka-features --bootstrap-server … upgrade --feature share.version=1'"
            )
        if kind == "TimeoutException" or error.get("retriable"):
            return ClusterUnreachableError(f"{what}: {self.bootstrap} did not answer in time ({message})")
        if kind in ("ConfigException", "IllegalArgumentException") and what.startswith("starting"):
            return ConfigError(f"the --config file does not work for Kafka's Java client: {message}")
        return UserFacingError(f"{what}: {kind}: {message}")  # no more specific kind: exit 1


class SharesUnavailableError(UserFacingError):
    """The cluster has share groups turned off (``share.version`` 0) or is older than Kafka 4.1."""

    exit_code = ExitCode.SHARES_UNAVAILABLE
