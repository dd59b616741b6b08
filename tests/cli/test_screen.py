"""``idenfy-async screen``: the shipped sample on the built-in fake, resuming, refused
input, and a run killed mid-way over TCP whose re-run sends nothing twice."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from idenfy_async.bulk.journal import JournalState, SqliteJournal
from idenfy_async.cli import main
from idenfy_async.cli._exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS, EXIT_USAGE
from idenfy_async.cli._ledger import account_journal_name
from idenfy_async.testing import FakeIdenfyServer

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "IDENFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IDENFY_JOURNAL_DIR", str(tmp_path / "journals"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_sample_screens_on_the_fake_and_a_rerun_pays_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = run(capsys, "screen", str(EXAMPLES / "people.csv"), "--out", "screened.jsonl")
    assert code == EXIT_OK, err
    assert "using the built-in FakeIdenfy" in err
    results = {r["clientId"]: r for r in read_jsonl(tmp_path / "screened.jsonl")}
    assert {r["status"] for r in results.values()} == {"screened"}
    assert all(r["fake"] is True for r in results.values())
    flagged = {cid for cid, r in results.items() if r["overallStatus"] == "FLAGS_FOUND"}
    assert flagged == {"aml-0002", "aml-0003", "aml-0005"}
    assert (results["aml-0002"]["hits"], results["aml-0003"]["adverseMedia"]) == (1, 1)
    assert "Weber" not in (tmp_path / "screened.jsonl").read_text()  # no names in OUT
    assert f"{len(results)} rows: {len(results)} screened (3 flagged)." in err

    code, err = run(capsys, "screen", str(EXAMPLES / "people.csv"), "--out", "again.csv")
    assert code == EXIT_OK, err
    with (tmp_path / "again.csv").open(newline="") as stream:
        again = {r["clientId"]: r for r in csv.DictReader(stream)}
    assert {r["status"] for r in again.values()} == {"skipped"}
    assert {cid: r["checkId"] for cid, r in again.items()} == {
        cid: r["checkId"] for cid, r in results.items()
    }


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("clientId,fullName\nk-1,\n", "fullName: is required"),
        ("clientId,fullName,threshold\nk-1,Ann,70\n", "filter.threshold: must be between 75"),
        ("clientId,userType,companyName,pepTiers\nk-1,COMPANY,X,PEP_TIER_1\n", "person only"),
        ("clientId,fullName\nk-1,Ann\nk-1,Bob\n", "clientId repeats row 2"),
        ("clientId,userType,fullName\nk-1,TRUST,Ann\n", "userType: must be PERSON or COMPANY"),
    ],
)
def test_bad_rows_are_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: str, message: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(rows)
    code, err = run(capsys, "screen", str(source), "--out", "out.jsonl")
    assert code == EXIT_USAGE
    assert message in err
    assert "nothing was sent" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_postgresql_journal_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(
        capsys,
        "screen",
        str(EXAMPLES / "people.csv"),
        "--out",
        "out.jsonl",
        "--journal",
        "postgresql://db/x",
    )
    assert code == EXIT_USAGE
    assert "SQLite file" in err


def test_jsonl_input_with_defaults(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        {"reference": "p-1", "fullName": "Manfred Weber"},
        {"reference": "c-1", "userType": "COMPANY", "companyName": "GoPayments"},
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    code, err = run(
        capsys, "screen", str(source), "--out", "out.jsonl", "--datasets", "SAN_CURRENT"
    )
    assert code == EXIT_OK, err
    results = {r["clientId"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    # Only sanctions asked for: the PEP is not a hit, the sanctioned company is.
    assert (results["p-1"]["hits"], results["c-1"]["hits"]) == (0, 1)


def people(path: Path, n: int) -> list[str]:
    ids = [f"s-{i:04d}" for i in range(n)]
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["clientId", "fullName"])
        writer.writerows([cid, "Ann Example"] for cid in ids)
    return ids


async def screen_process(
    base_url: str, *argv: str, rate: str = "none"
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "IDENFY_API_KEY": "test-key",
        "IDENFY_API_SECRET": "test-secret",
        "IDENFY_BASE_URL": base_url,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "idenfy_async",
        "screen",
        *argv,
        "--concurrency",
        "8",
        "--rate",
        rate,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


@POSIX_ONLY
async def test_sigkill_mid_run_then_a_rerun_sends_nothing_twice(tmp_path: Path) -> None:
    """kill -9 mid-run over TCP. Every check that reached the fake was journaled first;
    the re-run sends each row not yet sent exactly once, never a row that was in flight
    (those are unknown: a check cannot be looked up), and skips screened ones."""
    ids = people(tmp_path / "in.csv", 200)
    argv = [str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.jsonl")]
    server = FakeIdenfyServer(latency=0.02)  # answers held 20 ms after the check is made
    async with server as base_url:
        first = await screen_process(base_url, *argv)
        await asyncio.wait_for(server.wait_for_checks(40), timeout=60)
        first.kill()
        assert await first.wait() == -signal.SIGKILL

        sent_first = Counter(server.fake.aml.check_requests)
        assert max(sent_first.values()) == 1
        name = account_journal_name(base_url, "test-key").removesuffix(".journal.sqlite")
        journal_path = tmp_path / "journals" / f"{name}.aml.journal.sqlite"
        async with SqliteJournal(journal_path) as journal:
            entries = {cid: await journal.get(cid) for cid in ids}
        # Nothing reached iDenfy without being in the journal first.
        assert set(sent_first) <= {cid for cid, e in entries.items() if e is not None}
        in_flight = {cid for cid, e in entries.items() if e and e.state is JournalState.PENDING}

        second = await screen_process(base_url, *argv)
        _, err = await asyncio.wait_for(second.communicate(), timeout=60)
        assert second.returncode == (EXIT_ROWS if in_flight else EXIT_OK), err.decode()

    sent = Counter(server.fake.aml.check_requests)
    assert max(sent.values()) == 1  # no row was paid for twice
    results = {r["clientId"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    by_status: dict[str, set[str]] = {}
    for cid, r in results.items():
        by_status.setdefault(r["status"], set()).add(cid)
    created = {cid for cid, e in entries.items() if e and e.state is JournalState.CREATED}
    untouched = {cid for cid, e in entries.items() if e is None}
    assert set(results) == set(ids)
    assert by_status.get("unknown", set()) == in_flight
    assert by_status.get("skipped", set()) == created
    assert by_status.get("screened", set()) == untouched
    assert set(sent) == set(sent_first) | untouched


@POSIX_ONLY
async def test_sigint_sends_nothing_new_and_lets_checks_in_flight_finish(tmp_path: Path) -> None:
    """Ctrl-C with rows waiting for the rate limiter: none of them is sent; the checks that
    had left finish and are recorded, as the message says."""
    people(tmp_path / "in.csv", 200)
    journal_path = tmp_path / "j.sqlite"
    out = tmp_path / "o.jsonl"
    argv = [str(tmp_path / "in.csv"), "--out", str(out), "--journal", str(journal_path)]
    server = FakeIdenfyServer(latency=0.1)  # answers held: checks on the wire at the signal
    async with server as base_url:
        process = await screen_process(base_url, *argv, rate="20/s")
        await asyncio.wait_for(server.wait_for_checks(5), timeout=30)
        process.send_signal(signal.SIGINT)
        _, err_bytes = await asyncio.wait_for(process.communicate(), timeout=60)
    err = err_bytes.decode()
    assert process.returncode == EXIT_INTERRUPTED, err
    match = re.search(r"(\d+) in flight to finish \((\d+) sent by this run\)", err)
    assert match is not None, err
    assert err.count("sent by this run") == 1, err
    in_flight, sent = int(match[1]), int(match[2])
    assert in_flight <= sent
    assert len(server.fake.aml.check_requests) == len(server.fake.aml.checks) == sent
    async with SqliteJournal(journal_path) as journal:
        counts = await journal.counts()
    # Rows never sent are not in the journal; every sent one is settled.
    assert counts == {**dict.fromkeys(JournalState, 0), JournalState.CREATED: sent}
    assert [r["status"] for r in read_jsonl(out)] == ["screened"] * sent
