"""FakeIdenfyServer: FakeIdenfy over real HTTP/1.1 on 127.0.0.1, and random_failure."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from idenfy_async import (
    APIConnectionError,
    AsyncIdenfy,
    AuthenticationError,
    IdenfyError,
    RateLimitError,
    ServerError,
)
from idenfy_async.testing import FAILURE_MIX, FakeIdenfyServer, random_failure


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
    assert all(failed[cid].ambiguous for cid in lost)
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
