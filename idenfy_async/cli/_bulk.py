"""``idenfy-async bulk``: check INPUT through, then either validate only (``--dry-run``)
or set up the client, journal and OUT, say what happens to rows an earlier run left
open, and hand over to `_Run`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Sequence

from ..bulk.journal import (
    Journal,
    JournalEntry,
    JournalError,
    MemoryJournal,
    PostgresJournal,
    SqliteJournal,
)
from ..client import AsyncIdenfy
from ._common import _duration, _InputError, _plural, _say
from ._exits import EXIT_OK, EXIT_ROWS
from ._ledger import _fold_in, _journal_path, _old_journal, _open_journal, _shown, is_url
from ._output import _Output
from ._rows import _Input, _Survey
from ._run import _in_file_conflict, _Run
from ._target import _announce, _check_paths, _credentials, _rate_limit, _target


async def _bulk_command(args: argparse.Namespace) -> int:
    """``idenfy-async bulk``: check INPUT, set up, run; the exit code."""
    ignore = frozenset(name.strip() for name in (args.ignore_columns or "").split(",") if name)
    source = _Input(args.input, args.encoding, ignore)
    # The whole file is read before anything is sent: a file unreadable halfway
    # (encoding, CSV syntax) is refused up front, with nothing sent, and the rows
    # repeating a clientId are found.
    survey = await asyncio.to_thread(source.survey)
    if args.dry_run:
        return _dry_run(source, survey, args.out)
    credentials = _credentials(args)
    fake = credentials is None
    rate = _rate_limit(args, fake)
    target = _target(args, credentials, rate)
    try:
        journal_path = _journal_path(args, target.journal_name)
        _check_paths(args.input, args.out, None if is_url(journal_path) else journal_path)
    except _InputError:
        await target.client.aclose()
        raise
    _announce(args, target)

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(target.client)
        journal: Journal | None = None
        if journal_path is not None:
            opened = _open_journal(
                journal_path, scope=target.scope, claim_lease=getattr(args, "claim_lease", None)
            )
            try:
                await stack.enter_async_context(opened)
            except JournalError as exc:
                raise _InputError(str(exc)) from exc
            journal = opened
            if isinstance(opened, PostgresJournal) and opened.claim_lease is not None:
                _hold_within(target.client, opened.claim_lease)
            old = _old_journal(args, target.fake)
            if old is not None:
                await _fold_in(old, opened, scope=target.scope)
        output = _Output(args.out, fake=target.fake)
        stack.callback(output.close)
        await _announce_open_rows(journal, args)
        shown = _shown(journal_path) if journal_path is not None else None
        run = _Run(args, source, output, target, journal, shown, survey)
        run.progress.total = survey.rows
        return await run.execute()
    raise AssertionError("unreachable")  # AsyncExitStack could swallow exceptions, not here


def _hold_within(client: AsyncIdenfy, lease: float) -> None:
    """A worker that dies while its rows wait for their turn holds their clientIds in the
    open-session registry too (unconfirmed, nothing sent): with a lease shorter than
    that hold, the hold ends with the lease, so the other workers take those rows over
    once the lease has ended, not later."""
    registry = client._sessions()
    registry.claim_hold = min(registry.claim_hold, lease)


async def _announce_open_rows(journal: Journal | None, args: argparse.Namespace) -> None:
    """Before anything is sent: what this run will do about rows that may have a session."""
    if isinstance(journal, PostgresJournal):
        # Rows another live worker holds are its own, in flight: not this run's to
        # reconcile (it claims each open row before deciding about it).
        entries = await journal.open_entries(unclaimed=True)
    elif isinstance(journal, SqliteJournal | MemoryJournal):
        entries = await journal.open_entries()
    else:
        return
    for note in _open_rows_notes(entries, args, now=time.time()):
        _say(note)


def _open_rows_notes(
    entries: Sequence[JournalEntry], args: argparse.Namespace, *, now: float
) -> list[str]:
    count = len(entries)
    if not count:
        return []
    held = (
        f"idenfy-async: the journal holds {count} {_plural(count)} that may already have a session"
    )
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


def _dry_run(source: _Input, survey: _Survey, out: str | None) -> int:
    """Validate every row and report, send nothing; with ``out``, a line per row there."""
    output = _Output(out, fake=None) if out else None
    rows = bad = problems = 0
    try:
        for row in source.rows():
            rows += 1
            who = f" (clientId {row.client_id})" if row.client_id else ""
            status, error = "valid", None
            if row.problems:
                bad += 1
                problems += len(row.problems)
                for problem in row.problems:
                    _say(f"{source.path} row {row.line}{who}: {problem}")
                status, error = "invalid", "; ".join(str(p) for p in row.problems)
            elif row.line in survey.conflicts:
                bad += 1
                problems += 1
                error = _in_file_conflict(survey.conflicts[row.line])
                _say(f"{source.path} row {row.line}{who}: {error}")
                status = "conflict"
            elif row.line in survey.duplicates:
                status, error = "duplicate", f"duplicate of row {survey.duplicates[row.line]}"
            if output is not None:
                output.write(row.line, row.client_id, status, error=error)
    finally:
        if output is not None:
            output.close()
    if output is not None and output.error is not None:
        raise _InputError(f"{out}: {output.error.strerror or output.error}")
    if survey.duplicates:
        n = len(survey.duplicates)
        _say(
            f"{n} {_plural(n)} repeat an earlier row exactly: one session serves both"
            " (reported as duplicates)."
        )
    if bad:
        _say(
            f"{bad} of {rows} {_plural(rows)} {'has' if bad == 1 else 'have'} problems"
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
