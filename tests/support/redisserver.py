"""A real ``redis-server`` on a free 127.0.0.1 port, for tests and benchmarks.

::

    with RedisServer() as server:
        client = connect(server.url)
        ...
        server.pause()  # SIGSTOP: a hung server (commands queue, nothing answers)
        server.resume()  # SIGCONT
        server.kill()  # SIGKILL: a dead server (connections refused)
        server.restart()  # SIGKILL, then a new empty server on the same port

The server keeps nothing on disk (``--save '' --appendonly no``, its own temporary
directory) and is killed at exit. :func:`require_redis_server` skips a test when no
``redis-server`` is installed, except under ``CI=true``, where a missing server
fails the run: CI must not pass by skipping the only real Redis checks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Final, NoReturn

import pytest

__all__ = [
    "RedisServer",
    "free_port",
    "own_redis_server",
    "redis_server",
    "require_redis_server",
    "skip_or_fail",
]

#: How long a starting server may take before the fixture gives up.
STARTUP_TIMEOUT: Final = 10.0


def skip_or_fail(reason: str) -> NoReturn:
    """A server a test needs is missing: skip, saying why, except under ``CI=true``,
    where it fails the run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_redis_server() -> str:
    """The path of ``redis-server``; skip (fail under ``CI=true``) when it is missing."""
    path = shutil.which("redis-server")
    if path is None:
        skip_or_fail(
            "redis-server is not installed (apt-get install redis-server);"
            " the coordination tests need a real Redis"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process, started on entry and killed on exit."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or require_redis_server()
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._process is not None, "server not started"
        return self._process.pid

    def start(self) -> None:
        """Start on a free port and return once the server answers ``PING``."""
        self._dir = tempfile.TemporaryDirectory(prefix="idenfy-redis-")
        for _ in range(5):  # another process may grab the free port first
            self.port = free_port()
            if self._launch():
                return
        raise RuntimeError("redis-server did not start (no free port answered PING)")

    def restart(self) -> None:
        """SIGKILL, then a new server on the same port: up again, everything lost
        (nothing is saved), as a Redis without persistence after a crash."""
        self._stop_process()
        if not self._launch():
            raise RuntimeError(f"redis-server did not restart on port {self.port}")

    def _launch(self) -> bool:
        """Run a server on ``self.port``; True once it answers (else it is stopped)."""
        assert self._dir is not None
        self._process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if self._wait_ready():
            return True
        self._stop_process()
        return False

    def _wait_ready(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False  # exited: most likely the port was taken
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return True
            time.sleep(0.01)  # polling a process we started: no event to wait on
        return False

    def pause(self) -> None:
        """SIGSTOP: the server hangs; the kernel still accepts connections and data."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`: queued commands run."""
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL and reap: connections are reset, new ones refused."""
        self._stop_process()

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # a stopped process would not die to TERM
            process.kill()
        process.wait(timeout=5)

    def stop(self) -> None:
        self._stop_process()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One server for the session; tests keep apart by using distinct API keys."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A server of the test's own, to kill or pause."""
    with RedisServer() as server:
        yield server
