"""What the person running ``bulk`` sees while it runs: the counts so far, and a
progress line (rich's bar on a terminal with the ``[cli]`` extra, plain lines otherwise)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, TextIO

import attrs

from .. import PaceReport
from ._common import _duration

#: Seconds between progress lines: redrawn in place on a terminal, appended otherwise.
PROGRESS_EVERY_TTY: Final = 0.2
PROGRESS_EVERY_PLAIN: Final = 10.0


@attrs.define
class _Tally:
    created: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    invalid: int = 0  #: counted in ``failed`` too
    found: int = 0  #: sessions reconciliation found (their authTokens are lost)
    maybe_duplicates: int = 0  #: sent although a session may exist (--retry-unknown)
    conflict: int = 0  #: a clientId with a session made from other data: nothing sent
    duplicate: int = 0  #: an exact repeat of an earlier row of INPUT: its result
    replaced: int = 0  #: counted in ``created``: a new session replaced an earlier one
    expired: int = 0  #: counted in ``skipped``: the earlier session's link has expired
    cut: int = 0  #: counted in ``unknown``: in flight when a second Ctrl-C stopped the run

    @property
    def done(self) -> int:
        return (
            self.created
            + self.skipped
            + self.failed
            + self.unknown
            + self.found
            + self.conflict
            + self.duplicate
        )


class _Progress:
    """A plain progress line: redrawn in place on a terminal, periodic otherwise.

    On a terminal with the ``[cli]`` extra (rich) installed, `_RichProgress`
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
        #: the client's pacing so far, shown beside the counts (set by the run)
        self.pacing: Callable[[], PaceReport] | None = None

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
        pace = f" | {pace_text(self.pacing(), elapsed)}" if self.pacing is not None else ""
        return (
            f"{done}/{total} rows{share} | {tally.created} created, {tally.skipped} skipped,"
            f" {tally.failed} failed, {tally.unknown} unknown | {rate:.1f} rows/s{pace}"
            f" | ETA {eta}"
        )


def pace_text(report: PaceReport, elapsed: float) -> str:
    """Requests sent per second beside the configured rate, and the 429s seen:
    ``9.7 req/s of 10/s, 1 x 429``."""
    sent = report.sent / max(elapsed, 1e-9)
    text = f"{sent:.1f} req/s"
    if report.configured is not None:
        text += f" of {report.configured:.3g}/s"
    if report.rate_limited:
        text += f", {report.rate_limited} x 429"
    return text


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
        self.pacing: Callable[[], PaceReport] | None = None  #: as _Progress.pacing
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
            TextColumn("{task.fields[rate]:.1f}/s {task.fields[pace]}"),
            TimeRemainingColumn(compact=True),
            console=console if console is not None else Console(stderr=True),
            get_time=clock,
            auto_refresh=auto_refresh,
            transient=True,  # the summary replaces it
        )
        self._task = self._progress.add_task(
            "rows",
            total=total or None,
            created=0,
            skipped=0,
            failed=0,
            unknown=0,
            rate=0.0,
            pace="",
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
            pace=pace_text(self.pacing(), elapsed) if self.pacing is not None else "",
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
