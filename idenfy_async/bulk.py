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
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable

from ._bulk_records import (
    BulkProgress,
    BulkResult,
    BulkState,
    SessionCreator,
    is_retryable,
)
from ._bulk_row import _Gate, _Runner
from ._constants import DEFAULT_CONCURRENCY
from .errors import ConfigurationError
from .journal import Journal
from .models import SessionRequest
from .reconcile import ReconcilePolicy

__all__ = [
    "BulkProgress",
    "BulkResult",
    "BulkState",
    "SessionCreator",
    "create_sessions",
    "is_retryable",
]


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
    Ambiguous failures are never retried within the run (``retry_ambiguous=False`` is
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


async def _aiter(
    items: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
) -> AsyncGenerator[SessionRequest, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
