"""The journal's model: the states a clientId moves through, and what each entry says.

The state machine is drawn atop :mod:`idenfy_async.bulk.journal`: ``pending`` is written
before a request leaves, then ``created``, ``failed`` or ``unknown`` once its answer
(or the lack of one) is known, and reconciliation may turn an open row ``found``.
:class:`Journal` is the whole interface a backend provides (``get`` and ``put``);
:class:`MemoryJournal` is the simplest one. The SQLite backend lives in
``_journal_sqlite`` (storage) and :mod:`idenfy_async.bulk.journal` (its event-loop side).
"""

from __future__ import annotations

import enum
from typing import Final, Protocol

import attrs

from ..errors import (
    APIConnectionError,
    APIError,
    IdenfyError,
    RequestValidationError,
)
from .reconcile import ReconcileReason


class JournalState(str, enum.Enum):
    """Where one clientId stands."""

    PENDING = "pending"  #: committed before sending; still there after a crash mid-request
    CREATED = "created"  #: the session exists: scanRef, authToken, redirectUrl recorded
    FAILED = "failed"  #: iDenfy created nothing
    UNKNOWN = "unknown"  #: a session may exist although no usable answer was read
    #: reconciliation found the session (scanRef, status); its authToken is lost
    FOUND = "found"


#: States whose outcome is open: a session may exist.
_OPEN: Final = (JournalState.PENDING, JournalState.UNKNOWN)


@attrs.frozen(kw_only=True)
class ErrorRecord:
    """What an error was, without the error object: what the journal keeps.

    ``retryable`` says a later run may send the row again: nothing was created and
    the cause can pass (rate limit, 503, connection never made, out of credits).
    """

    name: str  #: the exception class name, e.g. ``"RateLimitError"``
    retryable: bool
    status_code: int | None = None
    identifier: str | None = None
    message: str | None = None  #: iDenfy's short text or the broken rules; never a value

    @classmethod
    def from_error(cls, exc: IdenfyError, *, retryable: bool) -> ErrorRecord:
        """Describe ``exc`` (messages from errors never carry personal data)."""
        status = identifier = message = None
        if isinstance(exc, APIError):
            status, identifier, message = exc.status_code, exc.identifier, exc.message
        elif isinstance(exc, RequestValidationError):
            message = "; ".join(str(p) for p in exc.problems)
        elif isinstance(exc, APIConnectionError):
            message = exc.reason
        return cls(
            name=type(exc).__name__,
            retryable=retryable,
            status_code=status,
            identifier=identifier,
            message=message,
        )

    def __str__(self) -> str:
        status = f"HTTP {self.status_code}" if self.status_code else None
        facts = " ".join(f for f in (status, self.identifier) if f)
        text = f"{self.name} ({facts})" if facts else self.name
        return f"{text}: {self.message}" if self.message else text


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One clientId's state. ``attempts`` counts requests sent for it, over all runs.

    ``pending_at`` is the wall-clock time (seconds since the epoch) the row last went
    pending, kept while its outcome is open. Reconciliation records, for a ``found``
    row, the session's ``scan_ref``, its listed ``verification_status`` and, while
    it is open, when it ``expires_at``; for any row it reconciled, the rule that
    decided (``reconciled``). For a ``created`` row, ``expires_at`` is when its
    session can no longer be started (``expiryTime`` after it was created).

    ``fingerprint`` identifies the data that was sent (:func:`request_fingerprint`: a
    hash, never the data), so a later row with the same clientId and other data is
    told apart from a repeat; ``origin`` says where the row came from (e.g.
    ``customers.csv line 4``), for the message that names the earlier row. Both are
    None in entries written before they existed. These two and the two timestamps take
    no part in ``==``: entries are equal when they say the same about the row's outcome.
    """

    client_id: str
    state: JournalState
    scan_ref: str | None = None
    auth_token: str | None = attrs.field(default=None, repr=False)
    redirect_url: str | None = attrs.field(default=None, repr=False)
    error: ErrorRecord | None = None
    attempts: int = 0
    pending_at: float | None = attrs.field(default=None, eq=False)
    verification_status: str | None = None
    expires_at: float | None = attrs.field(default=None, eq=False)
    reconciled: ReconcileReason | None = None
    fingerprint: str | None = attrs.field(default=None, eq=False)
    origin: str | None = attrs.field(default=None, eq=False)


class Journal(Protocol):
    """Where bulk creation records each clientId; ``put`` is durable when it returns."""

    async def get(self, client_id: str) -> JournalEntry | None:
        """The entry for ``client_id``, or None if it was never sent."""
        ...

    async def put(self, entry: JournalEntry) -> None:
        """Store ``entry`` in place of any earlier one, durably, before returning."""
        ...


class MemoryJournal:
    """A :class:`Journal` in a dict: for tests, and for runs against an in-process fake."""

    def __init__(self) -> None:
        self.entries: dict[str, JournalEntry] = {}

    async def get(self, client_id: str) -> JournalEntry | None:
        return self.entries.get(client_id)

    async def put(self, entry: JournalEntry) -> None:
        self.entries[entry.client_id] = entry

    async def counts(self) -> dict[JournalState, int]:
        """How many clientIds are in each state."""
        counts = dict.fromkeys(JournalState, 0)
        for entry in self.entries.values():
            counts[entry.state] += 1
        return counts

    async def open_entries(self) -> list[JournalEntry]:
        """Entries still ``pending`` or ``unknown``: what a re-run reconciles first."""
        return [e for e in self.entries.values() if e.state in _OPEN]
