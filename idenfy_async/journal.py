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
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

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
        opened: asyncio.Future[None] = loop.create_future()
        worker = _Worker(self.path, scope=self.scope, durable=self.durable)
        self._thread = threading.Thread(
            target=worker.run,
            args=(self._queue, _Op(_opened, opened, loop)),
            name="idenfy-journal",
            daemon=True,
        )
        self._thread.start()
        try:
            await opened
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
        self._queue.put(None)
        await asyncio.to_thread(thread.join)

    async def get(self, client_id: str) -> JournalEntry | None:
        def read(conn: sqlite3.Connection) -> JournalEntry | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE client_id = ?", (client_id,)
            ).fetchone()
            return None if row is None else _entry_from_row(row)

        return await self._submit(read)

    async def put(self, entry: JournalEntry) -> None:
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

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO entries ({_COLUMNS}, updated_at)"
                f" VALUES ({', '.join('?' * len(values))})",
                values,
            )

        await self._submit(write)

    async def counts(self) -> dict[JournalState, int]:
        """How many clientIds are in each state."""

        def count(conn: sqlite3.Connection) -> dict[JournalState, int]:
            counts = dict.fromkeys(JournalState, 0)
            for state, n in conn.execute("SELECT state, COUNT(*) FROM entries GROUP BY state"):
                counts[JournalState(state)] = n
            return counts

        return await self._submit(count)

    async def open_entries(self) -> list[JournalEntry]:
        """Entries still ``pending`` or ``unknown``: what a re-run reconciles first (few:
        rows in flight at a crash and rows whose answer was lost)."""

        def read(conn: sqlite3.Connection) -> list[JournalEntry]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE state IN (?, ?)",
                tuple(state.value for state in _OPEN),
            )
            return [_entry_from_row(row) for row in rows]

        return await self._submit(read)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None or self._closed:
            raise JournalError(
                "the journal is not open: use `async with SqliteJournal(path) as journal:`"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Op(fn, future, loop))
        return await future


def _opened(conn: sqlite3.Connection) -> None:
    """Stands for the open step in the op that reports it."""


@attrs.define
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


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

    def run(self, ops: queue.SimpleQueue[_Op | None], opening: _Op) -> None:
        try:
            conn = self.open()
        except Exception as exc:
            _settle(opening, None, self._translate(exc))
            return
        _settle(opening, None, None)
        try:
            stop = False
            while not stop:
                batch: list[_Op] = []
                item = ops.get()
                while item is not None:
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = ops.get_nowait()
                    except queue.Empty:
                        break
                stop = item is None
                if batch:
                    self._execute(conn, batch)
        finally:
            conn.close()

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

    def _execute(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        # One transaction for the batch: a failure fails every write in it (none is
        # committed), which is right for the only failures expected (disk full, I/O).
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                values = [op.fn(conn) for op in batch]
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            error = self._translate(exc)
            for op in batch:
                _settle(op, None, error)
            return
        for op, value in zip(batch, values, strict=True):
            _settle(op, value, None)

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


def _settle(op: _Op, value: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if op.future.done():  # the awaiting task was cancelled; a write still stands
            return
        if error is not None:
            op.future.set_exception(error)
        else:
            op.future.set_result(value)

    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        op.loop.call_soon_threadsafe(settle)


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
