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

from ._common import _InputError, _say

#: Lines are written as rows finish (completion order, not input order): ``row`` is the
#: INPUT line each one is about. ``fake`` is true on every line of a run against the
#: built-in fake (its links lead nowhere), false against iDenfy, null in a --dry-run
#: report (nothing was sent).
OUTPUT_FIELDS: Final = ("row", "clientId", "status", "scanRef", "redirectUrl", "error", "fake")
_BINARY: Final = getattr(os, "O_BINARY", 0)
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_LINK_REFUSED: Final = (
    "{path} is a symbolic link: give OUT's real path (a link is followed only to a device"
    " such as /dev/stdout)"
)


def _open_out(path: str) -> int:
    """A descriptor to write OUT: a new file created owner-only, else the existing one.

    An existing file keeps its mode (we did not create it: not ours to change). A
    symbolic link is followed only to a device or pipe (``/dev/stdout``): a link to a
    file, or to nothing, may be someone else's trap, and is refused.
    """
    try:
        # O_EXCL: a symbolic link, even to nothing, is "existing", never followed here.
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise _InputError(f"{path}: {exc.strerror}") from exc
    if not _NOFOLLOW and os.path.islink(path):  # pragma: no cover (Windows)
        raise _InputError(_LINK_REFUSED.format(path=path))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | _NOFOLLOW | _BINARY)
    except OSError as exc:
        if not os.path.islink(path):
            raise _InputError(f"{path}: {exc.strerror}") from exc
    else:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and mode & 0o044:
            _say(
                f"idenfy-async: note: {path} is readable by other users (mode"
                f" {stat.S_IMODE(mode):04o}); it will hold authTokens. Left as it is."
            )
        return fd
    # A link: opened without O_TRUNC, and kept only when it reached no regular file
    # (checked on the descriptor: the link may have changed since).
    try:
        fd = os.open(path, os.O_WRONLY | _BINARY)
    except OSError as exc:
        raise _InputError(_LINK_REFUSED.format(path=path)) from exc
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _InputError(_LINK_REFUSED.format(path=path))
    return fd


class _Output:
    """OUT: one line per row, written as rows finish.

    Created readable by its owner only, like the journal: redirect URLs carry
    authTokens (an existing file keeps its mode, with a note). A write that fails
    (disk full) is kept in `error`, never raised: the run then stops sending
    and reports it (the journal has every outcome).
    """

    def __init__(self, path: str, *, fake: bool | None) -> None:
        suffix = Path(path).suffix.lower()
        self.fake = fake
        fd = _open_out(path)
        try:
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
