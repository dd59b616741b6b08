"""_send/limits.py: the rate limiter (rate specs, token-bucket pacing on a virtual clock,
fairness, cancellation), the concurrency limiter, and the pause after a 429 through the
client. The pace's own rules: tests/send/test_pace.py."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable

import httpx
import pytest

from idenfy_async import AsyncIdenfy, ConfigurationError, RateLimitError, RetryPolicy, Session
from idenfy_async._send.limits import (
    DECREASE,
    PACE_MARGIN,
    ConcurrencyLimiter,
    Pacer,
    RateLimiter,
    parse_rate,
)
from idenfy_async.testing import FakeIdenfy, Fault
from tests.conftest import VirtualClock

#: Real seconds after which a wait counts as a hang (a leaked slot); never reached when passing.
HANG = 10.0

# --------------------------------------------------------------------------- helpers


class ManualClock:
    """A virtual clock that moves only when the test calls advance(); sleepers wait for it.

    Unlike the shared VirtualClock (which jumps ahead on every sleep), this one lets a
    test hold several tasks in a wait at once and release them at a chosen time.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    @property
    def sleepers(self) -> int:
        """Tasks asleep on this clock right now."""
        return sum(1 for _, fut in self._waiters if not fut.done())

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.now + seconds, fut))
        await fut

    def advance(self, seconds: float) -> None:
        self.now += seconds
        waiting = []
        for when, fut in self._waiters:
            if fut.done():
                continue
            if when <= self.now:
                fut.set_result(None)
            else:
                waiting.append((when, fut))
        self._waiters = waiting


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps FakeIdenfy; counts requests inside it at once, records when each arrived.

    ``yield_inside`` adds an ``await asyncio.sleep(0)`` so requests can overlap; ``gate``,
    when set, holds every request inside until the event is set.
    """

    def __init__(
        self,
        inner: FakeIdenfy,
        *,
        clock: Callable[[], float] | None = None,
        gate: asyncio.Event | None = None,
        yield_inside: bool = True,
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.gate = gate
        self.yield_inside = yield_inside
        self.current = 0
        self.peak = 0
        self.times: list[float] = []
        self.inside: set[str] = set()  # clientIds of the requests inside now

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        client_id = json.loads(await request.aread())["clientId"]
        self.current += 1
        self.peak = max(self.peak, self.current)
        self.inside.add(client_id)
        if self.clock is not None:
            self.times.append(self.clock())
        try:
            if self.yield_inside:
                await asyncio.sleep(0)
            if self.gate is not None:
                await self.gate.wait()
            return await self.inner.handle_async_request(request)
        finally:
            self.current -= 1
            self.inside.discard(client_id)


async def spin(rounds: int = 50) -> None:
    """Let every ready task run until it blocks (no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def manual_policy(clock: ManualClock) -> RetryPolicy:
    return RetryPolicy(clock=clock, sleep=clock.sleep, wall_clock=clock, random=lambda: 1.0)


# --------------------------------------------------------------------------- ConcurrencyLimiter


@pytest.mark.parametrize("limit", [pytest.param(0, id="zero"), pytest.param(-1, id="negative")])
def test_limiter_rejects_limit_below_one(limit: int) -> None:
    """A limiter needs at least one slot."""
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimiter(limit)


@pytest.mark.parametrize(
    ("limit", "holders"),
    [
        pytest.param(1, 10, id="limit1"),
        pytest.param(4, 50, id="limit4"),
        pytest.param(16, 16, id="exactly-full"),
        pytest.param(16, 5, id="under-limit"),
    ],
)
async def test_limiter_bounds_holders(limit: int, holders: int) -> None:
    """No more than ``limit`` tasks hold the limiter at once, and all finish."""
    limiter = ConcurrencyLimiter(limit)
    current = peak = 0

    async def hold() -> None:
        nonlocal current, peak
        async with limiter:
            current += 1
            peak = max(peak, current)
            assert limiter.in_flight == current
            await spin(3)
            current -= 1

    await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(holders))), HANG)
    assert peak == min(limit, holders)
    assert limiter.peak == peak
    assert limiter.in_flight == 0


async def test_limiter_frees_slot_on_exception() -> None:
    """An exception inside the block releases the slot."""
    limiter = ConcurrencyLimiter(1)
    with pytest.raises(KeyError):
        async with limiter:
            raise KeyError("boom")
    assert limiter.in_flight == 0
    async with limiter:
        assert limiter.in_flight == 1


@pytest.mark.parametrize("where", ["holding", "waiting"])
async def test_limiter_frees_slot_on_cancellation(where: str) -> None:
    """Cancelling a holder or a waiter leaves every slot usable."""
    limiter = ConcurrencyLimiter(2)
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter:
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(4)]
    await spin()
    assert limiter.in_flight == 2
    victims = tasks[:2] if where == "holding" else tasks[2:]
    for task in victims:
        task.cancel()
    await spin()
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), HANG)
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 2
    assert limiter.in_flight == 0
    # both slots still work
    release.clear()
    again = [asyncio.create_task(hold()) for _ in range(2)]
    await spin()
    assert limiter.in_flight == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(*again), HANG)
    assert limiter.in_flight == 0


# --------------------------------------------------------------------------- through the client


async def test_rate_limit_cooldown_holds_back_every_call_of_the_client() -> None:
    """After one call gets 429 Retry-After: 5, no call of the client sends before t+5."""
    clock = ManualClock()
    fake = FakeIdenfy(seed=1, sleep=clock.sleep)
    fake.fail_next(Fault(status=429, identifier="TOO_MANY_REQUESTS", headers={"Retry-After": "5"}))
    transport = CountingTransport(fake, clock=clock)
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=transport, retry_policy=manual_policy(clock)
    ) as client:
        first = asyncio.create_task(client.create_session(client_id="first"))
        await spin()
        assert fake.requests == 1
        assert clock.sleepers == 1  # the first call is cooling down

        others = [
            asyncio.create_task(client.create_session(client_id=f"other-{i}")) for i in range(5)
        ]
        await spin()
        assert fake.requests == 1  # nobody sends during the cooldown
        clock.advance(4.5)
        await spin()
        assert fake.requests == 1
        clock.advance(0.5)
        sessions: list[Session] = await asyncio.wait_for(asyncio.gather(first, *others), HANG)

    assert fake.requests == 7
    assert transport.times[0] == 0.0
    assert transport.times[1:] == [5.0] * 6
    assert sorted(str(s.client_id) for s in sessions) == sorted(
        ["first", *(f"other-{i}" for i in range(5))]
    )
    assert len(fake.sessions) == 6


async def test_rate_limit_cooldown_on_virtual_clock(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """With gather on the shared virtual clock, every request after the 429 is sent at t0+5."""
    fake.fail_next(Fault(status=429, headers={"Retry-After": "5"}))
    transport = CountingTransport(fake, clock=clock, yield_inside=False)
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=transport, retry_policy=policy
    ) as client:
        await asyncio.gather(*(client.create_session(client_id=f"u{i}") for i in range(3)))
    assert fake.requests == 4
    assert transport.times[0] == 1000.0
    assert all(t >= 1005.0 for t in transport.times[1:])
    assert clock.sleeps == [5.0]
    assert len(fake.sessions) == 3


async def test_gather_5000_sessions_stays_within_max_concurrency(policy: RetryPolicy) -> None:
    """5,000 concurrent create_session calls all succeed with at most 16 in the transport."""
    fake = FakeIdenfy(seed=3)
    transport = CountingTransport(fake)
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=transport, retry_policy=policy, max_concurrency=16
    ) as client:
        sessions = await asyncio.gather(
            *(client.create_session(client_id=f"user-{i}") for i in range(5000))
        )
        assert client.in_flight == 0
    assert [s.client_id for s in sessions] == [f"user-{i}" for i in range(5000)]
    assert len({s.scan_ref for s in sessions}) == 5000
    assert len(fake.sessions) == 5000
    assert fake.requests == 5000  # no failure, no retry (no PoolTimeout)
    assert transport.peak == 16


@pytest.mark.parametrize("victims", ["in_flight", "waiting", "all"])
async def test_cancellation_leaks_no_slot(victims: str, policy: RetryPolicy) -> None:
    """Cancelling calls in flight or waiting for a slot frees every slot of the client."""
    limit = 8
    fake = FakeIdenfy(seed=5)
    gate = asyncio.Event()
    transport = CountingTransport(fake, gate=gate)
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=transport, retry_policy=policy, max_concurrency=limit
    ) as client:
        tasks = {
            f"u{i}": asyncio.create_task(client.create_session(client_id=f"u{i}"))
            for i in range(40)
        }
        await spin()
        assert transport.current == limit
        assert client.in_flight == limit

        inside = set(transport.inside)
        chosen = {
            "in_flight": inside,
            "waiting": set(tasks) - inside,
            "all": set(tasks),
        }[victims]
        for name in chosen:
            tasks[name].cancel()
        await spin()
        gate.set()
        results = dict(
            zip(
                tasks,
                await asyncio.wait_for(
                    asyncio.gather(*tasks.values(), return_exceptions=True), HANG
                ),
                strict=True,
            )
        )
        for name, result in results.items():
            if name in chosen:
                assert isinstance(result, asyncio.CancelledError)
            else:
                assert isinstance(result, Session)
        assert client.in_flight == 0

        # A later batch still reaches full concurrency: no slot was lost.
        transport.gate = asyncio.Event()
        transport.peak = 0
        batch = [
            asyncio.create_task(client.create_session(client_id=f"later-{i}"))
            for i in range(3 * limit)
        ]
        await spin()
        assert transport.current == limit
        assert client.in_flight == limit
        transport.gate.set()
        await asyncio.wait_for(asyncio.gather(*batch), HANG)
        assert client.in_flight == 0
        assert transport.peak == limit
    assert len(fake.sessions) == 40 - len(chosen) + 3 * limit


async def test_cancellation_during_cooldown_leaks_no_slot() -> None:
    """Calls wait out a 429 cooldown without holding a slot; cancelled there, they leak none."""
    clock = ManualClock()
    fake = FakeIdenfy(seed=1, sleep=clock.sleep)
    fake.fail_next(Fault(status=429, headers={"Retry-After": "5"}))
    transport = CountingTransport(fake, clock=clock)
    async with AsyncIdenfy(
        "test-key",
        "test-secret",
        transport=transport,
        retry_policy=manual_policy(clock),
        max_concurrency=2,
    ) as client:
        cooling = asyncio.create_task(client.create_session(client_id="cooling"))
        await spin()
        assert fake.requests == 1
        assert clock.sleepers == 1  # waiting out the cooldown, before taking a slot
        assert client.in_flight == 0
        waiting = [asyncio.create_task(client.create_session(client_id=f"w{i}")) for i in range(2)]
        await spin()
        assert clock.sleepers == 3  # all three wait out the cooldown, none holds a slot
        assert client.in_flight == 0
        assert fake.requests == 1
        for task in [cooling, *waiting]:
            task.cancel()
        results = await asyncio.wait_for(
            asyncio.gather(cooling, *waiting, return_exceptions=True), HANG
        )
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert client.in_flight == 0

        clock.advance(5.0)
        transport.peak = 0
        later = [asyncio.create_task(client.create_session(client_id=f"l{i}")) for i in range(4)]
        await asyncio.wait_for(asyncio.gather(*later), HANG)
        assert client.in_flight == 0
        assert transport.peak == 2
    assert [s.client_id for s in fake.sessions] == ["l0", "l1", "l2", "l3"]


async def test_a_cooldown_longer_than_the_calls_deadline_raises_at_once() -> None:
    """Another call's Retry-After: 6 and retry_deadline=1: RateLimitError now, not in 6 s."""
    clock = ManualClock()
    fake = FakeIdenfy(seed=1, sleep=clock.sleep)
    fake.fail_next(Fault(status=429, headers={"Retry-After": "6"}))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=manual_policy(clock)
    ) as client:
        first = asyncio.create_task(client.create_session(client_id="first"))
        await spin()
        assert clock.sleepers == 1  # cooling down until t=6
        clock.advance(0.5)
        with pytest.raises(RateLimitError) as excinfo:
            await asyncio.wait_for(client.create_session(client_id="short", retry_deadline=1), HANG)
        patient = asyncio.create_task(client.create_session(client_id="long", retry_deadline=9))
        await spin()
        assert clock.sleepers == 2  # the first call and the one whose deadline fits
        clock.advance(5.5)
        await asyncio.wait_for(asyncio.gather(first, patient), HANG)
    error = excinfo.value
    assert error.retry_after == 5.5  # what was left of the cooldown
    assert (error.method, error.path, error.outcome_unknown) == ("POST", "/api/v2/token", False)
    assert "retry_deadline" in str(error)
    assert sorted(s.client_id for s in fake.sessions) == ["first", "long"]


async def test_after_a_pause_calls_leave_at_the_lowered_pace_and_climb_back() -> None:
    """Turns are taken after the pause: the calls that waited it out leave spaced at
    the lowered pace (70 %), the gaps shrinking as it climbs back, never below the pace.

    They used to take their tokens during the cooldown and then all leave in the same
    instant when it ended: against a server allowing exactly this rate, one 201 and
    the rest 429, again and again.
    """
    clock = ManualClock()
    fake = FakeIdenfy(seed=1, sleep=clock.sleep)
    fake.fail_next(Fault(status=429, headers={"Retry-After": "1"}))
    transport = CountingTransport(fake, clock=clock)
    sent: list[float] = []

    async def hook() -> None:
        sent.append(clock.now)

    async with AsyncIdenfy(
        "test-key",
        "test-secret",
        transport=transport,
        retry_policy=manual_policy(clock),
        rate_limit="10/s",
        max_concurrency=10,
    ) as client:
        calls = [
            asyncio.create_task(client.create_session(client_id=f"u{n}", before_send=hook))
            for n in range(6)
        ]
        for _ in range(250):  # 2.5 s in steps of 10 ms
            await spin(20)
            clock.advance(0.01)
        await asyncio.wait_for(asyncio.gather(*calls), HANG)
    times = transport.times
    top = 10 * (1 - PACE_MARGIN)
    assert times[0] == 0.0  # the 429
    assert times[1] == pytest.approx(1.0)  # the pause's end (its Retry-After)
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    assert min(gaps) >= 1 / top - 1e-6, times  # never faster than the pace
    assert max(gaps) <= 1 / (top * DECREASE) + 0.01 + 1e-6, times  # lowered, not stalled
    assert gaps == sorted(gaps, reverse=True), times  # climbing back
    # before_send runs once per call, after its turn is taken, before it leaves (here
    # the pause began between the two for all but the first: they wait it out)
    assert len(sent) == 6
    for hooked, left in zip(sorted(sent), sorted([times[0], *times[2:]]), strict=True):
        assert hooked <= left


# --------------------------------------------------------------------------- the rate limiter


@pytest.mark.parametrize(
    ("spec", "per_second"),
    [
        ("3/s", 3.0),
        ("3/sec", 3.0),
        ("100/min", 100 / 60),
        ("100/minute", 100 / 60),
        ("10000/hour", 10000 / 3600),
        ("10000/h", 10000 / 3600),
        ("50/10s", 5.0),
        ("1/2hours", 1 / 7200),
        ("86400/day", 1.0),
        (" 2 / H ", 2 / 3600),
        ("0.5/s", 0.5),
        (2.5, 2.5),
        (1, 1.0),
    ],
)
def test_parse_rate(spec: str | float, per_second: float) -> None:
    assert parse_rate(spec) == pytest.approx(per_second)
    assert RateLimiter(spec).rate == pytest.approx(per_second)


@pytest.mark.parametrize(
    "spec",
    ["", "3", "abc", "3/fortnight", "/s", "0/s", "-1/s", "3/0s", "3/s/s", 0, -1.0, float("nan")],
)
def test_bad_rate_is_a_configuration_error(spec: str | float) -> None:
    with pytest.raises(ConfigurationError):
        RateLimiter(spec)


@pytest.mark.parametrize("burst", [0, 0.5, -1, float("nan")])
def test_burst_below_one_is_refused(burst: float) -> None:
    with pytest.raises(ConfigurationError, match="burst"):
        RateLimiter("3/s", burst=burst)


def limiter(clock: VirtualClock, spec: str = "3/s", burst: float = 1) -> RateLimiter:
    return RateLimiter(spec, burst=burst, clock=clock, sleep=clock.sleep)


async def test_three_per_second_paces_ten_acquisitions_over_three_seconds(
    clock: VirtualClock,
) -> None:
    start = clock.now
    bucket = limiter(clock)
    times = []
    for _ in range(10):
        await bucket.acquire()
        times.append(clock.now - start)
    assert times == pytest.approx([i / 3 for i in range(10)])
    assert clock.now - start == pytest.approx(3.0)


async def test_concurrent_acquirers_are_paced_and_served_in_order(clock: VirtualClock) -> None:
    start = clock.now
    bucket = limiter(clock)
    served: list[tuple[int, float]] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        served.append((i, clock.now - start))

    await asyncio.gather(*(take(i) for i in range(10)))
    assert [i for i, _ in served] == list(range(10))
    assert [t for _, t in served] == pytest.approx([i / 3 for i in range(10)])


async def test_burst_lets_a_few_through_at_once_then_paces(clock: VirtualClock) -> None:
    start = clock.now
    bucket = limiter(clock, burst=5)
    times = []
    for _ in range(8):
        await bucket.acquire()
        times.append(clock.now - start)
    assert times == pytest.approx([0, 0, 0, 0, 0, 1 / 3, 2 / 3, 1])


async def test_an_idle_bucket_refills_only_up_to_its_burst(clock: VirtualClock) -> None:
    bucket = limiter(clock, burst=2)
    for _ in range(2):
        await bucket.acquire()
    clock.now += 3600  # an hour idle: still only 2 tokens
    start = clock.now
    for _ in range(3):
        await bucket.acquire()
    assert clock.now - start == pytest.approx(1 / 3)


async def test_hourly_limit_spaces_requests_evenly(clock: VirtualClock) -> None:
    start = clock.now
    bucket = limiter(clock, spec="10000/hour")
    for _ in range(101):
        await bucket.acquire()
    assert clock.now - start == pytest.approx(100 * 0.36)


async def test_a_cancelled_waiter_takes_no_token(clock: VirtualClock) -> None:
    bucket = limiter(clock)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)  # the waiter sleeps 1/3 s (the virtual clock jumps at once)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    before = clock.now
    await bucket.acquire()  # the token the waiter would have had
    assert clock.now == before
    assert clock.sleeps == pytest.approx([1 / 3])


async def test_try_acquire_and_wait_time(clock: VirtualClock) -> None:
    bucket = limiter(clock, spec="2/s")
    assert bucket.wait_time == 0
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    assert bucket.wait_time == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.wait_time == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.try_acquire()


def test_a_clock_going_backwards_adds_no_tokens(clock: VirtualClock) -> None:
    bucket = limiter(clock)
    assert bucket.try_acquire()
    clock.now -= 100
    assert not bucket.try_acquire()


def test_repr_and_protocol() -> None:
    bucket: Pacer = RateLimiter("3/s", burst=2)
    assert repr(bucket) == "RateLimiter(3/s, burst=2)"
