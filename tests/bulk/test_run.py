"""create_sessions: streaming, bounded concurrency, row states, journal resume, no duplicates."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from idenfy_async import (
    APIConnectionError,
    AsyncIdenfy,
    ConfigurationError,
    CoordinationError,
    IdenfyError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Session,
    SessionOutcomeUnknownError,
    SessionRequest,
)
from idenfy_async._send.limits import RateLimiter
from idenfy_async.bulk import (
    BulkProgress,
    BulkResult,
    BulkState,
    SessionCreator,
    create_sessions,
    is_retryable,
)
from idenfy_async.bulk._row import _Runner
from idenfy_async.bulk.journal import (
    ErrorRecord,
    JournalEntry,
    JournalError,
    JournalState,
    MemoryJournal,
    SqliteJournal,
)
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer, Fault, random_failure
from tests.conftest import VirtualClock

# --------------------------------------------------------------------------- helpers


def rows(n: int, prefix: str = "user") -> Iterator[SessionRequest]:
    return (SessionRequest(f"{prefix}-{i}") for i in range(n))


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]


def new_client(
    transport: httpx.AsyncBaseTransport, policy: RetryPolicy, *, concurrency: int = 50
) -> AsyncIdenfy:
    return AsyncIdenfy(
        "test-key",
        "test-secret",
        transport=transport,
        retry_policy=policy,
        max_concurrency=concurrency,
        max_retries=0,
    )


class StubClient:
    """A SessionCreator without HTTP: instant, held on a gate, or raising a set error."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.in_flight = 0
        self.peak = 0
        self.cancelled: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.errors: dict[str, IdenfyError] = {}

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        assert retry_unknown is False  # bulk never retries what may have created a session
        if before_send is not None:
            await before_send()
        cid = request.client_id
        self.calls.append(cid)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            gate = self.gates.get(cid)
            if gate is not None:
                await gate.wait()
            else:
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(cid)
            raise
        finally:
            self.in_flight -= 1
        if cid in self.errors:
            raise self.errors[cid]
        return Session(auth_token=f"tok-{cid}", scan_ref=f"scan-{cid}", client_id=cid)


class FlakyTransport(httpx.AsyncBaseTransport):
    """FakeIdenfy failing about ``rate`` of requests with FAILURE_MIX, as FakeIdenfyServer."""

    def __init__(self, fake: FakeIdenfy, rate: float, seed: int) -> None:
        self.fake = fake
        self.rate = rate
        self.rng = random.Random(seed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        failure = random_failure(self.rng, self.rate)
        self.fake.requests += 1
        if failure is not None and failure.error is not None and not failure.create:
            raise failure.error("scripted", request=request)
        status, headers, content = self.fake.handle(
            request.method, request.url.path, request.headers, body, failure=failure
        )
        if failure is not None and failure.error is not None:
            raise failure.error("scripted", request=request)
        return httpx.Response(status, headers=headers, content=content, request=request)


def only_task_left() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


# --------------------------------------------------------------------------- streaming


async def test_ten_thousand_rows_are_all_created(fake: FakeIdenfy, policy: RetryPolicy) -> None:
    async with new_client(fake, policy, concurrency=100) as client:
        results = await collect(create_sessions(client, rows(10_000), concurrency=100))
    assert len(results) == 10_000
    assert {r.state for r in results} == {BulkState.CREATED}
    assert sorted(r.index for r in results) == list(range(10_000))
    assert all(r.session is not None and r.sent for r in results)
    assert len(fake.sessions) == 10_000
    assert len({s.client_id for s in fake.sessions}) == 10_000
    assert only_task_left()


async def test_results_carry_their_request_and_session(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with new_client(fake, policy) as client:
        results = await collect(create_sessions(client, rows(5)))
    by_index = {r.index: r for r in results}
    for i in range(5):
        result = by_index[i]
        assert result.client_id == f"user-{i}"
        assert isinstance(result.outcome, Session)
        assert result.outcome.scan_ref == fake.sessions_for(f"user-{i}")[0].scan_ref


async def test_an_async_iterable_input_works() -> None:
    async def source() -> AsyncIterator[SessionRequest]:
        for request in rows(30):
            await asyncio.sleep(0)
            yield request

    stub = StubClient()
    results = await collect(create_sessions(stub, source(), concurrency=4))
    assert sorted(r.client_id for r in results) == sorted(f"user-{i}" for i in range(30))


async def test_input_is_read_only_as_fast_as_slots_free_up() -> None:
    stub = StubClient()
    pulled = 0

    def source() -> Iterator[SessionRequest]:
        nonlocal pulled
        for request in rows(2_000):
            pulled += 1
            yield request

    seen = 0
    async for _ in create_sessions(stub, source(), concurrency=7):
        seen += 1
        # Bounded memory: at most `concurrency` rows unfinished, plus one read ahead.
        assert pulled - seen <= 7 + 1
    assert seen == 2_000
    assert stub.peak <= 7


async def test_with_a_journal_unfinished_rows_stay_within_twice_the_concurrency() -> None:
    stub = StubClient()
    journal = MemoryJournal()
    pulled = 0

    def source() -> Iterator[SessionRequest]:
        nonlocal pulled
        for request in rows(2_000):
            pulled += 1
            yield request

    seen = 0
    async for result in create_sessions(stub, source(), concurrency=7, journal=journal):
        seen += 1
        # Yielded only once recorded: the caller never sees an outcome a crash could lose.
        assert journal.entries[result.client_id].state is JournalState.CREATED
        # `concurrency` rows sending, as many being recorded, plus one read ahead.
        assert pulled - seen <= 2 * 7 + 1
    assert seen == 2_000
    assert stub.peak <= 7


class HeldJournal(MemoryJournal):
    """A journal whose ``created`` writes wait until :attr:`release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.held = 0

    async def put(self, entry: JournalEntry) -> None:
        if entry.state is JournalState.CREATED:
            self.held += 1
            await self.release.wait()
        await super().put(entry)


async def test_a_rows_slot_serves_the_next_row_while_its_outcome_is_written() -> None:
    stub = StubClient()
    journal = HeldJournal()
    run = asyncio.create_task(
        collect(create_sessions(stub, rows(3), concurrency=1, journal=journal))
    )
    for _ in range(50):
        await asyncio.sleep(0)
    # user-0's answer is in and its write waits: its slot sent user-1 meanwhile, whose
    # own write waits for a recording place (one per slot), so user-2 is not read yet.
    assert stub.calls == ["user-0", "user-1"]
    assert journal.held == 1
    assert journal.entries["user-1"].state is JournalState.PENDING
    journal.release.set()
    results = await run
    assert sorted(r.client_id for r in results) == ["user-0", "user-1", "user-2"]
    assert {r.state for r in results} == {BulkState.CREATED}
    assert {e.state for e in journal.entries.values()} == {JournalState.CREATED}


async def test_an_endless_input_streams_and_closing_cancels_work_in_flight() -> None:
    stub = StubClient()
    stub.gates = {"user-3": asyncio.Event(), "user-5": asyncio.Event()}  # never answered
    journal = MemoryJournal()
    endless = (SessionRequest(f"user-{i}") for i in itertools.count())
    results = create_sessions(stub, endless, concurrency=5, journal=journal)
    async with contextlib.aclosing(results):
        async for result in results:
            if result.index >= 300:
                break
    # The two held rows, and whichever others were sending at that instant (their
    # slots serve new rows while finished ones are recorded, so a few may be).
    assert {"user-3", "user-5"} <= set(stub.cancelled)
    assert len(stub.cancelled) <= 5
    assert only_task_left()
    # What was in flight stays pending: a later run reports it as unknown, never resends.
    for cid in stub.cancelled:
        assert journal.entries[cid].state is JournalState.PENDING


async def test_an_input_error_stops_the_run_and_leaves_no_task() -> None:
    def source() -> Iterator[SessionRequest]:
        yield from rows(20)
        raise ValueError("broken input")

    stub = StubClient()
    with pytest.raises(ValueError, match="broken input"):
        await collect(create_sessions(stub, source(), concurrency=3))
    assert only_task_left()


async def test_a_journal_that_cannot_write_stops_the_run() -> None:
    class BrokenJournal(MemoryJournal):
        async def put(self, entry: JournalEntry) -> None:
            if len(self.entries) >= 5:
                raise JournalError("disk full")
            await super().put(entry)

    stub = StubClient()
    with pytest.raises(JournalError, match="disk full"):
        await collect(create_sessions(stub, rows(50), concurrency=3, journal=BrokenJournal()))
    assert only_task_left()
    assert len(stub.calls) <= 5 + 3  # nothing is sent once a pending row cannot be recorded


@pytest.mark.parametrize("concurrency", [0, -1])
async def test_concurrency_below_one_is_refused(concurrency: int) -> None:
    with pytest.raises(ConfigurationError):
        await collect(create_sessions(StubClient(), rows(1), concurrency=concurrency))


async def test_progress_counts_every_row() -> None:
    stub = StubClient()
    stub.errors = {
        "user-1": ServerError(status_code=500, identifier=None, message=None),
        "user-2": RateLimitError(status_code=429, identifier=None, message=None),
    }
    stub.errors["user-1"].outcome_unknown = True
    seen: list[BulkProgress] = []
    results = await collect(create_sessions(stub, rows(6), concurrency=2, on_progress=seen.append))
    assert [p.done for p in seen] == [1, 2, 3, 4, 5, 6]
    assert seen[-1] == BulkProgress(
        done=6, created=4, skipped=0, failed=1, unknown=1, in_flight=0, sent=6
    )
    assert Counter(r.state for r in results) == {
        BulkState.CREATED: 4,
        BulkState.FAILED: 1,
        BulkState.UNKNOWN: 1,
    }


def test_a_client_is_a_session_creator(fake: FakeIdenfy) -> None:
    creator: SessionCreator = AsyncIdenfy("k", "s", transport=fake)
    assert creator is not None


# --------------------------------------------------------------------------- row states

AMBIGUOUS_SERVER_ERROR = ServerError(status_code=502, identifier=None, message=None)
AMBIGUOUS_SERVER_ERROR.outcome_unknown = True


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RateLimitError(status_code=429, identifier="TOO_MANY_REQUESTS", message=None), True),
        (ServerError(status_code=503, identifier=None, message=None), True),
        (APIConnectionError("ConnectError", request_sent=False), True),
        (APIConnectionError("ReadError", request_sent=True), False),
        (AMBIGUOUS_SERVER_ERROR, False),
        (ServerError(status_code=500, identifier=None, message=None), False),
        # Shared state (Redis) refused before anything was sent: a re-run sends it.
        (CoordinationError("quota", "ConnectionError"), True),
        (CoordinationError("session", "timeout"), True),
        # May exist (another process's lost answer), or open for another request: no.
        (SessionOutcomeUnknownError("u"), False),
    ],
)
def test_is_retryable(error: IdenfyError, retryable: bool) -> None:
    assert is_retryable(error) is retryable


@pytest.mark.parametrize(
    ("failure", "state", "retryable", "created"),
    [
        (Fault(status=503), BulkState.FAILED, True, False),
        (Fault(status=429, identifier="TOO_MANY_REQUESTS"), BulkState.FAILED, True, False),
        (Fault(status=400, identifier="TOO_MANY_REQUESTS"), BulkState.FAILED, True, False),
        (Fault(error=httpx.ConnectError), BulkState.FAILED, True, False),
        (Fault(status=402), BulkState.FAILED, True, False),
        (Fault(status=400, identifier="BAD_VALUE"), BulkState.FAILED, False, False),
        (Fault(status=401, identifier="UNAUTHORIZED"), BulkState.FAILED, False, False),
        (Fault(status=409), BulkState.FAILED, False, False),
        (Fault(status=500, identifier="INTERNAL_ERROR"), BulkState.UNKNOWN, False, False),
        (Fault(status=500, create=True), BulkState.UNKNOWN, False, True),
        (Fault(status=504, create=True), BulkState.UNKNOWN, False, True),
        (Fault(error=httpx.ReadTimeout, create=True), BulkState.UNKNOWN, False, True),
        (Fault(error=httpx.RemoteProtocolError), BulkState.UNKNOWN, False, False),
        (Fault(status=201, body=b"<html>"), BulkState.UNKNOWN, False, False),
    ],
)
async def test_each_failure_ends_in_one_state(
    fake: FakeIdenfy,
    policy: RetryPolicy,
    failure: Fault,
    state: BulkState,
    retryable: bool,
    created: bool,
) -> None:
    fake.fail_next(failure)
    journal = MemoryJournal()
    async with new_client(fake, policy) as client:
        results = await collect(create_sessions(client, rows(3), concurrency=1, journal=journal))
    first = next(r for r in results if r.index == 0)
    assert first.state is state
    assert first.sent
    assert isinstance(first.error, IdenfyError)
    assert first.error_kind is not None
    assert first.error_kind.retryable is retryable
    assert first.error_kind.name == type(first.error).__name__
    assert journal.entries["user-0"] == JournalEntry(
        client_id="user-0", state=JournalState(state.value), error=first.error_kind, attempts=1
    )
    assert len(fake.sessions_for("user-0")) == int(created)
    # One failing row never stops the others.
    assert [r.state for r in results if r.index > 0] == [BulkState.CREATED] * 2


# --------------------------------------------------------------------------- resuming

RATE_LIMITED = ErrorRecord(name="RateLimitError", retryable=True, status_code=429)
BAD_VALUE = ErrorRecord(name="BadRequestError", retryable=False, status_code=400)
LOST = ErrorRecord(name="APITimeoutError", retryable=False, message="ReadTimeout")


def entry(state: JournalState, error: ErrorRecord | None = None) -> JournalEntry:
    return JournalEntry(client_id="user-0", state=state, error=error, attempts=1)


@pytest.mark.parametrize(
    ("before", "flags", "state", "sent"),
    [
        (entry(JournalState.PENDING), {}, BulkState.UNKNOWN, False),
        (entry(JournalState.PENDING), {"retry_unknown": True}, BulkState.CREATED, True),
        (entry(JournalState.UNKNOWN, LOST), {}, BulkState.UNKNOWN, False),
        (entry(JournalState.UNKNOWN, LOST), {"retry_failed": True}, BulkState.UNKNOWN, False),
        (entry(JournalState.UNKNOWN, LOST), {"retry_unknown": True}, BulkState.CREATED, True),
        (entry(JournalState.FAILED, RATE_LIMITED), {}, BulkState.CREATED, True),
        (entry(JournalState.FAILED, BAD_VALUE), {}, BulkState.FAILED, False),
        (entry(JournalState.FAILED, BAD_VALUE), {"retry_unknown": True}, BulkState.FAILED, False),
        (entry(JournalState.FAILED, BAD_VALUE), {"retry_failed": True}, BulkState.CREATED, True),
    ],
)
async def test_a_rerun_resumes_from_the_journal(
    fake: FakeIdenfy,
    policy: RetryPolicy,
    before: JournalEntry,
    flags: dict[str, bool],
    state: BulkState,
    sent: bool,
) -> None:
    journal = MemoryJournal()
    await journal.put(before)
    async with new_client(fake, policy) as client:
        [result] = await collect(
            create_sessions(
                client,
                rows(1),
                journal=journal,
                retry_unknown=flags.get("retry_unknown", False),
                retry_failed=flags.get("retry_failed", False),
                reconcile=False,  # the journal's own rules; reconciling: test_reconcile.py
            )
        )
    assert (result.state, result.sent) == (state, sent)
    assert fake.requests == int(sent)
    after = journal.entries["user-0"]
    if sent:
        assert after.state is JournalState.CREATED
        assert after.attempts == 2
    else:
        assert result.error is None
        assert result.error_kind == before.error  # what the journal knew is reported
        # A row left pending by a crash is settled as unknown, for good.
        assert after == (
            before if before.state is not JournalState.PENDING else entry(JournalState.UNKNOWN)
        )


async def test_created_rows_are_skipped_with_the_stored_session(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    journal = MemoryJournal()
    async with new_client(fake, policy) as client:
        first = await collect(create_sessions(client, rows(3), journal=journal))
        again = await collect(create_sessions(client, rows(3), journal=journal))
    assert fake.requests == 3
    assert {r.state for r in again} == {BulkState.SKIPPED}
    made = {r.client_id: r.session for r in first}
    for result in again:
        stored = made[result.client_id]
        assert result.session is not None
        assert stored is not None
        assert not result.sent
        assert result.session.scan_ref == stored.scan_ref
        assert result.session.auth_token == stored.auth_token
        assert result.session.redirect_url == stored.redirect_url


async def test_pending_is_recorded_before_the_request_leaves() -> None:
    journal = MemoryJournal()
    await journal.put(entry(JournalState.FAILED, RATE_LIMITED))
    seen: list[JournalEntry] = []

    class Checking(StubClient):
        async def create_session(
            self,
            request: SessionRequest,
            /,
            *,
            retry_unknown: bool,
            before_send: Callable[[], Awaitable[None]] | None = None,
        ) -> Session:
            async def check() -> None:
                assert before_send is not None
                await before_send()
                seen.append(journal.entries[request.client_id])

            return await super().create_session(
                request, retry_unknown=retry_unknown, before_send=check
            )

    await collect(create_sessions(Checking(), rows(2), journal=journal))
    assert sorted(seen, key=lambda e: e.client_id) == [
        JournalEntry(client_id="user-0", state=JournalState.PENDING, attempts=2),
        JournalEntry(client_id="user-1", state=JournalState.PENDING, attempts=1),
    ]


@pytest.mark.parametrize("with_journal", [True, False])
async def test_a_repeated_client_id(
    fake: FakeIdenfy, policy: RetryPolicy, with_journal: bool
) -> None:
    requests = [SessionRequest(cid) for cid in ("a", "a", "b", "a")]
    journal = MemoryJournal() if with_journal else None
    async with new_client(fake, policy) as client:
        results = await collect(create_sessions(client, requests, concurrency=4, journal=journal))
    states = Counter(r.state for r in results if r.client_id == "a")
    if with_journal:  # one session per clientId: the repeats wait, then are skipped
        assert states == {BulkState.CREATED: 1, BulkState.SKIPPED: 2}
        assert len(fake.sessions_for("a")) == 1
    else:  # no journal, no memory: each row is sent as given
        assert states == {BulkState.CREATED: 3}
        assert len(fake.sessions_for("a")) == 3


# --------------------------------------------------------------------------- a flaky iDenfy


async def test_a_flaky_fake_never_creates_a_client_id_twice(
    fake: FakeIdenfy, policy: RetryPolicy, tmp_path: Path
) -> None:
    """~10% of requests fail (503, 429, 500 and lost answers, some after creating)."""
    n = 1_000
    path = tmp_path / "run.journal.sqlite"
    flaky = FlakyTransport(fake, rate=0.1, seed=11)
    async with new_client(flaky, policy) as client, SqliteJournal(path) as journal:
        first = await collect(create_sessions(client, rows(n), concurrency=50, journal=journal))
        states = {r.client_id: r.state for r in first}
        assert len(states) == n  # one result per row
        for cid, state in states.items():
            made = len(fake.sessions_for(cid))
            entry = await journal.get(cid)
            assert entry is not None
            assert entry.state.value == state.value  # the journal agrees with the result
            assert made == {"created": 1, "failed": 0, "unknown": made}[state.value] <= 1
        counts = Counter(states.values())
        assert counts[BulkState.FAILED] > 10
        assert counts[BulkState.UNKNOWN] > 10

        # The same input again, iDenfy healthy now: retryable failures finish, the rest
        # is skipped, and nothing that may already exist is sent.
        flaky.rate = 0.0
        before = fake.requests
        second = await collect(
            create_sessions(client, rows(n), concurrency=50, journal=journal, reconcile=False)
        )
        assert fake.requests - before == counts[BulkState.FAILED]  # every failure was retryable
        again = Counter(r.state for r in second)
        assert again == {
            BulkState.SKIPPED: counts[BulkState.CREATED],
            BulkState.CREATED: counts[BulkState.FAILED],
            BulkState.UNKNOWN: counts[BulkState.UNKNOWN],
        }
        assert max(Counter(s.client_id for s in fake.sessions).values()) == 1

        # Retrying unknown rows sends exactly those, and a credit is paid twice for
        # each one iDenfy had in fact created: why it is opt-in.
        unknown = [cid for cid, state in states.items() if state is BulkState.UNKNOWN]
        had_session = {cid for cid in unknown if fake.sessions_for(cid)}
        before = fake.requests
        third = await collect(
            create_sessions(
                client,
                rows(n),
                concurrency=50,
                journal=journal,
                retry_unknown=True,
                reconcile=False,
            )
        )
        assert fake.requests - before == len(unknown)
        assert Counter(r.state for r in third)[BulkState.CREATED] == len(unknown)
        duplicated = {
            cid for cid, k in Counter(s.client_id for s in fake.sessions).items() if k > 1
        }
        assert duplicated == had_session
        assert (await journal.counts())[JournalState.CREATED] == n


async def test_rate_limit_paces_rows_before_they_are_recorded_pending(
    clock: VirtualClock, fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """The client owns pacing; a row is pending only once its request is about to leave."""
    journal = MemoryJournal()
    limit = RateLimiter("3/s", clock=clock, sleep=clock.sleep)
    start = clock.now
    sent_at: list[float] = []

    class Watching(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sent_at.append(clock.now - start)
            # Only rows really being sent are pending; those waiting for a token are not.
            pending = sum(e.state is JournalState.PENDING for e in journal.entries.values())
            assert pending == 1  # the fake answers at once: one request on the wire
            return await fake.handle_async_request(request)

    async with AsyncIdenfy(
        "test-key", "test-secret", transport=Watching(), retry_policy=policy, rate_limit=limit
    ) as client:
        results = await collect(client.create_sessions(rows(10), concurrency=5, journal=journal))
    assert {r.state for r in results} == {BulkState.CREATED}
    assert sorted(sent_at) == pytest.approx([i / 3 for i in range(10)])
    assert clock.now - start == pytest.approx(3.0)


# --------------------------------------------------------------------------- stopping


async def test_stop_drops_rows_waiting_for_the_rate_limiter(
    clock: VirtualClock, fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """After ``stop``, rows only waiting for their token never leave nor are journaled."""
    journal = MemoryJournal()
    limit = RateLimiter("1/s", clock=clock, sleep=clock.sleep)
    stop = asyncio.Event()
    seen: list[BulkProgress] = []
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, rate_limit=limit
    ) as client:
        results = []
        stream = create_sessions(
            client, rows(50), concurrency=5, journal=journal, stop=stop, on_progress=seen.append
        )
        async for result in stream:
            results.append(result)
            if len(results) == 3:
                stop.set()  # the other rows in flight are waiting for a token now
    at_stop = next(p for p in seen if p.stopped)
    assert {r.state for r in results} == {BulkState.CREATED}
    assert fake.requests == len(fake.sessions) == at_stop.sent == len(results) < 3 + 5
    # Rows that never left are not in the journal: a re-run sends them.
    assert sorted(journal.entries) == sorted(r.client_id for r in results)
    assert only_task_left()


async def test_a_row_reaching_before_send_after_the_stop_is_refused() -> None:
    """The race: a row passes its pacing just after the stop, before the runner cancels it."""
    stop = asyncio.Event()
    journal = MemoryJournal()

    class Racing(StubClient):
        async def create_session(
            self,
            request: SessionRequest,
            /,
            *,
            retry_unknown: bool,
            before_send: Callable[[], Awaitable[None]] | None = None,
        ) -> Session:
            if request.client_id == "user-2":
                stop.set()  # as a signal handler would, between pacing and the hook
            return await super().create_session(
                request, retry_unknown=retry_unknown, before_send=before_send
            )

    stub = Racing()
    results = await collect(
        create_sessions(stub, rows(10), concurrency=1, journal=journal, stop=stop)
    )
    assert [r.client_id for r in results] == ["user-0", "user-1"]
    assert stub.calls == ["user-0", "user-1"]  # user-2's request never left
    assert sorted(journal.entries) == ["user-0", "user-1"]  # nor was it recorded pending
    assert only_task_left()


async def test_stop_over_real_tcp_sends_nothing_new(tmp_path: Path) -> None:
    """Against a server on 127.0.0.1: the sessions it created are exactly the requests
    that had left when the stop took effect; nothing else is journaled."""
    stop = asyncio.Event()
    seen: list[BulkProgress] = []
    results: list[BulkResult] = []
    server = FakeIdenfyServer(latency=0.05)  # answers held: some are on the wire at the stop

    async def run(client: AsyncIdenfy, journal: SqliteJournal) -> None:
        stream = create_sessions(
            client, rows(200), concurrency=8, journal=journal, stop=stop, on_progress=seen.append
        )
        async for result in stream:
            results.append(result)
            if len(results) == 5:
                stop.set()

    async with (
        server as base_url,
        AsyncIdenfy(
            "test-key",
            "test-secret",
            base_url=base_url,
            rate_limit=RateLimiter("50/s"),
            max_concurrency=8,
        ) as client,
        SqliteJournal(tmp_path / "j.sqlite") as journal,
    ):
        await asyncio.wait_for(run(client, journal), timeout=10)
        counts = await journal.counts()
    at_stop = next(p for p in seen if p.stopped)
    assert len(server.fake.sessions) == server.fake.requests == at_stop.sent == len(results)
    assert {r.state for r in results} == {BulkState.CREATED}
    assert counts == {**dict.fromkeys(JournalState, 0), JournalState.CREATED: at_stop.sent}
    assert at_stop.sent < 5 + 8  # rows waiting for their token were dropped


# --------------------------------------------------------------------------- one bad row


class Raising(StubClient):
    """Raises ``before[cid]`` before calling before_send, ``after[cid]`` once it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.before: dict[str, BaseException] = {}
        self.after: dict[str, BaseException] = {}

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        cid = request.client_id
        if cid in self.before:
            raise self.before[cid]
        if cid in self.after:
            assert before_send is not None
            await before_send()
            raise self.after[cid]
        return await super().create_session(
            request, retry_unknown=retry_unknown, before_send=before_send
        )


async def test_an_unexpected_exception_is_only_its_rows_failure() -> None:
    """Before before_send: failed, nothing sent; after: unknown (a request may have left).
    The exception's text (which may quote personal data) is not kept."""
    stub = Raising()
    stub.before["user-3"] = UnicodeEncodeError("utf-8", "Ann\ud800", 3, 4, "surrogates")
    stub.after["user-7"] = RuntimeError("bug while reading the answer for Ann Smith")
    journal = MemoryJournal()
    results = await collect(create_sessions(stub, rows(20), concurrency=4, journal=journal))
    by_id = {r.client_id: r for r in results}
    assert len(by_id) == 20
    assert Counter(r.state for r in results)[BulkState.CREATED] == 18
    before, after = by_id["user-3"], by_id["user-7"]
    assert (before.state, before.sent, before.error) == (BulkState.FAILED, False, None)
    assert (after.state, after.sent, after.error) == (BulkState.UNKNOWN, True, None)
    assert before.error_kind == ErrorRecord(
        name="UnicodeEncodeError",
        retryable=False,
        message="unexpected error before anything was sent",
    )
    assert after.error_kind is not None
    assert after.error_kind.name == "RuntimeError"
    assert "Ann" not in str(after.error_kind)
    assert journal.entries["user-3"].state is JournalState.FAILED  # never pending
    assert journal.entries["user-7"].state is JournalState.UNKNOWN
    assert only_task_left()


async def test_a_row_the_journal_cannot_store_fails_alone() -> None:
    """A journal refusing one row's data (not a JournalError: e.g. an unencodable
    clientId) fails that row, unsent; the run goes on."""

    class Picky(MemoryJournal):
        async def get(self, client_id: str) -> JournalEntry | None:
            if client_id == "user-1":
                raise UnicodeEncodeError("utf-8", client_id, 0, 1, "surrogates")
            return await super().get(client_id)

    stub = StubClient()
    journal = Picky()
    results = await collect(create_sessions(stub, rows(5), concurrency=2, journal=journal))
    by_id = {r.client_id: r for r in results}
    assert by_id["user-1"].state is BulkState.FAILED
    assert not by_id["user-1"].sent
    assert "user-1" not in stub.calls
    assert "user-1" not in journal.entries  # its entry could not be read: left alone
    assert sum(r.state is BulkState.CREATED for r in results) == 4


async def test_a_bug_settling_a_journaled_row_leaves_its_entry_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected error while deciding a row from its journal entry fails that row;
    the entry (here: created) is not overwritten, so nothing can be paid twice."""
    real_known = _Runner._known

    async def known(
        self: _Runner, index: int, request: SessionRequest, entry: JournalEntry, written: Any
    ) -> BulkResult | None:
        if request.client_id == "user-1":
            raise RuntimeError("bug")
        return await real_known(self, index, request, entry, written)

    monkeypatch.setattr(_Runner, "_known", known)
    journal = MemoryJournal()
    made = JournalEntry(client_id="user-1", state=JournalState.CREATED, scan_ref="s", attempts=1)
    await journal.put(made)
    stub = StubClient()
    results = await collect(create_sessions(stub, rows(3), journal=journal))
    by_id = {r.client_id: r for r in results}
    assert (by_id["user-1"].state, by_id["user-1"].sent) == (BulkState.FAILED, False)
    assert journal.entries["user-1"] == made
    assert sorted(stub.calls) == ["user-0", "user-2"]


@pytest.mark.parametrize(
    ("scan_ref", "auth_token", "state"),
    [
        ("scan-x", "tok-x", BulkState.CREATED),
        ("scan-x", None, BulkState.UNKNOWN),
        (None, "tok-x", BulkState.UNKNOWN),
        (None, None, BulkState.UNKNOWN),
    ],
)
async def test_a_partly_unreadable_answer_with_scan_ref_and_token_is_created(
    scan_ref: str | None, auth_token: str | None, state: BulkState
) -> None:
    error = ResponseDecodeError(
        "expiryTime: not an integer",
        status_code=201,
        method="POST",
        path="/api/v2/token",
        scan_ref=scan_ref,
        auth_token=auth_token,
    )
    error.outcome_unknown = True  # as the client marks it for a create
    stub = Raising()
    stub.after["user-0"] = error
    journal = MemoryJournal()
    [result] = await collect(create_sessions(stub, rows(1), journal=journal))
    stored = journal.entries["user-0"]
    assert (result.state, stored.state.value) == (state, state.value)
    assert result.error is error
    if state is BulkState.CREATED:
        assert result.session is not None
        assert (result.session.scan_ref, result.session.auth_token) == ("scan-x", "tok-x")
        assert (stored.scan_ref, stored.auth_token, stored.error) == ("scan-x", "tok-x", None)
    else:
        assert result.session is None
        assert stored.error is not None
        assert stored.error.name == "ResponseDecodeError"
        assert stored.scan_ref == scan_ref  # kept for reconciliation


async def test_a_scan_ref_read_from_an_unreadable_answer_is_found_on_the_rerun() -> None:
    """Unknown with a scanRef in the journal: the re-run records it found, sends nothing."""
    error = ResponseDecodeError(
        "authToken: missing", status_code=201, method="POST", path="/api/v2/token", scan_ref="s-1"
    )
    error.outcome_unknown = True
    stub = Raising()
    stub.after["user-0"] = error
    journal = MemoryJournal()
    [first] = await collect(create_sessions(stub, rows(1), journal=journal))
    assert first.state is BulkState.UNKNOWN
    [again] = await collect(create_sessions(Raising(), rows(1), journal=journal))
    assert again.state is BulkState.FOUND
    assert again.reconciliation is not None
    assert again.reconciliation.scan_ref == "s-1"
    assert journal.entries["user-0"].state is JournalState.FOUND
    assert not again.sent
