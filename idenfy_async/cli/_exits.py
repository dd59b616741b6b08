"""The command's exit codes and what each means: the one table the help text, the module
docstring and the README/docs sentence are written from (a test holds the docs to it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

EXIT_OK: Final = 0
EXIT_ROWS: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

#: ``idenfy-async bulk`` (and the command as a whole): code -> meaning.
EXIT_CODES: Final[Mapping[int, str]] = {
    EXIT_OK: "every row created, now or earlier (--dry-run: every row valid)",
    EXIT_ROWS: "some rows failed, are unknown or in conflict, or were found without their"
    " token (see OUT), or the run stopped because OUT or the journal could not be written or"
    " INPUT became unreadable or changed (--dry-run: some rows are invalid or in conflict)",
    EXIT_USAGE: "usage or input error (nothing sent)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)",
}

#: ``idenfy-async fake ...``: code -> meaning.
FAKE_EXIT_CODES: Final[Mapping[int, str]] = {
    EXIT_OK: "done (webhook: the app answered 2xx)",
    EXIT_ROWS: "the fake refused or could not be reached, or the app answered otherwise",
    EXIT_USAGE: "usage error",
}


def exit_codes_text(codes: Mapping[int, str] = EXIT_CODES) -> str:
    """One sentence for help epilogs and docs: ``Exit codes: 0 ...; 1 ...; 130 ....``"""
    return "Exit codes: " + "; ".join(f"{code} {text}" for code, text in codes.items()) + "."


def exit_codes_list(codes: Mapping[int, str] = EXIT_CODES) -> str:
    """The same as a reStructuredText bullet list (the package docstring's)."""
    return "Exit codes:\n\n" + "\n".join(f"* {code}: {text}" for code, text in codes.items())
