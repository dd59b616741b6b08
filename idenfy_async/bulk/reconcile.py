"""Reconciliation: ask iDenfy whether a create whose answer was lost made a session.

iDenfy has no idempotency key. When ``POST /api/v2/token`` ends without a usable
answer (read timeout, connection lost after sending, 5xx, a process killed
mid-request) a session may exist and may have cost a credit. Sending again blindly
can pay twice; never sending again can leave a customer without a session. The
clientId's listing (``GET /kyc/identifications/?clientId=...``) settles most cases.
It gives only ``scanRef``, ``status`` and ``suspected`` per verification, no
timestamps, so this attempt's session is told from older ones by what is known
locally. The rules, in order ([`decide`][idenfy_async.bulk.reconcile.decide]; each is a row of the
tests' table):

1. The attempt itself read a scanRef (e.g. in a ``ResponseDecodeError``): **found**.
2. The listing failed: **unknown** (never a reason to send).
3. Candidates are the listed sessions that are not known to predate the attempt
   (``known_scan_refs``) and whose status this attempt's session could have. Its
   authToken never reached anyone, so nobody can have opened it: it is ``ACTIVE``,
   or ``EXPIRED`` once the request's ``expiry_time`` can have passed (any time, if
   the request set none: the account's default is not known here), or
   deleted/archived (or a status this library does not know). ``APPROVED``,
   ``DENIED``, ``SUSPECTED`` and ``REVIEWING`` need a user, so such a session is
   older (unless the request asked for a ``dummyStatus``, which creates a finished
   verification).
4. Two candidates or more: **unknown** (they cannot be told apart).
5. Within ``settle_window`` seconds after the attempt went pending: **unknown**,
   with ``retry_at``. Assumption: iDenfy documents neither how soon a new session
   appears in the listing nor whether a never-opened one appears at all; we
   assume it does, within the window (which also covers a request the server
   processes late, after the client gave up). Not listed is not "not created"
   before the window has passed; one candidate might be an older session while
   ours is not listed yet. Without the attempt's time the window never passes.
6. One candidate: **found**. Its authToken cannot be recovered (iDenfy returns it
   only in the create answer): the scanRef and status are all there is.
7. No candidate: **not found**, safe to send.

Every rule errs towards "unknown": a wrong "not found" pays twice, a wrong
"unknown" only asks a person to look.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Final, Protocol, runtime_checkable

import attrs

from .._constants import DEFAULT_SETTLE_WINDOW as DEFAULT_SETTLE_WINDOW  # see rule 5
from ..errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    IdenfyError,
    ResponseDecodeError,
)
from ..models._open_enums import OverallStatus
from ..models._results import VerificationSummary

__all__ = [
    "DEFAULT_EXPIRY_TIME",
    "DEFAULT_SETTLE_WINDOW",
    "ReconcileOutcome",
    "ReconcilePolicy",
    "ReconcileReason",
    "Reconciliation",
    "VerificationLister",
    "decide",
    "reconcile_session",
]

#: iDenfy's default ``expiryTime`` (seconds a token can be started), per the "Create
#: Verification Session" page (older pages said 3600; an account may set its own).
#: Used only to tell when a found session expires, never to decide.
DEFAULT_EXPIRY_TIME: Final = 86_400

#: Statuses a session reaches only once a user opened it with its authToken. Compared
#: as wire values: the listing gives OverallStatus members or, for new values, plain str.
_NEEDS_A_USER: Final = frozenset({"APPROVED", "DENIED", "SUSPECTED", "REVIEWING"})
_EXPIRED: Final = frozenset({"EXPIRED", "EXPIRED-DELETED"})


class ReconcileOutcome(str, enum.Enum):
    """What reconciliation concluded about one create attempt."""

    FOUND = "found"  #: a session this attempt created exists (its authToken is lost)
    NOT_FOUND = "not_found"  #: iDenfy has no session from this attempt: safe to send
    UNKNOWN = "unknown"  #: cannot tell; never send automatically


class ReconcileReason(str, enum.Enum):
    """Why: which rule of the module docstring decided."""

    SEEN = "seen"  #: found: the attempt itself read the scanRef
    ONLY_CANDIDATE = "only_candidate"  #: found: one listed session can be this attempt's
    NONE_LISTED = "none_listed"  #: not found: nothing listed after the settle window
    LISTING_FAILED = "listing_failed"  #: unknown: the listing could not be read
    AMBIGUOUS = "ambiguous"  #: unknown: several sessions cannot be told apart
    TOO_SOON = "too_soon"  #: unknown: within the settle window; ask again at ``retry_at``
    NO_TIMESTAMP = "no_timestamp"  #: unknown: when the attempt was sent is not recorded
    NOT_CHECKED = "not_checked"  #: unknown: reconciliation was switched off


@attrs.frozen(kw_only=True)
class Reconciliation:
    """The answer for one clientId: found, not found or unknown, and why.

    For a found session: ``scan_ref``, its listed ``status`` (None when the attempt
    read the scanRef but the listing does not show it yet) and, while it is open,
    ``expires_at`` (wall-clock seconds: when the attempt went pending plus the
    requested ``expiry_time`` or
    [`DEFAULT_EXPIRY_TIME`][idenfy_async.bulk.reconcile.DEFAULT_EXPIRY_TIME]; the token was created
    a moment later, so it lasts at least that long). Its authToken cannot be recovered.
    ``candidates`` lists the scanRefs that could not be told apart, ``retry_at`` when asking again
    can decide (``TOO_SOON``), ``error`` why the listing failed. ``str()`` says it in one line,
    without personal data.
    """

    outcome: ReconcileOutcome
    reason: ReconcileReason
    scan_ref: str | None = None
    status: OverallStatus | str | None = None
    expires_at: float | None = None
    candidates: tuple[str, ...] = ()
    retry_at: float | None = None
    error: IdenfyError | None = attrs.field(default=None, eq=False)

    @property
    def is_open(self) -> bool:
        """True when the found session is ``ACTIVE`` (its token unused and valid)."""
        return self.status == OverallStatus.ACTIVE

    def __str__(self) -> str:
        reason = self.reason
        if self.outcome is ReconcileOutcome.FOUND:
            if self.status is None:
                state = "not listed yet"
            elif self.is_open:
                state = "ACTIVE (open)"
                if self.expires_at is not None:
                    state += f", expires about {_utc(self.expires_at)}"
            else:
                state = f"{self.status} (already finished)"
            return f"found session {self.scan_ref}: {state}; its authToken cannot be recovered"
        if reason is ReconcileReason.NONE_LISTED:
            return "not found: iDenfy lists no session from this attempt; safe to send"
        if reason is ReconcileReason.LISTING_FAILED:
            why = f": {type(self.error).__name__}" if self.error is not None else ""
            return f"still unknown: the listing could not be read{why}"
        if reason is ReconcileReason.AMBIGUOUS:
            return (
                f"still unknown: {len(self.candidates)} sessions could be this attempt's and"
                f" cannot be told apart ({', '.join(self.candidates)})"
            )
        if reason is ReconcileReason.TOO_SOON:
            when = f" after {_utc(self.retry_at)}" if self.retry_at is not None else ""
            return f"still unknown: sent too recently for the listing to be sure; ask again{when}"
        if reason is ReconcileReason.NO_TIMESTAMP:
            return "still unknown: when the request was sent is not recorded"
        return "unknown: not checked with iDenfy (reconciliation off)"


@runtime_checkable
class VerificationLister(Protocol):
    """What reconciliation needs from a client (``AsyncIdenfy`` is one)."""

    def list_verifications(
        self, client_id: str | None = None
    ) -> AsyncIterator[VerificationSummary]:
        """Every verification of ``client_id``, all pages."""
        ...


@attrs.frozen(kw_only=True)
class ReconcilePolicy:
    """How bulk runs reconcile (``create_sessions(reconcile=ReconcilePolicy(...))``).

    Args:
        settle_window: see rule 5 of the module docstring (seconds, at least 0).
        wait: a row still within the window waits until it has passed, then the
            clientId is listed once more; False leaves it unknown at once.
        wall_clock: seconds since the epoch; stamps rows ``pending`` and dates
            reconciliation (inject one in tests).
        sleep: how the wait passes.
    """

    settle_window: float = attrs.field(default=DEFAULT_SETTLE_WINDOW)
    wait: bool = True
    wall_clock: Callable[[], float] = attrs.field(default=time.time, eq=False)
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, eq=False)

    @settle_window.validator
    def _check(self, _: object, value: float) -> None:
        _check_window(value)


def decide(
    listing: Sequence[VerificationSummary] | None,
    *,
    since: float | None,
    now: float,
    known_scan_refs: Iterable[str] = (),
    scan_ref: str | None = None,
    expiry_time: int | None = None,
    dummy: bool = False,
    settle_window: float = DEFAULT_SETTLE_WINDOW,
    error: IdenfyError | None = None,
) -> Reconciliation:
    """Apply the module docstring's rules to one clientId; pure, no I/O.

    Args:
        listing: the clientId's verifications (every page), or None if the listing
            failed (``error`` says why).
        since: wall-clock seconds when the attempt went pending (just before its
            request left), or None if unknown.
        now: wall-clock seconds when the listing was asked for (before its first page).
        known_scan_refs: scanRefs known to predate the attempt (sessions you stored
            for this clientId); any other listed session may be this attempt's.
        scan_ref: a scanRef the attempt itself read, if any.
        expiry_time: the ``expiry_time`` the request asked for, if any.
        dummy: the request asked for a ``dummyStatus`` (created already finished).
        settle_window: seconds after ``since`` before "not listed" counts.
        error: why the listing failed, kept in the result.

    Raises:
        ConfigurationError: ``settle_window`` is negative or not a number.
    """
    # Over 60 lines only by its docstring: the body is the module docstring's seven
    # rules in order, one early return each, and reads best as one piece.
    _check_window(settle_window)
    by_ref = {s.scan_ref: s for s in listing or ()}
    if scan_ref is not None:  # rule 1
        summary = by_ref.get(scan_ref)
        return _found(
            ReconcileReason.SEEN, scan_ref, summary.status if summary else None, since, expiry_time
        )
    if listing is None:  # rule 2
        return Reconciliation(
            outcome=ReconcileOutcome.UNKNOWN, reason=ReconcileReason.LISTING_FAILED, error=error
        )
    known = set(known_scan_refs)
    candidates = [
        s
        for s in by_ref.values()
        if s.scan_ref not in known and _could_be_ours(s.status, since, now, expiry_time, dummy)
    ]  # rule 3
    if len(candidates) > 1:  # rule 4
        return Reconciliation(
            outcome=ReconcileOutcome.UNKNOWN,
            reason=ReconcileReason.AMBIGUOUS,
            candidates=tuple(s.scan_ref for s in candidates),
        )
    if since is None:  # rule 5
        return Reconciliation(outcome=ReconcileOutcome.UNKNOWN, reason=ReconcileReason.NO_TIMESTAMP)
    if now < since + settle_window:
        return Reconciliation(
            outcome=ReconcileOutcome.UNKNOWN,
            reason=ReconcileReason.TOO_SOON,
            retry_at=since + settle_window,
            candidates=tuple(s.scan_ref for s in candidates),
        )
    if candidates:  # rule 6
        only = candidates[0]
        return _found(
            ReconcileReason.ONLY_CANDIDATE, only.scan_ref, only.status, since, expiry_time
        )
    return Reconciliation(  # rule 7
        outcome=ReconcileOutcome.NOT_FOUND, reason=ReconcileReason.NONE_LISTED
    )


async def reconcile_session(
    client: VerificationLister,
    client_id: str,
    *,
    since: float | None,
    known_scan_refs: Iterable[str] = (),
    scan_ref: str | None = None,
    expiry_time: int | None = None,
    dummy: bool = False,
    settle_window: float = DEFAULT_SETTLE_WINDOW,
    wall_clock: Callable[[], float] = time.time,
) -> Reconciliation:
    """List ``client_id``'s verifications (every page) and
    [`decide`][idenfy_async.bulk.reconcile.decide].

    A read: safe to call again. A listing that fails (after the client's own
    retries) gives ``unknown`` with the error, never an exception.

    Raises:
        RequestValidationError: a bad ``client_id``; nothing was sent.
        ClientStateError: the client is closed or bound to another event loop.
    """
    _check_window(settle_window)
    # Read the clock before listing: a listing fetched before the window passed
    # must not count as fetched after it.
    now = wall_clock()
    pages = client.list_verifications(client_id)
    listing: list[VerificationSummary] | None = []
    error: IdenfyError | None = None
    try:
        listing = [summary async for summary in pages]
    except (APIError, APIConnectionError, ResponseDecodeError) as exc:
        listing, error = None, exc
    return decide(
        listing,
        since=since,
        now=now,
        known_scan_refs=known_scan_refs,
        scan_ref=scan_ref,
        expiry_time=expiry_time,
        dummy=dummy,
        settle_window=settle_window,
        error=error,
    )


def _could_be_ours(
    status: OverallStatus | str | None,
    since: float | None,
    now: float,
    expiry_time: int | None,
    dummy: bool,
) -> bool:
    if dummy or status is None:
        return True
    value = str(status)  # an OverallStatus member prints as its wire value
    if value in _NEEDS_A_USER:
        return False
    if value in _EXPIRED and expiry_time is not None and since is not None:
        # Ours expires expiry_time seconds after it was created, not before. Without
        # the request's expiry_time the account default applies: not known, so any
        # expired session may be ours.
        return now >= since + expiry_time
    return True  # ACTIVE, deleted, archived, or a status this library does not know


def _found(
    reason: ReconcileReason,
    scan_ref: str,
    status: OverallStatus | str | None,
    since: float | None,
    expiry_time: int | None,
) -> Reconciliation:
    open_ = status is None or status == OverallStatus.ACTIVE
    expires_at = (
        since + (expiry_time if expiry_time is not None else DEFAULT_EXPIRY_TIME)
        if open_ and since is not None
        else None
    )
    return Reconciliation(
        outcome=ReconcileOutcome.FOUND,
        reason=reason,
        scan_ref=scan_ref,
        status=status,
        expires_at=expires_at,
    )


def _check_window(value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError("settle_window must be a number of seconds")
    if value < 0:
        raise ConfigurationError("settle_window must be at least 0")


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
