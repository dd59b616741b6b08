"""Limits shared by every call of one client: requests in flight, and the 429 cooldown.

Both are acquired before a request reaches httpx's pool, so the pool never queues
(where PoolTimeout and cancellation leaks happen) and ``asyncio.gather`` over
thousands of calls just waits its turn here.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Protocol

from ..errors import ConfigurationError

__all__ = ["ConcurrencyLimiter", "Cooldown", "Pacer", "RateLimiter"]


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
        """Wait for a slot and take it; the caller must :meth:`release` it."""
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


class Cooldown:
    """A pause every call waits out before sending (started by a rate-limit answer)."""

    def __init__(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0

    @property
    def remaining(self) -> float:
        """Seconds left, 0 when not cooling down."""
        return max(0.0, self._until - self._clock())

    def extend(self, seconds: float) -> None:
        """Make sure nothing is sent for the next ``seconds``."""
        self._until = max(self._until, self._clock() + seconds)

    async def wait(self, end: float | None = None) -> float:
        """Wait the cooldown out and return 0 (at once when there is none).

        When it lasts until ``end`` (a time on the clock: a caller's deadline) or
        later, return the seconds left of it at once instead of waiting in vain.
        Checked again after each sleep: another call may extend it meanwhile.
        """
        while (remaining := self._until - self._clock()) > 0:
            if end is not None and self._until >= end:
                return remaining
            await self._sleep(remaining)
        return 0.0


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

    :class:`RateLimiter` is the in-process token bucket; a limiter shared by several
    processes (Redis, a database row, a lock file) only has to provide this method.
    """

    async def acquire(self) -> None: ...


class RateLimiter:
    """A token bucket: on average ``rate`` requests per second, at most ``burst`` at once.

    ``spec`` is a string such as ``"10000/hour"``, ``"3/s"``, ``"100/min"`` or
    ``"50/10s"``, or a number of requests per second. The bucket starts full. Waiters
    are served first come, first served; a waiter cancelled while waiting takes no
    token. ``clock`` and ``sleep`` are injectable, so tests never really wait;
    ``sleep=None`` (the default) means :func:`asyncio.sleep`.

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
