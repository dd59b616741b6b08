"""One bulk row, from its journal lookup to its recorded outcome (`_Runner`),
and the gate that says which rows have started to send and refuses them once a stop is
asked (`_Gate`). [`idenfy_async.bulk.create_sessions`][idenfy_async.create_sessions] schedules the
rows."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, runtime_checkable

import attrs

from ..errors import IdenfyError, JournalError, ResponseDecodeError, SessionOutcomeUnknownError
from ..models import Session, SessionRequest
from ._records import (
    BulkResult,
    BulkState,
    SessionCreator,
    is_retryable,
    request_fingerprint,
)
from .journal import (
    Claimed,
    ClaimingJournal,
    ClaimResult,
    ErrorRecord,
    HeldByOther,
    Journal,
    JournalEntry,
    JournalState,
    Settled,
)
from .reconcile import (
    ReconcileOutcome,
    ReconcilePolicy,
    ReconcileReason,
    Reconciliation,
    VerificationLister,
    decide,
    reconcile_session,
)

#: How long a created session can be started when neither its answer nor its request
#: says (``expiryTime``: the seed's default, the longer of the documented two, so an
#: unknown expiry is never taken to have passed too early).
DEFAULT_EXPIRY_TIME: Final = 86_400
#: Listed statuses that mean the session has a result (or was removed): never re-issued.
_HAS_RESULT: Final = frozenset(
    {"APPROVED", "DENIED", "SUSPECTED", "REVIEWING", "DELETED", "ARCHIVED"}
)


#: Seconds a row set aside (another process is creating its clientId) waits before
#: it is asked about again.
HELD_ELSEWHERE_POLL: Final = 0.1
#: The longest wait between two askings about a row another worker holds in the
#: journal (the wait doubles from ``HELD_ELSEWHERE_POLL`` up to this).
HELD_IN_JOURNAL_MAX_POLL: Final = 2.0
#: Seconds a row claimed in a shared journal stays this run's without renewal: after
#: it, another worker takes over a dead run's rows that were claimed and never sent.
DEFAULT_CLAIM_LEASE: Final = 60.0


class _Stopped(Exception):
    """Raised by ``before_send`` once the run is stopping: the client sends nothing."""


class _LostClaim(Exception):
    """Raised by ``before_send`` when the row's claim ended (another worker took it
    over): the client sends nothing."""


class _Changed(Exception):
    """The row's entry changed while this run held it to reconcile it."""


class _SetAside:
    """A row whose clientId another process is creating (the open-session registry), or
    another worker holds in the journal (``until``: when that claim's lease ends):
    nothing sent, no turn taken; the schedule asks about it again once the rest of the
    input is under way (``times``: how often it was set aside)."""

    __slots__ = ("index", "request", "times", "until")

    def __init__(
        self, index: int, request: SessionRequest, times: int = 1, until: float | None = None
    ) -> None:
        self.index = index
        self.request = request
        self.times = times
        self.until = until


@runtime_checkable
class _SessionForgetter(Protocol):
    """A client whose open-session registry can be told to forget a clientId."""

    async def forget_session(self, client_id: str) -> None: ...


def is_claiming(journal: Journal | None) -> bool:
    """Whether ``journal`` takes claims
    ([`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal]): then a run claims each row
    before sending it."""
    return journal is not None and all(
        callable(getattr(journal, name, None))
        for name in ("claim", "put_claimed", "unclaim", "renew")
    )


def worker_name() -> str:
    """A name for this run's claims: the host, the process and a random part (two runs
    in one process are two workers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class _Claims:
    """One run's claims on a [`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal]: the
    rows it holds, and a task renewing all of them well within the lease.

    A row is claimed before its rate turn is taken and let go once its outcome is
    recorded, or when it is dropped (a stop). While it waits for its turn, its answer
    or the settle window, the renewal keeps it this run's; a run that dies stops
    renewing, so its rows claimed and never sent are taken over once the lease ends.
    """

    def __init__(self, journal: ClaimingJournal, *, lease: float, owner: str | None = None) -> None:
        self.journal = journal
        self.lease = lease
        self.owner = owner if owner is not None else worker_name()
        self.held: set[str] = set()
        self.renewer: asyncio.Task[None] | None = None

    async def claim(self, client_id: str, *, take_settled: bool = False) -> ClaimResult:
        result = await self.journal.claim(
            client_id, self.owner, self.lease, take_settled=take_settled
        )
        if isinstance(result, Claimed):
            self.held.add(client_id)
        return result

    async def put(self, entry: JournalEntry) -> bool:
        """Write ``entry`` if the row is still this run's claim."""
        return await self.journal.put_claimed(entry, self.owner)

    async def release(self, client_id: str) -> None:
        """Let the row go (its outcome is recorded, or it was dropped). A failure here
        leaves the claim to end with its lease."""
        if client_id not in self.held:
            return
        with contextlib.suppress(Exception):
            await self.journal.unclaim(client_id, self.owner)
        # Not before: a release cut short (the run closing) is left to close()'s sweep.
        self.held.discard(client_id)

    async def renew(self) -> None:
        """Start the lease of every claim held again (a failure: the next renewal
        tries again; writes refused meanwhile send nothing)."""
        if self.held:
            with contextlib.suppress(Exception):
                await self.journal.renew(self.owner, self.lease)

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            await self.renew()

    def start(self) -> None:
        self.renewer = asyncio.create_task(self.keep())

    async def close(self) -> None:
        """Stop renewing and let go of whatever is still held (its lease ends now)."""
        renewer, self.renewer = self.renewer, None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        if self.held:
            self.held.clear()
            with contextlib.suppress(Exception):
                await self.journal.renew(self.owner, 0.0)


class _Gate:
    """Which rows have not started to send, which have, and whether a stop refuses them.

    A row *starts to send* when the client calls its ``before_send`` hook: its slot,
    token and cooldown are behind it, and it is recorded ``pending`` next.
    """

    def __init__(self, stop: asyncio.Event | None) -> None:
        self.stop = stop
        self.stopped = False
        self.waiting: dict[int, asyncio.Task[BulkResult | _SetAside | None]] = {}
        self.sending: set[int] = set()
        self.sent = 0

    def enter(self, index: int) -> None:
        """Let row ``index`` send, or raise `_Stopped` (synchronously, so no
        request passes between the stop and the cancellation of the waiting rows)."""
        if self.stopped or (self.stop is not None and self.stop.is_set()):
            raise _Stopped
        self.waiting.pop(index, None)
        self.sending.add(index)
        self.sent += 1

    def done(self, index: int) -> None:
        self.waiting.pop(index, None)
        self.sending.discard(index)


class _Runner:
    """One row from journal lookup to recorded outcome."""

    def __init__(
        self,
        client: SessionCreator,
        journal: Journal | None,
        gate: _Gate,
        *,
        retry_unknown: bool,
        retry_failed: bool,
        replace_conflicts: bool = False,
        reissue_expired: bool = False,
        origin: Callable[[int], str | None] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.gate = gate
        self.retry_unknown = retry_unknown
        self.retry_failed = retry_failed
        self.replace_conflicts = replace_conflicts
        self.reissue_expired = reissue_expired
        self.origin = origin
        self.policy = ReconcilePolicy()
        self.reconcile = True
        #: what reconciliation said about rows about to be sent anyway (retry_unknown)
        self.resent: dict[str, Reconciliation] = {}
        #: the entries that rows about to be sent anyway replace (a conflict sent with
        #: replace_conflicts, an expired session re-issued)
        self.replacing: dict[str, JournalEntry] = {}
        #: awaited once a row's answer (or error) is in, before its outcome is written:
        #: the scheduler frees the row's slot there (see ``bulk._Schedule``)
        self.answered: Callable[[int], Awaitable[None]] = _nothing
        #: this run's claims, when the journal takes them (see ``claim_rows``)
        self.claims: _Claims | None = None

    def claim_rows(self, lease: float, *, owner: str | None = None) -> _Claims:
        """Claim each row in the journal (a ClaimingJournal) before sending it."""
        assert self.journal is not None
        assert is_claiming(self.journal)
        claims = _Claims(self.journal, lease=lease, owner=owner)  # type: ignore[arg-type]
        self.claims = claims
        return claims

    def reconcile_with(self, reconcile: bool | ReconcilePolicy) -> None:
        """Reconcile open rows (True, or with a policy) or not (False)."""
        self.reconcile = reconcile is not False
        if isinstance(reconcile, ReconcilePolicy):
            self.policy = reconcile

    async def run(
        self,
        index: int,
        request: SessionRequest,
        *,
        after: asyncio.Task[BulkResult | _SetAside | None] | None,
        again: _SetAside | None = None,
    ) -> BulkResult | _SetAside | None:
        """The row's result; None when a stop refused it before anything was sent;
        `_SetAside` when another process is creating its clientId or another worker
        holds it in the journal. A row set aside before (``again``) is asked about again
        at once the first time (the other one has usually finished it), then after a
        short wait each time (growing for a row held in the journal: a dead worker's
        rows are free only once their lease ends)."""
        if after is not None:
            await asyncio.wait({after})  # its outcome is in the journal when it is done
        times = 0 if again is None else again.times
        if again is not None and times > 1:
            await self.policy.sleep(_poll_wait(times, held=again.until is not None))
        result = await self._claimed_run(index, request)
        if isinstance(result, _SetAside):
            result.times = times + 1
        return result

    async def _claimed_run(
        self, index: int, request: SessionRequest
    ) -> BulkResult | _SetAside | None:
        """`_run`, with the row claimed first when the journal takes claims, and let go
        once its outcome is recorded (or it is dropped)."""
        claims = self.claims
        if claims is None:
            return await self._run(index, request, None)
        cid = request.client_id
        try:
            claimed = await claims.claim(cid)
        except JournalError:
            raise
        except Exception as exc:  # e.g. a clientId the journal cannot store
            return await self._unexpected(index, request, exc, sent=False, attempts=None)
        if isinstance(claimed, HeldByOther):
            return _SetAside(index, request, until=claimed.lease_until)
        try:
            return await self._run(index, request, claimed)
        finally:  # also when a stop cancels the row
            await claims.release(cid)

    async def _run(
        self, index: int, request: SessionRequest, claimed: Claimed | Settled | None
    ) -> BulkResult | _SetAside | None:
        journal = self.journal
        cid = request.client_id
        try:
            if claimed is not None:
                entry = claimed.entry
            else:
                entry = await journal.get(cid) if journal is not None else None
        except JournalError:
            raise
        except Exception as exc:  # e.g. a clientId the journal cannot store
            return await self._unexpected(index, request, exc, sent=False, attempts=None)
        written = _Written(
            fingerprint=request_fingerprint(request) if journal is not None else None,
            origin=self.origin(index) if self.origin is not None else None,
        )
        if entry is not None:
            try:
                known = await self._known(index, request, entry, written)
            except _Changed:  # while this run waited to reconcile it: decide again later
                return _SetAside(index, request)
            except IdenfyError:
                raise
            except Exception as exc:  # a bug settling one row must not spoil the others
                return await self._unexpected(index, request, exc, sent=False, attempts=None)
            if known is not None:
                return known
            if isinstance(claimed, Settled) and not await self._take_settled(cid, entry):
                # Another worker took or changed the row meanwhile: ask again later.
                self.replacing.pop(cid, None)
                return _SetAside(index, request)
        attempts = (entry.attempts if entry is not None else 0) + 1
        return await self._send(index, request, attempts, written)

    async def _take_settled(self, client_id: str, entry: JournalEntry) -> bool:
        """Claim a settled row about to be sent again (a conflict replaced, an expired
        session re-issued); False when another worker holds it or its entry changed."""
        assert self.claims is not None
        again = await self.claims.claim(client_id, take_settled=True)
        return isinstance(again, Claimed) and again.entry == entry

    async def _send(
        self, index: int, request: SessionRequest, attempts: int, written: _Written
    ) -> BulkResult | _SetAside | None:
        """Send the row (recorded ``pending`` first, from ``before_send``), then record
        its outcome; None when a stop refused it before anything was sent."""
        journal, claims = self.journal, self.claims
        cid = request.client_id
        sent = False
        checked = self.resent.pop(cid, None)
        replaced = self.replacing.pop(cid, None)
        pending_at: float | None = None

        async def mark_pending() -> None:
            nonlocal sent, pending_at
            self.gate.enter(index)
            pending_at = self.policy.wall_clock()
            pending = JournalEntry(
                client_id=cid,
                state=JournalState.PENDING,
                attempts=attempts,
                pending_at=pending_at,
                fingerprint=written.fingerprint,
                origin=written.origin,
            )
            if claims is not None:
                if not await claims.put(pending):  # taken over: another worker sends it
                    self.gate.sent -= 1
                    raise _LostClaim
            elif journal is not None:
                await journal.put(pending)
            sent = True  # the client sends once this hook returns

        try:
            session = await self.client.create_session(
                request, retry_unknown=False, before_send=mark_pending
            )
        except _Stopped:
            return None
        except _LostClaim:
            return _SetAside(index, request)
        except JournalError:
            raise
        except SessionOutcomeUnknownError as exc:
            if exc.in_flight and not sent:  # another process holds the clientId
                return _SetAside(index, request)
            await self.answered(index)
            return await self._settle(
                index, request, exc, sent, attempts, pending_at, checked, written
            )
        except Exception as exc:
            await self.answered(index)
            return await self._settle(
                index, request, exc, sent, attempts, pending_at, checked, written
            )
        await self.answered(index)
        result = await self._created(index, request, session, attempts, checked, written)
        return attrs.evolve(result, earlier=replaced, replaced=replaced is not None)

    async def _settle(
        self,
        index: int,
        request: SessionRequest,
        exc: Exception,
        sent: bool,
        attempts: int,
        pending_at: float | None,
        checked: Reconciliation | None,
        written: _Written,
    ) -> BulkResult:
        """The outcome of a row whose ``create_session`` raised, recorded."""
        if isinstance(exc, ResponseDecodeError) and exc.scan_ref and exc.auth_token:
            # Created, and paid for: the rest of the answer was unreadable.
            partial = Session(
                auth_token=exc.auth_token, scan_ref=exc.scan_ref, client_id=request.client_id
            )
            return await self._created(
                index, request, partial, attempts, checked, written, error=exc
            )
        if isinstance(exc, IdenfyError):
            return await self._failed(
                index, request, exc, sent, attempts, pending_at, checked, written
            )
        # A bug must not spoil the other rows.
        return await self._unexpected(
            index, request, exc, sent=sent, attempts=attempts, pending_at=pending_at
        )

    async def _created(
        self,
        index: int,
        request: SessionRequest,
        session: Session,
        attempts: int,
        checked: Reconciliation | None,
        written: _Written,
        *,
        error: ResponseDecodeError | None = None,
    ) -> BulkResult:
        if self.journal is not None:
            lifetime = session.expiry_time or request.expiry_time or DEFAULT_EXPIRY_TIME
            await self._put_if_storable(
                self.journal,
                JournalEntry(
                    client_id=request.client_id,
                    state=JournalState.CREATED,
                    scan_ref=session.scan_ref,
                    auth_token=session.auth_token,
                    redirect_url=session.redirect_url,
                    attempts=attempts,
                    expires_at=self.policy.wall_clock() + lifetime,
                    fingerprint=written.fingerprint,
                    origin=written.origin,
                ),
            )
        return BulkResult(
            index=index,
            request=request,
            state=BulkState.CREATED,
            session=session,
            error=error,
            sent=True,
            reconciliation=checked,
        )

    async def _failed(
        self,
        index: int,
        request: SessionRequest,
        exc: IdenfyError,
        sent: bool,
        attempts: int,
        pending_at: float | None,
        checked: Reconciliation | None,
        written: _Written,
    ) -> BulkResult:
        kind = ErrorRecord.from_error(exc, retryable=is_retryable(exc))
        state = JournalState.UNKNOWN if exc.outcome_unknown else JournalState.FAILED
        if self.journal is not None:
            await self.journal.put(
                JournalEntry(
                    client_id=request.client_id,
                    state=state,
                    # A scanRef read from an answer otherwise unreadable: reconciliation
                    # then knows this attempt's session without guessing.
                    scan_ref=exc.scan_ref if isinstance(exc, ResponseDecodeError) else None,
                    error=kind,
                    attempts=attempts,
                    pending_at=pending_at,
                    fingerprint=written.fingerprint,
                    origin=written.origin,
                )
            )
        return BulkResult(
            index=index,
            request=request,
            state=BulkState(state.value),
            error=exc,
            error_kind=kind,
            sent=sent,
            reconciliation=checked,
        )

    async def _unexpected(
        self,
        index: int,
        request: SessionRequest,
        exc: Exception,
        *,
        sent: bool,
        attempts: int | None,
        pending_at: float | None = None,
    ) -> BulkResult:
        """A row that raised something else than an IdenfyError: that row's failure.

        Before its request could leave, nothing exists: ``failed`` (not retryable: the
        same data would fail again). After, a session may exist: ``unknown``. The
        exception's text is not kept: it may quote the row's personal data.
        ``attempts=None``: the row's journal entry was not read, so it is left as it
        is (it may say created: overwriting it could pay twice).
        """
        state = JournalState.UNKNOWN if sent else JournalState.FAILED
        moment = "after the request was sent" if sent else "before anything was sent"
        kind = ErrorRecord(
            name=type(exc).__name__, retryable=False, message=f"unexpected error {moment}"
        )
        if self.journal is not None and attempts is not None:
            await self._put_if_storable(
                self.journal,
                JournalEntry(
                    client_id=request.client_id,
                    state=state,
                    error=kind,
                    attempts=attempts,
                    pending_at=pending_at,
                ),
            )
        return BulkResult(
            index=index,
            request=request,
            state=BulkState(state.value),
            error_kind=kind,
            sent=sent,
        )

    @staticmethod
    async def _put_if_storable(journal: Journal, entry: JournalEntry) -> None:
        """Record a row's outcome, unless the row's own data cannot be stored (e.g. an
        unencodable clientId): then nothing was sent, or its pending entry (stored
        before the send) stays, so a re-run reports the row unknown and never pays
        for it twice. A JournalError (the journal itself failing) stops the run."""
        try:
            await journal.put(entry)
        except JournalError:
            raise
        except Exception:
            pass

    async def _known(
        self, index: int, request: SessionRequest, entry: JournalEntry, written: _Written
    ) -> BulkResult | None:
        """The result for a row the journal already settles, or None to send it.

        The journal's entry is the account's: it may come from another file or an
        earlier row of this one. A session made from other data (another person under
        the same clientId, or a corrected row) is a conflict, never handed to this row.
        """
        state = entry.state
        other_data = (
            entry.fingerprint is not None
            and written.fingerprint is not None
            and entry.fingerprint != written.fingerprint
        )
        if other_data and state in (JournalState.CREATED, JournalState.FOUND):
            if not self.replace_conflicts:
                hidden = attrs.evolve(entry, auth_token=None, redirect_url=None)
                return BulkResult(
                    index=index, request=request, state=BulkState.CONFLICT, earlier=hidden
                )
            self.replacing[entry.client_id] = entry
            return None
        if state is JournalState.CREATED:
            if self._expired(entry):
                return await self._expired_row(index, request, entry)
            return _skipped(index, request, entry)
        if state is JournalState.FOUND:
            return BulkResult(
                index=index,
                request=request,
                state=BulkState.FOUND,
                error_kind=entry.error,
                reconciliation=_found_in(entry),
            )
        if state in (JournalState.PENDING, JournalState.UNKNOWN) and self.reconcile:
            return await self._reconcile(index, request, entry)
        if state in (JournalState.PENDING, JournalState.UNKNOWN) and not self.retry_unknown:
            if state is JournalState.PENDING and self.journal is not None:
                # An earlier run stopped with this row in flight: say so for good.
                await self.journal.put(attrs.evolve(entry, state=JournalState.UNKNOWN))
            return BulkResult(
                index=index, request=request, state=BulkState.UNKNOWN, error_kind=entry.error
            )
        if state in (JournalState.PENDING, JournalState.UNKNOWN):  # sent anyway, unchecked
            self.resent[entry.client_id] = Reconciliation(
                outcome=ReconcileOutcome.UNKNOWN, reason=ReconcileReason.NOT_CHECKED
            )
        retryable = entry.error is not None and entry.error.retryable
        # A failed row whose data changed since (corrected INPUT) is sent: nothing exists.
        if state is JournalState.FAILED and not (retryable or self.retry_failed or other_data):
            return BulkResult(
                index=index, request=request, state=BulkState.FAILED, error_kind=entry.error
            )
        return None

    def _expired(self, entry: JournalEntry) -> bool:
        """A created session past its ``expiryTime`` with no result recorded."""
        return (
            entry.expires_at is not None
            and self.policy.wall_clock() >= entry.expires_at
            and entry.verification_status not in _HAS_RESULT
        )

    async def _expired_row(
        self, index: int, request: SessionRequest, entry: JournalEntry
    ) -> BulkResult | None:
        """An expired session: skipped (its link no longer works: the result says so),
        or with ``reissue_expired`` sent again once iDenfy's listing shows no result."""
        if not self.reissue_expired:
            return _skipped(index, request, entry, expired=True)
        client = self.client
        if isinstance(client, VerificationLister):
            status: str | None = None
            try:
                async for listed in client.list_verifications(entry.client_id):
                    if listed.scan_ref == entry.scan_ref:
                        status = str(listed.status) if listed.status is not None else None
            except IdenfyError as exc:  # cannot tell: keep the session, say why
                result = _skipped(index, request, entry, expired=True)
                return attrs.evolve(result, error=exc)
            if status in _HAS_RESULT:
                recorded = attrs.evolve(entry, verification_status=status)
                if self.journal is not None:
                    await self.journal.put(recorded)
                return _skipped(index, request, recorded)
        self.replacing[entry.client_id] = entry
        return None

    async def _reconcile(
        self, index: int, request: SessionRequest, entry: JournalEntry
    ) -> BulkResult | None:
        """Ask iDenfy about a row an earlier attempt left open; None: send it."""
        checked = await self._ask(request, entry)
        if checked.reason is ReconcileReason.TOO_SOON and self.policy.wait:
            assert checked.retry_at is not None
            await self.policy.sleep(max(0.0, checked.retry_at - self.policy.wall_clock()))
            # A worker whose claim lapsed (stalled, not dead) may have recorded the
            # outcome meanwhile: that record wins over a listing.
            journal = self.journal if self.claims is not None else None
            if journal is not None and await journal.get(entry.client_id) != entry:
                raise _Changed
            checked = await self._ask(request, entry)
        if checked.outcome is ReconcileOutcome.NOT_FOUND:
            if self.claims is not None:
                await self._forget(entry.client_id)
            return None
        found = checked.outcome is ReconcileOutcome.FOUND
        if self.journal is not None:
            await self.journal.put(
                attrs.evolve(
                    entry,
                    state=JournalState.FOUND if found else JournalState.UNKNOWN,
                    scan_ref=checked.scan_ref if found else entry.scan_ref,
                    verification_status=str(checked.status) if checked.status else None,
                    expires_at=checked.expires_at,
                    reconciled=checked.reason,
                )
            )
        if not found and self.retry_unknown:
            self.resent[entry.client_id] = checked
            return None
        return BulkResult(
            index=index,
            request=request,
            state=BulkState.FOUND if found else BulkState.UNKNOWN,
            error_kind=entry.error,
            reconciliation=checked,
        )

    async def _forget(self, client_id: str) -> None:
        """A row this run holds in the journal, reconciled ``NOT_FOUND``, is about to be
        sent: the open-session registry forgets what a dead worker left there for it
        (else its pending create would keep the clientId for the registry's lease).
        A failure leaves it: the row is then set aside until the registry lets go."""
        client = self.client
        if isinstance(client, _SessionForgetter):
            with contextlib.suppress(IdenfyError):
                await client.forget_session(client_id)

    async def _ask(self, request: SessionRequest, entry: JournalEntry) -> Reconciliation:
        client = self.client
        if not isinstance(client, VerificationLister):  # e.g. a stub: nothing to ask
            return decide(
                None,
                since=entry.pending_at,
                now=self.policy.wall_clock(),
                scan_ref=entry.scan_ref,  # an attempt that read its scanRef needs no listing
                expiry_time=request.expiry_time,
            )
        return await reconcile_session(
            client,
            entry.client_id,
            since=entry.pending_at,
            scan_ref=entry.scan_ref,
            expiry_time=request.expiry_time,
            dummy=request.dummy_status is not None,
            settle_window=self.policy.settle_window,
            wall_clock=self.policy.wall_clock,
        )


@attrs.frozen
class _Written:
    """What the journal records with each of a row's entries: a hash of its data and
    where it came from."""

    fingerprint: str | None
    origin: str | None


def _skipped(
    index: int, request: SessionRequest, entry: JournalEntry, *, expired: bool = False
) -> BulkResult:
    """A row whose session the journal holds: nothing sent, the session handed back."""
    session = Session(
        auth_token=entry.auth_token or "",
        scan_ref=entry.scan_ref or "",
        client_id=entry.client_id,
        redirect_url=entry.redirect_url,
    )
    return BulkResult(
        index=index,
        request=request,
        state=BulkState.SKIPPED,
        session=session,
        earlier=entry,
        expired=expired,
    )


def _found_in(entry: JournalEntry) -> Reconciliation:
    """A found row as the journal recorded it."""
    return Reconciliation(
        outcome=ReconcileOutcome.FOUND,
        reason=entry.reconciled or ReconcileReason.ONLY_CANDIDATE,
        scan_ref=entry.scan_ref,
        status=entry.verification_status,
        expires_at=entry.expires_at,
    )


def _poll_wait(times: int, *, held: bool) -> float:
    """How long a row set aside ``times`` times waits before it is asked about again."""
    if not held:
        return HELD_ELSEWHERE_POLL
    return min(HELD_IN_JOURNAL_MAX_POLL, HELD_ELSEWHERE_POLL * 2.0 ** min(times - 2, 8))


async def _nothing(index: int) -> None:
    """The default `_Runner.answered`: nothing to hand over."""
