"""Real Redis and PostgreSQL servers on free loopback ports, for tests and the benchmark.

Store behaviour is only proven against the real server, so nothing here is a mock:
``RedisServerProcess`` and ``PostgresServerProcess`` start the Debian binaries in a
temporary directory and can be stopped and started again on the *same* port and
data directory, which is what the outage tests need. The benchmark imports the
same classes, so there is one launcher.

Missing binaries fail loudly (never skip): a skipped store test would hide a
failure. Install them with ``apt-get install -y redis-server postgresql``.

The pytest fixtures are session-scoped and shared through a module-level registry,
so importing them both in ``conftest.py`` and in a test module still starts one
server of each kind.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL_HINT = "run `apt-get install -y redis-server postgresql`"
START_TIMEOUT_S = 30.0


class ServiceUnavailable(RuntimeError):
    """A server binary is missing or the server would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RedisServerProcess:
    """A ``redis-server`` child process on a fixed port, restartable with its data.

    ``persistent=True`` turns on the append-only file with ``appendfsync always``
    in the temporary directory, so a stop/start keeps every acknowledged write
    (the outage test proves "no duplicate effect" across a restart). The benchmark
    uses ``persistent=False`` (``--save '' --appendonly no``).
    """

    def __init__(self, *, persistent: bool = True, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable(f"redis-server is not installed: {INSTALL_HINT}")
        self.binary = binary
        self.persistent = persistent
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="deliverytui-redis-"))
        self.log_path = self.directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (or restart) on the same port and directory; returns once PING answers."""
        if self.running:
            return
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(0.05)
        self.stop()
        raise ServiceUnavailable(f"redis-server did not start on port {self.port}: {self._log_tail()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM: it flushes the append-only file first) and wait for it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def require_password(self, password: str) -> str:
        """Turn on ``requirepass`` (``CONFIG SET``: never on redis-server's own command line, which ``ps``
        shows) and return the URL without the password. For a dedicated server: a restart forgets it."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(f"CONFIG SET requirepass {password}\r\n".encode())
            reply = sock.recv(64)
        assert reply.startswith(b"+OK"), reply
        return self.url

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        return "no log"


class PostgresServerProcess:
    """A PostgreSQL cluster in a temporary directory, restartable on the same port and data.

    ``initdb`` and ``postgres`` refuse to run as root; when the tests run as root,
    they run as the ``postgres`` user through ``runuser`` and the directory is
    chowned to it. Authentication is ``trust`` on loopback only.
    """

    def __init__(self, *, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not candidates:
            raise ServiceUnavailable(f"PostgreSQL server binaries are not installed: {INSTALL_HINT}")
        self.bin_dir = Path(candidates[-1]).parent
        self.port = port or free_port()
        self.settings = dict(settings or {})
        self.base = Path(tempfile.mkdtemp(prefix="deliverytui-pg-"))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log_path = self.base / "postgres.log"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceUnavailable(f"no 'postgres' user to run PostgreSQL as: {INSTALL_HINT}") from None
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
            os.chown(self.base, user.pw_uid, user.pw_gid)
        self.socket_dir.mkdir()
        if self._as_postgres:
            os.chown(self.socket_dir, user.pw_uid, user.pw_gid)
        self._run([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                   "--no-sync", "-E", "UTF8"])  # fmt: skip
        self._started = False

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._started

    def start(self) -> None:
        """Start (or restart) on the same port and data directory; returns once it accepts connections."""
        if self._started:
            return
        options = f"-p {self.port} -k {self.socket_dir} -h 127.0.0.1"
        for name, value in self.settings.items():
            options += f" -c {name}={value}"
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                   "-o", options, "-w", "-t", str(int(START_TIMEOUT_S)), "start"])  # fmt: skip
        self._started = True

    def stop(self) -> None:
        """Fast shutdown: open connections are terminated, committed data is kept."""
        if not self._started:
            return
        self._started = False
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def cleanup(self) -> None:
        with contextlib.suppress(ServiceUnavailable):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def add_password_role(self, role: str, password: str) -> str:
        """A login role that must give ``password`` (scram-sha-256 on loopback, every other role keeps
        ``trust``) and a database it owns; returns that database's URL without the password."""
        self.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {role} OWNER {role}")
        hba = self.data_dir / "pg_hba.conf"
        rule = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rule + hba.read_text())  # first match wins: this role, and only it, needs its password
        self.psql("SELECT pg_reload_conf()")
        return f"postgresql://{role}@127.0.0.1:{self.port}/{role}"

    def drop_role(self, role: str) -> None:
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text("".join(line for line in hba.read_text().splitlines(keepends=True) if f" {role} " not in line))
        self.psql("SELECT pg_reload_conf()")
        self.psql(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
        self.psql(f"DROP ROLE IF EXISTS {role}")

    def psql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement through ``psql`` (used for CREATE/DROP DATABASE in fixtures)."""
        return self._run([str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtc", statement])  # fmt: skip

    def _run(self, args: list[str]) -> str:
        completed = subprocess.run(
            self._as_postgres + args, capture_output=True, text=True, cwd=str(self.base), check=False
        )
        if completed.returncode != 0:
            log = ""
            with contextlib.suppress(OSError):
                log = " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
            raise ServiceUnavailable(
                f"{Path(args[0]).name} failed ({completed.returncode}): "
                f"{(completed.stderr or completed.stdout).strip()} {log}".strip()
            )
        return completed.stdout


# -- pytest fixtures ---------------------------------------------------------------------------

# One server of each kind per session, even if the fixtures are imported in several
# modules (each import creates its own fixture definition). Reference-counted so the
# last session-scoped teardown stops it.
_shared: dict[str, tuple[object, int]] = {}


def _acquire(kind: str, factory: type) -> object:
    server, users = _shared.get(kind, (None, 0))
    if server is None:
        try:
            server = factory()
            server.start()  # type: ignore[attr-defined]
        except ServiceUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
    _shared[kind] = (server, users + 1)
    return server


def _release(kind: str) -> None:
    server, users = _shared[kind]
    if users <= 1:
        del _shared[kind]
        server.cleanup()  # type: ignore[attr-defined]
    else:
        _shared[kind] = (server, users - 1)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServerProcess]:
    """A persistent real Redis for the session: ``.url``, ``.stop()``, ``.start()``."""
    server = _acquire("redis", RedisServerProcess)
    try:
        yield server  # type: ignore[misc]
    finally:
        _release("redis")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServerProcess]:
    """A real PostgreSQL for the session: ``.url``, ``.stop()``, ``.start()``, ``.url_for(db)``."""
    server = _acquire("postgres", lambda: PostgresServerProcess(settings={"fsync": "off"}))  # type: ignore[arg-type]
    try:
        yield server  # type: ignore[misc]
    finally:
        _release("postgres")


@pytest.fixture
def redis_url(redis_server: RedisServerProcess) -> str:
    """The session Redis, emptied (``FLUSHALL``) so each test starts from no keys.

    The server is (re)started first, in case an outage test failed while it was stopped.
    """
    redis_server.start()
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        reply = sock.recv(64)
    assert reply.startswith(b"+OK"), reply
    return redis_server.url


@pytest.fixture
def postgres_url(postgres_server: PostgresServerProcess) -> Iterator[str]:
    """A fresh database on the session PostgreSQL, dropped after the test."""
    postgres_server.start()
    database = f"dedup_{uuid.uuid4().hex[:12]}"
    postgres_server.psql(f"CREATE DATABASE {database}")
    try:
        yield postgres_server.url_for(database)
    finally:
        postgres_server.start()
        postgres_server.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file store in the test's temporary directory (absolute path: four slashes)."""
    return f"sqlite:///{tmp_path / 'dedup.db'}"


@pytest.fixture(params=["redis", "postgres", "sqlite"])
def dedup_store_url(request: pytest.FixtureRequest) -> str:
    """The same test on each backend: a fresh Redis, PostgreSQL database or SQLite file."""
    fixture = {"redis": "redis_url", "postgres": "postgres_url", "sqlite": "sqlite_url"}[request.param]
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def password_redis() -> Iterator[tuple[RedisServerProcess, str]]:
    """A Redis of the test's own that refuses clients without its password: ``(server, password)``.

    Its own, not the session's: ``requirepass`` would lock every other test out.
    """
    server = RedisServerProcess(persistent=False)
    server.start()
    password = f"redis-{secrets.token_hex(8)}"
    try:
        server.require_password(password)
        yield server, password
    finally:
        server.cleanup()


@pytest.fixture
def password_postgres(postgres_server: PostgresServerProcess) -> Iterator[tuple[str, str]]:
    """A database on the session PostgreSQL whose owner must give a password: ``(URL without it, password)``."""
    role, password = f"secret_{uuid.uuid4().hex[:10]}", f"pg-{secrets.token_hex(8)}"
    postgres_server.start()
    url = postgres_server.add_password_role(role, password)
    try:
        yield url, password
    finally:
        postgres_server.drop_role(role)


def with_password(url: str, password: str) -> str:
    """``url`` (``scheme://[user@]host...``) with ``password`` in it."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1) if "@" in rest else ("", rest)
    return f"{scheme}://{user}:{password}@{host}"
