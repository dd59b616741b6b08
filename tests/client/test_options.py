"""Per-call options as one ``RequestOptions`` value, and ``with_options``.

``client.with_options(...)`` returns a client that shares the connection pool, the
concurrency limit, the rate limit, the cooldown and the session registry of the one it
came from; its options sit between the client's and a call's own keywords.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import idenfy_async
from idenfy_async import (
    NOT_GIVEN,
    AsyncIdenfy,
    ClientClosedError,
    NotGiven,
    RequestOptions,
    RetryPolicy,
    ServerError,
)
from idenfy_async._send.limits import PACE_MARGIN
from idenfy_async.testing import FakeIdenfy, Fault
from tests.conftest import VirtualClock

SCAN_REF = "328c6766-934e-11ed-bb9b-025ad99a18e7"


def new_client(fake: httpx.AsyncBaseTransport, policy: RetryPolicy, **kwargs: Any) -> AsyncIdenfy:
    return AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy, **kwargs)


class Gate(httpx.AsyncBaseTransport):
    """Holds every request until opened; counts them. Answers the fake's way."""

    def __init__(self, fake: FakeIdenfy) -> None:
        self.fake = fake
        self.opened = asyncio.Event()
        self.first_arrived = asyncio.Event()
        self.arrived = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.arrived += 1
        self.first_arrived.set()
        await self.opened.wait()
        return await self.fake.handle_async_request(request)


# --------------------------------------------------------------------------- sharing


async def test_with_options_shares_the_pool_and_the_concurrency_limit(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """A derived client's calls take slots of the same limiter, over the same pool."""
    gate = Gate(fake)
    async with new_client(gate, policy, max_concurrency=1) as client:
        derived = client.with_options(max_retries=0)
        assert derived._http is client._http  # one httpx client, one connection pool
        first = asyncio.ensure_future(client.create_session(client_id="a"))
        await gate.first_arrived.wait()
        second = asyncio.ensure_future(derived.create_session(client_id="b"))
        for _ in range(20):
            await asyncio.sleep(0)
        assert (client.in_flight, derived.in_flight, gate.arrived) == (1, 1, 1)
        gate.opened.set()
        await asyncio.gather(first, second)
        assert gate.arrived == 2


async def test_with_options_shares_the_rate_limit(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """One pace across both: the derived client's call waits for the parent's token."""
    async with new_client(fake, policy, rate_limit="1/s") as client:
        derived = client.with_options(timeout=5)
        assert derived.rate_limit is client.rate_limit
        started = clock.now
        session = await client.create_session(client_id="user-1")
        await derived.get_status(session.scan_ref)
        await client.get_status(session.scan_ref)
    # three calls at 1/s: two waits of 1 s (and the pace's margin)
    assert clock.now - started == pytest.approx(2.0 / (1 - PACE_MARGIN))


async def test_with_options_shares_the_pause_after_a_429(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """A pause after a rate-limit answer to the parent's calls pauses the derived client's too."""
    async with new_client(fake, policy) as client:
        derived = client.with_options(max_retries=0)
        fake.fail_next(Fault(status=429, headers={"Retry-After": "7"}))
        session = await client.create_session(client_id="user-1")  # retried after 7 s
        started = clock.now
        client._sender.admission.pace.rate_limited(None, 3.0)  # as the next 429 would
        await derived.get_status(session.scan_ref)
    assert clock.now - started == pytest.approx(3.0)


async def test_closing_a_derived_client_leaves_the_parent_open(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """Decision: the pool belongs to the client it came from; the derived one closes alone,
    and closing the parent closes every client derived from it."""
    async with new_client(fake, policy) as client:
        session = await client.create_session(client_id="user-1")
        async with client.with_options(max_retries=1) as derived:
            await derived.get_status(session.scan_ref)
        assert derived.is_closed
        assert not client.is_closed
        assert not client._http.is_closed
        with pytest.raises(ClientClosedError):
            await derived.get_status(session.scan_ref)
        await client.get_status(session.scan_ref)  # the pool still works
        other = client.with_options(timeout=3)
    assert client.is_closed
    assert other.is_closed
    with pytest.raises(ClientClosedError):
        await other.get_status(SCAN_REF)


async def test_with_options_shares_the_session_registry(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """single_session: the derived client returns the parent's open session, not a new one."""
    async with new_client(fake, policy, single_session=True) as client:
        derived = client.with_options(max_retries=0)
        first = await client.create_session(client_id="user-1")
        again = await derived.create_session(client_id="user-1")
    assert again.scan_ref == first.scan_ref
    assert len(fake.sessions_for("user-1")) == 1


# --------------------------------------------------------------------------- override table

# (client's max_retries, with_options', the call's) -> attempts made against a 500 storm.
# Each level that gives a value overrides the ones before it; NOT_GIVEN inherits.
RETRIES_TABLE = [
    (NOT_GIVEN, NOT_GIVEN, NOT_GIVEN, 4),  # RetryPolicy's default: 3 retries
    (1, NOT_GIVEN, NOT_GIVEN, 2),
    (1, 0, NOT_GIVEN, 1),
    (NOT_GIVEN, 2, NOT_GIVEN, 3),
    (1, 0, 2, 3),
    (NOT_GIVEN, NOT_GIVEN, 0, 1),
    (2, NOT_GIVEN, 0, 1),
]


@pytest.mark.parametrize(("on_client", "derived", "per_call", "attempts"), RETRIES_TABLE)
async def test_max_retries_override_and_inherit(
    on_client: int | NotGiven,
    derived: int | NotGiven,
    per_call: int | NotGiven,
    attempts: int,
    fake: FakeIdenfy,
    policy: RetryPolicy,
) -> None:
    fake.fail_next(*[Fault(status=503)] * 10)
    async with new_client(fake, policy, max_retries=on_client) as client:
        with pytest.raises(ServerError):
            await client.with_options(max_retries=derived).get_status(
                SCAN_REF, max_retries=per_call
            )
    assert fake.requests == attempts


# (client's retry_unknown, with_options', the call's) -> whether a 500 on a create is retried.
UNKNOWN_TABLE = [
    (NOT_GIVEN, NOT_GIVEN, NOT_GIVEN, False),
    (True, NOT_GIVEN, NOT_GIVEN, True),
    (NOT_GIVEN, True, NOT_GIVEN, True),
    (True, False, NOT_GIVEN, False),
    (False, False, True, True),
    (True, True, False, False),
]


@pytest.mark.parametrize(("on_client", "derived", "per_call", "retried"), UNKNOWN_TABLE)
async def test_retry_unknown_override_and_inherit(
    on_client: bool | NotGiven,
    derived: bool | NotGiven,
    per_call: bool | NotGiven,
    retried: bool,
    fake: FakeIdenfy,
    policy: RetryPolicy,
) -> None:
    fake.fail_next(Fault(status=500))
    async with new_client(fake, policy, retry_unknown=on_client) as client:
        call = client.with_options(retry_unknown=derived).create_session(
            client_id="user-1", retry_unknown=per_call
        )
        if retried:
            await call
        else:
            with pytest.raises(ServerError):
                await call
    assert fake.requests == (2 if retried else 1)


async def test_with_options_timeout_and_deadline_apply_to_its_calls(
    policy: RetryPolicy, clock: VirtualClock
) -> None:
    """timeout= and retry_deadline= of with_options bound the derived client's attempts."""
    seen: list[Any] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"status": "APPROVED", "scanRef": SCAN_REF})

    async with new_client(httpx.MockTransport(record), policy) as client:
        await client.with_options(timeout=4.0).get_status(SCAN_REF)
        await client.with_options(timeout=4.0).get_status(SCAN_REF, timeout=9.0)
        await client.get_status(SCAN_REF)
    assert [t["read"] for t in seen] == [4.0, 9.0, 30.0]


def test_request_options_merge() -> None:
    """merged(): the override's given fields win, NOT_GIVEN ones inherit."""
    base = RequestOptions(timeout=5.0, max_retries=2)
    merged = base.merged(RequestOptions(max_retries=0, retry_unknown=True))
    assert merged == RequestOptions(timeout=5.0, max_retries=0, retry_unknown=True)
    assert base.merged(RequestOptions()) is base


async def test_a_wrong_option_keyword_raises_type_error(client: AsyncIdenfy) -> None:
    """The keywords stay a checked signature: unknown names, and retry_unknown on a read."""
    with pytest.raises(TypeError, match="max_retry"):
        await client.get_status(SCAN_REF, max_retry=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="retry_unknown"):
        await client.get_status(SCAN_REF, retry_unknown=True)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- renames


def test_public_names_of_the_options() -> None:
    """NotGiven and OnRetry are public (they stand in public signatures); CallKind is
    not (it stands in none)."""
    from idenfy_async import OnRetry

    for name in ("NotGiven", "OnRetry", "RequestOptions", "Pacer", "NOT_GIVEN"):
        assert name in idenfy_async.__all__
    assert not hasattr(idenfy_async, "CallKind")
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert isinstance(NOT_GIVEN, NotGiven)
    assert OnRetry is idenfy_async._send.retry.OnRetry
