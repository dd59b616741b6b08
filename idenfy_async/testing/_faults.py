"""Scripted faults: what can go wrong with one request, and the one place that plays them.

A [`Fault`][idenfy_async.testing.Fault] is queued with
[`FakeIdenfy.fail_next`][idenfy_async.testing.FakeIdenfy.fail_next] (in-process and over TCP alike)
or drawn from [`FAILURE_MIX`][idenfy_async.testing.FAILURE_MIX] by
[`FakeIdenfyServer`][idenfy_async.testing.FakeIdenfyServer]'s ``fail_rate``. `play` and `answer` are
the only code that reads a fault: the in-process transport and the TCP server both go through them,
and differ only in how they deliver the `Reply` (an exception or a short body in-process, a
dropped or cut connection over TCP).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import attrs
import httpx

from ._common import Answer
from ._common import answer as json_answer

__all__ = ["FAILURE_MIX", "Fault", "Reply", "answer", "play", "random_failure"]


def _at_least_zero(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be at least 0")


@attrs.frozen(kw_only=True)
class Fault:
    """One scripted fault, used by the next matching request.

    Answer ``status`` with an iDenfy error body (``identifier``, ``message``), or raise
    the httpx ``error`` class (e.g. ``httpx.ConnectError``) instead of answering (over
    TCP: the connection closes without an answer). ``create=True`` creates the session
    first, as when iDenfy processed a request whose answer was then lost: the unknown-outcome
    case. ``delay`` seconds pass first (through the fake's injectable ``sleep``).
    ``body`` replaces the JSON error body.

    ``truncate_at=N`` sends the status, the headers (whose ``Content-Length`` declares
    the whole body) and only the first ``N`` bytes of the body, then the connection
    closes: the purest unknown-outcome case. Without ``status`` the request is processed
    and its real answer is cut; in-process, reading the body raises
    ``httpx.RemoteProtocolError`` as httpx does over TCP. At least one byte is always
    missing, whatever ``N`` (an answer without a body cannot be cut: it is whole).
    """

    status: int | None = None
    identifier: str | None = None
    message: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    error: type[httpx.TransportError] | None = None
    create: bool = False
    delay: float = 0.0
    body: bytes | None = None
    truncate_at: int | None = attrs.field(default=None, validator=_at_least_zero)


@attrs.frozen
class Reply:
    """How one API request ends: an answer, perhaps cut short, or none at all (``lost``)."""

    status: int = 0
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    #: Raise this (in-process) or drop the connection (TCP) instead of answering.
    lost: type[httpx.TransportError] | None = None
    #: Send only this many bytes of ``body`` (fewer than it has), then close.
    cut: int | None = None


async def play(
    fault: Fault | None,
    handle: Callable[[Fault | None], Answer],
    sleep: Callable[[float], Awaitable[None]],
) -> Reply:
    """The reply to one request under ``fault``; ``handle`` answers it (see `answer`)."""
    if fault is None:
        return Reply(*handle(None))
    if fault.delay:
        await sleep(fault.delay)
    if fault.error is not None and not fault.create:
        return Reply(lost=fault.error)  # never reached the endpoint
    status, headers, body = handle(fault)
    if fault.error is not None:
        return Reply(lost=fault.error)  # done, but the answer is lost
    # An empty body has nothing to cut: it is answered whole.
    cut = None if fault.truncate_at is None or not body else min(fault.truncate_at, len(body) - 1)
    return Reply(status, headers, body, cut=cut)


def answer(fault: Fault | None, endpoint: Callable[[], Answer]) -> Answer:
    """Run ``endpoint`` unless ``fault`` answers instead; with ``create``, run it anyway.

    Called once the request passed authentication and routing, so a scripted status
    never hides a 401 or a 404.
    """
    if fault is None or fault.status is None:
        return endpoint()
    if fault.create:
        endpoint()  # done, but the caller is told otherwise
    return scripted_answer(fault)


def scripted_answer(fault: Fault) -> Answer:
    """``fault``'s status with its body (or an iDenfy error body) and headers."""
    assert fault.status is not None
    if fault.body is not None:
        return fault.status, dict(fault.headers), fault.body
    body: dict[str, Any] = {"message": fault.message or "Scripted failure."}
    if fault.identifier:
        body["identifier"] = fault.identifier
    status, headers, content = json_answer(fault.status, body)
    return status, {**headers, **fault.headers}, content


#: What [`random_failure`][idenfy_async.testing.random_failure] picks from, by weight: retryable
#: refusals (503, 429 with ``Retry-After: 0``), and ones of unknown outcome, with and without a
#: session created first.
FAILURE_MIX: Final[Sequence[tuple[int, Fault]]] = (
    (3, Fault(status=503, message="Service temporarily unavailable.")),
    (
        2,
        Fault(
            status=429,
            identifier="TOO_MANY_REQUESTS",
            message="Too many requests.",
            headers={"Retry-After": "0"},
        ),
    ),
    (2, Fault(status=500, identifier="INTERNAL_ERROR", message="Internal error.", create=True)),
    (1, Fault(status=500, identifier="INTERNAL_ERROR", message="Internal error.")),
    (2, Fault(error=httpx.RemoteProtocolError, create=True)),  # answer lost after creating
)


def random_failure(rng: random.Random, rate: float) -> Fault | None:
    """A failure from [`FAILURE_MIX`][idenfy_async.testing.FAILURE_MIX] for about ``rate`` of calls,
    else None."""
    if rate <= 0 or rng.random() >= rate:
        return None
    failures = [failure for _, failure in FAILURE_MIX]
    return rng.choices(failures, weights=[weight for weight, _ in FAILURE_MIX])[0]
