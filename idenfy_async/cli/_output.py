"""OUT, the results file: one line per row (JSONL or CSV), created owner-only because
redirect URLs carry authTokens; a failed write is kept, never raised."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

from ._common import _InputError

#: Lines are written as rows finish (completion order, not input order): ``row`` is the
#: INPUT line each one is about. ``fake`` is true on every line of a run against the
#: built-in fake (its links lead nowhere), false against iDenfy, null in a --dry-run
#: report (nothing was sent).
OUTPUT_FIELDS: Final = ("row", "clientId", "status", "scanRef", "redirectUrl", "error", "fake")


class _Output:
    """OUT: one line per row, written as rows finish.

    Created readable by its owner only, like the journal: redirect URLs carry
    authTokens. A write that fails (disk full) is kept in :attr:`error`, never raised:
    the run then stops sending and reports it (the journal has every outcome).
    """

    def __init__(self, path: str, *, fake: bool | None) -> None:
        suffix = Path(path).suffix.lower()
        self.fake = fake
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
        values = (row, client_id, status, scan_ref, redirect_url, error, self.fake)
        if self._csv is not None:
            cells = [
                "" if v is None else str(v).lower() if isinstance(v, bool) else v for v in values
            ]
            self._guarded(self._csv.writerow, cells)
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
