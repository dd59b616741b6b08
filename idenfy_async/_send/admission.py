"""Admission: when a call's attempt may leave, for every call of a client.

Order (one owner): the shared cooldown after a rate-limit answer, then a rate token
(this process's :class:`RateLimiter`, any :class:`Pacer`, or the account's Redis
quota), then a concurrency slot. :class:`Admission` is shared by a client and every
client :meth:`AsyncIdenfy.with_options` derives from it: one pace, one pool bound.

Admission owns what it asks of an account-wide quota (:class:`Quota`, and the
:data:`Priority` a call takes its token at); :mod:`idenfy_async.coordination`
implements it over Redis (``RedisQuota``), on top of :mod:`.limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from .. import errors
from .._wire.common import RequestSpec, shown_path
from .limits import ConcurrencyLimiter, Cooldown, Pacer
from .retry import Budget, SharedPause

__all__ = ["Admission", "Priority", "Quota", "QuotaGrant", "cooldown_error"]

#: Who is asking for a token: a caller waiting on the answer, or a bulk run.
Priority = Literal["interactive", "bulk"]


class QuotaGrant(Protocol):
    """What :meth:`Quota.take` hands back."""

    @property
    def cooldown(self) -> float:
        """Seconds left of a shared cooldown that outlasts ``max_cooldown`` (nothing
        was taken then); 0 when a token was taken."""
        ...


class Quota(Protocol):
    """A rate quota shared by every process on the account (``coordination.RedisQuota``)."""

    async def take(
        self, priority: Priority = "interactive", *, max_cooldown: float | None = None
    ) -> QuotaGrant: ...


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
        quota: Quota | None = None,
        shared_cooldown: SharedPause | None = None,
    ) -> None:
        self.limiter = limiter
        self.cooldown = cooldown
        self.clock = clock
        self.pacer = pacer  #: with Redis, the quota's interactive view
        self.quota = quota
        self.shared_cooldown = shared_cooldown

    async def admit(self, budget: Budget, spec: RequestSpec, priority: Priority) -> None:
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
            cooling = await cooldown.wait(budget.end)
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
            await self.limiter.acquire()
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
