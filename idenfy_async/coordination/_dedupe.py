"""Webhook dedupe stores: each event processed once, in one process or across many."""

from __future__ import annotations

import collections
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from ..errors import ConfigurationError, CoordinationError
from ._redis import (
    DEFAULT_OP_TIMEOUT,
    KEY_PREFIX,
    _check_timeout,
    _run,
    account_namespace,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Seconds a processed webhook's dedupe key is kept. iDenfy's automatic redeliveries
#: end within about 100 s (up to 10 retries, each within 10 s); a day also covers a
#: resend from the dashboard the same day, and keeps memory bounded.
DEFAULT_DEDUPE_TTL: Final = 86_400.0
#: Seconds a claim holds its key while its event is processed: longer than processing
#: (a webhook must be answered within 10 s), short enough that a claim abandoned by a
#: crash, or one that timed out and ran late on the server, frees the key for
#: iDenfy's next redelivery.
DEFAULT_DEDUPE_LEASE: Final = 30.0
#: Keys the in-memory dedupe store keeps at most; the oldest go first beyond that.
DEFAULT_MAX_DEDUPE_KEYS: Final = 100_000

_IN_PROGRESS: Final = "in progress elsewhere"


class DedupeStore(Protocol):
    """Remembers webhook ``dedupe_key``s so each event is processed once.

    ``claim`` is True when the caller should process the event (the key is held
    for it for a short lease), False when it was processed already (acknowledge it,
    do nothing). While another caller holds the key, ``claim`` raises
    [`CoordinationError`][idenfy_async.CoordinationError] (``reason`` ``"in progress
    elsewhere"``): answer 503, so iDenfy delivers it again, and it is either done
    by then or its claim was abandoned and lapsed. After processing, ``complete``
    marks the key done (kept ``ttl``); ``release`` gives it up when processing
    failed, so the next delivery is processed.
    """

    async def claim(self, key: str) -> bool: ...

    async def complete(self, key: str) -> None: ...

    async def release(self, key: str) -> None: ...


class MemoryDedupeStore:
    """The one-process dedupe store: done keys kept ``ttl`` seconds, at most ``max_keys``.

    A claim holds its key for ``lease`` seconds until
    [`complete`][idenfy_async.coordination.MemoryDedupeStore.complete] or
    [`release`][idenfy_async.coordination.MemoryDedupeStore.release]. Beyond ``max_keys`` the oldest
    keys are forgotten first (memory stays bounded; an event older than that may be processed
    again). Needs nothing installed.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_DEDUPE_TTL,
        lease: float = DEFAULT_DEDUPE_LEASE,
        max_keys: int = DEFAULT_MAX_DEDUPE_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl: float = _check_timeout("ttl", ttl)
        self.lease: float = _check_timeout("lease", lease)
        if max_keys < 1:
            raise ConfigurationError("max_keys must be at least 1")
        self.max_keys: int = max_keys
        self._clock = clock
        # key -> (expiry, done). Kept in insertion order; expired ones are dropped as
        # they are met, and the oldest first when over max_keys.
        self._keys: collections.OrderedDict[str, tuple[float, bool]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def _put(self, key: str, expiry: float, done: bool) -> None:
        self._keys.pop(key, None)
        self._keys[key] = (expiry, done)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    async def claim(self, key: str) -> bool:
        """True: process it (held ``lease`` s); False: done; raises while in progress."""
        now = self._clock()
        while self._keys and next(iter(self._keys.values()))[0] <= now:
            self._keys.popitem(last=False)
        seen = self._keys.get(key)
        if seen is not None and seen[0] > now:
            if seen[1]:
                return False
            raise CoordinationError("dedupe", _IN_PROGRESS)
        self._put(key, now + self.lease, False)
        return True

    async def complete(self, key: str) -> None:
        """``key``'s event was processed: later deliveries are duplicates for ``ttl``."""
        self._put(key, self._clock() + self.ttl, True)

    async def release(self, key: str) -> None:
        """Give up a claim (processing failed): the next delivery is processed."""
        seen = self._keys.get(key)
        if seen is not None and not seen[1]:
            del self._keys[key]


# KEYS: the dedupe key. ARGV: this claim's token, lease ms. The value is "p:<token>"
# while a claim holds it, "d" once done. Replies 1 (yours: also when a retried or
# late-running copy of the same claim finds its own token), 0 (done; also a bare
# token, which earlier versions kept for a day once claimed), -1 (another claim holds
# it). A claim that timed out and ran late holds a token nobody has, for its lease only.
_CLAIM_SCRIPT: Final = """
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
if held == 'p:' .. ARGV[1] then return 1 end
if string.sub(held, 1, 2) == 'p:' then return -1 end
return 0
"""
# KEYS: the dedupe key. ARGV: ttl ms. Done, whoever held it: the event was processed.
_COMPLETE_SCRIPT: Final = "return redis.call('SET', KEYS[1], 'd', 'PX', tonumber(ARGV[1]))"
# KEYS: the dedupe key. ARGV: the token. Only the holder's own claim is deleted.
_RELEASE_SCRIPT: Final = """
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisDedupeStore:
    """The dedupe store shared through Redis by every process with ``api_key``.

    A claim holds the key for ``lease`` seconds under a random token of the claim
    (remembered here until [`complete`][idenfy_async.coordination.RedisDedupeStore.complete] or
    [`release`][idenfy_async.coordination.RedisDedupeStore.release]); done keys are kept ``ttl`` (a
    day by default: far longer than iDenfy's redelivery window). When Redis fails it raises
    [`CoordinationError`][idenfy_async.CoordinationError] instead of answering: answer the webhook
    503 so iDenfy redelivers it later, rather than risk processing it twice. A claim that timed out
    may still run when Redis wakes up; it holds the key for its lease only, and meanwhile deliveries
    are told "in progress" (503), never "done".
    """

    def __init__(
        self,
        redis: Redis,
        api_key: str,
        *,
        ttl: float = DEFAULT_DEDUPE_TTL,
        lease: float = DEFAULT_DEDUPE_LEASE,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        self.ttl: float = _check_timeout("ttl", ttl)
        self.lease: float = _check_timeout("lease", lease)
        self.op_timeout: float = _check_timeout("op_timeout", op_timeout)
        self._namespace = account_namespace(api_key, prefix=key_prefix)
        self._claim = redis.register_script(_CLAIM_SCRIPT)
        self._complete = redis.register_script(_COMPLETE_SCRIPT)
        self._release = redis.register_script(_RELEASE_SCRIPT)
        self._tokens: dict[str, str] = {}  # keys this store holds -> their claim's token

    def _key(self, key: str) -> str:
        # Hashed: a dedupe key holds a scanRef, no reason to spread it into Redis.
        return f"{self._namespace}:wh:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    async def claim(self, key: str) -> bool:
        """True: process it (held ``lease`` s); False: done; raises while in progress."""
        token = secrets.token_hex(8)
        ms = math.ceil(self.lease * 1000)
        reply = int(
            await _run(
                "dedupe",
                lambda: self._claim(keys=(self._key(key),), args=(token, ms)),
                self.op_timeout,
            )
        )
        if reply == 1:
            self._tokens[key] = token
            return True
        if reply == 0:
            return False
        raise CoordinationError("dedupe", _IN_PROGRESS)

    async def complete(self, key: str) -> None:
        """``key``'s event was processed: later deliveries are duplicates for ``ttl``."""
        ms = math.ceil(self.ttl * 1000)
        await _run(
            "dedupe",
            lambda: self._complete(keys=(self._key(key),), args=(ms,)),
            self.op_timeout,
        )
        self._tokens.pop(key, None)

    async def release(self, key: str) -> None:
        """Give up this store's claim (processing failed): the next delivery is processed.

        A claim of another store, or a done key, is left alone.
        """
        token = self._tokens.pop(key, None)
        if token is None:
            return
        await _run(
            "dedupe",
            lambda: self._release(keys=(self._key(key),), args=(token,)),
            self.op_timeout,
        )
