"""The 429 cooldown every process on the account waits out (:class:`SharedCooldown`)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from .._send.calllog import fields
from .._send.limits import Cooldown
from ..errors import CoordinationError
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
        self.op_timeout: float = _check_timeout("op_timeout", op_timeout)
        self.probe_interval: float = _check_timeout("probe_interval", probe_interval)
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
                    extra=fields(),
                )
            self._skip_until = self._clock() + self.probe_interval
            return None
        if self._skip_until is not None:
            self._skip_until = None
            logger.warning(
                "Redis cooldown available again: shared by every process", extra=fields()
            )
        return reply
