"""Per-call options: ``timeout``, ``max_retries``, ``retry_deadline``, ``retry_unknown``.

One frozen [`RequestOptions`][idenfy_async.RequestOptions] value carries them from an endpoint's
keywords (or [`AsyncIdenfy.with_options`][idenfy_async.AsyncIdenfy.with_options]) to the sending
code; `options_from` is the one place keywords become that value. ``NOT_GIVEN`` means
"use the client's setting", where ``None`` has its own meaning (``timeout=None``
disables the timeout; ``retry_deadline=None`` removes the bound).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypedDict

import attrs

# At run time too: RequestOptions' annotations name httpx.Timeout, and get_type_hints
# (attrs, cattrs, documentation) must resolve them. The client imports httpx anyway.
import httpx

from .. import errors

if TYPE_CHECKING:
    from .admission import Priority
    from .retry import OnRetry, RetryPolicy

__all__ = [
    "NOT_GIVEN",
    "CallSettings",
    "Timeouts",
    "checked_timeouts",
    "clipped_timeouts",
    "largest_timeout",
    "CreateOptions",
    "NotGiven",
    "ReadOptions",
    "RequestOptions",
    "given_options",
    "options_from",
]


class NotGiven(enum.Enum):
    """The type of [`NOT_GIVEN`][idenfy_async.NOT_GIVEN]: "use the client's setting" in a keyword's
    type (``timeout: float | None | NotGiven = NOT_GIVEN``), for typing your own wrappers."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: "Use the client's setting" for per-call options, where ``None`` has its own meaning
#: (``timeout=None`` disables the timeout; ``retry_deadline=None`` removes the bound).
NOT_GIVEN: Final = NotGiven.NOT_GIVEN

#: The option names, in the order [`RequestOptions`][idenfy_async.RequestOptions] declares them.
OPTION_NAMES: Final = ("timeout", "max_retries", "retry_deadline", "retry_unknown")


@attrs.frozen
class RequestOptions:
    """Per-call options; each field left ``NOT_GIVEN`` uses the client's setting.

    ``timeout``: seconds or an ``httpx.Timeout`` for one attempt (its ``read`` value
    bounds the attempt from send to last byte). ``max_retries``: retries after the
    first attempt. ``retry_deadline``: seconds the whole call may take (``None``: no
    bound). ``retry_unknown``: also retry a create's failures that may have created
    something (it can cost a second credit). Reads ignore ``retry_unknown``.
    """

    timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN
    max_retries: int | NotGiven = NOT_GIVEN
    retry_deadline: float | NotGiven | None = NOT_GIVEN
    retry_unknown: bool | NotGiven = NOT_GIVEN

    def merged(self, override: RequestOptions) -> RequestOptions:
        """These options with every field ``override`` gives replaced by its value."""
        given = {
            name: value
            for name in OPTION_NAMES
            if (value := getattr(override, name)) is not NOT_GIVEN
        }
        return attrs.evolve(self, **given) if given else self


#: No per-call option given.
NO_OPTIONS: Final = RequestOptions()


class ReadOptions(TypedDict, total=False):
    """The per-call keywords of a read (``get_status``, ``get_data``, ...)."""

    timeout: float | httpx.Timeout | NotGiven | None
    max_retries: int | NotGiven
    retry_deadline: float | NotGiven | None


class CreateOptions(ReadOptions, total=False):
    """The per-call keywords of a call that may create or change something."""

    retry_unknown: bool | NotGiven


def options_from(
    operation: str, keywords: Mapping[str, object], *, create: bool = False
) -> RequestOptions:
    """The [`RequestOptions`][idenfy_async.RequestOptions] of an endpoint's per-call keywords
    (`ReadOptions`, or with ``create`` `CreateOptions`).

    Raises:
        TypeError: an unknown keyword (as a wrong keyword to any function).
    """
    if not keywords:
        return NO_OPTIONS
    given: dict[str, Any] = {}
    for name, value in keywords.items():
        if name not in OPTION_NAMES or (name == "retry_unknown" and not create):
            raise TypeError(f"{operation}() got an unexpected keyword argument {name!r}")
        if value is not NOT_GIVEN:
            given[name] = value
    return RequestOptions(**given) if given else NO_OPTIONS


def given_options(
    *,
    timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN,
    max_retries: int | NotGiven = NOT_GIVEN,
    retry_deadline: float | NotGiven | None = NOT_GIVEN,
    retry_unknown: bool | NotGiven = NOT_GIVEN,
) -> RequestOptions:
    """The [`RequestOptions`][idenfy_async.RequestOptions] of explicit keywords; `NO_OPTIONS` when
    none is given."""
    if max_retries is retry_deadline is retry_unknown is timeout is NOT_GIVEN:
        return NO_OPTIONS
    return RequestOptions(
        timeout=timeout,
        max_retries=max_retries,
        retry_deadline=retry_deadline,
        retry_unknown=retry_unknown,
    )


@attrs.frozen
class CallSettings:
    """Everything one call is sent with, resolved: the client's settings, with
    [`AsyncIdenfy.with_options`][idenfy_async.AsyncIdenfy.with_options]' and the call's own
    [`RequestOptions`][idenfy_async.RequestOptions] over them. The client builds one per call and
    hands it to `Sender.call`.

    ``base_url`` is the client's (the spec's path goes after it); ``timeouts``
    httpx's four (checked); ``deadline`` the seconds the whole call may take (None: no
    bound); ``retry_unknown`` already False for a read. ``check_open`` raises once the client
    is closed (run before every attempt); ``before_send`` is awaited once, right
    before the first attempt leaves; ``priority`` is the call's pacing class.
    """

    base_url: str
    policy: RetryPolicy
    timeouts: Timeouts
    max_retries: int
    deadline: float | None
    retry_unknown: bool
    on_retry: OnRetry | None
    check_open: Callable[[], None]
    before_send: Callable[[], Awaitable[None]] | None = None
    priority: Priority = "interactive"


# ------------------------------------------------------------------ timeouts
#: httpx's four timeouts (connect, read, write, pool) of one call, in seconds or None.
Timeouts = dict[str, Any]


def checked_timeouts(timeouts: dict[str, Any]) -> Timeouts:
    """``timeouts`` when each is None or a finite number of seconds >= 0.

    Raises:
        ConfigurationError: any other value.
    """
    if any(value is not None and not 0 <= value < math.inf for value in timeouts.values()):
        raise errors.ConfigurationError(
            "timeout must be a finite number of seconds (>= 0), None, or an httpx.Timeout"
            " of such values"
        )
    return timeouts


def largest_timeout(timeouts: Mapping[str, float | None]) -> float:
    """The longest of httpx's four timeouts (``inf`` if any is None)."""
    return max(math.inf if value is None else value for value in timeouts.values())


def clipped_timeouts(timeouts: Mapping[str, float | None], limit: float) -> dict[str, float]:
    """Each of httpx's four timeouts, cut to ``limit`` (what is left of the deadline)."""
    return {
        name: limit if value is None or value > limit else value for name, value in timeouts.items()
    }
