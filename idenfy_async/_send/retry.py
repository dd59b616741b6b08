"""Retry policy: which failures are safe to retry for which call, and how long to wait.

iDenfy has no idempotency key, so retrying ``POST /api/v2/token`` after the server
may have processed it can create a second billable session. The whole rule is
`RETRY_TABLE`, keyed by the kind of call and the kind of failure:

* ``CallKind.CREATE`` (not idempotent) retries only what provably created nothing:
  requests that never left (connect errors, pool timeouts), rate-limit answers and
  503. Read timeouts after sending, 500/502/504, 408 and 409 need ``retry_unknown``.
* ``CallKind.READ`` (status, data, deletion, PDF: safe to repeat) retries every
  transient failure.

After the last attempt the original error propagates unchanged (no wrapper). Time,
sleep and randomness are injectable, so no test ever really sleeps.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, TypeVar

import attrs

from .. import errors
from .calllog import fields

__all__ = [
    "RETRY_TABLE",
    "Budget",
    "CallKind",
    "Decision",
    "Failure",
    "RetryDetails",
    "RetryPolicy",
    "classify",
    "retry_call",
    "should_retry",
]

logger = logging.getLogger("idenfy_async")

T = TypeVar("T")

DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_DEADLINE: Final = 60.0
DEFAULT_INITIAL_DELAY: Final = 0.5
DEFAULT_MAX_DELAY: Final = 8.0
DEFAULT_JITTER: Final = 0.5
# iDenfy's limit is hourly (10,000/h by default): a 0.5 s retry after a 429 is wasted.
DEFAULT_RATE_LIMIT_FLOOR: Final = 2.0
DEFAULT_MAX_RETRY_AFTER: Final = 120.0


class CallKind(enum.Enum):
    """How safe a call is to repeat."""

    CREATE = "create"  #: a repeat may create a second billable session
    READ = "read"  #: reads and safe-to-repeat writes


class Failure(enum.Enum):
    """What went wrong, as far as retrying is concerned."""

    NOT_SENT = "not_sent"  #: connect error or pool timeout: never reached iDenfy
    NO_ANSWER = "no_answer"  #: sent, then timeout or reset: may have been processed
    RATE_LIMITED = "rate_limited"  #: 429 / TOO_MANY_REQUESTS: rejected unprocessed
    UNAVAILABLE = "unavailable"  #: 503: rejected unprocessed
    SERVER_ERROR = "server_error"  #: 500/502/504/408/INTERNAL_ERROR: may have been processed
    CONFLICT = "conflict"  #: 409
    UNREADABLE = "unreadable"  #: a success whose body could not be read
    FATAL = "fatal"  #: retrying cannot help (4xx, validation, auth, ...)

    @property
    def outcome_unknown(self) -> bool:
        """True when iDenfy may have acted on the request."""
        return self in _MAYBE_PROCESSED


_MAYBE_PROCESSED: Final = frozenset({Failure.NO_ANSWER, Failure.SERVER_ERROR, Failure.UNREADABLE})


class Decision(enum.Enum):
    RETRY = "retry"
    OPT_IN = "only with retry_unknown=True"
    NEVER = "never"


_R, _O, _N = Decision.RETRY, Decision.OPT_IN, Decision.NEVER

#: The whole retry rule: (call kind, failure) -> decision.
RETRY_TABLE: Final[Mapping[tuple[CallKind, Failure], Decision]] = {
    (CallKind.CREATE, Failure.NOT_SENT): _R,
    (CallKind.CREATE, Failure.NO_ANSWER): _O,
    (CallKind.CREATE, Failure.RATE_LIMITED): _R,
    (CallKind.CREATE, Failure.UNAVAILABLE): _R,
    (CallKind.CREATE, Failure.SERVER_ERROR): _O,
    (CallKind.CREATE, Failure.CONFLICT): _O,
    (CallKind.CREATE, Failure.UNREADABLE): _N,
    (CallKind.CREATE, Failure.FATAL): _N,
    (CallKind.READ, Failure.NOT_SENT): _R,
    (CallKind.READ, Failure.NO_ANSWER): _R,
    (CallKind.READ, Failure.RATE_LIMITED): _R,
    (CallKind.READ, Failure.UNAVAILABLE): _R,
    (CallKind.READ, Failure.SERVER_ERROR): _R,
    (CallKind.READ, Failure.CONFLICT): _R,
    (CallKind.READ, Failure.UNREADABLE): _N,
    (CallKind.READ, Failure.FATAL): _N,
}


def classify(exc: errors.IdenfyError) -> Failure:
    """The retry-relevant kind of an error."""
    if isinstance(exc, errors.APIConnectionError):
        return Failure.NO_ANSWER if exc.request_sent else Failure.NOT_SENT
    if isinstance(exc, errors.RateLimitError):
        return Failure.RATE_LIMITED
    if isinstance(exc, errors.APIError):
        if exc.status_code == 503:
            return Failure.UNAVAILABLE
        if isinstance(exc, errors.ServerError) or exc.status_code == 408:
            return Failure.SERVER_ERROR
        if isinstance(exc, errors.ConflictError):
            return Failure.CONFLICT
        return Failure.FATAL
    if isinstance(exc, errors.ResponseDecodeError):
        return Failure.UNREADABLE
    return Failure.FATAL


def should_retry(kind: CallKind, failure: Failure, *, retry_unknown: bool) -> bool:
    """Whether a failure of this kind of call may be retried."""
    decision = RETRY_TABLE[kind, failure]
    return decision is Decision.RETRY or (decision is Decision.OPT_IN and retry_unknown)


# The default source of jitter (RetryPolicy.__init__ has a parameter named random).
def _sleep_or_asyncio(
    sleep: Callable[[float], Awaitable[None]] | None,
) -> Callable[[float], Awaitable[None]]:
    """``sleep=None`` means `asyncio.sleep`: the attribute is always a callable."""
    return asyncio.sleep if sleep is None else sleep


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Backoff settings and the injectable clock, sleep and randomness.

    The wait before retry ``n`` (0-based) is ``min(initial_delay * 2**n, max_delay)``
    times a random factor in ``[1 - jitter, 1]``; after a rate-limit answer it is at
    least ``rate_limit_floor``. A server ``Retry-After`` is honoured exactly up to
    ``max_retry_after``; a longer one is not waited for: the error is raised with its
    ``retry_after`` so the caller decides. ``deadline`` bounds one call in total:
    its attempts, each cut to what is left, and the waits between them (``None``: no
    bound; see `Budget` for what is not counted). ``retry_unknown`` also retries
    a create's failures that may have created something. ``sleep=None`` (the default)
    means `asyncio.sleep`: the attribute is always a callable.
    """

    max_retries: int = attrs.field(default=DEFAULT_MAX_RETRIES, validator=attrs.validators.ge(0))
    deadline: float | None = DEFAULT_DEADLINE
    initial_delay: float = DEFAULT_INITIAL_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    jitter: float = attrs.field(
        default=DEFAULT_JITTER, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )
    rate_limit_floor: float = DEFAULT_RATE_LIMIT_FLOOR
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    retry_unknown: bool = False
    clock: Callable[[], float] = attrs.field(default=time.monotonic, eq=False)
    wall_clock: Callable[[], float] = attrs.field(default=time.time, eq=False)
    sleep: Callable[[float], Awaitable[None]] = attrs.field(
        default=None, converter=_sleep_or_asyncio, eq=False
    )
    random: Callable[[], float] = attrs.field(default=random.random, eq=False)

    def backoff(self, retry: int, failure: Failure, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based); None: do not retry."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        exponent = min(retry, 32)  # 2**32 * anything sane is past any cap
        delay = min(self.initial_delay * 2.0**exponent, self.max_delay)
        delay *= 1 - self.jitter * self.random()
        if failure is Failure.RATE_LIMITED:
            delay = max(delay, self.rate_limit_floor)
        return delay


@attrs.frozen
class RetryDetails:
    """What the ``on_retry`` hook is told: never a body, never a secret."""

    operation: str
    attempt: int  #: the attempt about to be made (2 = first retry)
    max_attempts: int
    delay: float
    failure: Failure
    error: errors.IdenfyError


OnRetry = Callable[[RetryDetails], None]


class Budget:
    """What is left of one call's ``retry_deadline``, on the policy's clock.

    It counts attempts (send to last byte) and the waits between them (backoff,
    ``Retry-After``, the pause after a rate-limit answer). Time a call queues for
    this client's own rate token or concurrency slot is not counted (`exclude`):
    that is the caller's pacing, and a thousand gathered calls must not time out just
    for waiting their turn.
    """

    __slots__ = ("_clock", "end")

    def __init__(self, deadline: float | None, clock: Callable[[], float]) -> None:
        if deadline is not None and not 0 <= deadline < float("inf"):  # NaN included
            raise errors.ConfigurationError(
                "retry_deadline must be a finite number of seconds (>= 0), or None for no bound"
            )
        self._clock = clock
        #: When the budget runs out, on the clock; None: never.
        self.end: float | None = None if deadline is None else clock() + deadline

    def left(self) -> float | None:
        """Seconds left (0 or less: none); None when the call has no deadline."""
        return None if self.end is None else self.end - self._clock()

    def exclude(self, seconds: float) -> None:
        """Give back ``seconds`` spent queueing: they do not count against the deadline."""
        if self.end is not None:
            self.end += seconds


#: Told of a rate-limit answer; returns the seconds until the next attempt may leave
#: (the pace's owner pauses every call, and the next attempt waits in admission).
RateLimited = Callable[[errors.IdenfyError], Awaitable[float]]


async def retry_call(
    send: Callable[[], Awaitable[T]],
    *,
    operation: str,
    kind: CallKind,
    policy: RetryPolicy,
    max_retries: int,
    deadline: float | None,
    retry_unknown: bool,
    on_retry: OnRetry | None = None,
    budget: Budget | None = None,
    rate_limited: RateLimited | None = None,
    patient: bool = False,
) -> T:
    """Run ``send`` until it succeeds or the policy says stop; re-raise the last error.

    A rate-limit answer goes to ``rate_limited`` (the pace: it lowers the rate and
    pauses every call; ``send`` waits the pause out) and the retry waits what it
    says; without one, the policy's backoff is slept here. ``patient`` (bulk runs):
    rate-limit answers are retried without counting against ``max_retries`` or the
    deadline (a 429 is refused unprocessed, and the pace spaces the retries out).
    ``budget`` (made from ``deadline`` when not given) is what ``send`` also reads to
    bound each attempt; a retry is made only when its wait ends before the deadline.
    The error raised says ``outcome_unknown`` when *any* attempt may have taken effect.
    """
    if budget is None:
        budget = Budget(deadline, policy.clock)
    retries = 0  # those counted against max_retries
    attempt = 1
    outcome_unknown = False
    while True:
        try:
            return await send()
        except errors.IdenfyError as exc:
            failure = classify(exc)
            # Sticky: a later clean refusal does not undo a session an earlier attempt
            # may have created.
            outcome_unknown = outcome_unknown or failure.outcome_unknown
            exc.outcome_unknown = outcome_unknown and kind is CallKind.CREATE
            free = patient and failure is Failure.RATE_LIMITED
            if not free and (
                retries >= max_retries
                or not should_retry(kind, failure, retry_unknown=retry_unknown)
            ):
                raise
            retry_after = exc.retry_after if isinstance(exc, errors.APIError) else None
            if failure is Failure.RATE_LIMITED and rate_limited is not None:
                if retry_after is not None and retry_after > policy.max_retry_after:
                    raise  # a server asking for that long: the caller decides
                delay: float | None = await rate_limited(exc)
            else:
                delay = policy.backoff(retries, failure, retry_after)
            if delay is None:
                raise
            left = budget.left()
            if not free and left is not None and delay >= left:  # no time would be left
                raise
            if not free:
                retries += 1
            attempt += 1
            details = RetryDetails(operation, attempt, max_retries + 1, delay, failure, exc)
            _announce(details)
            if on_retry is not None:
                on_retry(details)
            if failure is not Failure.RATE_LIMITED or rate_limited is None:
                await policy.sleep(delay)


def _announce(details: RetryDetails) -> None:
    """The retry line on the ``idenfy_async`` logger (``IDENFY_LOG=info``), with the
    call's fields (`calllog`) and what failed: status, failure, the wait."""
    if not logger.isEnabledFor(logging.INFO):
        return
    error = details.error
    logger.info(
        "retrying %s (attempt %d of %d) in %.2fs after %s",
        details.operation,
        details.attempt,
        details.max_attempts,
        details.delay,
        _describe(error),
        extra=fields(
            idenfy_operation=details.operation,
            idenfy_attempt=details.attempt,  # the one about to be made
            idenfy_status=getattr(error, "status_code", None) or None,
            idenfy_delay=round(details.delay, 3),
            idenfy_failure=details.failure.value,
        ),
    )


def _describe(exc: errors.IdenfyError) -> str:
    name = type(exc).__name__
    if isinstance(exc, errors.APIError):
        return f"{name} (HTTP {exc.status_code} {exc.identifier or ''})".replace(" )", ")")
    return name
