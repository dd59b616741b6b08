"""A durable record of bulk session creation, one entry per clientId.

iDenfy has no idempotency key, so the only defence against paying twice for one
person is to remember, before each request leaves, that it is about to leave::

    (absent) ──> pending ──> created   scanRef, authToken, redirectUrl
                    │   ├──> failed    nothing was created (error record, retryable or not)
                    │   └──> unknown   a session may exist
                    └─ crash ─> stays pending
    pending or unknown ──> found       a later run's reconciliation found the session:
                                       scanRef, status; its authToken is lost

``pending`` is committed before the request is sent, with the wall-clock time
(``pending_at``) that reconciliation needs, so a row absent from the journal was
never sent, and a crash at any instant leaves every row in exactly one state. What a
run does with each state is written in
[`idenfy_async.bulk.create_sessions`][idenfy_async.create_sessions].
[`Journal`][idenfy_async.Journal] is the whole interface (two methods):
[`SqliteJournal`][idenfy_async.SqliteJournal] keeps it in a file,
[`PostgresJournal`][idenfy_async.bulk.journal.PostgresJournal] in a PostgreSQL database that several
machines share, [`MemoryJournal`][idenfy_async.MemoryJournal] in a dict; another backend only has to
provide ``get`` and ``put``. [`journal_for`][idenfy_async.bulk.journal.journal_for] picks one from a
path or a ``postgresql://`` URL.

Several workers sharing one journal claim each row before they take its quota token
([`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal]): a claim with a lease, distinct
from ``pending``. A row claimed and never sent has no entry (certainly not sent: another worker
takes it over once the lease ends); a ``pending`` row was maybe sent (it is reconciled).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from ..errors import JournalError, JournalLockedError, JournalMismatchError
from ._journal_model import (
    _OPEN,
    Claimed,
    ClaimingJournal,
    ClaimResult,
    ErrorRecord,
    HeldByOther,
    Journal,
    JournalEntry,
    JournalState,
    MemoryJournal,
    Settled,
    _LocalClaims,
)
from ._journal_postgres import POSTGRES_SCHEMA_VERSION, PostgresJournal, postgres_schema
from ._journal_sqlite import (
    _CALL,
    _COLUMNS,
    _GET,
    _PUT,
    COMMIT_DELAY,
    COMMIT_GROUP,
    KNOWN_FILTER_BITS,
    KNOWN_FILTER_MAX_ENTRIES,
    MAX_BATCH,
    MAX_LOOKUP,
    SCHEMA_VERSION,
    WAL_AUTOCHECKPOINT,
    _entry_from_row,
    _KnownIds,
    _Op,
    _row_values,
    _Worker,
)

__all__ = [
    "POSTGRES_SCHEMA_VERSION",
    "POSTGRES_SCHEMES",
    "COMMIT_DELAY",
    "COMMIT_GROUP",
    "KNOWN_FILTER_BITS",
    "KNOWN_FILTER_MAX_ENTRIES",
    "MAX_BATCH",
    "MAX_LOOKUP",
    "SCHEMA_VERSION",
    "WAL_AUTOCHECKPOINT",
    "ClaimResult",
    "Claimed",
    "ClaimingJournal",
    "ErrorRecord",
    "HeldByOther",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalState",
    "MemoryJournal",
    "PostgresJournal",
    "Settled",
    "SqliteJournal",
    "account_scope",
    "journal_for",
    "postgres_schema",
]

#: URL schemes that select a [`PostgresJournal`][idenfy_async.bulk.journal.PostgresJournal] (libpq's
#: two spellings).
POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")


def account_scope(base_url: str, api_key: str) -> str:
    """The scope of one account on one server: the base URL and a hash of the API key
    (never the key). Journals written with it are that account's record."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{base_url} key-sha256:{digest}"


def journal_for(
    where: str | os.PathLike[str], *, scope: str | None = None
) -> SqliteJournal | PostgresJournal:
    """The journal ``where`` names, not yet open: a
    [`PostgresJournal`][idenfy_async.bulk.journal.PostgresJournal] for a ``postgresql://`` (or
    ``postgres://``) URL, else a [`SqliteJournal`][idenfy_async.SqliteJournal] file.

    ``scope`` is the account ([`account_scope`][idenfy_async.bulk.journal.account_scope]): an SQLite
    file refuses another account's scope; PostgreSQL keys every row by it, so one database holds
    many accounts apart.
    """
    if isinstance(where, str) and where.startswith(POSTGRES_SCHEMES):
        return PostgresJournal(where, scope=scope)
    return SqliteJournal(where, scope=scope)


T = TypeVar("T")


class SqliteJournal:
    """A [`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal] in an SQLite file (WAL
    mode), written by one worker thread.

    Use it as ``async with SqliteJournal("run.journal.sqlite") as journal:``. Nothing
    touches the disk on the event loop: a dedicated thread owns the connection and
    commits every write before its ``put`` returns, grouping writes queued meanwhile
    into one transaction. The file is created readable by its owner only (it holds
    authTokens). While open, the journal is locked: a second run on the same file,
    in any process, gets [`JournalLockedError`][idenfy_async.JournalLockedError] instead of sending
    duplicates.

    Args:
        path: the database file.
        scope: identifies the account and server the rows were sent to (e.g. base URL
            and a hash of the API key); opening a journal written with another scope
            raises [`JournalMismatchError`][idenfy_async.JournalMismatchError]. ``None`` skips the
            check.
        durable: fsync every commit (``synchronous=FULL``), so even a power cut loses
            nothing; False survives process crashes only, and is faster.
        clock: the wall clock claims' leases are read on. Claims are kept in the
            process: the file is locked to one run, so a dead run's claims die with it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        scope: str | None = None,
        durable: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path: str = os.fspath(path)
        self.scope: str | None = scope
        self.durable: bool = durable
        self._queue: queue.SimpleQueue[list[_Op] | None] = queue.SimpleQueue()
        #: ops asked for during this turn of the event loop, handed over together
        self._outbox: list[_Op] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        #: clientIds that may have an entry; None: unknown, every lookup asks the file
        self._known: _KnownIds | None = None
        self._worker: _Worker | None = None
        self._claims = _LocalClaims(clock)

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
        values = _row_values(entry, time.time())
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

    async def entries(self) -> list[JournalEntry]:
        """Every entry (to fold an old journal into another: read whole, once)."""

        def read(conn: sqlite3.Connection) -> list[JournalEntry]:
            return [_entry_from_row(row) for row in conn.execute(f"SELECT {_COLUMNS} FROM entries")]

        return await self._call(read)

    async def claim(
        self, client_id: str, owner: str, lease_seconds: float, *, take_settled: bool = False
    ) -> ClaimResult:
        """See [`ClaimingJournal.claim`][idenfy_async.bulk.journal.ClaimingJournal.claim]."""
        entry = await self.get(client_id)
        # Decided after the lookup, without awaiting: another task's claim meanwhile
        # is seen here, and a write it makes with put_claimed was queued before ours.
        return self._claims.take(client_id, entry, owner, lease_seconds, take_settled=take_settled)

    async def put_claimed(self, entry: JournalEntry, owner: str) -> bool:
        """See
        [`ClaimingJournal.put_claimed`][idenfy_async.bulk.journal.ClaimingJournal.put_claimed].
        """
        self._check_open()
        if not self._claims.holds(entry.client_id, owner):
            return False
        await self.put(entry)  # queued in the same step as the check
        return True

    async def unclaim(self, client_id: str, owner: str) -> None:
        """See [`ClaimingJournal.unclaim`][idenfy_async.bulk.journal.ClaimingJournal.unclaim]."""
        self._claims.unclaim(client_id, owner)

    async def renew(self, owner: str, lease_seconds: float) -> int:
        """See [`ClaimingJournal.renew`][idenfy_async.bulk.journal.ClaimingJournal.renew]."""
        return self._claims.renew(owner, lease_seconds)

    def _check_open(self) -> None:
        if self._thread is None or self._closed:
            raise JournalError(
                "the journal is not open: use `async with SqliteJournal(path) as journal:`"
            )

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        result: T = await self._submit(_CALL, fn)
        return result

    def _submit(self, kind: int, arg: Any) -> asyncio.Future[Any]:
        """Queue an op; the future its outcome settles."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._outbox:
            # Handed to the worker at the end of this turn, with the ops other tasks
            # ask for meanwhile: one wake-up of the worker thread for all of them.
            loop.call_soon(self._flush)
        self._outbox.append((kind, arg, future))
        return future

    def _flush(self) -> None:
        if self._outbox:
            self._queue.put(self._outbox)
            self._outbox = []
