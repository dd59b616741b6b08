"""What bulk creation hands back: how each row ended ([`BulkState`][idenfy_async.BulkState],
[`BulkResult`][idenfy_async.BulkResult]), the running counters
([`BulkProgress`][idenfy_async.BulkProgress]), which failures a re-run may send again
([`is_retryable`][idenfy_async.bulk.is_retryable]), and what it needs from a client
([`SessionCreator`][idenfy_async.bulk.SessionCreator]). Import them from
[`idenfy_async.bulk`][idenfy_async.bulk]."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs

from .._wire.sessions import build_create_session
from ..errors import (
    APIConnectionError,
    APIError,
    ClientStateError,
    CoordinationError,
    IdenfyError,
    InsufficientFundsError,
    RateLimitError,
)
from ..models import Session, SessionRequest
from .journal import ErrorRecord, JournalEntry
from .reconcile import ReconcileOutcome, Reconciliation


class SessionCreator(Protocol):
    """What bulk creation needs from a client (``AsyncIdenfy`` is one)."""

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        """Create one session; await ``before_send`` once, right before the first
        attempt leaves (after pacing), and send nothing if it raises."""


class BulkState(str, enum.Enum):
    """How one row ended."""

    CREATED = "created"  #: a session was created by this run
    SKIPPED = "skipped"  #: the journal says an earlier run created it; nothing was sent
    FAILED = "failed"  #: iDenfy created nothing (see ``error_kind.retryable``)
    UNKNOWN = "unknown"  #: a session may exist although no usable answer was read
    #: reconciliation found the session an earlier attempt created; its authToken is lost
    FOUND = "found"
    #: the journal holds a session for this clientId made from other data (another
    #: person, or a corrected row): nothing was sent, and the earlier link is not given
    CONFLICT = "conflict"


@attrs.frozen(kw_only=True)
class BulkResult:
    """The outcome of one input row.

    ``session`` is set for created and skipped rows (for skipped rows it holds what
    the journal kept: scanRef, authToken, redirectUrl). ``error`` is the exception
    when this run sent the row and it failed; ``error_kind`` describes the failure
    also when it comes from the journal, or when the row failed on an unexpected
    exception (a bug, not an [`IdenfyError`][idenfy_async.IdenfyError]: ``error`` is then None and
    ``error_kind.name`` is the exception's class). A ``created`` row whose answer was
    partly unreadable keeps that [`ResponseDecodeError`][idenfy_async.ResponseDecodeError] in
    ``error``, with the scanRef and authToken it carried in ``session``. ``sent`` says whether this
    run sent a request for the row. An ``unknown`` row without ``error_kind`` was in
    flight when an earlier run stopped. ``reconciliation`` is what asking iDenfy
    concluded for a row an earlier attempt left open: for ``found`` rows (scanRef,
    status, expiry), ``unknown`` ones (why), and rows sent although they may already
    have a session (see [`may_be_duplicate`][idenfy_async.bulk.BulkResult.may_be_duplicate]).
    ``earlier`` is the journal's entry that decided a row without sending it (``skipped``,
    ``conflict``), or that a row sent anyway replaced (``replaced``: a conflict sent with
    ``replace_conflicts``, or an expired session re-issued with ``reissue_expired``).
    """

    index: int  #: 0-based position in the input
    request: SessionRequest
    state: BulkState
    session: Session | None = None
    error: IdenfyError | None = None
    error_kind: ErrorRecord | None = None
    sent: bool = False
    reconciliation: Reconciliation | None = None
    earlier: JournalEntry | None = attrs.field(default=None, repr=False)
    replaced: bool = False
    #: a ``skipped`` row whose session is past its ``expiryTime`` with no result: its
    #: link can no longer be started (``reissue_expired`` creates a new one)
    expired: bool = False

    @property
    def client_id(self) -> str:
        return self.request.client_id

    @property
    def may_be_duplicate(self) -> bool:
        """This run sent the row although an earlier attempt may have created a
        session (``retry_unknown=True``): it may have paid twice."""
        checked = self.reconciliation
        return self.sent and checked is not None and checked.outcome is ReconcileOutcome.UNKNOWN

    @property
    def outcome(self) -> Session | IdenfyError | ErrorRecord | None:
        """The session, else the error, else what the journal knew about the failure."""
        if self.session is not None:
            return self.session
        return self.error if self.error is not None else self.error_kind


@attrs.frozen
class BulkProgress:
    """Counters after each finished row, for ``on_progress``.

    ``in_flight`` counts requests that have left (their row is recorded ``pending``)
    and have no result yet, not rows still waiting for their turn; ``sent`` counts
    the rows whose request left, over the run. ``stopped`` is True once ``stop`` took
    effect: the requests ``in_flight`` then are the last ones.
    """

    done: int
    created: int
    skipped: int
    failed: int
    unknown: int
    in_flight: int
    sent: int = 0
    stopped: bool = False
    found: int = 0
    conflict: int = 0


def request_fingerprint(request: SessionRequest) -> str | None:
    """A short hash of the body ``request`` sends: equal for equal data, whatever file
    or separator it was read from; None if it cannot be encoded (it will fail anyway).

    The journal keeps it beside each clientId, so a later row with the same clientId
    is told apart: the same data again, or another person (a conflict). It is a hash:
    the journal holds no personal data.
    """
    try:
        body = build_create_session(request).body
    except IdenfyError:
        return None
    return hashlib.sha256(body).hexdigest()[:32]


def is_retryable(exc: IdenfyError) -> bool:
    """True when iDenfy provably created nothing and a later attempt may succeed.

    Rate limits, 503, connections never made, exhausted credits (top up, then
    re-run) and shared state (Redis) that failed before sending qualify; validation,
    authentication and other refusals do not; an error after which a session may
    exist (``outcome_unknown``) never does.
    """
    if exc.outcome_unknown:
        return False
    if isinstance(
        exc, RateLimitError | InsufficientFundsError | ClientStateError | CoordinationError
    ):
        return True
    if isinstance(exc, APIConnectionError):
        return not exc.request_sent
    return isinstance(exc, APIError) and exc.status_code == 503
