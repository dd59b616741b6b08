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

``--latency SECONDS`` holds every answer that long after the request was processed
(the fake's own ``latency=``), to model a real API's response time: with none, a
local fake answers in well under a millisecond and only the client's CPU bounds a run.

Its stdin takes one command, ``count``: it answers the number of sessions the fake
created since the previous ``count`` and forgets them (``fake.sessions`` would
otherwise grow by one entry per row for the whole benchmark).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Final

from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer

from ._child import ChildProcess, CommandHandler, child_arguments, serve_until_stopped, spawn

HOST: Final = "127.0.0.1"
DEFAULT_TIMEOUT: Final = 600.0


def _command_handler(fake: FakeIdenfy) -> CommandHandler:
    def handle(line: bytes) -> str:
        if line.strip() == b"count":
            created = len(fake.sessions)
            fake.sessions.clear()
            return str(created)
        return f"unknown command {line!r}"

    return handle


async def serve(timeout: float, parent: int | None, latency: float = 0.0) -> None:
    """Serve until stdin closes, the parent goes away, a signal, or ``timeout`` s."""
    fake = FakeIdenfy(seed=1)
    server = FakeIdenfyServer(fake, host=HOST, port=0, latency=latency)
    base_url = await server.start()
    sys.stdout.write(f"{base_url}\n")
    sys.stdout.flush()
    try:
        await serve_until_stopped(_command_handler(fake), timeout, parent)
    finally:
        await server.aclose()


class FakeServerProcess:
    """The parent's handle: the base URL, and the sessions created since the last ask."""

    def __init__(self, child: ChildProcess, base_url: str) -> None:
        self._child = child
        self.base_url = base_url

    def take_created(self) -> int:
        """Sessions the fake created since the previous call (blocks for the answer)."""
        reply = self._child.ask("count")
        if not reply.isdigit():
            raise RuntimeError(f"the fake server gave no count (said {reply!r})")
        return int(reply)


@contextlib.contextmanager
def start_fake_server(
    timeout: float = DEFAULT_TIMEOUT, cpu: int | None = None, latency: float = 0.0
) -> Iterator[FakeServerProcess]:
    """Run the fake server in a child process (on ``cpu`` if given, answering after
    ``latency`` seconds); yield its handle."""
    args = ["--latency", repr(latency)] if latency else []
    with spawn("benchmarks.fake_server", args, timeout=timeout, cpu=cpu) as child:
        if not child.first_line.startswith(f"http://{HOST}:"):
            raise RuntimeError(f"the fake server failed to start (said {child.first_line!r})")
        yield FakeServerProcess(child, child.first_line)


def main(argv: list[str] | None = None) -> None:
    args = child_arguments(__doc__, DEFAULT_TIMEOUT, argv, latency=True)
    asyncio.run(serve(args.timeout, args.parent, args.latency))


if __name__ == "__main__":
    main()
