"""FakeIdenfyServer: FakeIdenfy over real HTTP/1.1 on 127.0.0.1, and random_failure."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections import Counter
from pathlib import Path

import httpx
import pytest

from idenfy_async import (
    APIConnectionError,
    AsyncIdenfy,
    AuthenticationError,
    IdenfyError,
    RateLimitError,
    ServerError,
)
from idenfy_async.testing import (
    FAILURE_MIX,
    FakeIdenfy,
    FakeIdenfyServer,
    FakeSession,
    Fault,
    random_failure,
)


async def test_serves_sessions_to_a_client() -> None:
    server = FakeIdenfyServer(seed=1)
    async with server as base_url:
        assert base_url == f"http://127.0.0.1:{server.port}"
        async with AsyncIdenfy("test-key", "test-secret", base_url=base_url) as client:
            sessions = [await client.create_session(client_id=f"user-{i}") for i in range(3)]
    assert [s.client_id for s in server.fake.sessions] == ["user-0", "user-1", "user-2"]
    assert [s.scan_ref for s in sessions] == [s.scan_ref for s in server.fake.sessions]
    assert server.fake.requests == 3


async def test_one_connection_carries_many_requests() -> None:
    async with FakeIdenfyServer() as base_url:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(base_url.split(":")[-1]))
        for _ in range(3):
            writer.write(b"GET /api/v2/token HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
            assert b"connection: keep-alive" in head
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.write(b"GARBAGE\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        writer.close()


async def test_checks_credentials_like_the_real_api() -> None:
    async with (
        FakeIdenfyServer() as base_url,
        AsyncIdenfy("wrong", "secret", base_url=base_url) as client,
    ):
        with pytest.raises(AuthenticationError):
            await client.create_session(client_id="user-1")


async def test_a_dropped_connection_after_creating_is_ambiguous() -> None:
    server = FakeIdenfyServer(fail_rate=1.0, seed=0)
    drops = [f for _, f in FAILURE_MIX if f.error is not None]
    assert drops
    failed: dict[str, IdenfyError] = {}
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url, max_retries=0) as client,
    ):
        for cid in (f"user-{i}" for i in range(40)):
            try:
                await client.create_session(client_id=cid)
            except (APIConnectionError, RateLimitError, ServerError) as exc:
                failed[cid] = exc
    assert len(failed) == 40
    kinds = Counter(type(exc).__name__ for exc in failed.values())
    assert set(kinds) == {"APIConnectionError", "RateLimitError", "ServerError"}
    lost = [cid for cid, exc in failed.items() if isinstance(exc, APIConnectionError)]
    assert all(failed[cid].outcome_unknown for cid in lost)
    assert all(server.fake.sessions_for(cid) for cid in lost)  # created, answer lost


async def test_rate_limit_answers_429_with_retry_after() -> None:
    async with (
        FakeIdenfyServer(rate_limit="1/hour") as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url, max_retries=0) as client,
    ):
        await client.create_session(client_id="user-1")
        with pytest.raises(RateLimitError) as caught:
            await client.create_session(client_id="user-2")
    assert caught.value.identifier == "TOO_MANY_REQUESTS"
    assert caught.value.retry_after == 3600


async def test_wait_for_sessions_and_closing_with_idle_connections() -> None:
    server = FakeIdenfyServer(latency=0.001)
    async with server as base_url:
        client = AsyncIdenfy("test-key", "test-secret", base_url=base_url)
        waiter = asyncio.create_task(server.wait_for_sessions(5))
        await asyncio.gather(*(client.create_session(client_id=f"u{i}") for i in range(5)))
        await asyncio.wait_for(waiter, timeout=10)
    # The server closed the client's idle keep-alive connections on exit.
    await client.aclose()


def test_random_failure_rate_and_mix() -> None:
    rng = random.Random(5)
    picks = [random_failure(rng, 0.1) for _ in range(5000)]
    failures = [p for p in picks if p is not None]
    assert 400 < len(failures) < 600
    assert {f.status for f in failures} == {503, 429, 500, None}
    assert any(f.create for f in failures)
    assert random_failure(rng, 0.0) is None
    assert all(random_failure(rng, 1.0) is not None for _ in range(50))


def test_fail_rate_is_a_share() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        FakeIdenfyServer(fail_rate=1.5)


# --------------------------------------------------------------------------- raw HTTP/1.1

AUTH = "Basic " + base64.b64encode(b"test-key:test-secret").decode()
TIMEOUT = 2.0  # every raw read is bounded: a hung server fails the test, never blocks it


def _token_request(client_id: str, *, extra: str = "") -> bytes:
    body = json.dumps({"clientId": client_id}).encode()
    head = (
        f"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    """One answer: (status line, lower-cased headers, body of Content-Length bytes)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
    return status_line, headers, body


async def _connect(server: FakeIdenfyServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(server.host, server.port), TIMEOUT)


async def test_a_chunked_request_body_is_read_whole() -> None:
    """Transfer-Encoding: chunked is decoded (the hand-parsed server refused it with 400)."""
    server = FakeIdenfyServer()
    async with server:
        reader, writer = await _connect(server)
        body = json.dumps({"clientId": "chunky", "firstName": "John"}).encode()
        pieces = [body[:5], body[5:17], body[17:]]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        writer.write(
            b"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + AUTH.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked
        )
        status_line, _, answer = await _read_answer(reader)
        writer.close()
    assert status_line == b"HTTP/1.1 201 Created"
    assert json.loads(answer)["clientId"] == "chunky"
    assert [s.request for s in server.fake.sessions] == [json.loads(body)]


async def test_pipelined_requests_on_one_connection_are_answered_in_order() -> None:
    """Requests written back to back before any answer are each answered, in order."""
    server = FakeIdenfyServer()
    async with server:
        reader, writer = await _connect(server)
        writer.write(b"".join(_token_request(f"user-{i}") for i in range(3)))
        answers = [await _read_answer(reader) for _ in range(3)]
        writer.write(_token_request("user-3"))  # the connection is still open
        answers.append(await _read_answer(reader))
        writer.close()
    assert [a[0] for a in answers] == [b"HTTP/1.1 201 Created"] * 4
    assert [json.loads(a[2])["clientId"] for a in answers] == [f"user-{i}" for i in range(4)]
    assert all(a[1]["connection"] == "keep-alive" for a in answers)
    assert server.fake.requests == 4


async def test_connection_close_is_honoured() -> None:
    """``Connection: close`` (and HTTP/1.0) get one answer, ``connection: close``, then EOF."""
    server = FakeIdenfyServer()
    async with server:
        for request in (
            _token_request("user-1", extra="Connection: close\r\n"),
            b"GET /kyc/identifications/ HTTP/1.0\r\nAuthorization: " + AUTH.encode() + b"\r\n\r\n",
        ):
            reader, writer = await _connect(server)
            writer.write(request)
            status_line, headers, _ = await _read_answer(reader)
            assert headers["connection"] == "close"
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
            writer.close()
            assert status_line.split(b" ")[1] in (b"200", b"201")


async def test_expect_100_continue_is_answered_before_the_body() -> None:
    server = FakeIdenfyServer()
    async with server:
        reader, writer = await _connect(server)
        request = _token_request("user-1", extra="Expect: 100-continue\r\n")
        head, _, body = request.partition(b"\r\n\r\n")
        writer.write(head + b"\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        writer.write(body)
        status_line, _, _ = await _read_answer(reader)
        writer.close()
    assert interim.startswith(b"HTTP/1.1 100 ")
    assert status_line == b"HTTP/1.1 201 Created"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /kyc/identifications/ HTTP/1.1\r\nHost x\r\n\r\n", 400),  # no colon
        (b"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400),
        (b"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", 431),
    ],
    ids=["not-http", "header-without-colon", "bad-content-length", "unknown-coding", "huge-head"],
)
async def test_a_request_that_does_not_parse_is_refused_and_closed(
    request_bytes: bytes, status: int
) -> None:
    server = FakeIdenfyServer()
    async with server:
        reader, writer = await _connect(server)
        writer.write(request_bytes)
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)  # read() to EOF: it closed
        writer.close()
    assert answer.startswith(b"HTTP/1.1 %d " % status)
    assert server.fake.requests == 0


# --------------------------------------------------------------------------- faults over TCP


async def test_a_body_cut_short_is_ambiguous_and_the_session_exists() -> None:
    """Status, headers, part of the declared body, then the connection closes."""
    server = FakeIdenfyServer()
    async with server:
        reader, writer = await _connect(server)
        server.fake.fail_next(Fault(truncate_at=10))
        writer.write(_token_request("user-raw"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        rest = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
    assert head.startswith(b"HTTP/1.1 201 Created\r\n")
    declared = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    assert len(rest) == 10 < declared
    assert server.fake.sessions_for("user-raw")


async def test_create_session_against_a_cut_body_raises_ambiguous_after_one_post() -> None:
    server = FakeIdenfyServer()
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url) as client,
    ):
        server.fake.fail_next(Fault(truncate_at=25))
        with pytest.raises(APIConnectionError) as caught:
            await client.create_session(client_id="user-1")
    assert caught.value.outcome_unknown is True
    assert len(server.fake.sessions_for("user-1")) == 1  # iDenfy has it...
    assert server.fake.requests == 1  # ...from one POST: nobody retried it blindly


async def test_create_session_against_a_cut_body_in_process_is_ambiguous_too() -> None:
    fake = FakeIdenfy()
    fake.fail_next(Fault(truncate_at=0))
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_session(client_id="user-1")
    assert caught.value.outcome_unknown is True
    assert len(fake.sessions_for("user-1")) == 1
    assert fake.requests == 1


async def test_scripted_faults_apply_over_tcp_before_random_ones() -> None:
    server = FakeIdenfyServer()
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url, max_retries=0) as client,
    ):
        server.fake.fail_next(Fault(status=503), Fault(error=httpx.ConnectError))
        with pytest.raises(ServerError):
            await client.create_session(client_id="user-1")
        with pytest.raises(APIConnectionError) as caught:
            await client.create_session(client_id="user-2")
        await client.create_session(client_id="user-3")
    assert caught.value.outcome_unknown is True  # over TCP a dropped connection may hide work
    assert [s.client_id for s in server.fake.sessions] == ["user-3"]
    assert server.fake.pending_failures == 0


def test_truncate_at_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="truncate_at"):
        Fault(truncate_at=-1)


FAULTS = [
    pytest.param(Fault(status=503), id="503"),
    pytest.param(Fault(status=500, create=True), id="500-after-creating"),
    pytest.param(Fault(error=httpx.ConnectError), id="lost-before"),
    pytest.param(Fault(error=httpx.ReadError, create=True), id="lost-after-creating"),
    pytest.param(Fault(truncate_at=5), id="cut-body"),
    pytest.param(Fault(status=502, truncate_at=3), id="cut-error-body"),
    pytest.param(Fault(delay=0.001), id="slow"),
]


async def _outcome(client: AsyncIdenfy, fake: FakeIdenfy, fault: Fault) -> tuple[object, ...]:
    fake.fail_next(fault)
    try:
        await client.create_session(client_id="user-1")
        failed: object = None
    except IdenfyError as exc:
        failed = type(exc).__name__ if fault.error is None else "dropped"
    return failed, len(fake.sessions_for("user-1")), fake.requests, fake.pending_failures


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_fault_plays_the_same_in_process_and_over_tcp(fault: Fault) -> None:
    """One place plays faults: the same error, sessions and request count either way
    (a lost answer is an exception in-process, a dropped connection over TCP)."""
    fake = FakeIdenfy()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, max_retries=0) as client:
        in_process = await _outcome(client, fake, fault)
    server = FakeIdenfyServer()
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url, max_retries=0) as client,
    ):
        over_tcp = await _outcome(client, server.fake, fault)
    assert in_process == over_tcp


async def test_an_answer_without_a_body_cannot_be_cut() -> None:
    """Delete answers 200 with no body: truncate_at leaves it whole, both ways alike."""
    fake = FakeIdenfy()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, max_retries=0) as client:
        session = await client.create_session(client_id="user-1")
        fake.complete(session.scan_ref, "APPROVED")
        fake.fail_next(Fault(truncate_at=0))
        await client.delete_verification(session.scan_ref)
    assert fake.session(session.scan_ref).status == "DELETED"
    assert fake.pending_failures == 0


# --------------------------------------------------------------------------- its own URLs


async def test_download_files_fetches_the_files_from_the_server(tmp_path: Path) -> None:
    """Over TCP the file URLs, links and redirectUrl name the server the client used."""
    server = FakeIdenfyServer(seed=3)
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url) as client,
    ):
        session = await client.create_session(client_id="user-1")
        assert session.redirect_url is not None
        assert session.redirect_url.startswith(f"{base_url}/")
        server.fake.complete(session.scan_ref, "APPROVED")
        files = await client.get_files(session.scan_ref)
        urls = {name: url for name, url in files.items() if url is not None}
        assert urls
        assert all(url.startswith(f"{base_url}/fake-files/") for url in urls.values())
        written = await client.download_files(files, tmp_path)
    assert written
    for name, path in written.items():
        assert path.read_bytes() == server.fake.file_content(session.scan_ref, name)
    # What the fake keeps (and answers in-process) still names its own invalid file host.
    kept = server.fake.session(session.scan_ref).file_urls["FRONT"]
    assert kept is not None
    assert kept.startswith("https://s3.fake-idenfy.invalid/")


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        pytest.param("idenfy-fake:8080", "http://idenfy-fake:8080", id="compose-name"),
        pytest.param("[::1]:9000", "http://[::1]:9000", id="ipv6"),
        pytest.param("bad host/..", None, id="unusable-host-header"),
    ],
)
async def test_urls_name_the_host_the_client_asked_for(host: str, origin: str | None) -> None:
    """The Host header says where the client reached the fake (a docker-compose name)."""
    server = FakeIdenfyServer()
    async with server as base_url, httpx.AsyncClient(base_url=base_url) as http:
        expected = origin or base_url
        headers = {"Host": host, "Authorization": AUTH}
        created = await http.post("/api/v2/token", json={"clientId": "u"}, headers=headers)
        assert created.status_code == 201
        scan_ref = created.json()["scanRef"]
        assert created.json()["redirectUrl"].startswith(f"{expected}/api/v2/redirect?")
        server.fake.complete(scan_ref, "APPROVED")
        files = await http.post("/api/v2/files", json={"scanRef": scan_ref}, headers=headers)
        assert files.json()["FRONT"].startswith(f"{expected}/fake-files/{scan_ref}/")
        await http.post("/api/v2/token", json={"clientId": "u"}, headers=headers)
        listing = await http.get("/kyc/identifications/?perPage=1", headers=headers)
        assert listing.json()["next"].startswith(f"{expected}/kyc/identifications/?")


def test_a_webhook_names_its_file_urls_on_the_origin_given() -> None:
    fake = FakeIdenfy()
    fake.sessions.append(FakeSession("ref", "t" * 40, "u", {}, {}))
    fake.complete("ref")
    moved = fake.webhook_payload("ref", origin="http://idenfy-fake:8080")["fileUrls"]
    kept = fake.webhook_payload("ref")["fileUrls"]
    assert moved.keys() == kept.keys()
    assert all(url.startswith("http://idenfy-fake:8080/fake-files/ref/") for url in moved.values())
    assert all(url.startswith("https://s3.fake-idenfy.invalid/") for url in kept.values())
