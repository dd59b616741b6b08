"""Journals: the state record, SQLite durability and locking, error kinds."""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from idenfy_async import (
    APIConnectionError,
    AuthenticationError,
    FieldProblem,
    IdenfyError,
    RateLimitError,
    RequestValidationError,
    ServerError,
)
from idenfy_async.bulk import _journal_sqlite
from idenfy_async.bulk import journal as journal_module
from idenfy_async.bulk.journal import (
    SCHEMA_VERSION,
    ClaimingJournal,
    ErrorRecord,
    Journal,
    JournalEntry,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalState,
    MemoryJournal,
    PostgresJournal,
    SqliteJournal,
)
from idenfy_async.bulk.reconcile import ReconcileReason

CREATED = JournalEntry(
    client_id="user-1",
    state=JournalState.CREATED,
    scan_ref="scan-1",
    auth_token="token-1",
    redirect_url="https://ivs.idenfy.com/api/v2/redirect?authToken=token-1",
    attempts=2,
)
FAILED = JournalEntry(
    client_id="user-2",
    state=JournalState.FAILED,
    error=ErrorRecord(
        name="RateLimitError",
        retryable=True,
        status_code=429,
        identifier="TOO_MANY_REQUESTS",
        message="Too many requests.",
    ),
    attempts=1,
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def journal(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MemoryJournal | SqliteJournal | PostgresJournal]:
    """Each backend, for the contract they share (PostgreSQL: a real server, a database
    of the test's own)."""
    if request.param == "memory":
        yield MemoryJournal()
        return
    if request.param == "postgres":
        async with PostgresJournal(request.getfixturevalue("pg_database"), scope="test") as pj:
            yield pj
        return
    async with SqliteJournal(tmp_path / "j.sqlite", scope="test") as j:
        yield j


async def test_get_put_replace(journal: Journal) -> None:
    assert await journal.get("user-1") is None
    pending = JournalEntry(client_id="user-1", state=JournalState.PENDING, attempts=2)
    await journal.put(pending)
    assert await journal.get("user-1") == pending
    await journal.put(CREATED)
    await journal.put(FAILED)
    assert await journal.get("user-1") == CREATED
    assert await journal.get("user-2") == FAILED


async def test_counts(journal: MemoryJournal | SqliteJournal | PostgresJournal) -> None:
    await journal.put(CREATED)
    await journal.put(FAILED)
    await journal.put(JournalEntry(client_id="u3", state=JournalState.UNKNOWN))
    assert await journal.counts() == {
        JournalState.PENDING: 0,
        JournalState.CREATED: 1,
        JournalState.FAILED: 1,
        JournalState.UNKNOWN: 1,
        JournalState.FOUND: 0,
    }


async def test_sqlite_keeps_entries_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path) as journal:
        await journal.put(CREATED)
        await journal.put(FAILED)
    async with SqliteJournal(path) as journal:
        assert await journal.get("user-1") == CREATED
        assert await journal.get("user-2") == FAILED


async def test_sqlite_file_is_wal_and_private(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path) as journal:
        await journal.put(CREATED)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT state, scan_ref FROM entries").fetchall() == [
            ("created", "scan-1")
        ]


async def test_the_write_ahead_log_is_reused_instead_of_growing(tmp_path: Path) -> None:
    # Every put is its own commit here: each appends the pages it changed to the WAL.
    # Without the journal's checkpoint size the log grows to SQLite's default 1,000
    # pages before it is written from its start again (and an fsync of a growing file
    # also commits its new size: the cost WAL_AUTOCHECKPOINT avoids).
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path, durable=False) as journal:
        page = await journal._call(lambda conn: conn.execute("PRAGMA page_size").fetchone()[0])
        for index in range(1_500):
            await journal.put(attrs.evolve(CREATED, client_id=f"user-{index:05d}"))
        wal_bytes = os.stat(f"{path}-wal").st_size
    assert wal_bytes <= 2 * _journal_sqlite.WAL_AUTOCHECKPOINT * page
    async with SqliteJournal(path) as journal:  # nothing lost to the checkpoints
        assert (await journal.counts())[JournalState.CREATED] == 1_500


async def test_many_concurrent_writes_all_land(tmp_path: Path) -> None:
    async with SqliteJournal(tmp_path / "j.sqlite", durable=False) as journal:
        await asyncio.gather(
            *(
                journal.put(JournalEntry(client_id=f"u{i}", state=JournalState.PENDING))
                for i in range(2000)
            )
        )
        assert (await journal.counts())[JournalState.PENDING] == 2000


async def test_second_open_is_locked_out_and_the_first_keeps_its_lock(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path) as first:
        await first.put(CREATED)
        for _ in range(2):
            with pytest.raises(JournalLockedError, match="in use by another run"):
                await SqliteJournal(path).open()
        # A failed open must not release this process's lock (POSIX locks are per
        # process: closing any descriptor of the file would drop them).
        other = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from idenfy_async.bulk.journal import SqliteJournal, JournalLockedError\n"
            "try:\n"
            f"    asyncio.run(SqliteJournal({str(path)!r}).open())\n"
            "except JournalLockedError:\n"
            "    sys.exit(3)\n",
        )
        assert await other.wait() == 3
        await first.put(FAILED)
    async with SqliteJournal(path) as again:  # released on close
        assert await again.get("user-2") == FAILED


async def test_a_killed_process_leaves_its_writes_and_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        "import asyncio, os, signal\n"
        "from idenfy_async.bulk.journal import SqliteJournal, JournalEntry, JournalState\n"
        "async def main():\n"
        f"    journal = SqliteJournal({str(path)!r})\n"
        "    await journal.open()\n"
        "    await journal.put(JournalEntry(client_id='u1', state=JournalState.PENDING))\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    if os.name != "posix":
        pytest.skip("SIGKILL is POSIX")
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    assert await process.wait() == -9
    async with SqliteJournal(path) as journal:
        assert await journal.get("u1") == JournalEntry(client_id="u1", state=JournalState.PENDING)


async def test_scope_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path, scope="https://ivs.idenfy.com key-a") as journal:
        await journal.put(CREATED)
    with pytest.raises(JournalMismatchError, match="other credentials"):
        await SqliteJournal(path, scope="https://ivs.idenfy.com key-b").open()
    async with SqliteJournal(path, scope="https://ivs.idenfy.com key-a") as journal:
        assert await journal.get("user-1") == CREATED
    async with SqliteJournal(path) as journal:  # no scope: no check
        assert await journal.get("user-1") == CREATED


async def test_not_a_database_is_a_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="cannot use journal"):
        await SqliteJournal(path).open()


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("linked", ["j.sqlite", "j.sqlite-wal", "j.sqlite-shm"])
async def test_a_journal_linked_to_a_file_is_refused_untouched(tmp_path: Path, linked: str) -> None:
    """SQLite would write authTokens through the link: refused, the target left as it was."""
    target = tmp_path / "theirs.txt"
    target.write_text("theirs")
    target.chmod(0o644)
    (tmp_path / linked).symlink_to(target)
    with pytest.raises(JournalError, match="is a symbolic link"):
        await SqliteJournal(tmp_path / "j.sqlite").open()
    assert target.read_text() == "theirs"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="newer"):
        await SqliteJournal(path).open()


async def test_lifecycle(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    with pytest.raises(JournalError, match="not open"):
        await journal.get("x")
    async with journal:
        assert "open" in repr(journal)
        assert any(t.name == "idenfy-journal" for t in threading.enumerate())
        with pytest.raises(JournalError, match="opened once"):
            await journal.open()
    await journal.aclose()  # idempotent
    assert "closed" in repr(journal)
    assert not any(t.name == "idenfy-journal" for t in threading.enumerate())
    with pytest.raises(JournalError, match="not open"):
        await journal.put(CREATED)


def test_journals_satisfy_the_protocol(tmp_path: Path) -> None:
    journals: list[ClaimingJournal] = [
        MemoryJournal(),
        SqliteJournal(tmp_path / "j.sqlite"),
        PostgresJournal("postgresql://localhost/app"),
    ]
    assert len(journals) == 3


def test_entry_repr_hides_the_auth_token() -> None:
    assert "token-1" not in repr(CREATED)
    assert "scan-1" in repr(CREATED)


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (
            RateLimitError(status_code=429, identifier="TOO_MANY_REQUESTS", message="Slow down."),
            ErrorRecord(
                name="RateLimitError",
                retryable=True,
                status_code=429,
                identifier="TOO_MANY_REQUESTS",
                message="Slow down.",
            ),
            "RateLimitError (HTTP 429 TOO_MANY_REQUESTS): Slow down.",
        ),
        (
            ServerError(status_code=500, identifier=None, message=None),
            ErrorRecord(name="ServerError", retryable=True, status_code=500),
            "ServerError (HTTP 500)",
        ),
        (
            AuthenticationError(status_code=401, identifier="UNAUTHORIZED", message=None),
            ErrorRecord(
                name="AuthenticationError",
                retryable=True,
                status_code=401,
                identifier="UNAUTHORIZED",
            ),
            "AuthenticationError (HTTP 401 UNAUTHORIZED)",
        ),
        (
            APIConnectionError("ConnectError: refused", request_sent=False),
            ErrorRecord(name="APIConnectionError", retryable=True, message="ConnectError: refused"),
            "APIConnectionError: ConnectError: refused",
        ),
        (
            RequestValidationError(
                "SessionRequest",
                [FieldProblem("firstName", "must not contain digits"), FieldProblem("x", "y")],
            ),
            ErrorRecord(
                name="RequestValidationError",
                retryable=True,
                message="firstName: must not contain digits; x: y",
            ),
            "RequestValidationError: firstName: must not contain digits; x: y",
        ),
    ],
)
def test_error_record_from_error(error: IdenfyError, expected: ErrorRecord, text: str) -> None:
    kind = ErrorRecord.from_error(error, retryable=True)
    assert kind == expected
    assert str(kind) == text


# --------------------------------------------------------------------------- reconciliation

FOUND = JournalEntry(
    client_id="user-3",
    state=JournalState.FOUND,
    scan_ref="scan-3",
    error=ErrorRecord(name="APITimeoutError", retryable=False, message="ReadTimeout"),
    attempts=1,
    pending_at=1_796_000_000.25,
    verification_status="ACTIVE",
    expires_at=1_796_086_400.25,
    reconciled=ReconcileReason.ONLY_CANDIDATE,
)


def every_field(entry: JournalEntry | None) -> dict[str, object]:
    """All fields, timestamps included (they take no part in ==)."""
    assert entry is not None
    return attrs.asdict(entry, recurse=False)


async def test_reconciliation_fields_round_trip(journal: Journal) -> None:
    pending = JournalEntry(client_id="user-4", state=JournalState.PENDING, pending_at=12.5)
    unknown = JournalEntry(
        client_id="user-5",
        state=JournalState.UNKNOWN,
        pending_at=13.0,
        reconciled=ReconcileReason.AMBIGUOUS,
    )
    for entry in (FOUND, pending, unknown):
        await journal.put(entry)
        assert every_field(await journal.get(entry.client_id)) == every_field(entry)


def test_timestamps_take_no_part_in_equality() -> None:
    assert attrs.evolve(FOUND, pending_at=None, expires_at=None) == FOUND
    assert attrs.evolve(FOUND, verification_status="EXPIRED") != FOUND


_V1_SCHEMA = """
CREATE TABLE entries (
    client_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'created', 'failed', 'unknown')),
    scan_ref TEXT, auth_token TEXT, redirect_url TEXT, error_name TEXT, error_status INTEGER,
    error_identifier TEXT, error_message TEXT, error_retryable INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('scope', 'test');
INSERT INTO entries (client_id, state, attempts, updated_at) VALUES ('p', 'pending', 1, 100.5);
INSERT INTO entries (client_id, state, error_name, error_retryable, attempts, updated_at)
    VALUES ('u', 'unknown', 'APITimeoutError', 0, 2, 200.5);
INSERT INTO entries (client_id, state, scan_ref, auth_token, attempts, updated_at)
    VALUES ('c', 'created', 'scan-c', 'token-c', 1, 300.5);
PRAGMA user_version = 1;
"""


async def test_a_version_1_journal_is_migrated(tmp_path: Path) -> None:
    """Pending and unknown rows take their last write as when they went pending."""
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(_V1_SCHEMA)
    conn.close()
    async with SqliteJournal(path, scope="test") as journal:
        pending, unknown, created = [await journal.get(cid) for cid in ("p", "u", "c")]
        assert pending is not None
        assert pending.state is JournalState.PENDING
        assert pending.pending_at == 100.5
        assert unknown is not None
        assert unknown.pending_at == 200.5
        assert unknown.error == ErrorRecord(name="APITimeoutError", retryable=False)
        assert unknown.attempts == 2
        assert created is not None
        assert created.pending_at is None
        assert (created.scan_ref, created.auth_token) == ("scan-c", "token-c")
        await journal.put(attrs.evolve(FOUND, client_id="u"))  # the new state is allowed
        assert await journal.get("u") == attrs.evolve(FOUND, client_id="u")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "entries_v1" not in tables
    async with SqliteJournal(path, scope="test") as journal:  # opening again changes nothing
        assert (await journal.counts())[JournalState.FOUND] == 1


async def test_open_entries_are_the_pending_and_unknown_ones(
    journal: MemoryJournal | SqliteJournal | PostgresJournal,
) -> None:
    pending = JournalEntry(client_id="p", state=JournalState.PENDING, pending_at=5.0)
    unknown = JournalEntry(client_id="u", state=JournalState.UNKNOWN, pending_at=6.0)
    for entry in (CREATED, FAILED, FOUND, pending, unknown):
        await journal.put(entry)
    opened = sorted(await journal.open_entries(), key=lambda e: e.client_id)
    assert [every_field(e) for e in opened] == [every_field(pending), every_field(unknown)]


# --------------------------------------------------------------------------- round trips
# A bulk row costs the journal a lookup and two durable writes; these pin down how the
# SqliteJournal keeps that cheap without giving up order or durability.


def _pending(client_id: str, attempts: int = 1) -> JournalEntry:
    return JournalEntry(client_id=client_id, state=JournalState.PENDING, attempts=attempts)


def _worker(journal: SqliteJournal) -> Any:
    worker = journal._worker  # the counters tell how ops were grouped
    assert worker is not None
    return worker


async def test_lookups_of_unknown_client_ids_stay_on_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path) as journal:
        assert [await journal.get(f"new-{i}") for i in range(100)] == [None] * 100
        assert _worker(journal).ops == 0  # a fresh run's lookups cost no round trip
        await journal.put(CREATED)
        assert await journal.get("user-1") == CREATED  # known since its put: asks the file
        assert _worker(journal).ops == 2
    async with SqliteJournal(path) as journal:  # known from the file when opened
        assert await journal.get("user-1") == CREATED
        assert await journal.get("user-2") is None
        assert _worker(journal).ops == 1


async def test_a_journal_too_large_for_the_filter_asks_the_file_for_every_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.sqlite"
    async with SqliteJournal(path) as journal:
        await journal.put(CREATED)
        await journal.put(FAILED)
    monkeypatch.setattr(_journal_sqlite, "KNOWN_FILTER_MAX_ENTRIES", 1)
    async with SqliteJournal(path) as journal:
        assert await journal.get("user-1") == CREATED
        assert await journal.get("user-2") == FAILED
        assert await journal.get("user-3") is None
        assert _worker(journal).ops == 3


def test_the_known_ids_filter_never_says_absent_for_an_added_id() -> None:
    small = _journal_sqlite._KnownIds(bits=1 << 10)  # crowded: many false "maybe"s
    added = [f"id-{i}" for i in range(2000)]
    for client_id in added:
        small.add(client_id)
    assert all(small.may_contain(client_id) for client_id in added)
    roomy = _journal_sqlite._KnownIds()
    for client_id in added:
        roomy.add(client_id)
    assert all(roomy.may_contain(client_id) for client_id in added)
    assert not any(roomy.may_contain(f"other-{i}") for i in range(2000))


async def test_concurrent_writes_share_one_commit_and_one_wake_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    wake_ups = 0
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal wake_ups
        wake_ups += 1
        return call_soon_threadsafe(*args, **kwargs)

    async with SqliteJournal(tmp_path / "j.sqlite") as journal:
        monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
        await asyncio.gather(*(journal.put(_pending(f"u{i}")) for i in range(64)))
        assert (_worker(journal).batches, _worker(journal).ops, wake_ups) == (1, 64, 1)
        assert (await journal.counts())[JournalState.PENDING] == 64


async def test_the_worker_counts_its_own_cpu_up_to_each_answer(tmp_path: Path) -> None:
    # Benches read it to split the journal thread's CPU from the event loop's.
    async with SqliteJournal(tmp_path / "j.sqlite") as journal:
        before = _worker(journal).cpu
        await asyncio.gather(*(journal.put(_pending(f"u{i}")) for i in range(64)))
        after = _worker(journal).cpu
        assert after > before
        await journal.get("u1")
        assert _worker(journal).cpu >= after


async def test_a_batch_keeps_the_order_of_its_writes_and_lookups(tmp_path: Path) -> None:
    created = attrs.evolve(CREATED, client_id="a")
    async with SqliteJournal(tmp_path / "j.sqlite") as journal:
        results = await asyncio.gather(
            journal.put(_pending("a")),
            journal.get("a"),
            journal.put(created),
            journal.put(_pending("b")),
            journal.put(_pending("b", attempts=2)),  # one statement: the later one stays
            journal.get("a"),
            journal.get("b"),
            journal.get("a"),  # asked twice in one SELECT
        )
        assert _worker(journal).batches == 1
        assert results == [
            None,
            _pending("a"),
            None,
            None,
            None,
            created,
            _pending("b", 2),
            created,
        ]
    async with SqliteJournal(tmp_path / "j.sqlite") as journal:
        assert await journal.get("b") == _pending("b", attempts=2)


async def test_a_batch_larger_than_one_statement_lands_whole(tmp_path: Path) -> None:
    async with SqliteJournal(tmp_path / "j.sqlite") as journal:
        _worker(journal).rows_per_put = 3
        await asyncio.gather(*(journal.put(_pending(f"u{i}", attempts=i)) for i in range(10)))
        assert _worker(journal).batches == 1
        assert [await journal.get(f"u{i}") for i in range(10)] == [
            _pending(f"u{i}", attempts=i) for i in range(10)
        ]


def _op(kind: int) -> Any:
    return (kind, None, None)


@pytest.mark.parametrize(
    ("queued", "wait", "later", "sleeps", "taken"),
    [
        # one writer at a time: never waits
        pytest.param([[_op(1)]], False, [[_op(1)]], 0, 1, id="alone"),
        # after a batch of several: a small batch waits once, and what came meanwhile joins
        pytest.param([[_op(1)]], True, [[_op(1)], [_op(0)]], 1, 3, id="waits-once"),
        pytest.param([[_op(1)]], True, [], 1, 1, id="waits-for-nothing"),
        # big enough already: no wait
        pytest.param(
            [[_op(1)] * journal_module.COMMIT_GROUP],
            True,
            [[_op(1)]],
            0,
            journal_module.COMMIT_GROUP,
            id="full",
        ),
    ],
)
def test_a_small_batch_waits_once_for_more_when_writers_are_concurrent(
    monkeypatch: pytest.MonkeyPatch,
    queued: list[list[Any]],
    wait: bool,
    later: list[list[Any]],
    sleeps: int,
    taken: int,
) -> None:
    ops: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for item in queued:
        ops.put(item)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # what arrives while the worker waits
        slept.append(seconds)
        for item in later:
            ops.put(item)

    monkeypatch.setattr(time, "sleep", sleep)
    batch: list[Any] = []
    assert _journal_sqlite._Worker._collect(ops, batch, wait=wait) is False
    assert (len(slept), len(batch)) == (sleeps, taken)
    assert slept == [journal_module.COMMIT_DELAY] * sleeps
