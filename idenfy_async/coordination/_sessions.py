"""One open session per clientId ([`SessionRegistry`][idenfy_async.coordination.SessionRegistry]),
on either store."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .._send.calllog import fields
from ..errors import (
    CoordinationError,
    IdenfyError,
    ResponseDecodeError,
    SessionAlreadyOpenError,
    SessionOutcomeUnknownError,
)
from ..models import Session
from ._redis import DEFAULT_OP_TIMEOUT, KEY_PREFIX, _check_timeout, logger
from ._session_stores import (
    _account_key,
    _MemorySessions,
    _RedisSessions,
    _Seen,
    _SessionStore,
    request_digest,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

T = TypeVar("T")

#: Seconds a claim on a clientId lasts without news from its holder: a process that
#: died mid-create leaves the clientId "unknown" after this (never free).
DEFAULT_CLAIM_LEASE: Final = 300.0
#: Seconds between looks at a clientId another process is creating a session for.
DEFAULT_POLL_INTERVAL: Final = 0.05
#: Seconds a claim taken before the rate turn holds the clientId unconfirmed: a
#: process that dies while waiting for its turn frees the clientId after this (it
#: sent nothing). Longer waits renew the claim before sending.
DEFAULT_CLAIM_HOLD: Final = 60.0
#: Seconds an open session (or an unknown outcome) is remembered when neither the
#: answer nor the request says how long the token lives (iDenfy's default expiryTime).
DEFAULT_SESSION_TTL: Final = 86_400.0


class _Follow(Exception):
    """Raised from ``before_send`` by a claim this call does not hold: nothing is sent."""

    def __init__(self, seen: _Seen) -> None:
        super().__init__(seen.state)
        self.seen = seen


class SessionRegistry:
    """One open session per clientId: who may create, and what the others get.

    In memory (``redis=None``) it covers one process; with Redis, every process with
    ``api_key``. The client uses it for ``AsyncIdenfy(single_session=True)`` and for
    bulk runs with Redis; call [`create`][idenfy_async.coordination.SessionRegistry.create] yourself
    only to wrap another creator.

    * Concurrent creates for one clientId send one request (the *leader*'s); the
      others get its [`Session`][idenfy_async.Session] (in this process the same object;
      in another one a copy with authToken, scanRef, redirectUrl, digitString,
      expiryTime and sessionLength: echoed personal data is not shared).
    * While that session is open (its token not expired; no final webhook passed to
      [`close`][idenfy_async.coordination.SessionRegistry.close]), a new create for the clientId
      returns it when the request is the same (same
      [`request_digest`][idenfy_async.coordination.request_digest] of the wire body), else raises
      [`SessionAlreadyOpenError`][idenfy_async.SessionAlreadyOpenError] carrying it.
    * A leader whose outcome is unknown (a session may exist; its process died; it
      was cancelled after sending) leaves the clientId *unknown*, never free: creates
      raise [`SessionOutcomeUnknownError`][idenfy_async.SessionOutcomeUnknownError] until
      [`forget`][idenfy_async.coordination.SessionRegistry.forget] (after
      ``client.reconcile_session``) or the token's expiry. The clientId is claimed before the rate
      turn is taken (a clientId held elsewhere costs no turn), unconfirmed for ``claim_hold``
      seconds (a process that dies waiting for its turn sent nothing: the claim lapses, free). Right
      before the request leaves it is renewed with a short window (half the
      ``op_timeout``) and confirmed (a second round trip that answered in time);
      confirmed, it lasts ``claim_lease`` seconds without news, then it is unknown.
    * Redis found to have lost its state (its epoch gone or changed): clientIds with
      no record since are unknown for ``claim_lease`` (see the package docstring).
    * Redis failing (down, slow) refuses: the claim raises
      [`CoordinationError`][idenfy_async.CoordinationError] and nothing is sent. Failures
      after the request left are logged; the claim then turns unknown at its lease's
      end, never free.
    """

    def __init__(
        self,
        redis: Redis | None = None,
        api_key: str | None = None,
        *,
        claim_lease: float = DEFAULT_CLAIM_LEASE,
        claim_hold: float = DEFAULT_CLAIM_HOLD,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        key_prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.claim_lease: float = _check_timeout("claim_lease", claim_lease)
        self.claim_hold: float = _check_timeout("claim_hold", claim_hold)
        self.poll_interval: float = _check_timeout("poll_interval", poll_interval)
        op_timeout = _check_timeout("op_timeout", op_timeout)
        # An unconfirmed claim lapses after this; a confirm answered in time ran within
        # it, with as long again for its reply to arrive before the op_timeout.
        self._window = op_timeout / 2
        self._store: _SessionStore
        if redis is None:
            self._store = _MemorySessions(clock)
        else:
            self._store = _RedisSessions(
                redis, api_key or "", op_timeout, key_prefix, quarantine=self.claim_lease
            )
        self.shared: bool = redis is not None
        self._secret = _account_key(api_key or "")
        self._clock = clock
        self._sleep = sleep
        self._flights: dict[str, asyncio.Future[tuple[str, Session] | None]] = {}
        self._owner_key = secrets.token_bytes(16)

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
        wait: bool = True,
    ) -> Session:
        """The clientId's one open session: created by ``send(hook)``, or found.

        The clientId is claimed before ``send`` is called, so a call that finds it
        held elsewhere takes no rate turn. ``send`` must await ``hook`` right before
        its request leaves and send nothing if it raises (``AsyncIdenfy``'s
        ``before_send``); ``hook`` confirms the claim, then runs ``before_send``.
        ``deadline``: seconds this call may wait for another one creating the same
        clientId; ``wait=False`` (bulk runs) does not wait for another process at all:
        [`SessionOutcomeUnknownError`][idenfy_async.SessionOutcomeUnknownError] with ``in_flight``
        at once, so the row can be set aside and asked about again later.
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
                client_id, digest, send, expiry_time, deadline, end, before_send, wait
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
        wait: bool,
    ) -> Session:
        store = self._store
        # One holder name per clientId in this registry: a claim command that timed out
        # here but ran later at Redis (a stall) is this registry's own when it asks
        # again, not a stranger's claim to wait out for claim_hold.
        name = client_id.encode("utf-8", "surrogatepass")
        owner = hmac.new(self._owner_key, name, "sha256").hexdigest()[:32]
        ttl = float(expiry_time) if expiry_time else DEFAULT_SESSION_TTL
        lease = max(self.claim_lease, (deadline or 0.0) + 30.0)
        window = self._window
        held = sent = False

        async def hook() -> None:
            nonlocal held, sent
            # Renewed with the short window, then confirmed: a claim or confirm that
            # timed out and runs later leaves an unconfirmed claim, which lapses soon.
            seen = await store.claim(client_id, digest, owner, window, ttl)  # raises: nothing sent
            if seen.state != "lead":
                raise _Follow(seen)  # the hold lapsed and another took it
            held = True
            if not await store.confirm(client_id, owner, lease, ttl):
                raise CoordinationError("session", "claim lapsed before it was confirmed")
            if before_send is not None:
                await before_send()  # it raising: nothing is sent, the claim is released
            sent = True

        # Claimed before the rate turn: a clientId held elsewhere costs no turn.
        seen = await store.claim(client_id, digest, owner, self.claim_hold, ttl)
        while True:
            try:
                if seen.state != "lead":
                    raise _Follow(seen)
                held = True
                session = await send(hook)
            except _Follow as follow:
                seen = follow.seen
                while seen.state == "pending":  # another process is creating it
                    if not wait or (end is not None and self._clock() >= end):
                        raise SessionOutcomeUnknownError(client_id, in_flight=True) from None
                    await self._sleep(self.poll_interval)
                    seen = await store.claim(client_id, digest, owner, self.claim_hold, ttl)
                if seen.state == "open":
                    assert seen.session is not None
                    if seen.digest == digest:
                        return seen.session
                    raise SessionAlreadyOpenError(client_id, seen.session) from None
                if seen.state == "unknown":
                    raise SessionOutcomeUnknownError(client_id) from None
                # The other one failed cleanly and the claim is ours now: held, so a
                # failure before our request leaves (pacing, cancellation) frees it.
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
        if sent and (not isinstance(exc, IdenfyError) or exc.outcome_unknown):
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
                extra=fields(),
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
