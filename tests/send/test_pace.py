"""_send/limits.py's pace: the AIMD rules (against a hand-written table), the moment
of sending (spacing at the wire whatever happens between a turn and its send), and an
exhausted hourly window waited out with exponential backoff, all on injected clocks."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable
from typing import TypeVar

import httpx
import pytest

from idenfy_async import AsyncIdenfy, PaceReport, RetryPolicy, SessionRequest
from idenfy_async._send.limits import (
    DECREASE,
    FLOOR_SHARE,
    INCREASE_PER_SECOND,
    MAX_PAUSE,
    PACE_LEAD,
    PACE_MARGIN,
    Adaptive,
    Pace,
)
from tests.conftest import VirtualClock

TOP = 10.0  # requests per second
T = TypeVar("T")

# --------------------------------------------------------------------------- the rules

#: (now, left_at, retry_after) -> (pause from now, rate right after). Worked by hand from
#: the rules in Adaptive's docstring, TOP = 10/s: decrease 0.7, +1/s per second, floor 1/s.
Events = list[tuple[float, float | None, float | None]]
RULES: list[tuple[str, Events, list[tuple[float, float]] | None]] = [
    (
        "first 429: 70 %, one interval at the new rate",
        [(100.0, 99.9, None)],
        [(1 / 7.0, 7.0)],
    ),
    (
        "Retry-After replaces the interval",
        [(100.0, 99.9, 5.0)],
        [(5.0, 7.0)],
    ),
    (
        "a 429 for a request sent before the decrease: the same burst, nothing changes",
        [(100.0, 99.9, None), (100.01, 99.95, None)],
        [(1 / 7.0, 7.0), (1 / 7.0 - 0.01, 7.0)],
    ),
    (
        "right after the pause (window still closed): doubled, from the climbing rate",
        [(100.0, 99.9, None), (100.2, 100.15, None)],
        # the pause ends at 100 + 1/7; by 100.2 the rate climbed 1/s for that long
        [(1 / 7.0, 7.0), (2 / (0.7 * (7 + 0.2 - 1 / 7)), 0.7 * (7 + 0.2 - 1 / 7))],
    ),
    (
        "long after: the streak starts again, the rate from where it climbed to",
        [(100.0, 99.9, None), (102.0, 101.9, None)],
        [(1 / 7.0, 7.0), (1 / (0.7 * (7 + 2 - 1 / 7)), 0.7 * (7 + 2 - 1 / 7))],
    ),
    (
        "no climbing during a pause",
        [(100.0, 99.9, 30.0), (130.0, 130.0, None)],
        # Retry-After 30: the rate stays 7 until 130; then 0.7 * 7, doubled (right after)
        [(30.0, 7.0), (2 / 4.9, 4.9)],
    ),
    (
        "never below the floor",
        [(100.0 + 0.01 * i, 100.0 + 0.01 * i, None) for i in range(12)],
        None,  # checked below: the rate ends at FLOOR_SHARE * TOP
    ),
]


@pytest.mark.parametrize(("name", "events", "expected"), RULES, ids=[r[0] for r in RULES])
def test_adaptive_follows_the_table(
    name: str,
    events: list[tuple[float, float | None, float | None]],
    expected: list[tuple[float, float]] | None,
) -> None:
    adaptive = Adaptive(TOP)
    seen = []
    for now, left_at, retry_after in events:
        pause = adaptive.rate_limited(now, left_at, retry_after)
        rate = adaptive.rate(now)
        assert rate is not None
        seen.append((pause, rate))
    if expected is None:
        assert seen[-1][1] == pytest.approx(FLOOR_SHARE * TOP)
        return
    assert seen == [pytest.approx(pair) for pair in expected]


def test_the_table_uses_the_documented_constants() -> None:
    """The hand-written table above assumes these; a change of constant must update it."""
    assert (DECREASE, INCREASE_PER_SECOND, FLOOR_SHARE) == (0.7, 0.1, 0.1)


def test_the_rate_climbs_back_additively_to_the_top_once_the_pause_ends() -> None:
    adaptive = Adaptive(TOP)
    pause = adaptive.rate_limited(0.0, 0.0, None)
    assert [adaptive.rate(pause + t) for t in (0.0, 1.0, 2.0, 3.0, 4.0)] == pytest.approx(
        [7.0, 8.0, 9.0, 10.0, 10.0]
    )
    assert adaptive.rate(pause / 2) == 7.0  # not during the pause


def test_repeated_429s_double_the_pause_up_to_the_cap() -> None:
    """Every 429 arrives as the previous pause ends (an exhausted window)."""
    adaptive = Adaptive(TOP)
    now, pauses, at_floor = 0.0, [], []
    for _ in range(30):
        pause = adaptive.rate_limited(now, now, None)
        pauses.append(pause)
        if adaptive.rate(now) == pytest.approx(FLOOR_SHARE * TOP) and pause < MAX_PAUSE - 1e-6:
            at_floor.append(pause)
        now += pause
    # Each pause at least twice the last (the rate also drops), then MAX_PAUSE.
    assert all(
        b >= 2 * a - 1e-9 or b == pytest.approx(MAX_PAUSE) for a, b in itertools.pairwise(pauses)
    )
    assert pauses[-1] == pytest.approx(MAX_PAUSE)
    # Once the rate is at its floor, exactly twice the last.
    assert len(at_floor) >= 3
    assert all(b == pytest.approx(2 * a) for a, b in itertools.pairwise(at_floor))


def test_unpaced_pauses_start_from_base() -> None:
    adaptive = Adaptive(None, base=2.0)
    assert adaptive.rate(0.0) is None
    assert adaptive.rate_limited(0.0, 0.0, None) == 2.0
    assert adaptive.rate_limited(2.0, 2.0, None) == 4.0  # right after: doubled
    assert adaptive.rate_limited(100.0, 100.0, None) == 2.0  # long after: again


# --------------------------------------------------------------------------- the moment of sending


async def test_requests_leave_spaced_whatever_happens_between_turn_and_send() -> None:
    """What runs between a turn and its send (a journal commit) takes 0 to 80 ms: the
    sends are still never closer than the pace, and a late one does not pile up."""
    clock = SimClock()
    pace = Pace(TOP, clock=clock, sleep=clock.sleep)
    interval = 1 / (TOP * (1 - PACE_MARGIN))
    commits = itertools.cycle([0.0, 0.08, 0.01, 0.0, 0.06])
    sent: list[float] = []
    reserved: list[float] = []

    async def one() -> None:
        turn = await pace.reserve()
        reserved.append(turn - clock.now)
        await clock.sleep(next(commits))
        sent.append(await pace.leave(turn))

    await clock.run(asyncio.gather(*(one() for _ in range(20))))
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= interval - 1e-9
    assert all(ahead <= PACE_LEAD + 1e-9 for ahead in reserved)  # the lead, no more
    # 20 requests take 19 intervals plus what the longest commit overran the lead.
    assert sent[-1] - sent[0] <= 19 * interval + (0.08 - PACE_LEAD) + 1e-9


class SimClock:
    """Virtual time with concurrent sleepers: :meth:`run` lets every task run until
    all wait, then moves the clock to the earliest wake-up."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.now + max(0.0, seconds), next(self._count), future))
        await future

    async def run(self, awaitable: Awaitable[T]) -> T:
        task = asyncio.ensure_future(awaitable)
        while not task.done():
            for _ in range(50):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if task.done():
                break
            assert self._waiters, "every task waits, but not on this clock"
            self._waiters.sort(key=lambda w: (w[0], w[1]))
            when, _, future = self._waiters.pop(0)
            self.now = max(self.now, when)
            future.set_result(None)
        return task.result()


async def test_a_pause_holds_turns_already_taken(clock: VirtualClock) -> None:
    pace = Pace(TOP, clock=clock, sleep=clock.sleep)
    turn = await pace.reserve()
    pause = pace.rate_limited(clock.now, None)
    left = await pace.leave(turn)
    assert left >= turn + pause - 1e-9


async def test_unpaced_turns_leave_at_once_and_reserve_sleeps_the_pause(
    clock: VirtualClock,
) -> None:
    pace = Pace(None, clock=clock, sleep=clock.sleep, base_pause=2.0)
    start = clock.now
    assert await pace.leave(await pace.reserve()) == start
    pace.rate_limited(start, None)
    turn = await pace.reserve()
    assert clock.sleeps == [2.0]  # no lead when unpaced: one sleep
    assert await pace.leave(turn) == start + 2.0


# --------------------------------------------------------------------------- an hourly window


class HourlyWindow:
    """iDenfy's documented limit shape: at most ``limit`` creations per clock hour;
    beyond it 429 without Retry-After. Records when each request arrived."""

    def __init__(self, clock: VirtualClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.counts: dict[int, int] = {}
        self.arrivals: list[tuple[float, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        window = math.floor(self.clock.now / 3600)
        used = self.counts.get(window, 0)
        if used >= self.limit:
            self.arrivals.append((self.clock.now, 429))
            return httpx.Response(429, json={"identifier": "TOO_MANY_REQUESTS"})
        self.counts[window] = used + 1
        self.arrivals.append((self.clock.now, 201))
        n = len(self.arrivals)
        return httpx.Response(201, json={"authToken": f"t{n}", "scanRef": f"s{n}"})


async def test_an_exhausted_hourly_window_is_waited_out_with_exponential_backoff() -> None:
    """10,000/hour spent early (here: 50 in an hour at 3/s): the rest of the hour sees
    a few 429s, each pause twice the last up to 5 minutes, not one every 2 s (~1,800);
    the next hour the run goes on at the pace."""
    clock = VirtualClock(start=3600.0 * 10)  # the start of an hour
    server = HourlyWindow(clock, limit=50)
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, wall_clock=clock, random=lambda: 1.0)
    rows = [SessionRequest(f"user-{i}") for i in range(80)]
    async with AsyncIdenfy(
        "k",
        "s",
        transport=httpx.MockTransport(server),
        retry_policy=policy,
        rate_limit="3/s",
    ) as client:
        results = [r async for r in client.create_sessions(rows, concurrency=4)]
        report = client.pacing
    assert len(results) == 80
    assert {r.state.value for r in results} == {"created"}
    refused = [t for t, status in server.arrivals if status == 429]
    first_hour = [t for t in refused if t < 3600.0 * 11]
    assert 5 <= len(first_hour) <= 25  # not ~1,800 (one every 2 s)
    gaps = [b - a for a, b in itertools.pairwise(first_hour)]
    assert max(gaps) == pytest.approx(MAX_PAUSE, rel=0.05)
    # Each wait longer than the last by far (about twice: the rate drops too; the first
    # ones share a burst of requests in flight), up to the 5-minute cap.
    growing = gaps[: gaps.index(max(gaps)) + 1]
    assert all(b >= 1.4 * a for a, b in itertools.pairwise(growing)), gaps
    # The next hour: the rest leave within minutes of the reset, at the pace again.
    created_later = [t for t, s in server.arrivals if s == 201 and t >= 3600.0 * 11]
    assert len(created_later) == 30
    assert created_later[0] - 3600.0 * 11 <= MAX_PAUSE
    assert report == PaceReport(
        configured=3.0, current=report.current, sent=len(server.arrivals), rate_limited=len(refused)
    )
