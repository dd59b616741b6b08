"""The library's ``FakeIdenfyServer`` in a child process, for the bulk benchmarks.

``start_fake_server()`` spawns ``python -m benchmarks.fake_server``: a
:class:`~idenfy_async.testing.FakeIdenfyServer` (real HTTP/1.1 keep-alive, full
request validation, a fresh scanRef and authToken per session) on 127.0.0.1 only, on a
free port it prints as the first line of its stdout. Its CPU and memory are not the
client's: the client being measured runs in another process (on another CPU when
there is one).

It stops by itself when its stdin reaches EOF (the parent closed it or died), when
its parent process changes, on SIGTERM/SIGINT, or after ``--timeout`` seconds,
whichever comes first; the parent kills it if it has not stopped 5 s after EOF.

Its stdin takes one command, ``count``: it answers the number of sessions the fake
created since the previous ``count`` and forgets them (``fake.sessions`` would
otherwise grow by one entry per row for the whole benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Final

from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer

HOST: Final = "127.0.0.1"
DEFAULT_TIMEOUT: Final = 600.0


class _Commands(asyncio.Protocol):
    """Commands from the parent on stdin; EOF (the parent closed the pipe or died) stops us."""

    def __init__(self, stop: asyncio.Event, fake: FakeIdenfy) -> None:
        self._stop = stop
        self._fake = fake
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip() == b"count":
                created = len(self._fake.sessions)
                self._fake.sessions.clear()
                sys.stdout.write(f"{created}\n")
            else:
                sys.stdout.write(f"unknown command {line!r}\n")
            sys.stdout.flush()

    def eof_received(self) -> bool | None:
        self._stop.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop.set()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        await asyncio.sleep(1.0)


async def serve(timeout: float, parent: int | None) -> None:
    """Serve until stdin closes, the parent goes away, a signal, or ``timeout`` s."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    fake = FakeIdenfy(seed=1)
    server = FakeIdenfyServer(fake, host=HOST, port=0)
    base_url = await server.start()
    sys.stdout.write(f"{base_url}\n")
    sys.stdout.flush()
    await loop.connect_read_pipe(lambda: _Commands(stop, fake), sys.stdin)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(parent, stop)) if parent else None
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.aclose()


class FakeServerProcess:
    """The parent's handle: the base URL, and the sessions created since the last ask."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str) -> None:
        self._process = process
        self.base_url = base_url

    def take_created(self) -> int:
        """Sessions the fake created since the previous call (blocks for the answer)."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(b"count\n")
        self._process.stdin.flush()
        reply = self._process.stdout.readline().decode().strip()
        if not reply.isdigit():
            raise RuntimeError(f"the fake server gave no count (said {reply!r})")
        return int(reply)


@contextlib.contextmanager
def start_fake_server(
    timeout: float = DEFAULT_TIMEOUT, cpu: int | None = None
) -> Iterator[FakeServerProcess]:
    """Run the fake server in a child process (on ``cpu`` if given); yield its handle."""
    command = [sys.executable, "-m", "benchmarks.fake_server"]
    command += ["--timeout", str(timeout), "--parent", str(os.getpid())]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.startswith(f"http://{HOST}:"):
            raise RuntimeError(f"the fake server failed to start (said {line!r})")
        yield FakeServerProcess(process, line)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the server stops on EOF
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds")
    parser.add_argument("--parent", type=int, default=None, help="stop when this pid is gone")
    parser.add_argument("--cpu", type=int, default=None, help="run on this CPU only")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(serve(args.timeout, args.parent))


if __name__ == "__main__":
    main()
