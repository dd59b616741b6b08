"""``idenfy-async screen``: one AML check per row of a CSV/JSONL file of people or
companies, through the bulk runner ([`create_sessions`][idenfy_async.create_sessions]), its
journal, the client's pacing and ``bulk``'s Ctrl-C rules.

A row is keyed by its ``clientId`` column (``reference`` or ``client_id`` also name it):
the clientId sent to iDenfy and the journal's key, so it must be unique in INPUT and
stable across runs. Every row is recorded ``pending`` in the journal right before its
check leaves; a re-run skips screened rows and never sends a row that may already have
been screened again (iDenfy offers no way to look a check up): it ends ``unknown``.
The journal is the account's AML journal, apart from ``bulk``'s (a clientId may be both
onboarded and screened).

Columns (CSV headers or JSONL keys): ``clientId``; ``userType`` (``PERSON``, the default,
or ``COMPANY``); ``fullName`` / ``companyName``; ``nationality`` / ``country``;
``dateOfBirth``, ``sex``; and optionally ``datasets``, ``threshold``, ``sanctionBodies``,
``pepTiers``, ``dateOfBirthMatching`` (lists as ``A|B``). OUT gets one line per row: row,
clientId, userType, status (``screened``, ``skipped``, ``failed``, ``unknown``,
``conflict``), checkId, overallStatus, hits, adverseMedia, error, fake. No names.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from .. import AsyncIdenfy, IdenfyError, Session, SessionRequest
from .._constants import DEFAULT_CONCURRENCY
from .._wire.aml import build_create_check
from ..bulk import BulkProgress, BulkResult, BulkState, create_sessions
from ..bulk.journal import Journal, JournalError, SqliteJournal
from ..models import AmlCheck, AmlCheckRequest
from ._common import _InputError, _plural, _say
from ._exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS, exit_codes_text
from ._ledger import is_url, journal_dir
from ._output import _open_out
from ._screen_rows import _check_rows, _read, _Row
from ._target import _announce, _check_paths, _credentials, _rate_limit, _target

__all__ = ["OUTPUT_FIELDS", "screen_parser"]

OUTPUT_FIELDS: Final = (
    "row",
    "clientId",
    "userType",
    "status",
    "checkId",
    "overallStatus",
    "hits",
    "adverseMedia",
    "error",
    "fake",
)
#: Never expires in the journal's sense: a check has no link to go stale.
_NEVER: Final = 100 * 365 * 86_400
_UNKNOWN_TEXT: Final = (
    "may have been screened (the request may have reached iDenfy); iDenfy offers no way to"
    " look a check up, so it is not sent again: see the AML checks in iDenfy's dashboard,"
    " or pass --retry-unknown to pay for it again"
)


# --------------------------------------------------------------------------- the run


class _Screener:
    """The bulk runner's creator: its create step screens the row (a billable check)."""

    def __init__(self, client: AsyncIdenfy, checks: Mapping[str, AmlCheckRequest]) -> None:
        self._client = client
        self._checks = checks
        #: clientId -> the check made by this run
        self.made: dict[str, AmlCheck] = {}

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        check = await self._client.aml._create_check_in_bulk(
            self._checks[request.client_id], retry_unknown=retry_unknown, before_send=before_send
        )
        self.made[request.client_id] = check
        # The journal keeps the check's id where a session's scanRef goes.
        return Session(
            auth_token="", scan_ref=check.id, client_id=request.client_id, expiry_time=_NEVER
        )


def _runner_request(row: _Row) -> SessionRequest:
    # The runner's row: keyed by clientId; the check's body rides in ``extra`` only so
    # that the journal's fingerprint (a hash) tells a changed row from the same one.
    assert row.request is not None
    assert row.client_id is not None
    body = json.loads(build_create_check(row.request).body)
    return SessionRequest(row.client_id, extra={"amlCheck": body})


class _Out:
    """OUT: one line per row (JSONL or CSV), created owner-only."""

    def __init__(self, path: str, *, fake: bool) -> None:
        self.fake = fake
        self._stream = open(_open_out(path), "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._stream) if Path(path).suffix.lower() == ".csv" else None
        if self._csv is not None:
            self._csv.writerow(OUTPUT_FIELDS)

    def write(self, values: Mapping[str, Any]) -> None:
        record = {name: values.get(name) for name in OUTPUT_FIELDS}
        record["fake"] = self.fake
        if self._csv is not None:
            self._csv.writerow(["" if v is None else v for v in record.values()])
        else:
            self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


@attrs.define
class _Counts:
    screened: int = 0
    flagged: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    conflict: int = 0


def _line(row: _Row, result: BulkResult, made: AmlCheck | None) -> dict[str, Any]:
    values: dict[str, Any] = {"row": row.line, "clientId": row.client_id}
    values["userType"] = row.request.user_type if row.request is not None else None
    state = result.state
    if state is BulkState.CREATED and made is not None:
        values.update(
            status="screened",
            checkId=made.id,
            overallStatus=str(made.overall_status) if made.overall_status else None,
            hits=made.hit_count,
            adverseMedia=made.adverse_media_count,
        )
    elif state is BulkState.SKIPPED:
        values.update(status="skipped", checkId=result.session.scan_ref if result.session else None)
        values["error"] = "screened by an earlier run (see that run's OUT for its result)"
    elif state is BulkState.UNKNOWN:
        values.update(status="unknown", error=_UNKNOWN_TEXT)
    elif state is BulkState.CONFLICT:
        values.update(
            status="conflict",
            error="an earlier run screened this clientId with other data; nothing was sent",
        )
    else:
        values["status"] = "failed"
        error = result.error
        kind = result.error_kind
        values["error"] = str(error) if error is not None else (kind.name if kind else None)
    return values


async def _consume(
    args: argparse.Namespace,
    rows: list[_Row],
    screener: _Screener,
    journal: Journal | None,
    out: _Out,
    counts: _Counts,
    stop: asyncio.Event,
) -> None:
    announced = False

    def announce(progress: BulkProgress) -> None:
        # Once, when the stop took effect: the runner's own counts (the rows that passed
        # before_send leave; no other will), as bulk says them.
        nonlocal announced
        if progress.stopped and not announced:
            announced = True
            _say(
                f"idenfy-async: stopping: no new check is sent; {progress.in_flight} in flight"
                f" to finish ({progress.sent} sent by this run)"
            )

    results = create_sessions(
        screener,
        (_runner_request(row) for row in rows),
        concurrency=args.concurrency,
        journal=journal,
        retry_unknown=args.retry_unknown,
        retry_failed=args.retry_failed,
        on_progress=announce,
        stop=stop,
        reconcile=False,  # a check cannot be looked up: undecided rows stay unknown
    )
    async with contextlib.aclosing(results) as each:
        async for result in each:
            row = rows[result.index]
            made = screener.made.get(row.client_id or "")
            values = _line(row, result, made)
            out.write(values)
            status = values["status"]
            setattr(counts, status, getattr(counts, status) + 1)
            if status == "screened" and made is not None and made.flagged:
                counts.flagged += 1


def _journal_for(args: argparse.Namespace, name: str, scope: str) -> SqliteJournal | None:
    """--journal FILE, else the account's AML journal in the journal directory; None
    with --no-journal."""
    if args.no_journal:
        return None
    if args.journal:
        if is_url(args.journal):
            raise _InputError("screen keeps its journal in an SQLite file: give --journal FILE")
        path = Path(args.journal)
    else:
        directory = journal_dir()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _InputError(f"cannot create the journal directory {directory}: {exc}") from exc
        stem = name.removesuffix(".journal.sqlite")
        path = directory / f"{stem}.aml.journal.sqlite"
    return SqliteJournal(path, scope=f"{scope}/aml")


async def _screen_command(args: argparse.Namespace) -> int:
    """``idenfy-async screen``: read and check INPUT, set up, run; the exit code."""
    rows = await asyncio.to_thread(_read, args.input, args)
    _check_rows(args.input, rows)
    credentials = _credentials(args)
    target = _target(args, credentials, _rate_limit(args, credentials is None))
    try:
        journal = _journal_for(args, target.journal_name, target.scope)
        _check_paths(args.input, args.out, str(journal.path) if journal is not None else None)
    except _InputError:
        await target.client.aclose()
        raise
    _announce(args, target)
    counts = _Counts()
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(target.client)
        if journal is not None:
            try:
                await stack.enter_async_context(journal)
            except JournalError as exc:
                raise _InputError(str(exc)) from exc
        out = _Out(args.out, fake=target.fake)
        stack.callback(out.close)
        interrupted = await _run(args, rows, target.client, journal, out, counts)
    _summary(counts, len(rows), interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_ROWS if counts.failed or counts.unknown or counts.conflict else EXIT_OK


async def _run(
    args: argparse.Namespace,
    rows: list[_Row],
    client: AsyncIdenfy,
    journal: Journal | None,
    out: _Out,
    counts: _Counts,
) -> bool:
    """Screen the rows; Ctrl-C (SIGINT/SIGTERM) as in ``bulk``. True when interrupted."""
    stop = asyncio.Event()
    checks = {r.client_id: r.request for r in rows if r.client_id and r.request}
    screener = _Screener(client, checks)
    task = asyncio.create_task(_consume(args, rows, screener, journal, out, counts, stop))
    loop = asyncio.get_running_loop()
    installed = []

    def interrupt() -> None:
        if stop.is_set():
            _say("idenfy-async: stopping at once: rows in flight stay unknown")
            task.cancel()
            return
        stop.set()  # the runner says what is still in flight (_consume's announce)

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, interrupt)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    except IdenfyError as exc:  # Redis failed, say: stop, as bulk does
        _say(f"idenfy-async: error: {exc}. The run stopped; re-run the same command.")
        stop.set()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    return stop.is_set()


def _summary(counts: _Counts, total: int, interrupted: bool) -> None:
    parts = [f"{counts.screened} screened ({counts.flagged} flagged)"]
    for name in ("skipped", "failed", "unknown", "conflict"):
        value = getattr(counts, name)
        if value:
            parts.append(f"{value} {name}")
    head = "Interrupted: " if interrupted else ""
    _say(f"{head}{total} {_plural(total)}: {', '.join(parts)}.")
    if counts.unknown:
        _say(
            f"idenfy-async: the {counts.unknown} unknown {_plural(counts.unknown)} {_UNKNOWN_TEXT}."
        )


# --------------------------------------------------------------------------- grammar


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def screen_parser(commands: Any) -> None:
    """``idenfy-async screen INPUT --out OUT``."""
    screen = commands.add_parser(
        "screen",
        help="AML-screen every person or company of a CSV or JSONL file (one check a row)",
        description="Create one AML check per row of INPUT (people or companies); write each"
        " result (overall status, hit counts) to OUT. Re-running resumes from the journal:"
        " no row is paid for twice.",
        epilog="Rows are keyed by their clientId column (or reference). Ctrl-C: no new check"
        " is sent, checks in flight finish; a second Ctrl-C stops at once (their rows are"
        f" then unknown, never sent again unless --retry-unknown). {exit_codes_text()}",
    )
    screen.add_argument("input", metavar="INPUT", help=".csv or .jsonl file of subjects")
    screen.add_argument("--out", metavar="OUT", help="results file, .jsonl or .csv (required)")
    screen.add_argument(
        "--journal",
        metavar="FILE",
        help="the journal (SQLite FILE; default: the account's AML journal in the journal"
        " directory, apart from bulk's)",
    )
    screen.add_argument("--no-journal", action="store_true", help="keep no journal")
    screen.add_argument(
        "--datasets",
        metavar="A|B",
        help="datasets of rows that name none (default: every dataset of the row's kind)",
    )
    screen.add_argument(
        "--threshold", type=int, metavar="N", help="lowest match score of rows that name none"
    )
    screen.add_argument(
        "--concurrency",
        type=_positive,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"checks in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    screen.add_argument("--rate", metavar="SPEC", help='pace requests, e.g. "3/s" or "none"')
    screen.add_argument("--burst", type=_positive, default=1, metavar="N", help=argparse.SUPPRESS)
    screen.add_argument(
        "--redis-url",
        metavar="URL",
        default=os.environ.get("IDENFY_REDIS_URL") or None,
        help="share the account's pacing with other processes (ignored with --fake)",
    )
    screen.add_argument(
        "--retry-unknown",
        action="store_true",
        help="send rows that may already have been screened again (may pay twice)",
    )
    screen.add_argument(
        "--retry-failed", action="store_true", help="send rows that failed for good again"
    )
    screen.add_argument(
        "--fake", action="store_true", help="use the built-in FakeIdenfy (nothing is sent)"
    )
    screen.set_defaults(run=lambda args: asyncio.run(_screen_command(args)))
