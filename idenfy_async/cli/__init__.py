"""The ``idenfy-async`` command: bulk onboarding from a file, and a local fake iDenfy.

::

    idenfy-async bulk customers.csv --out results.jsonl      # one session per row
    idenfy-async bulk customers.csv --dry-run                # validate only, send nothing
    idenfy-async screen people.csv --out screened.jsonl      # one AML check per row
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

Every row is recorded in the account's journal (SQLite) before it is sent: one file
per account in the user's state directory (``IDENFY_JOURNAL_DIR`` moves it,
``--journal FILE`` chooses another), whatever INPUT is, so a renamed, corrected or
re-exported file pays nothing twice. Rows repeating a clientId inside INPUT are
found before anything is sent (an exact copy is a duplicate: one session serves
both). Re-running resumes as [`idenfy_async.bulk.create_sessions`][idenfy_async.create_sessions]
describes (its options are the flags ``--retry-unknown``, ``--retry-failed``,
``--replace-conflicts``, ``--reissue-expired``, ``--settle-window`` and
``--no-reconcile``): created rows are skipped, and rows that may already have a
session are first looked up in iDenfy's listing; a session found there is
"found" in OUT (scanRef and status; its authToken cannot be recovered). A journal
remembers the account and server it was used with and refuses another.

Ctrl-C (or SIGTERM) stops sending at once: rows still waiting for their turn are
dropped (not journaled; a re-run sends them), the requests already in flight
finish and are recorded; a message says how many are in flight. A second Ctrl-C
stops at once: rows in flight then stay pending, counted unknown in OUT and the
summary, and a re-run reconciles them.

Several runs, or a run next to a web service, on one account: give each the same
``--redis-url`` (default ``IDENFY_REDIS_URL``). ``--rate`` is then the account's
rate, shared by every process (interactive calls of the service go first), a
rate-limit answer pauses them all, and each clientId gets one session whichever
run sends it (the others record the same session). If Redis fails the run stops
with one line and exit 1, sending nothing more; re-run the same command once
Redis answers.

Credentials come from ``IDENFY_API_KEY`` and ``IDENFY_API_SECRET`` (and
``IDENFY_BASE_URL``). With ``--fake``, or with neither variable set, rows go to
an in-process FakeIdenfy (nothing is sent, nothing is spent; OUT marks every line
fake) with a journal of its own: re-runs resume as they do for real, and a real run
keeps the account's journal apart.

``fake-server`` serves FakeIdenfy on 127.0.0.1 until interrupted, ``--exit-after``
seconds pass, or (``--exit-with-parent``) the process that started it is gone. Its
first line on stdout is a JSON readiness line, ``{"event": "ready", "url": ...,
"port": ..., "pid": ...}`` (``--port 0`` picks a free port). ``fake complete``,
``fake webhook``, ``fake sessions`` and ``fake reset`` drive a running one through
its ``/__fake__/`` control endpoints (``--server``, default ``IDENFY_BASE_URL``).

Exit codes (`EXIT_CODES`, also under ``idenfy-async --help``) are listed below.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._args import _parser
from ._common import _InputError, _say
from ._exits import (
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS,
    EXIT_USAGE,
    exit_codes_list,
)

# Private names tests reach here (the ``as`` form re-exports them for mypy --strict).
from ._progress import _Progress as _Progress
from ._progress import _progress_for as _progress_for
from ._progress import _RichProgress as _RichProgress

__all__ = ["EXIT_CODES", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_ROWS", "EXIT_USAGE", "main"]

__doc__ = (__doc__ or "") + "\n" + exit_codes_list() + "\n"


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
