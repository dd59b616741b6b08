"""Every HTTP backend behaves the same on the fault matrix, over real TCP on 127.0.0.1.

A retried ``create_session`` can be a second paid session, so what matters is: how
many POSTs the server read, which error the caller gets, and whether it says the
request may have been sent (``request_sent``) and may have created a session
(``outcome_unknown``). Each row is run on httpx's own transport and on aiohttp; both must
give the outcome the row states.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx
import pytest
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

from idenfy_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncIdenfy,
    ConfigurationError,
    IdenfyError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from idenfy_async._wire.sessions import MAX_JSON_RESPONSE_BYTES
from idenfy_async.transports import (
    HTTP_BACKENDS,
    AiohttpTransport,
    DirectClient,
    build_transport,
)
from idenfy_async.transports._aiohttp import _httpx_error
from tests.support.faultserver import (
    Action,
    CloseAfterRead,
    CloseBeforeRead,
    FaultServer,
    Flood,
    Hang,
    Partial,
    Raw,
    ResetAfterRead,
    Respond,
    Trickle,
    refused_base_url,
    token_body,
)

TOKEN = "/api/v2/token"
#: Real seconds: every fault here ends well within them.
READ_TIMEOUT = 0.3
GZIP = {"Content-Encoding": "gzip"}


@pytest.fixture(params=HTTP_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _client(base_url: str, backend: str, policy: RetryPolicy, **options: object) -> AsyncIdenfy:
    return AsyncIdenfy(
        "k",
        "s",
        base_url=base_url,
        http_backend=backend,  # type: ignore[arg-type]
        retry_policy=policy,
        timeout=httpx.Timeout(READ_TIMEOUT, connect=1.0, pool=1.0),
        **options,  # type: ignore[arg-type]
    )


def _both_lengths(body: bytes, declared: int) -> Raw:
    """A 201 framed both ways (RFC 9112 §6.3: an error); its chunked body is whole."""
    chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    head = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % declared
    )
    return Raw(head + chunked)


BODY = token_body("u")
# (name, script, posts read, error class (None: created), request_sent, ambiguous)
Row = tuple[str, tuple[Action, ...], int, type[IdenfyError] | None, bool | None, bool | None]
MATRIX: list[Row] = [
    ("answered", (), 1, None, None, None),
    ("close before read", (CloseBeforeRead(),), 0, APIConnectionError, True, True),
    ("close after read", (CloseAfterRead(),), 1, APIConnectionError, True, True),
    ("reset after read", (ResetAfterRead(),), 1, APIConnectionError, True, True),
    ("read timeout", (Hang(),), 1, APITimeoutError, True, True),
    ("trickling body", (Trickle(201, token_body("u"), 0.002, chunk=16),), 1, None, None, None),
    ("partial body", (Partial(201, token_body("u"), sent=10),), 1, APIConnectionError, True, True),
    ("429 then created", (Respond(429, b"{}", {"Retry-After": "1"}),), 2, None, None, None),
    ("503 then created", (Respond(503, b"{}"),), 2, None, None, None),
    ("503 every time", (Respond(503, b"{}"),) * 3, 3, ServerError, True, False),
    ("500", (Respond(500, b"{}"),), 1, ServerError, True, True),
    ("502", (Respond(502, b"{}"),), 1, ServerError, True, True),
    ("429 every time", (Respond(429, b"{}"),) * 3, 3, RateLimitError, True, False),
    ("gzip body", (Respond(201, gzip.compress(token_body("u")), GZIP),), 1, None, None, None),
    ("bad gzip body", (Respond(201, b"not gzip", GZIP),), 1, ResponseDecodeError, True, True),
    # Doubtful framing: refused on every backend; the create is ambiguous, not retried.
    ("chunked+length", (_both_lengths(BODY, len(BODY)),), 1, APIConnectionError, True, True),
    ("chunked+short length", (_both_lengths(BODY, 5),), 1, APIConnectionError, True, True),
]


def _outcome(
    error: IdenfyError | None,
) -> tuple[type[IdenfyError] | None, bool | None, bool | None]:
    if error is None:
        return None, None, None
    return type(error), getattr(error, "request_sent", True), error.outcome_unknown


@pytest.mark.parametrize(
    ("script", "posts", "error", "sent", "outcome_unknown"),
    [row[1:] for row in MATRIX],
    ids=[row[0] for row in MATRIX],
)
async def test_fault_matrix(
    backend: str,
    policy: RetryPolicy,
    script: tuple[Action, ...],
    posts: int,
    error: type[IdenfyError] | None,
    sent: bool | None,
    outcome_unknown: bool | None,
) -> None:
    caught: IdenfyError | None = None
    async with FaultServer() as server:
        server.script(*script)
        async with _client(server.base_url, backend, policy, max_retries=2) as client:
            try:
                session = await asyncio.wait_for(client.create_session(client_id="u"), 5)
            except IdenfyError as exc:
                caught = exc
            else:
                assert session.scan_ref == "scan-u"
    assert (server.count("POST", TOKEN), *_outcome(caught)) == (posts, error, sent, outcome_unknown)


async def test_refused_is_never_sent_and_retried(backend: str, policy: RetryPolicy) -> None:
    async with _client(refused_base_url(), backend, policy, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_session(client_id="u")
    assert _outcome(caught.value) == (APIConnectionError, False, False)
    assert len(policy.clock.sleeps) == 2  # type: ignore[attr-defined]  # both retries waited


async def test_idle_connection_closed_by_the_server_is_not_reused(
    backend: str, policy: RetryPolicy
) -> None:
    """The server closes an idle keep-alive connection just before the next POST.

    The client's loop has not yet seen the FIN when the POST takes a connection from
    the pool: reusing it would fail the create as "maybe sent". Both transports must
    see that the idle connection is dead and open a new one.
    """
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        await client.create_session(client_id="u1")
        _close_idle_connections(server)
        await asyncio.sleep(0)  # the server's socket closes; the client has not looked yet
        session = await client.create_session(client_id="u2", max_retries=0)
    assert session.scan_ref == "scan-u2"
    assert (server.count("POST", TOKEN), server.connections) == (2, 2)


def _close_idle_connections(server: FaultServer) -> None:
    # As a server's keep-alive timeout does; every connection here is idle.
    for writer in list(server._writers):
        writer.close()


async def test_no_hidden_resend_of_an_idempotent_request(
    backend: str, policy: RetryPolicy, tmp_path: Path
) -> None:
    """aiohttp re-sends a dropped GET/PUT once by itself; here only _retry.py decides."""
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        server.script(CloseAfterRead())
        with pytest.raises(APIConnectionError) as caught:
            await client.download_file(server.base_url + "/f/a.jpg", tmp_path / "a", max_retries=0)
    assert server.count("GET", "/f/a.jpg") == 1
    assert caught.value.request_sent is True


async def test_streamed_download_and_release(
    backend: str, policy: RetryPolicy, tmp_path: Path
) -> None:
    """A body larger than the buffering limit is streamed to the file, whole."""
    body = os.urandom(600 * 1024)
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        server.script(Respond(200, body, {"Content-Type": "image/jpeg"}))
        written = await client.download_file(server.base_url + "/f/FRONT.jpg", tmp_path / "a")
        server.script(Partial(200, body, sent=300 * 1024))
        with pytest.raises(APIConnectionError):
            await client.download_file(
                server.base_url + "/f/FRONT.jpg", tmp_path / "b", max_retries=0
            )
        # The connection of the broken download was not pooled: the next one works.
        server.script(Respond(200, b"tail"))
        again = await client.download_file(server.base_url + "/f/x", tmp_path / "c")
    assert written == len(body) == (tmp_path / "a").stat().st_size
    assert not (tmp_path / "b").exists()
    assert again == 4


async def test_a_download_framed_both_ways_is_refused(
    backend: str, policy: RetryPolicy, tmp_path: Path
) -> None:
    """Transfer-Encoding with Content-Length: a connection error, no file, on every backend."""
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        server.script(_both_lengths(b"file bytes", 10))
        with pytest.raises(APIConnectionError) as caught:
            await client.download_file(server.base_url + "/f/x", tmp_path / "a", max_retries=0)
    assert caught.value.request_sent is True
    assert not (tmp_path / "a").exists()


async def test_the_aiohttp_transport_follows_the_client_settings(policy: RetryPolicy) -> None:
    async with (
        FaultServer() as server,
        _client(server.base_url, "aiohttp", policy, max_concurrency=3) as client,
    ):
        transport = client._http._transport
        assert isinstance(transport, AiohttpTransport)
        await client.create_session(client_id="u")
        session = transport._session
        assert session is not None
        assert session.connector is not None
        assert session.connector.limit == 3
        timeout = transport._client_timeout(client._http.timeout.as_dict())
        assert (timeout.total, timeout.sock_read, timeout.sock_connect, timeout.connect) == (
            None,
            READ_TIMEOUT,
            1.0,
            2.0,
        )
    assert session.closed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"transport": httpx.MockTransport(lambda r: httpx.Response(200))}, "not several"),
        ({"http_client": httpx.AsyncClient()}, "not several"),
    ],
)
async def test_http_backend_excludes_other_transports(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AsyncIdenfy("k", "s", http_backend="aiohttp", **options)  # type: ignore[arg-type]
    client = options.get("http_client")
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()


def test_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="http_backend must be one of"):
        build_transport("curl", httpx.Limits())


def test_missing_aiohttp_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "idenfy_async.transports._aiohttp")
    with pytest.raises(ConfigurationError, match=r"pip install 'idenfy-async\[aiohttp\]'"):
        AsyncIdenfy("k", "s", http_backend="aiohttp")


def test_the_core_works_without_aiohttp() -> None:
    """In a fresh interpreter where aiohttp cannot be imported, the client still runs."""
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "import asyncio, httpx, idenfy_async\n"
        "def answer(request):\n"
        "    return httpx.Response(201, json={'authToken': 't', 'scanRef': 's', 'clientId': 'u'})\n"
        "async def main():\n"
        "    mock = httpx.MockTransport(answer)\n"
        "    async with idenfy_async.AsyncIdenfy('k', 's', transport=mock) as c:\n"
        "        print((await c.create_session(client_id='u')).scan_ref)\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parent.parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "s"), done.stderr


# ---------------------------------------------------------------- the error mapping


def _connector_error() -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, OSError(111, "refused"))


def _proxy_error() -> aiohttp.ClientProxyConnectionError:
    key = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)
    return aiohttp.ClientProxyConnectionError(key, OSError(111, "refused"))


ERRORS: list[
    tuple[Callable[[], aiohttp.ClientError], type[httpx.TransportError], type[httpx.TransportError]]
] = [
    # (aiohttp error, httpx class before the request had its connection, after)
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout, httpx.ReadTimeout),
    (_proxy_error, httpx.ProxyError, httpx.ReadError),  # a ClientConnectorError too
    (_connector_error, httpx.ConnectError, httpx.ReadError),  # a ClientOSError too
    (lambda: aiohttp.InvalidUrlClientError("x"), httpx.UnsupportedProtocol, httpx.ReadError),
    (aiohttp.ServerDisconnectedError, httpx.ConnectError, httpx.RemoteProtocolError),
    (aiohttp.SocketTimeoutError, httpx.ConnectError, httpx.ReadTimeout),
    (aiohttp.ClientPayloadError, httpx.ConnectError, httpx.RemoteProtocolError),
    (lambda: aiohttp.ClientOSError(104, "reset"), httpx.ConnectError, httpx.ReadError),
    (aiohttp.ClientConnectionResetError, httpx.ConnectError, httpx.ReadError),
    (
        lambda: aiohttp.ClientConnectionError("Connector is closed."),
        httpx.ConnectError,
        httpx.ReadError,
    ),
]
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


@pytest.mark.parametrize(("make", "before", "after"), ERRORS)
def test_error_mapping_follows_progress_not_class(
    make: Callable[[], aiohttp.ClientError],
    before: type[httpx.TransportError],
    after: type[httpx.TransportError],
) -> None:
    exc = make()
    assert type(_httpx_error(exc, sent=False)) is before
    mapped = type(_httpx_error(exc, sent=True))
    assert mapped is after
    assert not issubclass(mapped, NOT_SENT)


def test_no_url_in_error_messages() -> None:
    url = yarl.URL("https://files.example/a?X-Amz-Signature=secret")
    info = aiohttp.RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()), url)
    error = aiohttp.ClientResponseError(info, (), status=400, message="bad")
    assert "secret" not in str(_httpx_error(error, sent=True))


async def test_a_transport_serves_one_event_loop() -> None:
    transport = AiohttpTransport()
    async with FaultServer() as server, httpx.AsyncClient(transport=transport) as http:
        assert (await http.post(server.base_url + TOKEN, json={"clientId": "a"})).status_code == 201
        transport._loop = object()  # type: ignore[assignment]  # as if first used elsewhere
        with pytest.raises(RuntimeError, match="one per event loop"):
            await http.post(server.base_url + TOKEN, json={})
        transport._loop = asyncio.get_running_loop()


async def test_cookies_are_neither_kept_nor_sent(
    backend: str, policy: RetryPolicy, tmp_path: Path
) -> None:
    """The API sets none; parsing every answer for them cost ~10% of a call's CPU."""
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        server.script(Respond(201, token_body("u"), {"Set-Cookie": "lb=node-7; Path=/"}))
        await client.create_session(client_id="u")
        server.script(Respond(200, b"file"))
        await client.download_file(server.base_url + "/f/a.jpg", tmp_path / "a")
    assert [r.headers.get("cookie") for r in server.requests] == [None, None]


async def test_direct_client_skips_only_what_it_does_not_use() -> None:
    """Streamed plain requests go straight to the transport; anything else through httpx."""
    hooked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Set-Cookie": "a=1"}, content=b"ok")

    async def hook(request: httpx.Request) -> None:
        hooked.append(request.url.path)

    async with DirectClient(transport=httpx.MockTransport(answer)) as http:
        request = http.build_request("GET", "https://h.example/direct")
        response = await http.send(request, stream=True)
        assert (response.request, await response.aread()) == (request, b"ok")
        assert not http.cookies  # not kept, on either path
        http.event_hooks = {"request": [hook]}
        await http.send(http.build_request("GET", "https://h.example/hooked"), stream=True)
        await http.get("https://h.example/unstreamed")
        assert not http.cookies
    assert hooked == ["/hooked", "/unstreamed"]
    with pytest.raises(RuntimeError, match="closed"):
        await http.send(request, stream=True)


# ------------------------------------------------- answers read alike on every backend
# Caps, framing and logging must not depend on the backend.


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_an_oversized_success_is_refused_on_every_backend(
    backend: str, policy: RetryPolicy, chunked: bool
) -> None:
    # timeout=5: the fixture's 0.3 s read bound is too tight for 4 MiB on a busy machine.
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        server.script(Flood(201, MAX_JSON_RESPONSE_BYTES + 1, chunked=chunked))
        with pytest.raises(ResponseDecodeError, match="larger than") as caught:
            await client.create_session(client_id="u", max_retries=0, timeout=5)
        # The cut-off connection is not reused: the next create is answered.
        assert (await client.create_session(client_id="u2")).scan_ref == "scan-u2"
    assert (caught.value.outcome_unknown, server.count("POST", TOKEN)) == (True, 2)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_an_oversized_error_keeps_its_status_on_every_backend(
    backend: str, policy: RetryPolicy, chunked: bool
) -> None:
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        server.script(Flood(503, MAX_JSON_RESPONSE_BYTES + 1, chunked=chunked))
        with pytest.raises(ServerError) as caught:
            await client.create_session(client_id="u", max_retries=0, timeout=5)
    assert (caught.value.status_code, caught.value.body) == (503, None)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_an_answer_at_the_cap_is_read_on_every_backend(
    backend: str, policy: RetryPolicy, chunked: bool
) -> None:
    fields = {"status": "APPROVED", "scanRef": "scan-1", "pad": ""}
    body = json.dumps({**fields, "pad": " " * (MAX_JSON_RESPONSE_BYTES - len(json.dumps(fields)))})
    assert len(body) == MAX_JSON_RESPONSE_BYTES
    async with FaultServer() as server, _client(server.base_url, backend, policy) as client:
        if chunked:
            pieces = [body.encode()[i : i + 65536] for i in range(0, len(body), 65536)]
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += b"Transfer-Encoding: chunked\r\n\r\n"
            chunks = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces)
            server.script(Raw(head + chunks + b"0\r\n\r\n"))
        else:
            server.script(Respond(200, body.encode()))
        result = await client.get_status("scan-1", timeout=5)  # 4 MiB on a busy machine
    assert result.status == "APPROVED"


async def test_both_backends_send_the_same_headers(policy: RetryPolicy) -> None:
    async with FaultServer() as server:
        for backend in HTTP_BACKENDS:
            async with _client(server.base_url, backend, policy) as client:
                await client.create_session(client_id="u")
    httpx_sent, aiohttp_sent = (dict(r.headers) for r in server.requests)
    assert aiohttp_sent == httpx_sent
    assert {"authorization", "content-type", "content-length", "host"} <= set(httpx_sent)


async def test_the_aiohttp_backend_keeps_httpx_log_line(
    policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    async with FaultServer() as server, _client(server.base_url, "aiohttp", policy) as client:
        with caplog.at_level(logging.INFO, logger="httpx"):
            await client.create_session(client_id="u")
    assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
        f'HTTP Request: POST {server.base_url}{TOKEN} "HTTP/1.1 201 Created"'
    ]
