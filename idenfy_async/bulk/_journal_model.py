"""The journal's model: the states a clientId moves through, and what each entry says.

The state machine is drawn atop [`idenfy_async.bulk.journal`][idenfy_async.bulk.journal]:
``pending`` is written before a request leaves, then ``created``, ``failed`` or ``unknown`` once its
answer (or the lack of one) is known, and reconciliation may turn an open row ``found``.
[`Journal`][idenfy_async.Journal] is the whole interface a backend provides (``get`` and ``put``);
[`MemoryJournal`][idenfy_async.MemoryJournal] is the simplest one.
[`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal] adds what workers sharing a journal
need: claims with a lease, apart from the entries. The SQLite backend lives in ``_journal_sqlite``
(storage) and [`idenfy_async.bulk.journal`][idenfy_async.bulk.journal] (its event-loop side), the
PostgreSQL one in ``_journal_postgres``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
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
#: States no worker sends for again (unless told to replace or reissue): claiming
#: such a row answers [`Settled`][idenfy_async.bulk.journal.Settled] and takes no claim.
_SETTLED: Final = (JournalState.CREATED, JournalState.FOUND)


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

    ``fingerprint`` identifies the data that was sent
    ([`request_fingerprint`][idenfy_async.bulk.request_fingerprint]: a hash, never the data), so a
    later row with the same clientId and other data is told apart from a repeat; ``origin`` says
    where the row came from (e.g. ``customers.csv line 4``), for the message that names the earlier
    row. Both are None in entries written before they existed. These two and the two timestamps take
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


# --------------------------------------------------------------------------- claims


@attrs.frozen
class Claimed:
    """The row is this worker's until its lease ends: ``entry`` is what the journal
    holds for it (None: never sent, so safe to send; ``pending`` or ``unknown``: a
    session may exist, reconcile first)."""

    entry: JournalEntry | None


@attrs.frozen
class HeldByOther:
    """Another worker holds the row (its lease has not ended): leave it to that one."""

    owner: str
    lease_until: float  #: wall-clock seconds since the epoch


@attrs.frozen
class Settled:
    """The row is ``created`` or ``found``: nothing to send, no claim taken."""

    entry: JournalEntry


#: What [`ClaimingJournal.claim`][idenfy_async.bulk.journal.ClaimingJournal.claim] answers.
ClaimResult = Claimed | HeldByOther | Settled


class ClaimingJournal(Journal, Protocol):
    """A [`Journal`][idenfy_async.Journal] that several workers share: each row is claimed before
    its quota token is taken, so no two workers send for one clientId.

    A worker claims a row (``claim``), writes its ``pending`` entry with
    ``put_claimed`` (refused once the claim is lost: then it must not send), sends,
    writes the outcome (``put``) and lets the row go (``unclaim``). A claim lasts
    ``lease_seconds``; ``renew`` extends all of a worker's claims (call it well within
    the lease while rows are in flight). A worker that dies leaves two kinds of rows:
    claimed and never sent (no entry: certainly not sent, taken over by the next claim
    once the lease ended) and ``pending`` (maybe sent: the next claimer reconciles it
    against iDenfy's listing). Leases are on the workers' wall clocks: keep the
    machines' clocks in sync (NTP) far within a lease.
    """

    async def claim(
        self, client_id: str, owner: str, lease_seconds: float, *, take_settled: bool = False
    ) -> ClaimResult:
        """Claim ``client_id`` for ``owner``: [`Claimed`][idenfy_async.bulk.journal.Claimed] when it
        was free, its lease had ended, or ``owner`` held it already (the lease starts again);
        [`HeldByOther`][idenfy_async.bulk.journal.HeldByOther] when another worker's lease runs;
        [`Settled`][idenfy_async.bulk.journal.Settled] when it is ``created`` or ``found`` (unless
        ``take_settled``: then it is claimed too)."""
        ...

    async def put_claimed(self, entry: JournalEntry, owner: str) -> bool:
        """Store ``entry`` like ``put`` if ``owner`` still holds its row's claim, in one
        step; False (nothing stored) when the claim was lost: do not send then."""
        ...

    async def unclaim(self, client_id: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``client_id`` (its outcome is recorded, or the row
        was left unsent): the next claim takes it at once."""
        ...

    async def renew(self, owner: str, lease_seconds: float) -> int:
        """Start the lease of every claim ``owner`` holds again; how many it holds."""
        ...


def _claim_rule(
    entry: JournalEntry | None,
    holder: tuple[str, float] | None,
    owner: str,
    now: float,
    *,
    take_settled: bool,
) -> ClaimResult | None:
    """The claim rules, for backends that keep claims in the process; None: claim it.

    ``holder`` is the current claim (owner, lease end). The order matters: a settled
    row needs no claim whoever holds it; a running lease of another worker wins over
    anything else; an ended lease, or one's own, is taken.
    """
    if entry is not None and entry.state in _SETTLED and not take_settled:
        return Settled(entry)
    if holder is not None and holder[0] != owner and holder[1] > now:
        return HeldByOther(owner=holder[0], lease_until=holder[1])
    return None


class _LocalClaims:
    """Claims kept in the process: enough where only one process can open the journal
    (an SQLite file is locked to one run; a MemoryJournal is one process's), since a
    dead process's claims die with it. Every method runs on the event loop, without
    awaiting, so a check and the write it guards are one step."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.held: dict[str, tuple[str, float]] = {}

    def take(
        self,
        client_id: str,
        entry: JournalEntry | None,
        owner: str,
        lease_seconds: float,
        *,
        take_settled: bool,
    ) -> ClaimResult:
        now = self.clock()
        ruled = _claim_rule(entry, self.held.get(client_id), owner, now, take_settled=take_settled)
        if ruled is not None:
            return ruled
        self.held[client_id] = (owner, now + lease_seconds)
        return Claimed(entry)

    def holds(self, client_id: str, owner: str) -> bool:
        holder = self.held.get(client_id)
        return holder is not None and holder[0] == owner and holder[1] > self.clock()

    def unclaim(self, client_id: str, owner: str) -> None:
        holder = self.held.get(client_id)
        if holder is not None and holder[0] == owner:
            del self.held[client_id]

    def renew(self, owner: str, lease_seconds: float) -> int:
        until = self.clock() + lease_seconds
        mine = [cid for cid, (who, _) in self.held.items() if who == owner]
        for client_id in mine:
            self.held[client_id] = (owner, until)
        return len(mine)


class MemoryJournal:
    """A [`ClaimingJournal`][idenfy_async.bulk.journal.ClaimingJournal] in a dict: for tests, and
    for runs against an in-process fake. ``clock`` is the wall clock claims' leases are read on."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.entries: dict[str, JournalEntry] = {}
        self._claims = _LocalClaims(clock)

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

    async def claim(
        self, client_id: str, owner: str, lease_seconds: float, *, take_settled: bool = False
    ) -> ClaimResult:
        entry = await self.get(client_id)
        return self._claims.take(client_id, entry, owner, lease_seconds, take_settled=take_settled)

    async def put_claimed(self, entry: JournalEntry, owner: str) -> bool:
        if not self._claims.holds(entry.client_id, owner):
            return False
        await self.put(entry)  # no await before it: the check and the write are one step
        return True

    async def unclaim(self, client_id: str, owner: str) -> None:
        self._claims.unclaim(client_id, owner)

    async def renew(self, owner: str, lease_seconds: float) -> int:
        return self._claims.renew(owner, lease_seconds)
