"""One bulk row, from its journal lookup to its recorded outcome (:class:`_Runner`),
and the gate that says which rows have started to send and refuses them once a stop is
asked (:class:`_Gate`). :func:`idenfy_async.bulk.create_sessions` schedules the rows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs

from ._bulk_records import BulkResult, BulkState, SessionCreator, is_retryable
from .errors import (
    IdenfyError,
    JournalError,
    ResponseDecodeError,
)
from .journal import ErrorRecord, Journal, JournalEntry, JournalState
from .models import Session, SessionRequest
from .reconcile import (
    ReconcileOutcome,
    ReconcilePolicy,
    ReconcileReason,
    Reconciliation,
    VerificationLister,
    decide,
    reconcile_session,
)


class _Stopped(Exception):
    """Raised by ``before_send`` once the run is stopping: the client sends nothing."""


class _Gate:
    """Which rows have not started to send, which have, and whether a stop refuses them.

    A row *starts to send* when the client calls its ``before_send`` hook: its slot,
    token and cooldown are behind it, and it is recorded ``pending`` next.
    """

    def __init__(self, stop: asyncio.Event | None) -> None:
        self.stop = stop
        self.stopped = False
        self.waiting: dict[int, asyncio.Task[BulkResult | None]] = {}
        self.sending: set[int] = set()
        self.sent = 0

    def enter(self, index: int) -> None:
        """Let row ``index`` send, or raise :class:`_Stopped` (synchronously, so no
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
    ) -> None:
        self.client = client
        self.journal = journal
        self.gate = gate
        self.retry_unknown = retry_unknown
        self.retry_failed = retry_failed
        self.policy = ReconcilePolicy()
        self.reconcile = True
        #: what reconciliation said about rows about to be sent anyway (retry_unknown)
        self.resent: dict[str, Reconciliation] = {}
        #: awaited once a row's answer (or error) is in, before its outcome is written:
        #: the scheduler frees the row's slot there (see ``bulk._Schedule``)
        self.answered: Callable[[int], Awaitable[None]] = _nothing

    def reconcile_with(self, reconcile: bool | ReconcilePolicy) -> None:
        """Reconcile open rows (True, or with a policy) or not (False)."""
        self.reconcile = reconcile is not False
        if isinstance(reconcile, ReconcilePolicy):
            self.policy = reconcile

    async def run(
        self, index: int, request: SessionRequest, *, after: asyncio.Task[BulkResult | None] | None
    ) -> BulkResult | None:
        """The row's result; None when a stop refused it before anything was sent."""
        if after is not None:
            await asyncio.wait({after})  # its outcome is in the journal when it is done
        journal = self.journal
        cid = request.client_id
        try:
            entry = await journal.get(cid) if journal is not None else None
        except JournalError:
            raise
        except Exception as exc:  # e.g. a clientId the journal cannot store
            return await self._unexpected(index, request, exc, sent=False, attempts=None)
        if entry is not None:
            try:
                known = await self._known(index, request, entry)
            except IdenfyError:
                raise
            except Exception as exc:  # a bug settling one row must not spoil the others
                return await self._unexpected(index, request, exc, sent=False, attempts=None)
            if known is not None:
                return known
        return await self._send(index, request, (entry.attempts if entry is not None else 0) + 1)

    async def _send(self, index: int, request: SessionRequest, attempts: int) -> BulkResult | None:
        """Send the row (recorded ``pending`` first, from ``before_send``), then record
        its outcome; None when a stop refused it before anything was sent."""
        journal = self.journal
        cid = request.client_id
        sent = False
        checked = self.resent.pop(cid, None)
        pending_at: float | None = None

        async def mark_pending() -> None:
            nonlocal sent, pending_at
            self.gate.enter(index)
            pending_at = self.policy.wall_clock()
            if journal is not None:
                await journal.put(
                    JournalEntry(
                        client_id=cid,
                        state=JournalState.PENDING,
                        attempts=attempts,
                        pending_at=pending_at,
                    )
                )
            sent = True  # the client sends once this hook returns

        try:
            session = await self.client.create_session(
                request, retry_unknown=False, before_send=mark_pending
            )
        except _Stopped:
            return None
        except JournalError:
            raise
        except Exception as exc:
            await self.answered(index)
            return await self._settle(index, request, exc, sent, attempts, pending_at, checked)
        await self.answered(index)
        return await self._created(index, request, session, attempts, checked)

    async def _settle(
        self,
        index: int,
        request: SessionRequest,
        exc: Exception,
        sent: bool,
        attempts: int,
        pending_at: float | None,
        checked: Reconciliation | None,
    ) -> BulkResult:
        """The outcome of a row whose ``create_session`` raised, recorded."""
        if isinstance(exc, ResponseDecodeError) and exc.scan_ref and exc.auth_token:
            # Created, and paid for: the rest of the answer was unreadable.
            partial = Session(
                auth_token=exc.auth_token, scan_ref=exc.scan_ref, client_id=request.client_id
            )
            return await self._created(index, request, partial, attempts, checked, error=exc)
        if isinstance(exc, IdenfyError):
            return await self._failed(index, request, exc, sent, attempts, pending_at, checked)
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
        *,
        error: ResponseDecodeError | None = None,
    ) -> BulkResult:
        if self.journal is not None:
            await self._put_if_storable(
                self.journal,
                JournalEntry(
                    client_id=request.client_id,
                    state=JournalState.CREATED,
                    scan_ref=session.scan_ref,
                    auth_token=session.auth_token,
                    redirect_url=session.redirect_url,
                    attempts=attempts,
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
    ) -> BulkResult:
        kind = ErrorRecord.from_error(exc, retryable=is_retryable(exc))
        state = JournalState.UNKNOWN if exc.ambiguous else JournalState.FAILED
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
        self, index: int, request: SessionRequest, entry: JournalEntry
    ) -> BulkResult | None:
        """The result for a row the journal already settles, or None to send it."""
        state = entry.state
        if state is JournalState.CREATED:
            session = Session(
                auth_token=entry.auth_token or "",
                scan_ref=entry.scan_ref or "",
                client_id=entry.client_id,
                redirect_url=entry.redirect_url,
            )
            return BulkResult(
                index=index, request=request, state=BulkState.SKIPPED, session=session
            )
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
        if state is JournalState.FAILED and not (retryable or self.retry_failed):
            return BulkResult(
                index=index, request=request, state=BulkState.FAILED, error_kind=entry.error
            )
        return None

    async def _reconcile(
        self, index: int, request: SessionRequest, entry: JournalEntry
    ) -> BulkResult | None:
        """Ask iDenfy about a row an earlier attempt left open; None: send it."""
        checked = await self._ask(request, entry)
        if checked.reason is ReconcileReason.TOO_SOON and self.policy.wait:
            assert checked.retry_at is not None
            await self.policy.sleep(max(0.0, checked.retry_at - self.policy.wall_clock()))
            checked = await self._ask(request, entry)
        if checked.outcome is ReconcileOutcome.NOT_FOUND:
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


def _found_in(entry: JournalEntry) -> Reconciliation:
    """A found row as the journal recorded it."""
    return Reconciliation(
        outcome=ReconcileOutcome.FOUND,
        reason=entry.reconciled or ReconcileReason.ONLY_CANDIDATE,
        scan_ref=entry.scan_ref,
        status=entry.verification_status,
        expires_at=entry.expires_at,
    )


async def _nothing(index: int) -> None:
    """The default :attr:`_Runner.answered`: nothing to hand over."""
