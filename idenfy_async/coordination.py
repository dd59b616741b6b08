"""State shared by every process on one iDenfy account: quota, 429 cooldown, open
sessions, webhook dedupe.

One process needs none of this (the client paces and cools down by itself). Several
workers, machines or a bulk job next to a web service share one account, so they
share its rate limit too. ``AsyncIdenfy(redis_url=...)`` (or ``IDENFY_REDIS_URL``)
wires everything here into the client; the objects are usable alone too. Here that
state lives in Redis (``pip install 'idenfy-async[redis]'``), under keys derived from
a hash of the API key (never the key itself), hash-tagged so one account's keys sit
on one cluster node::

    redis = coordination.connect(os.environ["IDENFY_REDIS_URL"])
    quota = coordination.RedisQuota(redis, api_key, "10000/hour", bulk_share=0.8)
    await quota.interactive.acquire()  # or quota.bulk; both are RateLimits
    cooldown = coordination.SharedCooldown(redis, api_key)
    dedupe = coordination.RedisDedupeStore(redis, api_key)  # or MemoryDedupeStore()
    sessions = coordination.SessionRegistry(redis, api_key)  # or SessionRegistry() in memory

**Quota.** GCRA (generic cell rate algorithm) in one Lua script: one ``EVALSHA``
per acquisition (a bulk one that must wait longer than its horizon asks again when
it is due), time read from the Redis server (``TIME``), so machines' clocks
never enter the decision. A rate of ``N`` per ``period`` means: in no window of one
``period`` do all processes together get more than ``N`` grants. To give interactive
calls one token of head start over bulk ones inside that promise, the pace is
``period / (N - 1)`` (98 % of the rate at 50/s, 99.99 % at 10,000/hour; for N
under 34 the head start shrinks to 3 % of N, so the pace stays at 97 %).

**Priority.** Interactive acquisitions reserve their slot at once (first come, first
served) and are admitted one token interval ahead of the pace; bulk ones only half an
interval ahead, and reserve at most half an interval in advance (the slack that keeps
a bulk job at the full rate although its waiters wake late). So a bulk job saturating
the quota delays an interactive call by at most one interval. ``bulk_share`` caps
bulk at a share of the rate with a second GCRA key in the same script.

**When Redis fails** (refused, reset, hung, slow). Every call is bounded by
``op_timeout`` whatever the Redis client's own settings (redis-py's defaults can hang
about 60 s), and failures are :class:`~idenfy_async.errors.CoordinationError`:

* the quota degrades: it logs a warning and paces this process alone at
  ``fallback_share`` of the rate, asking Redis again every ``probe_interval``
  (``fallback_share=None`` raises instead);
* the cooldown degrades to this process's own copy (each process still honours the
  429s it sees itself);
* the Redis dedupe store refuses (raises): a webhook handler should answer 503 so
  iDenfy redelivers, rather than process an event twice;
* the session registry refuses (raises before anything is sent): a second session
  would be a second credit. After the request left, a failure to record its outcome
  is logged and the clientId turns unknown at its claim's lease end, never free.

**Open sessions.** One per clientId (:class:`SessionRegistry`): a claim in one
script (``pending`` with the claimer's random token and a lease), then ``open`` with
the session's shareable fields for the token's life, or ``unknown`` when the outcome
is ambiguous. A Redis lock cannot fence iDenfy: the claim only keeps well-behaved
processes from sending twice, so whatever could hide a session is ``unknown``.

A command that timed out may still run on the server later: each script is safe to
run twice (a duplicate quota reservation wastes a slot, never exceeds the rate; a
dedupe claim is keyed by a token of its own).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import logging
import math
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

import attrs

from ._limiter import _RATE_SPEC, RATE_UNITS, Cooldown, RateLimiter, parse_rate
from .errors import (
    ConfigurationError,
    CoordinationError,
    IdenfyError,
    ResponseDecodeError,
    SessionAlreadyOpenError,
    SessionOutcomeUnknownError,
)
from .models import Session

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_BULK_SHARE",
    "DEFAULT_CLAIM_LEASE",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_FALLBACK_SHARE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_DEDUPE_KEYS",
    "DEFAULT_OP_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PROBE_INTERVAL",
    "DEFAULT_SESSION_TTL",
    "KEY_PREFIX",
    "DedupeStore",
    "Grant",
    "MemoryDedupeStore",
    "Priority",
    "QuotaSchedule",
    "QuotaView",
    "RedisDedupeStore",
    "RedisQuota",
    "SessionRegistry",
    "SharedCooldown",
    "account_namespace",
    "connect",
    "request_digest",
]

logger = logging.getLogger("idenfy_async")
T = TypeVar("T")

#: Seconds one Redis call may take, connection included, before it counts as failed.
DEFAULT_OP_TIMEOUT: Final = 0.5
#: Seconds to open a connection to Redis (redis-py 8's default is 5 s, with retries).
DEFAULT_CONNECT_TIMEOUT: Final = 0.5
#: Connections :func:`connect` opens at most; more calls wait for one.
DEFAULT_MAX_CONNECTIONS: Final = 50
#: Bulk may use the whole quota by default: interactive calls go first anyway.
DEFAULT_BULK_SHARE: Final = 1.0
#: Without Redis each process paces itself at this share of the account's rate:
#: conservative, as it does not know how many others do the same.
DEFAULT_FALLBACK_SHARE: Final = 0.25
#: Seconds between attempts to reach Redis again while the quota is degraded.
DEFAULT_PROBE_INTERVAL: Final = 5.0
#: Seconds a webhook's dedupe key is kept. iDenfy's automatic redeliveries end within
#: about 100 s (up to 10 retries, each within 10 s); a day also covers a resend from
#: the dashboard the same day, and keeps memory bounded.
DEFAULT_DEDUPE_TTL: Final = 86_400.0
#: Keys the in-memory dedupe store keeps at most; the oldest go first beyond that.
DEFAULT_MAX_DEDUPE_KEYS: Final = 100_000
#: First part of every Redis key (then the hash of the API key).
KEY_PREFIX: Final = "idenfy"
#: Who is asking: interactive calls (a user waits) go before bulk ones.
Priority = Literal["interactive", "bulk"]

_PRIORITIES: Final = ("interactive", "bulk")
# The share of the window kept for interactive calls' head start, at most one token:
# 3 % keeps at least 97 % of the rate for small counts ("10/s").
_MAX_HEADROOM_SHARE: Final = 0.03


def account_namespace(api_key: str, *, prefix: str = KEY_PREFIX) -> str:
    """The hash-tagged key prefix of one account: ``{idenfy:<hash of the key>}``.

    Processes with the same API key share state; the key itself never reaches Redis.
    """
    if not api_key:
        raise ConfigurationError("an API key is needed to name the account's shared state")
    if not prefix or "{" in prefix or "}" in prefix:
        raise ConfigurationError("key_prefix must be non-empty, without braces (the hash tag)")
    digest = hashlib.sha256(b"idenfy-async account\0" + api_key.encode()).hexdigest()
    return "{" + prefix + ":" + digest[:32] + "}"


def connect(
    url: str,
    *,
    op_timeout: float = DEFAULT_OP_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> Redis:
    """A ``redis.asyncio.Redis`` for ``url`` with bounded timeouts; ``aclose()`` it.

    Socket and connect timeouts are explicit (redis-py's defaults retry a hung server
    for about a minute); one immediate retry, because ``from_url`` clients get none and
    would fail the first command after the server closed an idle connection. Beyond
    ``max_connections`` calls wait for a free connection (at most ``op_timeout``)
    instead of failing at once. The objects here also bound each call themselves, so
    a client built elsewhere is safe too.
    """
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "Redis support needs the redis package: pip install 'idenfy-async[redis]'"
        ) from exc
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=op_timeout,
            socket_timeout=op_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 1),
        )
    except ValueError:  # never echoed: the URL may hold a password
        raise ConfigurationError(
            "the Redis URL cannot be used: it must look like redis://[:password@]host:port/db"
            " (or rediss://, unix://)"
        ) from None
    client: Redis = Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
    return client


async def _run(operation: str, call: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """The one boundary to Redis: bounded in time, failures as CoordinationError."""
    try:
        if sys.version_info >= (3, 11):  # no task per call (wait_for makes one before 3.12)
            async with asyncio.timeout(timeout):
                return await call()
        return await asyncio.wait_for(call(), timeout)
    except asyncio.TimeoutError as exc:  # builtin TimeoutError from 3.11 on
        raise CoordinationError(operation, "timeout") from exc
    except Exception as exc:
        from redis.exceptions import RedisError

        if isinstance(exc, RedisError | OSError):
            raise CoordinationError(operation, type(exc).__name__) from exc
        raise


def _check_timeout(name: str, value: float) -> float:
    if not value > 0 or value == math.inf:
        raise ConfigurationError(f"{name} must be a positive number of seconds")
    return float(value)


# --------------------------------------------------------------------------- quota

# KEYS: tat, bulk tat, cooldown. ARGV: interval, tolerance, horizon, bulk interval
# (0: no bulk cap), 1 when bulk, and optionally the longest cooldown to wait out (us;
# negative or absent: any). Times in integer microseconds of the server's clock,
# formatted with %d (tostring loses digits above 1e14 in Lua 5.1). A slot is
# committed when it is at most `horizon` away; the reply is {committed, wait_us,
# slot_us}, where an uncommitted wait_us says when to ask again; {2, cooldown_us, 0}
# refuses, reserving nothing, when the cooldown outlasts what the caller may wait.
_QUOTA_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local bulk_interval = tonumber(ARGV[4])
local bulk = ARGV[5] == '1' and bulk_interval > 0
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


@attrs.frozen
class Grant:
    """One acquisition: when it may go, and how.

    ``slot`` is the Redis server's time (seconds since the epoch) of the reserved
    slot, ``None`` when the quota was degraded and paced locally; ``waited`` the
    seconds this acquisition slept. ``cooldown`` is set (seconds left) when nothing
    was taken because a shared cooldown outlasts ``take(max_cooldown=...)``.
    """

    slot: float | None
    waited: float
    cooldown: float = 0.0


@attrs.frozen
class QuotaSchedule:
    """The pace a :class:`RedisQuota` keeps for a rate, in microseconds.

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
    :attr:`interactive` and :attr:`bulk` are :class:`~idenfy_async.RateLimit` views
    to hand to ``AsyncIdenfy(rate_limit=...)``. A caller cancelled while it sleeps
    until its reserved slot leaves that slot unused (the rate is never exceeded, a
    slot is lost). Every Redis call is bounded by
    ``op_timeout``; when Redis fails, the quota paces this process alone at
    ``fallback_share`` of the rate (``None``: raise :class:`CoordinationError`).
    ``sleep`` and ``clock`` (the local fallback's) are injectable.
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
        self.schedule = schedule
        self.rate = schedule.rate
        self.bulk_share = float(bulk_share)
        self.fallback_share = fallback_share
        self.op_timeout = _check_timeout("op_timeout", op_timeout)
        self.probe_interval = _check_timeout("probe_interval", probe_interval)
        self.interval_us = schedule.interval_us
        self.tolerance_us = schedule.tolerance_us
        self.bulk_tolerance_us = schedule.bulk_tolerance_us
        self.horizon_us = schedule.horizon_us
        self.bulk_interval_us = schedule.bulk_interval_us
        namespace = account_namespace(api_key, prefix=key_prefix)
        self._keys = (f"{namespace}:gcra", f"{namespace}:gcra:bulk", f"{namespace}:cooldown")
        self._redis = redis
        self._script = redis.register_script(_QUOTA_SCRIPT)
        self._sleep = sleep
        self._clock = clock
        self._bulk_lock = asyncio.Lock()
        self._local = RateLimiter(self.rate * (fallback_share or 1.0), clock=clock, sleep=sleep)
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
        self.interactive = QuotaView(self, "interactive")
        self.bulk = QuotaView(self, "bulk")

    def __repr__(self) -> str:
        return f"RedisQuota({self.rate:g}/s, bulk_share={self.bulk_share:g})"

    @property
    def degraded(self) -> bool:
        """True while Redis failed recently and this process paces itself."""
        return self._degraded_until is not None

    async def acquire(self, priority: Priority = "interactive") -> None:
        """Wait for a slot of the account's quota and take it."""
        await self.take(priority)

    async def take(
        self, priority: Priority = "interactive", *, max_cooldown: float | None = None
    ) -> Grant:
        """Like :meth:`acquire`, and say which slot was taken.

        ``max_cooldown``: when a shared 429 cooldown has more seconds left than that,
        take nothing and return at once a :class:`Grant` saying how long it has left
        (the client then raises :class:`~idenfy_async.errors.RateLimitError` instead of
        waiting past a call's deadline).
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
        args = (*self._args[priority], max_cooldown_us)
        while True:
            if self._skipping_redis():  # failed while this one waited
                grant = await self._take_locally()
                return Grant(None, waited + grant.waited)
            try:
                reply = await _run(
                    "quota", lambda: self._script(keys=self._keys, args=args), self.op_timeout
                )
            except CoordinationError as exc:
                if self.fallback_share is None:
                    raise
                self._degrade(exc)
                grant = await self._take_locally()
                return Grant(None, waited + grant.waited)
            self._recover()
            committed, wait_us, slot_us = (int(x) for x in reply)
            if committed == 2:
                return Grant(None, waited, cooldown=wait_us / 1e6)
            wait = wait_us / 1e6
            if wait > 0:
                await self._sleep(wait)
                waited += wait
            if committed:
                return Grant(slot_us / 1e6, waited)

    def _skipping_redis(self) -> bool:
        return self._degraded_until is not None and self._clock() < self._degraded_until

    async def _take_locally(self) -> Grant:
        started = self._clock()
        await self._local.acquire()
        return Grant(None, self._clock() - started)

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
    """One priority of a :class:`RedisQuota`, as a :class:`~idenfy_async.RateLimit`."""

    quota: RedisQuota
    priority: Priority

    async def acquire(self) -> None:
        """Wait for a slot at this view's priority and take it."""
        await self.quota.take(self.priority)


# --------------------------------------------------------------------------- cooldown

# KEYS: cooldown. ARGV: milliseconds. Only ever lengthens; replies the ms left.
_EXTEND_SCRIPT: Final = """
local ms = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
  return ms
end
return left
"""
_REMAINING_SCRIPT: Final = "return redis.call('PTTL', KEYS[1])"


class SharedCooldown:
    """A 429 pause every process on the account waits out before sending.

    Shaped like the client's own cooldown (``remaining``, ``extend``, ``wait``),
    async because it asks Redis. It keeps a local copy: when Redis fails, each
    process still honours what it extended itself (a warning is logged, nothing
    raised), and Redis is left alone for ``probe_interval`` so a hung server costs
    one ``op_timeout``, not one per call. The quota reads the same key, so a
    :class:`RedisQuota` never grants a slot inside it.
    """

    def __init__(
        self,
        redis: Redis,
        api_key: str,
        *,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        key_prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.op_timeout = _check_timeout("op_timeout", op_timeout)
        self.probe_interval = _check_timeout("probe_interval", probe_interval)
        self._key = f"{account_namespace(api_key, prefix=key_prefix)}:cooldown"
        self._extend = redis.register_script(_EXTEND_SCRIPT)
        self._remaining = redis.register_script(_REMAINING_SCRIPT)
        self._local = Cooldown(clock, sleep)
        self._clock = clock
        self._sleep = sleep
        self._skip_until: float | None = None

    @property
    def degraded(self) -> bool:
        """True while Redis failed recently and only this process's copy counts."""
        return self._skip_until is not None

    async def remaining(self) -> float:
        """Seconds left of the longest cooldown any process started; 0 when none."""
        ms = await self._ask(lambda: self._remaining(keys=(self._key,)))
        shared = 0.0 if ms is None else max(0, int(ms)) / 1000
        return max(self._local.remaining, shared)

    async def extend(self, seconds: float) -> None:
        """Make sure no process sends for the next ``seconds`` (never shortens)."""
        self._local.extend(seconds)
        ms = math.ceil(seconds * 1000)
        if ms > 0:
            await self._ask(lambda: self._extend(keys=(self._key,), args=(ms,)))

    async def wait(self) -> None:
        """Return once no process's cooldown is running (at once when there is none)."""
        while (left := await self.remaining()) > 0:
            await self._sleep(left)

    async def _ask(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """The script's reply, or None while Redis is failing (warned once per outage)."""
        if self._skip_until is not None and self._clock() < self._skip_until:
            return None
        try:
            reply = await _run("cooldown", call, self.op_timeout)
        except CoordinationError as exc:
            if self._skip_until is None:
                logger.warning(
                    "Redis cooldown unavailable (%s): each process honours only its own"
                    " rate-limit answers until Redis answers again",
                    exc.reason,
                )
            self._skip_until = self._clock() + self.probe_interval
            return None
        if self._skip_until is not None:
            self._skip_until = None
            logger.warning("Redis cooldown available again: shared by every process")
        return reply


# --------------------------------------------------------------------------- dedupe


class DedupeStore(Protocol):
    """Remembers webhook ``dedupe_key``s so each event is processed once.

    ``claim`` is True for the first caller of a key (process it), False for a
    redelivery or a copy in flight elsewhere (acknowledge it, do nothing);
    ``release`` forgets a claim whose processing failed, so a redelivery is processed.
    """

    async def claim(self, key: str) -> bool: ...

    async def release(self, key: str) -> None: ...


class MemoryDedupeStore:
    """The one-process dedupe store: keys kept ``ttl`` seconds, at most ``max_keys``.

    Beyond ``max_keys`` the oldest keys are forgotten first (memory stays bounded; an
    event older than that may be processed again). Needs nothing installed.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_DEDUPE_TTL,
        max_keys: int = DEFAULT_MAX_DEDUPE_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = _check_timeout("ttl", ttl)
        if max_keys < 1:
            raise ConfigurationError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._clock = clock
        # Insertion order is expiry order (one ttl for all), so expired keys lead.
        self._expiry: collections.OrderedDict[str, float] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    async def claim(self, key: str) -> bool:
        """True the first time ``key`` is seen within ``ttl``."""
        now = self._clock()
        while self._expiry and next(iter(self._expiry.values())) <= now:
            self._expiry.popitem(last=False)
        if key in self._expiry:
            return False
        self._expiry[key] = now + self.ttl
        while len(self._expiry) > self.max_keys:
            self._expiry.popitem(last=False)
        return True

    async def release(self, key: str) -> None:
        """Forget ``key``: its next delivery is processed."""
        self._expiry.pop(key, None)


# KEYS: the dedupe key. ARGV: this claim's token, ttl ms. A retried or late-running
# copy of the same claim sees its own token and still answers "yours".
_CLAIM_SCRIPT: Final = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
if held == ARGV[1] then return 1 end
return 0
"""
_RELEASE_SCRIPT: Final = "return redis.call('DEL', KEYS[1])"


class RedisDedupeStore:
    """The dedupe store shared through Redis by every process with ``api_key``.

    ``SET NX`` with ``ttl`` (a day by default: far longer than iDenfy's redelivery
    window). When Redis fails it raises :class:`CoordinationError` instead of
    answering: answer the webhook 503 so iDenfy redelivers it later, rather than risk
    processing it twice.
    """

    def __init__(
        self,
        redis: Redis,
        api_key: str,
        *,
        ttl: float = DEFAULT_DEDUPE_TTL,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        self.ttl = _check_timeout("ttl", ttl)
        self.op_timeout = _check_timeout("op_timeout", op_timeout)
        self._namespace = account_namespace(api_key, prefix=key_prefix)
        self._claim = redis.register_script(_CLAIM_SCRIPT)
        self._release = redis.register_script(_RELEASE_SCRIPT)

    def _key(self, key: str) -> str:
        # Hashed: a dedupe key holds a scanRef, no reason to spread it into Redis.
        return f"{self._namespace}:wh:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    async def claim(self, key: str) -> bool:
        """True for the first claim of ``key`` by any process within ``ttl``."""
        token = secrets.token_hex(8)
        ms = math.ceil(self.ttl * 1000)
        reply = await _run(
            "dedupe",
            lambda: self._claim(keys=(self._key(key),), args=(token, ms)),
            self.op_timeout,
        )
        return int(reply) == 1

    async def release(self, key: str) -> None:
        """Forget ``key`` (its processing failed): the next delivery is processed."""
        await _run("dedupe", lambda: self._release(keys=(self._key(key),)), self.op_timeout)


# --------------------------------------------------------------------------- open sessions

#: Seconds a claim on a clientId lasts without news from its holder: a process that
#: died mid-create leaves the clientId "unknown" after this (never free).
DEFAULT_CLAIM_LEASE: Final = 300.0
#: Seconds between looks at a clientId another process is creating a session for.
DEFAULT_POLL_INTERVAL: Final = 0.05
#: Seconds an open session (or an unknown outcome) is remembered when neither the
#: answer nor the request says how long the token lives (iDenfy's default expiryTime).
DEFAULT_SESSION_TTL: Final = 86_400.0

_Claimed = Literal["lead", "open", "unknown", "pending"]


def request_digest(body: bytes, key: bytes = b"") -> str:
    """What makes two create requests "the same": a digest of the exact wire body.

    HMAC-SHA256 under ``key`` (the registry derives one from the API key, so what
    Redis holds cannot be matched against guessed personal data).
    """
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _account_key(api_key: str) -> bytes:
    """A secret per account, never stored: keys the hashes of clientIds and requests."""
    return hashlib.sha256(b"idenfy-async sessions\0" + api_key.encode()).digest()


@attrs.frozen
class _Seen:
    """What a claim on a clientId found."""

    state: _Claimed
    digest: str | None = None
    session: Session | None = None


class _Follow(Exception):
    """Raised from ``before_send`` by a claim this call does not hold: nothing is sent."""

    def __init__(self, seen: _Seen) -> None:
        super().__init__(seen.state)
        self.seen = seen


class _SessionStore(Protocol):
    async def claim(
        self, client_id: str, digest: str, owner: str, lease: float, ttl: float
    ) -> _Seen: ...

    async def commit(
        self, client_id: str, owner: str, digest: str, session: Session, ttl: float
    ) -> None: ...

    async def release(self, client_id: str, owner: str) -> None: ...

    async def mark_unknown(self, client_id: str, owner: str, ttl: float) -> None: ...

    async def close(self, client_id: str, scan_ref: str) -> bool: ...

    async def forget(self, client_id: str) -> None: ...


@attrs.define
class _Entry:
    state: _Claimed
    owner: str
    digest: str
    expires: float
    lease: float = 0.0
    session: Session | None = None


class _MemorySessions:
    """One process's open sessions, on its monotonic clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def _live(self, client_id: str) -> _Entry | None:
        entry = self._entries.get(client_id)
        if entry is not None and entry.expires <= self._clock():
            del self._entries[client_id]
            return None
        return entry

    async def claim(
        self, client_id: str, digest: str, owner: str, lease: float, ttl: float
    ) -> _Seen:
        now = self._clock()
        entry = self._live(client_id)
        if entry is None:
            self._entries[client_id] = _Entry(
                "pending", owner, digest, now + lease + ttl, now + lease
            )
            return _Seen("lead")
        if entry.state == "pending":
            if entry.owner == owner:
                return _Seen("lead")
            if entry.lease < now:
                entry.state = "unknown"
                return _Seen("unknown")
            return _Seen("pending")
        return _Seen(entry.state, entry.digest, entry.session)

    async def commit(
        self, client_id: str, owner: str, digest: str, session: Session, ttl: float
    ) -> None:
        entry = self._live(client_id)
        if entry is None or entry.state == "unknown" or entry.owner == owner:
            self._entries[client_id] = _Entry(
                "open", owner, digest, self._clock() + ttl, session=session
            )

    async def release(self, client_id: str, owner: str) -> None:
        entry = self._live(client_id)
        if entry is not None and entry.state == "pending" and entry.owner == owner:
            del self._entries[client_id]

    async def mark_unknown(self, client_id: str, owner: str, ttl: float) -> None:
        entry = self._live(client_id)
        if entry is None or (entry.state == "pending" and entry.owner == owner):
            self._entries[client_id] = _Entry("unknown", owner, "", self._clock() + ttl)

    async def close(self, client_id: str, scan_ref: str) -> bool:
        entry = self._live(client_id)
        if entry is not None and entry.session is not None and entry.session.scan_ref == scan_ref:
            del self._entries[client_id]
            return True
        return False

    async def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)


# One hash per clientId: st (pending/open/unknown), own (the claim's random token),
# dg (the request digest), lease (server ms), and for an open session its shareable
# fields. Times from the server's clock. Every script is safe to run twice.
_SESSION_CLAIM_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local st = redis.call('HGET', KEYS[1], 'st')
if not st then
  redis.call('HSET', KEYS[1], 'st', 'pending', 'own', ARGV[1], 'dg', ARGV[2],
    'lease', string.format('%d', now + tonumber(ARGV[3])))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]))
  return {'lead'}
end
if st == 'pending' then
  if redis.call('HGET', KEYS[1], 'own') == ARGV[1] then return {'lead'} end
  if tonumber(redis.call('HGET', KEYS[1], 'lease')) < now then
    redis.call('HSET', KEYS[1], 'st', 'unknown')
    return {'unknown'}
  end
  return {'pending'}
end
if st == 'open' then
  local v = redis.call('HMGET', KEYS[1], 'dg', 'tok', 'ref', 'url', 'dig', 'exp', 'len')
  local out = {'open'}
  for i = 1, 7 do out[i + 1] = v[i] or '' end
  return out
end
return {st}
"""
_SESSION_COMMIT_SCRIPT: Final = """
local st = redis.call('HGET', KEYS[1], 'st')
if st and st ~= 'unknown' and redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'st', 'open', 'own', ARGV[1], 'dg', ARGV[3], 'tok', ARGV[4],
  'ref', ARGV[5], 'url', ARGV[6], 'dig', ARGV[7], 'exp', ARGV[8], 'len', ARGV[9])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""
_SESSION_RELEASE_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'st') == 'pending'
  and redis.call('HGET', KEYS[1], 'own') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_SESSION_UNKNOWN_SCRIPT: Final = """
local st = redis.call('HGET', KEYS[1], 'st')
if st and not (st == 'pending' and redis.call('HGET', KEYS[1], 'own') == ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'st', 'unknown', 'own', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""
_SESSION_CLOSE_SCRIPT: Final = """
if redis.call('HGET', KEYS[1], 'st') == 'open'
  and redis.call('HGET', KEYS[1], 'ref') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _RedisSessions:
    """Open sessions shared through Redis by every process with the API key.

    The authToken is stored (it is what a second process hands out) with a TTL of the
    token's life, and never logged; personal data echoed in the answer is not stored.
    """

    def __init__(self, redis: Redis, api_key: str, op_timeout: float, key_prefix: str) -> None:
        self.op_timeout = op_timeout
        self._namespace = account_namespace(api_key, prefix=key_prefix)
        self._secret = _account_key(api_key)
        self._claim = redis.register_script(_SESSION_CLAIM_SCRIPT)
        self._commit = redis.register_script(_SESSION_COMMIT_SCRIPT)
        self._release = redis.register_script(_SESSION_RELEASE_SCRIPT)
        self._unknown = redis.register_script(_SESSION_UNKNOWN_SCRIPT)
        self._close = redis.register_script(_SESSION_CLOSE_SCRIPT)
        self._redis = redis

    def key(self, client_id: str) -> str:
        # Keyed hash: a clientId is often a guessable user id; not spread into Redis.
        digest = request_digest(client_id.encode("utf-8", "surrogatepass"), self._secret)[:32]
        return f"{self._namespace}:sess:{digest}"

    async def _call(self, script: Any, client_id: str, *args: Any) -> Any:
        keys = (self.key(client_id),)
        return await _run("session", lambda: script(keys=keys, args=args), self.op_timeout)

    async def claim(
        self, client_id: str, digest: str, owner: str, lease: float, ttl: float
    ) -> _Seen:
        reply = await self._call(self._claim, client_id, owner, digest, _ms(lease), _ms(ttl))
        fields = [_text(x) for x in reply]
        state = fields[0]
        if state == "open":
            dg, tok, ref, url, dig, exp, length = fields[1:8]
            session = Session(
                auth_token=tok,
                scan_ref=ref,
                client_id=client_id,
                redirect_url=url or None,
                digit_string=dig or None,
                expiry_time=int(exp) if exp else None,
                session_length=int(length) if length else None,
            )
            return _Seen("open", dg, session)
        if state not in ("lead", "unknown", "pending"):
            raise CoordinationError("session", "unexpected reply")
        return _Seen(state)  # type: ignore[arg-type]

    async def commit(
        self, client_id: str, owner: str, digest: str, session: Session, ttl: float
    ) -> None:
        await self._call(
            self._commit,
            client_id,
            owner,
            _ms(ttl),
            digest,
            session.auth_token,
            session.scan_ref,
            session.redirect_url or "",
            session.digit_string or "",
            "" if session.expiry_time is None else str(session.expiry_time),
            "" if session.session_length is None else str(session.session_length),
        )

    async def release(self, client_id: str, owner: str) -> None:
        await self._call(self._release, client_id, owner)

    async def mark_unknown(self, client_id: str, owner: str, ttl: float) -> None:
        await self._call(self._unknown, client_id, owner, _ms(ttl))

    async def close(self, client_id: str, scan_ref: str) -> bool:
        return int(await self._call(self._close, client_id, scan_ref)) == 1

    async def forget(self, client_id: str) -> None:
        key = self.key(client_id)
        await _run("session", lambda: self._redis.delete(key), self.op_timeout)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class SessionRegistry:
    """One open session per clientId: who may create, and what the others get.

    In memory (``redis=None``) it covers one process; with Redis, every process with
    ``api_key``. The client uses it for ``AsyncIdenfy(single_session=True)`` and for
    bulk runs with Redis; call :meth:`create` yourself only to wrap another creator.

    * Concurrent creates for one clientId send one request (the *leader*'s); the
      others get its :class:`~idenfy_async.Session` (in this process the same object;
      in another one a copy with authToken, scanRef, redirectUrl, digitString,
      expiryTime and sessionLength: echoed personal data is not shared).
    * While that session is open (its token not expired; no final webhook passed to
      :meth:`close`), a new create for the clientId returns it when the request is
      the same (same :func:`request_digest` of the wire body), else raises
      :class:`~idenfy_async.errors.SessionAlreadyOpenError` carrying it.
    * A leader whose outcome is ambiguous (a session may exist; its process died; it
      was cancelled after sending) leaves the clientId *unknown*, never free: creates
      raise :class:`~idenfy_async.errors.SessionOutcomeUnknownError` until
      :meth:`forget` (after ``client.reconcile_session``) or the token's expiry.
      A claim lasts ``claim_lease`` seconds without news; then it is unknown.
    * Redis failing (down, slow) refuses: the claim raises
      :class:`~idenfy_async.errors.CoordinationError` and nothing is sent. Failures
      after the request left are logged; the claim then turns unknown at its lease's
      end, never free.
    """

    def __init__(
        self,
        redis: Redis | None = None,
        api_key: str | None = None,
        *,
        claim_lease: float = DEFAULT_CLAIM_LEASE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        key_prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.claim_lease = _check_timeout("claim_lease", claim_lease)
        self.poll_interval = _check_timeout("poll_interval", poll_interval)
        self._store: _SessionStore
        if redis is None:
            self._store = _MemorySessions(clock)
        else:
            self._store = _RedisSessions(
                redis, api_key or "", _check_timeout("op_timeout", op_timeout), key_prefix
            )
        self.shared = redis is not None
        self._secret = _account_key(api_key or "")
        self._clock = clock
        self._sleep = sleep
        self._flights: dict[str, asyncio.Future[tuple[str, Session] | None]] = {}

    def __repr__(self) -> str:
        return f"SessionRegistry(shared={self.shared}, in_flight={len(self._flights)})"

    async def create(
        self,
        client_id: str,
        body: bytes,
        send: Callable[[Callable[[], Awaitable[None]]], Awaitable[Session]],
        *,
        expiry_time: int | None = None,
        deadline: float | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        """The clientId's one open session: created by ``send(hook)``, or found.

        ``send`` must await ``hook`` right before its request leaves and send nothing
        if it raises (``AsyncIdenfy``'s ``before_send``); ``before_send`` runs inside
        that hook once the claim is held. ``deadline``: seconds this call may wait
        for another one creating the same clientId.
        """
        digest = request_digest(body, self._secret)
        end = None if deadline is None else self._clock() + deadline
        while True:
            flight = self._flights.get(client_id)
            if flight is None:
                break
            try:
                outcome = await self._bounded(asyncio.shield(flight), end)
            except asyncio.TimeoutError:
                raise SessionOutcomeUnknownError(client_id, in_flight=True) from None
            if outcome is not None and outcome[0] == digest:
                return outcome[1]  # the leader's own Session
        future: asyncio.Future[tuple[str, Session] | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._flights[client_id] = future
        result: tuple[str, Session] | None = None
        try:
            session = await self._lead(
                client_id, digest, send, expiry_time, deadline, end, before_send
            )
            result = (digest, session)
            return session
        finally:
            del self._flights[client_id]
            future.set_result(result)

    async def _bounded(self, awaitable: Awaitable[T], end: float | None) -> T:
        if end is None:
            return await awaitable
        return await asyncio.wait_for(awaitable, max(0.0, end - self._clock()))

    async def _lead(
        self,
        client_id: str,
        digest: str,
        send: Callable[[Callable[[], Awaitable[None]]], Awaitable[Session]],
        expiry_time: int | None,
        deadline: float | None,
        end: float | None,
        before_send: Callable[[], Awaitable[None]] | None,
    ) -> Session:
        store = self._store
        owner = secrets.token_hex(16)
        ttl = float(expiry_time) if expiry_time else DEFAULT_SESSION_TTL
        lease = max(self.claim_lease, (deadline or 0.0) + 30.0)
        held = sent = False

        async def hook() -> None:
            nonlocal held, sent
            seen = await store.claim(client_id, digest, owner, lease, ttl)  # raises: nothing sent
            if seen.state != "lead":
                raise _Follow(seen)
            held = True
            if before_send is not None:
                await before_send()  # it raising: nothing is sent, the claim is released
            sent = True

        while True:
            try:
                session = await send(hook)
            except _Follow as follow:
                seen = follow.seen
                while seen.state == "pending":  # another process is creating it
                    if end is not None and self._clock() >= end:
                        raise SessionOutcomeUnknownError(client_id, in_flight=True) from None
                    await self._sleep(self.poll_interval)
                    seen = await store.claim(client_id, digest, owner, lease, ttl)
                if seen.state == "open":
                    assert seen.session is not None
                    if seen.digest == digest:
                        return seen.session
                    raise SessionAlreadyOpenError(client_id, seen.session) from None
                if seen.state == "unknown":
                    raise SessionOutcomeUnknownError(client_id) from None
                # The other one failed cleanly and the claim is ours now: held, so a
                # failure before our request leaves (pacing, cancellation) frees it.
                held = True
                continue
            except BaseException as exc:
                if held:
                    await self._settle(
                        self._after_failure(exc, sent, client_id, owner, digest, ttl)
                    )
                raise
            open_for = float(session.expiry_time) if session.expiry_time else ttl
            await self._settle(store.commit(client_id, owner, digest, session, open_for))
            return session

    def _after_failure(
        self, exc: BaseException, sent: bool, client_id: str, owner: str, digest: str, ttl: float
    ) -> Awaitable[None]:
        """What a held claim becomes when the create raised ``exc``."""
        store = self._store
        if isinstance(exc, ResponseDecodeError) and exc.scan_ref and exc.auth_token:
            # Created, and its token read, although the rest of the answer was not:
            # the session is open (bulk records it created).
            partial = Session(auth_token=exc.auth_token, scan_ref=exc.scan_ref, client_id=client_id)
            return store.commit(client_id, owner, digest, partial, ttl)
        if sent and (not isinstance(exc, IdenfyError) or exc.ambiguous):
            return store.mark_unknown(client_id, owner, ttl)  # a session may exist
        return store.release(client_id, owner)  # nothing was created

    async def _settle(self, step: Awaitable[Any]) -> None:
        """Record a leader's outcome, even when its caller is being cancelled."""
        task = asyncio.ensure_future(step)
        try:
            await asyncio.shield(task)
        except CoordinationError as exc:
            logger.warning(
                "could not record a session outcome in Redis (%s): the clientId turns"
                " unknown when its claim's lease ends",
                exc.reason,
            )
        except asyncio.CancelledError:
            task.add_done_callback(_swallow)
            raise

    async def close(self, client_id: str, scan_ref: str) -> bool:
        """Mark the clientId's open session ``scan_ref`` closed (its final webhook came).

        True when it was the open one; a new create for the clientId is then sent.
        """
        return await self._store.close(client_id, scan_ref)

    async def forget(self, client_id: str) -> None:
        """Forget whatever is known about the clientId (after reconciling an unknown)."""
        await self._store.forget(client_id)


def _swallow(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
