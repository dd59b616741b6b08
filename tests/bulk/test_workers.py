"""Bulk runs sharing one journal split the work: each row is claimed before it is sent.

The row rules run on a MemoryJournal and on a real PostgreSQL server, with one clock
for the leases and the run (a VirtualClock: waiting moves it); then two runners on one
PostgreSQL journal split an input, and a dead worker's rows are taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from idenfy_async import Session, SessionRequest
from idenfy_async.bulk import BulkResult, BulkState, create_sessions
from idenfy_async.bulk._row import (
    HELD_ELSEWHERE_POLL,
    HELD_IN_JOURNAL_MAX_POLL,
    _Claims,
    _Gate,
    _poll_wait,
    _Runner,
    _SetAside,
)
from idenfy_async.bulk.journal import (
    Claimed,
    ClaimingJournal,
    ErrorRecord,
    HeldByOther,
    JournalEntry,
    JournalState,
    MemoryJournal,
    PostgresJournal,
)
from idenfy_async.bulk.reconcile import ReconcilePolicy
from idenfy_async.models import VerificationSummary
from tests.conftest import VirtualClock

LEASE = 30.0
NOW = 1_800_000_000.0
OTHER = "other-worker"
ME = "this-worker"


def rows(n: int, prefix: str = "user") -> list[SessionRequest]:
    return [SessionRequest(f"{prefix}-{i}") for i in range(n)]


class Server:
    """What the stubs of several workers sent, and the sessions it holds per clientId."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.listed: dict[str, list[VerificationSummary]] = {}


class Worker:
    """A SessionCreator (and lister, and registry) without HTTP, one per worker."""

    def __init__(self, server: Server, *, gate: asyncio.Event | None = None) -> None:
        self.server = server
        self.gate = gate
        self.calls: list[str] = []
        self.forgotten: list[str] = []
        self.listings: list[str] = []
        self.before_send_hook: Callable[[str], Awaitable[None]] | None = None
        self.called = asyncio.Event()

    async def sent_at_least(self, n: int) -> None:
        while len(self.calls) < n:
            self.called.clear()
            await self.called.wait()

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        cid = request.client_id
        if self.before_send_hook is not None:
            await self.before_send_hook(cid)
        if before_send is not None:
            await before_send()
        self.calls.append(cid)
        self.called.set()
        self.server.sent[cid] += 1
        self.server.listed.setdefault(cid, []).append(
            VerificationSummary(scan_ref=f"scan-{cid}", status="ACTIVE")
        )
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)
        return Session(auth_token=f"tok-{cid}", scan_ref=f"scan-{cid}", client_id=cid)

    def list_verifications(self, client_id: str | None = None) -> AsyncIterator[Any]:
        assert client_id is not None
        self.listings.append(client_id)
        listed = list(self.server.listed.get(client_id, []))

        async def listing() -> AsyncIterator[VerificationSummary]:
            for summary in listed:
                yield summary

        return listing()

    async def forget_session(self, client_id: str) -> None:
        self.forgotten.append(client_id)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW)


@pytest.fixture(params=["memory", "postgres"])
async def journal(
    request: pytest.FixtureRequest, clock: VirtualClock
) -> AsyncIterator[ClaimingJournal]:
    if request.param == "memory":
        yield MemoryJournal(clock=clock)
        return
    url = request.getfixturevalue("pg_database")
    async with PostgresJournal(url, scope="test", clock=clock) as pj:
        yield pj


def runner_for(
    worker: Worker, journal: ClaimingJournal, clock: VirtualClock, *, wait: bool = False
) -> _Runner:
    runner = _Runner(worker, journal, _Gate(None), retry_unknown=False, retry_failed=False)
    runner.reconcile_with(
        ReconcilePolicy(settle_window=120.0, wait=wait, wall_clock=clock, sleep=clock.sleep)
    )
    runner.claim_rows(LEASE, owner=ME)
    return runner


async def holder(journal: ClaimingJournal, client_id: str) -> str | None:
    """Who holds ``client_id``'s claim now (probed by claiming it, then letting go)."""
    probe = await journal.claim(client_id, "probe", 1.0, take_settled=True)
    if isinstance(probe, HeldByOther):
        return probe.owner
    if isinstance(probe, Claimed):
        await journal.unclaim(client_id, "probe")
    return None


CID = "user-0"


def entry(
    state: JournalState, *, pending_at: float = NOW - 3600, retryable: bool = False
) -> JournalEntry:
    error = None
    if state is JournalState.FAILED:
        error = ErrorRecord(name="ServerError", retryable=retryable, status_code=500)
    scan_ref = f"scan-{CID}" if state is JournalState.CREATED else None
    return JournalEntry(
        client_id=CID,
        state=state,
        scan_ref=scan_ref,
        auth_token="tok-earlier" if scan_ref else None,
        attempts=1,
        pending_at=pending_at if state in (JournalState.PENDING, JournalState.UNKNOWN) else None,
        error=error,
    )


# (the row's entry, another worker's claim: None, "running" or "ended", listed at the
# server) -> (what the run gives, whether it sent, who holds the claim after)
ROW_RULES = [
    # never sent: claimed and sent, the claim let go once the outcome is recorded
    (None, None, False, "created", True, None),
    # another worker holds it: set aside, nothing sent, its claim untouched
    (None, "running", False, "set aside", False, OTHER),
    # a dead worker's claimed, never-sent row: taken over once its lease ended
    (None, "ended", False, "created", True, None),
    # settled rows take no claim: created by another worker is skipped (its session
    # handed back), even while that worker still holds the row
    (entry(JournalState.CREATED), None, True, "skipped", False, None),
    (entry(JournalState.CREATED), "running", True, "skipped", False, OTHER),
    # pending at a live worker (its lease runs): maybe in flight, never reconciled here
    (entry(JournalState.PENDING, pending_at=NOW - 1), "running", True, "set aside", False, OTHER),
    (entry(JournalState.PENDING), "running", False, "set aside", False, OTHER),
    # a dead worker's pending row, its lease ended: reconciled; listed -> found
    (entry(JournalState.PENDING), "ended", True, "found", False, None),
    # ... not listed after the settle window -> sent
    (entry(JournalState.PENDING), "ended", False, "created", True, None),
    # ... within the settle window -> unknown (its request may still arrive), not sent
    (entry(JournalState.PENDING, pending_at=NOW - 1), "ended", False, "unknown", False, None),
    # failed: the usual rules, once the row is this worker's
    (entry(JournalState.FAILED), None, False, "failed", False, None),
    (entry(JournalState.FAILED, retryable=True), None, False, "created", True, None),
    (entry(JournalState.FAILED, retryable=True), "running", False, "set aside", False, OTHER),
]


@pytest.mark.parametrize(("earlier", "claim", "listed", "outcome", "sent", "held_after"), ROW_RULES)
async def test_row_rules(
    journal: ClaimingJournal,
    clock: VirtualClock,
    earlier: JournalEntry | None,
    claim: str | None,
    listed: bool,
    outcome: str,
    sent: bool,
    held_after: str | None,
) -> None:
    server = Server()
    worker = Worker(server)
    if claim is not None:  # the other worker claimed the row, then wrote its entry
        assert isinstance(await journal.claim(CID, OTHER, LEASE), Claimed)
    if earlier is not None:
        await journal.put(earlier)
    if claim == "ended":
        clock.now += LEASE + 1
    if listed:
        server.listed[CID] = [VerificationSummary(scan_ref=f"scan-{CID}", status="ACTIVE")]
    runner = runner_for(worker, journal, clock)

    result = await runner.run(0, SessionRequest(CID), after=None)

    if outcome == "set aside":
        assert isinstance(result, _SetAside)
        assert result.until == pytest.approx(NOW + LEASE)  # when the holder's lease ends
        assert worker.listings == []  # never reconciled behind a live worker's back
    else:
        assert isinstance(result, BulkResult)
        assert result.state is BulkState(outcome)
        if outcome == "skipped":
            assert result.earlier == earlier
            assert result.session is not None
            assert result.session.auth_token == "tok-earlier"
    assert worker.calls == ([CID] if sent else [])
    assert await holder(journal, CID) == held_after
    # A row reconciled not found by the worker holding it: the open-session registry
    # forgets what the dead worker left for it before it is sent.
    reconciled_and_sent = earlier is not None and earlier.state is JournalState.PENDING and sent
    assert worker.forgotten == ([CID] if reconciled_and_sent else [])


async def test_a_claim_lost_before_the_send_sends_nothing(
    journal: ClaimingJournal, clock: VirtualClock
) -> None:
    """The lease ended while the row waited for its turn and another worker took it:
    put_claimed refuses the pending entry, so the client sends nothing."""
    worker = Worker(Server())

    async def taken_over(cid: str) -> None:
        clock.now += LEASE + 1
        assert isinstance(await journal.claim(cid, OTHER, LEASE), Claimed)

    worker.before_send_hook = taken_over
    runner = runner_for(worker, journal, clock)
    result = await runner.run(0, SessionRequest(CID), after=None)
    assert isinstance(result, _SetAside)
    assert worker.calls == []
    assert await journal.get(CID) is None  # no pending entry: certainly not sent
    assert await holder(journal, CID) == OTHER
    assert runner.gate.sent == 0


async def test_a_row_held_elsewhere_is_reported_once_its_holder_recorded_it(
    journal: ClaimingJournal, clock: VirtualClock
) -> None:
    """Set aside while another worker holds it; asked again after that worker created
    it: skipped, with the other worker's session."""
    worker = Worker(Server())
    runner = runner_for(worker, journal, clock)
    assert isinstance(await journal.claim(CID, OTHER, LEASE), Claimed)
    first = await runner.run(0, SessionRequest(CID), after=None)
    assert isinstance(first, _SetAside)
    created = attrs_created()
    await journal.put(created)
    await journal.unclaim(CID, OTHER)
    again = await runner.run(0, SessionRequest(CID), after=None, again=first)
    assert isinstance(again, BulkResult)
    assert (again.state, again.sent, again.earlier) == (BulkState.SKIPPED, False, created)
    assert worker.calls == []


def attrs_created() -> JournalEntry:
    return JournalEntry(
        client_id=CID, state=JournalState.CREATED, scan_ref="scan-x", auth_token="tok-x"
    )


@pytest.mark.parametrize(
    ("times", "held", "wait"),
    [
        (2, False, HELD_ELSEWHERE_POLL),  # the open-session registry: a steady poll
        (9, False, HELD_ELSEWHERE_POLL),
        (2, True, HELD_ELSEWHERE_POLL),  # held in the journal: doubling...
        (3, True, 2 * HELD_ELSEWHERE_POLL),
        (4, True, 4 * HELD_ELSEWHERE_POLL),
        (9, True, HELD_IN_JOURNAL_MAX_POLL),  # ... up to a cap
        (10_000, True, HELD_IN_JOURNAL_MAX_POLL),
    ],
)
def test_poll_wait(times: int, held: bool, wait: float) -> None:
    assert _poll_wait(times, held=held) == pytest.approx(wait)


async def test_renewal_keeps_claims_and_closing_lets_them_go(
    journal: ClaimingJournal, clock: VirtualClock
) -> None:
    claims = _Claims(journal, lease=LEASE, owner=ME)
    assert isinstance(await claims.claim("a"), Claimed)
    clock.now += LEASE * 0.9
    await claims.renew()
    clock.now += LEASE * 0.5  # past the first lease, within the renewed one
    assert await holder(journal, "a") == ME
    await claims.close()
    assert await holder(journal, "a") is None
    assert claims.held == set()


async def test_a_stop_lets_the_dropped_rows_go(
    journal: ClaimingJournal, clock: VirtualClock
) -> None:
    """Rows dropped by a stop were never sent: their claims are let go at once, so
    another worker takes them without waiting for the lease."""
    gate = asyncio.Event()
    worker = Worker(Server(), gate=gate)
    stop = asyncio.Event()
    policy = ReconcilePolicy(wall_clock=clock, sleep=clock.sleep)

    async def run() -> list[BulkResult]:
        out = []
        async for result in create_sessions(
            worker, rows(10), concurrency=3, journal=journal, stop=stop, reconcile=policy
        ):
            out.append(result)
        return out

    task = asyncio.create_task(run())
    await worker.sent_at_least(3)  # three in flight, held at the server
    stop.set()
    gate.set()
    results = await asyncio.wait_for(task, 10)
    assert sorted(r.client_id for r in results) == sorted(worker.calls)
    for i in range(10):
        assert await holder(journal, f"user-{i}") is None


# --------------------------------------------------------------------------- two runners


async def _collect(
    worker: Worker, journal: ClaimingJournal, requests: list[SessionRequest], concurrency: int
) -> list[BulkResult]:
    return [
        r
        async for r in create_sessions(
            worker, requests, concurrency=concurrency, journal=journal, reconcile=False
        )
    ]


async def test_two_runners_on_one_postgres_journal_split_the_input(pg_database: str) -> None:
    """Two runs over the same input and one PostgreSQL journal: every clientId sent
    once, both did work, and every row has a result in both (created in one, skipped
    in the other)."""
    server = Server()
    a, b = Worker(server), Worker(server)
    requests = rows(60)
    async with (
        PostgresJournal(pg_database, scope="test") as ja,
        PostgresJournal(pg_database, scope="test") as jb,
    ):
        results_a, results_b = await asyncio.wait_for(
            asyncio.gather(_collect(a, ja, requests, 4), _collect(b, jb, requests, 4)), 60
        )
        counts = await ja.counts()
    assert server.sent == Counter({r.client_id: 1 for r in requests})
    assert a.calls
    assert b.calls
    assert counts[JournalState.CREATED] == 60
    for mine, theirs in ((results_a, a.calls), (results_b, b.calls)):
        assert len(mine) == 60
        states = Counter(r.state for r in mine)
        assert states == {BulkState.CREATED: len(theirs), BulkState.SKIPPED: 60 - len(theirs)}


async def test_a_runner_never_waits_on_rows_the_other_holds(pg_database: str) -> None:
    """Runner A's rows hang at the server; runner B finishes every other row meanwhile
    (A's are set aside, not waited on), then reports A's as skipped once A is done."""
    server = Server()
    hang = asyncio.Event()
    a, b = Worker(server, gate=hang), Worker(server)
    requests = rows(40)
    async with (
        PostgresJournal(pg_database, scope="test") as ja,
        PostgresJournal(pg_database, scope="test") as jb,
    ):
        task_a = asyncio.create_task(_collect(a, ja, requests, 3))
        await a.sent_at_least(3)  # A holds three rows, their requests hanging
        seen_b: list[BulkResult] = []

        async def run_b() -> None:
            async for r in create_sessions(b, requests, concurrency=3, journal=jb, reconcile=False):
                seen_b.append(r)
                if len(seen_b) == 37:
                    assert not hang.is_set()  # all 37 others done while A still hangs
                    hang.set()

        await asyncio.wait_for(asyncio.gather(run_b(), task_a), 60)
    assert sorted(a.calls) == sorted(set(a.calls))
    assert len(a.calls) == 3
    assert len(b.calls) == 37
    assert server.sent == Counter({r.client_id: 1 for r in requests})
    held = {r.client_id: r.state for r in seen_b if r.client_id in a.calls}
    assert held == dict.fromkeys(a.calls, BulkState.SKIPPED)


async def test_a_dead_workers_rows_are_taken_over_after_its_lease(pg_database: str) -> None:
    """A worker died holding rows: two claimed and never sent, one pending whose
    request reached the server, one pending whose request never left. After the lease
    (and the settle window for the pending ones) the survivor sends the never-sent
    and the not-found ones, finds the created one, and sends nothing twice."""
    clock = VirtualClock(NOW)
    server = Server()
    survivor = Worker(server)
    requests = rows(8)
    async with PostgresJournal(pg_database, scope="test", clock=clock) as journal:
        for cid in ("user-1", "user-2", "user-3", "user-4"):
            assert isinstance(await journal.claim(cid, "dead", LEASE), Claimed)
        for cid in ("user-3", "user-4"):
            pending = JournalEntry(
                client_id=cid, state=JournalState.PENDING, attempts=1, pending_at=clock()
            )
            assert await journal.put_claimed(pending, "dead")
        server.sent["user-3"] += 1  # its request reached the server before the kill
        server.listed["user-3"] = [VerificationSummary(scan_ref="scan-user-3", status="ACTIVE")]
        policy = ReconcilePolicy(settle_window=60.0, wall_clock=clock, sleep=clock.sleep)
        results = await asyncio.wait_for(_collect_policy(survivor, journal, requests, policy), 60)
        counts = await journal.counts()
    states = {r.client_id: r.state for r in results}
    assert states == {
        **{f"user-{i}": BulkState.CREATED for i in (0, 1, 2, 4, 5, 6, 7)},
        "user-3": BulkState.FOUND,
    }
    assert server.sent == Counter({r.client_id: 1 for r in requests})
    assert survivor.forgotten == ["user-4"]
    assert counts[JournalState.CREATED] == 7
    assert counts[JournalState.FOUND] == 1
    assert clock.now >= NOW + LEASE  # nothing was taken over before the lease ended


async def _collect_policy(
    worker: Worker,
    journal: ClaimingJournal,
    requests: list[SessionRequest],
    policy: ReconcilePolicy,
) -> list[BulkResult]:
    return [
        r
        async for r in create_sessions(
            worker, requests, concurrency=3, journal=journal, reconcile=policy
        )
    ]


async def test_open_rows_held_by_a_live_worker_are_not_this_runs(
    pg_database: str, clock: VirtualClock
) -> None:
    """What the CLI's start-up note counts: open rows nobody holds, not those a live
    worker has in flight."""
    async with PostgresJournal(pg_database, scope="test", clock=clock) as journal:
        for cid, owner in (("live", OTHER), ("dead", "gone"), ("free", None)):
            if owner is not None:
                assert isinstance(await journal.claim(cid, owner, LEASE), Claimed)
            await journal.put(
                JournalEntry(client_id=cid, state=JournalState.PENDING, pending_at=clock())
            )
        clock.now += 1
        await journal.renew(OTHER, LEASE)
        clock.now += LEASE - 0.5  # "gone" stopped renewing: its lease has ended
        every = {e.client_id for e in await journal.open_entries()}
        unclaimed = {e.client_id for e in await journal.open_entries(unclaimed=True)}
    assert every == {"live", "dead", "free"}
    assert unclaimed == {"dead", "free"}


async def test_closing_the_iteration_early_lets_every_claim_go(
    journal: ClaimingJournal, clock: VirtualClock
) -> None:
    """The caller stops taking results: rows in flight are cancelled (they stay
    pending, for reconciliation), and no claim outlives the run."""
    gate = asyncio.Event()
    worker = Worker(Server(), gate=gate)
    policy = ReconcilePolicy(wall_clock=clock, sleep=clock.sleep)
    results = create_sessions(worker, rows(10), concurrency=3, journal=journal, reconcile=policy)
    first = asyncio.ensure_future(results.__anext__())
    await worker.sent_at_least(3)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await results.aclose()
    for i in range(10):
        assert await holder(journal, f"user-{i}") is None
    for cid in worker.calls:  # sent, never answered: pending, for reconciliation
        found = await journal.get(cid)
        assert found is not None
        assert found.state is JournalState.PENDING
