"""The command line's grammar: every command, option and help text, and the option
types (whole numbers, seconds). Each command's ``run`` default is its entry point."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from .. import __version__
from .._constants import (
    DEFAULT_CONCURRENCY,
    ENV_BASE_URL,
    ENV_JOURNAL_DIR,
    ENV_JOURNAL_URL,
    ENV_REDIS_URL,
    ENV_SIGNING_KEY,
)
from ..bulk.reconcile import DEFAULT_SETTLE_WINDOW
from ..testing import DEFAULT_SIGNING_KEY
from ..testing._gateway import parse_limit
from ._bulk import _bulk_command
from ._common import DEFAULT_FAKE_SERVER, DEFAULT_RATE
from ._exits import FAKE_EXIT_CODES, exit_codes_text
from ._fake import _fake_server, _run_control
from ._screen import screen_parser


def _parser() -> argparse.ArgumentParser:
    """The whole command line: ``bulk``, ``fake-server`` and ``fake ...``."""
    parser = argparse.ArgumentParser(
        prog="idenfy-async",
        description="Bulk iDenfy verification sessions from a file, and a local fake iDenfy.",
        epilog=exit_codes_text(),
    )
    parser.add_argument("--version", action="version", version=f"idenfy-async {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _bulk_parser(commands)
    screen_parser(commands)
    _fake_server_parser(commands)
    _control_parsers(commands)
    return parser


def _bulk_parser(commands: Any) -> None:
    """``idenfy-async bulk``: its files, then how it sends (see `_bulk_sending`)."""
    bulk = commands.add_parser(
        "bulk",
        help="create one verification session per row of a CSV or JSONL file",
        description="Create one verification session per row of INPUT; write results to OUT."
        " Re-running the same command resumes from the journal without paying twice.",
        epilog="INPUT: UTF-8 (with or without a byte-order mark) or UTF-16 with one, else"
        " give --encoding; CSV separated by commas, semicolons or tabs (read from the"
        " header). Ctrl-C: no new request is sent, rows not sent yet are left for a"
        " re-run, requests in flight finish; a second Ctrl-C stops at once (their rows"
        f" are then unknown). {exit_codes_text()}",
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
        metavar="FILE|URL",
        help="the journal: the record of what was created, an SQLite FILE or a"
        " postgresql:// URL that workers on several machines share (default:"
        f" ${ENV_JOURNAL_URL}, else the account's own file, in ${ENV_JOURNAL_DIR} or the"
        " user's state directory; every run against the account uses it, whatever INPUT is)",
    )
    bulk.add_argument(
        "--no-journal",
        action="store_true",
        help="keep no journal (a re-run then sends every row again)",
    )
    bulk.add_argument(
        "--claim-lease",
        type=_positive_seconds,
        metavar="SECONDS",
        help="with a postgresql:// journal: how long a worker's claim on a row lasts"
        " unrenewed; a worker that dies leaves its claimed, unsent rows to the others"
        " after it (default 60)",
    )
    _bulk_sending(bulk)
    _bulk_resuming(bulk)
    bulk.add_argument(
        "--fake", action="store_true", help="use the built-in FakeIdenfy (nothing is sent)"
    )
    bulk.set_defaults(run=lambda args: asyncio.run(_bulk_command(args)))


def _bulk_sending(bulk: argparse.ArgumentParser) -> None:
    """``bulk``'s options on how fast and through what it sends."""
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
        "--ignore-columns",
        metavar="NAMES",
        help="comma-separated INPUT columns (or JSONL keys) to read past, e.g. email,phone"
        " from a CRM export",
    )
    bulk.add_argument(
        "--dry-run",
        action="store_true",
        help="validate every row, report problems (and, with --out, a line per row there),"
        " send nothing",
    )


def _bulk_resuming(bulk: argparse.ArgumentParser) -> None:
    """``bulk``'s options on rows an earlier run left open or failed."""
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
        help="send again every failed row, not only retryable ones (a row whose data"
        " changed since it failed is sent again anyway)",
    )
    bulk.add_argument(
        "--replace-conflicts",
        action="store_true",
        help="create a new session for rows whose clientId has a session made from other"
        " data (default: report them as conflict, send nothing); a credit each",
    )
    bulk.add_argument(
        "--reissue-expired",
        action="store_true",
        help="create a new session for clientIds whose session expired without a result"
        " (checked in iDenfy's listing first); a credit each",
    )


def _fake_server_parser(commands: Any) -> None:
    """``idenfy-async fake-server``: FakeIdenfy over HTTP (on 127.0.0.1 unless --host)."""
    fake = commands.add_parser(
        "fake-server",
        help="serve a fake iDenfy over HTTP on 127.0.0.1 (or --host)",
        description="Serve FakeIdenfy on http://HOST:PORT (127.0.0.1:8080 by default) until"
        " interrupted. Point IDENFY_BASE_URL at it, with IDENFY_API_KEY=test-key"
        " IDENFY_API_SECRET=test-secret (and IDENFY_ALLOW_INSECURE_HTTP=1 when the client"
        " reaches it by a name that is not loopback, e.g. in docker-compose)."
        ' The first line on stdout says it is ready: {"event": "ready", "url": ...,'
        ' "port": ..., "pid": ...}. Drive it with `idenfy-async fake ...` or its'
        " /__fake__/ endpoints.",
    )
    fake.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0: every interface, e.g. in a"
        " container; the control endpoints need no credentials)",
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
        "--rate-limit",
        type=_limit,
        metavar="SPEC",
        help='answer 429 beyond this rate, e.g. "10/s" (a token bucket; with Retry-After)',
    )
    fake.add_argument(
        "--rate-limit-burst",
        type=_positive_int,
        default=1,
        metavar="N",
        help="requests --rate-limit lets through back to back (default 1: a strict gateway)",
    )
    fake.add_argument(
        "--rate-limit-window",
        type=_window,
        metavar="SPEC",
        help="answer 429 without Retry-After beyond this many requests in each aligned"
        ' window, e.g. "10000/hour" (iDenfy\'s documented limit)',
    )
    fake.add_argument(
        "--no-retry-after",
        dest="retry_after",
        action="store_false",
        help="answer --rate-limit's 429s without Retry-After, as most gateways do",
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


def _control_parsers(commands: Any) -> None:
    """``idenfy-async fake complete|webhook|sessions|reset``: drive a running fake-server."""
    control = commands.add_parser(
        "fake",
        help="drive a running fake-server: complete a session, send its webhook, ...",
        description="Drive a running `idenfy-async fake-server` through its /__fake__/"
        f" control endpoints. The server is --server, else ${ENV_BASE_URL}, else"
        f" {DEFAULT_FAKE_SERVER}.",
        epilog=exit_codes_text(FAKE_EXIT_CODES),
    )
    actions = control.add_subparsers(title="actions", required=True, metavar="ACTION")
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--server", metavar="URL", help="the fake-server's base URL")

    _complete_parser(actions, server)

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


def _complete_parser(actions: Any, server: argparse.ArgumentParser) -> None:
    """``idenfy-async fake complete``: play the user's verification."""
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
    complete.add_argument(
        "--allow-unknown-status",
        action="store_true",
        help="let a STATUS iDenfy does not document through (to test a client's handling"
        " of new values); refused otherwise",
    )
    complete.set_defaults(run=_run_control, run_action="complete")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _limit(text: str) -> str:
    try:
        parse_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _window(text: str) -> str:
    try:
        parse_limit(text, whole=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, at least 0, not {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a number of seconds above 0, not 0")
    return value
