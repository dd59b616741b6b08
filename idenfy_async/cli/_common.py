"""What every part of the command shares: the one-line input error, the two output
channels (messages for people on stderr, results for scripts on stdout), wording helpers
and the defaults the options and the bulk run both use."""

from __future__ import annotations

import sys
from typing import Final

from .._constants import DEFAULT_ACCOUNT_RATE

#: iDenfy's default account limit; pass --rate to match yours, or --rate none.
DEFAULT_RATE: Final = DEFAULT_ACCOUNT_RATE
JOURNAL_SUFFIX: Final = ".journal.sqlite"
#: The journal of runs against the in-process fake: apart from the real one, so that
#: a rehearsal resumes like a real run yet never blocks (or feeds) the real journal.
FAKE_JOURNAL_SUFFIX: Final = ".fake.journal.sqlite"
#: Where ``fake ...`` looks for a fake-server when neither --server nor IDENFY_BASE_URL says.
DEFAULT_FAKE_SERVER: Final = "http://127.0.0.1:8080"


class _InputError(Exception):
    """A usage or input problem: reported in one line, exit 2, nothing sent."""


def _say(text: str) -> None:
    """One message for the person running the command (stderr: OUT may be stdout one day)."""
    # A lone surrogate from INPUT (a JSON "\ud800" in a clientId) is shown escaped.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _print(text: str) -> None:
    """A result line for scripts (stdout), unlike _say's messages for people (stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _plural(count: int, noun: str = "row") -> str:
    """``noun``, with an s unless ``count`` is 1."""
    return noun if count == 1 else noun + "s"


def _duration(seconds: float) -> str:
    """``7s``, ``3m05s``, ``2h10m``: for ETAs and summaries."""
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
