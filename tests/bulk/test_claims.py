"""Workers claiming rows: the rules on every backend, and random interleavings of
claim, send and kill across workers against a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idenfy_async.bulk.journal import (
    Claimed,
    ClaimingJournal,
    ClaimResult,
    HeldByOther,
    JournalEntry,
    JournalState,
    MemoryJournal,
    PostgresJournal,
    Settled,
    SqliteJournal,
)
from tests.support.pgserver import PostgresServer

LEASE = 30.0


class WallClock:
    """A wall clock the test moves (leases are read on it)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def journal(
    request: pytest.FixtureRequest, tmp_path: Path, wall: WallClock
) -> AsyncIterator[ClaimingJournal]:
    if request.param == "memory":
        yield MemoryJournal(clock=wall)
        return
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
        async with PostgresJournal(url, scope="test", clock=wall) as pj:
            yield pj
        return
    async with SqliteJournal(tmp_path / "j.sqlite", scope="test", clock=wall) as sj:
        yield sj


def _entry(state: JournalState) -> JournalEntry:
    return JournalEntry(client_id="c", state=state, attempts=1, pending_at=5.0)


def _kind(result: ClaimResult) -> str:
    return type(result).__name__


# (the row's entry, who holds it and whether that lease still runs, take_settled) ->
# what "me" gets
CLAIM_RULES = [
    # free rows are claimed, whatever their entry says about the past
    (None, None, False, "Claimed"),
    (JournalState.PENDING, None, False, "Claimed"),
    (JournalState.UNKNOWN, None, False, "Claimed"),
    (JournalState.FAILED, None, False, "Claimed"),
    # settled rows take no claim, unless asked to (reissue, replace)
    (JournalState.CREATED, None, False, "Settled"),
    (JournalState.FOUND, None, False, "Settled"),
    (JournalState.CREATED, None, True, "Claimed"),
    (JournalState.CREATED, ("other", "running"), False, "Settled"),
    # another worker's running lease wins
    (None, ("other", "running"), False, "HeldByOther"),
    (JournalState.PENDING, ("other", "running"), False, "HeldByOther"),
    (JournalState.CREATED, ("other", "running"), True, "HeldByOther"),
    # an ended lease is taken over: never sent (no entry) or maybe sent (pending)
    (None, ("other", "ended"), False, "Claimed"),
    (JournalState.PENDING, ("other", "ended"), False, "Claimed"),
    # one's own claim is claimed again (the lease starts again)
    (None, ("me", "running"), False, "Claimed"),
    (None, ("me", "ended"), False, "Claimed"),
]


@pytest.mark.parametrize(("state", "holder", "take_settled", "expected"), CLAIM_RULES)
async def test_claim_rules(
    journal: ClaimingJournal,
    wall: WallClock,
    state: JournalState | None,
    holder: tuple[str, str] | None,
    take_settled: bool,
    expected: str,
) -> None:
    if holder is not None:
        assert _kind(await journal.claim("c", holder[0], LEASE, take_settled=True)) == "Claimed"
        wall.now += LEASE if holder[1] == "ended" else LEASE - 1
    if state is not None:
        await journal.put(_entry(state))
    result = await journal.claim("c", "me", LEASE, take_settled=take_settled)
    assert _kind(result) == expected
    entry = _entry(state) if state is not None else None
    if isinstance(result, Claimed):
        assert result.entry == entry
        # the claim is mine now: another worker is kept out until my lease ends
        other = await journal.claim("c", "third", LEASE, take_settled=True)
        assert other == HeldByOther(owner="me", lease_until=wall.now + LEASE)
    elif isinstance(result, Settled):
        assert result.entry == entry
    else:
        assert result == HeldByOther(owner="other", lease_until=wall.now + 1)


async def test_put_claimed_needs_a_running_claim(journal: ClaimingJournal, wall: WallClock) -> None:
    pending = _entry(JournalState.PENDING)
    assert not await journal.put_claimed(pending, "me")  # never claimed
    assert await journal.get("c") is None
    await journal.claim("c", "me", LEASE)
    assert await journal.put_claimed(pending, "me")
    assert await journal.get("c") == pending
    assert not await journal.put_claimed(pending, "other")  # not the holder
    wall.now += LEASE
    assert not await journal.put_claimed(pending, "me")  # the lease ended


async def test_a_claim_taken_over_refuses_the_late_holder(
    journal: ClaimingJournal, wall: WallClock
) -> None:
    """A worker whose token wait outlived its lease must not send: its pending write is
    refused, and the row belongs to the worker that took it over."""
    await journal.claim("c", "slow", LEASE)
    wall.now += LEASE + 1
    assert await journal.claim("c", "fast", LEASE) == Claimed(None)
    assert not await journal.put_claimed(_entry(JournalState.PENDING), "slow")
    assert await journal.put_claimed(_entry(JournalState.PENDING), "fast")


async def test_unclaim_and_renew(journal: ClaimingJournal, wall: WallClock) -> None:
    for cid in ("a", "b"):
        await journal.claim(cid, "me", LEASE)
    await journal.claim("z", "other", LEASE)
    await journal.unclaim("a", "other")  # not its claim: nothing changes
    assert _kind(await journal.claim("a", "third", LEASE)) == "HeldByOther"
    await journal.unclaim("a", "me")
    assert await journal.claim("a", "third", LEASE) == Claimed(None)  # at once
    wall.now += LEASE - 1
    assert await journal.renew("me", LEASE) == 1  # "b" only: "a" went to "third"
    wall.now += LEASE - 1  # "b" would have ended without the renewal
    assert _kind(await journal.claim("b", "third", LEASE)) == "HeldByOther"
    assert _kind(await journal.claim("z", "third", LEASE)) == "Claimed"


async def test_concurrent_claims_of_one_row_have_one_winner(pg_database: str) -> None:
    """Workers on their own connections race for the same rows at once: each row has
    exactly one winner, and the others are told who holds it."""
    async with contextlib.AsyncExitStack() as stack:
        workers = [
            await stack.enter_async_context(PostgresJournal(pg_database, scope="race"))
            for _ in range(3)
        ]
        ids = [f"row-{i}" for i in range(40)]
        results = await asyncio.gather(
            *(
                worker.claim(cid, f"w{n}", LEASE)
                for cid in ids
                for n, worker in enumerate(workers)
                for _ in range(2)
            )
        )
    by_row: dict[str, list[ClaimResult]] = {}
    for index, result in enumerate(results):
        by_row.setdefault(ids[index // 6], []).append(result)
    for outcomes in by_row.values():
        winners = {
            f"w{(index % 6) // 2}" for index, r in enumerate(outcomes) if isinstance(r, Claimed)
        }
        assert len(winners) == 1
        (winner,) = winners
        assert all(r.owner == winner for r in outcomes if isinstance(r, HeldByOther))


async def test_a_takeover_racing_the_holders_pending_write_never_lets_both_send(
    pg_database: str,
) -> None:
    """The holder writes ``pending`` while another worker, whose clock says the lease
    has ended (clocks a lease apart: the worst case), takes the row over. The race is
    made certain: a third transaction holds the entry's key, so the holder's write is
    stuck half-way while the taker claims. Either the holder's write lands first and
    the taker finds the row maybe sent, or the taker wins and the holder's write is
    refused: never both free to send (without the claim's row lock, both were)."""
    import psycopg

    holder_clock, taker_clock = WallClock(), WallClock()
    taker_clock.now += LEASE
    async with (
        PostgresJournal(pg_database, scope="race", clock=holder_clock) as holder,
        PostgresJournal(pg_database, scope="race", clock=taker_clock) as taker,
        await psycopg.AsyncConnection.connect(pg_database) as blocker,
        await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as watcher,
    ):

        async def waiting() -> int:
            """Sessions of this database waiting for a lock."""
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
            assert row is not None
            return int(row[0])

        assert await holder.claim("c", "holder", LEASE) == Claimed(None)
        await blocker.execute(
            "INSERT INTO idenfy_async.entries (account, client_id, state, updated_at)"
            " VALUES ('race', 'c', 'failed', 0)"
        )
        pending = JournalEntry(client_id="c", state=JournalState.PENDING)
        write = asyncio.create_task(holder.put_claimed(pending, "holder"))
        while not write.done() and await waiting() < 1:  # it waits for the entry's key
            pass
        take = asyncio.create_task(taker.claim("c", "taker", LEASE))
        while not take.done() and await waiting() < 2:  # the taker ends, or waits too
            pass
        await blocker.rollback()
        written, taken = await write, await take
    assert isinstance(taken, Claimed)
    if written:  # the holder sends: the taker must find the row maybe sent
        assert taken.entry == pending
    else:  # the holder must not send; the row was never sent
        assert taken.entry is None


# --------------------------------------------------------------------------- interleavings
# Each worker runs the bulk protocol on every row of one shared input: claim; write
# pending (refused once the claim is lost) and send, as one step (the request leaves
# the instant its pending write is committed); record the outcome and unclaim. A
# pending row it claims is reconciled against iDenfy's listing first. Between any two
# steps a worker may be killed (its claims and pending rows stay), or the clock may
# pass a lease. iDenfy's listing here is exact: the settle window that covers its lag
# is the reconciler's business (tests/bulk/test_reconcile.py).

ROWS = [f"person-{i}" for i in range(4)]
WORKERS = 3


@attrs.define
class _Worker:
    owner: str
    journal: PostgresJournal
    #: row -> the step it is at: "claim", "send", "record"; done rows are dropped
    todo: dict[str, str]
    alive: bool = True


@attrs.define
class _World:
    """iDenfy as the workers see it: what was created for each clientId."""

    sent: dict[str, int] = attrs.Factory(dict)

    def send(self, client_id: str) -> None:
        assert self.sent.get(client_id, 0) == 0, f"a second send for {client_id}"
        self.sent[client_id] = 1


async def _step(worker: _Worker, world: _World, wall: WallClock, *, die_mid_send: bool) -> None:
    """One step of ``worker`` on its first unfinished row."""
    journal, owner = worker.journal, worker.owner
    cid, step = next(iter(worker.todo.items()))
    if step == "claim":
        result = await journal.claim(cid, owner, LEASE)
        if isinstance(result, Settled):
            del worker.todo[cid]
        elif isinstance(result, HeldByOther):
            worker.todo.pop(cid)  # another worker's now: try it again at the end
            worker.todo[cid] = "claim"
        elif result.entry is not None and result.entry.state is JournalState.PENDING:
            if world.sent.get(cid):  # reconciled: listed at iDenfy
                found = attrs.evolve(result.entry, state=JournalState.FOUND, scan_ref=cid)
                await journal.put(found)
                await journal.unclaim(cid, owner)
                del worker.todo[cid]
            else:  # iDenfy never saw it: send
                worker.todo[cid] = "send"
        else:
            worker.todo[cid] = "send"
    elif step == "send":
        pending = JournalEntry(client_id=cid, state=JournalState.PENDING, pending_at=wall())
        if not await journal.put_claimed(pending, owner):
            worker.todo[cid] = "claim"  # the lease ended: not sent, claim it again
            return
        if die_mid_send:  # killed after the pending commit, before the request left
            worker.alive = False
            return
        world.send(cid)
        worker.todo[cid] = "record"
    else:
        created = JournalEntry(client_id=cid, state=JournalState.CREATED, scan_ref=cid)
        await journal.put(created)
        await journal.unclaim(cid, owner)
        del worker.todo[cid]


# (worker, action): 0 a step, 1 killed, 2 dies after its pending commit, 3 the clock
# passes a lease
_ACTIONS = st.lists(
    st.tuples(st.integers(0, WORKERS - 1), st.sampled_from([0] * 6 + [1, 2, 3])),
    max_size=60,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=_ACTIONS)
def test_random_interleavings_never_send_twice_nor_lose_a_row(
    postgres_server: PostgresServer, actions: list[tuple[int, int]]
) -> None:
    asyncio.run(_interleave(postgres_server, actions))


#: One database per server for all examples; each example is an account of its own.
_databases: dict[int, str] = {}
_runs: list[str] = []


async def _interleave(server: PostgresServer, actions: list[tuple[int, int]]) -> None:
    url = _databases.get(server.port)
    if url is None:
        url = _databases[server.port] = server.create_database()
    scope = f"run-{len(_runs)}"
    _runs.append(scope)
    wall, world = WallClock(), _World()
    async with contextlib.AsyncExitStack() as stack:

        async def worker(n: int) -> _Worker:
            journal = PostgresJournal(url, scope=scope, clock=wall, pool_size=1)
            await stack.enter_async_context(journal)
            return _Worker(f"w{n}", journal, dict.fromkeys(ROWS, "claim"))

        workers = [await worker(n) for n in range(WORKERS)]
        for index, action in actions:
            chosen = workers[index]
            if action == 3:
                wall.now += LEASE
            elif not chosen.alive or not chosen.todo:
                continue
            elif action == 1:
                chosen.alive = False
            else:
                await _step(chosen, world, wall, die_mid_send=action == 2)
        # Then the survivors, and a worker started afresh, run to the end once every
        # dead worker's lease has ended: nothing is left behind.
        wall.now += LEASE
        finisher = await worker(WORKERS)
        for each in [*workers, finisher]:
            while each.alive and each.todo:
                await _step(each, world, wall, die_mid_send=False)
        journal = finisher.journal
        for cid in ROWS:
            assert world.sent.get(cid) == 1, f"{cid} was never sent"
            entry = await journal.get(cid)
            assert entry is not None
            assert entry.state in (JournalState.CREATED, JournalState.FOUND)
