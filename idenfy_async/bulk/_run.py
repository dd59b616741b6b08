"""The scheduler behind [`create_sessions`][idenfy_async.create_sessions] (its docstring is the bulk
contract)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import functools
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable

from .._constants import DEFAULT_CONCURRENCY
from ..errors import ConfigurationError
from ..models import SessionRequest
from ._records import BulkProgress, BulkResult, BulkState, SessionCreator
from ._row import DEFAULT_CLAIM_LEASE, _Gate, _Runner, _SetAside, is_claiming
from .journal import Journal
from .reconcile import ReconcilePolicy

__all__ = ["create_sessions"]


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
    replace_conflicts: bool = False,
    reissue_expired: bool = False,
    origin: Callable[[int], str | None] | None = None,
) -> AsyncGenerator[BulkResult, None]:
    """Create a session per request; yield each row's [`BulkResult`][idenfy_async.BulkResult] as it
    finishes.

    This is the bulk contract; ``AsyncIdenfy.create_sessions`` and the
    ``idenfy-async bulk`` command follow it. Built on the public API only
    (``create_session``, the error tree, the journal)::

        async with AsyncIdenfy() as client, SqliteJournal("onboarding.sqlite") as journal:
            rows_out = create_sessions(client, rows, journal=journal)
            async with contextlib.aclosing(rows_out) as results:
                async for result in results:
                    print(result.index, result.state, result.client_id)

    Rows stream: at most ``concurrency`` requests are in flight, and the input is
    read no faster than that, so memory stays flat for any input size. With a
    journal, a row's slot serves the next row as soon as its answer is in, while its
    outcome is written (at most ``concurrency`` rows at once are being written or
    waiting for you to take their result); a result is yielded once its outcome is
    recorded. Results come in completion order (``index`` gives the input position).
    Failures of unknown outcome are never retried within the run (``retry_unknown=False`` is
    passed to the client): a row that may have created a session ends ``unknown``.
    One row's failure, even an unexpected exception, is that row's result: ``failed``
    when it happened before the request could leave, ``unknown`` after.
    Close the iteration early (``break`` inside ``contextlib.aclosing``) and every
    request in flight is cancelled and awaited; their rows stay ``pending``.

    Each row ends in one [`BulkState`][idenfy_async.BulkState]. With a journal, re-running the same
    input resumes: created rows are skipped, retryable failures are sent again, and
    rows that may already have a session (``pending`` or ``unknown``) are first
    reconciled with iDenfy's listing ([`idenfy_async.bulk.reconcile`][idenfy_async.bulk.reconcile]):
    found ones are recorded (scanRef, status; their authToken is lost) and not sent, those
    iDenfy never saw are sent, and those still undecided are never sent again unless
    ``retry_unknown=True``.

    Pacing (rate limit, concurrency slots, 429 cooldowns) belongs to the client:
    give ``AsyncIdenfy(rate_limit=...)``. A row is recorded ``pending`` from the
    client's ``before_send`` hook, once its request is about to leave, so a crash
    never leaves rows that were only waiting looking like rows in flight.

    Args:
        client: an ``AsyncIdenfy`` (or anything with its ``create_session``).
        requests: any iterable or async iterable of [`SessionRequest`][idenfy_async.SessionRequest].
        concurrency: rows in flight at once (default 10). Keep it at most the client's
            ``max_concurrency``: rows beyond it would wait inside the client.
        journal: records each row by clientId, ``pending`` before it is sent, with a
            hash of its data ([`request_fingerprint`][idenfy_async.bulk.request_fingerprint]). Keep
            one per account, not per input: what iDenfy billed is a fact about the clientId,
            whatever file it came from. With one, rows already in it resume as described above; a
            row whose clientId has a session made from *other* data ends
            ``conflict`` (nothing sent, the earlier link not given); rows repeating a
            clientId are handled one after the other. Without one, every row is sent.
            A [`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal] (PostgreSQL,
            shared by workers on several machines) is claimed row by row before each
            row's rate turn: runs on the same input split it, a row another run holds is
            set aside and asked about again after the input (``skipped`` once that run
            created it), and a dead run's rows are taken over once its claims' lease
            (``claim_lease`` of the journal, default a minute) has ended.
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
            A [`ReconcilePolicy`][idenfy_async.ReconcilePolicy] tunes it (and its
            wall clock stamps ``pending_at``); False skips it.
        replace_conflicts: send ``conflict`` rows anyway: a new session (a credit
            each) replaces the journal's entry (``BulkResult.replaced``).
        reissue_expired: a created session past its ``expiryTime`` is skipped by
            default (its link no longer works); with this, the clientId's listing is
            read first and, unless the session has a result, a new one is created (a
            credit each; ``BulkResult.replaced``).
        origin: where row ``index`` came from (e.g. ``"customers.csv line 4"``),
            recorded with its entry and reported in later conflicts.

    Raises:
        ConfigurationError: ``concurrency`` is below 1.
        JournalError: the journal cannot be written; the run stops (a row whose
            outcome could not be recorded stays ``pending``: unknown, never resent).
    """
    # Long for its docstring (the public contract); the body is _Schedule's.
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
        replace_conflicts=replace_conflicts,
        reissue_expired=reissue_expired,
        origin=origin,
    )
    runner.reconcile_with(reconcile)
    if is_claiming(journal):
        lease = getattr(journal, "claim_lease", None)
        runner.claim_rows(DEFAULT_CLAIM_LEASE if lease is None else float(lease))
    schedule = _Schedule(runner, limit, ordered=journal is not None, on_progress=on_progress)
    schedule.start(requests, stop)
    try:
        while schedule.producing or schedule.tasks or not schedule.finished.empty():
            result = schedule.take(await schedule.finished.get())
            if result is not None:
                yield result
    finally:
        await schedule.close()


class _Signal(enum.Enum):
    INPUT_DONE = "input done"
    STOP = "stop"


_Row = asyncio.Task[BulkResult | _SetAside | None]


class _Schedule:
    """The rows of one [`create_sessions`][idenfy_async.create_sessions] call between the input and
    the caller.

    A row holds one of ``limit`` *slots* from the moment it is read until its answer
    is in. With a journal, its outcome is then written while its slot already serves
    the next row (the write does not keep a request from leaving); at most ``limit``
    rows are being recorded or waiting to be taken by the caller at once, so at most
    ``2 * limit`` rows are unfinished and memory stays flat. A row's result is
    yielded only once its outcome is recorded. Without a journal there is nothing to
    overlap: the slot frees when the caller takes the result.
    """

    def __init__(
        self,
        runner: _Runner,
        limit: int,
        *,
        ordered: bool,
        on_progress: Callable[[BulkProgress], None] | None,
    ) -> None:
        self.runner = runner
        self.gate = runner.gate
        self.ordered = ordered  # rows repeating a clientId go one after the other
        self.on_progress = on_progress
        self.slots = asyncio.Semaphore(limit)
        self.recording = asyncio.Semaphore(limit)
        self.holding: set[int] = set()  # rows still holding their slot
        self.finished: asyncio.Queue[tuple[int, _Row] | _Signal] = asyncio.Queue()
        self.tasks: set[_Row] = set()
        # The latest row of each clientId in flight, so a repeat waits for it (journal only).
        self.latest: dict[str, _Row] = {}
        self.counts = dict.fromkeys(BulkState, 0)
        # Rows another process was creating, to ask about again (see _Runner.run).
        self.set_aside: collections.deque[_SetAside] = collections.deque()
        self.changed = asyncio.Event()
        self.producing = True
        self.producer: asyncio.Task[None] | None = None
        self.watcher: asyncio.Task[None] | None = None
        if ordered:
            runner.answered = self.answered

    def start(
        self,
        requests: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
        stop: asyncio.Event | None,
    ) -> None:
        if self.runner.claims is not None:
            self.runner.claims.start()
        self.producer = asyncio.create_task(self.produce(requests))
        self.producer.add_done_callback(lambda _: self.finished.put_nowait(_Signal.INPUT_DONE))
        if stop is not None:
            self.watcher = asyncio.create_task(self.watch(stop))

    async def produce(
        self, requests: Iterable[SessionRequest] | AsyncIterable[SessionRequest]
    ) -> None:
        index = 0
        async with contextlib.aclosing(_aiter(requests)) as rows:
            async for request in rows:
                await self.submit(index, request)
                index += 1
        # Rows set aside (another process held their clientId) are asked about again
        # until each is settled: its session found, or sent here once the other failed.
        while self.set_aside or self.tasks:
            if not self.set_aside:
                self.changed.clear()
                await self.changed.wait()
                continue
            row = self.set_aside.popleft()
            await self.submit(row.index, row.request, again=row)

    async def submit(
        self, index: int, request: SessionRequest, *, again: _SetAside | None = None
    ) -> None:
        await self.slots.acquire()
        self.holding.add(index)
        cid = request.client_id
        previous = self.latest.get(cid)
        task = asyncio.create_task(self.runner.run(index, request, after=previous, again=again))
        if self.ordered:
            self.latest[cid] = task
        self.tasks.add(task)
        self.gate.waiting[index] = task
        task.add_done_callback(functools.partial(self.on_done, cid, index))

    async def watch(self, event: asyncio.Event) -> None:
        await event.wait()
        self.finished.put_nowait(_Signal.STOP)

    async def answered(self, index: int) -> None:
        """Row ``index`` has its answer: trade its slot for a recording place."""
        await self.recording.acquire()  # full: the row keeps its slot (back-pressure)
        self.holding.discard(index)
        self.slots.release()

    def on_done(self, cid: str, index: int, task: _Row) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is None:
            result = task.result()
            if isinstance(result, _SetAside):
                self.set_aside.append(result)
        self.changed.set()
        self.gate.done(index)
        if self.latest.get(cid) is task:
            del self.latest[cid]
        self.finished.put_nowait((index, task))

    def take(self, item: tuple[int, _Row] | _Signal) -> BulkResult | None:
        """What a finished item means: a result to yield, or None."""
        if item is _Signal.INPUT_DONE:
            self.producing = False
            assert self.producer is not None
            if not self.producer.cancelled():  # cancelled: by a stop
                self.producer.result()  # the input's own exception, if it raised one
            return None
        if item is _Signal.STOP:
            self.stopping()
            return None
        assert not isinstance(item, _Signal)
        index, task = item
        if index in self.holding:
            self.holding.discard(index)
            self.slots.release()
        else:
            self.recording.release()
        if task.cancelled():  # dropped by a stop before its request left
            return None
        result = task.result()  # a bug or JournalError stops the run
        if result is None:  # refused at before_send by a stop: nothing was sent
            return None
        if isinstance(result, _SetAside):  # queued again by on_done
            return None
        self.counts[result.state] += 1
        if self.on_progress is not None:
            self.on_progress(self.progress())
        return result

    def stopping(self) -> None:
        # Rows that have not started to send are dropped, wherever they wait (journal,
        # rate limiter, slot, cooldown): none of them is journaled. The gate already
        # refuses any that reaches before_send meanwhile.
        self.gate.stopped = True
        assert self.producer is not None
        self.producer.cancel()
        for task in self.gate.waiting.values():
            task.cancel()
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def progress(self) -> BulkProgress:
        counts = self.counts
        return BulkProgress(
            done=sum(counts.values()),
            created=counts[BulkState.CREATED],
            skipped=counts[BulkState.SKIPPED],
            failed=counts[BulkState.FAILED],
            unknown=counts[BulkState.UNKNOWN],
            in_flight=len(self.gate.sending),
            sent=self.gate.sent,
            stopped=self.gate.stopped,
            found=counts[BulkState.FOUND],
            conflict=counts[BulkState.CONFLICT],
        )

    async def close(self) -> None:
        """Cancel and await whatever still runs (the caller stopped early, or an error)."""
        producer, watcher = self.producer, self.watcher
        assert producer is not None
        producer.cancel()
        if watcher is not None:
            watcher.cancel()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(producer, *self.tasks, return_exceptions=True)
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
        if self.runner.claims is not None:
            await self.runner.claims.close()
        while not self.finished.empty():  # finished but never consumed: mark errors as seen
            item = self.finished.get_nowait()
            if isinstance(item, tuple) and not item[1].cancelled():
                item[1].exception()


async def _aiter(
    items: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
) -> AsyncGenerator[SessionRequest, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
