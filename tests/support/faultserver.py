"""A misbehaving HTTP/1.1 server on 127.0.0.1 for fault tests over real TCP.

Each request is read whole (headers and ``Content-Length`` body), recorded, then
answered by the next scripted :data:`Action` (or the default answer once the script
is empty). Actions misbehave at the byte level on purpose, which is why this is a
raw ``asyncio`` stream server and not a real HTTP implementation::

    async with FaultServer() as server:
        server.script(CloseAfterRead(), Respond(201, token_body("user-1")))
        ...  # AsyncIdenfy(base_url=server.base_url, ...)
        assert server.count("POST", "/api/v2/token") == 2

``server.performed`` lists every action taken, scripted or default, in order: one per
request (``CloseBeforeRead`` included, although its request is never read).
``TokenBucket`` is a default answer that enforces a rate as strictly as a real API.

Time is real here (sockets), so tests keep every interval short and bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final

import attrs

__all__ = [
    "Action",
    "CloseAfterRead",
    "CloseBeforeRead",
    "FaultServer",
    "Flood",
    "Hang",
    "Partial",
    "Raw",
    "Recorded",
    "ResetAfterRead",
    "Respond",
    "TokenBucket",
    "Trickle",
    "refused_base_url",
    "token_body",
]

TOKEN_PATH: Final = "/api/v2/token"
_REASONS: Final = {200: "OK", 201: "Created", 400: "Bad Request", 429: "Too Many Requests"}


@attrs.frozen
class Respond:
    """A whole answer at once."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Trickle:
    """Headers at once, then the body ``chunk`` bytes every ``interval`` seconds."""

    status: int
    body: bytes
    interval: float
    chunk: int = 1
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Partial:
    """Headers announcing the whole body, the first ``sent`` bytes of it, then close."""

    status: int
    body: bytes
    sent: int
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Flood:
    """A body of ``size`` bytes made on the fly, never held whole (for size caps).

    ``chunked=True`` sends it without ``Content-Length``, so the client cannot tell
    its size before reading it.
    """

    status: int
    size: int
    chunked: bool = True
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Raw:
    """These bytes as the whole answer (one every ``interval`` s when set), then close.

    For what no well-formed answer does: garbage, a status line that never ends.
    """

    data: bytes
    interval: float = 0.0


@attrs.frozen
class CloseBeforeRead:
    """Once the next request starts arriving, close without reading it.

    The request sits unread in the socket buffer (the close then resets the
    connection): the client cannot tell this from a request read and lost.
    """


@attrs.frozen
class CloseAfterRead:
    """Read the whole request, then close without a byte of answer (FIN)."""


@attrs.frozen
class ResetAfterRead:
    """Read the whole request, then reset the connection (RST, SO_LINGER 0)."""


@attrs.frozen
class Hang:
    """Read the whole request and never answer (until the server closes)."""


Action = (
    Respond
    | Trickle
    | Partial
    | Flood
    | Raw
    | CloseBeforeRead
    | CloseAfterRead
    | ResetAfterRead
    | Hang
)


@attrs.frozen
class Recorded:
    """One request the server read whole."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    at: float = 0.0  #: time.monotonic() when it was read whole


def token_body(client_id: str, scan_ref: str | None = None) -> bytes:
    """A valid 201 body of ``POST /api/v2/token`` for ``client_id``."""
    ref = scan_ref or f"scan-{client_id}"
    return json.dumps(
        {"authToken": f"tok-{ref}", "scanRef": ref, "clientId": client_id, "expiryTime": 3600}
    ).encode()


def _default_answer(request: Recorded) -> Action:
    if request.method == "POST" and request.path == TOKEN_PATH:
        client_id = str(json.loads(request.body or b"{}").get("clientId", "anonymous"))
        return Respond(201, token_body(client_id))
    return Respond(404, b'{"identifier": "NOT_FOUND", "message": "no such path"}')


class TokenBucket:
    """A default answer that allows ``rate`` requests per second, with a burst of one.

    As strict as a real API's limiter: a request arriving before a token is ready is
    answered 429 with ``Retry-After`` (fractional seconds) until the next token, and
    takes none. ``slack`` seconds of early arrival are forgiven: loopback and the
    event loop jitter by a millisecond or two even when the client paces exactly.
    Otherwise answers as the default does.
    """

    def __init__(
        self,
        rate: float,
        *,
        slack: float = 0.0,
        answer: Callable[[Recorded], Action] | None = None,
    ) -> None:
        self.interval = 1.0 / rate
        self.slack = slack
        self._answer = answer or _default_answer
        self._next = 0.0  # when the next token is ready
        self.refused: list[float] = []  #: arrival times of the requests answered 429

    def __call__(self, request: Recorded) -> Action:
        now = request.at or time.monotonic()
        if now + self.slack < self._next:
            self.refused.append(now)
            wait = f"{self._next - now:.3f}"
            return Respond(429, b'{"identifier": "TOO_MANY_REQUESTS"}', {"Retry-After": wait})
        self._next = max(now, self._next) + self.interval
        return self._answer(request)


class FaultServer:
    """The server; ``async with`` starts it on a free loopback port and stops it."""

    def __init__(self, default: Callable[[Recorded], Action] = _default_answer) -> None:
        self.requests: list[Recorded] = []
        self.performed: list[Action] = []
        self.connections = 0
        self._default = default
        self._script: list[Action] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *actions: Action) -> None:
        """Queue answers for the next requests, in order."""
        self._script.extend(actions)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests read whole, optionally only those of one method and path."""
        return sum(
            (method is None or r.method == method) and (path is None or r.path == path)
            for r in self.requests
        )

    async def __aenter__(self) -> FaultServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                first = b""
                if self._script and isinstance(self._script[0], CloseBeforeRead):
                    # Wait for a request: an idle keep-alive connection is no attempt.
                    first = await reader.read(1)
                    if not first:
                        return
                    if self._script and isinstance(self._script[0], CloseBeforeRead):
                        self.performed.append(self._script.pop(0))
                        return
                request = await _read_request(reader, first)
                if request is None:
                    return
                self.requests.append(request)
                action = self._script.pop(0) if self._script else self._default(request)
                self.performed.append(action)
                if not await self._answer(action, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # the server is stopping (asyncio would log a cancelled handler)
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.close()

    async def _answer(self, action: Action, writer: asyncio.StreamWriter) -> bool:
        """Perform ``action``; True when the connection stays open for another request."""
        if isinstance(action, CloseAfterRead | CloseBeforeRead):
            return False
        if isinstance(action, ResetAfterRead):
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if isinstance(action, Hang):
            await asyncio.Event().wait()  # until the server is closed
            return False
        if isinstance(action, Flood):
            return await _flood(action, writer)
        if isinstance(action, Raw):
            step = 1 if action.interval else max(1, len(action.data))
            for start in range(0, len(action.data), step):
                writer.write(action.data[start : start + step])
                await writer.drain()
                if action.interval:
                    await asyncio.sleep(action.interval)
            return False
        writer.write(_head(action.status, len(action.body), action.headers))
        if isinstance(action, Respond):
            writer.write(action.body)
            await writer.drain()
            return True
        if isinstance(action, Partial):
            writer.write(action.body[: action.sent])
            await writer.drain()
            return False
        for start in range(0, len(action.body), action.chunk):
            await writer.drain()
            await asyncio.sleep(action.interval)
            writer.write(action.body[start : start + action.chunk])
        await writer.drain()
        return True


async def _flood(action: Flood, writer: asyncio.StreamWriter) -> bool:
    piece = b" " * 65536  # JSON whitespace, reused: the server holds no more than this
    if action.chunked:
        writer.write(_head(action.status, None, {"Transfer-Encoding": "chunked", **action.headers}))
    else:
        writer.write(_head(action.status, action.size, action.headers))
    left = action.size
    while left > 0:
        data = piece[: min(left, len(piece))]
        left -= len(data)
        writer.write(b"%x\r\n%b\r\n" % (len(data), data) if action.chunked else data)
        await writer.drain()  # raises once the client gives up and closes
    if action.chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


def _head(status: int, length: int | None, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    fields = {"Content-Type": "application/json", **headers}
    if length is not None:
        fields.setdefault("Content-Length", str(length))
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_request(reader: asyncio.StreamReader, first: bytes = b"") -> Recorded | None:
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed an idle keep-alive connection
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Recorded(method, target, headers, body, time.monotonic())


def refused_base_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
