"""``idenfy-async bulk`` with its journal in PostgreSQL: ``--journal postgresql://...``
or ``$IDENFY_JOURNAL_URL``, against a real server."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from idenfy_async.bulk.journal import Claimed, JournalEntry, JournalState, PostgresJournal
from idenfy_async.cli import main
from idenfy_async.cli._bulk import _announce_open_rows
from idenfy_async.cli._exits import EXIT_OK, EXIT_USAGE
from tests.support.pgserver import PASSWORD, pg_url
from tests.support.redisserver import free_port

CUSTOMERS = Path(__file__).parent.parent.parent / "examples" / "customers.csv"


@pytest.fixture(autouse=True)
def _apart(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "IDENFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IDENFY_JOURNAL_DIR", str(tmp_path / "journals"))


def _bulk(capsys: pytest.CaptureFixture[str], out: Path, *argv: str) -> tuple[int, str]:
    code = main(["bulk", str(CUSTOMERS), "--fake", "--out", str(out), *argv])
    return code, capsys.readouterr().err


def _statuses(out: Path) -> set[str]:
    return {json.loads(line)["status"] for line in out.read_text().splitlines()}


@pytest.mark.parametrize("given", ["--journal", "IDENFY_JOURNAL_URL"])
def test_a_postgresql_journal_resumes_a_run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_database: str,
    given: str,
) -> None:
    argv: list[str] = []
    if given == "--journal":
        argv = ["--journal", pg_database]
    else:
        monkeypatch.setenv("IDENFY_JOURNAL_URL", pg_database)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert _bulk(capsys, first, *argv)[0] == EXIT_OK
    assert _statuses(first) == {"created"}
    code, err = _bulk(capsys, second, *argv)
    assert code == EXIT_OK
    assert "0 created, 25 skipped (created earlier)" in err
    shown = pg_database.replace(f":{PASSWORD}@", "@")
    assert f"Journal: {shown}" in err
    assert PASSWORD not in err
    assert not (tmp_path / "journals").exists()  # no file journal beside it


def test_an_unreachable_journal_stops_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    code, err = _bulk(capsys, out, "--journal", pg_url(free_port(), "app"))
    assert code == EXIT_USAGE
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert "cannot reach the PostgreSQL journal at idenfy@127.0.0.1:" in line
    assert PASSWORD not in err
    assert not out.exists() or out.read_text() == ""


@pytest.mark.parametrize("lease", ["0", "-3", "soon"])
def test_a_bad_claim_lease_exits_2(lease: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bulk", "x.csv", "--claim-lease", lease])
    assert exc.value.code == EXIT_USAGE


async def test_the_start_up_note_leaves_out_rows_other_workers_hold(
    capsys: pytest.CaptureFixture[str], pg_database: str
) -> None:
    """Open rows a live worker holds are its requests in flight: not counted as rows
    this run may find with a session; rows nobody holds are."""
    args = argparse.Namespace(no_reconcile=False, retry_unknown=False, settle_window=0.0)
    async with PostgresJournal(pg_database, scope="s") as journal:
        assert isinstance(await journal.claim("live", "other", 60.0), Claimed)
        for cid in ("live", "left-1", "left-2"):
            entry = JournalEntry(client_id=cid, state=JournalState.PENDING, pending_at=1.0)
            await journal.put(entry)
        await _announce_open_rows(journal, args)
    err = capsys.readouterr().err
    assert "the journal holds 2 rows that may already have a session" in err
