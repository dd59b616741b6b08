"""One journal per account: what was paid for is a fact about (account, clientId), so no
input file, renamed, corrected or re-exported, pays twice or hands one customer another
customer's link. The library's rules (conflict, expired, corrected failures) with a
virtual wall clock; the command's workflows as a team runs them, over real TCP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from idenfy_async import AsyncIdenfy, RequestValidationError, SessionRequest
from idenfy_async.bulk import BulkResult, BulkState, create_sessions, request_fingerprint
from idenfy_async.bulk.journal import (
    ErrorRecord,
    JournalEntry,
    JournalState,
    MemoryJournal,
    SqliteJournal,
)
from idenfy_async.bulk.reconcile import ReconcilePolicy
from idenfy_async.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS, EXIT_USAGE, main
from idenfy_async.cli._ledger import (
    FAKE_JOURNAL_NAME,
    MIGRATED_SUFFIX,
    account_journal_name,
    journal_dir,
)
from idenfy_async.errors import RequestValidationError as _RVE
from idenfy_async.models import _checks
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer
from tests.cli.test_cli import account_journal, cli_env
from tests.conftest import VirtualClock

POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
assert _RVE is RequestValidationError


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "IDENFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IDENFY_JOURNAL_DIR", str(tmp_path / "journals"))


# --------------------------------------------------------------------------- the library


async def bulk(
    fake: FakeIdenfy,
    requests: list[SessionRequest],
    journal: MemoryJournal,
    clock: VirtualClock,
    **options: Any,
) -> list[BulkResult]:
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, max_retries=0) as client:
        policy = ReconcilePolicy(wall_clock=clock, sleep=clock.sleep)
        results = create_sessions(client, requests, journal=journal, reconcile=policy, **options)
        return sorted([r async for r in results], key=lambda r: r.index)


ANN = SessionRequest("c-1", first_name="Ann", last_name="Lee")
CARLA = SessionRequest("c-1", first_name="Carla", last_name="Diaz")


def test_the_fingerprint_is_the_data_sent_not_where_it_came_from() -> None:
    same = SessionRequest("c-1", first_name="Ann", last_name="Lee")
    assert request_fingerprint(ANN) == request_fingerprint(same)
    assert request_fingerprint(ANN) != request_fingerprint(CARLA)
    assert request_fingerprint(ANN) != request_fingerprint(attrs.evolve(ANN, client_id="c-2"))
    fingerprint = request_fingerprint(ANN)
    assert fingerprint is not None
    assert "Ann" not in fingerprint
    assert len(fingerprint) == 32


async def test_another_persons_row_under_a_clientid_is_a_conflict_without_the_link() -> None:
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    first = await bulk(fake, [ANN], journal, clock, origin=lambda i: f"a.csv row {i + 2}")
    assert first[0].state is BulkState.CREATED
    ann_session = first[0].session
    assert ann_session is not None

    (carla,) = await bulk(fake, [CARLA], journal, clock, origin=lambda i: "b.csv row 4")
    assert carla.state is BulkState.CONFLICT
    assert carla.session is None
    assert not carla.sent
    assert carla.earlier is not None
    assert carla.earlier.origin == "a.csv row 2"
    assert carla.earlier.auth_token is None  # never handed Ann's token
    assert carla.earlier.redirect_url is None
    assert fake.requests == 1
    # The journal still holds Ann's session, untouched.
    entry = journal.entries["c-1"]
    assert (entry.scan_ref, entry.origin) == (ann_session.scan_ref, "a.csv row 2")


async def test_the_same_data_again_from_another_file_is_skipped_with_its_session() -> None:
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    (first,) = await bulk(fake, [ANN], journal, clock)
    (again,) = await bulk(fake, [attrs.evolve(ANN)], journal, clock)
    assert again.state is BulkState.SKIPPED
    assert again.session is not None
    assert first.session is not None
    assert again.session.scan_ref == first.session.scan_ref
    assert fake.requests == 1


async def test_replace_conflicts_sends_a_new_session_and_says_it_replaced_one() -> None:
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    await bulk(fake, [ANN], journal, clock)
    (carla,) = await bulk(fake, [CARLA], journal, clock, replace_conflicts=True)
    assert carla.state is BulkState.CREATED
    assert carla.replaced
    assert carla.earlier is not None
    assert carla.earlier.state is JournalState.CREATED
    assert fake.requests == 2
    assert journal.entries["c-1"].fingerprint == request_fingerprint(CARLA)


async def test_two_people_under_one_clientid_in_one_run_send_once() -> None:
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    results = await bulk(fake, [ANN, SessionRequest("c-2"), CARLA], journal, clock)
    assert [r.state for r in results] == [BulkState.CREATED, BulkState.CREATED, BulkState.CONFLICT]
    assert results[2].session is None
    assert Counter(s.client_id for s in fake.sessions) == {"c-1": 1, "c-2": 1}


async def test_a_failed_row_whose_data_changed_is_sent_again() -> None:
    """A refused row, corrected in INPUT: nothing was created, so the new data is sent
    (the same data again is not: it would be refused again)."""
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    refused = ErrorRecord(name="BadRequestError", retryable=False, status_code=400)
    journal.entries["c-1"] = JournalEntry(
        client_id="c-1",
        state=JournalState.FAILED,
        error=refused,
        attempts=1,
        fingerprint=request_fingerprint(ANN),
    )
    (same,) = await bulk(fake, [ANN], journal, clock)
    assert same.state is BulkState.FAILED
    assert fake.requests == 0
    (fixed,) = await bulk(fake, [CARLA], journal, clock)
    assert fixed.state is BulkState.CREATED
    assert fake.requests == 1


async def test_an_expired_session_is_skipped_unless_reissue_expired() -> None:
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    request = attrs.evolve(ANN, expiry_time=600)
    (first,) = await bulk(fake, [request], journal, clock)
    assert journal.entries["c-1"].expires_at == clock.now + 600

    clock.now += 599  # still valid: never sent again
    (valid,) = await bulk(fake, [request], journal, clock, reissue_expired=True)
    assert valid.state is BulkState.SKIPPED
    assert not valid.expired
    assert fake.requests == 1

    clock.now += 2  # expired, no result
    (kept,) = await bulk(fake, [request], journal, clock)
    assert kept.state is BulkState.SKIPPED
    assert kept.earlier is not None
    assert kept.earlier.expires_at is not None
    assert kept.earlier.expires_at <= clock.now
    assert kept.expired
    assert fake.requests == 1

    (reissued,) = await bulk(fake, [request], journal, clock, reissue_expired=True)
    assert reissued.state is BulkState.CREATED
    assert reissued.replaced
    assert first.session is not None
    assert reissued.session is not None
    assert reissued.session.scan_ref != first.session.scan_ref
    assert len(fake.sessions_for("c-1")) == 2


async def test_an_expired_session_with_a_result_is_never_reissued() -> None:
    fake, journal, clock = FakeIdenfy(), MemoryJournal(), VirtualClock(1_000_000.0)
    request = attrs.evolve(ANN, expiry_time=600)
    (first,) = await bulk(fake, [request], journal, clock)
    assert first.session is not None
    fake.complete(first.session.scan_ref, "APPROVED")
    clock.now += 601
    (kept,) = await bulk(fake, [request], journal, clock, reissue_expired=True)
    assert kept.state is BulkState.SKIPPED
    assert not kept.expired  # it has a result: nothing to re-invite
    assert len(fake.sessions_for("c-1")) == 1
    assert journal.entries["c-1"].verification_status == "APPROVED"
    # Recorded: the next run does not ask again.
    listings = fake.requests
    await bulk(fake, [request], journal, clock, reissue_expired=True)
    assert fake.requests == listings


@pytest.mark.parametrize(
    ("born", "valid"),
    [("2026-12-06", True), ("2026-12-07", True), ("2026-12-08", False), ("2099-01-01", False)],
)
def test_a_birth_date_after_today_is_refused(
    monkeypatch: pytest.MonkeyPatch, born: str, valid: bool
) -> None:
    monkeypatch.setattr(_checks, "today", lambda: dt.date(2026, 12, 7))
    if valid:
        assert SessionRequest("c-1", date_of_birth=born).date_of_birth == born
        return
    with pytest.raises(RequestValidationError) as caught:
        SessionRequest("c-1", date_of_birth=born)
    assert "dateOfBirth" in str(caught.value)
    assert "not after today" in str(caught.value)
    # Other dates are not birth dates: a document may expire in the future.
    assert SessionRequest("c-1", date_of_expiry=born).date_of_expiry == born


async def test_a_version_2_journal_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    async with SqliteJournal(path) as journal:
        await journal.put(JournalEntry(client_id="c-1", state=JournalState.CREATED, scan_ref="s"))
    conn = sqlite3.connect(path)
    conn.executescript(
        "ALTER TABLE entries DROP COLUMN fingerprint; ALTER TABLE entries DROP COLUMN origin;"
        " PRAGMA user_version = 2;"
    )
    conn.close()
    async with SqliteJournal(path) as journal:
        entry = await journal.get("c-1")
        assert entry is not None
        assert entry.scan_ref == "s"
        assert entry.fingerprint is None
        await journal.put(attrs.evolve(entry, fingerprint="f" * 32, origin="a.csv row 2"))
        again = await journal.get("c-1")
        assert again is not None
        assert (again.fingerprint, again.origin) == ("f" * 32, "a.csv row 2")


# --------------------------------------------------------------------------- the command


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_out(path: Path) -> dict[int, dict[str, Any]]:
    return {r["row"]: r for r in map(json.loads, path.read_text().splitlines())}


def people(n: int, sep: str = ",") -> str:
    lines = [sep.join(["clientId", "firstName", "lastName"])]
    lines += [sep.join([f"c-{i:02d}", "Ann" + _letters(i), "Lee"]) for i in range(n)]
    return "\n".join(lines) + "\n"


def _letters(i: int) -> str:
    """0 -> "a", 25 -> "z", 26 -> "ba": a different name per row, letters only."""
    text = ""
    while True:
        i, digit = divmod(i, 26)
        text = chr(ord("a") + digit) + text
        if not i:
            return text


async def start_bulk(
    base_url: str, *argv: str, rate: str = "none", concurrency: int = 8
) -> asyncio.subprocess.Process:
    """``idenfy-async bulk ARGV`` in a process of its own, against ``base_url``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "idenfy_async",
        "bulk",
        *argv,
        "--rate",
        rate,
        "--concurrency",
        str(concurrency),
        env=cli_env(base_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def bulk_cli(base_url: str, *argv: str) -> tuple[int, str]:
    process = await start_bulk(base_url, *argv)
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_renamed_and_re_exported_inputs_pay_nothing_more(tmp_path: Path) -> None:
    """The issue's workflow, over TCP: 20 rows, then the same rows in a renamed file,
    then in a semicolon re-export: the server sees exactly 20 token requests."""
    first = write(tmp_path / "customers.csv", people(20))
    renamed = write(tmp_path / "customers_fixed.csv", people(20))
    semicolons = write(tmp_path / "crm_export.csv", people(20, ";"))
    server = FakeIdenfyServer()
    async with server as base_url:
        code, err = await bulk_cli(base_url, str(first), "--out", "1.jsonl")
        assert code == EXIT_OK, err
        assert "20 created" in err
        for source, out in ((renamed, "2.jsonl"), (semicolons, "3.jsonl")):
            code, err = await bulk_cli(base_url, str(source), "--out", out)
            assert code == EXIT_OK, err
            assert "0 created, 20 skipped" in err
            assert {r["status"] for r in read_out(tmp_path / out).values()} == {"skipped"}
        assert server.fake.requests == 20
        assert Counter(s.client_id for s in server.fake.sessions) == {
            f"c-{i:02d}": 1 for i in range(20)
        }
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".sqlite")]  # none beside INPUT
    journals = [tmp_path / "journals" / name for name in os.listdir(tmp_path / "journals")]
    assert [p.name for p in journals] == [account_journal_name(base_url, "test-key")]
    assert "test-key" not in journals[0].name


async def test_two_people_under_one_clientid_get_one_post_and_a_conflict(tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.csv",
        "clientId,firstName,lastName\nc-1,Ann,Lee\nc-2,Bob,Ray\nc-1,Carla,Diaz\n",
    )
    server = FakeIdenfyServer()
    async with server as base_url:
        code, err = await bulk_cli(base_url, str(source), "--out", "out.jsonl")
        carla_file = write(tmp_path / "later.csv", "clientId,firstName\nc-1,Carla\n")
        later_code, later_err = await bulk_cli(base_url, str(carla_file), "--out", "l.jsonl")
        assert [s.client_id for s in server.fake.sessions].count("c-1") == 1
        assert server.fake.requests == 2
    assert code == EXIT_ROWS, err
    assert "1 conflict" in err
    out = read_out(tmp_path / "out.jsonl")
    assert out[2]["status"] == "created"
    assert out[4]["status"] == "conflict"
    assert out[4]["scanRef"] is None
    assert out[4]["redirectUrl"] is None
    assert "row 2" in out[4]["error"]
    # From another file, later: a conflict naming where the session came from.
    assert later_code == EXIT_ROWS, later_err
    (later,) = read_out(tmp_path / "l.jsonl").values()
    assert later["status"] == "conflict"
    assert later["scanRef"] is None
    assert later["redirectUrl"] is None
    assert f"{source} row 2" in later["error"]
    assert "--replace-conflicts" in later_err


def test_dry_run_reports_a_conflict_with_both_rows_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "in.csv",
        "clientId,firstName\nc-1,Ann\nc-2,Bob\nc-1,Carla\nc-2,Bob\n",
    )
    code = main(["bulk", str(source), "--dry-run", "--out", "report.jsonl"])
    err = capsys.readouterr().err
    assert code == EXIT_ROWS
    assert f"{source} row 4 (clientId c-1): conflict: clientId also on row 2" in err
    assert "All 4 rows are valid" not in err
    report = read_out(tmp_path / "report.jsonl")
    assert {row: r["status"] for row, r in report.items()} == {
        2: "valid",
        3: "valid",
        4: "conflict",
        5: "duplicate",
    }
    assert report[5]["error"] == "duplicate of row 3"
    assert all(r["fake"] is None and r["scanRef"] is None for r in report.values())
    assert not (tmp_path / "journals").exists()  # a dry run touches no journal


def test_an_exact_repeat_is_sent_once_and_reported_as_a_duplicate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", "clientId,firstName\nc-1,Ann\nc-2,Bob\nc-1,Ann\n")
    code = main(["bulk", str(source), "--out", "out.jsonl"])
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert "2 created" in err
    assert "1 duplicate" in err
    out = read_out(tmp_path / "out.jsonl")
    assert out[4]["status"] == "duplicate"
    assert out[4]["error"] == "duplicate of row 2 (created)"
    assert out[4]["scanRef"] == out[2]["scanRef"]
    assert out[4]["redirectUrl"] == out[2]["redirectUrl"]


def test_a_fake_run_marks_every_line_of_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", people(3))
    assert main(["bulk", str(source), "--out", "out.jsonl"]) == EXIT_OK
    assert main(["bulk", str(source), "--out", "out.csv"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "OUT marks every line fake" in err
    assert all(r["fake"] is True for r in read_out(tmp_path / "out.jsonl").values())
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].endswith(",fake")
    assert all(line.endswith(",true") for line in lines[1:])
    assert (tmp_path / "journals" / FAKE_JOURNAL_NAME).exists()


async def test_a_real_run_marks_out_not_fake(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", people(2))
    async with FakeIdenfyServer() as base_url:
        code, err = await bulk_cli(base_url, str(source), "--out", "out.jsonl")
    assert code == EXIT_OK, err
    assert all(r["fake"] is False for r in read_out(tmp_path / "out.jsonl").values())


def test_extra_crm_columns_are_read_past_when_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "crm.csv", "clientId,firstName,email,phone\nc-1,Ann,a@example.com,123\n"
    )
    code = main(["bulk", str(source), "--out", "out.jsonl"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "--ignore-columns email,phone" in err
    code = main(["bulk", str(source), "--out", "out.jsonl", "--ignore-columns", "email,phone"])
    assert code == EXIT_OK, capsys.readouterr().err
    jsonl = write(tmp_path / "crm.jsonl", '{"clientId": "c-2", "email": "b@example.com"}\n')
    assert main(["bulk", str(jsonl), "--out", "o2.jsonl", "--ignore-columns", "email"]) == 0
    # Only the columns named: a misspelt field is still an error, never silently dropped.
    typo = write(tmp_path / "typo.csv", "clientId,frstName,email\nc-3,Ann,x\n")
    assert main(["bulk", str(typo), "--out", "o3.jsonl", "--ignore-columns", "email"]) == 2


def test_a_per_file_journal_is_folded_into_the_account_journal_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", people(3))
    old = tmp_path / "in.csv.fake.journal.sqlite"  # where the last version kept it
    assert main(["bulk", str(source), "--out", "o.jsonl", "--journal", str(old)]) == EXIT_OK
    scan_refs = {r["clientId"]: r["scanRef"] for r in read_out(tmp_path / "o.jsonl").values()}
    capsys.readouterr()

    assert main(["bulk", str(source), "--out", "o.jsonl"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "folded 3 of 3 rows of the per-file journal" in err
    assert not old.exists()
    assert (tmp_path / ("in.csv.fake.journal.sqlite" + MIGRATED_SUFFIX)).exists()
    out = read_out(tmp_path / "o.jsonl")
    assert {r["status"] for r in out.values()} == {"skipped"}
    assert {r["clientId"]: r["scanRef"] for r in out.values()} == scan_refs
    # Read once: the next run says nothing of it.
    assert main(["bulk", str(source), "--out", "o.jsonl"]) == EXIT_OK
    assert "folded" not in capsys.readouterr().err


def test_the_journal_directory_follows_the_platform_unless_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert journal_dir() == tmp_path / "journals"
    monkeypatch.delenv("IDENFY_JOURNAL_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert journal_dir() == tmp_path / "state" / "idenfy-async"


def test_the_journal_name_is_a_keyed_hash_of_account_and_server() -> None:
    name = account_journal_name("https://ivs.idenfy.com", "live-key")
    assert "live-key" not in name
    assert name == account_journal_name("https://ivs.idenfy.com/", "live-key")
    assert name != account_journal_name("https://ivs.idenfy.com", "other-key")
    assert name != account_journal_name("https://other.example", "live-key")


@POSIX_ONLY
async def test_a_second_ctrl_c_counts_the_requests_in_flight_as_unknown(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", people(60))
    server = FakeIdenfyServer(latency=1.0)  # answers held: requests on the wire at the signals
    async with server as base_url:
        process = await start_bulk(
            base_url, str(source), "--out", "out.jsonl", rate="none", concurrency=6
        )
        await asyncio.wait_for(server.wait_for_sessions(3), timeout=30)
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        said = b""
        while b"stopping:" not in said:  # two signals at once would be taken as one
            said += await asyncio.wait_for(process.stderr.readline(), timeout=30)
        process.send_signal(signal.SIGINT)
        _, rest = await asyncio.wait_for(process.communicate(), timeout=60)
        raw = said + rest
        journal_path = account_journal(tmp_path, base_url)
        async with SqliteJournal(journal_path) as journal:
            pending = {e.client_id for e in await journal.open_entries()}
    err = raw.decode()
    assert process.returncode == EXIT_INTERRUPTED, err
    assert pending, err  # requests were in flight
    out = read_out(tmp_path / "out.jsonl")
    unknown = {r["clientId"] for r in out.values() if r["status"] == "unknown"}
    assert unknown == pending
    assert f"{len(pending)} unknown" in err
    assert "A re-run looks each up in iDenfy's listing" in err


@POSIX_ONLY
async def test_input_truncated_mid_run_is_an_error_not_a_clean_finish(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", people(90))
    server = FakeIdenfyServer()
    async with server as base_url:
        process = await start_bulk(
            base_url, str(source), "--out", "out.jsonl", rate="30/s", concurrency=2
        )
        await asyncio.wait_for(server.wait_for_sessions(5), timeout=30)
        with source.open("r+b") as f:  # cut to a third, in place
            f.truncate(len(people(30).encode()))
        _, raw = await asyncio.wait_for(process.communicate(), timeout=60)
    err = raw.decode()
    assert process.returncode == EXIT_ROWS, err
    assert "changed while it was being read" in err
