"""A real PostgreSQL server on a free 127.0.0.1 port, for tests and benchmarks.

::

    with PostgresServer() as server:
        url = server.create_database()  # a fresh, empty database of its own
        ...
        server.kill()  # immediate shutdown: a dead server (connections refused)

The cluster lives in its own temporary directory (``initdb``), listens on TCP only and
asks for a password (``scram-sha-256``, :data:`PASSWORD`), so a wrong one is refused as
on a real server; ``fsync`` is off unless asked for (the tests need no power-cut
safety, benchmarks may). ``initdb`` and ``postgres`` refuse to run as root: as root,
the server runs as the ``postgres`` user (which Debian's ``postgresql`` package
creates) and owns its directory. :func:`require_postgres` skips a test when no server
is installed, except under ``CI=true``, where a missing server fails the run: CI must
not pass by skipping the only real PostgreSQL checks.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pytest

from .redisserver import free_port, skip_or_fail

__all__ = [
    "PASSWORD",
    "PostgresServer",
    "own_postgres_server",
    "pg_database",
    "pg_url",
    "postgres_server",
    "require_postgres",
    "run_sql",
]

#: How long a starting server may take before the fixture gives up.
STARTUP_TIMEOUT: Final = 30.0
#: The superuser's name and password in every test cluster.
USER: Final = "idenfy"
PASSWORD: Final = "test-password"
#: Where Debian's ``postgresql`` package puts the server's programs (not on PATH).
_DEBIAN_BIN: Final = "/usr/lib/postgresql/*/bin"


def _find_bin() -> str | None:
    """The directory holding ``initdb`` and ``postgres``: PATH first, then Debian's."""
    found = shutil.which("initdb")
    if found is not None:
        directory = os.path.dirname(os.path.realpath(found))
        if os.path.exists(os.path.join(directory, "postgres")):
            return directory
    for directory in sorted(glob.glob(_DEBIAN_BIN), reverse=True):  # newest version first
        if os.path.exists(os.path.join(directory, "initdb")):
            return directory
    return None


def require_postgres() -> str:
    """The directory of PostgreSQL's programs; skip (fail under ``CI=true``) when the
    server, the ``postgres`` user it runs as under root, or the driver is missing."""
    directory = _find_bin()
    if directory is None:
        skip_or_fail(
            "PostgreSQL is not installed (apt-get install postgresql);"
            " the PostgreSQL journal tests need a real server"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            skip_or_fail("running as root and there is no `postgres` user for initdb")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install 'idenfy-async[postgres]')")
    return directory


def pg_url(port: int, database: str, *, password: str = PASSWORD, user: str = USER) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"


class PostgresServer:
    """One PostgreSQL cluster: created and started on entry, killed and removed on exit."""

    def __init__(self, bin_dir: str | None = None, *, fsync: bool = False) -> None:
        self.bin_dir = bin_dir or require_postgres()
        self.fsync = fsync
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._databases = 0

    @property
    def data(self) -> Path:
        assert self._dir is not None, "server not started"
        return Path(self._dir.name) / "data"

    @property
    def pid(self) -> int:
        assert self._process is not None, "server not started"
        return self._process.pid

    def url(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return pg_url(self.port, database, password=password)

    def _as_owner(self) -> dict[str, Any]:
        """Popen arguments running a program as the cluster's owner (``postgres`` under
        root: setuid in the child, no intermediate process to outlive a kill)."""
        if os.geteuid() != 0:
            return {}
        user = pwd.getpwnam("postgres")
        return {
            "user": user.pw_uid,
            "group": user.pw_gid,
            "extra_groups": [],
            "env": {**os.environ, "HOME": user.pw_dir, "USER": "postgres"},
        }

    def start(self) -> None:
        """initdb, then start on a free port and return once it accepts connections."""
        self._dir = tempfile.TemporaryDirectory(prefix="idenfy-pg-")
        root = Path(self._dir.name)
        (root / "data").mkdir(mode=0o700)
        password = root / "password"
        password.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (root, root / "data", password):
                os.chown(path, user.pw_uid, user.pw_gid)
        subprocess.run(
            [
                os.path.join(self.bin_dir, "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                USER,
                "--pwfile",
                str(password),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-instructions",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=root,
            **self._as_owner(),
        )
        password.unlink()
        for _ in range(5):  # another process may grab the free port first
            self.port = free_port()
            if self._launch():
                return
        raise RuntimeError("postgres did not start (no free port accepted connections)")

    def _launch(self) -> bool:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "logging_collector": "off",
            "log_min_messages": "fatal",
        }
        command = [os.path.join(self.bin_dir, "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.data.parent,
            **self._as_owner(),
        )
        if self._wait_ready():
            return True
        self._stop_process()
        return False

    def _wait_ready(self) -> bool:
        """True once postmaster.pid says ``ready`` (its 8th line, PostgreSQL 10+)."""
        assert self._process is not None
        pid_file = self.data / "postmaster.pid"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False  # exited: most likely the port was taken
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return True
            time.sleep(0.02)  # polling a process we started: no event to wait on
        return False

    def create_database(self) -> str:
        """A new empty database; its URL (the superuser's)."""
        import psycopg

        self._databases += 1
        name = f"test_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def kill(self) -> None:
        """Immediate shutdown (SIGQUIT: every backend ends at once, no checkpoint, as
        after a crash), reaped: connections are reset, new ones refused."""
        self._stop_process()

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
            # SIGKILL leaves the backends orphaned: SIGQUIT makes the postmaster end them.
            process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop(self) -> None:
        self._stop_process()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One cluster for the session; tests keep apart with a database of their own."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def own_postgres_server() -> Iterator[PostgresServer]:
    """A cluster of the test's own, to kill."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> str:
    """The URL of a new empty database on the session's cluster."""
    return postgres_server.create_database()


def run_sql(url: str, *statements: str) -> list[tuple[Any, ...]]:
    """Run ``statements`` on ``url`` (autocommit); the rows of the last one."""
    import psycopg

    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement.encode())
            rows = cursor.fetchall() if cursor.description is not None else []
    return rows
