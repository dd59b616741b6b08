"""``AiohttpTransport``: an ``httpx.AsyncBaseTransport`` over an ``aiohttp.ClientSession``.

Why it exists: under high concurrency it carries requests with less CPU than httpx's
own pool.

What it must not change is the answer to "could this request have reached the
server?", which decides whether a ``create_session`` is retried (a retried create can
be a second paid session). aiohttp's exception classes cannot answer it
(``ServerDisconnectedError`` and ``ClientOSError`` happen both before and after the
server read a request), so the transport tracks it itself:

1. A request is "sent" from the moment its connection is handed over to it (its
   bytes follow without another await). Our connector marks that moment; an error
   before it is one of httpx's "never sent" classes (``ConnectError``,
   ``ConnectTimeout``, ``ProxyError``, ``UnsupportedProtocol``), an error after it
   never is (``ReadTimeout``, ``RemoteProtocolError``, ``ReadError``).
2. A pooled keep-alive connection is checked before reuse, as httpcore does: if its
   socket is readable while idle, the server closed it (or broke protocol), so it is
   dropped and another one taken. Otherwise an idle period would turn a POST into
   a "maybe sent" failure that httpx's default transport avoids.
3. aiohttp's own silent re-send of idempotent requests is switched off: retries are
   `idenfy_async._send.retry`'s decision alone.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import aiohttp
import httpx
import yarl

__all__ = ["DEFAULT_LIMITS", "AiohttpTransport"]

#: httpx's own defaults; ``AsyncIdenfy(http_backend="aiohttp")`` passes its ``max_concurrency``.
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)
#: A response with a known length up to this size is read at once and its connection
#: returned to the pool; larger or unknown-length ones (file downloads) are streamed.
BUFFER_LIMIT: Final = 256 * 1024
#: aiohttp adds these unless told not to; httpx already set the ones it wants.
_SKIP_AUTO_HEADERS: Final = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_URL_CACHE_SIZE: Final = 64
_ENCODED: Final = "Content-Encoding"


class _Connector(aiohttp.TCPConnector):
    """Marks the moment a request gets its connection; never reuses one the server closed."""

    def __init__(self, connected: set[object], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._served: weakref.WeakSet[Any] = weakref.WeakSet()
        # The tasks whose request got its connection. The connector runs in the
        # requesting task (aiohttp awaits it inline), so the task names the request.
        self._connected = connected

    async def connect(
        self, req: Any, traces: Any, timeout: aiohttp.ClientTimeout
    ) -> aiohttp.connector.Connection:
        while True:
            conn = await super().connect(req, traces, timeout)
            protocol = conn.protocol
            if protocol in self._served and _closed_by_peer(conn.transport):
                # Idle and readable: a FIN (or junk) the loop has not processed yet.
                # Nothing of this request was written: take another connection.
                conn.close()
                continue
            self._served.add(protocol)
            task = asyncio.current_task()
            if task is not None:
                self._connected.add(task)
            return conn


def _closed_by_peer(transport: asyncio.Transport | None) -> bool:
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return True
    fd = sock.fileno()
    if fd < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)  # pragma: no cover (Windows)
    return bool(readable)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport over aiohttp: ``httpx.AsyncClient(transport=AiohttpTransport())``.

    Use ``AsyncIdenfy(http_backend="aiohttp")`` to get one sized to the client's
    ``max_concurrency``, or pass ``AsyncIdenfy(transport=AiohttpTransport(...))``.
    Needs the ``aiohttp`` extra. HTTP/1.1 only; proxies from the environment are not
    used (``trust_env`` off); cookies and ``Content-Encoding`` are left to httpx.
    Its aiohttp session is opened on the first request, in that event loop, and the
    transport serves that loop only.

    Args:
        limits: ``max_connections`` (None: unbounded) and ``keepalive_expiry`` (an
            idle connection is closed after it) are applied;
            ``max_keepalive_connections`` has no aiohttp equivalent.
        ssl_context: the TLS context; default: aiohttp's (system trust store).
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._limits = limits
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._connected: set[object] = set()  # tasks; see _Connector
        self._urls: dict[int, tuple[httpx.URL, yarl.URL]] = {}

    def __repr__(self) -> str:
        return (
            f"AiohttpTransport(max_connections={self._limits.max_connections},"
            f" keepalive_expiry={self._limits.keepalive_expiry}, closed={self._closed})"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or self._loop is not asyncio.get_running_loop():
            session = self._open()
        try:
            content: bytes | None = request.content or None
        except httpx.RequestNotRead:
            content = await request.aread() or None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        timeout = self._client_timeout(request.extensions.get("timeout"))
        task = asyncio.current_task()
        try:
            response = await session.request(
                request.method,
                self._yarl_url(request.url),
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=timeout,
            )
            return await self._as_httpx(response)
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc, sent=self._sent(task)) from exc
        finally:
            self._connected.discard(task)

    async def _as_httpx(self, response: aiohttp.ClientResponse) -> httpx.Response:
        """``response`` as httpx's; its body read now when small, else streamed."""
        length = response.content_length
        body: bytes | None = None
        if length is not None and length <= BUFFER_LIMIT:
            try:
                body = await response.read()
            finally:
                response.release()
        reason = response.reason
        extensions = {
            "http_version": b"HTTP/1.1",
            "reason_phrase": reason.encode("latin-1") if reason else b"",
        }
        if body is None:
            return httpx.Response(
                response.status,
                headers=response.raw_headers,
                stream=_ResponseStream(response),
                extensions=extensions,
            )
        if _ENCODED in response.headers:
            # content= has httpx decode the body now (Content-Encoding: one decoder,
            # httpx's, with its DecodingError).
            return httpx.Response(
                response.status, headers=response.raw_headers, content=body, extensions=extensions
            )
        result = httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=httpx.ByteStream(body),
            extensions=extensions,
        )
        # What Response(content=body) would hold once read, without httpx's decoder
        # and chunker pipeline for an identity body (~8% of a create_session's CPU).
        # Kept for the CPU floor (see idenfy_async.transports.DirectClient).
        result._content = body
        return result

    def _sent(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether the request in ``task`` had its connection (so may have been sent);
        outside a task nothing could mark it: say "sent", the safe answer."""
        return task is None or task in self._connected

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("this AiohttpTransport is closed")
        if self._session is not None:
            raise RuntimeError(
                "this AiohttpTransport belongs to the event loop it first ran on;"
                " create one per event loop"
            )
        limits = self._limits
        connector = _Connector(
            self._connected,
            limit=limits.max_connections or 0,  # aiohttp: 0 is unbounded
            limit_per_host=0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=self._ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(total=None),
        )
        # aiohttp re-sends GET/PUT/DELETE once on a dropped connection, even a fresh
        # one the server had read; only a private switch turns that off.
        session._retry_connection = False
        self._session, self._loop = session, loop
        return session

    @staticmethod
    def _client_timeout(timeout: Mapping[str, float | None] | None) -> aiohttp.ClientTimeout:
        timeout = timeout or {}
        pool, connect, read = timeout.get("pool"), timeout.get("connect"), timeout.get("read")
        # aiohttp's ``connect`` bounds the pool wait plus the connect; ``sock_read`` is
        # httpx's read timeout (between two reads). aiohttp has no write timeout.
        return aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )

    def _yarl_url(self, url: httpx.URL) -> yarl.URL:
        # The client reuses one httpx.URL per endpoint: not re-parsed each time. Kept
        # for the CPU floor (see idenfy_async.transports.DirectClient).
        cached = self._urls.get(id(url))
        if cached is not None and cached[0] is url:
            return cached[1]
        parsed = yarl.URL(str(url), encoded=True)
        if len(self._urls) >= _URL_CACHE_SIZE:
            self._urls.clear()
        self._urls[id(url)] = (url, parsed)
        return parsed


class _ResponseStream(httpx.AsyncByteStream):
    """A large or unknown-length body, read as it arrives (file downloads)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc, sent=True) from exc

    async def aclose(self) -> None:
        # An unfinished body makes aiohttp close the connection instead of pooling it.
        self._response.release()


def _httpx_error(exc: aiohttp.ClientError, *, sent: bool) -> httpx.TransportError:
    """The httpx exception for ``exc``; ``sent``: the request had its connection.

    Only the request's progress decides between the "never sent" classes and the
    others: the exception's class alone cannot (see the module docstring).
    """
    cls: type[httpx.TransportError]
    if not sent:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            cls = httpx.ConnectTimeout  # the pool wait or the connect: aiohttp can't tell
        elif isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
            cls = httpx.ProxyError
        elif isinstance(exc, aiohttp.InvalidUrlClientError | aiohttp.NonHttpUrlClientError):
            cls = httpx.UnsupportedProtocol
        else:
            cls = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        cls = httpx.ReadTimeout
    elif isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):
        cls = httpx.RemoteProtocolError
    else:
        cls = httpx.ReadError
    return cls(_describe(exc))


def _describe(exc: aiohttp.ClientError) -> str:
    # These two quote the URL, whose query may be a pre-signed download's signature.
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.InvalidURL):
        return type(exc).__name__
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
