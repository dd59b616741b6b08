"""Webhook dedupe stores: each event processed once, in one process or across many."""

from __future__ import annotations

import collections
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from idenfy_async.errors import ConfigurationError

from ._redis import DEFAULT_OP_TIMEOUT, KEY_PREFIX, _check_timeout, _run, account_namespace

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Seconds a webhook's dedupe key is kept. iDenfy's automatic redeliveries end within
#: about 100 s (up to 10 retries, each within 10 s); a day also covers a resend from
#: the dashboard the same day, and keeps memory bounded.
DEFAULT_DEDUPE_TTL: Final = 86_400.0
#: Keys the in-memory dedupe store keeps at most; the oldest go first beyond that.
DEFAULT_MAX_DEDUPE_KEYS: Final = 100_000


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
        self.ttl: float = _check_timeout("ttl", ttl)
        if max_keys < 1:
            raise ConfigurationError("max_keys must be at least 1")
        self.max_keys: int = max_keys
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
        self.ttl: float = _check_timeout("ttl", ttl)
        self.op_timeout: float = _check_timeout("op_timeout", op_timeout)
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
