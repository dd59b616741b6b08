"""The account's journal: where ``bulk`` records what iDenfy billed, one file per account.

What was paid for is a fact about (account, clientId), not about an input file: a
renamed, corrected or re-exported INPUT must find the same record, or it pays again.
So the default journal lives in the user's state directory (the platform's convention,
``platformdirs``), named from a keyed hash of the base URL and API key (never the key
itself); the built-in fake has its own. ``--journal FILE`` still chooses another, and
``$IDENFY_JOURNAL_DIR`` moves the directory (e.g. onto a volume a scheduler keeps).
``--journal postgresql://...`` (or ``$IDENFY_JOURNAL_URL``) keeps it in PostgreSQL
instead, where workers on several machines share it, keyed by the account.

Journals of earlier versions sat beside INPUT (``INPUT.journal.sqlite``); the first run
that finds one folds its rows into the account's journal and renames it ``*.migrated``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
from pathlib import Path
from typing import Final

from .._constants import ENV_JOURNAL_DIR, ENV_JOURNAL_URL
from ..bulk.journal import (
    POSTGRES_SCHEMES,
    JournalError,
    JournalMismatchError,
    PostgresJournal,
    SqliteJournal,
    journal_for,
)
from ._common import FAKE_JOURNAL_SUFFIX, JOURNAL_SUFFIX, _InputError, _say

#: The key of the hash that names an account's journal: the name says which account
#: without letting anyone who reads the directory recover or test an API key by a
#: plain hash of it.
_NAME_KEY: Final = b"idenfy-async journal name v1"
#: The built-in fake's journal: apart from every real account's.
FAKE_JOURNAL_NAME: Final = "fake.journal.sqlite"
MIGRATED_SUFFIX: Final = ".migrated"


def journal_dir() -> Path:
    """Where the accounts' journals live: ``$IDENFY_JOURNAL_DIR``, else the user's
    state directory (``~/.local/state/idenfy-async`` on Linux)."""
    given = os.environ.get(ENV_JOURNAL_DIR)
    if given:
        return Path(given)
    import platformdirs  # only the CLI needs it, and only here

    return Path(platformdirs.user_state_dir("idenfy-async", appauthor=False))


def account_journal_name(base_url: str, api_key: str) -> str:
    """The file name of one account's journal on one server."""
    message = f"{base_url.rstrip('/')}\n{api_key}".encode()
    digest = hmac.new(_NAME_KEY, message, hashlib.sha256).hexdigest()[:24]
    return f"account-{digest}.journal.sqlite"


def is_url(where: str | None) -> bool:
    """Whether ``where`` is a PostgreSQL URL rather than a file."""
    return where is not None and where.startswith(POSTGRES_SCHEMES)


def _journal_path(args: argparse.Namespace, name: str) -> str | None:
    """--journal, else ``$IDENFY_JOURNAL_URL``, else the account's journal ``name`` in
    `journal_dir` (created owner-only); None with --no-journal."""
    if args.no_journal:
        if args.journal:
            raise _InputError("--journal and --no-journal exclude each other")
        return None
    if args.journal:
        return str(args.journal)
    url = os.environ.get(ENV_JOURNAL_URL)
    if url:
        return url
    directory = journal_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise _InputError(
            f"cannot create the journal directory {directory}: {exc.strerror or exc};"
            " set IDENFY_JOURNAL_DIR or give --journal FILE"
        ) from exc
    return str(directory / name)


def _open_journal(
    where: str, *, scope: str, claim_lease: float | None = None
) -> SqliteJournal | PostgresJournal:
    """The journal ``where`` names (a file or a ``postgresql://`` URL), not yet open;
    ``claim_lease`` (--claim-lease) applies to a PostgreSQL one, where workers claim rows."""
    journal = journal_for(where, scope=scope)
    if isinstance(journal, PostgresJournal):
        journal.claim_lease = claim_lease
    return journal


def _shown(where: str) -> str:
    """``where`` as messages show it: a URL without its password."""
    return PostgresJournal(where).path if is_url(where) else where


def _old_journal(args: argparse.Namespace, fake: bool) -> Path | None:
    """The per-file journal an earlier version kept beside INPUT, if there is one and
    no --journal was given."""
    if args.journal or args.no_journal:
        return None
    old = Path(str(args.input) + (FAKE_JOURNAL_SUFFIX if fake else JOURNAL_SUFFIX))
    return old if old.is_file() else None


async def _fold_in(old: Path, journal: SqliteJournal | PostgresJournal, *, scope: str) -> None:
    """Copy the rows of ``old`` that ``journal`` lacks into it, then rename ``old``
    (read once); a journal of another account is left alone, with a message."""
    try:
        async with SqliteJournal(old, scope=scope) as previous:
            entries = await previous.entries()
    except JournalMismatchError:
        _say(f"idenfy-async: {old} belongs to other credentials or another server: left alone.")
        return
    except JournalError as exc:
        raise _InputError(f"cannot read the earlier journal {old}: {exc}") from exc
    added = 0
    for entry in entries:
        if await journal.get(entry.client_id) is None:
            await journal.put(entry)
            added += 1
    renamed = old.with_name(old.name + MIGRATED_SUFFIX)
    os.replace(old, renamed)
    _say(
        f"idenfy-async: folded {added} of {len(entries)} rows of the per-file journal {old}"
        f" into the account's journal {journal.path}; the old file is now {renamed.name}."
    )
