"""A journal in PostgreSQL, shared by workers on any number of machines (psycopg 3).

The rows are keyed by (account, clientId): ``account`` is the journal's scope, so one
database keeps many accounts apart. The schema is ``postgres_schema.sql`` beside this
module (schema ``idenfy_async``), versioned in ``idenfy_async.schema_version``.
psycopg is imported when a journal opens: ``pip install 'idenfy-async[postgres]'``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigurationError, JournalError
from ._journal_model import (
    _OPEN,
    _SETTLED,
    Claimed,
    ClaimResult,
    HeldByOther,
    JournalEntry,
    JournalState,
    Settled,
)
from ._journal_sqlite import _COLUMNS, _entry_from_row, _row_values

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

#: The schema this version writes; a database with a newer one is refused.
POSTGRES_SCHEMA_VERSION: Final = 1
#: Connections each journal keeps at most (a bulk run has ``concurrency`` rows in
#: flight, each a few short statements).
DEFAULT_POOL_SIZE: Final = 4
#: Seconds to wait for the server when connecting.
CONNECT_TIMEOUT: Final = 10
_SCHEMA_FILE: Final = "postgres_schema.sql"
_TABLE: Final = "idenfy_async.entries"
_CLAIMS: Final = "idenfy_async.claims"
#: The account of a journal opened without a scope.
_NO_SCOPE: Final = ""
_FIELDS: Final = [c.strip() for c in _COLUMNS.split(",")]
_UPDATED: Final = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_FIELDS[1:], "updated_at"])
_PUT: Final = (
    f"INSERT INTO {_TABLE} (account, {_COLUMNS}, updated_at)"
    f" VALUES (%s, {', '.join(['%s'] * (len(_FIELDS) + 1))})"
    f" ON CONFLICT (account, client_id) DO UPDATE SET {_UPDATED}"
)
#: The same write, only while ``owner`` holds a running claim on the row. The claim
#: row is locked (FOR UPDATE) until the write commits, so a claim taking the row over
#: waits for it, then finds the entry; one that got there first makes this write none.
_PUT_CLAIMED: Final = (
    f"WITH held AS (SELECT 1 FROM {_CLAIMS} WHERE account = %s AND client_id = %s"
    " AND owner = %s AND lease_until > %s FOR UPDATE)"
    f" INSERT INTO {_TABLE} (account, {_COLUMNS}, updated_at)"
    f" SELECT %s, {', '.join(['%s'] * (len(_FIELDS) + 1))} FROM held"
    f" ON CONFLICT (account, client_id) DO UPDATE SET {_UPDATED} RETURNING 1"
)
_GET: Final = f"SELECT {_COLUMNS} FROM {_TABLE} WHERE account = %s AND client_id = %s"
#: Take the row's claim if it is free, its lease has ended, or it is ours already:
#: the insert wins on the primary key, and the update only where the rule allows.
_CLAIM: Final = (
    f"INSERT INTO {_CLAIMS} AS c (account, client_id, owner, lease_until)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (account, client_id) DO UPDATE"
    " SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until"
    " WHERE c.owner = EXCLUDED.owner OR c.lease_until <= %s RETURNING 1"
)
_HOLDER: Final = f"SELECT owner, lease_until FROM {_CLAIMS} WHERE account = %s AND client_id = %s"
_RELEASE: Final = f"DELETE FROM {_CLAIMS} WHERE account = %s AND client_id = %s AND owner = %s"
_RENEW: Final = f"UPDATE {_CLAIMS} SET lease_until = %s WHERE account = %s AND owner = %s"
_HAS_SCHEMA: Final = "SELECT to_regclass('idenfy_async.schema_version') IS NOT NULL"
_VERSION: Final = "SELECT coalesce(max(version), 0) FROM idenfy_async.schema_version"
#: SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification.
_AUTH_STATES: Final = frozenset({"28P01", "28000"})
#: SQLSTATE insufficient_privilege: a user without the right to create the schema.
_NO_PRIVILEGE: Final = "42501"


def postgres_schema() -> str:
    """The SQL that creates or migrates the journal's schema (what a DBA runs by hand:
    ``python -c '...print(postgres_schema())' | psql URL -v ON_ERROR_STOP=1``)."""
    return resources.files("idenfy_async.bulk").joinpath(_SCHEMA_FILE).read_text(encoding="utf-8")


def _where(url: str) -> str:
    """``user@host:port/dbname`` of ``url``, for messages: never the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(url)
    except Exception:
        return "the PostgreSQL journal"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"{user}{parts.get('host') or 'localhost'}{port}/{parts.get('dbname') or ''}"


def _reason(exc: BaseException) -> str:
    """libpq's message on one line, without its "connection to server at ... failed:"
    prefix (the place is said once, by the caller)."""
    text = " ".join(str(exc).split())
    head, _, tail = text.rpartition(" failed: ")
    text = tail if head else text
    return text.removeprefix("FATAL: ").strip() or type(exc).__name__


class PostgresJournal:
    """A [`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal] in PostgreSQL, shared by
    workers on any number of machines.

    Use it as ``async with PostgresJournal("postgresql://user:pw@db/app", scope=...)
    as journal:`` (or ``journal_for(url)``). Opening connects once, creates or
    migrates the schema when it is older, and refuses a newer one, before anything
    is sent; then a small pool of connections (psycopg 3) serves the run. Each
    ``put`` is committed when it returns.

    Args:
        url: a libpq URL or connection string (``sslmode``, ``PGPASSWORD``,
            ``~/.pgpass`` and the other libpq settings apply).
        scope: the account the rows belong to (`account_scope`): rows are
            keyed by it, so several accounts can share one database.
        clock: the wall clock claims' leases are read on (keep the workers'
            machines in sync, NTP, far within a lease).
        pool_size: connections kept at most.
        claim_lease: seconds a bulk run's claim on a row lasts without renewal (None:
            the default, a minute): the run renews its claims well within it, and a
            run that dies leaves its claimed, never-sent rows to the other workers once
            it has passed.
    """

    def __init__(
        self,
        url: str,
        *,
        scope: str | None = None,
        clock: Callable[[], float] = time.time,
        pool_size: int = DEFAULT_POOL_SIZE,
        claim_lease: float | None = None,
    ) -> None:
        self.url = url
        self.scope = scope
        self.account: str = scope if scope is not None else _NO_SCOPE
        self.clock = clock
        self.pool_size = pool_size
        if claim_lease is not None and not claim_lease > 0:
            raise ConfigurationError("claim_lease must be a positive number of seconds")
        self.claim_lease: float | None = claim_lease
        self._pool: psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._opened = False
        self._closed = False

    @property
    def path(self) -> str:
        """Where the journal is, for messages: the URL without its password."""
        return f"postgresql://{_where(self.url)}"

    def __repr__(self) -> str:
        state = "open" if self._pool is not None and not self._closed else "closed"
        return f"PostgresJournal({self.path!r}, {state})"

    async def __aenter__(self) -> PostgresJournal:
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
        """Connect, create or migrate the schema, and open the pool.

        Raises:
            JournalError: psycopg is not installed, the server cannot be reached or
                refuses the credentials, or the schema is newer than this version's;
                a one-line message, without the password.
        """
        if self._opened:
            raise JournalError("a PostgresJournal can be opened once")
        self._opened = True
        try:
            import psycopg
            import psycopg_pool
        except ImportError as exc:
            raise JournalError(
                "a postgresql:// journal needs psycopg 3: pip install 'idenfy-async[postgres]'"
            ) from exc
        where = _where(self.url)
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        except psycopg.Error as exc:
            raise self._connect_error(exc, where) from exc
        try:
            async with conn:
                await self._migrate(conn, where)
        except psycopg.Error as exc:
            hint = ""
            if getattr(exc, "sqlstate", None) == _NO_PRIVILEGE:
                hint = " (have a DBA create it: the SQL is postgres_schema())"
            raise JournalError(
                f"cannot set up the journal's schema at {where}: {_reason(exc)}{hint}"
            ) from exc
        self._pool = psycopg_pool.AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            open=False,
            name="idenfy-journal",
        )
        try:
            await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except psycopg_pool.PoolTimeout as exc:
            self._closed = True
            await self._pool.close()
            raise JournalError(f"cannot reach the PostgreSQL journal at {where}") from exc

    def _connect_error(self, exc: Exception, where: str) -> JournalError:
        sqlstate = getattr(exc, "sqlstate", None)
        reason = _reason(exc)
        if sqlstate in _AUTH_STATES or "authentication failed" in reason:
            return JournalError(f"PostgreSQL at {where} refused the credentials: {reason}")
        return JournalError(f"cannot reach the PostgreSQL journal at {where}: {reason}")

    async def _migrate(self, conn: psycopg.AsyncConnection[Any], where: str) -> None:
        version = await _scalar(conn, _VERSION) if await _scalar(conn, _HAS_SCHEMA) else 0
        if version > POSTGRES_SCHEMA_VERSION:
            raise JournalError(
                f"the journal at {where} was written by a newer idenfy-async (schema"
                f" {version}, this one knows {POSTGRES_SCHEMA_VERSION}): upgrade idenfy-async"
            )
        if version < POSTGRES_SCHEMA_VERSION:
            # Workers starting together: the script's advisory lock runs it once at a
            # time, and each step is "if not exists".
            await conn.execute(postgres_schema().encode())

    async def aclose(self) -> None:
        """Close the pool (waiting for statements in progress). Idempotent."""
        pool = self._pool
        if pool is None or self._closed:
            return
        self._closed = True
        await pool.close()

    def _live_pool(self) -> psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._pool is None or self._closed:
            raise JournalError(
                "the journal is not open: use `async with PostgresJournal(url) as journal:`"
            )
        return self._pool

    async def _run(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """One statement in its own transaction (autocommit); its rows."""
        import psycopg

        pool = self._live_pool()
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(query.encode(), params)
                return await cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as exc:
            raise JournalError(
                f"cannot use the journal at {_where(self.url)}: {_reason(exc)}"
            ) from exc

    def _values(self, entry: JournalEntry) -> tuple[Any, ...]:
        values = list(_row_values(entry, time.time()))
        if values[9] is not None:  # error_retryable: a boolean column
            values[9] = bool(values[9])
        return tuple(values)

    async def get(self, client_id: str) -> JournalEntry | None:
        rows = await self._run(_GET, (self.account, client_id))
        return _entry_from_row(rows[0]) if rows else None

    async def put(self, entry: JournalEntry) -> None:
        await self._run(_PUT, (self.account, *self._values(entry)))

    async def counts(self) -> dict[JournalState, int]:
        """How many clientIds of this account are in each state."""
        rows = await self._run(
            f"SELECT state, count(*) FROM {_TABLE} WHERE account = %s GROUP BY state",
            (self.account,),
        )
        counts = dict.fromkeys(JournalState, 0)
        for state, n in rows:
            counts[JournalState(state)] = n
        return counts

    async def open_entries(self, *, unclaimed: bool = False) -> list[JournalEntry]:
        """This account's entries still ``pending`` or ``unknown``; with ``unclaimed``,
        only those no worker holds a running claim on (the others are in flight at a
        live worker, not left open by a dead one)."""
        query = f"SELECT {_COLUMNS} FROM {_TABLE} e WHERE account = %s AND state IN (%s, %s)"
        params: tuple[Any, ...] = (self.account, *(state.value for state in _OPEN))
        if unclaimed:
            query += (
                f" AND NOT EXISTS (SELECT 1 FROM {_CLAIMS} c WHERE c.account = e.account"
                " AND c.client_id = e.client_id AND c.lease_until > %s)"
            )
            params += (self.clock(),)
        rows = await self._run(query, params)
        return [_entry_from_row(row) for row in rows]

    async def entries(self) -> list[JournalEntry]:
        """Every entry of this account."""
        rows = await self._run(
            f"SELECT {_COLUMNS} FROM {_TABLE} WHERE account = %s", (self.account,)
        )
        return [_entry_from_row(row) for row in rows]

    # ----------------------------------------------------------------------- claims

    async def claim(
        self, client_id: str, owner: str, lease_seconds: float, *, take_settled: bool = False
    ) -> ClaimResult:
        """See [`claim`][idenfy_async.bulk.journal.ClaimingJournal.claim].

        One transaction: the entry is read first (a settled row takes no claim), then
        the claim is taken by an insert that wins on the primary key, then the entry
        is read again, after the claim: a previous holder's last write is seen.
        """
        import psycopg

        account, pool = self.account, self._live_pool()
        try:
            async with pool.connection() as conn, conn.transaction():
                for _ in range(3):  # a holder that unclaimed meanwhile: ask again
                    entry = await _entry(conn, account, client_id)
                    if entry is not None and entry.state in _SETTLED and not take_settled:
                        return Settled(entry)
                    now = self.clock()
                    taken = await conn.execute(
                        _CLAIM.encode(), (account, client_id, owner, now + lease_seconds, now)
                    )
                    if await taken.fetchone() is not None:
                        entry = await _entry(conn, account, client_id)
                        return Claimed(entry)
                    holder = await (
                        await conn.execute(_HOLDER.encode(), (account, client_id))
                    ).fetchone()
                    if holder is not None:
                        return HeldByOther(owner=holder[0], lease_until=holder[1])
                raise JournalError(f"could not claim {client_id!r}: its claim kept changing")
        except psycopg.Error as exc:
            raise JournalError(
                f"cannot use the journal at {_where(self.url)}: {_reason(exc)}"
            ) from exc

    async def put_claimed(self, entry: JournalEntry, owner: str) -> bool:
        """See [`put_claimed`][idenfy_async.bulk.journal.ClaimingJournal.put_claimed]."""
        account = self.account
        rows = await self._run(
            _PUT_CLAIMED,
            (account, entry.client_id, owner, self.clock(), account, *self._values(entry)),
        )
        return bool(rows)

    async def unclaim(self, client_id: str, owner: str) -> None:
        """See [`unclaim`][idenfy_async.bulk.journal.ClaimingJournal.unclaim]."""
        await self._run(_RELEASE, (self.account, client_id, owner))

    async def renew(self, owner: str, lease_seconds: float) -> int:
        """See [`renew`][idenfy_async.bulk.journal.ClaimingJournal.renew]."""
        rows = await self._run(
            _RENEW + " RETURNING 1", (self.clock() + lease_seconds, self.account, owner)
        )
        return len(rows)


async def _scalar(conn: psycopg.AsyncConnection[Any], query: str) -> int:
    row = await (await conn.execute(query.encode())).fetchone()
    assert row is not None
    return int(row[0])


async def _entry(
    conn: psycopg.AsyncConnection[Any], account: str, client_id: str
) -> JournalEntry | None:
    row = await (await conn.execute(_GET.encode(), (account, client_id))).fetchone()
    return _entry_from_row(row) if row is not None else None
