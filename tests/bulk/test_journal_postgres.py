"""The PostgreSQL journal against a real server: its schema and versions, accounts kept
apart, and a one-line error, with no password in it, for each way it cannot be used."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from idenfy_async import AsyncIdenfy, SessionRequest
from idenfy_async.bulk import BulkState
from idenfy_async.bulk.journal import (
    POSTGRES_SCHEMA_VERSION,
    JournalEntry,
    JournalError,
    JournalState,
    PostgresJournal,
    SqliteJournal,
    account_scope,
    journal_for,
    postgres_schema,
)
from tests.support.pgserver import PASSWORD, PostgresServer, pg_url, run_sql
from tests.support.redisserver import free_port

CREATED = JournalEntry(
    client_id="user-1",
    state=JournalState.CREATED,
    scan_ref="scan-1",
    auth_token="token-1",
    attempts=1,
)


def _one_line_without_password(exc: JournalError) -> str:
    text = str(exc)
    assert "\n" not in text
    assert PASSWORD not in text
    assert "wrong-password" not in text
    return text


async def test_entries_stay_across_reopening_and_accounts_stay_apart(pg_database: str) -> None:
    async with PostgresJournal(pg_database, scope="account-a") as journal:
        await journal.put(CREATED)
    async with PostgresJournal(pg_database, scope="account-a") as journal:
        assert await journal.get("user-1") == CREATED
    async with PostgresJournal(pg_database, scope="account-b") as other:
        assert await other.get("user-1") is None  # the same clientId, another account
        assert await other.entries() == []
        assert (await other.counts())[JournalState.CREATED] == 0


async def test_the_schema_is_created_versioned_and_left_alone_when_current(
    pg_database: str,
) -> None:
    async with PostgresJournal(pg_database) as journal:
        await journal.put(CREATED)
    versions = run_sql(pg_database, "SELECT version FROM idenfy_async.schema_version")
    assert versions == [(POSTGRES_SCHEMA_VERSION,)]
    # The file run by hand again changes nothing.
    count = run_sql(pg_database, postgres_schema(), "SELECT count(*) FROM idenfy_async.entries")
    assert count == [(1,)]


async def test_a_dba_migrates_by_hand_and_the_application_needs_no_ddl_rights(
    postgres_server: PostgresServer, pg_database: str
) -> None:
    """The documented path: the SQL file run by an admin, the app's user granted rows
    only; the journal opens without trying to create anything."""
    database = pg_database.rsplit("/", 1)[1]
    run_sql(
        pg_database,
        postgres_schema(),
        "CREATE ROLE app LOGIN PASSWORD 'app-password'",
        "GRANT USAGE ON SCHEMA idenfy_async TO app",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA idenfy_async TO app",
        f"REVOKE CREATE ON DATABASE {database} FROM PUBLIC",
    )
    app_url = pg_url(postgres_server.port, database, user="app", password="app-password")
    async with PostgresJournal(app_url, scope="s") as journal:
        await journal.put(CREATED)
        assert await journal.get("user-1") == CREATED


async def test_workers_opening_a_new_database_together_create_the_schema_once(
    pg_database: str,
) -> None:
    journals = [PostgresJournal(pg_database, scope="s") for _ in range(4)]
    await asyncio.gather(*(j.open() for j in journals))
    try:
        await journals[0].put(CREATED)
        assert await journals[3].get("user-1") == CREATED
    finally:
        await asyncio.gather(*(j.aclose() for j in journals))


async def test_a_newer_schema_is_refused_before_anything_is_written(pg_database: str) -> None:
    async with PostgresJournal(pg_database):
        pass
    run_sql(pg_database, "INSERT INTO idenfy_async.schema_version (version) VALUES (99)")
    with pytest.raises(JournalError, match="newer idenfy-async") as caught:
        await PostgresJournal(pg_database).open()
    assert "schema 99" in _one_line_without_password(caught.value)


async def test_wrong_credentials_are_a_one_line_error(postgres_server: PostgresServer) -> None:
    url = postgres_server.url(password="wrong-password")
    with pytest.raises(JournalError, match="refused the credentials") as caught:
        await PostgresJournal(url).open()
    text = _one_line_without_password(caught.value)
    assert f"idenfy@127.0.0.1:{postgres_server.port}/postgres" in text


async def test_an_unreachable_server_is_a_one_line_error() -> None:
    url = pg_url(free_port(), "app")  # nothing listens there
    with pytest.raises(JournalError, match="cannot reach the PostgreSQL journal") as caught:
        await PostgresJournal(url).open()
    assert "refused" in _one_line_without_password(caught.value).lower()


async def test_a_server_gone_mid_run_is_a_journal_error(
    own_postgres_server: PostgresServer,
) -> None:
    url = own_postgres_server.create_database()
    async with PostgresJournal(url) as journal:
        await journal.put(CREATED)
        own_postgres_server.kill()
        with pytest.raises(JournalError, match="cannot use the journal") as caught:
            await journal.put(CREATED)
        _one_line_without_password(caught.value)


async def test_without_psycopg_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(JournalError, match=r"idenfy-async\[postgres\]"):
        await PostgresJournal("postgresql://localhost/app").open()


async def test_lifecycle(pg_database: str) -> None:
    journal = PostgresJournal(pg_database)
    with pytest.raises(JournalError, match="not open"):
        await journal.get("x")
    async with journal:
        assert "open" in repr(journal)
        with pytest.raises(JournalError, match="opened once"):
            await journal.open()
    await journal.aclose()  # idempotent
    assert "closed" in repr(journal)
    assert PASSWORD not in repr(journal)
    with pytest.raises(JournalError, match="not open"):
        await journal.put(CREATED)


@pytest.mark.parametrize(
    ("where", "kind"),
    [
        ("postgresql://u:p@db.example.com/app", PostgresJournal),
        ("postgres://db.example.com/app", PostgresJournal),
        ("run.journal.sqlite", SqliteJournal),
        (Path("postgresql:"), SqliteJournal),  # a path is a file, whatever its name
    ],
)
def test_journal_for_picks_the_backend_from_the_url(where: str | Path, kind: type) -> None:
    journal = journal_for(where, scope="s")
    assert type(journal) is kind
    assert journal.scope == "s"


def test_the_account_scope_names_the_server_and_hides_the_key() -> None:
    scope = account_scope("https://ivs.idenfy.com", "secret-key")
    assert scope.startswith("https://ivs.idenfy.com key-sha256:")
    assert "secret-key" not in scope
    assert scope != account_scope("https://ivs.idenfy.com", "other-key")


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
async def test_create_sessions_opens_a_journal_given_by_url_or_path(
    client: AsyncIdenfy, request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    where = (
        request.getfixturevalue("pg_database") if kind == "postgres" else str(tmp_path / "j.sqlite")
    )
    rows = [SessionRequest(f"c-{i}") for i in range(3)]
    first = [r async for r in client.create_sessions(rows, journal=where)]
    assert {r.state for r in first} == {BulkState.CREATED}
    again = [r async for r in client.create_sessions(rows, journal=where)]
    assert {r.state for r in again} == {BulkState.SKIPPED}
    # The rows are the client's account's: the same scope the CLI binds its journal to.
    async with journal_for(where, scope=account_scope(client.base_url, "test-key")) as journal:
        assert (await journal.counts())[JournalState.CREATED] == 3


async def test_a_user_who_may_not_create_the_schema_is_told_who_can(
    postgres_server: PostgresServer, pg_database: str
) -> None:
    database = pg_database.rsplit("/", 1)[1]
    run_sql(
        pg_database,
        "CREATE ROLE reader LOGIN PASSWORD 'reader-password'",
        f"REVOKE CREATE ON DATABASE {database} FROM PUBLIC",
    )
    url = pg_url(postgres_server.port, database, user="reader", password="reader-password")
    with pytest.raises(JournalError, match="have a DBA create it") as caught:
        await PostgresJournal(url).open()
    assert "reader-password" not in _one_line_without_password(caught.value)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_missing_postgresql_skips_except_on_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    from tests.support import pgserver

    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(pgserver, "_DEBIAN_BIN", "/nonexistent/*/bin")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="PostgreSQL is not installed"):
        pgserver.require_postgres()
