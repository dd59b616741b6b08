"""One bulk run once everything is set up: feed INPUT's rows to ``create_sessions``,
write each result to OUT, keep the counts and the progress line, handle Ctrl-C/SIGTERM,
and end with the summary and the exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Final

from .. import CoordinationError, SessionRequest
from .._constants import ENV_REDIS_URL
from ..bulk import BulkProgress, BulkResult, BulkState
from ..bulk.journal import ErrorRecord, Journal, JournalError, JournalState
from ..bulk.reconcile import ReconcilePolicy
from ._common import _duration, _InputError, _plural, _say
from ._exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS
from ._output import _Output
from ._progress import _progress_for, _Tally, pace_text
from ._rows import _describe_problems, _Input, _Survey
from ._target import _Target

#: Found rows named one by one in the summary (all of them are in OUT).
FOUND_LISTED: Final = 20
_INTERRUPTED_TEXT: Final = (
    "interrupted: an earlier run stopped while this request was in flight; a session may exist"
)
_CUT_TEXT: Final = (
    "interrupted: this run was stopped while the request was in flight; a session may exist"
    " (a re-run looks it up in iDenfy's listing before sending anything for it)"
)


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
        survey: _Survey,
    ) -> None:
        self.args = args
        self.source = source
        self.output = output
        self.target = target
        self.journal = journal
        self.journal_path = journal_path
        self.survey = survey
        self.tally = _Tally()
        #: index -> (INPUT line, clientId), for rows fed and not yet recorded only
        self.lines: dict[int, tuple[int, str]] = {}
        #: INPUT line -> the later lines repeating it exactly (written with its result)
        self.held: dict[int, list[tuple[int, str | None]]] = {}
        self.stopping = False  #: interrupted once: nothing new is sent
        self.stop = asyncio.Event()  #: bulk sends nothing new once it is set
        self.announced = False
        self.input_error: _InputError | None = None
        self.redis_error: CoordinationError | None = None
        self.found: list[str] = []  # the first FOUND_LISTED found rows, for the summary
        self.progress = _progress_for(sys.stderr, 0)

    async def execute(self) -> int:
        client = self.target.client
        self.progress.pacing = lambda: client.pacing
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
            await self._cut_short()
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
        unsettled = tally.failed or tally.unknown or tally.found or tally.conflict
        return EXIT_ROWS if unsettled else EXIT_OK

    async def _cut_short(self) -> None:
        """After a second Ctrl-C: the rows whose request had left (``pending`` in the
        journal) are unknown, in OUT and the summary; rows not sent stay unrecorded."""
        journal = self.journal
        if journal is None:
            return
        for index, (line, cid) in sorted(self.lines.items()):
            entry = await journal.get(cid)
            if entry is not None and entry.state is JournalState.PENDING:
                self.tally.unknown += 1
                self.tally.cut += 1
                self._write(line, cid, BulkState.UNKNOWN.value, error=_CUT_TEXT)
            del self.lines[index]

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
            replace_conflicts=self.args.replace_conflicts,
            reissue_expired=self.args.reissue_expired,
            origin=self._origin,
        )
        async with contextlib.aclosing(results):
            async for result in results:
                self._record(result)

    def _origin(self, index: int) -> str | None:
        """Where row ``index`` came from, as the journal records it."""
        found = self.lines.get(index)
        return f"{self.source.path} row {found[0]}" if found is not None else None

    def _feed(self) -> Iterator[SessionRequest]:
        index = 0
        survey = self.survey
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
                if row.line in survey.conflicts:
                    self.tally.conflict += 1
                    error = _in_file_conflict(survey.conflicts[row.line])
                    self._write(row.line, row.client_id, BulkState.CONFLICT.value, error=error)
                    self.progress.update(self.tally)
                    continue
                if row.line in survey.duplicates:  # written with its first row's result
                    self.held.setdefault(survey.duplicates[row.line], []).append(
                        (row.line, row.client_id)
                    )
                    continue
                self.lines[index] = (row.line, row.request.client_id)
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
        line, _ = self.lines.pop(result.index)
        session = result.session
        state = result.state
        tally = self.tally
        if state is BulkState.CREATED:
            tally.created += 1
            tally.replaced += result.replaced
        elif state is BulkState.SKIPPED:
            tally.skipped += 1
            tally.expired += result.expired
        elif state is BulkState.FAILED:
            tally.failed += 1
        elif state is BulkState.FOUND:
            tally.found += 1
        elif state is BulkState.CONFLICT:
            tally.conflict += 1
        else:
            tally.unknown += 1
        tally.maybe_duplicates += result.may_be_duplicate
        found = result.reconciliation if state is BulkState.FOUND else None
        if found is not None and len(self.found) < FOUND_LISTED:
            self.found.append(f"  row {line}, clientId {result.client_id}: {found}")
        scan_ref = session.scan_ref if session else found.scan_ref if found else None
        redirect_url = session.redirect_url if session else None
        error = _error_text(result)
        self._write(
            line,
            result.client_id,
            state.value,
            scan_ref=scan_ref,
            redirect_url=redirect_url,
            error=error,
        )
        for copy, client_id in self.held.pop(line, ()):
            tally.duplicate += 1
            note = f"duplicate of row {line} ({state.value}" + (f": {error})" if error else ")")
            self._write(
                copy,
                client_id,
                "duplicate",
                scan_ref=scan_ref,
                redirect_url=redirect_url,
                error=note,
            )
        self.progress.update(tally)

    def _summary(self, interrupted: bool) -> None:
        t = self.tally
        elapsed = time.monotonic() - self.progress.started
        rows = "row" if t.done == 1 else "rows"
        lines = [
            f"{'Stopped' if interrupted else 'Done'} in {_duration(elapsed)}: {t.done} {rows};"
            f" {t.created} created, {t.skipped} skipped (created earlier), {t.failed} failed"
            f" ({t.invalid} invalid), {t.unknown} unknown"
            + (f", {t.found} found" if t.found else "")
            + (f", {t.conflict} conflict" if t.conflict else "")
            + (f", {t.duplicate} duplicate" if t.duplicate else "")
            + ".",
            f"Results: {self.output.path}",
        ]
        report = self.target.client.pacing
        if report.sent:
            lines.append(
                f"Requests: {report.sent} in {_duration(elapsed)},"
                f" {pace_text(report, elapsed)}"
                + (
                    f" ({100 * report.sent / elapsed / report.configured:.0f}% of the rate)"
                    if report.configured
                    else ""
                )
                + (
                    "; the pace slowed down after each 429 and climbed back"
                    if report.rate_limited
                    else ""
                )
                + "."
            )
        if self.journal_path:
            lines.append(
                f"Journal: {self.journal_path} (the account's record of what was created:"
                " any re-run, from any file, resumes from it)"
            )
        lines += _reconcile_summary(t, self.found, reconciling=not self.args.no_reconcile)
        lines += _ledger_summary(t)
        if t.failed:
            lines.append(
                f"Failed: {t.failed} {_plural(t.failed)}, nothing created for them (see OUT)."
                " A re-run sends rate-limited and other retryable ones again; after fixing"
                " data or credentials, fix INPUT or re-run with --retry-failed."
            )
        if self.target.fake:
            lines.append("FakeIdenfy: nothing was sent to iDenfy.")
        _say("\n".join(lines))


def _reconcile_summary(t: _Tally, found: Sequence[str], *, reconciling: bool) -> list[str]:
    """The summary's lines about rows that may already have a session."""
    lines = []
    if t.found:
        lines.append(
            f"Found: {t.found} {_plural(t.found)} already had a session at iDenfy (an earlier"
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
            f"Unknown: {t.unknown} {_plural(t.unknown)} may have a session although no answer"
            f" was read. {then} do not send them again unless --retry-unknown."
        )
    if t.maybe_duplicates:
        lines.append(
            f"Warning: --retry-unknown sent {t.maybe_duplicates} {_plural(t.maybe_duplicates)}"
            " again that may already have had a session: up to"
            f" {t.maybe_duplicates} duplicate {_plural(t.maybe_duplicates, 'session')}"
            " (a credit each)."
        )
    return lines


def _ledger_summary(t: _Tally) -> list[str]:
    """The summary's lines about rows the account's journal decided."""
    lines = []
    if t.cut:
        lines.append(
            f"In flight: {t.cut} {_plural(t.cut)} had left when the run was stopped; they are"
            " unknown (see OUT). A re-run looks each up in iDenfy's listing before sending"
            " anything for it."
        )
    if t.conflict:
        lines.append(
            f"Conflict: {t.conflict} {_plural(t.conflict)}"
            f" {'reuses' if t.conflict == 1 else 'reuse'} a clientId whose session was"
            " made from other data (another person, or a corrected row); nothing was sent"
            " for them and the earlier link is not given (see OUT). Give each person their"
            " own clientId, or re-run with --replace-conflicts to create a new session for"
            " each (a credit each)."
        )
    if t.replaced:
        lines.append(
            f"Replaced: {t.replaced} new {_plural(t.replaced, 'session')} replaced earlier"
            f" ones (--replace-conflicts or --reissue-expired): {t.replaced}"
            f" {_plural(t.replaced, 'credit')} spent on clientIds that had a session."
        )
    if t.expired:
        lines.append(
            f"Expired: {t.expired} skipped {_plural(t.expired)} have a session whose link has"
            " expired (see OUT); --reissue-expired creates new ones for those without a"
            " result (a credit each)."
        )
    return lines


def _in_file_conflict(first: int) -> str:
    return (
        f"conflict: clientId also on row {first} with other data; nothing is sent for this"
        " row (give it its own clientId)"
    )


def _error_text(result: BulkResult) -> str | None:
    kind: ErrorRecord | None = result.error_kind
    if result.state is BulkState.CONFLICT:
        earlier = result.earlier
        where = earlier.origin if earlier is not None and earlier.origin else "an earlier run"
        what = earlier.state.value if earlier is not None else "created"
        return (
            f"conflict: this clientId has a session ({what}) made from other data, from"
            f" {where}; nothing was sent (--replace-conflicts creates a new one)"
        )
    if result.expired:
        return "expired: the earlier session's link can no longer be started (--reissue-expired)"
    if result.state is BulkState.CREATED and result.replaced:
        return "replaced an earlier session of this clientId (a new credit)"
    if result.state in (BulkState.CREATED, BulkState.SKIPPED):
        return None
    checked = result.reconciliation
    if checked is not None and not result.sent:  # found, or still unknown after asking
        return str(checked) + (f" (after {kind})" if kind is not None else "")
    if kind is None:
        return _INTERRUPTED_TEXT
    text = str(kind)
    return text if result.sent else f"{text} (in an earlier run)"


def _reconcile_option(args: argparse.Namespace) -> bool | ReconcilePolicy:
    """``create_sessions(reconcile=...)`` from --no-reconcile and --settle-window."""
    if args.no_reconcile:
        return False
    return ReconcilePolicy(settle_window=args.settle_window)
