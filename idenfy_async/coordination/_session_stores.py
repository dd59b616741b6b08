"""Where the session registry keeps its claims: one process's memory, or Redis.

Both stores take the same six calls (claim, commit, release, mark_unknown, close,
forget) and answer with the same states (``lead``, ``pending``, ``open``, ``unknown``);
:class:`~idenfy_async.coordination.SessionRegistry` decides what to do with them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import attrs

from idenfy_async.errors import CoordinationError
from idenfy_async.models import Session

from ._redis import _run, account_namespace

if TYPE_CHECKING:
    from redis.asyncio import Redis

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
        self.op_timeout: float = op_timeout
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
