"""One open session per clientId (coordination.SessionRegistry through AsyncIdenfy).

In memory on the virtual clock first (one process), then against a real redis-server
(several clients standing for several processes, Redis failing), then real OS
processes clicking "Verify" at the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from idenfy_async import (
    AsyncIdenfy,
    CoordinationError,
    IdenfyError,
    RateLimitError,
    RetryPolicy,
    SessionAlreadyOpenError,
    SessionOutcomeUnknownError,
    SessionRequest,
    coordination,
    parse_event,
)
from idenfy_async.bulk.reconcile import DEFAULT_SETTLE_WINDOW
from idenfy_async.coordination import SessionRegistry, account_namespace, request_digest
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer, Fault
from tests.conftest import VirtualClock
from tests.support.redisserver import RedisServer

ROOT = Path(__file__).parent.parent.parent
SECRET = "secret"


def new_key() -> str:
    return "key-" + secrets.token_hex(8)


def single(
    fake: FakeIdenfy, policy: RetryPolicy, *, api_key: str = "test-key", **kwargs: Any
) -> AsyncIdenfy:
    return AsyncIdenfy(
        api_key,
        "test-secret" if api_key == "test-key" else SECRET,
        transport=kwargs.pop("transport", fake),
        retry_policy=policy,
        single_session=True,
        redis_url=kwargs.pop("redis_url", None),
        **kwargs,
    )


def final_event(fake: FakeIdenfy, scan_ref: str, *, final: bool = True) -> Any:
    fake.complete(scan_ref, "APPROVED", final=final)
    return parse_event(fake.webhook_payload(scan_ref))


# --------------------------------------------------------------------------- one process


async def test_concurrent_creates_send_one_request_and_share_the_session(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with single(fake, policy) as client:
        sessions = await asyncio.gather(
            *(client.create_session(client_id="user-1") for _ in range(5))
        )
    assert len(fake.sessions_for("user-1")) == 1
    assert fake.requests == 1
    assert all(s is sessions[0] for s in sessions)


async def test_without_single_session_every_create_is_sent(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, redis_url=None
    ) as client:
        await asyncio.gather(*(client.create_session(client_id="user-1") for _ in range(2)))
    assert len(fake.sessions_for("user-1")) == 2


async def test_an_open_session_is_returned_for_the_same_request_only(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with single(fake, policy) as client:
        first = await client.create_session(client_id="user-1", first_name="Ann")
        again = await client.create_session(client_id="user-1", first_name="Ann")
        with pytest.raises(SessionAlreadyOpenError) as caught:
            await client.create_session(client_id="user-1", first_name="Bob")
        other = await client.create_session(client_id="user-2", first_name="Bob")
    assert again is first
    assert caught.value.session is first
    assert caught.value.client_id == "user-1"
    assert not caught.value.outcome_unknown
    # The token is a secret: not in the message, nor in repr.
    assert first.auth_token not in str(caught.value)
    assert first.auth_token not in repr(caught.value)
    assert first.scan_ref in str(caught.value)
    assert len(fake.sessions_for("user-1")) == 1
    assert other.client_id == "user-2"


def test_same_means_the_same_wire_body() -> None:
    """The digest is of the bytes sent: equal requests agree, any field differing does not."""
    from idenfy_async._wire import sessions as _sansio

    def body(**fields: Any) -> bytes:
        return _sansio.build_create_session(SessionRequest(client_id="u", **fields)).body

    assert request_digest(body(first_name="A")) == request_digest(body(first_name="A"))
    assert request_digest(body(first_name="A")) != request_digest(body(first_name="B"))
    assert request_digest(body()) != request_digest(body(locale="de"))


@pytest.mark.parametrize(
    ("final", "closes"),
    [(True, True), (False, False)],  # an auto result awaiting manual review is not final
)
async def test_a_final_webhook_closes_the_open_session(
    fake: FakeIdenfy, policy: RetryPolicy, final: bool, closes: bool
) -> None:
    async with single(fake, policy) as client:
        first = await client.create_session(client_id="user-1")
        event = final_event(fake, first.scan_ref, final=final)
        assert await client.mark_session_closed(event) is closes
        second = await client.create_session(client_id="user-1")
    assert (second is not first) is closes
    assert len(fake.sessions_for("user-1")) == (2 if closes else 1)


async def test_a_webhook_of_another_session_closes_nothing(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with single(fake, policy) as client:
        first = await client.create_session(client_id="user-1")
        other = await client.create_session(client_id="user-2")
        event = final_event(fake, other.scan_ref)
        assert await client.mark_session_closed(attrs_evolve(event, client_id="user-1")) is False
        assert await client.create_session(client_id="user-1") is first


def attrs_evolve(event: Any, **changes: Any) -> Any:
    import attrs

    return attrs.evolve(event, **changes)


async def test_the_session_is_open_until_its_token_expires(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    async with single(fake, policy) as client:
        first = await client.create_session(client_id="user-1", expiry_time=600)
        assert first.expiry_time == 600
        clock.now += 599
        assert await client.create_session(client_id="user-1", expiry_time=600) is first
        clock.now += 2
        second = await client.create_session(client_id="user-1", expiry_time=600)
    assert second is not first
    assert len(fake.sessions_for("user-1")) == 2


# How the leader's create ended -> what the next create for the clientId does.
LEADER_OUTCOMES = [
    # Refused, nothing created: the clientId is free again.
    ("refused", Fault(status=400, identifier="MISSING_PARAMETER"), "sent"),
    ("never sent", Fault(error=httpx.ConnectError), "sent"),
    # Sent, no answer, the session exists: unknown, never free.
    ("answer lost", Fault(error=httpx.ReadTimeout, create=True), "unknown"),
    ("server error", Fault(status=500, identifier="INTERNAL_ERROR", create=True), "unknown"),
]


@pytest.mark.parametrize(("name", "failure", "then"), LEADER_OUTCOMES)
async def test_what_a_failed_leader_leaves(
    fake: FakeIdenfy,
    policy: RetryPolicy,
    clock: VirtualClock,
    name: str,
    failure: Fault,
    then: str,
) -> None:
    async with single(fake, policy, max_retries=0) as client:
        fake.fail_next(failure)
        since = clock.now
        with pytest.raises(IdenfyError):
            await client.create_session(client_id="user-1")
        requests = fake.requests
        if then == "sent":
            await client.create_session(client_id="user-1")
            assert fake.requests == requests + 1
        else:
            with pytest.raises(SessionOutcomeUnknownError) as caught:
                await client.create_session(client_id="user-1")
            assert caught.value.outcome_unknown
            assert not caught.value.in_flight
            assert fake.requests == requests  # nothing sent
            # How it clears: reconcile, then forget.
            clock.now += DEFAULT_SETTLE_WINDOW + 1
            found = await client.reconcile_session("user-1", since=since)
            assert found.scan_ref == fake.sessions_for("user-1")[0].scan_ref
            await client.forget_session("user-1")
            await client.create_session(client_id="user-1")
            assert fake.requests > requests


async def test_a_created_session_with_an_unreadable_answer_is_open(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """authToken and scanRef read, the rest not: the session exists and is handed out."""
    from idenfy_async import ResponseDecodeError

    body = json.dumps({"authToken": "t" * 40, "scanRef": "scan-1", "clientId": [None]}).encode()
    async with single(fake, policy) as client:
        fake.fail_next(Fault(status=200, body=body, create=True))
        with pytest.raises(ResponseDecodeError) as caught:
            await client.create_session(client_id="u")
        assert caught.value.scan_ref == "scan-1"
        again = await client.create_session(client_id="u")
    assert (again.scan_ref, again.auth_token) == ("scan-1", "t" * 40)
    assert fake.requests == 1


async def test_followers_of_an_ambiguous_leader_get_the_unknown_error(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with single(fake, policy, max_retries=0) as client:
        fake.fail_next(Fault(error=httpx.ReadTimeout, create=True, delay=1.0))
        results = await asyncio.gather(
            *(client.create_session(client_id="user-1") for _ in range(3)),
            return_exceptions=True,
        )
    assert isinstance(results[0], IdenfyError)
    assert results[0].outcome_unknown
    assert all(isinstance(r, SessionOutcomeUnknownError) for r in results[1:])
    assert fake.requests == 1


async def test_a_claim_taken_over_then_refused_before_sending_is_freed(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """Another holder fails cleanly; this call takes the claim over while waiting, then
    fails before its request leaves (a cooldown past its deadline): the clientId is
    free again, not left pending to turn unknown."""
    async with single(fake, policy) as client:
        registry = client._sessions()
        await registry._store.claim("u", "other", "someone-else", 300.0, 3600.0)
        real_sleep = registry._sleep

        async def other_holder_gives_up(seconds: float) -> None:
            await registry._store.release("u", "someone-else")
            # what this call meets before it can send: a pause past its deadline
            client._sender.admission.pace.rate_limited(None, 1000)
            await real_sleep(seconds)

        registry._sleep = other_holder_gives_up
        with pytest.raises(RateLimitError):
            await client.create_session(client_id="u")
        registry._sleep = real_sleep
        assert fake.requests == 0
        clock.now += 1001  # the cooldown is over (and any claim's lease too)
        await client.create_session(client_id="u")
    assert fake.requests == 1


async def test_a_claim_never_confirmed_lapses_free_a_confirmed_one_unknown(
    clock: VirtualClock,
) -> None:
    """The claim rule (issue 19): a claim is unconfirmed until its holder's confirm
    answers; unconfirmed, it lapses after its window and the clientId is free (its
    holder sent nothing); confirmed, it lapses to unknown (its holder may have sent)."""
    store = SessionRegistry(clock=clock)._store
    assert (await store.claim("u", "d", "late", 0.25, 60.0)).state == "lead"
    assert (await store.claim("u", "d", "other", 0.25, 60.0)).state == "pending"
    clock.now += 0.3
    assert not await store.confirm("u", "late", 300.0, 60.0)  # too late: send nothing
    assert (await store.claim("u", "d", "other", 0.25, 60.0)).state == "lead"  # free
    assert await store.confirm("u", "other", 300.0, 60.0)
    clock.now += 299.0
    assert (await store.claim("u", "d", "third", 0.25, 60.0)).state == "pending"
    clock.now += 2.0
    assert (await store.claim("u", "d", "third", 0.25, 60.0)).state == "unknown"


class HangFirst(httpx.AsyncBaseTransport):
    """The first request arrives and never gets an answer; the rest go to ``fake``."""

    def __init__(self, fake: FakeIdenfy) -> None:
        self.fake = fake
        self.arrived = asyncio.Event()
        self.hung = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.arrived.is_set():
            self.hung += 1
            self.arrived.set()
            await asyncio.Event().wait()
        return await self.fake.handle_async_request(request)


@pytest.mark.parametrize("after_send", [True, False])
async def test_a_cancelled_leader(fake: FakeIdenfy, policy: RetryPolicy, after_send: bool) -> None:
    """Cancelled while its request is out: unknown. Before it left: free again."""
    transport = HangFirst(fake)
    waiting = asyncio.Event()

    async def before_send() -> None:
        if not after_send:
            waiting.set()
            await asyncio.Event().wait()  # cancelled while about to send

    async with single(fake, policy, transport=transport) as client:
        leader = asyncio.create_task(client.create_session(client_id="u", before_send=before_send))
        await (transport.arrived if after_send else waiting).wait()
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        if after_send:
            with pytest.raises(SessionOutcomeUnknownError):
                await client.create_session(client_id="u")
            assert fake.requests == 0
        else:
            transport.arrived.set()  # nothing hangs from now on
            await client.create_session(client_id="u")
            assert fake.requests == 1


async def test_before_send_raising_frees_the_claim(fake: FakeIdenfy, policy: RetryPolicy) -> None:
    async def refuse() -> None:
        raise RuntimeError("journal full")

    async with single(fake, policy) as client:
        with pytest.raises(RuntimeError):
            await client.create_session(client_id="u", before_send=refuse)
        assert fake.requests == 0
        await client.create_session(client_id="u")
    assert fake.requests == 1


async def test_a_follower_waits_no_longer_than_its_deadline(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    transport = HangFirst(fake)
    async with single(fake, policy, transport=transport) as client:
        leader = asyncio.create_task(client.create_session(client_id="u"))
        await transport.arrived.wait()
        with pytest.raises(SessionOutcomeUnknownError) as caught:
            await client.create_session(client_id="u", retry_deadline=0)
        assert caught.value.in_flight
        assert caught.value.outcome_unknown
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
    assert transport.hung == 1
    assert fake.requests == 0


# --------------------------------------------------------------------------- Redis


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = coordination.connect(redis_server.url)
    yield client
    await client.aclose()


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def redis_client(fake: FakeIdenfy, api_key: str, url: str, **kwargs: Any) -> AsyncIdenfy:
    return AsyncIdenfy(
        api_key,
        SECRET,
        transport=fake,
        redis_url=url,
        rate_limit="1000/s",
        single_session=True,
        **kwargs,
    )


async def test_two_processes_worth_of_clients_send_one_request(
    redis_server: RedisServer, redis: Redis
) -> None:
    """Two clients (two registries, as two processes would have) on one Redis."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    fake.fail_next(Fault(delay=0.2))  # the leader's answer takes a while
    async with (
        redis_client(fake, api_key, redis_server.url) as a,
        redis_client(fake, api_key, redis_server.url) as b,
    ):
        first, second = await asyncio.gather(
            a.create_session(client_id="user-1", expiry_time=3600),
            b.create_session(client_id="user-1", expiry_time=3600),
        )
        assert len(fake.sessions_for("user-1")) == 1
        assert (first.scan_ref, first.auth_token) == (second.scan_ref, second.auth_token)
        assert first.redirect_url == second.redirect_url
        # Stored under a hash of the clientId, for the token's life, never the clientId.
        # (This account's: other tests share the Redis server.)
        pattern = account_namespace(api_key).replace("{", "\\{") + ":sess:*"
        keys = [k.decode() if isinstance(k, bytes) else k for k in await redis.keys(pattern)]
        assert len(keys) == 1
        assert "user-1" not in keys[0]
        # Keyed by the account: a guessed clientId cannot be matched to its key.
        assert hashlib.sha256(b"user-1").hexdigest()[:32] not in keys[0]
        stored = {text(k): text(v) for k, v in (await redis.hgetall(keys[0])).items()}
        assert stored["tok"] == first.auth_token  # shared: what the other process returns
        assert "user-1" not in "".join(stored.values())
        assert 3_590_000 < await redis.pttl(keys[0]) <= 3_600_000
        # A different request meets the open session; a final webhook closes it.
        with pytest.raises(SessionAlreadyOpenError) as caught:
            await b.create_session(client_id="user-1", first_name="Other")
        assert caught.value.session.scan_ref == first.scan_ref
        assert await b.mark_session_closed(final_event(fake, first.scan_ref))
        third = await a.create_session(client_id="user-1")
    assert third.scan_ref != first.scan_ref
    assert len(fake.sessions_for("user-1")) == 2


async def test_a_dead_leader_leaves_the_client_id_unknown(
    redis_server: RedisServer, redis: Redis
) -> None:
    """A process that claimed, confirmed (so may have sent) and died: after its lease the
    clientId is unknown, not free."""
    api_key = new_key()
    dead = SessionRegistry(redis, api_key)
    # What a leader's hook does before sending; then the process dies.
    await dead._store.claim("u", "digest", "dead-owner", 1.0, 60.0)
    assert await dead._store.confirm("u", "dead-owner", 0.2, 60.0)
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    async with redis_client(fake, api_key, redis_server.url) as client:
        started = time.monotonic()
        with pytest.raises(SessionOutcomeUnknownError) as caught:
            await client.create_session(client_id="u")
        assert 0.1 < time.monotonic() - started < 2.0  # waited for the lease, no longer
        assert not caught.value.in_flight
        with pytest.raises(SessionOutcomeUnknownError):  # and stays so
            await client.create_session(client_id="u")
        assert fake.requests == 0
        await client.forget_session("u")
        await client.create_session(client_id="u")
    assert fake.requests == 1


async def test_a_claim_written_by_an_earlier_version_counts_as_confirmed(redis: Redis) -> None:
    """During a rolling upgrade: a pending claim without ``cf`` was sent under (earlier
    versions sent after the claim alone), so its lapsed lease means unknown, not free."""
    api_key = new_key()
    store = SessionRegistry(redis, api_key)._store
    key = store.key("u")  # type: ignore[attr-defined]
    now_ms = int((await redis.time())[0]) * 1000
    await redis.hset(key, mapping={"st": "pending", "own": "old", "dg": "d", "lease": now_ms - 1})
    await redis.pexpire(key, 60_000)
    assert (await store.claim("u", "d", "new", 1.0, 60.0)).state == "unknown"


async def test_redis_down_refuses_to_create_and_sends_nothing() -> None:
    from tests.support.redisserver import free_port

    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with redis_client(fake, api_key, url) as client:
        started = time.monotonic()
        with pytest.raises(CoordinationError) as caught:
            await client.create_session(client_id="u")
        assert time.monotonic() - started < 2.0
    assert caught.value.operation == "session"
    assert fake.requests == 0


async def test_hung_redis_refuses_within_the_op_timeout(own_redis_server: RedisServer) -> None:
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    async with redis_client(fake, api_key, own_redis_server.url) as client:
        await client.create_session(client_id="warm")  # connections open, scripts loaded
        own_redis_server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(CoordinationError):
                await client.create_session(client_id="u")
            # The quota degrades (one op_timeout), the claim refuses (another one).
            assert time.monotonic() - started < 2.5
        finally:
            own_redis_server.resume()
    assert len(fake.sessions_for("u")) == 0


async def test_redis_lost_after_sending_keeps_the_session_and_never_frees(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis dies while the request is out: the caller gets its session; the token is
    never logged; the claim cannot be settled, so it would turn unknown, never free."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)

    async def kill_redis() -> None:
        own_redis_server.kill()

    caplog.set_level(logging.DEBUG, logger="idenfy_async")
    async with redis_client(fake, api_key, own_redis_server.url) as client:
        session = await client.create_session(client_id="u", before_send=kill_redis)
    assert len(fake.sessions_for("u")) == 1
    assert "unknown when its claim's lease ends" in caplog.text
    assert session.auth_token not in caplog.text
    assert api_key not in caplog.text


async def evalsha_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_claims_refused_during_a_stall_do_not_come_back(
    own_redis_server: RedisServer,
) -> None:
    """Redis paused: ten creates are refused before sending. Their claim commands run
    when it resumes; they must not hold the clientIds (issue 19: nine stayed "unknown"
    for a day): each clientId is then created once, none is unknown."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    ids = [f"u-{i}" for i in range(10)]
    probe = coordination.connect(own_redis_server.url, op_timeout=2.0)
    try:
        async with redis_client(fake, api_key, own_redis_server.url) as client:
            await client.create_session(client_id="warm")  # scripts loaded
            # Connections open before the stall (a new one would stall in its
            # handshake, and its claim would never be written).
            await asyncio.gather(*(client._redis.ping() for _ in range(12)))
            before = await evalsha_calls(probe)
            own_redis_server.pause()
            try:
                # The first degrades the quota (one op_timeout), then nine at once.
                refused = list(
                    await asyncio.gather(
                        client.create_session(client_id=ids[0]), return_exceptions=True
                    )
                )
                refused += await asyncio.gather(
                    *(client.create_session(client_id=i) for i in ids[1:]),
                    return_exceptions=True,
                )
            finally:
                own_redis_server.resume()
            assert [type(r) for r in refused] == [CoordinationError] * 10
            assert fake.requests == 1  # only "warm": refused means nothing sent
            # Bounded wait until the queued claim commands have run on the server.
            for _ in range(150):  # at most 3 s
                if await evalsha_calls(probe) >= before + 9:
                    break
                await asyncio.sleep(0.02)
            created = await asyncio.gather(
                *(client.create_session(client_id=i, retry_deadline=5.0) for i in ids),
                return_exceptions=True,
            )
            assert [type(r).__name__ for r in created] == ["Session"] * 10
        assert [len(fake.sessions_for(i)) for i in ids] == [1] * 10
    finally:
        await probe.aclose()


async def test_redis_restarted_empty_does_not_let_a_second_process_create(
    own_redis_server: RedisServer,
) -> None:
    """Issue 19: A's create is in flight, Redis restarts without its data, B creates the
    same clientId. B (and C, a process that never saw the old Redis) must refuse with
    the typed unknown-outcome error instead of paying for a second session."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    url = own_redis_server.url
    outcomes: dict[str, BaseException | str] = {}
    async with (
        redis_client(fake, api_key, url) as a,
        redis_client(fake, api_key, url) as b,
        redis_client(fake, api_key, url) as c,
    ):
        await b.create_session(client_id="warm-b")  # B has seen this Redis

        async def restart_then_others_create() -> None:
            own_redis_server.restart()  # A's claim is gone
            for name, other in (("b", b), ("c", c)):
                try:
                    outcomes[name] = (await other.create_session(client_id="u")).scan_ref
                except IdenfyError as exc:
                    outcomes[name] = exc

        session = await a.create_session(client_id="u", before_send=restart_then_others_create)
        assert isinstance(outcomes["b"], SessionOutcomeUnknownError)
        assert isinstance(outcomes["c"], SessionOutcomeUnknownError)
        assert [s.scan_ref for s in fake.sessions_for("u")] == [session.scan_ref]
        # Another clientId nobody claimed before the restart... is unknown too (its
        # claim may have been lost with the rest): nothing is sent for the lease.
        with pytest.raises(SessionOutcomeUnknownError):
            await c.create_session(client_id="v")
        assert fake.sessions_for("v") == []
        # Reconciled (nothing found): forgetting it lets it be created, quarantine or not.
        await c.forget_session("v")
        await b.create_session(client_id="v")
        assert len(fake.sessions_for("v")) == 1
        # A's own outcome was recorded after the restart: it is known again.
        again = await b.create_session(client_id="u")
        assert again.scan_ref == session.scan_ref


async def test_an_empty_redis_seen_first_by_a_new_process_is_still_noticed(
    own_redis_server: RedisServer,
) -> None:
    """A process started after the restart reaches Redis first and makes a new epoch
    (it cannot know); the first process that knew the old one then quarantines it from
    its birth, for every process."""
    api_key = new_key()
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            redis = coordination.connect(own_redis_server.url)
            stack.push_async_callback(redis.aclose)
            clients.append(redis)
        old = SessionRegistry(clients[0], api_key)._store
        assert (await old.claim("a", "d", "o1", 1.0, 60.0)).state == "lead"
        own_redis_server.restart()
        new = SessionRegistry(clients[1], api_key)._store
        assert (await new.claim("b", "d", "n1", 1.0, 60.0)).state == "lead"  # it cannot tell
        assert await new.confirm("b", "n1", 300.0, 60.0)
        assert (await old.claim("c", "d", "o2", 1.0, 60.0)).state == "unknown"
        assert (await new.claim("d", "d", "n2", 1.0, 60.0)).state == "unknown"
        assert (await old.claim("b", "d", "o3", 1.0, 60.0)).state == "pending"  # a new record


# --------------------------------------------------------------------------- processes


async def run_processes(
    commands: list[list[str]], env: dict[str, str], timeout: float = 20.0
) -> list[tuple[int, bytes, bytes]]:
    """Start the commands as OS processes at once (async: our fake server keeps serving)."""
    processes = [
        await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        for command in commands
    ]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), timeout
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return [(p.returncode or 0, out, err) for p, (out, err) in zip(processes, results, strict=True)]


def environment(redis_url: str, base_url: str, api_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "IDENFY_REDIS_URL": redis_url,
        "IDENFY_BASE_URL": base_url,
        "IDENFY_API_KEY": api_key,
        "IDENFY_API_SECRET": SECRET,
    }


async def test_double_click_from_two_processes_sends_one_post(redis_server: RedisServer) -> None:
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    async with FakeIdenfyServer(fake, latency=0.1) as base_url:
        env = environment(redis_server.url, base_url, api_key)
        start_at = f"{time.time() + 1.5:.6f}"  # both wait for this instant, then create
        command = [
            sys.executable,
            "-m",
            "tests.support.quota_worker",
            "session",
            "user-1",
            start_at,
        ]
        results = await run_processes([command, command], env)
    for code, _, err in results:
        assert code == 0, err.decode()
    answers = [json.loads(out) for _, out, _ in results]
    assert len(fake.sessions_for("user-1")) == 1
    assert answers[0] == answers[1] == [fake.sessions_for("user-1")[0].scan_ref]


def write_input(path: Path, count: int) -> list[str]:
    ids = [f"cust-{i:03d}" for i in range(count)]
    path.write_text("clientId,locale\n" + "".join(f"{i},en\n" for i in ids))
    return ids


def bulk_command(path: Path, n: int, *, rate: str = "500/s") -> list[str]:
    return [
        sys.executable,
        "-m",
        "idenfy_async",
        "bulk",
        str(path),
        "--out",
        str(path.parent / f"out{n}.jsonl"),
        "--journal",
        str(path.parent / f"journal{n}.sqlite"),
        "--rate",
        rate,
        "--concurrency",
        "8",
    ]


def read_out(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_three_bulk_runs_create_each_client_id_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    ids = write_input(tmp_path / "customers.csv", 40)
    # Each answer held 0.25 s: every run sends for over a second, so the three overlap
    # whatever their start-up times, and most rows are raced for.
    async with FakeIdenfyServer(fake, latency=0.25) as base_url:
        env = environment(redis_server.url, base_url, api_key)
        commands = [bulk_command(tmp_path / "customers.csv", n) for n in range(3)]
        results = await run_processes(commands, env)
    for code, _, err in results:
        assert code == 0, err.decode()
    assert {s.client_id for s in fake.sessions} == set(ids)
    assert len(fake.sessions) == len(ids)  # each clientId created exactly once
    by_id = {s.client_id: s.scan_ref for s in fake.sessions}
    for n in range(3):
        rows = read_out(tmp_path / f"out{n}.jsonl")
        assert {r["clientId"]: r["scanRef"] for r in rows} == by_id
        assert {r["status"] for r in rows} == {"created"}


async def test_redis_killed_mid_bulk_run_stops_it_and_a_rerun_resumes(
    own_redis_server: RedisServer, tmp_path: Path
) -> None:
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    path = tmp_path / "customers.csv"
    ids = write_input(path, 60)
    server = FakeIdenfyServer(fake, latency=0.02)
    async with server as base_url:
        env = environment(own_redis_server.url, base_url, api_key)
        command = bulk_command(path, 0, rate="100/s")
        run = asyncio.create_task(run_processes([command], env))
        await asyncio.wait_for(server.wait_for_sessions(10), 15)  # mid-run
        own_redis_server.kill()
        [(code, _, err)] = await run
        message = err.decode()
        assert code == 1, message
        assert "Redis (IDENFY_REDIS_URL) failed" in message
        assert "Re-run the same command" in message
        created_first = len(fake.sessions)
        assert 10 <= created_first < len(ids)
        # Redis back (empty: nothing survived), the same command resumes from the journal.
        with RedisServer() as again:
            env = environment(again.url, base_url, api_key)
            [(code, _, err)] = await run_processes([command], env)
        assert code == 0, err.decode()
    assert sorted(s.client_id for s in fake.sessions) == ids  # each exactly once
    rows = read_out(tmp_path / "out0.jsonl")
    assert {r["clientId"] for r in rows if r["status"] in ("created", "skipped", "found")} == set(
        ids
    )


# --------------------------------------------------------------------------- client wiring


def test_redis_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    monkeypatch.setenv("IDENFY_REDIS_URL", redis_server.url)
    client = AsyncIdenfy("k", "s", rate_limit="50/s")
    quota = client._quota
    assert quota is not None
    assert quota.rate == 50
    assert client.rate_limit is quota.interactive
    assert AsyncIdenfy("k", "s")._quota is not None  # the default account rate
    assert AsyncIdenfy("k", "s", redis_url=None)._quota is None  # explicitly off
    monkeypatch.setenv("IDENFY_REDIS_URL", "")
    assert AsyncIdenfy("k", "s")._quota is None


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"rate_limit": coordination.MemoryDedupeStore()}, "account's rate"),
        ({"rate_limit": "fast"}, "rate"),
        ({"bulk_share": 0}, "bulk_share"),
        ({"fallback_share": 2}, "fallback_share"),
    ],
)
def test_bad_shared_settings_are_refused(kwargs: dict[str, Any], needle: str) -> None:
    from idenfy_async import ConfigurationError

    with pytest.raises(ConfigurationError, match=needle):
        AsyncIdenfy("k", "s", redis_url="redis://127.0.0.1:1/0", **kwargs)


@pytest.mark.parametrize("url", ["not a url", "http://h", "redis://:hunter2@h:port/0"])
def test_a_bad_redis_url_is_a_configuration_error(url: str) -> None:
    from idenfy_async import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        AsyncIdenfy("k", "s", redis_url=url)
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None  # nor in a chained exception's message


async def test_a_rate_limit_answer_pauses_every_process(redis_server: RedisServer) -> None:
    """A 429 seen by one client is waited out by another one sharing the account."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    clock_a, clock_b = VirtualClock(), VirtualClock()

    def client(clock: VirtualClock) -> AsyncIdenfy:
        policy = RetryPolicy(clock=clock, sleep=clock.sleep, random=lambda: 1.0, wall_clock=clock)
        return redis_client(fake, api_key, redis_server.url, retry_policy=policy)

    fake.fail_next(Fault(status=429, identifier="TOO_MANY_REQUESTS", headers={"Retry-After": "30"}))
    async with client(clock_a) as a, client(clock_b) as b:
        await a.create_session(client_id="first")  # meets the 429, retries after it
        assert fake.requests == 2
        b_sleeps = len(clock_b.sleeps)
        await b.create_session(client_id="other")
    # B slept out what was left of A's 30 s pause before its request could leave.
    assert any(25 < s <= 30 for s in clock_b.sleeps[b_sleeps:])


async def test_another_process_pause_past_the_deadline_raises_at_once(
    redis_server: RedisServer, redis: Redis
) -> None:
    """As for the client's own cooldown: one that outlasts retry_deadline is a
    RateLimitError with its retry_after, raised before waiting or sending."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    # another process's 429 with Retry-After: 30
    await coordination.RedisQuota(redis, api_key, "10000/hour").rate_limited(None, 30)
    async with redis_client(fake, api_key, redis_server.url) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await client.create_session(client_id="u", retry_deadline=5)
        assert time.monotonic() - started < 1.0
    assert caught.value.retry_after is not None
    assert 25 < caught.value.retry_after <= 30
    assert fake.requests == 0


class Priorities:
    """Records the priority of each token a client's quota hands out."""

    def __init__(self, client: AsyncIdenfy) -> None:
        quota = client._quota
        assert quota is not None
        self.seen: list[str] = []
        take = quota.take

        async def spy(
            priority: coordination.Priority = "interactive", *, max_cooldown: float | None = None
        ) -> coordination.Grant:
            self.seen.append(priority)
            return await take(priority, max_cooldown=max_cooldown)

        quota.take = spy  # type: ignore[method-assign]


async def test_bulk_rows_take_bulk_tokens_and_share_sessions(redis_server: RedisServer) -> None:
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    async with AsyncIdenfy(
        api_key, SECRET, transport=fake, redis_url=redis_server.url, rate_limit="1000/s"
    ) as client:
        spy = Priorities(client)
        await client.create_session(client_id="interactive")
        rows = [SessionRequest(client_id="dup"), SessionRequest(client_id="dup")]
        results = [r async for r in client.create_sessions(rows)]
    assert spy.seen[0] == "interactive"
    assert set(spy.seen[1:]) == {"bulk"}
    # With Redis, bulk keeps one open session per clientId (single_session not needed).
    assert len(fake.sessions_for("dup")) == 1
    assert {r.session.scan_ref for r in results if r.session} == {
        fake.sessions_for("dup")[0].scan_ref
    }


async def test_bulk_reconciliation_reads_take_bulk_tokens_too(redis_server: RedisServer) -> None:
    """A re-run reconciling an open row lists its clientId on bulk tokens, behind users."""
    from idenfy_async import JournalEntry, JournalState, MemoryJournal

    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    journal = MemoryJournal()
    await journal.put(
        JournalEntry(
            client_id="open", state=JournalState.PENDING, attempts=1, pending_at=time.time() - 3600
        )
    )
    async with AsyncIdenfy(
        api_key, SECRET, transport=fake, redis_url=redis_server.url, rate_limit="1000/s"
    ) as client:
        spy = Priorities(client)
        rows = [SessionRequest(client_id="open")]
        [result] = [r async for r in client.create_sessions(rows, journal=journal)]
    assert result.sent  # iDenfy never saw it: listed, then sent
    assert spy.seen == ["bulk", "bulk"]


async def test_without_shared_state_bulk_sends_every_row(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, redis_url=None
    ) as client:
        rows = [SessionRequest(client_id="dup"), SessionRequest(client_id="dup")]
        assert len([r async for r in client.create_sessions(rows)]) == 2
    assert len(fake.sessions_for("dup")) == 2


async def test_aclose_closes_the_redis_connections(redis_server: RedisServer) -> None:
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    client = redis_client(fake, api_key, redis_server.url)
    await client.create_session(client_id="u")
    pool = client._redis.connection_pool
    assert pool._in_use_connections or pool._available_connections
    await client.aclose()
    assert not pool._in_use_connections
    assert not any(c.is_connected for c in pool._available_connections)


# --------------------------------------------------------------------------- docs


def docs_block(page: str, section: str, index: int = 0) -> str:
    """The ``index``-th python code block under the heading ``section`` of ``docs/page``."""
    text = (ROOT / "docs" / page).read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return body.split("```python\n")[index + 1].split("\n```", 1)[0]


async def test_docs_fastapi_lifespan_sample_runs_against_redis(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The FastAPI sample of docs/coordination.md ("In a web app"), as written, on a real
    Redis: two workers (two apps) and a double click on both gives one session."""
    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    async with FakeIdenfyServer(fake) as base_url:
        for name, value in environment(redis_server.url, base_url, api_key).items():
            monkeypatch.setenv(name, value)
        source = docs_block("coordination.md", "In a web app")
        workers = []
        for _ in range(2):
            namespace: dict[str, Any] = {}
            exec(compile(source, "coordination.md", "exec"), namespace)  # our own docs sample
            workers.append(namespace["app"])
        async with contextlib.AsyncExitStack() as stack:
            calls = []
            for app in workers:
                await stack.enter_async_context(app.router.lifespan_context(app))
                assert isinstance(app.state.dedupe, coordination.RedisDedupeStore)
                http = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://t"
                )
                calls.append((await stack.enter_async_context(http)).post("/verifications/u-7"))
            answers = await asyncio.gather(*calls)
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert len(fake.sessions_for("u-7")) == 1


async def test_bulk_with_redis_down_at_start_sends_nothing(tmp_path: Path) -> None:
    from tests.support.redisserver import free_port

    api_key = new_key()
    fake = FakeIdenfy(api_key=api_key, api_secret=SECRET)
    path = tmp_path / "customers.csv"
    write_input(path, 5)
    async with FakeIdenfyServer(fake) as base_url:
        env = environment(f"redis://127.0.0.1:{free_port()}/0", base_url, api_key)
        [(code, _, err)] = await run_processes([bulk_command(path, 0)], env)
    assert code == 1, err.decode()
    assert "Redis (IDENFY_REDIS_URL) failed" in err.decode()
    assert "Traceback" not in err.decode()
    assert fake.sessions == []
    rows = read_out(tmp_path / "out0.jsonl")
    assert {r["status"] for r in rows} <= {"failed"}  # retryable: a re-run sends them
