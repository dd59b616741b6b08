"""The account's pace in Redis against a real redis-server: the rate-limit script runs
the same rules as ``_send.limits.Adaptive`` (table-driven, state set in Redis and in
Python alike), and a bulk row whose clientId another process holds takes no turn."""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from idenfy_async import AsyncIdenfy, BulkResult, SessionRequest, coordination
from idenfy_async._send.limits import Adaptive
from idenfy_async.coordination import Grant, Priority, RedisQuota, account_namespace
from idenfy_async.testing import FakeIdenfy, Fault
from tests.support.redisserver import RedisServer

SECRET = "secret"


def new_key() -> str:
    return "key-" + secrets.token_hex(8)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = coordination.connect(redis_server.url)
    yield client
    await client.aclose()


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --------------------------------------------------------------------------- the rules in Lua

#: A state before the 429 (seconds relative to now; None: no earlier 429), the 429's
#: request sent at (relative; None: unknown) and Retry-After.
CASES = [
    pytest.param(None, -0.1, None, id="first-429"),
    pytest.param(None, None, 4.0, id="retry-after"),
    pytest.param((0.7, -0.01, 0.15, 0.14, 0), -0.05, None, id="same-burst"),
    pytest.param((0.7, -0.3, 0.15, -0.15, 0), -0.01, None, id="right-after-the-pause"),
    pytest.param((0.7, -3.0, 0.15, -2.85, 0), -0.01, None, id="long-after"),
    pytest.param((0.1, -9.0, 8.0, -1.0, 3), -0.5, None, id="at-the-floor-doubling"),
    pytest.param((0.1, -700.0, 300.0, -400.0, 9), -0.5, None, id="capped"),
]


@pytest.mark.parametrize(("state", "sent", "retry_after"), CASES)
async def test_the_redis_script_runs_the_same_rules_as_adaptive(
    redis: Redis,
    state: tuple[float, float, float, float, int] | None,
    sent: float | None,
    retry_after: float | None,
) -> None:
    api_key = new_key()
    quota = RedisQuota(redis, api_key, "10/s")
    top = 1e6 / quota.interval_us  # the rate the script paces at, requests per second
    key = f"{account_namespace(api_key)}:adaptive"
    seconds, micros = await redis.time()
    now = int(seconds) + int(micros) / 1e6
    python = Adaptive(top)
    if state is not None:
        share, since, pause, until, streak = state
        python.low, python.since, python.pause = share * top, now + since, pause
        python.paused_until, python.streak = now + until, streak
        await redis.hset(
            key,
            mapping={
                "low": repr(share),
                "since": str(math.floor((now + since) * 1e6)),
                "pause": str(math.floor(pause * 1e6)),
                "until": str(math.floor((now + until) * 1e6)),
                "streak": str(streak),
            },
        )
        if until > 0:  # a pause still running: the quota's key too, as the script sets it
            cooldown_key = f"{account_namespace(api_key)}:cooldown"
            await redis.set(cooldown_key, "1", px=math.ceil(until * 1000))
    slot = None if sent is None else now + sent
    in_redis = await quota.rate_limited(slot, retry_after)
    in_python = python.rate_limited(now, slot, retry_after)
    # The script read the server's clock a moment later than `now`.
    assert in_redis == pytest.approx(in_python, abs=0.02)
    stored = {text(k): text(v) for k, v in (await redis.hgetall(key)).items()}
    assert python.low is not None
    assert float(stored["low"]) == pytest.approx(python.low / top, abs=2e-3)
    assert int(stored["streak"]) == python.streak
    cooldown = await redis.pttl(f"{account_namespace(api_key)}:cooldown")
    assert cooldown / 1000 == pytest.approx(in_python, abs=0.03)


async def test_a_lowered_shared_pace_stretches_every_process_grants(redis: Redis) -> None:
    """After a 429 the GCRA script spaces grants by the adaptive share (70 %)."""
    api_key = new_key()
    quota = RedisQuota(redis, api_key, "1000/s")
    await quota.rate_limited(None, 0.0)  # lowered, no pause (Retry-After: 0)
    other = RedisQuota(redis, api_key, "1000/s")
    slots = [(await other.take("interactive")).slot for _ in range(8)]
    known = [slot for slot in slots if slot is not None]
    assert len(known) == 8
    # Once the schedule is ahead of the clock (the first grants may come a tolerance
    # early), grants are an interval / 0.7 apart.
    gaps = [b - a for a, b in itertools.pairwise(known)][3:]
    assert min(gaps) >= quota.interval_us / 1e6 / 0.7 * 0.99


# --------------------------------------------------------------------------- claims first


async def test_a_row_another_process_holds_takes_no_turn_and_gets_its_session(
    redis_server: RedisServer,
) -> None:
    """Two bulk runs (two processes' worth of clients) on one input: a clientId the
    other holds is set aside without taking a turn, then handed the other's session;
    every clientId is created once and the turns taken equal the requests sent."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    fake.fail_next(*(Fault(delay=0.05) for _ in range(10)))  # answers take a while
    rows = [SessionRequest(f"user-{i}") for i in range(10)]

    def client() -> AsyncIdenfy:
        return AsyncIdenfy(
            api_key, SECRET, transport=fake, redis_url=redis_server.url, rate_limit="200/s"
        )

    async with client() as a, client() as b:
        taken: dict[str, int] = {"a": 0, "b": 0}

        def counting(name: str, quota: RedisQuota) -> None:
            take = quota.take

            async def counted(
                priority: Priority = "interactive", *, max_cooldown: float | None = None
            ) -> Grant:
                taken[name] += 1
                return await take(priority, max_cooldown=max_cooldown)

            quota.take = counted  # type: ignore[method-assign]

        assert a._quota is not None
        assert b._quota is not None
        counting("a", a._quota)
        counting("b", b._quota)
        results = await asyncio.gather(
            collect(a.create_sessions(rows, concurrency=5)),
            collect(b.create_sessions(rows, concurrency=5)),
        )
        sent = a.pacing.sent + b.pacing.sent
    assert [len(fake.sessions_for(r.client_id)) for r in rows] == [1] * 10
    assert sent == 10  # one request per clientId, whichever process sent it
    assert taken["a"] + taken["b"] == sent  # no turn for a row the other held
    for run in results:
        assert sorted(r.client_id for r in run) == sorted(r.client_id for r in rows)
        assert {r.state.value for r in run} == {"created"}
        by_id = {r.client_id: r.session.scan_ref for r in run if r.session is not None}
        assert len(by_id) == 10
    assert {r.client_id: r.session.scan_ref for r in results[0] if r.session} == {
        r.client_id: r.session.scan_ref for r in results[1] if r.session
    }


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]
