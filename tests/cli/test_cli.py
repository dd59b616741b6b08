"""The idenfy-async command: bulk from CSV/JSONL, dry runs, exit codes, crashes, fake-server."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import errno
import io
import json
import os
import random
import re
import signal
import stat
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idenfy_async import AsyncIdenfy, SessionRequest, __version__, cli
from idenfy_async.bulk.journal import JournalEntry, JournalState, SqliteJournal
from idenfy_async.cli import (
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS,
    EXIT_USAGE,
    main,
)
from idenfy_async.cli import _rows as cli_rows
from idenfy_async.cli._args import _parser
from idenfy_async.cli._bulk import _open_rows_notes
from idenfy_async.cli._common import _InputError
from idenfy_async.cli._exits import FAKE_EXIT_CODES, exit_codes_text
from idenfy_async.cli._ledger import FAKE_JOURNAL_NAME, account_journal_name
from idenfy_async.cli._output import OUTPUT_FIELDS, _Output
from idenfy_async.cli._progress import _Progress, _progress_for, _RichProgress, _Tally
from idenfy_async.cli._rows import _COLUMNS, CSV_DELIMITERS, _Input, _Row
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "IDENFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # The accounts' journals of this test: never the user's own state directory.
    monkeypatch.setenv("IDENFY_JOURNAL_DIR", str(tmp_path / "journals"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def write_csv(path: Path, header: list[str], *rows: list[Any]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_tokens(results: list[dict[str, Any]]) -> str:
    """OUT as text minus scanRef and redirectUrl, whose random tokens may spell a name."""
    hidden = ("scanRef", "redirectUrl")
    return json.dumps([{k: v for k, v in r.items() if k not in hidden} for r in results])


# --------------------------------------------------------------------------- the main job


def test_the_readme_job_runs_on_the_fake_without_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "customers.csv"
    source.write_bytes((EXAMPLES / "customers.csv").read_bytes())
    out = tmp_path / "results.jsonl"
    code, err = run(capsys, "bulk", str(source), "--out", str(out))
    assert code == EXIT_OK
    assert "no IDENFY_API_KEY/IDENFY_API_SECRET set: using the built-in FakeIdenfy" in err
    assert "25 created" in err
    results = read_jsonl(out)
    assert len(results) == 25
    assert sorted(r["row"] for r in results) == list(range(2, 27))
    for result in results:
        assert list(result) == list(OUTPUT_FIELDS)
        assert result["status"] == "created"
        assert result["scanRef"]
        assert result["redirectUrl"].startswith("https://")
        assert result["error"] is None
    # Never personal data in OUT: no name or birth date of the input.
    text = without_tokens(results)
    with source.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for column in ("firstName", "lastName", "dateOfBirth"):
                assert row[column] not in text
    # The fake's journal is its own file, the account's: nothing beside INPUT.
    assert sorted(p.name for p in (tmp_path / "journals").iterdir()) == [FAKE_JOURNAL_NAME]
    assert not list(tmp_path.glob("*.sqlite"))

    # Run twice, it resumes as the README says: nothing is created again.
    code, err = run(capsys, "bulk", str(source), "--out", str(out))
    assert code == EXIT_OK
    assert "25 rows; 0 created, 25 skipped (created earlier)" in err
    assert f"Journal: {tmp_path / 'journals' / FAKE_JOURNAL_NAME} (the account's" in err
    assert [r["status"] for r in read_jsonl(out)] == ["skipped"] * 25


def test_a_fake_rehearsal_does_not_block_the_real_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The fake's journal and the real one are apart: a rehearsal, then the real thing."""
    source = write_csv(tmp_path / "in.csv", ["clientId"], ["k-1"], ["k-2"])
    out = tmp_path / "out.jsonl"
    assert run(capsys, "bulk", str(source), "--out", str(out), "--fake")[0] == EXIT_OK

    async def real() -> tuple[int, str]:
        async with FakeIdenfyServer() as base_url:
            env = cli_env(base_url)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "idenfy_async",
                "bulk",
                str(source),
                "--out",
                str(out),
                "--rate",
                "none",
                env=env,
                stderr=asyncio.subprocess.PIPE,
            )
            return await finish(process)

    code, err = asyncio.run(real())
    assert code == EXIT_OK, err
    assert "2 created" in err
    names = sorted(p.name for p in (tmp_path / "journals").iterdir())
    assert len(names) == 2
    assert FAKE_JOURNAL_NAME in names


def test_csv_out_jsonl_in_and_snake_case_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"clientId": "a", "firstName": "Ann", "expiry_time": 600}\n'
        "\n"
        '{"client_id": "b", "country": ["US", "GB"], "locale": null}\n'
        "not json\n"
        "[1, 2]\n"
        '{"clientId": "c", "favouriteColour": "blue"}\n'
    )
    out = tmp_path / "out.csv"
    code, err = run(capsys, "bulk", str(source), "--out", str(out), "--fake")
    assert code == EXIT_ROWS
    assert "--fake: using the built-in FakeIdenfy" in err
    with out.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == OUTPUT_FIELDS
        rows = {r["row"]: r for r in reader}
    assert rows["1"]["status"] == rows["3"]["status"] == "created"
    assert rows["4"]["error"] == "RequestValidationError: (row): is not valid JSON"
    assert rows["5"]["error"] == "RequestValidationError: (row): must be a JSON object"
    assert rows["6"]["clientId"] == "c"
    assert rows["6"]["error"] == "RequestValidationError: favouriteColour: is not a known parameter"
    assert "2" not in rows  # a blank line is no row


def test_cells_become_typed_fields(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "in.csv",
        ["clientId", "check_aml", "expiryTime", "country", "documents", "additionalData", "sex"],
        ["a", "yes", "3600", "lt", "PASSPORT|ID_CARD", '{"crm": 7}', "F"],
        ["b", "FALSE", "", '["US", "GB"]', '["PASSPORT"]', "", ""],
        ["c", "", " 60 ", "US|gb", "", "", ""],
    )
    requests = [row.request for row in _Input(str(source)).rows()]
    assert requests == [
        SessionRequest(
            "a",
            check_aml=True,
            expiry_time=3600,
            country="LT",
            documents=["PASSPORT", "ID_CARD"],
            additional_data={"crm": 7},
            sex="F",
        ),
        SessionRequest("b", check_aml=False, country=["US", "GB"], documents=["PASSPORT"]),
        SessionRequest("c", expiry_time=60, country=["US", "GB"]),
    ]


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "in.csv",
        ["clientId", "checkAml", "expiryTime", "additionalData", "firstName", "extra"],
        ["a", "maybe", "1h", '{"a":', "R2D2", ""],
    )
    [row] = list(_Input(str(source)).rows())
    assert row.request is None
    assert row.line == 2
    assert [str(p) for p in row.problems] == [
        "checkAml: must be true or false",
        "expiryTime: must be an integer",
        "additionalData: must be a JSON object",
        "firstName: must not contain digits",
    ]


BAD_ROWS = [
    ["ok-1", "Ann", "1990-01-01", "US", "3600"],
    ["", "Bob", "1990-01-01", "US", ""],  # row 3: no clientId
    ["ok-2", "C3PO", "1990-02-30", "US", ""],  # row 4: two problems
    ["ok-3", "Dan", "", "XX", "soon"],  # row 5: two problems
    ["ok-4", "Eve", "", "", ""],
]


def test_dry_run_reports_every_bad_row_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "in.csv",
        ["clientId", "firstName", "dateOfBirth", "country", "expiryTime"],
        *BAD_ROWS,
    )
    code, err = run(capsys, "bulk", str(source), "--dry-run")
    assert code == EXIT_ROWS
    assert err.splitlines() == [
        f"{source} row 3: clientId: is required",
        f"{source} row 4 (clientId ok-2): firstName: must not contain digits",
        f"{source} row 4 (clientId ok-2): dateOfBirth: must be a real calendar date (YYYY-MM-DD)",
        f"{source} row 5 (clientId ok-3): expiryTime: must be an integer",
        f"{source} row 5 (clientId ok-3): country: must be an ISO 3166-1 alpha-2 country code",
        "3 of 5 rows have problems (5 in all); nothing was sent.",
    ]
    assert list(tmp_path.iterdir()) == [source]  # no OUT, no journal


@pytest.mark.parametrize(
    ("rows", "message", "code"),
    [
        ([["k-1"]], "The 1 row is valid; nothing was sent.", EXIT_OK),
        ([["k-1"], ["k-2"]], "All 2 rows are valid; nothing was sent.", EXIT_OK),
        ([], "has no rows; nothing was sent.", EXIT_OK),
        ([[""]], "1 of 1 row has problems (1 in all); nothing was sent.", EXIT_ROWS),
        ([[""], ["k-2"]], "1 of 2 rows has problems (1 in all); nothing was sent.", EXIT_ROWS),
        (
            [[""], ["k" * 101], ["k-3"]],
            "2 of 3 rows have problems (2 in all); nothing was sent.",
            EXIT_ROWS,
        ),
    ],
)
def test_dry_run_counts_read_right(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    rows: list[list[str]],
    message: str,
    code: int,
) -> None:
    source = write_csv(tmp_path / "in.csv", ["clientId", "firstName"], *([*r, "Ann"] for r in rows))
    got, err = run(capsys, "bulk", str(source), "--dry-run")
    assert got == code
    assert err.splitlines()[-1].endswith(message)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"idenfy-async {__version__}\n"


def test_bulk_help_tells_when_out_is_required(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside "--dry-run"
    with pytest.raises(SystemExit):
        main(["bulk", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "[--out OUT]" in text  # optional in the usage line, and the help agrees:
    assert "required unless --dry-run" in text
    assert "(required)" not in text


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_exit_code_table_has_every_code_once() -> None:
    # Hand-written: the codes scripts around the command rely on.
    assert (EXIT_OK, EXIT_ROWS, EXIT_USAGE, EXIT_INTERRUPTED) == (0, 1, 2, 130)
    assert list(EXIT_CODES) == [0, 1, 2, 130]
    assert set(FAKE_EXIT_CODES) == {EXIT_OK, EXIT_ROWS, EXIT_USAGE}


@pytest.mark.parametrize(
    ("argv", "codes"),
    [([], EXIT_CODES), (["bulk"], EXIT_CODES), (["fake"], FAKE_EXIT_CODES)],
    ids=["idenfy-async", "bulk", "fake"],
)
def test_help_lists_the_exit_codes_from_the_table(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    codes: dict[int, str],
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = _words(capsys.readouterr().out)
    assert _words(exit_codes_text(codes)) in text
    for code, meaning in codes.items():
        assert f"{code} {_words(meaning)}" in text


@pytest.mark.parametrize("doc", ["docs/bulk.md"])
def test_the_docs_describe_the_exit_codes_as_the_table_does(doc: str) -> None:
    text = _words((EXAMPLES.parent / doc).read_text(encoding="utf-8"))
    assert _words(exit_codes_text()) in text


def test_the_module_docstring_lists_the_exit_codes_from_the_table() -> None:
    text = _words(cli.__doc__ or "")
    for code, meaning in EXIT_CODES.items():
        assert f"* {code}: {_words(meaning)}" in text


def test_dry_run_of_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "bulk", str(EXAMPLES / "customers.csv"), "--dry-run")
    assert code == EXIT_OK
    assert err == "All 25 rows are valid; nothing was sent.\n"


def test_bad_rows_fail_alone_in_a_live_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "in.csv",
        ["clientId", "firstName", "dateOfBirth", "country", "expiryTime"],
        *BAD_ROWS,
    )
    out = tmp_path / "out.jsonl"
    code, err = run(capsys, "bulk", str(source), "--out", str(out))
    assert code == EXIT_ROWS
    assert "2 created, 0 skipped (created earlier), 3 failed (3 invalid), 0 unknown" in err
    status = {r["row"]: (r["status"], r["error"]) for r in read_jsonl(out)}
    assert status[2] == status[6] == ("created", None)
    assert status[3] == ("failed", "RequestValidationError: clientId: is required")
    assert status[4][0] == status[5][0] == "failed"
    assert "C3PO" not in without_tokens(read_jsonl(out))


def test_rate_paces_a_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    argv = ["bulk", str(EXAMPLES / "customers.csv"), "--fake", "--out", str(out)]
    code, _ = run(capsys, *argv, "--rate", "1000/s", "--burst", "5")
    assert code == EXIT_OK
    assert len(read_jsonl(out)) == 25


def test_an_explicit_journal_resumes_and_skips_created_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = EXAMPLES / "customers.csv"
    journal = tmp_path / "run.sqlite"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    args = ["bulk", str(source), "--fake", "--journal", str(journal)]
    assert run(capsys, *args, "--out", str(first))[0] == EXIT_OK
    code, err = run(capsys, *args, "--out", str(second))
    assert code == EXIT_OK
    assert "0 created, 25 skipped (created earlier)" in err
    assert f"Journal: {journal}" in err
    made = {r["clientId"]: r for r in read_jsonl(first)}
    for result in read_jsonl(second):
        assert result["status"] == "skipped"
        assert result["scanRef"] == made[result["clientId"]]["scanRef"]
        assert result["redirectUrl"] == made[result["clientId"]]["redirectUrl"]


def test_a_journal_of_other_credentials_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = EXAMPLES / "customers.csv"
    journal = tmp_path / "run.sqlite"
    out = str(tmp_path / "out.jsonl")
    assert (
        run(capsys, "bulk", str(source), "--fake", "--journal", str(journal), "--out", out)[0] == 0
    )
    monkeypatch.setenv("IDENFY_API_KEY", "live-key")
    monkeypatch.setenv("IDENFY_API_SECRET", "live-secret")
    monkeypatch.setenv("IDENFY_BASE_URL", "http://127.0.0.1:9")  # never reached
    code, err = run(capsys, "bulk", str(source), "--journal", str(journal), "--out", out)
    assert code == EXIT_USAGE
    assert "other credentials or another server" in err


def test_bulk_reaches_a_named_http_server_only_with_the_opt_in(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """IDENFY_ALLOW_INSECURE_HTTP=1 lets bulk use a fake in docker-compose; never by default."""
    source = EXAMPLES / "customers.csv"
    journal = tmp_path / "run.sqlite"
    out = str(tmp_path / "out.jsonl")
    assert (
        run(capsys, "bulk", str(source), "--fake", "--journal", str(journal), "--out", out)[0] == 0
    )
    monkeypatch.setenv("IDENFY_API_KEY", "test-key")
    monkeypatch.setenv("IDENFY_API_SECRET", "test-secret")
    monkeypatch.setenv("IDENFY_BASE_URL", "http://idenfy-fake:8080")
    argv = ("bulk", str(source), "--journal", str(journal), "--out", out)
    code, err = run(capsys, *argv)
    assert code == EXIT_USAGE
    assert "IDENFY_ALLOW_INSECURE_HTTP=1" in err
    monkeypatch.setenv("IDENFY_ALLOW_INSECURE_HTTP", "1")
    with caplog.at_level("WARNING", logger="idenfy_async"):
        code, err = run(capsys, *argv)
    # The client was built (the fake rehearsal's journal is what stops it: nothing sent).
    assert code == EXIT_USAGE
    assert "other credentials or another server" in err
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "plain http:// to http://idenfy-fake:8080" in warning
    assert "test-secret" not in warning


@pytest.mark.parametrize(
    ("files", "argv", "message"),
    [
        ({"in.csv": "clientId,fristName\na,Ann\n"}, [], "unknown column(s) 'fristName'"),
        ({"in.csv": "firstName\nAnn\n"}, [], "a clientId column is required"),
        ({"in.csv": "clientId,client_id\na,a\n"}, [], "column(s) given twice: clientId"),
        ({"in.txt": "clientId\na\n"}, [], "INPUT must end in .csv, .jsonl or .ndjson"),
        ({}, [], "in.csv: no such file"),
        ({"in.csv": "clientId\na\n"}, ["--out", "out.xlsx"], "OUT must end in .jsonl"),
        ({"in.csv": "clientId\na\n"}, ["--out", "in.csv"], "three different files"),
        ({"in.csv": "clientId\na\n"}, ["--out", "o.jsonl", "--journal", "o.jsonl"], "three"),
        ({"in.csv": "clientId\na\n"}, ["--rate", "lots"], "--rate: rate limit 'lots'"),
        ({"in.csv": "clientId\na\n"}, ["--no-journal", "--journal", "j"], "exclude each other"),
        ({"in.csv": "clientId\na\n"}, ["--out", ""], "--out OUT is required"),
    ],
)
def test_input_and_usage_errors_exit_2_and_send_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    files: dict[str, str],
    argv: list[str],
    message: str,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    source = next(iter(files), "in.csv")
    argv = argv if "--out" in argv else [*argv, "--out", "out.jsonl"]
    code, err = run(capsys, "bulk", source, "--fake", *argv)
    assert code == EXIT_USAGE
    assert err.startswith("idenfy-async: error: ")
    assert message in err
    assert not (tmp_path / "out.jsonl").exists()


def test_half_set_credentials_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENFY_API_KEY", "live-key")
    code, err = run(capsys, "bulk", str(EXAMPLES / "customers.csv"), "--out", "o.jsonl")
    assert code == EXIT_USAGE
    assert "IDENFY_API_SECRET is not set" in err


@pytest.mark.parametrize("argv", [[], ["bulk"], ["bulk", "x.csv", "--concurrency", "0"]])
def test_argparse_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == EXIT_USAGE


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_redraws_one_line_on_a_terminal() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = _Progress(stream, 100, clock=clock, tty=True)
    tally = _Tally(created=40, skipped=5, failed=3, unknown=2)
    progress.update(tally)
    assert stream.getvalue() == ""  # throttled
    clock.now = 10.0
    progress.update(tally)
    line = "50/100 rows (50%) | 40 created, 5 skipped, 3 failed, 2 unknown | 5.0 rows/s | ETA 10s"
    assert stream.getvalue() == "\r" + line + "\x1b[K"
    progress.finish()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_progress_prints_plain_lines_now_and_then() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = _Progress(stream, 10_000, clock=clock, tty=False)
    tally = _Tally(created=30)
    clock.now = 5.0
    progress.update(tally)
    assert stream.getvalue() == ""
    clock.now = 12.0
    progress.update(tally)
    assert stream.getvalue() == (
        "30/10000 rows (0%) | 30 created, 0 skipped, 0 failed, 0 unknown | 2.5 rows/s | ETA 1h06m\n"
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_uses_rich_on_a_terminal_when_installed() -> None:
    pytest.importorskip("rich")
    assert isinstance(_progress_for(Terminal(), 10), _RichProgress)
    # Into a file or a pipe (a CI log): plain periodic lines, never redrawn escapes.
    plain = _progress_for(io.StringIO(), 10)
    assert isinstance(plain, _Progress)
    assert not plain.tty


def test_progress_falls_back_to_plain_lines_without_rich(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # import fails: not installed
    progress = _progress_for(Terminal(), 10)
    assert isinstance(progress, _Progress)
    assert progress.tty


def test_rich_progress_shows_counts_rate_and_time_left() -> None:
    rich_console = pytest.importorskip("rich.console")
    out, clock = io.StringIO(), Clock()
    console = rich_console.Console(file=out, force_terminal=True, width=80, color_system="standard")
    progress = _RichProgress(100, console=console, clock=clock, auto_refresh=False)
    progress.start()
    clock.now = 10.0
    progress.update(_Tally(created=40, skipped=5, failed=3, unknown=2))
    progress.refresh()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # without colours
    line = text.replace("\r", "\n").strip().splitlines()[-1]
    assert "50/100" in line
    assert "50%" in line
    assert "40 created 5 skipped 3 failed 2 unknown" in line
    assert "5.0/s" in line
    assert "\x1b[32m40 created" in out.getvalue()  # created in green
    assert len(line) <= 80
    progress.finish()


# --------------------------------------------------------------------------- real processes


def customers(path: Path, n: int) -> list[str]:
    ids = [f"k-{i:04d}" for i in range(n)]
    write_csv(path, ["clientId", "firstName"], *([cid, "Ann"] for cid in ids))
    return ids


def account_journal(tmp_path: Path, base_url: str, key: str = "test-key") -> Path:
    """The account's journal that runs with ``key`` on ``base_url`` use by default."""
    return tmp_path / "journals" / account_journal_name(base_url, key)


def cli_env(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "IDENFY_API_KEY": "test-key",
        "IDENFY_API_SECRET": "test-secret",
        "IDENFY_BASE_URL": base_url,
    }


async def bulk_process(
    base_url: str,
    *argv: str,
    stderr: int | None = asyncio.subprocess.PIPE,
    rate: str = "none",
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "idenfy_async",
        "bulk",
        *argv,
        "--concurrency",
        "8",
        "--rate",
        rate,
        env=cli_env(base_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, err.decode()


@POSIX_ONLY
async def test_sigkill_mid_run_then_reruns_create_every_client_id_exactly_once(
    tmp_path: Path,
) -> None:
    """kill -9 mid-run. Rows in flight were committed ``pending`` before they were sent;
    iDenfy may or may not have created them. The default re-run must not send them
    again and reports them as unknown; the operator records those the dashboard shows
    as created, and ``--retry-unknown`` then sends only the rest."""
    ids = customers(tmp_path / "in.csv", 400)
    argv = [str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.jsonl")]
    server = FakeIdenfyServer(latency=0.02)  # answers held 20 ms after creating
    async with server as base_url:
        journal_path = account_journal(tmp_path, base_url)  # the default journal
        first = await bulk_process(base_url, *argv, stderr=asyncio.subprocess.DEVNULL)
        await asyncio.wait_for(server.wait_for_sessions(60), timeout=60)
        first.kill()
        assert await first.wait() == -signal.SIGKILL

        on_server = Counter(s.client_id for s in server.fake.sessions)
        async with SqliteJournal(journal_path) as journal:  # the kill freed its lock
            entries = {cid: await journal.get(cid) for cid in ids}
        assert max(on_server.values()) == 1
        # Nothing reached iDenfy without being in the journal first.
        assert set(on_server) <= {cid for cid, e in entries.items() if e is not None}
        pending = {cid for cid, e in entries.items() if e and e.state is JournalState.PENDING}
        assert pending  # some rows were in flight at the kill
        for cid, e in entries.items():
            if e is not None and e.state is JournalState.CREATED:
                assert [s.scan_ref for s in server.fake.sessions_for(cid)] == [e.scan_ref]

        # Without reconciliation (test_sigkill_at_random_instants_then_a_reconciling_rerun
        # shows it with): the operator's manual path.
        code, err = await finish(await bulk_process(base_url, *argv, "--no-reconcile"))
        assert code == EXIT_ROWS
        assert f"{len(pending)} unknown." in err
        results = {r["clientId"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
        assert {cid for cid, r in results.items() if r["status"] == "unknown"} == pending
        assert all(r["error"].startswith("interrupted") for r in results.values() if r["error"])
        on_server = Counter(s.client_id for s in server.fake.sessions)
        assert max(on_server.values()) == 1
        assert set(on_server) >= set(ids) - pending

        # Reconcile: the pending rows iDenfy did create are recorded as created ...
        async with SqliteJournal(journal_path) as journal:
            for cid in pending:
                for session in server.fake.sessions_for(cid):
                    await journal.put(
                        JournalEntry(
                            client_id=cid,
                            state=JournalState.CREATED,
                            scan_ref=session.scan_ref,
                            auth_token=session.auth_token,
                            attempts=1,
                        )
                    )
        # ... and --retry-unknown sends only those iDenfy never saw.
        requests_before = server.fake.requests
        never_seen = {cid for cid in pending if not server.fake.sessions_for(cid)}
        code, err = await finish(
            await bulk_process(base_url, *argv, "--retry-unknown", "--no-reconcile")
        )
        assert code == EXIT_OK, err
        assert server.fake.requests - requests_before == len(never_seen)
        assert Counter(s.client_id for s in server.fake.sessions) == dict.fromkeys(ids, 1)


STOP_MESSAGE = re.compile(
    r"stopping: no new request is sent; (\d+) requests? in flight to finish"
    r" \((\d+) sent by this run\)"
)


@POSIX_ONLY
async def test_sigint_sends_nothing_new_and_lets_requests_in_flight_finish(
    tmp_path: Path,
) -> None:
    """Ctrl-C with rows waiting for the rate limiter: none of them is sent. iDenfy
    creates exactly the sessions whose request had left, as the message says."""
    customers(tmp_path / "in.csv", 200)
    journal_path = tmp_path / "j.sqlite"
    out = tmp_path / "o.jsonl"
    argv = [str(tmp_path / "in.csv"), "--out", str(out), "--journal", str(journal_path)]
    server = FakeIdenfyServer(latency=0.1)  # answers held: requests on the wire at the signal
    async with server as base_url:
        # 8 rows in flight, paced 20/s: most of them wait for a token at any moment.
        process = await bulk_process(base_url, *argv, rate="20/s")
        await asyncio.wait_for(server.wait_for_sessions(5), timeout=30)
        process.send_signal(signal.SIGINT)
        code, err = await finish(process)
    assert code == EXIT_INTERRUPTED, err
    match = STOP_MESSAGE.search(err)
    assert match is not None, err
    in_flight, sent = int(match[1]), int(match[2])
    assert in_flight <= sent
    assert len(server.fake.sessions) == server.fake.requests == sent
    assert "Stopped in" in err
    async with SqliteJournal(journal_path) as journal:
        counts = await journal.counts()
    # Rows never sent are not in the journal; every sent one is settled.
    assert counts == {**dict.fromkeys(JournalState, 0), JournalState.CREATED: sent}
    assert [r["status"] for r in read_jsonl(out)] == ["created"] * sent


async def fake_server(*argv: str) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    """Start ``idenfy-async fake-server --port 0 ARGV``; its readiness line, decoded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "idenfy_async",
        "fake-server",
        "--port",
        "0",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    return process, json.loads(line)


@POSIX_ONLY
async def test_the_fake_server_command(tmp_path: Path) -> None:
    process, ready = await fake_server("--seed", "1")
    # The readiness line: the port it chose, its URL and its pid.
    assert ready == {
        "event": "ready",
        "url": f"http://127.0.0.1:{ready['port']}",
        "port": ready["port"],
        "pid": process.pid,
    }
    assert ready["port"] > 0
    async with AsyncIdenfy("test-key", "test-secret", base_url=ready["url"]) as client:
        session = await client.create_session(client_id="user-1")
    assert session.client_id == "user-1"
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == EXIT_OK
    assert "FakeIdenfy stopped (interrupted): 1 session created, 1 request." in err.decode()


@POSIX_ONLY
async def test_the_fake_server_listens_on_the_host_given() -> None:
    process, ready = await fake_server("--host", "127.0.0.1", "--exit-after", "5")
    assert ready["url"] == f"http://127.0.0.1:{ready['port']}"
    async with AsyncIdenfy("test-key", "test-secret", base_url=ready["url"]) as client:
        session = await client.create_session(client_id="user-1")
    assert session.redirect_url is not None
    assert session.redirect_url.startswith(ready["url"] + "/")
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == EXIT_OK


@POSIX_ONLY
async def test_the_fake_server_on_every_interface_is_reached_by_a_name_with_the_opt_in(
    tmp_path: Path,
) -> None:
    """docker-compose's case: `fake-server --host 0.0.0.0`, and a client that reaches it
    by a host name (not loopback by name): refused without the insecure-http opt-in; with
    it, a session is created, its link and its files point at that name, and
    download_files writes the files."""
    import socket

    from idenfy_async import ConfigurationError
    from idenfy_async.testing import FakeControl

    name = socket.gethostname()
    try:
        socket.getaddrinfo(name, None)
    except OSError:
        pytest.skip(f"this machine's host name {name!r} does not resolve")
    process, ready = await fake_server("--host", "0.0.0.0", "--exit-after", "20")
    url = f"http://{name}:{ready['port']}"
    try:
        with pytest.raises(ConfigurationError, match="IDENFY_ALLOW_INSECURE_HTTP"):
            AsyncIdenfy("test-key", "test-secret", base_url=url)
        async with AsyncIdenfy(
            "test-key", "test-secret", base_url=url, allow_insecure_http=True
        ) as client:
            session = await client.create_session(client_id="user-1")
            assert session.redirect_url is not None
            assert session.redirect_url.startswith(url + "/")
            control = f"http://127.0.0.1:{ready['port']}"
            async with FakeControl(control) as admin:
                await admin.complete(session.scan_ref, "APPROVED")
            files = await client.get_files(session.scan_ref)
            links = [link for link in files.values() if link is not None]
            assert links
            assert all(link.startswith(url + "/") for link in links)
            written = await client.download_files(files, tmp_path)
        assert written
        assert all(path.stat().st_size > 0 for path in written.values())
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), timeout=30)


def test_the_fake_server_says_when_it_cannot_listen_on_the_host(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: binding fails at once.
    code, err = run(capsys, "fake-server", "--host", "192.0.2.1", "--port", "0")
    assert code == EXIT_USAGE
    assert "cannot listen on 192.0.2.1 port 0" in err


@pytest.mark.parametrize(
    ("host", "url", "expected"),
    [
        pytest.param(
            "127.0.0.1",
            "http://127.0.0.1:8080",
            ["export IDENFY_BASE_URL=http://127.0.0.1:8080 IDENFY_API_KEY=test-key"],
            id="loopback",
        ),
        pytest.param(
            "0.0.0.0",
            "http://0.0.0.0:8080",
            [
                "listening on http://0.0.0.0:8080 (every interface, port 8080)",
                "export IDENFY_BASE_URL=http://127.0.0.1:8080 IDENFY_API_KEY",
                "export IDENFY_BASE_URL=http://NAME:8080 IDENFY_ALLOW_INSECURE_HTTP=1",
            ],
            id="every-interface",
        ),
        pytest.param(
            "::",
            "http://[::]:8080",
            ["export IDENFY_BASE_URL=http://NAME:8080 IDENFY_ALLOW_INSECURE_HTTP=1"],
            id="every-interface-ipv6",
        ),
        pytest.param(
            "10.1.2.3",
            "http://10.1.2.3:8080",
            ["export IDENFY_BASE_URL=http://10.1.2.3:8080 IDENFY_ALLOW_INSECURE_HTTP=1"],
            id="one-other-address",
        ),
    ],
)
def test_the_fake_server_says_how_to_reach_it(host: str, url: str, expected: list[str]) -> None:
    from idenfy_async.cli._fake import _how_to_use

    text = _how_to_use(host, url, 8080)
    for part in expected:
        assert part in text
    assert ("IDENFY_ALLOW_INSECURE_HTTP" in text) == (host != "127.0.0.1")


@POSIX_ONLY
async def test_the_fake_server_exits_after_the_time_given() -> None:
    process, _ = await fake_server("--exit-after", "0.3")
    _, err = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == EXIT_OK
    assert "FakeIdenfy stopped (--exit-after 0.3): 0 sessions created, 0 requests." in err.decode()


@POSIX_ONLY
async def test_the_fake_server_exits_with_its_parent(tmp_path: Path) -> None:
    """A harness that dies (kill -9) must not leave its fake-server listening forever."""
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import subprocess, sys, time\n"
        "server = subprocess.Popen([sys.executable, '-m', 'idenfy_async', 'fake-server',"
        " '--port', '0', '--exit-with-parent'], stdout=subprocess.PIPE)\n"
        "sys.stdout.write(server.stdout.readline().decode())\n"
        "sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    harness = await asyncio.create_subprocess_exec(
        sys.executable, str(parent), stdout=asyncio.subprocess.PIPE
    )
    assert harness.stdout is not None
    ready = json.loads(await asyncio.wait_for(harness.stdout.readline(), timeout=30))
    harness.kill()
    await harness.wait()
    # The orphan notices within a poll or two, closes its port and exits.
    for _ in range(100):
        try:
            os.kill(ready["pid"], 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)  # real time passes in another process: poll it
    else:
        os.kill(ready["pid"], signal.SIGKILL)
        pytest.fail("fake-server outlived its parent")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", ready["port"])


# --------------------------------------------------------------------------- hostile input files

SPREADSHEET = "clientId,firstName\r\nk-1,Zoë\r\nk-2,Renée\r\n"


@pytest.mark.parametrize(
    ("data", "argv"),
    [
        (SPREADSHEET.encode("utf-8"), []),
        (codecs.BOM_UTF8 + SPREADSHEET.encode("utf-8"), []),
        (codecs.BOM_UTF8 + SPREADSHEET.encode("utf-8"), ["--encoding", "UTF8"]),
        (codecs.BOM_UTF16_LE + SPREADSHEET.encode("utf-16-le"), []),
        (codecs.BOM_UTF16_BE + SPREADSHEET.encode("utf-16-be"), []),
        (SPREADSHEET.encode("cp1252"), ["--encoding", "cp1252"]),
        (SPREADSHEET.replace(",", ";").encode("utf-8"), []),  # Excel in many locales
        (SPREADSHEET.replace(",", "\t").encode("utf-16"), []),  # Excel "Unicode text"
    ],
)
def test_spreadsheet_exports_are_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, argv: list[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    encoding = argv[1] if argv else None
    requests = [row.request for row in _Input(str(source), encoding).rows()]
    assert requests == [
        SessionRequest("k-1", first_name="Zoë"),
        SessionRequest("k-2", first_name="Renée"),
    ]
    code, err = run(capsys, "bulk", str(source), *argv, "--dry-run")
    assert (code, err) == (EXIT_OK, "All 2 rows are valid; nothing was sent.\n")


TOO_LONG = "x" * (csv.field_size_limit() + 1)


@pytest.mark.parametrize(
    ("data", "argv", "message"),
    [
        (
            SPREADSHEET.encode("cp1252"),
            [],
            "in.csv: line 2: byte 0xEB is not UTF-8 text (a Windows or Excel export?);"
            " save INPUT as UTF-8 (or UTF-16), or name its encoding, e.g. --encoding cp1252",
        ),
        (
            f"clientId,firstName\na,Ann\nb,{TOO_LONG}\n".encode(),
            [],
            "in.csv line 3: a cell is longer than 131,072 characters (an unclosed quote?)",
        ),
        (b"", [], "in.csv: is empty; the first line must name the columns"),
        (b"\r\n  \n", [], "in.csv: is empty; the first line must name the columns"),
        (b"\nclientId\na\n", [], "in.csv: the first line is blank; it must name the columns"),
        (
            b"clientId;fristName\na;Ann\n",
            [],
            "in.csv: unknown column(s) 'fristName'; columns are token parameters named like"
            " the API (clientId) or like the Python fields (client_id), separated by commas,"
            " semicolons or tabs; to read past columns that are not, name them:"
            " --ignore-columns fristName",
        ),
        (
            b'clientId,"firstName\na,Ann\nb,Bob"\n',
            [],
            "in.csv: the first line has an unclosed quote",
        ),
        (
            "clientId,firstName\nk-1,Zoë\n".encode("latin-1") + b"k-2,\x81\n",
            ["--encoding", "cp1252"],  # 0x81 is a hole in cp1252
            "in.csv: line 3: byte 0x81 is not cp1252 text; check --encoding",
        ),
        (b"clientId\na\n", ["--encoding", "nope"], "--encoding: unknown encoding 'nope'"),
        (b"clientId\na\n", ["--encoding", "rot13"], "--encoding: 'rot13' is not a text encoding"),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_unreadable_input_is_one_line_exit_2_and_nothing_sent(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data: bytes,
    argv: list[str],
    message: str,
    dry_run: bool,
) -> None:
    (tmp_path / "in.csv").write_bytes(data)
    mode = ["--dry-run"] if dry_run else ["--journal", "j.sqlite", "--out", "out.jsonl"]
    code, err = run(capsys, "bulk", "in.csv", "--fake", *argv, *mode)
    assert code == EXIT_USAGE
    assert err.splitlines() == [f"idenfy-async: error: {message}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no OUT, no journal


def test_a_directory_as_input_is_named_as_such(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "in.csv").mkdir()
    code, err = run(capsys, "bulk", "in.csv", "--fake", "--out", "out.jsonl")
    assert (code, err) == (EXIT_USAGE, "idenfy-async: error: in.csv: is a directory, not a file\n")


@pytest.mark.parametrize("argv", [[], ["--encoding", "utf-16-le"]])
def test_a_utf16_jsonl_file_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    source = tmp_path / "in.jsonl"
    text = '{"clientId": "k-1", "firstName": "Zoë"}\r\n{"clientId": "k-2"}\r\n'
    source.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert [row.request for row in _Input(str(source), argv[1] if argv else None).rows()] == [
        SessionRequest("k-1", first_name="Zoë"),
        SessionRequest("k-2"),
    ]
    code, err = run(capsys, "bulk", str(source), *argv, "--dry-run")
    assert (code, err) == (EXIT_OK, "All 2 rows are valid; nothing was sent.\n")


def test_an_overlong_jsonl_line_fails_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_rows, "MAX_LINE_CHARS", 60)  # read where INPUT is read
    source = tmp_path / "in.jsonl"
    long_row = json.dumps({"clientId": "b", "firstName": "A" * 100})
    source.write_text(f'{{"clientId": "a"}}\n{long_row}\n{{"clientId": "c"}}\n')
    code, err = run(capsys, "bulk", str(source), "--fake", "--out", "out.jsonl")
    assert code == EXIT_ROWS, err
    status = {r["row"]: (r["status"], r["error"]) for r in read_jsonl(tmp_path / "out.jsonl")}
    assert status == {
        1: ("created", None),
        2: ("failed", "RequestValidationError: (row): is longer than 60 characters"),
        3: ("created", None),
    }


def test_one_unencodable_row_fails_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A lone surrogate (valid JSON, not encodable) in one row of 20: that row fails,
    whether the model refuses it or the body cannot be encoded; never pending."""
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"clientId": f"k-{i}", "firstName": "Ann"}) for i in range(20)]
    lines[7] = '{"clientId": "k-7", "firstName": "An\\ud800n"}'
    source.write_text("\n".join(lines) + "\n")
    journal_path = tmp_path / "j.sqlite"
    argv = ["--fake", "--journal", str(journal_path), "--out", "out.csv"]
    code, err = run(capsys, "bulk", str(source), *argv)
    assert code == EXIT_ROWS, err
    assert "19 created, 0 skipped (created earlier), 1 failed" in err
    with (tmp_path / "out.csv").open(newline="") as f:
        results = {r["clientId"]: r for r in csv.DictReader(f)}
    assert results["k-7"]["status"] == "failed"
    assert "Ann" not in results["k-7"]["error"]
    assert journal_path.exists()
    counts = asyncio.run(journal_counts(journal_path))
    assert counts[JournalState.PENDING] == counts[JournalState.UNKNOWN] == 0
    assert counts[JournalState.CREATED] == 19


async def journal_counts(path: Path) -> dict[JournalState, int]:
    async with SqliteJournal(path) as journal:
        return await journal.counts()


# --------------------------------------------------------------------------- OUT


@POSIX_ONLY
@pytest.mark.parametrize("existing", [False, True])
def test_out_is_readable_by_its_owner_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, existing: bool
) -> None:
    """OUT holds authTokens (in redirectUrl), like the journal: created 0600 as the
    journal. An existing OUT is not ours: it keeps its mode, and a note says so."""
    out = tmp_path / "results.jsonl"
    if existing:
        out.write_text("old results\n")
        out.chmod(0o644)
    code, err = run(capsys, "bulk", str(EXAMPLES / "customers.csv"), "--fake", "--out", str(out))
    assert code == EXIT_OK
    assert stat.S_IMODE(out.stat().st_mode) == (0o644 if existing else 0o600)
    assert ("readable by other users (mode 0644)" in err) is existing
    assert len(read_jsonl(out)) == 25


@POSIX_ONLY
@pytest.mark.parametrize("target", ["file", "nothing"])
@pytest.mark.parametrize("link", ["out", "journal", "journal-wal"])
async def test_a_symlinked_out_or_journal_is_refused_before_sending(
    tmp_path: Path, link: str, target: str
) -> None:
    """OUT or the journal as a link to another user's file (or to where one would be
    created) is refused in one line, exit 2, nothing sent: the file is neither
    truncated, filled with authTokens nor chmod-ed."""
    customers(tmp_path / "in.csv", 3)
    victim = tmp_path / "victim.txt"
    if target == "file":
        victim.write_text("someone else's\n")
        victim.chmod(0o644)
    out, journal = tmp_path / "out.jsonl", tmp_path / "j.sqlite"
    linked = {"out": out, "journal": journal, "journal-wal": tmp_path / "j.sqlite-wal"}[link]
    linked.symlink_to(victim)
    argv = [str(tmp_path / "in.csv"), "--out", str(out), "--journal", str(journal)]
    server = FakeIdenfyServer()
    async with server as base_url:
        code, err = await finish(await bulk_process(base_url, *argv))
    assert code == EXIT_USAGE, err
    assert server.fake.requests == 0
    [line] = err.splitlines()
    assert line == (
        f"idenfy-async: error: {linked} is a symbolic link: give "
        + ("OUT's" if link == "out" else "the journal's")
        + " real path (a link is followed only to a device"
        + (" such as /dev/stdout)" if link == "out" else ")")
    )
    if target == "file":
        assert victim.read_text() == "someone else's\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    else:
        assert not victim.exists()
    assert not out.exists() or out.is_symlink()


@POSIX_ONLY
async def test_out_linked_to_stdout_is_written_there(tmp_path: Path) -> None:
    """A link to a device is followed: results to a pipe through /dev/stdout."""
    customers(tmp_path / "in.csv", 3)
    (tmp_path / "out.jsonl").symlink_to("/dev/stdout")
    argv = [str(tmp_path / "in.csv"), "--out", "out.jsonl", "--journal", "j.sqlite"]
    async with FakeIdenfyServer() as base_url:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "idenfy_async",
            "bulk",
            *argv,
            cwd=tmp_path,
            env=cli_env(base_url),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == EXIT_OK, err
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert [r["status"] for r in lines] == ["created"] * 3


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_for_out_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "out.jsonl").symlink_to("/dev/full")
    journal_path = tmp_path / "j.sqlite"
    code, err = run(
        capsys,
        "bulk",
        str(EXAMPLES / "customers.csv"),
        "--fake",
        "--journal",
        str(journal_path),
        "--out",
        "out.jsonl",
    )
    assert code == EXIT_ROWS
    [error] = [line for line in err.splitlines() if "error" in line]
    assert error.startswith("idenfy-async: error: cannot write out.jsonl: No space left on device.")
    assert f"the journal {journal_path} has every row's outcome" in error
    counts = asyncio.run(journal_counts(journal_path))
    assert counts[JournalState.CREATED] == 25  # every outcome recorded: a re-run rewrites OUT


def test_input_unreadable_mid_run_stops_the_run_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INPUT replaced by something unreadable after it was checked: the rows read so
    far finish and are recorded, nothing more is sent, one line says why (exit 1)."""
    real_rows = _Input.rows
    reads = []

    def rows(self: _Input) -> Generator[_Row, None, None]:
        reads.append(1)  # the first read (the survey before sending) goes through
        for i, row in enumerate(real_rows(self)):
            if i == 5 and len(reads) > 1:
                raise _InputError(f"{self.path}: line 7: byte 0x93 is not UTF-8 text")
            yield row

    monkeypatch.setattr(_Input, "rows", rows)
    customers(tmp_path / "in.csv", 50)
    journal_path = tmp_path / "j.sqlite"
    argv = ["--fake", "--journal", str(journal_path), "--out", "out.jsonl"]
    code, err = run(capsys, "bulk", str(tmp_path / "in.csv"), *argv)
    assert code == EXIT_ROWS
    [error] = [line for line in err.splitlines() if line.startswith("idenfy-async: error")]
    assert "line 7: byte 0x93 is not UTF-8 text. The run stopped there" in error
    counts = asyncio.run(journal_counts(journal_path))
    created = counts[JournalState.CREATED]
    assert counts == {**dict.fromkeys(JournalState, 0), JournalState.CREATED: created}
    assert created <= 5  # rows read but not sent yet are left for a re-run
    assert [r["status"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["created"] * created


class FillsUp(io.StringIO):
    """An OUT stream whose disk fills up after ``room`` writes."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, text: str) -> int:
        if self.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return super().write(text)


def test_out_failing_mid_run_stops_sending_and_keeps_the_journal_consistent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_init = _Output.__init__

    def init(self: _Output, path: str, *, fake: bool | None) -> None:
        real_init(self, path, fake=fake)
        self._stream.close()
        self._stream = FillsUp(room=3)

    monkeypatch.setattr(_Output, "__init__", init)
    customers(tmp_path / "in.csv", 200)
    journal_path = tmp_path / "j.sqlite"
    argv = ["--fake", "--journal", str(journal_path), "--out", "out.jsonl"]
    code, err = run(capsys, "bulk", str(tmp_path / "in.csv"), *argv, "--concurrency", "2")
    assert code == EXIT_ROWS
    assert "idenfy-async: error: cannot write out.jsonl: No space left on device." in err
    counts = asyncio.run(journal_counts(journal_path))
    assert counts[JournalState.PENDING] == counts[JournalState.UNKNOWN] == 0
    assert 3 <= counts[JournalState.CREATED] <= 3 + 2 + 1  # then nothing new was sent


# --------------------------------------------------------------------------- random input files

COLUMN_NAMES = sorted(_COLUMNS)
ODD_TEXT = st.text(
    st.characters() | st.sampled_from(["\ud800", "\udfff", "\x00", '"', ",", ";", "\n", "|"]),
    max_size=12,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD_TEXT, inner, max_size=3),
    max_leaves=6,
)
JSONL_ROWS = st.lists(
    st.dictionaries(st.sampled_from(COLUMN_NAMES) | ODD_TEXT, JSON_VALUES, max_size=5).map(
        lambda d: json.dumps(d) + "\n"
    )
    | ODD_TEXT,  # a line that is not a JSON object, or not JSON
    max_size=6,
).map(lambda lines: "".join(lines).encode("utf-8", "surrogatepass"))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(COLUMN_NAMES) | ODD_TEXT, min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(ODD_TEXT, max_size=6), max_size=5))
    text = io.StringIO()
    csv.writer(text, delimiter=draw(st.sampled_from(CSV_DELIMITERS))).writerows([header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    data = text.getvalue().encode(encoding, "surrogatepass" if "utf" in encoding else "replace")
    cut = draw(st.integers(0, len(data)))  # sometimes truncated mid-character
    return data[:cut] if draw(st.booleans()) else data


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.binary(max_size=300) | JSONL_ROWS | csv_files(),
    suffix=st.sampled_from([".csv", ".jsonl"]),
    live=st.booleans(),
)
def test_any_input_file_ends_in_a_documented_exit_code(
    data: bytes, suffix: str, live: bool
) -> None:
    """Whatever INPUT holds: no traceback, no untyped exception, a documented exit code."""
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / f"in{suffix}"
        source.write_bytes(data)
        out = Path(directory) / "out.jsonl"
        mode = ["--fake", "--out", str(out)] if live else ["--dry-run"]
        with contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(["bulk", str(source), *mode])
    assert code in (EXIT_OK, EXIT_ROWS, EXIT_USAGE), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == EXIT_USAGE:
        assert err.getvalue().count("\n") == 1  # one line


# --------------------------------------------------------------------------- reconciliation


@POSIX_ONLY
async def test_sigkill_at_random_instants_then_a_reconciling_rerun_creates_each_client_id_once(
    tmp_path: Path,
) -> None:
    """kill -9 at seeded random instants, three times in a row (the later kills may hit a
    run while it reconciles), then the same command once more. Rows in flight at a kill
    are looked up in the fake's listing (which lags 0.1 s, inside the 0.5 s settle
    window): those it created are recorded as found, the others are sent. No duplicate,
    and no row left unknown."""
    rng = random.Random(9)
    ids = customers(tmp_path / "in.csv", 200)
    argv = [str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.jsonl")]
    argv += ["--settle-window", "0.5"]
    server = FakeIdenfyServer(FakeIdenfy(listing_delay=0.1), latency=0.02)
    open_rows = 0
    async with server as base_url:
        journal_path = account_journal(tmp_path, base_url)
        for _ in range(3):
            run_ = await bulk_process(base_url, *argv, stderr=asyncio.subprocess.DEVNULL)
            target = len(server.fake.sessions) + rng.randint(1, 40)
            await asyncio.wait_for(server.wait_for_sessions(target), timeout=60)
            await asyncio.sleep(rng.uniform(0, 0.02))  # any phase of a request or a commit
            run_.kill()
            assert await run_.wait() == -signal.SIGKILL
            async with SqliteJournal(journal_path) as journal:
                counts = await journal.counts()
            open_rows += counts[JournalState.PENDING]
            assert max(Counter(s.client_id for s in server.fake.sessions).values()) == 1
        code, err = await finish(await bulk_process(base_url, *argv))

    sessions = {s.client_id: s for s in server.fake.sessions}
    assert Counter(s.client_id for s in server.fake.sessions) == dict.fromkeys(ids, 1)
    results = {r["clientId"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    states = Counter(r["status"] for r in results.values())
    assert states["unknown"] == 0, err
    assert 0 < states["found"] <= open_rows
    for cid, result in results.items():
        assert result["scanRef"] == sessions[cid].scan_ref
        if result["status"] == "found":
            assert result["redirectUrl"] is None
            assert "authToken cannot be recovered" in result["error"]
            assert sessions[cid].auth_token not in json.dumps(result)
    async with SqliteJournal(journal_path) as journal:
        after = await journal.counts()
    assert after[JournalState.FOUND] == states["found"]
    assert after[JournalState.CREATED] == len(ids) - states["found"]
    assert code == EXIT_ROWS  # found rows need attention: their links were lost
    assert f"{states['found']} found." in err
    assert "their authTokens cannot be recovered" in err


async def test_retry_unknown_warns_how_many_rows_may_be_duplicates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Reconciliation settles what it can (here: a pending row the fake never saw is sent
    as any other row); --retry-unknown sends the rest anyway and counts them."""
    source = tmp_path / "in.csv"
    customers(source, 5)
    journal_path = tmp_path / "j.sqlite"
    long_ago = time.time() - 3600
    entries = [
        JournalEntry(client_id="k-0000", state=JournalState.UNKNOWN, attempts=1),
        JournalEntry(client_id="k-0001", state=JournalState.PENDING, attempts=1),
        JournalEntry(
            client_id="k-0002", state=JournalState.PENDING, attempts=1, pending_at=long_ago
        ),
        JournalEntry(client_id="k-0003", state=JournalState.CREATED, scan_ref="s", attempts=1),
    ]
    async with SqliteJournal(journal_path, scope="fake") as journal:
        for entry in entries:
            await journal.put(entry)
    argv = ["bulk", str(source), "--fake", "--journal", str(journal_path)]

    # No pending time recorded for the first two: never provably absent.
    code, err = await asyncio.to_thread(
        run, capsys, *argv, "--out", str(tmp_path / "a.jsonl"), "--retry-unknown"
    )
    assert code == EXIT_OK
    assert "the journal holds 3 rows that may already have a session; each is looked up" in err
    assert "--retry-unknown: those still undecided are sent again anyway" in err
    assert "--retry-unknown sent 2 rows again that may already have had a session" in err
    assert "up to 2 duplicate sessions" in err

    async with SqliteJournal(journal_path, scope="fake") as journal:
        for entry in entries:
            await journal.put(entry)
    code, err = await asyncio.to_thread(
        run,
        capsys,
        *argv,
        "--out",
        str(tmp_path / "b.jsonl"),
        "--retry-unknown",
        "--no-reconcile",
    )
    assert "holds 3 rows that may already have a session; --retry-unknown sends them again" in err
    assert "--retry-unknown sent 3 rows again" in err

    # Without --retry-unknown the undecided rows stay unknown, and OUT says why.
    async with SqliteJournal(journal_path, scope="fake") as journal:
        for entry in entries:
            await journal.put(entry)
    code, err = await asyncio.to_thread(run, capsys, *argv, "--out", str(tmp_path / "c.jsonl"))
    assert code == EXIT_ROWS
    assert "may already have had a session" not in err
    assert "re-runs ask iDenfy again and do not send them again unless --retry-unknown" in err
    results = {r["clientId"]: r for r in read_jsonl(tmp_path / "c.jsonl")}
    assert [results[f"k-000{i}"]["status"] for i in range(5)] == [
        "unknown",
        "unknown",
        "created",  # not found after the settle window: sent like any other row
        "skipped",
        "skipped",  # created by the first run
    ]
    for cid in ("k-0000", "k-0001"):
        assert results[cid]["error"] == "still unknown: when the request was sent is not recorded"


@pytest.mark.parametrize(
    "argv",
    [
        ["bulk", "x.csv", "--settle-window", "-1"],
        ["bulk", "x.csv", "--settle-window", "soon"],
        ["bulk", "x.csv", "--settle-window", "inf"],
        ["fake-server", "--listing-delay", "-0.5"],
    ],
)
def test_bad_reconciliation_seconds_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == EXIT_USAGE


@pytest.mark.parametrize(
    ("pending_ago", "flags", "notes"),
    [
        ([], [], []),
        (
            [None, 500.0],
            [],
            ["holds 2 rows that may already have a session; each is looked up"],
        ),
        (
            [None, 500.0, 10.0, 100.0],
            [],
            [
                "holds 4 rows that may already have a session; each is looked up",
                "2 of them were sent less than 120 s ago: they wait up to 1m50s first",
            ],
        ),
        (
            [5.0],
            ["--settle-window", "30", "--retry-unknown"],
            [
                "holds 1 row that may already have a session; each is looked up",
                "1 of them was sent less than 30 s ago: they wait up to 25s first",
                "--retry-unknown: those still undecided are sent again anyway",
            ],
        ),
        ([5.0], ["--no-reconcile"], []),
        (
            [5.0, 1.0],
            ["--no-reconcile", "--retry-unknown"],
            ["holds 2 rows that may already have a session; --retry-unknown sends them again"],
        ),
    ],
)
def test_a_run_says_first_what_it_will_do_about_open_rows(
    pending_ago: list[float | None], flags: list[str], notes: list[str]
) -> None:
    now = 1_000_000.0
    entries = [
        JournalEntry(
            client_id=f"k-{i}",
            state=JournalState.UNKNOWN,
            pending_at=None if ago is None else now - ago,
        )
        for i, ago in enumerate(pending_ago)
    ]
    args = _parser().parse_args(["bulk", "in.csv", *flags])
    said = _open_rows_notes(entries, args, now=now)
    assert len(said) == len(notes)
    for line, note in zip(said, notes, strict=True):
        assert line.startswith("idenfy-async: ")
        assert note in line
