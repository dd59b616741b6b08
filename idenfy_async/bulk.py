"""Bulk session creation: many rows, bounded concurrency, never a credit paid twice.

Built on the public API only (``create_session``, the error tree, the journal)::

    async with AsyncIdenfy() as client, SqliteJournal("onboarding.sqlite") as journal:
        async with contextlib.aclosing(create_sessions(client, rows, journal=journal)) as results:
            async for result in results:
                print(result.index, result.state, result.client_id)

Rows stream: the input is read only as fast as slots free up, so memory stays flat
for any input size. One row's failure never stops the others. Each row ends in one
:class:`BulkState`; with a journal, re-running the same input resumes: created rows
are skipped, retryable failures are sent again, and rows that may already have a
session (``pending`` or ``unknown``) are first reconciled with iDenfy's listing
(:mod:`idenfy_async.reconcile`): found ones are recorded (scanRef, status; their
authToken is lost) and not sent, those iDenfy never saw are sent, and those still
undecided are never sent again unless ``retry_unknown=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import Protocol

import attrs

from ._constants import DEFAULT_CONCURRENCY
from .errors import (
    APIConnectionError,
    APIError,
    ClientStateError,
    ConfigurationError,
    CoordinationError,
    IdenfyError,
    InsufficientFundsError,
    JournalError,
    RateLimitError,
    ResponseDecodeError,
)
from .journal import ErrorKind, Journal, JournalEntry, JournalState
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

__all__ = [
    "BulkProgress",
    "BulkResult",
    "BulkState",
    "SessionCreator",
    "create_sessions",
    "is_retryable",
]


class SessionCreator(Protocol):
    """What bulk creation needs from a client (``AsyncIdenfy`` is one)."""

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        """Create one session; await ``before_send`` once, right before the first
        attempt leaves (after pacing), and send nothing if it raises."""


class BulkState(str, enum.Enum):
    """How one row ended."""

    CREATED = "created"  #: a session was created by this run
    SKIPPED = "skipped"  #: the journal says an earlier run created it; nothing was sent
    FAILED = "failed"  #: iDenfy created nothing (see ``error_kind.retryable``)
    UNKNOWN = "unknown"  #: a session may exist although no usable answer was read
    #: reconciliation found the session an earlier attempt created; its authToken is lost
    FOUND = "found"


@attrs.frozen(kw_only=True)
class BulkResult:
    """The outcome of one input row.

    ``session`` is set for created and skipped rows (for skipped rows it holds what
    the journal kept: scanRef, authToken, redirectUrl). ``error`` is the exception
    when this run sent the row and it failed; ``error_kind`` describes the failure
    also when it comes from the journal, or when the row failed on an unexpected
    exception (a bug, not an :class:`IdenfyError`: ``error`` is then None and
    ``error_kind.name`` is the exception's class). A ``created`` row whose answer was
    partly unreadable keeps that :class:`ResponseDecodeError` in ``error``, with the
    scanRef and authToken it carried in ``session``. ``sent`` says whether this run
    sent a request for the row. An ``unknown`` row without ``error_kind`` was in
    flight when an earlier run stopped. ``reconciliation`` is what asking iDenfy
    concluded for a row an earlier attempt left open: for ``found`` rows (scanRef,
    status, expiry), ``unknown`` ones (why), and rows sent although they may already
    have a session (see :attr:`may_be_duplicate`).
    """

    index: int  #: 0-based position in the input
    request: SessionRequest
    state: BulkState
    session: Session | None = None
    error: IdenfyError | None = None
    error_kind: ErrorKind | None = None
    sent: bool = False
    reconciliation: Reconciliation | None = None

    @property
    def client_id(self) -> str:
        return self.request.client_id

    @property
    def may_be_duplicate(self) -> bool:
        """This run sent the row although an earlier attempt may have created a
        session (``retry_unknown=True``): it may have paid twice."""
        checked = self.reconciliation
        return self.sent and checked is not None and checked.outcome is ReconcileOutcome.UNKNOWN

    @property
    def outcome(self) -> Session | IdenfyError | ErrorKind | None:
        """The session, else the error, else what the journal knew about the failure."""
        if self.session is not None:
            return self.session
        return self.error if self.error is not None else self.error_kind


@attrs.frozen
class BulkProgress:
    """Counters after each finished row, for ``on_progress``.

    ``in_flight`` counts requests that have left (their row is recorded ``pending``)
    and have no result yet, not rows still waiting for their turn; ``sent`` counts
    the rows whose request left, over the run. ``stopped`` is True once ``stop`` took
    effect: the requests ``in_flight`` then are the last ones.
    """

    done: int
    created: int
    skipped: int
    failed: int
    unknown: int
    in_flight: int
    sent: int = 0
    stopped: bool = False
    found: int = 0


def is_retryable(exc: IdenfyError) -> bool:
    """True when iDenfy provably created nothing and a later attempt may succeed.

    Rate limits, 503, connections never made, exhausted credits (top up, then
    re-run) and shared state (Redis) that failed before sending qualify; validation,
    authentication and other refusals do not; an error after which a session may
    exist (``ambiguous``) never does.
    """
    if exc.ambiguous:
        return False
    if isinstance(
        exc, RateLimitError | InsufficientFundsError | ClientStateError | CoordinationError
    ):
        return True
    if isinstance(exc, APIConnectionError):
        return not exc.request_sent
    return isinstance(exc, APIError) and exc.status_code == 503


async def create_sessions(
    client: SessionCreator,
    requests: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
    *,
    concurrency: int | None = None,
    journal: Journal | None = None,
    retry_unknown: bool = False,
    retry_failed: bool = False,
    on_progress: Callable[[BulkProgress], None] | None = None,
    stop: asyncio.Event | None = None,
    reconcile: bool | ReconcilePolicy = True,
) -> AsyncGenerator[BulkResult, None]:
    """Create a session per request; yield each row's :class:`BulkResult` as it finishes.

    At most ``concurrency`` rows are in flight, and the input is read no faster than
    that. Results come in completion order (``index`` gives the input position).
    Ambiguous failures are never retried within the run (``retry_unknown=False`` is
    passed to the client): a row that may have created a session ends ``unknown``.
    One row's failure, even an unexpected exception, is that row's result: ``failed``
    when it happened before the request could leave, ``unknown`` after.
    Close the iteration early (``break`` inside ``contextlib.aclosing``) and every
    request in flight is cancelled and awaited; their rows stay ``pending``.

    Pacing (rate limit, concurrency slots, 429 cooldowns) belongs to the client:
    give ``AsyncIdenfy(rate_limit=...)``. A row is recorded ``pending`` from the
    client's ``before_send`` hook, once its request is about to leave, so a crash
    never leaves rows that were only waiting looking like rows in flight.

    Args:
        client: an ``AsyncIdenfy`` (or anything with its ``create_session``).
        requests: any iterable or async iterable of :class:`SessionRequest`.
        concurrency: rows in flight at once (default 10). Keep it at most the client's
            ``max_concurrency``: rows beyond it would wait inside the client.
        journal: records each row by clientId, ``pending`` before it is sent. With
            one, rows already in it resume as described in the module docstring, and
            rows repeating a clientId are handled one after the other. Without one,
            every row is sent.
        retry_unknown: send again rows whose earlier attempt may have created a
            session (journal state ``unknown`` or ``pending``) and that reconciliation
            could not settle. Can cost a credit each (``BulkResult.may_be_duplicate``).
        retry_failed: send again every failed row, not only retryable ones (after you
            fixed the data or the credentials). Never costs a duplicate: iDenfy created
            nothing for a failed row.
        on_progress: called with the counters before each result is yielded, and once
            when ``stop`` takes effect (``BulkProgress.stopped``).
        stop: set it (from a signal handler, say) to stop sending: from then on no
            request leaves and the input is no longer read. Rows whose request has not
            left are dropped: no result, nothing journaled (a re-run sends them).
            Requests already in flight finish and their results are yielded; then the
            iteration ends.
        reconcile: before deciding about a ``pending`` or ``unknown`` row, list its
            clientId at iDenfy (needs a client with ``list_verifications``) and
            record found sessions, send rows iDenfy never saw, keep the rest
            unknown; a row sent less than ``settle_window`` ago waits for it first.
            A :class:`~idenfy_async.reconcile.ReconcilePolicy` tunes it (and its
            wall clock stamps ``pending_at``); False skips it.

    Raises:
        ConfigurationError: ``concurrency`` is below 1.
        JournalError: the journal cannot be written; the run stops (a row whose
            outcome could not be recorded stays ``pending``: unknown, never resent).
    """
    limit = DEFAULT_CONCURRENCY if concurrency is None else concurrency
    if limit < 1:
        raise ConfigurationError("concurrency must be at least 1")
    gate = _Gate(stop)
    runner = _Runner(
        client,
        journal,
        gate,
        retry_unknown=retry_unknown,
        retry_failed=retry_failed,
    )
    runner.reconcile_with(reconcile)
    slots = asyncio.Semaphore(limit)
    finished: asyncio.Queue[asyncio.Task[BulkResult | None] | _Signal] = asyncio.Queue()
    tasks: set[asyncio.Task[BulkResult | None]] = set()
    # The latest row of each clientId in flight, so a repeat waits for it (journal only).
    latest: dict[str, asyncio.Task[BulkResult | None]] = {}

    def on_done(cid: str, index: int, task: asyncio.Task[BulkResult | None]) -> None:
        tasks.discard(task)
        gate.done(index)
        if latest.get(cid) is task:
            del latest[cid]
        finished.put_nowait(task)

    async def produce() -> None:
        index = 0
        async with contextlib.aclosing(_aiter(requests)) as rows:
            async for request in rows:
                await slots.acquire()
                cid = request.client_id
                previous = latest.get(cid)
                task = asyncio.create_task(runner.run(index, request, after=previous))
                if journal is not None:
                    latest[cid] = task
                tasks.add(task)
                gate.waiting[index] = task
                task.add_done_callback(functools.partial(on_done, cid, index))
                index += 1

    async def watch(event: asyncio.Event) -> None:
        await event.wait()
        finished.put_nowait(_Signal.STOP)

    producer = asyncio.create_task(produce())
    producer.add_done_callback(lambda _: finished.put_nowait(_Signal.INPUT_DONE))
    watcher = asyncio.create_task(watch(stop)) if stop is not None else None
    counts = dict.fromkeys(BulkState, 0)

    def progress() -> BulkProgress:
        return BulkProgress(
            done=sum(counts.values()),
            created=counts[BulkState.CREATED],
            skipped=counts[BulkState.SKIPPED],
            failed=counts[BulkState.FAILED],
            unknown=counts[BulkState.UNKNOWN],
            in_flight=len(gate.sending),
            sent=gate.sent,
            stopped=gate.stopped,
            found=counts[BulkState.FOUND],
        )

    producing = True
    try:
        while producing or tasks or not finished.empty():
            item = await finished.get()
            if item is _Signal.INPUT_DONE:
                producing = False
                if not producer.cancelled():  # cancelled: by a stop
                    producer.result()  # the input's own exception, if it raised one
                continue
            if item is _Signal.STOP:
                # Rows that have not started to send are dropped, wherever they wait
                # (journal, rate limiter, slot, cooldown): none of them is journaled.
                # The gate already refuses any that reaches before_send meanwhile.
                gate.stopped = True
                producer.cancel()
                for task in gate.waiting.values():
                    task.cancel()
                if on_progress is not None:
                    on_progress(progress())
                continue
            assert not isinstance(item, _Signal)
            slots.release()
            if item.cancelled():  # dropped by a stop before its request left
                continue
            result = item.result()  # a bug or JournalError stops the run
            if result is None:  # refused at before_send by a stop: nothing was sent
                continue
            counts[result.state] += 1
            if on_progress is not None:
                on_progress(progress())
            yield result
    finally:
        producer.cancel()
        if watcher is not None:
            watcher.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(producer, *tasks, return_exceptions=True)
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
        while not finished.empty():  # finished but never consumed: mark errors as seen
            item = finished.get_nowait()
            if isinstance(item, asyncio.Task) and not item.cancelled():
                item.exception()


class _Signal(enum.Enum):
    INPUT_DONE = "input done"
    STOP = "stop"


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
        attempts = (entry.attempts if entry is not None else 0) + 1
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
        except ResponseDecodeError as exc:
            if exc.scan_ref and exc.auth_token:
                # Created, and paid for: the rest of the answer was unreadable.
                partial = Session(auth_token=exc.auth_token, scan_ref=exc.scan_ref, client_id=cid)
                return await self._created(index, request, partial, attempts, checked, error=exc)
            return await self._failed(index, request, exc, sent, attempts, pending_at, checked)
        except IdenfyError as exc:
            return await self._failed(index, request, exc, sent, attempts, pending_at, checked)
        except Exception as exc:  # a bug must not spoil the other rows
            return await self._unexpected(
                index, request, exc, sent=sent, attempts=attempts, pending_at=pending_at
            )
        return await self._created(index, request, session, attempts, checked)

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
            entry = JournalEntry(
                client_id=request.client_id,
                state=JournalState.CREATED,
                scan_ref=session.scan_ref,
                auth_token=session.auth_token,
                redirect_url=session.redirect_url,
                attempts=attempts,
            )
            try:
                await self.journal.put(entry)
            except JournalError:
                raise
            except Exception:
                # Not storable although its pending entry was: that entry stays, so a
                # re-run reports the row unknown and never pays for it twice.
                pass
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
        kind = ErrorKind.from_error(exc, retryable=is_retryable(exc))
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
        kind = ErrorKind(
            name=type(exc).__name__, retryable=False, message=f"unexpected error {moment}"
        )
        if self.journal is not None and attempts is not None:
            try:
                await self.journal.put(
                    JournalEntry(
                        client_id=request.client_id,
                        state=state,
                        error=kind,
                        attempts=attempts,
                        pending_at=pending_at,
                    )
                )
            except JournalError:
                raise
            except Exception:
                # The row's own data cannot be stored (e.g. an unencodable clientId).
                # Then nothing was sent, or its pending entry stays: unknown, never resent.
                pass
        return BulkResult(
            index=index,
            request=request,
            state=BulkState(state.value),
            error_kind=kind,
            sent=sent,
        )

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


async def _aiter(
    items: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
) -> AsyncGenerator[SessionRequest, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
