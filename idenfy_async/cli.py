"""The ``idenfy-async`` command: bulk onboarding from a file, and a local fake iDenfy.

::

    idenfy-async bulk customers.csv --out results.jsonl      # one session per row
    idenfy-async bulk customers.csv --dry-run                # validate only, send nothing
    idenfy-async fake-server --port 8080 --fail-rate 0.1     # FakeIdenfy over HTTP
    idenfy-async fake complete SCANREF APPROVED              # drive a running fake-server
    idenfy-async fake webhook SCANREF                        # ... have it send the webhook

``bulk`` reads INPUT (``.csv``, or ``.jsonl``/``.ndjson``: one JSON object a line),
columns named like the API (``clientId``) or like the Python fields
(``client_id``), and writes one line per row to OUT (``.jsonl`` or ``.csv``): row,
clientId, status, scanRef, redirectUrl, error. Never personal data. Row numbers are
line numbers in INPUT (the first CSV data row is row 2, as in a spreadsheet). In
CSV cells, empty means not set; booleans read true/false, yes/no or 1/0; lists
(``country``, ``documents``, ...) read ``US|GB`` or a JSON list; objects
(``additionalData``, ...) read JSON. Requests are paced by ``--rate`` (default
10000/hour, iDenfy's default account limit; no pacing against the fake).

INPUT is read as spreadsheets save it: UTF-8 with or without a byte-order mark, or
UTF-16 with one (``--encoding`` names any other, e.g. ``cp1252``); CSV separated by
commas, semicolons or tabs, told apart by the header line (its names are known, so
this is exact, not a guess). INPUT is read through once before anything is sent:
a file that cannot be read to the end (not decodable, a cell over csv's 131,072
character limit, ...) is refused with one line and exit 2. A JSONL line over
1,000,000 characters fails alone, as any row the model refuses. OUT is created
readable by its owner only, like the journal: redirect URLs carry authTokens.

Every row is recorded in a journal (SQLite) before it is sent, by default
``INPUT.journal.sqlite`` next to INPUT, so the journal follows the data whatever
``--out`` is. Re-running the same command resumes: rows already created are
skipped, rate-limited and other retryable failures are sent again, and rows that
may already have a session (in flight at a crash, or "unknown") are first
reconciled: their clientId is looked up in iDenfy's listing. A session found there
is recorded ("found": scanRef and status in OUT; its authToken is lost and cannot
be recovered), a row iDenfy never saw is sent, and a row still undecided stays
"unknown" and is never sent again unless ``--retry-unknown`` (which counts the rows
it may have paid twice for). A row sent less than ``--settle-window`` seconds ago
waits that long first: iDenfy does not say how soon a new session is listed.
``--no-reconcile`` skips the lookup. A journal remembers the account and server it
was used with and refuses another.

Ctrl-C (or SIGTERM) stops sending at once: rows still waiting for their turn are
dropped (not journaled; a re-run sends them), the requests already in flight
finish and are recorded; a message says how many are in flight. A second Ctrl-C
stops at once: rows in flight then stay pending, reported unknown by a re-run.

Several runs, or a run next to a web service, on one account: give each the same
``--redis-url`` (default ``IDENFY_REDIS_URL``). ``--rate`` is then the account's
rate, shared by every process (interactive calls of the service go first), a
rate-limit answer pauses them all, and each clientId gets one session whichever
run sends it (the others record the same session). If Redis fails the run stops
with one line and exit 1, sending nothing more; re-run the same command once
Redis answers.

Credentials come from ``IDENFY_API_KEY`` and ``IDENFY_API_SECRET`` (and
``IDENFY_BASE_URL``). With ``--fake``, or with neither variable set, rows go to
an in-process FakeIdenfy (nothing is sent, nothing is spent) and the journal is
``INPUT.fake.journal.sqlite``: re-runs resume as they do for real, and a later
real run starts its own journal.

``fake-server`` serves FakeIdenfy on 127.0.0.1 until interrupted, ``--exit-after``
seconds pass, or (``--exit-with-parent``) the process that started it is gone. Its
first line on stdout is a JSON readiness line, ``{"event": "ready", "url": ...,
"port": ..., "pid": ...}`` (``--port 0`` picks a free port). ``fake complete``,
``fake webhook``, ``fake sessions`` and ``fake reset`` drive a running one through
its ``/__fake__/`` control endpoints (``--server``, default ``IDENFY_BASE_URL``).

Exit codes:

* 0: every row was created, or had been by an earlier run (``--dry-run``: all valid)
* 1: some rows failed, are unknown, or were found without their authToken, see OUT
  (``--dry-run``: some rows are invalid),
  or the run stopped early because the journal or OUT could not be written (disk
  full) or INPUT changed into something unreadable while it ran
* 2: usage or input error: bad arguments, unreadable INPUT (missing, a directory,
  undecodable, a cell too long, empty), unknown column, journal in use or written
  for other credentials; nothing was sent
* 130: interrupted (Ctrl-C or SIGTERM): nothing new was sent after it; requests in
  flight finished unless interrupted twice
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import csv
import hashlib
import json
import os
import re
import signal
import stat
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

from idenfy_async import (
    AsyncIdenfy,
    CoordinationError,
    FieldProblem,
    IdenfyError,
    RateLimiter,
    RequestValidationError,
    SessionRequest,
    __version__,
)
from idenfy_async._constants import (
    DEFAULT_ACCOUNT_RATE,
    DEFAULT_CONCURRENCY,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_BASE_URL,
    ENV_REDIS_URL,
    ENV_SIGNING_KEY,
)
from idenfy_async.bulk import BulkProgress, BulkResult, BulkState
from idenfy_async.journal import (
    ErrorKind,
    Journal,
    JournalEntry,
    JournalError,
    MemoryJournal,
    SqliteJournal,
)
from idenfy_async.models import wire_name
from idenfy_async.reconcile import DEFAULT_SETTLE_WINDOW, ReconcilePolicy
from idenfy_async.testing import (
    DEFAULT_SIGNING_KEY,
    FakeControl,
    FakeControlError,
    FakeIdenfy,
    FakeIdenfyServer,
)

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_ROWS", "EXIT_USAGE", "main"]

EXIT_OK: Final = 0
EXIT_ROWS: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

#: iDenfy's default account limit; pass --rate to match yours, or --rate none.
DEFAULT_RATE: Final = DEFAULT_ACCOUNT_RATE
JOURNAL_SUFFIX: Final = ".journal.sqlite"
#: The journal of runs against the in-process fake: apart from the real one, so that
#: a rehearsal resumes like a real run yet never blocks (or feeds) the real journal.
FAKE_JOURNAL_SUFFIX: Final = ".fake.journal.sqlite"
#: Where ``fake ...`` looks for a fake-server when neither --server nor IDENFY_BASE_URL says.
DEFAULT_FAKE_SERVER: Final = "http://127.0.0.1:8080"
#: How often fake-server --exit-with-parent checks that its parent is still there.
PARENT_POLL_SECONDS: Final = 0.2
#: Seconds between progress lines: redrawn in place on a terminal, appended otherwise.
PROGRESS_EVERY_TTY: Final = 0.2
PROGRESS_EVERY_PLAIN: Final = 10.0
FAKE_KEY, FAKE_SECRET = "fake-key", "fake-secret"
#: Found rows named one by one in the summary (all of them are in OUT).
FOUND_LISTED: Final = 20
OUTPUT_FIELDS: Final = ("row", "clientId", "status", "scanRef", "redirectUrl", "error")
#: The longest JSONL line read as a row: a longer one fails alone (CSV cells are bounded
#: by csv's own field limit, 131,072 characters).
MAX_LINE_CHARS: Final = 1_000_000
_NO_RATE: Final = frozenset({"none", "off", "0"})
_TRUE: Final = frozenset({"true", "t", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0"})
_INTERRUPTED_TEXT: Final = (
    "interrupted: an earlier run stopped while this request was in flight; a session may exist"
)


class _InputError(Exception):
    """A usage or input problem: reported in one line, exit 2, nothing sent."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except _InputError as exc:
        _say(f"idenfy-async: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:  # where the loop could not take over SIGINT (Windows)
        _say("\nidenfy-async: interrupted")
        return EXIT_INTERRUPTED
    return result


def _say(text: str) -> None:
    """One message for the person running the command (stderr: OUT may be stdout one day)."""
    # A lone surrogate from INPUT (a JSON "\ud800" in a clientId) is shown escaped.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idenfy-async",
        description="Bulk iDenfy verification sessions from a file, and a local fake iDenfy.",
        epilog="Exit codes: 0 all created; 1 some rows failed or unknown, or OUT or the"
        " journal could not be written; 2 usage or input error, nothing sent; 130"
        " interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"idenfy-async {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    bulk = commands.add_parser(
        "bulk",
        help="create one verification session per row of a CSV or JSONL file",
        description="Create one verification session per row of INPUT; write results to OUT."
        " Re-running the same command resumes from the journal without paying twice.",
        epilog="INPUT: UTF-8 (with or without a byte-order mark) or UTF-16 with one, else"
        " give --encoding; CSV separated by commas, semicolons or tabs (read from the"
        " header). Ctrl-C: no new request is sent, rows not sent yet are left for a"
        " re-run, requests in flight finish; a second Ctrl-C stops at once (their rows"
        " are then unknown). Exit codes: 0 every row created (now or earlier); 1 some"
        " rows failed or unknown (see OUT), or OUT or the journal could not be written;"
        " 2 usage or input error, nothing sent; 130 interrupted.",
    )
    bulk.add_argument("input", metavar="INPUT", help=".csv or .jsonl file of session requests")
    bulk.add_argument(
        "--out",
        metavar="OUT",
        help="results file, .jsonl or .csv; required unless --dry-run. Created owner-only:"
        " it holds tokens",
    )
    bulk.add_argument(
        "--journal",
        metavar="FILE",
        help=f"SQLite journal (default: INPUT{JOURNAL_SUFFIX}; INPUT{FAKE_JOURNAL_SUFFIX}"
        " against the built-in fake)",
    )
    bulk.add_argument(
        "--no-journal",
        action="store_true",
        help="keep no journal (a re-run then sends every row again)",
    )
    bulk.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    bulk.add_argument(
        "--rate",
        metavar="SPEC",
        help=f'pace requests, e.g. "{DEFAULT_RATE}", "3/s", "none"'
        f" (default {DEFAULT_RATE}; none with --fake)",
    )
    bulk.add_argument(
        "--burst",
        type=_positive_int,
        default=1,
        metavar="N",
        help="requests --rate lets through at once (default 1: a steady pace; not used with"
        " Redis: the account's shared quota paces every process)",
    )
    bulk.add_argument(
        "--redis-url",
        metavar="URL",
        default=os.environ.get(ENV_REDIS_URL) or None,
        help=f"share the account's --rate, 429 pauses and one session per clientId with"
        f" every process using this Redis (default ${ENV_REDIS_URL}; ignored with --fake)",
    )
    bulk.add_argument(
        "--encoding",
        metavar="CODEC",
        help="INPUT's text encoding when it is not UTF-8 or UTF-16 with a byte-order mark,"
        " e.g. cp1252 (default: detected)",
    )
    bulk.add_argument(
        "--dry-run", action="store_true", help="validate every row, report problems, send nothing"
    )
    bulk.add_argument(
        "--retry-unknown",
        action="store_true",
        help="send again rows that may already have a session and that reconciliation"
        " could not settle (can cost a credit each)",
    )
    bulk.add_argument(
        "--no-reconcile",
        action="store_true",
        help="do not look up rows that may already have a session in iDenfy's listing",
    )
    bulk.add_argument(
        "--settle-window",
        type=_seconds,
        default=DEFAULT_SETTLE_WINDOW,
        metavar="SECONDS",
        help="how long after a request was sent its session may still be missing from"
        f" iDenfy's listing; such rows wait (default {DEFAULT_SETTLE_WINDOW:g})",
    )
    bulk.add_argument(
        "--retry-failed",
        action="store_true",
        help="send again every failed row, not only retryable ones (after fixing data)",
    )
    bulk.add_argument(
        "--fake", action="store_true", help="use the built-in FakeIdenfy (nothing is sent)"
    )
    bulk.set_defaults(run=lambda args: asyncio.run(_bulk(args)))

    fake = commands.add_parser(
        "fake-server",
        help="serve a fake iDenfy over HTTP on 127.0.0.1",
        description="Serve FakeIdenfy on http://127.0.0.1:PORT until interrupted. Point"
        " IDENFY_BASE_URL at it, with IDENFY_API_KEY=test-key IDENFY_API_SECRET=test-secret."
        ' The first line on stdout says it is ready: {"event": "ready", "url": ...,'
        ' "port": ..., "pid": ...}. Drive it with `idenfy-async fake ...` or its'
        " /__fake__/ endpoints.",
    )
    fake.add_argument("--port", type=int, default=8080, help="port (0: any free one)")
    fake.add_argument(
        "--exit-after",
        type=_seconds,
        metavar="SECONDS",
        help="stop by itself after this long (e.g. in CI, so it never outlives the job)",
    )
    fake.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started it is gone (POSIX)",
    )
    fake.add_argument(
        "--signing-key",
        metavar="KEY",
        help=f"what its webhooks are signed with (default: ${ENV_SIGNING_KEY},"
        f" else {DEFAULT_SIGNING_KEY})",
    )
    fake.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of requests failing with 503, 429, 500 or a dropped connection (0-1)",
    )
    fake.add_argument(
        "--latency", type=float, default=0.0, metavar="MS", help="ms each answer is held"
    )
    fake.add_argument(
        "--rate-limit", metavar="SPEC", help='answer 429 beyond this rate, e.g. "10/s"'
    )
    fake.add_argument(
        "--listing-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="list a new session only this long after it was created (to rehearse"
        " reconciliation; default 0)",
    )
    fake.add_argument("--seed", type=int, help="make tokens and failures reproducible")
    fake.set_defaults(run=lambda args: asyncio.run(_fake_server(args)))
    _control_parsers(commands)
    return parser


def _control_parsers(commands: Any) -> None:
    """``idenfy-async fake complete|webhook|sessions|reset``: drive a running fake-server."""
    control = commands.add_parser(
        "fake",
        help="drive a running fake-server: complete a session, send its webhook, ...",
        description="Drive a running `idenfy-async fake-server` through its /__fake__/"
        f" control endpoints. The server is --server, else ${ENV_BASE_URL}, else"
        f" {DEFAULT_FAKE_SERVER}.",
        epilog="Exit codes: 0 done (webhook: the app answered 2xx); 1 the fake refused or"
        " could not be reached, or the app answered otherwise; 2 usage error.",
    )
    actions = control.add_subparsers(title="actions", required=True, metavar="ACTION")
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--server", metavar="URL", help="the fake-server's base URL")

    complete = actions.add_parser(
        "complete",
        parents=[server],
        help="play the user's verification: the session ends with STATUS",
        description="Play the user's verification: afterwards status, data, files, the PDF"
        " and the listing report STATUS.",
    )
    complete.add_argument("scan_ref", metavar="SCANREF")
    complete.add_argument(
        "status",
        metavar="STATUS",
        nargs="?",
        default="APPROVED",
        help="APPROVED (default), DENIED, SUSPECTED, REVIEWING or EXPIRED",
    )
    complete.add_argument(
        "--fraud-tag", action="append", default=[], metavar="TAG", help="repeatable"
    )
    complete.add_argument(
        "--mismatch-tag", action="append", default=[], metavar="TAG", help="repeatable"
    )
    complete.add_argument(
        "--not-final", action="store_true", help="final: false (a manual review follows)"
    )
    complete.set_defaults(run=_run_control, run_action="complete")

    webhook = actions.add_parser(
        "webhook",
        parents=[server],
        help="have the fake POST the session's signed webhook to its callbackUrl",
    )
    webhook.add_argument("scan_ref", metavar="SCANREF")
    webhook.add_argument("--url", help="send here instead of the session's callbackUrl")
    webhook.add_argument(
        "--signing-key", metavar="KEY", help="sign with this key, not the server's"
    )
    webhook.add_argument(
        "--event-type", metavar="TYPE", help="Idenfy-Event-Type (IDENTIFICATION_AUTO_FINISHED)"
    )
    webhook.set_defaults(run=_run_control, run_action="webhook")

    sessions = actions.add_parser(
        "sessions", parents=[server], help="list the sessions the fake holds"
    )
    sessions.add_argument("--json", action="store_true", help="one JSON object a line")
    sessions.set_defaults(run=_run_control, run_action="sessions")

    reset = actions.add_parser("reset", parents=[server], help="forget every session")
    reset.set_defaults(run=_run_control, run_action="reset")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, at least 0, not {text!r}")
    return value


def _reconcile_option(args: argparse.Namespace) -> bool | ReconcilePolicy:
    """``create_sessions(reconcile=...)`` from --no-reconcile and --settle-window."""
    if args.no_reconcile:
        return False
    return ReconcilePolicy(settle_window=args.settle_window)


# --------------------------------------------------------------------------- reading rows


@attrs.frozen
class _Row:
    line: int  #: where the row starts in INPUT (1-based)
    client_id: str | None
    request: SessionRequest | None
    problems: tuple[FieldProblem, ...] = ()


_ATTRIBUTES: Final = {a.name: a for a in attrs.fields(SessionRequest)}
_COLUMNS: Final = {
    **{name: name for name in _ATTRIBUTES},
    **{wire_name(name): name for name in _ATTRIBUTES},
}


def _kind(annotation: object) -> str:
    """How a CSV cell becomes this field's value, from the field's type."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    if "Mapping" in text:
        return "json"
    if "Sequence" in text:
        return "list_or_str" if text.startswith("str |") else "list"
    if "bool" in text:
        return "bool"
    if "float" in text:
        return "float"
    if "int" in text and "str" not in text:
        return "int"
    return "str"


_KINDS: Final = {name: _kind(a.type) for name, a in _ATTRIBUTES.items()}


class _CellError(Exception):
    """A cell that cannot become its field's type; the message is the rule broken."""


def _cell_value(kind: str, text: str) -> Any:
    if kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise _CellError("must be true or false")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise _CellError("must be an integer") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise _CellError("must be a number") from None
    if kind == "json":
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            value = None
        if not isinstance(value, dict):
            raise _CellError("must be a JSON object")
        return value
    if kind in ("list", "list_or_str"):
        if text.startswith("["):
            try:
                items = json.loads(text)
            except (ValueError, RecursionError):
                items = None
            if not isinstance(items, list):
                raise _CellError('must be values separated by "|" or a JSON list')
            return items
        if kind == "list" or "|" in text:
            return [part.strip() for part in text.split("|") if part.strip()]
    return text


def _build(line: int, values: Mapping[str, Any], problems: list[FieldProblem]) -> _Row:
    """The row's request, or every problem with it: cells that did not parse, then
    the model's rules over the cells that did."""
    client_id = values.get("client_id")
    request: SessionRequest | None = None
    try:
        # A missing clientId is reported by the model ("is required") with the rest.
        request = SessionRequest(**{"client_id": "", **values})
    except RequestValidationError as exc:
        problems = problems + [p for p in exc.problems if p not in problems]
    except Exception as exc:  # the model should say RequestValidationError; never crash
        # Only the class: the exception's text may quote the row's personal data.
        problems = [
            *problems,
            FieldProblem("(row)", f"is not a valid request ({type(exc).__name__})"),
        ]
    return _Row(
        line=line,
        client_id=client_id if isinstance(client_id, str) and client_id else None,
        request=None if problems else request,
        problems=tuple(problems),
    )


#: Byte-order marks and the codec that reads past them (UTF-32 before UTF-16: FF FE 00 00
#: starts both).
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: CSV separators told apart by the header line: its names are known, so the right one
#: is the one that splits it into the most known column names (ties: the first).
CSV_DELIMITERS: Final = (",", ";", "\t")
#: What errors="surrogateescape" turns an undecodable byte into.
_ESCAPED: Final = re.compile("[\udc80-\udcff]")


class _Input:
    """INPUT, read lazily row by row (constant memory whatever its size).

    The encoding is UTF-8 (with or without a byte-order mark), or UTF-16/UTF-32 with
    one, unless ``encoding`` is given. :meth:`check` reads the whole file once before
    anything is sent, so a file that cannot be read halfway is refused up front.
    """

    def __init__(self, path: str, encoding: str | None = None) -> None:
        self.path = path
        suffix = Path(path).suffix.lower()
        if suffix not in (".csv", ".jsonl", ".ndjson"):
            raise _InputError(f"{path}: INPUT must end in .csv, .jsonl or .ndjson")
        self.is_csv = suffix == ".csv"
        if os.path.isdir(path):
            raise _InputError(f"{path}: is a directory, not a file")
        if not os.path.exists(path):
            raise _InputError(f"{path}: no such file")
        if not os.path.isfile(path):  # a FIFO or a device cannot be read twice
            raise _InputError(f"{path}: is not a regular file")
        self.encoding = self._encoding(encoding)
        self.encoding_given = encoding is not None
        self.delimiter = ","
        if self.is_csv:
            with self._reading() as stream:
                header_line = stream.readline(MAX_LINE_CHARS + 1)
                if len(header_line) > MAX_LINE_CHARS:
                    raise _InputError(
                        f"{path}: the first line is longer than {MAX_LINE_CHARS:,} characters;"
                        " it must name the columns"
                    )
                if not header_line.strip():
                    empty = not any(text is None or text.strip() for _, text in _lines(stream))
                    raise _InputError(
                        f"{path}: is empty; the first line must name the columns"
                        if empty
                        else f"{path}: the first line is blank; it must name the columns"
                    )
            self.delimiter = _delimiter(header_line)
            header = next(csv.reader([header_line], delimiter=self.delimiter), [])
            self._columns = self._csv_columns(header)

    def _encoding(self, given: str | None) -> str:
        if given is not None:
            try:
                info = codecs.lookup(given)
            except LookupError:
                raise _InputError(f"--encoding: unknown encoding {given!r}") from None
            if not getattr(info, "_is_text_encoding", True):
                raise _InputError(f"--encoding: {given!r} is not a text encoding")
            # A UTF-8 file may still start with a byte-order mark: skip it.
            return "utf-8-sig" if info.name == "utf-8" else info.name
        try:
            with open(self.path, "rb") as f:
                start = f.read(4)
        except OSError as exc:
            raise _InputError(f"{self.path}: {exc.strerror}") from exc
        return next((codec for bom, codec in _BOMS if start.startswith(bom)), "utf-8")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[TextIO]:
        """INPUT open as text; whatever stops it being read becomes one clear _InputError."""
        try:
            with open(self.path, encoding=self.encoding, newline="") as stream:
                yield stream
        except UnicodeDecodeError as exc:
            raise _InputError(self._undecodable(exc)) from None
        except csv.Error as exc:
            raise _InputError(f"{self.path}: {exc}") from None
        except OSError as exc:
            raise _InputError(f"{self.path}: {exc.strerror or exc}") from exc

    def _undecodable(self, exc: UnicodeDecodeError) -> str:
        """Where the first undecodable byte is, and what to do (a second, lenient pass)."""
        byte = exc.object[exc.start : exc.start + 1].hex().upper() or "?"
        where = ""
        with (
            contextlib.suppress(Exception),
            open(self.path, encoding=self.encoding, errors="surrogateescape") as f,
        ):
            for number, text in enumerate(f, start=1):
                if _ESCAPED.search(text):
                    where = f" line {number}:"
                    break
        name = "UTF-8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        if self.encoding_given:
            return f"{self.path}:{where} byte 0x{byte} is not {name} text; check --encoding"
        return (
            f"{self.path}:{where} byte 0x{byte} is not {name} text (a Windows or Excel"
            " export?); save INPUT as UTF-8 (or UTF-16), or name its encoding, e.g."
            " --encoding cp1252"
        )

    def _csv_columns(self, header: list[str]) -> list[str]:
        names = [name.strip().lstrip("\ufeff").strip() for name in header]
        unknown = [name for name in names if name not in _COLUMNS]
        if unknown:
            shown = ", ".join(repr(_clip(name)) for name in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise _InputError(
                f"{self.path}: unknown column(s) {shown}{more}; columns are"
                " token parameters named like the API (clientId) or like the Python fields"
                " (client_id), separated by commas, semicolons or tabs"
            )
        fields = [_COLUMNS[name] for name in names]
        repeated = sorted({wire_name(f) for f in fields if fields.count(f) > 1})
        if repeated:
            raise _InputError(f"{self.path}: column(s) given twice: {', '.join(repeated)}")
        if "client_id" not in fields:
            raise _InputError(f"{self.path}: a clientId column is required")
        return fields

    def check(self) -> int:
        """Read all of INPUT once; return its row count (for the progress ETA).

        Raises _InputError when it cannot be read to the end (encoding, CSV syntax,
        a cell over csv's field limit, I/O): before anything is sent.
        """
        with self._reading() as stream:
            if self.is_csv:
                reader = csv.reader(stream, delimiter=self.delimiter)
                try:
                    next(reader, None)
                    if reader.line_num > 1:  # the header ran on: every row would vanish in it
                        raise _InputError(f"{self.path}: the first line has an unclosed quote")
                    return sum(1 for cells in reader if any(cell.strip() for cell in cells))
                except csv.Error as exc:
                    raise _InputError(self._csv_error(exc, reader.line_num)) from None
            return sum(1 for _, text in _lines(stream) if text is None or text.strip())

    def _csv_error(self, exc: csv.Error, line: int) -> str:
        if "field larger than field limit" in str(exc):
            return (
                f"{self.path} line {line}: a cell is longer than"
                f" {csv.field_size_limit():,} characters (an unclosed quote?)"
            )
        return f"{self.path} line {line}: not readable as CSV ({exc})"

    def rows(self) -> Generator[_Row, None, None]:
        with self._reading() as stream:
            yield from self._csv_rows(stream) if self.is_csv else self._jsonl_rows(stream)

    def _csv_rows(self, stream: TextIO) -> Iterator[_Row]:
        reader = csv.reader(stream, delimiter=self.delimiter)
        next(reader, None)
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader, None)
            except csv.Error as exc:  # INPUT changed since check()
                raise _InputError(self._csv_error(exc, reader.line_num)) from None
            if cells is None:
                return
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            values: dict[str, Any] = {}
            problems: list[FieldProblem] = []
            if len(cells) > len(self._columns):
                problems.append(FieldProblem("(row)", "has more cells than the header"))
            for name, cell in zip(self._columns, cells, strict=False):
                text = cell.strip()
                if not text:
                    continue  # empty cell: not set, the dashboard default applies
                try:
                    values[name] = _cell_value(_KINDS[name], text)
                except _CellError as exc:
                    problems.append(FieldProblem(wire_name(name), str(exc)))
            yield _build(line, values, problems)

    def _jsonl_rows(self, stream: TextIO) -> Iterator[_Row]:
        for line, text in _lines(stream):
            if text is None:
                rule = f"is longer than {MAX_LINE_CHARS:,} characters"
                yield _Row(line, None, None, (FieldProblem("(row)", rule),))
                continue
            if line == 1:
                text = text.lstrip("\ufeff")  # a byte-order mark the codec kept
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                yield _Row(line, None, None, (FieldProblem("(row)", "is not valid JSON"),))
                continue
            if not isinstance(data, dict):
                yield _Row(line, None, None, (FieldProblem("(row)", "must be a JSON object"),))
                continue
            values = {}
            problems = []
            for key, value in data.items():
                name = _COLUMNS.get(key)
                if name is None:
                    problems.append(FieldProblem(_clip(key), "is not a known parameter"))
                elif value is not None:
                    values[name] = value
            yield _build(line, values, problems)


def _delimiter(header_line: str) -> str:
    """The CSV separator the header line uses (Excel writes ";" in many locales)."""

    def known(delimiter: str) -> int:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        return sum(cell.strip().lstrip("\ufeff").strip() in _COLUMNS for cell in cells)

    return max(CSV_DELIMITERS, key=known)  # max keeps the first of equals: "," by default


def _lines(stream: TextIO) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each line; text None for a line over MAX_LINE_CHARS,
    which is skipped without ever being held whole."""
    number = 0
    while text := stream.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(text) <= MAX_LINE_CHARS or text.endswith(("\n", "\r")):
            yield number, text
            continue
        while (rest := stream.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
            pass
        yield number, None


def _clip(text: str, limit: int = 40) -> str:
    """A name from INPUT, short enough for a one-line message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_problems(problems: Sequence[FieldProblem]) -> str:
    return "; ".join(str(p) for p in problems)


# --------------------------------------------------------------------------- writing results


class _Output:
    """OUT: one line per row, written as rows finish.

    Created readable by its owner only, like the journal: redirect URLs carry
    authTokens. A write that fails (disk full) is kept in :attr:`error`, never raised:
    the run then stops sending and reports it (the journal has every outcome).
    """

    def __init__(self, path: str) -> None:
        suffix = Path(path).suffix.lower()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise _InputError(f"{path}: {exc.strerror}") from exc
        try:
            mode = os.fstat(fd).st_mode
            # An existing OUT is rewritten with tokens: make it owner-only too (only a
            # regular file: never chmod a terminal or /dev/stdout).
            if stat.S_ISREG(mode) and mode & 0o077 and hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(mode) & ~0o077)
            # backslashreplace: a clientId with a lone surrogate is written, not fatal.
            self._stream: TextIO = open(  # noqa: SIM115
                fd, "w", encoding="utf-8", errors="backslashreplace", newline=""
            )
        except OSError as exc:
            os.close(fd)
            raise _InputError(f"{path}: {exc.strerror}") from exc
        self.path = path
        self.error: OSError | None = None
        self._csv = csv.writer(self._stream) if suffix == ".csv" else None
        if self._csv is not None:
            self._guarded(self._csv.writerow, OUTPUT_FIELDS)

    def write(
        self,
        row: int,
        client_id: str | None,
        status: str,
        *,
        scan_ref: str | None = None,
        redirect_url: str | None = None,
        error: str | None = None,
    ) -> None:
        values = (row, client_id, status, scan_ref, redirect_url, error)
        if self._csv is not None:
            self._guarded(self._csv.writerow, ["" if v is None else v for v in values])
        else:
            line = json.dumps(dict(zip(OUTPUT_FIELDS, values, strict=True))) + "\n"
            self._guarded(self._stream.write, line)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def close(self) -> None:
        # Also after an error: close() frees the file even when its last flush fails.
        try:
            self._stream.close()
        except OSError as exc:
            if self.error is None:
                self.error = exc

    def _guarded(self, write: Callable[..., object], *args: Any) -> None:
        if self.error is not None:
            return  # already failed: nothing more is written
        try:
            write(*args)
        except OSError as exc:
            self.error = exc


# --------------------------------------------------------------------------- progress


@attrs.define
class _Tally:
    created: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    invalid: int = 0  #: counted in ``failed`` too
    found: int = 0  #: sessions reconciliation found (their authTokens are lost)
    maybe_duplicates: int = 0  #: sent although a session may exist (--retry-unknown)

    @property
    def done(self) -> int:
        return self.created + self.skipped + self.failed + self.unknown + self.found


class _Progress:
    """A plain progress line: redrawn in place on a terminal, periodic otherwise.

    On a terminal with the ``[cli]`` extra (rich) installed, :class:`_RichProgress`
    draws instead; a log file (not a terminal) always gets these periodic lines.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
    ) -> None:
        self.stream = stream
        self.total = total
        self.clock = clock
        self.tty = stream.isatty() if tty is None else tty
        self.started = clock()
        self._last = self.started
        self._drawn = False

    def start(self) -> None:
        pass  # drawn on the first update

    def update(self, tally: _Tally) -> None:
        now = self.clock()
        every = PROGRESS_EVERY_TTY if self.tty else PROGRESS_EVERY_PLAIN
        if now - self._last < every:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r" + self.line(tally, now) + "\x1b[K")
            self._drawn = True
        else:
            self.stream.write(self.line(tally, now) + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def line(self, tally: _Tally, now: float) -> str:
        done, total = tally.done, max(self.total, tally.done)
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        share = f" ({100 * done // total}%)" if total else ""
        eta = _duration((total - done) / rate) if rate > 0 and done < total else "-"
        return (
            f"{done}/{total} rows{share} | {tally.created} created, {tally.skipped} skipped,"
            f" {tally.failed} failed, {tally.unknown} unknown | {rate:.1f} rows/s | ETA {eta}"
        )


class _RichProgress:
    """The progress line drawn by rich on a terminal: a bar, done/total, percentage, the
    counts in colour, the rate and the time left. Needs the ``[cli]`` extra."""

    def __init__(
        self,
        total: int,
        *,
        console: Any = None,
        clock: Callable[[], float] = time.monotonic,
        auto_refresh: bool = True,
    ) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.total = total
        self.clock = clock
        self.started = clock()
        self._progress = Progress(
            # Narrow enough for an 80-column terminal.
            BarColumn(bar_width=10),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn(
                "[green]{task.fields[created]} created[/] {task.fields[skipped]} skipped"
                " [red]{task.fields[failed]} failed[/]"
                " [yellow]{task.fields[unknown]} unknown[/]"
            ),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TimeRemainingColumn(compact=True),
            console=console if console is not None else Console(stderr=True),
            get_time=clock,
            auto_refresh=auto_refresh,
            transient=True,  # the summary replaces it
        )
        self._task = self._progress.add_task(
            "rows", total=total or None, created=0, skipped=0, failed=0, unknown=0, rate=0.0
        )

    def start(self) -> None:
        self._progress.start()

    def update(self, tally: _Tally) -> None:
        elapsed = max(self.clock() - self.started, 1e-9)
        self._progress.update(
            self._task,
            completed=tally.done,
            total=max(self.total, tally.done) or None,
            created=tally.created,
            skipped=tally.skipped,
            failed=tally.failed,
            unknown=tally.unknown,
            rate=tally.done / elapsed,
        )

    def refresh(self) -> None:
        self._progress.refresh()

    def finish(self) -> None:
        self._progress.stop()


def _progress_for(stream: TextIO, total: int) -> _Progress | _RichProgress:
    """rich on a terminal when installed; plain lines otherwise (and always into a file)."""
    if not stream.isatty():
        return _Progress(stream, total, tty=False)
    try:
        from rich.console import Console
    except ImportError:
        return _Progress(stream, total, tty=True)
    return _RichProgress(total, console=Console(file=stream))


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


# --------------------------------------------------------------------------- bulk


@attrs.frozen
class _Target:
    client: AsyncIdenfy
    scope: str
    fake: bool


def _credentials(args: argparse.Namespace) -> tuple[str, str] | None:
    """The API key and secret from the environment; None: use the fake."""
    key, secret = os.environ.get(ENV_API_KEY), os.environ.get(ENV_API_SECRET)
    if args.fake:
        return None
    if bool(key) != bool(secret):
        missing = ENV_API_SECRET if key else ENV_API_KEY
        raise _InputError(f"{missing} is not set (set both {ENV_API_KEY} and {ENV_API_SECRET})")
    return (key, secret) if key and secret else None


def _target(
    args: argparse.Namespace,
    credentials: tuple[str, str] | None,
    rate: RateLimiter | str | None,
) -> _Target:
    concurrency = args.concurrency
    if credentials is None:
        why = "--fake" if args.fake else f"no {ENV_API_KEY}/{ENV_API_SECRET} set"
        _say(
            f"idenfy-async: {why}: using the built-in FakeIdenfy; nothing is sent to iDenfy"
            " and no credit is spent."
        )
        fake = FakeIdenfy(FAKE_KEY, FAKE_SECRET)
        client = AsyncIdenfy(
            FAKE_KEY,
            FAKE_SECRET,
            transport=fake,
            base_url="https://ivs.idenfy.com",
            max_concurrency=concurrency,
            rate_limit=rate if not isinstance(rate, str) else None,
            redis_url=None,  # each fake is its own account: nothing to share
        )
        return _Target(client, "fake", fake=True)
    key, secret = credentials
    try:
        if args.redis_url:
            # Fail closed: without Redis this run cannot know what the others send.
            client = AsyncIdenfy(
                key,
                secret,
                max_concurrency=concurrency,
                rate_limit=rate,
                redis_url=args.redis_url,
                fallback_share=None,
            )
        else:
            client = AsyncIdenfy(
                key, secret, max_concurrency=concurrency, rate_limit=rate, redis_url=None
            )
    except IdenfyError as exc:
        raise _InputError(str(exc)) from exc
    # The journal is bound to one account on one server; the key is hashed, not stored.
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return _Target(client, f"{client.base_url} key-sha256:{digest}", fake=False)


def _journal_path(args: argparse.Namespace, fake: bool) -> str | None:
    if args.no_journal:
        if args.journal:
            raise _InputError("--journal and --no-journal exclude each other")
        return None
    if args.journal:
        return str(args.journal)
    return str(args.input) + (FAKE_JOURNAL_SUFFIX if fake else JOURNAL_SUFFIX)


def _check_paths(input_path: str, out: str | None, journal: str | None) -> None:
    if not out:
        raise _InputError("--out OUT is required (or use --dry-run)")
    if Path(out).suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        raise _InputError(f"{out}: OUT must end in .jsonl, .ndjson or .csv")
    paths = [os.path.abspath(p) for p in (input_path, out, journal) if p is not None]
    if len(set(paths)) < len(paths):
        raise _InputError("INPUT, OUT and the journal must be three different files")


def _rate_limit(args: argparse.Namespace, fake: bool) -> RateLimiter | str | None:
    spec = args.rate if args.rate is not None else (None if fake else DEFAULT_RATE)
    shared = bool(args.redis_url) and not fake
    if spec is None or spec.strip().lower() in _NO_RATE:
        if shared:
            raise _InputError("--rate none cannot be used with Redis: --rate is the account's")
        return None
    if shared:
        return spec  # the account's rate, paced in Redis (checked by the client)
    try:
        return RateLimiter(spec, burst=args.burst)
    except IdenfyError as exc:
        raise _InputError(f"--rate: {exc}") from exc


async def _bulk(args: argparse.Namespace) -> int:
    source = _Input(args.input, args.encoding)
    # The whole file is read once before anything is sent: a file unreadable halfway
    # (encoding, CSV syntax) is refused up front, with nothing sent.
    total = await asyncio.to_thread(source.check)
    if args.dry_run:
        return _dry_run(source)
    credentials = _credentials(args)
    fake = credentials is None
    journal_path = _journal_path(args, fake)
    _check_paths(args.input, args.out, journal_path)
    rate = _rate_limit(args, fake)
    target = _target(args, credentials, rate)
    if args.redis_url and fake:
        _say("idenfy-async: --redis-url is ignored with the built-in FakeIdenfy.")

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(target.client)
        journal: Journal | None = None
        if journal_path is not None:
            try:
                journal = await stack.enter_async_context(
                    SqliteJournal(journal_path, scope=target.scope)
                )
            except JournalError as exc:
                raise _InputError(str(exc)) from exc
        output = _Output(args.out)
        stack.callback(output.close)
        await _announce_open_rows(journal, args)
        run = _Run(args, source, output, target, journal, journal_path)
        run.progress.total = total
        return await run.execute()
    raise AssertionError("unreachable")  # AsyncExitStack could swallow exceptions, not here


async def _announce_open_rows(journal: Journal | None, args: argparse.Namespace) -> None:
    """Before anything is sent: what this run will do about rows that may have a session."""
    if isinstance(journal, SqliteJournal | MemoryJournal):
        entries = await journal.open_entries()
        for note in _open_rows_notes(entries, args, now=time.time()):
            _say(note)


def _open_rows_notes(
    entries: Sequence[JournalEntry], args: argparse.Namespace, *, now: float
) -> list[str]:
    count = len(entries)
    if not count:
        return []
    held = f"idenfy-async: the journal holds {count} {_rows(count)} that may already have a session"
    if args.no_reconcile:
        if not args.retry_unknown:
            return []
        return [f"{held}; --retry-unknown sends them again without asking iDenfy."]
    notes = [f"{held}; each is looked up in iDenfy's listing before anything is sent for it."]
    window = args.settle_window
    recent = [
        e.pending_at for e in entries if e.pending_at is not None and now < e.pending_at + window
    ]
    if recent:
        wait = _duration(max(recent) + window - now)
        notes.append(
            f"idenfy-async: {len(recent)} of them {'was' if len(recent) == 1 else 'were'} sent"
            f" less than {window:g} s ago: they wait up to {wait} first, as iDenfy's listing"
            " may lag (--settle-window)."
        )
    if args.retry_unknown:
        notes.append(
            "idenfy-async: --retry-unknown: those still undecided are sent again anyway"
            " (the summary counts them)."
        )
    return notes


class _Run:
    """One bulk run: feed rows, record results, show progress, handle signals."""

    def __init__(
        self,
        args: argparse.Namespace,
        source: _Input,
        output: _Output,
        target: _Target,
        journal: Journal | None,
        journal_path: str | None,
    ) -> None:
        self.args = args
        self.source = source
        self.output = output
        self.target = target
        self.journal = journal
        self.journal_path = journal_path
        self.tally = _Tally()
        self.lines: dict[int, int] = {}  # index -> INPUT line, for rows in flight only
        self.stopping = False  #: interrupted once: nothing new is sent
        self.stop = asyncio.Event()  #: bulk sends nothing new once it is set
        self.announced = False
        self.input_error: _InputError | None = None
        self.redis_error: CoordinationError | None = None
        self.found: list[str] = []  # the first FOUND_LISTED found rows, for the summary
        self.progress = _progress_for(sys.stderr, 0)

    async def execute(self) -> int:
        self.progress.start()
        task = asyncio.create_task(self._consume())
        loop = asyncio.get_running_loop()
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._interrupt, task)
                installed.append(signum)
            except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
                pass
        interrupted = False
        stopped_by: JournalError | None = None
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # we were cancelled from outside, not by a second Ctrl-C
            interrupted = True
        except JournalError as exc:  # e.g. disk full: sending without a record is unsafe
            stopped_by = exc
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
            self.progress.finish()
            self.output.flush()
        failure = self.output.error or stopped_by or self.input_error or self.redis_error
        self._summary(interrupted or self.stopping or failure is not None)
        if stopped_by is not None:
            _say(
                f"idenfy-async: error: {stopped_by}. The run stopped; rows in flight stay"
                " pending (a re-run reports them as unknown)."
            )
            return EXIT_ROWS
        if self.output.error is not None:
            _say(f"idenfy-async: error: {self._output_failed(self.output.error)}")
            return EXIT_ROWS
        if self.redis_error is not None:
            _say(
                f"idenfy-async: error: Redis ({ENV_REDIS_URL}) failed: {self.redis_error}."
                " The run stopped: no new request was sent, requests in flight finished."
                " Re-run the same command once Redis answers: rows not created are sent"
                " then, none twice."
            )
            return EXIT_ROWS
        if self.input_error is not None:
            _say(
                f"idenfy-async: error: {self.input_error}. The run stopped there; rows in"
                " flight finished (re-run the same command once INPUT is readable)."
            )
            return EXIT_ROWS
        if interrupted or self.stopping:
            return EXIT_INTERRUPTED
        tally = self.tally
        return EXIT_ROWS if tally.failed or tally.unknown or tally.found else EXIT_OK

    def _output_failed(self, exc: OSError) -> str:
        where = (
            f"the journal {self.journal_path} has every row's outcome: re-run the same"
            " command once it can be written, to write OUT again"
            if self.journal_path
            else "without a journal file, outcomes not in OUT are only in this summary"
        )
        return (
            f"cannot write {self.output.path}: {exc.strerror or exc}. No new request was"
            f" sent after that; requests in flight finished; {where}."
        )

    def _interrupt(self, task: asyncio.Task[None]) -> None:
        if self.stopping:
            _say("\nidenfy-async: stopping now")
            task.cancel()
            return
        self.stopping = True
        self.stop.set()  # bulk announces what is still in flight (see _on_progress)

    def _on_progress(self, progress: BulkProgress) -> None:
        if not progress.stopped or self.announced or not self.stopping:
            return
        self.announced = True
        n = progress.in_flight
        _say(
            f"\nidenfy-async: stopping: no new request is sent; {n}"
            f" {'request' if n == 1 else 'requests'} in flight to finish ({progress.sent}"
            " sent by this run). Interrupt again to stop at once (rows in flight would"
            " then be unknown)."
        )

    async def _consume(self) -> None:
        results = self.target.client.create_sessions(  # it paces: rate limit and slots
            self._feed(),
            concurrency=self.args.concurrency,
            journal=self.journal,
            retry_unknown=self.args.retry_unknown,
            retry_failed=self.args.retry_failed,
            on_progress=self._on_progress,
            stop=self.stop,
            reconcile=_reconcile_option(self.args),
        )
        async with contextlib.aclosing(results):
            async for result in results:
                self._record(result)

    def _feed(self) -> Iterator[SessionRequest]:
        index = 0
        with contextlib.closing(self.source.rows()) as rows:
            while not self.stop.is_set():
                try:
                    row = next(rows, None)
                except _InputError as exc:  # INPUT changed since it was checked
                    self.input_error = exc
                    self.stop.set()  # what was sent finishes; nothing more is read
                    return
                if row is None:
                    return
                if row.request is None:
                    self.tally.failed += 1
                    self.tally.invalid += 1
                    error = f"RequestValidationError: {_describe_problems(row.problems)}"
                    self._write(row.line, row.client_id, "failed", error=error)
                    self.progress.update(self.tally)
                    continue
                self.lines[index] = row.line
                index += 1
                yield row.request

    def _write(
        self,
        line: int,
        client_id: str | None,
        status: str,
        *,
        scan_ref: str | None = None,
        redirect_url: str | None = None,
        error: str | None = None,
    ) -> None:
        self.output.write(
            line, client_id, status, scan_ref=scan_ref, redirect_url=redirect_url, error=error
        )
        if self.output.error is not None and not self.stop.is_set():
            self.stop.set()  # results cannot be written: send nothing more

    def _record(self, result: BulkResult) -> None:
        if isinstance(result.error, CoordinationError) and self.redis_error is None:
            self.redis_error = result.error  # sending on without Redis is unsafe: stop
            self.stop.set()
        line = self.lines.pop(result.index)
        session = result.session
        state = result.state
        if state is BulkState.CREATED:
            self.tally.created += 1
        elif state is BulkState.SKIPPED:
            self.tally.skipped += 1
        elif state is BulkState.FAILED:
            self.tally.failed += 1
        elif state is BulkState.FOUND:
            self.tally.found += 1
        else:
            self.tally.unknown += 1
        self.tally.maybe_duplicates += result.may_be_duplicate
        found = result.reconciliation if state is BulkState.FOUND else None
        if found is not None and len(self.found) < FOUND_LISTED:
            self.found.append(f"  row {line}, clientId {result.client_id}: {found}")
        self._write(
            line,
            result.client_id,
            state.value,
            scan_ref=session.scan_ref if session else found.scan_ref if found else None,
            redirect_url=session.redirect_url if session else None,
            error=_error_text(result),
        )
        self.progress.update(self.tally)

    def _summary(self, interrupted: bool) -> None:
        t = self.tally
        elapsed = time.monotonic() - self.progress.started
        rows = "row" if t.done == 1 else "rows"
        lines = [
            f"{'Stopped' if interrupted else 'Done'} in {_duration(elapsed)}: {t.done} {rows};"
            f" {t.created} created, {t.skipped} skipped (created earlier), {t.failed} failed"
            f" ({t.invalid} invalid), {t.unknown} unknown"
            + (f", {t.found} found." if t.found else "."),
            f"Results: {self.output.path}",
        ]
        if self.journal_path:
            lines.append(f"Journal: {self.journal_path} (re-run the same command to resume)")
        lines += _reconcile_summary(t, self.found, reconciling=not self.args.no_reconcile)
        if t.failed:
            lines.append(
                f"Failed: {t.failed} {_rows(t.failed)}, nothing created for them (see OUT)."
                " A re-run sends rate-limited and other retryable ones again; after fixing"
                " data or credentials, fix INPUT or re-run with --retry-failed."
            )
        if self.target.fake:
            lines.append("FakeIdenfy: nothing was sent to iDenfy.")
        _say("\n".join(lines))


def _rows(count: int, noun: str = "row") -> str:
    return noun if count == 1 else noun + "s"


def _reconcile_summary(t: _Tally, found: Sequence[str], *, reconciling: bool) -> list[str]:
    """The summary's lines about rows that may already have a session."""
    lines = []
    if t.found:
        lines.append(
            f"Found: {t.found} {_rows(t.found)} already had a session at iDenfy (an earlier"
            " answer was lost): scanRef and status are in OUT; their authTokens cannot be"
            " recovered. Re-runs do not send them again."
        )
        lines += found
        if t.found > len(found):
            lines.append(f"  ... and {t.found - len(found)} more (see OUT)")
    if t.unknown:
        then = (
            "Check them by clientId in the iDenfy dashboard; re-runs ask iDenfy again and"
            if reconciling
            else "Check them by clientId in the iDenfy dashboard, or re-run without"
            " --no-reconcile to ask iDenfy; re-runs"
        )
        lines.append(
            f"Unknown: {t.unknown} {_rows(t.unknown)} may have a session although no answer"
            f" was read. {then} do not send them again unless --retry-unknown."
        )
    if t.maybe_duplicates:
        lines.append(
            f"Warning: --retry-unknown sent {t.maybe_duplicates} {_rows(t.maybe_duplicates)}"
            " again that may already have had a session: up to"
            f" {t.maybe_duplicates} duplicate {_rows(t.maybe_duplicates, 'session')}"
            " (a credit each)."
        )
    return lines


def _error_text(result: BulkResult) -> str | None:
    kind: ErrorKind | None = result.error_kind
    if result.state in (BulkState.CREATED, BulkState.SKIPPED):
        return None
    checked = result.reconciliation
    if checked is not None and not result.sent:  # found, or still unknown after asking
        return str(checked) + (f" (after {kind})" if kind is not None else "")
    if kind is None:
        return _INTERRUPTED_TEXT
    text = str(kind)
    return text if result.sent else f"{text} (in an earlier run)"


def _dry_run(source: _Input) -> int:
    rows = bad = problems = 0
    for row in source.rows():
        rows += 1
        if not row.problems:
            continue
        bad += 1
        who = f" (clientId {row.client_id})" if row.client_id else ""
        for problem in row.problems:
            problems += 1
            _say(f"{source.path} row {row.line}{who}: {problem}")
    if bad:
        _say(
            f"{bad} of {rows} {_rows(rows)} {'has' if bad == 1 else 'have'} problems"
            f" ({problems} in all); nothing was sent."
        )
        return EXIT_ROWS
    if rows == 0:
        _say(f"{source.path} has no rows; nothing was sent.")
    elif rows == 1:
        _say("The 1 row is valid; nothing was sent.")
    else:
        _say(f"All {rows} rows are valid; nothing was sent.")
    return EXIT_OK


# --------------------------------------------------------------------------- fake-server


async def _fake_server(args: argparse.Namespace) -> int:
    signing_key = args.signing_key or os.environ.get(ENV_SIGNING_KEY) or DEFAULT_SIGNING_KEY
    server = FakeIdenfyServer(
        FakeIdenfy(seed=args.seed, listing_delay=args.listing_delay, signing_key=signing_key),
        port=args.port,
        fail_rate=args.fail_rate,
        latency=args.latency / 1000,
        rate_limit=args.rate_limit,
        seed=args.seed,
    )
    parent = os.getppid()  # before anything can orphan us
    try:
        base_url = await server.start()
    except OSError as exc:
        raise _InputError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from exc
    stop = asyncio.Event()
    reason = ["interrupted"]
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    watchers = []
    if args.exit_after is not None:
        watchers.append(asyncio.create_task(_stop_after(args.exit_after, stop, reason)))
    if args.exit_with_parent:
        watchers.append(asyncio.create_task(_stop_without_parent(parent, stop, reason)))
    ready = {"event": "ready", "url": base_url, "port": server.port, "pid": os.getpid()}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    _say(
        f"FakeIdenfy listening on {base_url} (port {server.port}); use it with\n"
        f"  export IDENFY_BASE_URL={base_url} {ENV_API_KEY}=test-key {ENV_API_SECRET}=test-secret"
    )
    try:
        await stop.wait()
    finally:
        for watcher in watchers:
            watcher.cancel()
        await server.aclose()
        sessions, requests = len(server.fake.sessions), server.fake.requests
        _say(
            f"FakeIdenfy stopped ({reason[0]}): {sessions} {_rows(sessions, 'session')} created,"
            f" {requests} {_rows(requests, 'request')}."
        )
    return EXIT_OK


async def _stop_after(seconds: float, stop: asyncio.Event, reason: list[str]) -> None:
    await asyncio.sleep(seconds)
    reason[0] = f"--exit-after {seconds:g}"
    stop.set()


async def _stop_without_parent(parent: int, stop: asyncio.Event, reason: list[str]) -> None:
    # An orphan is adopted by init (or a subreaper): its parent pid changes. Polling
    # this is portable across POSIX systems, unlike prctl(PR_SET_PDEATHSIG).
    while os.getppid() == parent:  # noqa: ASYNC110 (no event exists to wait on)
        await asyncio.sleep(PARENT_POLL_SECONDS)
    reason[0] = "its parent process is gone"
    stop.set()


# --------------------------------------------------------------------------- fake (control)


def _run_control(args: argparse.Namespace) -> int:
    return asyncio.run(_control(args))


async def _control(args: argparse.Namespace) -> int:
    base_url = args.server or os.environ.get(ENV_BASE_URL) or DEFAULT_FAKE_SERVER
    async with FakeControl(base_url) as fake:
        try:
            return await _control_action(fake, args)
        except FakeControlError as exc:
            _say(f"idenfy-async fake: error: {exc}")
            return EXIT_ROWS


async def _control_action(fake: FakeControl, args: argparse.Namespace) -> int:
    action = args.run_action
    if action == "complete":
        session = await fake.complete(
            args.scan_ref,
            args.status,
            fraud_tags=args.fraud_tag,
            mismatch_tags=args.mismatch_tag,
            final=not args.not_final,
        )
        _print(f"{session['scanRef']} {session['status']} (final: {session['final']})")
        return EXIT_OK
    if action == "webhook":
        delivery = await fake.send_webhook(
            args.scan_ref, signing_key=args.signing_key, event_type=args.event_type, url=args.url
        )
        code = int(delivery["statusCode"])
        _print(f"{delivery['eventType']} for {delivery['scanRef']} -> {delivery['url']}: {code}")
        return EXIT_OK if 200 <= code < 300 else EXIT_ROWS
    if action == "sessions":
        for session in await fake.sessions():
            if args.json:
                _print(json.dumps(session))
            else:
                _print(
                    f"{session['scanRef']}  {session['status']:<10}  {session['clientId']}"
                    + (f"  -> {session['callbackUrl']}" if session["callbackUrl"] else "")
                )
        return EXIT_OK
    forgotten = await fake.reset()
    _print(f"reset: {forgotten} {_rows(forgotten, 'session')} forgotten")
    return EXIT_OK


def _print(text: str) -> None:
    """A result line for scripts (stdout), unlike _say's messages for people (stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
