"""The account-wide quota: a GCRA (generic cell rate algorithm) in one Lua script,
adapting after rate-limit answers in another (the rules of ``_send.limits.Adaptive``).

[`QuotaSchedule`][idenfy_async.coordination.QuotaSchedule] turns a rate into the script's pace and
tolerances; [`RedisQuota`][idenfy_async.coordination.RedisQuota] asks the script for slots
(degrading to local pacing when Redis fails) and tells Redis of 429s, so every process slows down
and pauses together; [`QuotaView`][idenfy_async.coordination.QuotaView] is one priority of it, as a
Pacer.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._send.admission import Priority as Priority  # the caller kinds admission knows
from .._send.limits import (
    _RATE_SPEC,
    DECREASE,
    FLOOR_SHARE,
    INCREASE_PER_SECOND,
    MAX_PAUSE,
    PACE_LEAD,
    RATE_UNITS,
    Pace,
    parse_rate,
)
from ..errors import ConfigurationError, CoordinationError
from ._redis import (
    DEFAULT_OP_TIMEOUT,
    DEFAULT_PROBE_INTERVAL,
    KEY_PREFIX,
    _check_timeout,
    _run,
    account_namespace,
    logger,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Bulk may use the whole quota by default: interactive calls go first anyway.
DEFAULT_BULK_SHARE: Final = 1.0
#: Without Redis each process paces itself at this share of the account's rate:
#: conservative, as it does not know how many others do the same.
DEFAULT_FALLBACK_SHARE: Final = 0.25
_PRIORITIES: Final = ("interactive", "bulk")
# The share of the window kept for interactive calls' head start, at most one token:
# 3 % keeps at least 97 % of the rate for small counts ("10/s").
_MAX_HEADROOM_SHARE: Final = 0.03


# KEYS: tat, bulk tat, cooldown, adaptive state. ARGV: interval, tolerance, horizon,
# bulk interval (0: no bulk cap), 1 when bulk, the longest cooldown to wait out (us;
# negative: any), the additive increase (share of the rate per second). The intervals
# are stretched by the adaptive share of the rate (1 until a 429). Times in integer
# microseconds of the server's clock, formatted with %d (tostring loses digits above
# 1e14 in Lua 5.1). A slot is committed when it is at most `horizon` away; the reply
# is {committed, wait_us, slot_us}, where an uncommitted wait_us says when to ask
# again; {2, cooldown_us, 0} refuses, reserving nothing, when the cooldown outlasts
# what the caller may wait.
_QUOTA_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local bulk_interval = tonumber(ARGV[4])
local bulk = ARGV[5] == '1' and bulk_interval > 0
local low = redis.call('HGET', KEYS[4], 'low')
if low then
  local from = math.max(tonumber(redis.call('HGET', KEYS[4], 'since')),
    tonumber(redis.call('HGET', KEYS[4], 'until')))
  local climbing = math.max(0, now - from)
  local share = math.min(1, tonumber(low) + tonumber(ARGV[7] or '0') * climbing / 1000000)
  interval = math.ceil(interval / share)
  bulk_interval = math.ceil(bulk_interval / share)
end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local slot = math.max(now, tat - tolerance)
local bulk_tat = now
if bulk then
  bulk_tat = tonumber(redis.call('GET', KEYS[2]) or now)
  slot = math.max(slot, bulk_tat - tolerance)
end
local cool = redis.call('PTTL', KEYS[3])
local max_cool = tonumber(ARGV[6] or '-1')
if max_cool >= 0 and cool * 1000 > max_cool then return {2, cool * 1000, 0} end
if cool > 0 then slot = math.max(slot, now + cool * 1000) end
local wait = slot - now
if wait > horizon then return {0, wait - horizon, slot} end
local new_tat = math.max(tat, slot) + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat),
  'PX', math.ceil((new_tat - now) / 1000) + 1000)
if bulk then
  local new_bulk = math.max(bulk_tat, slot) + bulk_interval
  redis.call('SET', KEYS[2], string.format('%d', new_bulk),
    'PX', math.ceil((new_bulk - now) / 1000) + 1000)
end
return {1, wait, slot}
"""


# KEYS: adaptive state, cooldown. ARGV: the slot (us) of the request a 429 answered
# (negative: unknown), its Retry-After (us, negative: none), the interval at the full
# rate (us), then DECREASE, INCREASE_PER_SECOND, FLOOR_SHARE and MAX_PAUSE (us). The
# rules of _send.limits.Adaptive, with the rate as a share of the full one; replies
# the microseconds until any request may leave.
_RATE_LIMITED_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(ARGV[1])
local retry_after = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local low = tonumber(redis.call('HGET', KEYS[1], 'low') or '1')
local since = tonumber(redis.call('HGET', KEYS[1], 'since') or '-1e18')
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause') or '0')
local paused_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '-1e18')
local streak = tonumber(redis.call('HGET', KEYS[1], 'streak') or '0')
if slot >= 0 and slot < since then
  return math.max(0, paused_until - now)
end
local climbing = math.max(0, now - math.max(since, paused_until))
local share = math.min(1, low + tonumber(ARGV[5]) * climbing / 1000000)
low = math.max(tonumber(ARGV[6]), share * tonumber(ARGV[4]))
if pause > 0 and now < paused_until + pause then streak = streak + 1 else streak = 0 end
since = now
pause = math.min(tonumber(ARGV[7]), interval / low * 2 ^ streak)
if retry_after >= 0 then pause = retry_after end
paused_until = math.max(paused_until, now + pause)
redis.call('HSET', KEYS[1], 'low', string.format('%.17g', low), 'since', string.format('%d', since),
  'pause', string.format('%d', pause), 'until', string.format('%d', paused_until),
  'streak', string.format('%d', streak))
local left = paused_until - now
redis.call('PEXPIRE', KEYS[1], math.ceil((left + pause) / 1000) + 3600000)
local ms = math.ceil(left / 1000)
if ms > 0 and redis.call('PTTL', KEYS[2]) < ms then
  redis.call('SET', KEYS[2], '1', 'PX', ms)
end
return left
"""


@attrs.frozen
class Grant:
    """One acquisition: when it may go, and how.

    ``slot`` is the Redis server's time (seconds since the epoch) of the reserved
    slot, ``None`` when the quota was degraded and paced locally; ``waited`` the
    seconds this acquisition slept. ``turn``: when the request may leave, on the
    quota's clock (``take`` returns up to ``PACE_LEAD`` before it). ``cooldown`` is
    set (seconds left) when nothing was taken because a shared pause outlasts
    ``take(max_cooldown=...)``.
    """

    slot: float | None
    waited: float
    cooldown: float = 0.0
    turn: float | None = None


@attrs.frozen
class QuotaSchedule:
    """The pace a [`RedisQuota`][idenfy_async.coordination.RedisQuota] keeps for a rate, in
    microseconds.

    ``interval_us`` between grants; ``tolerance_us`` how far ahead of the pace an
    interactive call is admitted, ``bulk_tolerance_us`` a bulk one;
    ``horizon_us`` how far ahead bulk reserves; ``bulk_interval_us`` the bulk cap's
    interval (0: no cap).
    """

    rate: float
    interval_us: int
    tolerance_us: int
    bulk_tolerance_us: int
    horizon_us: int
    bulk_interval_us: int

    @classmethod
    def for_rate(cls, spec: str | float, bulk_share: float = DEFAULT_BULK_SHARE) -> QuotaSchedule:
        """The schedule of ``spec`` (``"10000/hour"``, ``"50/s"``, or requests per second)."""
        if not 0 < bulk_share <= 1:
            raise ConfigurationError("bulk_share must be above 0 and at most 1")
        rate = parse_rate(spec)  # the one owner of rate validation and its messages
        count, period = rate, 1.0
        if isinstance(spec, str):
            match = _RATE_SPEC.fullmatch(spec)
            assert match is not None  # parse_rate accepted it
            count = float(match.group(1))
            period = float(match.group(2) or 1) * RATE_UNITS[match.group(3).lower()]
        # Any window of one period gets at most ceil((period + tolerance) / interval)
        # grants (GCRA's bound, with the largest tolerance: the interactive one), so
        # `count - headroom` paced plus `headroom` of tolerance is exactly `count`.
        headroom = min(1.0, _MAX_HEADROOM_SHARE * count)
        interval = math.ceil(period * 1e6 / (count - headroom))
        tolerance = math.floor(headroom * interval)
        # Bulk gets half that tolerance (a waiter woken late catches up instead of
        # losing its slot) and reserves at most the other half ahead (a waiter woken
        # early needs no second trip). Both are slack for bulk and delay for an
        # interactive call: with bulk saturating, it waits at most one interval.
        bulk_tolerance = tolerance // 2
        return cls(
            rate=rate,
            interval_us=interval,
            tolerance_us=tolerance,
            bulk_tolerance_us=bulk_tolerance,
            horizon_us=tolerance - bulk_tolerance,
            bulk_interval_us=0 if bulk_share >= 1 else math.ceil(interval / bulk_share),
        )


class RedisQuota:
    """An account-wide rate limit shared through Redis by every process with ``api_key``.

    ``rate`` is a spec such as ``"10000/hour"`` or ``"50/s"`` (or requests per second):
    in no window of that period do all processes together get more than that many
    grants. ``bulk_share`` caps bulk acquisitions at that share of the rate. Give
    every process on the account the same ``rate`` and ``bulk_share``: they share
    one schedule.
    [`interactive`][idenfy_async.coordination.RedisQuota.interactive] and
    [`bulk`][idenfy_async.coordination.RedisQuota.bulk] are [`Pacer`][idenfy_async.Pacer] views to
    hand to ``AsyncIdenfy(rate_limit=...)``. A caller cancelled while it sleeps until its reserved
    slot leaves that slot unused (the rate is never exceeded, a slot is lost). Every Redis call is
    bounded by ``op_timeout``; when Redis fails, the quota paces this process alone at
    ``fallback_share`` of the rate (``None``: raise
    [`CoordinationError`][idenfy_async.CoordinationError]). ``sleep`` and ``clock`` (the local
    fallback's) are injectable.
    """

    def __init__(
        self,
        redis: Redis,
        api_key: str,
        rate: str | float,
        *,
        bulk_share: float = DEFAULT_BULK_SHARE,
        fallback_share: float | None = DEFAULT_FALLBACK_SHARE,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        key_prefix: str = KEY_PREFIX,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        schedule = QuotaSchedule.for_rate(rate, bulk_share)
        if fallback_share is not None and not 0 < fallback_share <= 1:
            raise ConfigurationError("fallback_share must be above 0 and at most 1, or None")
        self.schedule: QuotaSchedule = schedule
        self.rate: float = schedule.rate
        self.bulk_share: float = float(bulk_share)
        self.fallback_share: float | None = fallback_share
        self.op_timeout: float = _check_timeout("op_timeout", op_timeout)
        self.probe_interval: float = _check_timeout("probe_interval", probe_interval)
        self.interval_us: int = schedule.interval_us
        self.tolerance_us: int = schedule.tolerance_us
        self.bulk_tolerance_us: int = schedule.bulk_tolerance_us
        self.horizon_us: int = schedule.horizon_us
        self.bulk_interval_us: int = schedule.bulk_interval_us
        namespace = account_namespace(api_key, prefix=key_prefix)
        self._keys = (
            f"{namespace}:gcra",
            f"{namespace}:gcra:bulk",
            f"{namespace}:cooldown",
            f"{namespace}:adaptive",
        )
        self._redis = redis
        self._script = redis.register_script(_QUOTA_SCRIPT)
        self._rate_limited = redis.register_script(_RATE_LIMITED_SCRIPT)
        self._sleep = sleep
        self._clock = clock
        self._bulk_lock = asyncio.Lock()
        # Without Redis: this process alone, at fallback_share of the rate.
        self._local = Pace(self.rate * (fallback_share or 1.0), clock=clock, sleep=sleep)
        self._degraded_until: float | None = None
        # Interactive calls commit any wait at once (first come, first served).
        self._args = {
            "interactive": (self.interval_us, self.tolerance_us, 2**52, 0, 0),
            "bulk": (
                self.interval_us,
                self.bulk_tolerance_us,
                self.horizon_us,
                self.bulk_interval_us,
                1,
            ),
        }
        self.interactive: QuotaView = QuotaView(self, "interactive")
        self.bulk: QuotaView = QuotaView(self, "bulk")

    def __repr__(self) -> str:
        return f"RedisQuota({self.rate:g}/s, bulk_share={self.bulk_share:g})"

    @property
    def degraded(self) -> bool:
        """True while Redis failed recently and this process paces itself."""
        return self._degraded_until is not None

    async def acquire(self, priority: Priority = "interactive") -> None:
        """Wait for a slot of the account's quota and take it; return at its moment."""
        grant = await self.take(priority)
        if grant.turn is not None and grant.turn > self._clock():
            await self._sleep(grant.turn - self._clock())

    async def take(
        self, priority: Priority = "interactive", *, max_cooldown: float | None = None
    ) -> Grant:
        """Like [`acquire`][idenfy_async.coordination.RedisQuota.acquire], and say which slot was
        taken.

        ``max_cooldown``: when a shared 429 cooldown has more seconds left than that,
        take nothing and return at once a [`Grant`][idenfy_async.coordination.Grant] saying how long
        it has left (the client then raises [`RateLimitError`][idenfy_async.RateLimitError] instead
        of waiting past a call's deadline).
        """
        if priority not in _PRIORITIES:
            raise ConfigurationError(f"priority must be one of {_PRIORITIES}, not {priority!r}")
        if self._skipping_redis():
            return await self._take_locally()
        limit = -1 if max_cooldown is None else max(0, math.floor(max_cooldown * 1e6))
        if priority == "bulk":
            # One bulk waiter per process asks Redis at a time: FIFO here, and no
            # herd of pollers at each slot.
            async with self._bulk_lock:
                return await self._take_shared(priority, limit)
        return await self._take_shared(priority, limit)

    async def _take_shared(self, priority: Priority, max_cooldown_us: int) -> Grant:
        waited = 0.0
        args = (*self._args[priority], max_cooldown_us, INCREASE_PER_SECOND)
        while True:
            reply = await self._shared(lambda: self._script(keys=self._keys, args=args))
            if reply is None:  # Redis failing (perhaps while this one waited)
                grant = await self._take_locally()
                return attrs.evolve(grant, waited=waited + grant.waited)
            committed, wait_us, slot_us = (int(x) for x in reply)
            if committed == 2:
                return Grant(None, waited, cooldown=wait_us / 1e6)
            wait = wait_us / 1e6
            if committed:
                # Back shortly before the slot: what must precede the send runs
                # meanwhile, then the request leaves at the slot (Pace.leave).
                turn = self._clock() + wait
                early = wait - PACE_LEAD
                if early > 0:
                    await self._sleep(early)
                    waited += early
                return Grant(slot_us / 1e6, waited, turn=turn)
            if wait > 0:
                await self._sleep(wait)
                waited += wait

    async def rate_limited(self, slot: float | None, retry_after: float | None) -> float:
        """A 429 answered the request sent at ``slot`` (the Redis time of its grant;
        None: unknown): every process's pace is lowered and paused (the rules of
        ``_send.limits.Adaptive``). Returns the seconds until any request may leave.
        Without Redis, this process's fallback pace adapts alone."""
        args = (
            -1 if slot is None else math.floor(slot * 1e6),
            -1 if retry_after is None else math.ceil(retry_after * 1e6),
            self.interval_us,
            DECREASE,
            INCREASE_PER_SECOND,
            FLOOR_SHARE,
            math.ceil(MAX_PAUSE * 1e6),
        )
        keys = (self._keys[3], self._keys[2])
        reply = await self._shared(lambda: self._rate_limited(keys=keys, args=args))
        if reply is None:
            return self._local.rate_limited(None, retry_after)
        pause = int(reply) / 1e6
        logger.info(
            "rate-limit answer: the account's pace lowered, every process pauses %.2fs",
            pause,
            extra={"idenfy_pause": pause},
        )
        return pause

    async def _shared(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """A script's reply, or None while this process paces alone: Redis failed
        recently, or fails now (degraded, warned once; with ``fallback_share=None`` the
        [`CoordinationError`][idenfy_async.CoordinationError] is raised instead)."""
        if self._skipping_redis():
            return None
        try:
            reply = await _run("quota", call, self.op_timeout)
        except CoordinationError as exc:
            if self.fallback_share is None:
                raise
            self._degrade(exc)
            return None
        self._recover()
        return reply

    def _skipping_redis(self) -> bool:
        return self._degraded_until is not None and self._clock() < self._degraded_until

    async def _take_locally(self) -> Grant:
        started = self._clock()
        turn = await self._local.reserve()
        return Grant(None, self._clock() - started, turn=turn)

    def _degrade(self, exc: CoordinationError) -> None:
        if self._degraded_until is None:
            logger.warning(
                "Redis quota unavailable (%s): pacing this process alone at %g/s"
                " (fallback_share=%g) until Redis answers again",
                exc.reason,
                self._local.rate,
                self.fallback_share,
            )
        self._degraded_until = self._clock() + self.probe_interval

    def _recover(self) -> None:
        if self._degraded_until is not None:
            self._degraded_until = None
            logger.warning("Redis quota available again: sharing the account's rate")


@attrs.frozen
class QuotaView:
    """One priority of a [`RedisQuota`][idenfy_async.coordination.RedisQuota], as a
    [`Pacer`][idenfy_async.Pacer]."""

    quota: RedisQuota
    priority: Priority

    async def acquire(self) -> None:
        """Wait for a slot at this view's priority and take it."""
        await self.quota.acquire(self.priority)
