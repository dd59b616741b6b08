"""Limits shared by every call of one client: requests in flight, and the pace.

`Pace` owns the moment requests leave: their spacing, the pause after a
rate-limit answer and the rate it adapts to (`Adaptive`). Slots and tokens are
taken before a request reaches httpx's pool, so the pool never queues (where
PoolTimeout and cancellation leaks happen) and ``asyncio.gather`` over thousands of
calls just waits its turn here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Protocol

from ..errors import ConfigurationError

__all__ = ["Adaptive", "ConcurrencyLimiter", "Pace", "Pacer", "RateLimiter"]

logger = logging.getLogger("idenfy_async")


class ConcurrencyLimiter:
    """At most ``limit`` holders at once; a holder cancelled anywhere frees its slot."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.peak = 0

    async def acquire(self) -> None:
        """Wait for a slot and take it; the caller must `release` it."""
        await self._semaphore.acquire()
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight

    def release(self) -> None:
        self.in_flight -= 1
        self._semaphore.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


# --------------------------------------------------------------------------- rate limiter

#: Seconds per unit in a rate spec such as ``"10000/hour"`` or ``"100/10min"``.
RATE_UNITS: Final = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
#: One request at a time: a steady pace, never a burst the server could count against us.
DEFAULT_BURST: Final = 1.0
_RATE_SPEC: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([A-Za-z]+)\s*")
# Float refill arithmetic can leave 0.9999999 of a token after an exact wait.
_EPSILON: Final = 1e-9


class Pacer(Protocol):
    """Anything that paces requests: ``await acquire()`` returns when one may be sent.

    [`RateLimiter`][idenfy_async.RateLimiter] is the in-process token bucket; a limiter shared by
    several processes (Redis, a database row, a lock file) only has to provide this method.
    """

    async def acquire(self) -> None: ...


class RateLimiter:
    """A token bucket: on average ``rate`` requests per second, at most ``burst`` at once.

    ``spec`` is a string such as ``"10000/hour"``, ``"3/s"``, ``"100/min"`` or
    ``"50/10s"``, or a number of requests per second. The bucket starts full. Waiters
    are served first come, first served; a waiter cancelled while waiting takes no
    token. ``clock`` and ``sleep`` are injectable, so tests never really wait;
    ``sleep=None`` (the default) means `asyncio.sleep`.

    Raises:
        ConfigurationError: the spec or burst is not a positive rate.
    """

    def __init__(
        self,
        spec: str | float,
        *,
        burst: float = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.rate: float = parse_rate(spec)  #: requests per second
        if not burst >= 1:  # also refuses NaN
            raise ConfigurationError("burst must be at least 1 request")
        self.burst: float = float(burst)
        self._clock = clock
        self._sleep = asyncio.sleep if sleep is None else sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RateLimiter({self.rate:g}/s, burst={self.burst:g})"

    @property
    def wait_time(self) -> float:
        """Seconds until a token is available (0 when one is)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)

    def try_acquire(self) -> bool:
        """Take a token if one is available now; never waits."""
        self._refill()
        if self._tokens + _EPSILON >= 1.0:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    async def acquire(self) -> None:
        """Wait for a token and take it."""
        async with self._lock:  # first come, first served; the clock only moves for one
            while not self.try_acquire():
                await self._sleep(self.wait_time)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)


def parse_rate(spec: str | float) -> float:
    """Requests per second from ``"10000/hour"``, ``"3/s"``, ``"50/10s"`` or a number."""
    if isinstance(spec, str):
        match = _RATE_SPEC.fullmatch(spec)
        unit = RATE_UNITS.get(match.group(3).lower()) if match else None
        if match is None or unit is None:
            raise ConfigurationError(
                f"rate limit {spec!r} is not understood: write it like"
                ' "10000/hour", "100/min", "3/s" or "50/10s"'
            )
        count, periods = float(match.group(1)), float(match.group(2) or 1)
        rate = count / (periods * unit) if periods > 0 else 0.0
    else:
        rate = float(spec)
    if not rate > 0 or rate == float("inf"):
        raise ConfigurationError("a rate limit must allow a positive, finite number of requests")
    return rate


# --------------------------------------------------------------------------- pace

#: The pace is kept this share below the configured rate: a request leaves a few
#: milliseconds after the pace lets it go (the event loop, the socket), and a gateway
#: that counts strictly (a token bucket of capacity 1) answers 429 to a request that
#: arrives 1 ms early. 3 % is 3 ms at 10 requests a second.
PACE_MARGIN: Final = 0.03
#: A request's turn is reserved this long before it leaves, so what must precede the
#: send (a bulk row's ``pending`` record) is done by then without delaying it. It is
#: also the most a ``pending`` record precedes its request, plus one interval when the
#: request before it left late (and a 429 pause that starts in between).
PACE_LEAD: Final = 0.05
#: After a 429 the rate drops to this share of what it was (multiplicative decrease)...
DECREASE: Final = 0.7
#: ...and climbs back by this share of the top rate each second (additive increase):
#: from 70 % back to 100 % in 3 s.
INCREASE_PER_SECOND: Final = 0.1
#: Never below this share of the top rate (repeated 429s pause longer instead).
FLOOR_SHARE: Final = 0.1
#: The longest pause after repeated 429s: an exhausted hourly quota is asked again
#: every 5 minutes at most, and a reopened one is used at most 5 minutes late.
MAX_PAUSE: Final = 300.0


class Adaptive:
    """The rate and the pause after rate-limit answers (AIMD: additive increase,
    multiplicative decrease, as TCP and the AWS SDKs' adaptive retry mode do).

    Pure state on the caller's clock; `Pace` uses it in one process, and the
    account-wide quota (``coordination.RedisQuota``) runs the same rules in Redis.

    * ``top``: requests per second at most (None: unpaced); the rate at ``now`` is
      ``min(top, low + INCREASE_PER_SECOND * top * t)``, ``t`` the seconds since the
      last pause ended.
    * A 429 for a request that left after the last decrease lowers the rate to
      ``DECREASE`` times its value then (at least ``FLOOR_SHARE * top``), and pauses
      every request for one interval at the new rate (``base`` when unpaced), or
      for the answer's ``Retry-After`` when it gives one. A 429 for a request that left before the
      last decrease was part of the same burst: it changes nothing.
    * A 429 that comes within one pause length after the last pause ended (the window
      is still closed) doubles the pause, up to ``MAX_PAUSE``; any later one starts
      again from one interval.
    """

    __slots__ = ("base", "low", "pause", "paused_until", "since", "streak", "top")

    def __init__(self, top: float | None, *, base: float = 1.0) -> None:
        self.top = top
        self.base = base  #: the first pause when unpaced
        self.low = top  #: the rate right after the last decrease
        self.since = -math.inf  #: when the last decrease happened
        self.pause = 0.0  #: the last pause's length
        self.paused_until = -math.inf
        self.streak = 0  #: pauses in a row, each double the one before

    def rate(self, now: float) -> float | None:
        """Requests per second allowed at ``now`` (None: unpaced). It climbs from the end
        of the pause: a pause is no evidence the limit let up."""
        if self.top is None or self.low is None:
            return None
        climbing = max(0.0, now - max(self.since, self.paused_until))
        return min(self.top, self.low + INCREASE_PER_SECOND * self.top * climbing)

    def interval(self, now: float) -> float:
        """Seconds between two requests leaving at ``now`` (0: unpaced)."""
        rate = self.rate(now)
        return 0.0 if rate is None else 1.0 / rate

    def rate_limited(self, now: float, left_at: float | None, retry_after: float | None) -> float:
        """A 429 answered a request that left at ``left_at`` (None: unknown, taken as
        now): lower the rate, pause; the seconds from ``now`` until requests may leave."""
        if left_at is not None and left_at < self.since:
            return max(0.0, self.paused_until - now)  # the same burst: counted already
        rate = self.rate(now)
        if rate is not None and self.top is not None:
            self.low = max(FLOOR_SHARE * self.top, rate * DECREASE)
        self.since = now
        still_closed = now < self.paused_until + self.pause
        self.streak = self.streak + 1 if still_closed and self.pause > 0 else 0
        first = self.interval(now) if self.top is not None else self.base
        pause = min(MAX_PAUSE, first * 2.0**self.streak)
        if retry_after is not None:  # the server knows best
            pause = retry_after
        self.pause = pause
        self.paused_until = max(self.paused_until, now + pause)
        return self.paused_until - now


class Pace:
    """When requests leave, for every call of one client: the one owner of pacing.

    Two steps per request: `reserve` takes its turn (returning shortly before
    it, ``PACE_LEAD``), then whatever must precede the send runs, then `leave`
    waits for the exact moment: never closer to the previous request than the pace
    allows, whatever happened in between. ``rate`` is the configured requests per
    second (None: unpaced, yet paused after a 429); the pace keeps ``PACE_MARGIN``
    below it and adapts after 429s (`Adaptive`). ``clock`` and ``sleep`` are
    injectable.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        base_pause: float = 1.0,
        lead: float = PACE_LEAD,
    ) -> None:
        self.rate = rate  #: the configured rate (requests per second), None: unpaced
        top = None if rate is None else rate * (1 - PACE_MARGIN)
        self.adaptive = Adaptive(top, base=base_pause)
        self._clock = clock
        self._sleep = asyncio.sleep if sleep is None else sleep
        self._lead = lead
        self._next = -math.inf  # the next turn not yet reserved
        self._last = -math.inf  # when the last request left
        self._lock = asyncio.Lock()
        self._lowered = False

    def __repr__(self) -> str:
        rate = self.adaptive.rate(self._clock())
        shown = "unpaced" if rate is None else f"{rate:g}/s"
        return f"Pace({shown}, configured={self.rate})"

    @property
    def paused(self) -> float:
        """Seconds left of the pause after a rate-limit answer (0: none)."""
        return max(0.0, self.adaptive.paused_until - self._clock())

    def current_rate(self) -> float | None:
        """Requests per second now (None: unpaced)."""
        return self.adaptive.rate(self._clock())

    async def acquire(self) -> None:
        """Wait for a turn and take it (a [`Pacer`][idenfy_async.Pacer]: both steps at once)."""
        await self.leave(await self.reserve())

    async def reserve(self) -> float:
        """Take the next turn; return its time on the clock, ``lead`` seconds ahead at most."""
        now = self._clock()
        adaptive = self.adaptive
        turn = max(now, self._next, adaptive.paused_until)
        self._next = turn + adaptive.interval(turn)
        # Unpaced, nothing is spaced: being late by what precedes the send costs nothing.
        lead = self._lead if adaptive.top is not None else 0.0
        if turn - lead > now:
            await self._sleep(turn - lead - now)
        return turn

    async def leave(self, turn: float) -> float:
        """Wait until the request with ``turn`` may leave and return that moment: at
        its turn, at least one interval after the previous request left, after any
        pause. The caller sends at once."""
        async with self._lock:  # one at a time: the spacing is between actual sends
            adaptive = self.adaptive
            while True:
                now = self._clock()
                ready = max(turn, self._last + adaptive.interval(now), adaptive.paused_until)
                if ready <= now:
                    break
                await self._sleep(ready - now)
            self._last = now
            if self._lowered and adaptive.rate(now) == adaptive.top:
                self._lowered = False
                logger.info("pace back to %.3g/s", adaptive.top)
            return now

    def rate_limited(self, left_at: float | None, retry_after: float | None) -> float:
        """A 429 answered the request that left at ``left_at``: adapt; the seconds until
        any request may leave again."""
        now = self._clock()
        adaptive = self.adaptive
        since = adaptive.since
        pause = adaptive.rate_limited(now, left_at, retry_after)
        rate = adaptive.rate(now)
        if adaptive.since != since and rate is not None:  # a new decrease, not the same burst
            self._lowered = True
            logger.info(
                "rate-limit answer: pace lowered to %.3g/s (configured %g/s), every request"
                " pauses %.2fs",
                rate,
                self.rate,
                pause,
                extra={"idenfy_pace": rate, "idenfy_pause": pause},
            )
        return pause
