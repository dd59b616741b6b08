"""A durable record of bulk session creation, one entry per clientId.

iDenfy has no idempotency key, so the only defence against paying twice for one
person is to remember, before each request leaves, that it is about to leave::

    (absent) ──> pending ──> created   scanRef, authToken, redirectUrl
                    │   ├──> failed    nothing was created (error kind, retryable or not)
                    │   └──> unknown   a session may exist (ambiguous error)
                    └─ crash ─> stays pending
                                         │ a later run reconciles pending and unknown rows
                                         │ (lists the clientId's verifications at iDenfy):
                                         ├──> found     a session exists: scanRef, status;
                                         │              its authToken is lost
                                         ├──> unknown   still undecided (the reason is kept)
                                         └─ not found ─> sent again: pending ──> ...

``pending`` is committed before the request is sent, with the wall-clock time
(``pending_at``) that reconciliation needs, so a row absent from the journal was
never sent, and a crash at any instant leaves every row in exactly one state.
:class:`Journal` is the whole interface (two methods): :class:`SqliteJournal` keeps
it in a file, :class:`MemoryJournal` in a dict; another backend only has to provide
``get`` and ``put``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar

import attrs

from .errors import (
    APIConnectionError,
    APIError,
    IdenfyError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    RequestValidationError,
)
from .reconcile import ReconcileReason

__all__ = [
    "ErrorKind",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalState",
    "MemoryJournal",
    "SqliteJournal",
]

T = TypeVar("T")

#: 2 added the ``found`` state, ``pending_at`` and the reconciliation columns; a
#: version 1 file is migrated when opened (``pending_at`` taken from ``updated_at``).
SCHEMA_VERSION: Final = 2
#: Writes queued while the previous transaction committed go into the next one
#: (group commit): one fsync for many rows when many requests are in flight.
MAX_BATCH: Final = 512
#: Bits of the filter of clientIds that may be in the journal (1 MiB, allocated once:
#: memory stays flat in the number of rows). With a million clientIds in it, about 3 %
#: of the lookups of absent ones still ask the file; none is ever answered wrongly.
KNOWN_FILTER_BITS: Final = 1 << 23
#: A journal holding more entries than this when opened is not loaded into the filter
#: (its false positives would make it useless): every lookup then asks the file.
KNOWN_FILTER_MAX_ENTRIES: Final = 1_000_000
#: Lookups queued together are answered by one ``SELECT ... IN`` of at most this many.
MAX_LOOKUP: Final = 256
#: A durable commit costs ~150-450 us of CPU (its fsync mostly) whatever it holds,
#: taken from the client's own CPU. When writes come from many rows at once (the
#: previous batch had several), a batch smaller than COMMIT_GROUP waits this long once
#: for more to join it: measured at concurrency 32, ~40 % fewer commits and ~25 us
#: less CPU per row, for a millisecond more per write (2 ms and more cost throughput).
#: One writer at a time (batches of one) never waits.
COMMIT_DELAY: Final = 0.001
COMMIT_GROUP: Final = 32
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
    reconciled TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
_COLUMNS: Final = (
    "client_id, state, scan_ref, auth_token, redirect_url, error_name, error_status,"
    " error_identifier, error_message, error_retryable, attempts, pending_at,"
    " verification_status, expires_at, reconciled"
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


class JournalState(str, enum.Enum):
    """Where one clientId stands."""

    PENDING = "pending"  #: committed before sending; still there after a crash mid-request
    CREATED = "created"  #: the session exists: scanRef, authToken, redirectUrl recorded
    FAILED = "failed"  #: iDenfy created nothing
    UNKNOWN = "unknown"  #: a session may exist although no usable answer was read
    #: reconciliation found the session (scanRef, status); its authToken is lost
    FOUND = "found"


#: States whose outcome is open: a session may exist.
_OPEN: Final = (JournalState.PENDING, JournalState.UNKNOWN)


@attrs.frozen(kw_only=True)
class ErrorKind:
    """What an error was, without the error object: what the journal keeps.

    ``retryable`` says a later run may send the row again: nothing was created and
    the cause can pass (rate limit, 503, connection never made, out of credits).
    """

    name: str  #: the exception class name, e.g. ``"RateLimitError"``
    retryable: bool
    status_code: int | None = None
    identifier: str | None = None
    message: str | None = None  #: iDenfy's short text or the broken rules; never a value

    @classmethod
    def from_error(cls, exc: IdenfyError, *, retryable: bool) -> ErrorKind:
        """Describe ``exc`` (messages from errors never carry personal data)."""
        status = identifier = message = None
        if isinstance(exc, APIError):
            status, identifier, message = exc.status_code, exc.identifier, exc.message
        elif isinstance(exc, RequestValidationError):
            message = "; ".join(str(p) for p in exc.problems)
        elif isinstance(exc, APIConnectionError):
            message = exc.reason
        return cls(
            name=type(exc).__name__,
            retryable=retryable,
            status_code=status,
            identifier=identifier,
            message=message,
        )

    def __str__(self) -> str:
        status = f"HTTP {self.status_code}" if self.status_code else None
        facts = " ".join(f for f in (status, self.identifier) if f)
        text = f"{self.name} ({facts})" if facts else self.name
        return f"{text}: {self.message}" if self.message else text


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One clientId's state. ``attempts`` counts requests sent for it, over all runs.

    ``pending_at`` is the wall-clock time (seconds since the epoch) the row last went
    pending, kept while its outcome is open. Reconciliation records, for a ``found``
    row, the session's ``scan_ref``, its listed ``verification_status`` and, while
    it is open, when it ``expires_at``; for any row it reconciled, the rule that
    decided (``reconciled``). The two timestamps take no part in ``==``: entries are
    equal when they say the same about the row.
    """

    client_id: str
    state: JournalState
    scan_ref: str | None = None
    auth_token: str | None = attrs.field(default=None, repr=False)
    redirect_url: str | None = attrs.field(default=None, repr=False)
    error: ErrorKind | None = None
    attempts: int = 0
    pending_at: float | None = attrs.field(default=None, eq=False)
    verification_status: str | None = None
    expires_at: float | None = attrs.field(default=None, eq=False)
    reconciled: ReconcileReason | None = None


class Journal(Protocol):
    """Where bulk creation records each clientId; ``put`` is durable when it returns."""

    async def get(self, client_id: str) -> JournalEntry | None:
        """The entry for ``client_id``, or None if it was never sent."""
        ...

    async def put(self, entry: JournalEntry) -> None:
        """Store ``entry`` in place of any earlier one, durably, before returning."""
        ...


class MemoryJournal:
    """A :class:`Journal` in a dict: for tests, and for runs against an in-process fake."""

    def __init__(self) -> None:
        self.entries: dict[str, JournalEntry] = {}

    async def get(self, client_id: str) -> JournalEntry | None:
        return self.entries.get(client_id)

    async def put(self, entry: JournalEntry) -> None:
        self.entries[entry.client_id] = entry

    async def counts(self) -> dict[JournalState, int]:
        """How many clientIds are in each state."""
        counts = dict.fromkeys(JournalState, 0)
        for entry in self.entries.values():
            counts[entry.state] += 1
        return counts

    async def open_entries(self) -> list[JournalEntry]:
        """Entries still ``pending`` or ``unknown``: what a re-run reconciles first."""
        return [e for e in self.entries.values() if e.state in _OPEN]


class SqliteJournal:
    """A :class:`Journal` in an SQLite file (WAL mode), written by one worker thread.

    Use it as ``async with SqliteJournal("run.journal.sqlite") as journal:``. Nothing
    touches the disk on the event loop: a dedicated thread owns the connection and
    commits every write before its ``put`` returns, grouping writes queued meanwhile
    into one transaction. The file is created readable by its owner only (it holds
    authTokens). While open, the journal is locked: a second run on the same file,
    in any process, gets :class:`JournalLockedError` instead of sending duplicates.

    Args:
        path: the database file.
        scope: identifies the account and server the rows were sent to (e.g. base URL
            and a hash of the API key); opening a journal written with another scope
            raises :class:`JournalMismatchError`. ``None`` skips the check.
        durable: fsync every commit (``synchronous=FULL``), so even a power cut loses
            nothing; False survives process crashes only, and is faster.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, scope: str | None = None, durable: bool = True
    ) -> None:
        self.path = os.fspath(path)
        self.scope = scope
        self.durable = durable
        self._queue: queue.SimpleQueue[list[_Op] | None] = queue.SimpleQueue()
        #: ops asked for during this turn of the event loop, handed over together
        self._outbox: list[_Op] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        #: clientIds that may have an entry; None: unknown, every lookup asks the file
        self._known: _KnownIds | None = None
        self._worker: _Worker | None = None

    def __repr__(self) -> str:
        state = "open" if self._thread is not None and not self._closed else "closed"
        return f"SqliteJournal({self.path!r}, {state})"

    async def __aenter__(self) -> SqliteJournal:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Create or open the file, check its scope and lock it for this run.

        Raises:
            JournalLockedError: another run has it open.
            JournalMismatchError: it was written with another ``scope``.
            JournalError: it cannot be created or read.
        """
        if self._thread is not None:
            raise JournalError("a SqliteJournal can be opened once")
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[_KnownIds | None] = loop.create_future()
        worker = self._worker = _Worker(self.path, scope=self.scope, durable=self.durable)
        self._thread = threading.Thread(
            target=worker.run,
            args=(self._queue, opened),
            name="idenfy-journal",
            daemon=True,
        )
        self._thread.start()
        try:
            self._known = await opened
        except BaseException:
            self._closed = True
            self._queue.put(None)
            raise

    async def aclose(self) -> None:
        """Commit what is queued, close the file and stop the worker. Idempotent."""
        thread = self._thread
        if thread is None or self._closed:
            return
        self._closed = True
        self._flush()
        self._queue.put(None)
        await asyncio.to_thread(thread.join)

    async def get(self, client_id: str) -> JournalEntry | None:
        self._check_open()
        known = self._known
        if known is not None and not known.may_contain(client_id):
            # Neither in the file when it was opened nor put since: no entry, and
            # nothing to wait for (a put queued before this call marked it first).
            return None
        entry: JournalEntry | None = await self._submit(_GET, client_id)
        return entry

    async def put(self, entry: JournalEntry) -> None:
        self._check_open()
        error = entry.error
        values = (
            entry.client_id,
            entry.state.value,
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
            time.time(),
        )
        if self._known is not None:
            self._known.add(entry.client_id)  # before it is queued: see get()
        await self._submit(_PUT, values)

    async def counts(self) -> dict[JournalState, int]:
        """How many clientIds are in each state."""

        def count(conn: sqlite3.Connection) -> dict[JournalState, int]:
            counts = dict.fromkeys(JournalState, 0)
            for state, n in conn.execute("SELECT state, COUNT(*) FROM entries GROUP BY state"):
                counts[JournalState(state)] = n
            return counts

        return await self._call(count)

    async def open_entries(self) -> list[JournalEntry]:
        """Entries still ``pending`` or ``unknown``: what a re-run reconciles first (few:
        rows in flight at a crash and rows whose answer was lost)."""

        def read(conn: sqlite3.Connection) -> list[JournalEntry]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE state IN (?, ?)",
                tuple(state.value for state in _OPEN),
            )
            return [_entry_from_row(row) for row in rows]

        return await self._call(read)

    def _check_open(self) -> None:
        if self._thread is None or self._closed:
            raise JournalError(
                "the journal is not open: use `async with SqliteJournal(path) as journal:`"
            )

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        result: T = await self._submit(_CALL, fn)
        return result

    async def _submit(self, kind: int, arg: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._outbox:
            # Handed to the worker at the end of this turn, with the ops other tasks
            # ask for meanwhile: one wake-up of the worker thread for all of them.
            loop.call_soon(self._flush)
        self._outbox.append((kind, arg, future))
        return await future

    def _flush(self) -> None:
        if self._outbox:
            self._queue.put(self._outbox)
            self._outbox = []


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
        # Three positions from one 64-bit hash (double hashing); str caches its hash.
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
                time.sleep(COMMIT_DELAY)  # releases the GIL: the event loop runs meanwhile
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
        # timeout=0: a locked journal is reported at once, not after a wait.
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            # EXCLUSIVE: the first write takes a file lock held until close; the OS
            # drops it if the process dies, so a crash never leaves the file locked.
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path} was written by a newer idenfy-async (schema {version})"
                )
            if version == 1:  # 0: a new file, its tables just created at this version
                for statement in _MIGRATE_V1.split(";"):
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
        # One transaction for the batch (group commit: one fsync for every write queued
        # meanwhile): a failure fails every op in it (no write is committed), which is
        # right for the only failures expected (disk full, I/O). Lookups alone need none.
        # A batch of writes only that fits one statement is that statement, committed
        # on its own: each call into sqlite3 releases and retakes the GIL, and on a
        # busy event loop each retake waits for the loop to let go of it.
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
            _settle_batch(batch, None, self._translate(exc))
            return
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


def _entry_from_row(row: tuple[Any, ...]) -> JournalEntry:
    (client_id, state, scan_ref, auth_token, redirect_url, name, status, identifier, message,
     retryable, attempts, pending_at, verification_status, expires_at,
     reconciled) = row  # fmt: skip
    error = (
        ErrorKind(
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
    )
