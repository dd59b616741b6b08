"""Limits shared by every call of one client: requests in flight, and the 429 cooldown.

Both are acquired before a request reaches httpx's pool, so the pool never queues
(where PoolTimeout and cancellation leaks happen) and ``asyncio.gather`` over
thousands of calls just waits its turn here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

__all__ = ["ConcurrencyLimiter", "Cooldown"]


class ConcurrencyLimiter:
    """At most ``limit`` holders at once; a holder cancelled anywhere frees its slot."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.peak = 0

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()


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

    async def wait(self) -> None:
        """Return once the cooldown is over (at once when there is none)."""
        while (remaining := self._until - self._clock()) > 0:
            await self._sleep(remaining)
