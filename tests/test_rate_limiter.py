"""RateLimiter: rate specs, token-bucket pacing on a virtual clock, fairness, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from idenfy_async import ConfigurationError
from idenfy_async._send.limits import Pacer, RateLimiter, parse_rate
from tests.conftest import VirtualClock


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
