"""A minimal HTTP/1.1 keep-alive server answering every POST with a fixed 201 token.

Run in its own process (``start_server()`` spawns ``python -m benchmarks.server``), so
its CPU time never counts towards the client being measured. Plain asyncio
protocols, no dependencies. It binds 127.0.0.1 only, on a free port it prints as the
first line of its stdout, and it stops by itself: when its stdin reaches EOF (the
parent closed it or died), when its parent process changes, or after ``--timeout``
seconds, whichever comes first.

Its stdin also takes commands, one a line, each acknowledged by ``ok`` on stdout:
``delay MS`` holds every answer MS milliseconds (0, the default, answers at once);
``python -m benchmarks --latency-ms MS`` uses it to simulate the API's latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Final

from ._child import ChildProcess, CommandHandler, child_arguments, serve_until_stopped, spawn
from ._payload import TOKEN_RESPONSE_BODY

HOST: Final = "127.0.0.1"
DEFAULT_TIMEOUT: Final = 900.0
_MAX_HEADER_BYTES: Final = 64 * 1024

_CREATED: Final = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(TOKEN_RESPONSE_BODY)).encode() + b"\r\n"
    b"Connection: keep-alive\r\n"
    b"Server: idenfy-bench\r\n"
    b"\r\n" + TOKEN_RESPONSE_BODY
)
_NOT_FOUND: Final = (
    b"HTTP/1.1 404 Not Found\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 2\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n{}"
)
_BAD_REQUEST: Final = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Settings:
    delay = 0.0  # seconds every answer is held


class _HTTPProtocol(asyncio.Protocol):
    """One connection: parse requests (pipelining-safe), answer each in order."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    self._fail(transport)
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            method = lines[0].split(" ", 1)[0]
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    try:
                        length = int(value.strip())
                    except ValueError:
                        self._fail(transport)
                        return
                elif name == "transfer-encoding":
                    self._fail(transport)  # clients here always send Content-Length
                    return
                elif name == "connection":
                    close = value.strip().lower() == "close"
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            del self._buffer[:total]
            answer = _CREATED if method == "POST" else _NOT_FOUND
            if self._settings.delay > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(self._settings.delay, _send_later, transport, answer, close)
            else:
                transport.write(answer)
                if close:
                    transport.close()
            if close:
                return

    def _fail(self, transport: asyncio.Transport) -> None:
        transport.write(_BAD_REQUEST)
        transport.close()
        self._buffer.clear()


def _send_later(transport: asyncio.Transport, answer: bytes, close: bool) -> None:
    if transport.is_closing():
        return
    transport.write(answer)
    if close:
        transport.close()


def _command_handler(settings: _Settings) -> CommandHandler:
    def handle(line: bytes) -> str:
        words = line.decode().split()
        if len(words) == 2 and words[0] == "delay":
            settings.delay = max(0.0, float(words[1]) / 1000)
            return "ok"
        return f"unknown command {line!r}"

    return handle


async def serve(port: int, timeout: float, parent: int | None) -> None:
    """Serve until stdin closes, the parent goes away, a signal, or ``timeout`` s."""
    loop = asyncio.get_running_loop()
    settings = _Settings()
    server = await loop.create_server(lambda: _HTTPProtocol(settings), HOST, port, backlog=1024)
    sockname = server.sockets[0].getsockname()
    sys.stdout.write(f"{sockname[1]}\n")
    sys.stdout.flush()
    try:
        await serve_until_stopped(_command_handler(settings), timeout, parent)
    finally:
        server.close()


class ServerProcess:
    """The parent's handle on a running server: its base URL and its commands."""

    def __init__(self, child: ChildProcess, base_url: str) -> None:
        self._child = child
        self.base_url = base_url

    def set_delay(self, milliseconds: float) -> None:
        """Hold every answer this long from now on (blocks until the server agrees)."""
        reply = self._child.ask(f"delay {milliseconds}")
        if reply != "ok":
            raise RuntimeError(f"benchmark server refused a command: {reply!r}")


@contextlib.contextmanager
def start_server(
    timeout: float = DEFAULT_TIMEOUT, cpu: int | None = None
) -> Iterator[ServerProcess]:
    """Run the server in a child process (on ``cpu`` if given); yield its handle."""
    with spawn("benchmarks.server", ["--port", "0"], timeout=timeout, cpu=cpu) as child:
        if not child.first_line.isdigit():
            raise RuntimeError(f"benchmark server failed to start (said {child.first_line!r})")
        yield ServerProcess(child, f"http://{HOST}:{int(child.first_line)}")


def main(argv: list[str] | None = None) -> None:
    args = child_arguments(__doc__, DEFAULT_TIMEOUT, argv, port=True)
    asyncio.run(serve(args.port, args.timeout, args.parent))


if __name__ == "__main__":
    main()
