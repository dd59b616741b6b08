"""Admission: when a call's attempt may leave, for every call of a client.

Order (one owner each): a turn from the pace (this process's `Pace`, a
caller's [`Pacer`][idenfy_async.Pacer], or the account's Redis quota), then a concurrency slot; then
whatever must precede the send (a bulk row's ``pending`` record, a claim), then
`Admission.leave` waits for the exact moment. A rate-limit answer goes back to
the pace's owner (`Admission.rate_limited`), which lowers the rate and pauses
every call. `Admission` is shared by a client and every client
[`AsyncIdenfy.with_options`][idenfy_async.AsyncIdenfy.with_options] derives from it: one pace, one
pool bound.

Admission owns what it asks of an account-wide quota (`Quota`, and the
[`Priority`][idenfy_async.coordination.Priority] a call takes its turn at);
[`idenfy_async.coordination`][idenfy_async.coordination] implements it over Redis (``RedisQuota``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import attrs

from .. import errors
from .._wire.common import RequestSpec, shown_path
from .limits import ConcurrencyLimiter, Pace, Pacer
from .retry import Budget

__all__ = [
    "Admission",
    "PaceReport",
    "Priority",
    "Quota",
    "QuotaGrant",
    "Turn",
    "cooldown_error",
]

#: Who is asking for a token: a caller waiting on the answer, or a bulk run.
Priority = Literal["interactive", "bulk"]


class QuotaGrant(Protocol):
    """What `Quota.take` hands back."""

    @property
    def cooldown(self) -> float:
        """Seconds left of a shared pause that outlasts ``max_cooldown`` (nothing
        was taken then); 0 when a turn was taken."""
        ...

    @property
    def turn(self) -> float | None:
        """When the request may leave, on the quota's clock (None: at once)."""
        ...

    @property
    def slot(self) -> float | None:
        """The turn on the shared clock, which `Quota.rate_limited` is told."""
        ...


class Quota(Protocol):
    """A rate quota shared by every process on the account (``coordination.RedisQuota``)."""

    @property
    def rate(self) -> float:
        """The account's rate, requests per second."""
        ...

    async def take(
        self, priority: Priority = "interactive", *, max_cooldown: float | None = None
    ) -> QuotaGrant: ...

    async def rate_limited(self, slot: float | None, retry_after: float | None) -> float: ...


@attrs.frozen
class PaceReport:
    """How a client's requests have been paced so far (``AsyncIdenfy.pacing``).

    ``configured``: the rate it was given, in requests per second (None: none, or a
    caller's own pacer); ``current``: the rate it paces at now, lower for a while after
    a 429 (None: unpaced, or paced by the account's Redis quota); ``sent``: requests
    that left; ``rate_limited``: rate-limit answers (429) among their answers.
    """

    configured: float | None
    current: float | None
    sent: int
    rate_limited: int


class Admission:
    """The pace and the concurrency limit every call of a client goes through."""

    __slots__ = ("clock", "limiter", "pace", "pacer", "quota", "rate_limited_answers", "sent")

    def __init__(
        self,
        *,
        limiter: ConcurrencyLimiter,
        pace: Pace,
        clock: Callable[[], float],
        pacer: Pacer | None = None,
        quota: Quota | None = None,
    ) -> None:
        self.limiter = limiter
        self.pace = pace  #: this process's pace (unpaced with a pacer or a quota)
        self.clock = clock
        self.pacer = pacer  #: a caller's own Pacer, asked for each request
        self.quota = quota
        self.sent = 0  #: requests that left
        self.rate_limited_answers = 0  #: 429s among their answers

    async def admit(self, budget: Budget, spec: RequestSpec, priority: Priority) -> Turn:
        """Take a turn, then a slot (held on return); the turn is for `leave`.

        Queueing for the turn and the slot does not count against the deadline; a
        pause after a rate-limit answer does for an interactive call, and one that
        would outlast its deadline raises [`RateLimitError`][idenfy_async.RateLimitError] at once. A
        bulk call waits any pause out (a 429 is refused unprocessed: waiting costs nothing).
        """
        clock, pace, quota = self.clock, self.pace, self.quota
        patient = priority == "bulk"
        paused = 0.0 if patient else pace.paused
        left = budget.left()
        if paused > 0 and left is not None and paused >= left:
            raise cooldown_error(spec, paused)
        queued = clock()
        if quota is not None:
            grant = await quota.take(priority, max_cooldown=None if patient else left)
            if grant.cooldown > 0:
                raise cooldown_error(spec, grant.cooldown)
            turn = Turn(grant.turn, grant.slot)
        else:
            at = await pace.reserve()
            if self.pacer is not None:
                # Unpaced with a caller's pacer, but paused after a 429: the pause
                # first (reserve), then the caller's token (taken during the pause, all
                # would leave at once), then at once.
                await self.pacer.acquire()
                at = clock()
            turn = Turn(at, None)
        await self.limiter.acquire()
        budget.exclude(max(0.0, clock() - queued - paused))
        return turn

    async def leave(self, turn: Turn) -> Turn:
        """Wait for the moment the request with ``turn`` leaves; the caller sends at
        once. Returns the turn with when it left."""
        left_at = await self.pace.leave(self.clock() if turn.at is None else turn.at)
        self.sent += 1
        return Turn(left_at, turn.slot)

    async def rate_limited(self, turn: Turn | None, retry_after: float | None) -> float:
        """A 429 answered the request sent at ``turn``: the pace's owner adapts; the
        seconds until any request may leave again."""
        self.rate_limited_answers += 1
        if self.quota is not None:
            return await self.quota.rate_limited(turn.slot if turn else None, retry_after)
        return self.pace.rate_limited(turn.at if turn else None, retry_after)

    def report(self) -> PaceReport:
        """How requests have been paced so far."""
        quota, pace = self.quota, self.pace
        configured = quota.rate if quota is not None else pace.rate
        return PaceReport(
            configured=configured,
            current=None if quota is not None else pace.current_rate(),
            sent=self.sent,
            rate_limited=self.rate_limited_answers,
        )


class Turn:
    """A request's turn: when it may leave (or left) on this process's clock, and its
    slot on a shared quota's clock (None without one)."""

    __slots__ = ("at", "slot")

    def __init__(self, at: float | None, slot: float | None) -> None:
        self.at = at
        self.slot = slot


def cooldown_error(spec: RequestSpec, cooling: float) -> errors.RateLimitError:
    """A pause after a rate-limit answer (with Redis: any process's) outlasting the deadline."""
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
