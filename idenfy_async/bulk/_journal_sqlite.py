"""Where a SqliteJournal's rows live: the schema and its migration, the SQL, and the
one worker thread that owns the sqlite3 connection.

Nothing here runs on the event loop except the filter of known clientIds
(`_KnownIds`) and the hand-back of outcomes;
[`SqliteJournal`][idenfy_async.SqliteJournal] queues ops and awaits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import sqlite3
import stat
import time
from typing import Any, Final

from ..errors import JournalError, JournalLockedError, JournalMismatchError
from ._journal_model import ErrorRecord, JournalEntry, JournalState
from .reconcile import ReconcileReason

#: 2 added the ``found`` state, ``pending_at`` and the reconciliation columns; a
#: version 1 file is migrated when opened (``pending_at`` taken from ``updated_at``).
#: 3 added what was sent and from where (``fingerprint``, ``origin``): older files gain
#: the two columns, empty (their rows' data is unknown).
SCHEMA_VERSION: Final = 3
#: Writes queued while the previous transaction committed go into the next one: one
#: fsync for many rows when many requests are in flight.
MAX_BATCH: Final = 512
#: Bits of the filter of clientIds that may be in the journal (1 MiB: memory stays
#: flat in the number of rows); it may send a lookup to the file, never answers one
#: wrongly. Kept for the bulk floor (journal >= 0.9x a bounded gather): without it
#: bulk fell to 0.875x.
KNOWN_FILTER_BITS: Final = 1 << 23
#: A journal holding more entries than this when opened is not loaded into the filter
#: (its false positives would make it useless): every lookup then asks the file.
KNOWN_FILTER_MAX_ENTRIES: Final = 1_000_000
#: Lookups queued together are answered by one ``SELECT ... IN`` of at most this many.
MAX_LOOKUP: Final = 256
#: When writes come from many rows at once (the previous batch had several), a batch
#: smaller than COMMIT_GROUP waits COMMIT_DELAY once for more to join its commit.
#: Kept for the bulk floor (journal >= 0.9x a bounded gather): without it bulk fell
#: to 0.77x.
COMMIT_DELAY: Final = 0.001
COMMIT_GROUP: Final = 32
#: Pages the write-ahead log may hold before SQLite copies them into the file
#: (SQLite's default is 1,000, 4 MB): a long bulk run's log stays small and is reused.
WAL_AUTOCHECKPOINT: Final = 256
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS entries (
    client_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'created', 'failed', 'unknown', 'found')),
    scan_ref TEXT,
    auth_token TEXT,
    redirect_url TEXT,
    error_name TEXT,
    error_status INTEGER,
    error_identifier TEXT,
    error_message TEXT,
    error_retryable INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    pending_at REAL,
    verification_status TEXT,
    expires_at REAL,
    reconciled TEXT,
    fingerprint TEXT,
    origin TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
_COLUMNS: Final = (
    "client_id, state, scan_ref, auth_token, redirect_url, error_name, error_status,"
    " error_identifier, error_message, error_retryable, attempts, pending_at,"
    " verification_status, expires_at, reconciled, fingerprint, origin"
)
_PUT_WIDTH: Final = _COLUMNS.count(",") + 2  # the columns and updated_at
_PUT_ROW: Final = f"({', '.join('?' * _PUT_WIDTH)})"
#: SQLite's smallest limit on parameters per statement (before 3.32; 32,766 since).
_MIN_VARIABLES: Final = 999
#: Version 1's columns, and what version 2 takes from them: a pending or unknown row
#: last went pending at most when it was last written (a conservative pending time).
_V1_COLUMNS: Final = (
    "client_id, state, scan_ref, auth_token, redirect_url, error_name, error_status,"
    " error_identifier, error_message, error_retryable, attempts, updated_at"
)
_MIGRATE_V1: Final = f"""
ALTER TABLE entries RENAME TO entries_v1;
{_SCHEMA.split(";")[0]};
INSERT INTO entries ({_V1_COLUMNS}, pending_at)
    SELECT {_V1_COLUMNS}, CASE WHEN state IN ('pending', 'unknown') THEN updated_at END
    FROM entries_v1;
DROP TABLE entries_v1
"""
_MIGRATE_V2: Final = """
ALTER TABLE entries ADD COLUMN fingerprint TEXT;
ALTER TABLE entries ADD COLUMN origin TEXT
"""


#: What an op asks the worker: the entry of a clientId (its argument), to store a row
#: (the values of a row of ``_put_sql``), or to call a function with the connection.
_GET: Final = 0
_PUT: Final = 1
_CALL: Final = 2
#: (kind, argument, the future the awaiting task waits on)
_Op = tuple[int, Any, "asyncio.Future[Any]"]


class _KnownIds:
    """A Bloom filter of the clientIds that may have an entry: never a false "absent".

    Filled by the worker from the file when it opens, then only by ``put`` on the
    event loop, before the write is queued. A lookup of a clientId it has never seen
    (every row of a fresh run) is answered without a round trip to the worker.
    """

    __slots__ = ("_bits", "_mask")

    def __init__(self, bits: int = KNOWN_FILTER_BITS) -> None:
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1

    def _positions(self, client_id: str) -> tuple[int, int, int]:
        # Three positions from one 64-bit hash (double hashing).
        h = hash(client_id)
        low, high = h & 0xFFFFFFFF, ((h >> 32) & 0xFFFFFFFF) | 1
        mask = self._mask
        return low & mask, (low + high) & mask, (low + 2 * high) & mask

    def add(self, client_id: str) -> None:
        bits = self._bits
        a, b, c = self._positions(client_id)
        bits[a >> 3] |= 1 << (a & 7)
        bits[b >> 3] |= 1 << (b & 7)
        bits[c >> 3] |= 1 << (c & 7)

    def may_contain(self, client_id: str) -> bool:
        bits = self._bits
        a, b, c = self._positions(client_id)
        return bool(
            bits[a >> 3] & (1 << (a & 7))
            and bits[b >> 3] & (1 << (b & 7))
            and bits[c >> 3] & (1 << (c & 7))
        )


class _Worker:
    """Owns the sqlite3 connection; runs in the journal's thread only.

    This thread is the boundary where sqlite3 and OS errors become JournalError, and
    it hands every outcome (even a bug) back to the awaiting task: an exception that
    stopped the thread would leave that task waiting forever.
    """

    def __init__(self, path: str, *, scope: str | None, durable: bool) -> None:
        self.path = path
        self.scope = scope
        self.durable = durable
        #: transactions and ops run: how well commits group (read by tests and benches)
        self.batches = 0
        self.ops = 0
        #: CPU seconds this thread has spent (time.thread_time), up to date whenever an
        #: op's outcome is handed back (read by benches)
        self.cpu = 0.0
        #: entries one INSERT may store (SQLite's limit on parameters per statement)
        self.rows_per_put = _MIN_VARIABLES // _PUT_WIDTH

    def run(
        self, ops: queue.SimpleQueue[list[_Op] | None], opened: asyncio.Future[_KnownIds | None]
    ) -> None:
        try:
            conn = self.open()
            known = self.load_known(conn)
        except Exception as exc:
            _settle(opened.get_loop(), [(opened, None)], self._translate(exc))
            return
        _settle(opened.get_loop(), [(opened, known)], None)
        try:
            stop, previous = False, 0
            while not stop:
                batch: list[_Op] = []
                stop = self._collect(ops, batch, wait=previous > 1)
                previous = len(batch)
                if batch:
                    self._execute(conn, batch)
        finally:
            conn.close()

    @staticmethod
    def _collect(ops: queue.SimpleQueue[list[_Op] | None], batch: list[_Op], *, wait: bool) -> bool:
        """Fill ``batch`` with the next ops and those queued behind them (waiting once
        for more when ``wait``); True when the journal is closing."""
        item = ops.get()
        while item is not None:
            batch += item
            if len(batch) >= MAX_BATCH:
                return False
            try:
                item = ops.get_nowait()
            except queue.Empty:
                if not wait or len(batch) >= COMMIT_GROUP:
                    return False
                wait = False
                time.sleep(COMMIT_DELAY)
                try:
                    item = ops.get_nowait()
                except queue.Empty:
                    return False
        return True

    def open(self) -> sqlite3.Connection:
        # The file holds authTokens: owner-only from the first byte (WAL files follow).
        # Only when creating it: closing any descriptor of an existing file would drop
        # the POSIX locks this process holds on it (another open journal's lock).
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        _refuse_links(self.path)
        # timeout=0: a locked journal is reported at once, not after a wait.
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            # EXCLUSIVE: the first write takes a file lock held until close; the OS
            # drops it if the process dies, so a crash never leaves the file locked.
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path} was written by a newer idenfy-async (schema {version})"
                )
            # 0: a new file, its tables just created at this version
            if version == 1:
                for statement in _MIGRATE_V1.split(";"):
                    conn.execute(statement)
            elif version == 2:
                for statement in _MIGRATE_V2.split(";"):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._check_scope(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        getlimit = getattr(conn, "getlimit", None)  # Python 3.11+
        limit = getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", None)
        if getlimit is not None and limit is not None:
            variables: int = getlimit(limit)
            self.rows_per_put = max(1, min(MAX_BATCH, variables // _PUT_WIDTH))
        return conn

    def _check_scope(self, conn: sqlite3.Connection) -> None:
        if self.scope is None:
            return
        row = conn.execute("SELECT value FROM meta WHERE key = 'scope'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('scope', ?)", (self.scope,))
        elif row[0] != self.scope:
            raise JournalMismatchError(
                f"{self.path} records sessions created with other credentials or another"
                " server; use a separate journal for each account and server"
            )

    def load_known(self, conn: sqlite3.Connection) -> _KnownIds | None:
        """The filter of the clientIds in the file, or None when it holds too many."""
        (count,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        if count > KNOWN_FILTER_MAX_ENTRIES:
            return None
        known = _KnownIds()
        for (client_id,) in conn.execute("SELECT client_id FROM entries"):
            known.add(client_id)
        return known

    def _execute(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        # One transaction for the batch: a failure fails every op in it (no write is
        # committed), which is right for the only failures expected (disk full, I/O).
        # Lookups alone need none; a batch of writes that fits one statement is that
        # statement, committed on its own.
        self.batches += 1
        self.ops += len(batch)
        kinds = {kind for kind, _, _ in batch}
        single = kinds == {_PUT} and len(batch) <= self.rows_per_put
        transaction = not single and kinds != {_GET}
        try:
            if transaction:
                conn.execute("BEGIN IMMEDIATE")
            try:
                values = self._run_ops(conn, batch)
                if transaction:
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            self.cpu = time.thread_time()
            _settle_batch(batch, None, self._translate(exc))
            return
        self.cpu = time.thread_time()
        _settle_batch(batch, values, None)

    def _run_ops(self, conn: sqlite3.Connection, batch: list[_Op]) -> list[Any]:
        """Each op's value, in order; neighbouring lookups and neighbouring writes each
        go to SQLite as one statement (order kept: a lookup sees every write before it,
        and of two writes of one clientId in a statement the later one stays)."""
        values: list[Any] = []
        start, end = 0, len(batch)
        while start < end:
            kind = batch[start][0]
            stop = start + 1
            while stop < end and batch[stop][0] == kind and kind != _CALL:
                stop += 1
            if kind == _GET:
                for chunk in range(start, stop, MAX_LOOKUP):
                    ids = [op[1] for op in batch[chunk : min(chunk + MAX_LOOKUP, stop)]]
                    values += _lookup(conn, ids)
            elif kind == _PUT:
                for chunk in range(start, stop, self.rows_per_put):
                    rows = [op[1] for op in batch[chunk : min(chunk + self.rows_per_put, stop)]]
                    conn.execute(_put_sql(len(rows)), [v for row in rows for v in row])
                values += [None] * (stop - start)
            else:
                values.append(batch[start][1](conn))
            start = stop
        return values

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            locked = JournalLockedError(
                f"{self.path} is in use by another run; wait for it to finish"
                " (two runs on one journal could both send the same rows)"
            )
            locked.__cause__ = exc
            return locked
        if isinstance(exc, sqlite3.Error | OSError):
            error = JournalError(f"cannot use journal {self.path}: {exc}")
            error.__cause__ = exc
            return error
        return exc


def _refuse_links(path: str) -> None:
    """Refuse a journal (or its WAL files) that is a symbolic link to a file, or to nothing.

    SQLite follows links and writes authTokens through them; such a link may be
    someone else's trap (the O_EXCL create above never follows one). A link to a
    device is left to SQLite, which reports what it cannot use.
    """
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        if not os.path.islink(name):
            continue
        try:
            mode = os.stat(name).st_mode
        except OSError:
            mode = stat.S_IFREG  # a link to nothing: it would be created, where it points
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            raise JournalError(
                f"{name} is a symbolic link: give the journal's real path (a link is"
                " followed only to a device)"
            )


@functools.lru_cache(maxsize=64)
def _put_sql(rows: int) -> str:
    """One statement storing ``rows`` entries."""
    return (
        f"INSERT OR REPLACE INTO entries ({_COLUMNS}, updated_at)"
        f" VALUES {', '.join([_PUT_ROW] * rows)}"
    )


def _lookup(conn: sqlite3.Connection, client_ids: list[str]) -> list[JournalEntry | None]:
    """The entries of ``client_ids`` (None where absent), in one statement."""
    unique = list(dict.fromkeys(client_ids))
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM entries WHERE client_id IN ({', '.join('?' * len(unique))})",
        unique,
    )
    found = {row[0]: _entry_from_row(row) for row in rows}
    return [found.get(client_id) for client_id in client_ids]


def _settle_batch(batch: list[_Op], values: list[Any] | None, error: BaseException | None) -> None:
    """Hand a batch's outcomes to the awaiting tasks: one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for index, (_, _, future) in enumerate(batch):
        value = values[index] if values is not None else None
        by_loop.setdefault(future.get_loop(), []).append((future, value))
    for loop, outcomes in by_loop.items():
        _settle(loop, outcomes, error)


def _settle(
    loop: asyncio.AbstractEventLoop,
    outcomes: list[tuple[asyncio.Future[Any], Any]],
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(_set_outcomes, outcomes, error)


def _set_outcomes(
    outcomes: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None
) -> None:
    """On the event loop: settle each future (``error`` for all, else its value)."""
    for future, value in outcomes:
        if future.done():  # the awaiting task was cancelled; a write still stands
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


#: A state's text in the file (a dict lookup: ``.value`` goes through enum's descriptor).
_STATE_TEXT: Final = {state: state.value for state in JournalState}


def _row_values(entry: JournalEntry, updated_at: float) -> tuple[Any, ...]:
    """The values of ``entry``'s row, in the order of ``_COLUMNS`` then ``updated_at``."""
    error = entry.error
    return (
        entry.client_id,
        _STATE_TEXT[entry.state],
        entry.scan_ref,
        entry.auth_token,
        entry.redirect_url,
        error.name if error else None,
        error.status_code if error else None,
        error.identifier if error else None,
        error.message if error else None,
        int(error.retryable) if error else None,
        entry.attempts,
        entry.pending_at,
        entry.verification_status,
        entry.expires_at,
        entry.reconciled.value if entry.reconciled is not None else None,
        entry.fingerprint,
        entry.origin,
        updated_at,
    )


def _entry_from_row(row: tuple[Any, ...]) -> JournalEntry:
    (client_id, state, scan_ref, auth_token, redirect_url, name, status, identifier, message,
     retryable, attempts, pending_at, verification_status, expires_at,
     reconciled, fingerprint, origin) = row  # fmt: skip
    error = (
        ErrorRecord(
            name=name,
            retryable=bool(retryable),
            status_code=status,
            identifier=identifier,
            message=message,
        )
        if name is not None
        else None
    )
    return JournalEntry(
        client_id=client_id,
        state=JournalState(state),
        scan_ref=scan_ref,
        auth_token=auth_token,
        redirect_url=redirect_url,
        error=error,
        attempts=attempts,
        pending_at=pending_at,
        verification_status=verification_status,
        expires_at=expires_at,
        reconciled=ReconcileReason(reconciled) if reconciled is not None else None,
        fingerprint=fingerprint,
        origin=origin,
    )
