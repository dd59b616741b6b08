"""Admission: when a call's attempt may leave, for every call of a client.

Order (one owner): the shared cooldown after a rate-limit answer, then a rate token
(this process's :class:`RateLimiter`, any :class:`Pacer`, or the account's Redis
quota), then a concurrency slot. :class:`Admission` is shared by a client and every
client :meth:`AsyncIdenfy.with_options` derives from it: one pace, one pool bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import errors
from .._wire.common import RequestSpec, shown_path
from .limits import ConcurrencyLimiter, Cooldown, Pacer, RateLimiter
from .retry import Budget

if TYPE_CHECKING:
    from collections.abc import Callable

    from .. import coordination

__all__ = ["Admission", "cooldown_error"]


class Admission:
    """The limiter, cooldown and pacing every call of a client goes through."""

    __slots__ = ("clock", "cooldown", "limiter", "pacer", "quota", "shared_cooldown")

    def __init__(
        self,
        *,
        limiter: ConcurrencyLimiter,
        cooldown: Cooldown,
        clock: Callable[[], float],
        pacer: Pacer | None = None,
        quota: coordination.RedisQuota | None = None,
        shared_cooldown: coordination.SharedCooldown | None = None,
    ) -> None:
        self.limiter = limiter
        self.cooldown = cooldown
        self.clock = clock
        self.pacer = pacer  #: with Redis, the quota's interactive view
        self.quota = quota
        self.shared_cooldown = shared_cooldown

    def admits_now(self) -> bool:
        """Whether :meth:`admit` would have nothing to wait for: no Redis quota, no
        cooldown, a free slot, and no rate limit or a token of this process's bucket
        free with nobody queued for it (taken here, in :meth:`admit`'s order: after
        the cooldown, before the slot). The slot is then taken without yielding to the
        loop, so no cooldown can begin and no time is queued meanwhile: the same
        outcome as :meth:`admit`, without its loop and clock readings."""
        pacer = self.pacer
        return (
            self.quota is None
            and self.limiter.free()
            and self.cooldown.remaining <= 0
            and (pacer is None or (type(pacer) is RateLimiter and pacer.take_now()))
        )

    async def admit(
        self, budget: Budget, spec: RequestSpec, priority: coordination.Priority
    ) -> None:
        """Wait out the shared cooldown, then take a rate token, then a slot (held on return).

        The token is taken after the cooldown: when a cooldown ends, the calls that
        waited it out leave at the configured pace, not all in the same instant (which
        would draw a 429 for all but one and start the next cooldown). Queueing for
        the token and the slot does not count against the deadline; the cooldown does,
        and one that would outlast it raises :class:`RateLimitError` at once.
        With Redis, the account's quota takes the token at ``priority``; its script
        also waits out a cooldown another process started.
        """
        clock, pacer, quota, cooldown = self.clock, self.pacer, self.quota, self.cooldown
        while True:
            # Checked inline first: the hot path has no cooldown and needs no coroutine.
            cooling = await cooldown.wait(budget.end) if cooldown.remaining > 0 else 0.0
            if cooling > 0:
                raise cooldown_error(spec, cooling)
            queued = clock()
            if quota is not None:
                # Before the slot, as below. Another process's cooldown is waited out
                # here; one that would outlast the deadline raises, as ours does.
                grant = await quota.take(priority, max_cooldown=budget.left())
                if grant.cooldown > 0:
                    raise cooldown_error(spec, grant.cooldown)
            elif pacer is not None:
                # Before taking a concurrency slot: a request waiting for its turn
                # must not hold up others.
                await pacer.acquire()
            await self.limiter.wait()  # then taken(), at once: acquire() in two steps
            self.limiter.taken()
            budget.exclude(clock() - queued)
            if cooldown.remaining <= 0:
                return
            # A cooldown began while this call queued: give the slot back and wait it
            # out with the others (the token is spent; pacing only gets slower).
            self.limiter.release()


def cooldown_error(spec: RequestSpec, cooling: float) -> errors.RateLimitError:
    """A cooldown (this client's, or with Redis any process's) outlasting the deadline."""
    return errors.RateLimitError(
        status_code=429,
        identifier=None,
        message=(
            f"this client pauses every call for {cooling:.1f} s more after a rate-limit"
            " answer (with Redis: any process's), past this call's retry_deadline"
        ),
        method=spec.method,
        path=shown_path(spec),
        retry_after=cooling,
    )
