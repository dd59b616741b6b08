"""What every benchmark server child shares: its lifetime, its control pipe, its spawning.

A child serves until its stdin reaches EOF (the parent closed it or died), its parent
process changes, SIGTERM/SIGINT, or a timeout, whichever comes first. The parent
talks to it in lines on stdin/stdout, and kills it if it has not stopped 5 s after EOF.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence

#: Answers one command line from the parent with one reply line.
CommandHandler = Callable[[bytes], str]


class _CommandPipe(asyncio.Protocol):
    """Commands from the parent on stdin; EOF (the parent closed the pipe or died) stops us."""

    def __init__(self, stop: asyncio.Event, handle: CommandHandler) -> None:
        self._stop = stop
        self._handle = handle
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            sys.stdout.write(self._handle(line) + "\n")
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


async def serve_until_stopped(handle: CommandHandler, timeout: float, parent: int | None) -> None:
    """In the child: answer commands until stdin closes, the parent goes, a signal, a timeout."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    await loop.connect_read_pipe(lambda: _CommandPipe(stop, handle), sys.stdin)
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


def child_arguments(
    doc: str | None,
    default_timeout: float,
    argv: Sequence[str] | None,
    *,
    port: bool = False,
    latency: bool = False,
) -> argparse.Namespace:
    """Parse a child's command line and pin it to ``--cpu`` when given."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    if port:
        parser.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    if latency:
        parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--timeout", type=float, default=default_timeout, help="seconds")
    parser.add_argument("--parent", type=int, default=None, help="stop when this pid is gone")
    parser.add_argument("--cpu", type=int, default=None, help="run on this CPU only")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    return args


class ChildProcess:
    """The parent's handle on a running child: the first line it printed, and commands."""

    def __init__(self, process: subprocess.Popen[bytes], first_line: str) -> None:
        self._process = process
        self.first_line = first_line

    def ask(self, command: str) -> str:
        """Send one command line; block for the one-line reply."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(f"{command}\n".encode())
        self._process.stdin.flush()
        return self._process.stdout.readline().decode().strip()


@contextlib.contextmanager
def spawn(
    module: str, args: Sequence[str], *, timeout: float, cpu: int | None
) -> Iterator[ChildProcess]:
    """Run ``python -m module`` as a child of this process; stop it on exit."""
    command = [sys.executable, "-m", module, *args]
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
        yield ChildProcess(process, process.stdout.readline().decode().strip())
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the child stops on EOF
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
