"""Where the session registry keeps its claims: one process's memory, or Redis.

Both stores take the same seven calls (claim, confirm, commit, release, mark_unknown,
close, forget) and answer with the same states (``lead``, ``pending``, ``open``,
``unknown``); [`SessionRegistry`][idenfy_async.coordination.SessionRegistry] decides what to do
with them. A claim is written unconfirmed, lapsing after a short ``window``; only a
`confirm` that answered (within that window) lets its holder send and turns it
into a lease that ends "unknown". The Redis store also watches the account's epoch:
see the package docstring for why both exist.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import attrs

from ..errors import CoordinationError
from ..models import Session
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
        self, client_id: str, digest: str, owner: str, window: float, ttl: float
    ) -> _Seen: ...

    async def confirm(self, client_id: str, owner: str, lease: float, ttl: float) -> bool: ...

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
    confirmed: bool = False


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
        self, client_id: str, digest: str, owner: str, window: float, ttl: float
    ) -> _Seen:
        now = self._clock()
        entry = self._live(client_id)
        if (
            entry is not None
            and entry.state == "pending"
            and not entry.confirmed
            and (entry.lease < now or entry.owner == owner)
        ):
            entry = None  # never confirmed: nothing was sent under it
        if entry is None:
            self._entries[client_id] = _Entry("pending", owner, digest, now + window, now + window)
            return _Seen("lead")
        if entry.state == "pending":
            if entry.owner == owner:
                return _Seen("lead")
            if entry.lease < now:
                entry.state = "unknown"
                return _Seen("unknown")
            return _Seen("pending")
        return _Seen(entry.state, entry.digest, entry.session)

    async def confirm(self, client_id: str, owner: str, lease: float, ttl: float) -> bool:
        now = self._clock()
        entry = self._live(client_id)
        if entry is None or entry.state != "pending" or entry.owner != owner:
            return False
        if not entry.confirmed and entry.lease < now:
            return False
        entry.confirmed = True
        entry.lease = now + lease
        entry.expires = now + lease + ttl
        return True

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
# dg (the request digest), lease (server ms), cf ("1" once its holder confirmed it),
# and for an open session its shareable fields. Times from the server's clock. Every
# script is safe to run twice, and late: a claim command that timed out and runs
# afterwards writes only an unconfirmed claim, which lapses after `window` ms.
#
# KEYS: the clientId's hash, the account's epoch hash (id, born, until: server ms).
# ARGV: owner, digest, window ms, ttl ms, the epoch this store last saw ('' if none),
# a new random epoch id, quarantine ms. Replies {state, epoch id, ...}.
_SESSION_CLAIM_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[2], 'id')
if not epoch then
  -- first use, or Redis lost its data: a store that knew an older epoch says which
  local q = 0
  if ARGV[5] ~= '' then q = now + tonumber(ARGV[7]) end
  redis.call('HSET', KEYS[2], 'id', ARGV[6], 'born', string.format('%d', now),
    'until', string.format('%d', q))
  epoch = ARGV[6]
elseif ARGV[5] ~= '' and epoch ~= ARGV[5] then
  -- made anew by a process that did not know the lost one: quarantine from its birth
  local q = tonumber(redis.call('HGET', KEYS[2], 'born') or now) + tonumber(ARGV[7])
  if tonumber(redis.call('HGET', KEYS[2], 'until') or '0') < q then
    redis.call('HSET', KEYS[2], 'until', string.format('%d', q))
  end
end
local st = redis.call('HGET', KEYS[1], 'st')
local mine = st and redis.call('HGET', KEYS[1], 'own') == ARGV[1]
-- cf absent: written by a version that sent after its claim alone, so confirmed
local confirmed = redis.call('HGET', KEYS[1], 'cf') ~= '0'
local lapsed = st == 'pending' and tonumber(redis.call('HGET', KEYS[1], 'lease')) < now
local renewed = false
if st == 'pending' and not confirmed and (lapsed or mine) then
  -- never confirmed: its holder sent nothing (a lapsed one gave up; ours is renewed,
  -- and being a record of this epoch, it passes a quarantine)
  renewed = mine
  redis.call('DEL', KEYS[1])
  st = nil
end
local forgotten = st == 'free'  -- forgotten during a quarantine: known to be free
if forgotten then
  redis.call('DEL', KEYS[1])
  st = nil
end
if not st then
  if not forgotten and not renewed
    and now < tonumber(redis.call('HGET', KEYS[2], 'until') or '0') then
    return {'unknown', epoch}  -- its claim may have been lost with the old epoch
  end
  redis.call('HSET', KEYS[1], 'st', 'pending', 'own', ARGV[1], 'dg', ARGV[2],
    'lease', string.format('%d', now + tonumber(ARGV[3])), 'cf', '0')
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return {'lead', epoch}
end
if st == 'pending' then
  if mine then return {'lead', epoch} end
  if lapsed then
    redis.call('HSET', KEYS[1], 'st', 'unknown')
    return {'unknown', epoch}
  end
  return {'pending', epoch}
end
if st == 'open' then
  local v = redis.call('HMGET', KEYS[1], 'dg', 'tok', 'ref', 'url', 'dig', 'exp', 'len')
  local out = {'open', epoch}
  for i = 1, 7 do out[i + 2] = v[i] or '' end
  return out
end
return {st, epoch}
"""
# KEYS: the clientId's hash. ARGV: owner, lease ms, ttl ms. 1 when the claim is its
# owner's and confirmed now (its window not passed); 0: send nothing.
_SESSION_CONFIRM_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HGET', KEYS[1], 'st') ~= 'pending'
  or redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'cf') == '0'
  and tonumber(redis.call('HGET', KEYS[1], 'lease')) < now then return 0 end
redis.call('HSET', KEYS[1], 'cf', '1', 'lease', string.format('%d', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
return 1
"""
_SESSION_COMMIT_SCRIPT: Final = """
local st = redis.call('HGET', KEYS[1], 'st')
if st and st ~= 'unknown' and st ~= 'free'
  and redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then return 0 end
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
if st and st ~= 'free'
  and not (st == 'pending' and redis.call('HGET', KEYS[1], 'own') == ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'st', 'unknown', 'own', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""
# KEYS: the clientId's hash, the epoch hash. Forgets the clientId; during a quarantine
# it leaves 'free' until the quarantine's end, so the clientId is not unknown again.
_SESSION_FORGET_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[1])
local q = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
if now < q then
  redis.call('HSET', KEYS[1], 'st', 'free')
  redis.call('PEXPIRE', KEYS[1], q - now)
end
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

    def __init__(
        self, redis: Redis, api_key: str, op_timeout: float, key_prefix: str, quarantine: float
    ) -> None:
        self.op_timeout: float = op_timeout
        self._namespace = account_namespace(api_key, prefix=key_prefix)
        self._epoch_key = f"{self._namespace}:epoch"
        self._secret = _account_key(api_key)
        self._quarantine = quarantine
        self._epoch = ""  # the epoch this store last saw: none yet
        self._claim = redis.register_script(_SESSION_CLAIM_SCRIPT)
        self._confirm = redis.register_script(_SESSION_CONFIRM_SCRIPT)
        self._forget = redis.register_script(_SESSION_FORGET_SCRIPT)
        self._commit = redis.register_script(_SESSION_COMMIT_SCRIPT)
        self._release = redis.register_script(_SESSION_RELEASE_SCRIPT)
        self._unknown = redis.register_script(_SESSION_UNKNOWN_SCRIPT)
        self._close = redis.register_script(_SESSION_CLOSE_SCRIPT)
        self._redis = redis

    def key(self, client_id: str) -> str:
        # Keyed hash: a clientId is often a guessable user id; not spread into Redis.
        digest = request_digest(client_id.encode("utf-8", "surrogatepass"), self._secret)[:32]
        return f"{self._namespace}:sess:{digest}"

    async def _call(self, script: Any, client_id: str, *args: Any, epoch: bool = False) -> Any:
        keys = (self.key(client_id), self._epoch_key) if epoch else (self.key(client_id),)
        return await _run("session", lambda: script(keys=keys, args=args), self.op_timeout)

    async def claim(
        self, client_id: str, digest: str, owner: str, window: float, ttl: float
    ) -> _Seen:
        reply = await self._call(
            self._claim,
            client_id,
            owner,
            digest,
            _ms(window),
            _ms(ttl),
            self._epoch,
            secrets.token_hex(16),
            _ms(self._quarantine),
            epoch=True,
        )
        fields = [_text(x) for x in reply]
        state = fields[0]
        self._epoch = fields[1]
        if state == "open":
            dg, tok, ref, url, dig, exp, length = fields[2:9]
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

    async def confirm(self, client_id: str, owner: str, lease: float, ttl: float) -> bool:
        return int(await self._call(self._confirm, client_id, owner, _ms(lease), _ms(ttl))) == 1

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
        await self._call(self._forget, client_id, epoch=True)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
