"""The TCP server: [`FakeIdenfyServer`][idenfy_async.testing.FakeIdenfyServer] serves a
[`FakeIdenfy`][idenfy_async.testing.FakeIdenfy] over HTTP/1.1.

HTTP itself is h11's job (keep-alive and pipelining, ``Content-Length`` and chunked
request bodies, ``Expect: 100-continue``, a 400 for what does not parse); this module
only moves bytes between the socket and h11, and delivers each `Reply`: a lost
answer drops the connection, a cut one sends part of the body and then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import random
import re
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final

import h11

from ._common import CONTROL_PREFIX
from ._fake import FakeIdenfy
from ._faults import Reply, random_failure
from ._gateway import Gateway, RequestLog

__all__ = ["FakeIdenfyServer"]

#: A request head (or any incomplete event) larger than this is refused with 431.
MAX_HEADER_BYTES: Final = 64 * 1024
_READ_SIZE: Final = 64 * 1024
#: How long a refused client may go on sending before the connection closes anyway.
LINGER_SECONDS: Final = 1.0
#: The control endpoint of the request log (`RequestLog`).
REQUESTS_PATH: Final = CONTROL_PREFIX + "requests"
#: A Host header the fake may put into the URLs it answers with: a name or an IP
#: address (IPv6 in brackets), and a port.
_HOST_HEADER: Final = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")


class FakeIdenfyServer:
    """[`FakeIdenfy`][idenfy_async.testing.FakeIdenfy] served over real HTTP/1.1 (keep-alive), on
    127.0.0.1 by default.

    For code that cannot take a transport: a subprocess, the CLI, curl, another
    container. Use it as ``async with FakeIdenfyServer() as base_url:`` (port 0 picks
    a free port) and point the client there (``base_url=`` or ``IDENFY_BASE_URL``) with
    the fake's credentials, ``test-key`` / ``test-secret``.

    The URLs it answers with (file URLs, the listing's links, ``redirectUrl``) name
    the server as the client reached it: ``http://`` and the request's ``Host``
    header, so that ``download_files`` fetches the files from the fake, also under a
    docker-compose service name.

    Args:
        fake: the fake to serve (a new one by default); its ``sessions`` tell what
            was created, whatever the client was told.
        host: the address to listen on: ``127.0.0.1`` (default: this machine only) or
            e.g. ``0.0.0.0`` for every interface (in a container). The control
            endpoints need no credentials: listen beyond loopback only on a private
            test network.
        port: the port (0: any free one).
        fail_rate: share of requests that fail, drawn from
            [`FAILURE_MIX`][idenfy_async.testing.FAILURE_MIX]; a dropped connection closes the
            socket without an answer.
        latency: seconds each answer is held after the request was processed.
        rate_limit: e.g. ``"10/s"``: a token bucket of ``rate_limit_burst`` requests
            (default 1: a strict per-second gateway); beyond it, 429
            ``TOO_MANY_REQUESTS`` with a ``Retry-After`` (unless ``retry_after=False``).
        rate_limit_burst: how many requests ``rate_limit`` lets through back to back.
        rate_limit_window: e.g. ``"10000/hour"``, iDenfy's documented shape: at most
            that many requests in each aligned window, beyond them 429
            ``TOO_MANY_REQUESTS`` without ``Retry-After``.
        retry_after: whether ``rate_limit``'s 429s carry ``Retry-After``.
        seed: makes failures (and a new fake's tokens) reproducible.
        clock: monotonic seconds, for the limits and the request log's times.

    Every API request is logged ([`request_log`][idenfy_async.testing.FakeIdenfyServer.request_log];
    ``GET /__fake__/requests``): when it arrived, its method and path, the status answered, and for
    a session creation a keyed hash of its clientId.

    Raises:
        ValueError: ``fail_rate`` is not a share, or a rate limit is not understood.
    """

    def __init__(
        self,
        fake: FakeIdenfy | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        latency: float = 0.0,
        rate_limit: str | None = None,
        rate_limit_burst: int = 1,
        rate_limit_window: str | None = None,
        retry_after: bool = True,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        self.fake: FakeIdenfy = fake if fake is not None else FakeIdenfy(seed=seed)
        self.host = host
        self.port: int = port
        self.fail_rate = fail_rate
        self.latency = latency
        self.gateway: Gateway | None = Gateway.from_specs(
            rate_limit,
            burst=rate_limit_burst,
            window=rate_limit_window,
            retry_after=retry_after,
            clock=clock,
        )
        self.request_log: RequestLog = RequestLog()
        self._clock = clock
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[object], asyncio.StreamWriter] = {}
        self._changed = asyncio.Event()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (``http://127.0.0.1:PORT`` by default), once started."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def origin(self, headers: Mapping[str, str]) -> str:
        """Where a request reached the server: ``http://`` and its ``Host`` header, else
        (no usable Host) [`base_url`][idenfy_async.testing.FakeIdenfyServer.base_url]. ``headers``
        look up lower-case names."""
        host = headers.get("host", "")
        return f"http://{host}" if _HOST_HEADER.fullmatch(host) else self.base_url

    async def start(self) -> str:
        """Start listening; return the base URL."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.base_url

    async def aclose(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Closing the sockets ends each connection's task at its next read: cancelling
        # them instead trips asyncio.streams (it reads the cancelled task's exception).
        for writer in self._connections.values():
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def wait_for_sessions(self, count: int) -> None:
        """Return once the fake has created at least ``count`` sessions."""
        while len(self.fake.sessions) < count:
            await self._changed.wait()

    async def wait_for_checks(self, count: int) -> None:
        """Return once at least ``count`` AML check creates reached the fake (refused ones
        too: ``fake.aml.check_requests``)."""
        while len(self.fake.aml.check_requests) < count:
            await self._changed.wait()

    # ------------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = writer
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        try:
            while await self._exchange(connection, reader, writer):
                connection.start_next_cycle()
        except ConnectionError:
            pass  # the client went away mid-request
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            # Only now: until closed, aclose() must wait for it (a task still closing
            # when the loop ends is cancelled, and asyncio.streams logs that as an error).
            if task is not None:
                self._connections.pop(task, None)

    async def _exchange(
        self, connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection should close."""
        try:
            received = await _receive(connection, reader, writer)
        except h11.RemoteProtocolError as exc:
            _refuse(connection, writer, exc.error_status_hint)
            await _linger(reader, writer)
            return False
        if received is None:
            return False  # closed between requests: the normal end of keep-alive
        request, body = received
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in request.headers
        }
        target = request.target.decode("latin-1")
        reply = await self._respond(request.method.decode("ascii"), target, headers, body)
        if reply.lost is not None:
            writer.transport.abort()  # scripted: the answer is lost
            return False
        writer.write(_send(connection, _head(reply)))
        if reply.cut is not None:
            # Scripted: part of the declared body, then the end of the connection
            # (close, not abort, so that the part sent reaches the client first).
            writer.write(_send(connection, h11.Data(data=reply.body[: reply.cut])))
            await writer.drain()
            return False
        writer.write(_send(connection, h11.Data(data=reply.body)))
        writer.write(_send(connection, h11.EndOfMessage()))
        await writer.drain()
        return connection.our_state is h11.DONE and connection.their_state is h11.DONE

    async def _respond(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        origin = self.origin(headers)
        if path.startswith(CONTROL_PREFIX):  # never rate-limited, never failing, not logged
            if path.partition("?")[0].rstrip("/") == REQUESTS_PATH:
                return Reply(*self.request_log.control(method))
            reply = Reply(*await self.fake.control(method, path, body, origin=origin))
            if path.rstrip("/") == CONTROL_PREFIX + "reset" and reply.status == 200:
                self.request_log.clear()
            return reply
        arrived = self._clock()
        reply = await self._answer(method, path, headers, body, origin)
        status = None if reply.lost is not None else reply.status
        self.request_log.record(arrived, method, path, body, status)
        return reply

    async def _answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, origin: str
    ) -> Reply:
        refusal = self.gateway.refuse() if self.gateway is not None else None
        if refusal is not None:
            self.fake.requests += 1
            return Reply(*refusal)
        fault = self.fake.next_fault() or random_failure(self._rng, self.fail_rate)
        reply = await self.fake.respond(method, path, headers, body, fault, origin=origin)
        self._changed.set()
        self._changed = asyncio.Event()
        if self.latency:
            await asyncio.sleep(self.latency)
        return reply


async def _receive(
    connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[h11.Request, bytes] | None:
    """The next request and its whole body, or None if the client closed before one."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            if connection.they_are_waiting_for_100_continue:
                writer.write(
                    _send(connection, h11.InformationalResponse(status_code=100, headers=[]))
                )
            connection.receive_data(await reader.read(_READ_SIZE))  # b"": the end
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _head(reply: Reply) -> h11.Response:
    """The status line and headers; h11 turns ``keep-alive`` into ``close`` when due."""
    headers = [
        (name, value)
        for name, value in reply.headers.items()
        if name.lower() not in ("content-length", "connection", "transfer-encoding")
    ]
    headers += [
        ("content-length", str(len(reply.body))),
        ("connection", "keep-alive"),
        ("server", "FakeIdenfy"),
    ]
    return h11.Response(status_code=reply.status, headers=headers, reason=_reason(reply.status))


def _refuse(connection: h11.Connection, writer: asyncio.StreamWriter, status: int) -> None:
    """Answer a request h11 could not parse (400, or 431 for an oversized head), if we can."""
    if connection.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return  # an answer is already under way: just close
    head = h11.Response(
        status_code=status,
        headers=[("content-length", "0"), ("connection", "close"), ("server", "FakeIdenfy")],
        reason=_reason(status),
    )
    with contextlib.suppress(h11.LocalProtocolError):
        writer.write(_send(connection, head) + _send(connection, h11.EndOfMessage()))


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Stop writing, then read what the client still sends (bounded) before closing.

    Closing a socket with unread input resets it, and a reset can destroy the refusal
    before the client reads it (an oversized head is refused mid-upload).
    """
    with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        await asyncio.wait_for(_discard(reader), LINGER_SECONDS)


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(_READ_SIZE):
        pass


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Response"


def _send(connection: h11.Connection, event: h11.Event) -> bytes:
    data = connection.send(event)
    assert data is not None  # None only for ConnectionClosed, which we never send
    return data
