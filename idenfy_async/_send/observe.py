"""What a call leaves behind for people: log lines, ``ResponseInfo`` records.

``IDENFY_LOG`` (`configure_logging`), the filter that hides query strings in
httpx's own log lines, and the record of each attempt (`record_attempt`): one
log line on ``idenfy_async.http`` and, inside
[`AsyncIdenfy.capture_responses`][idenfy_async.AsyncIdenfy.capture_responses], a
[`ResponseInfo`][idenfy_async.ResponseInfo]. Never a body, a secret, a token or a query string. Each
record also carries the call's correlating fields (`calllog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping
from typing import Final, Protocol

import attrs
import httpx

from .. import errors
from .._constants import ENV_LOG
from .calllog import fields

__all__ = [
    "ResponseInfo",
    "capture_responses",
    "configure_logging",
    "hide_queries_in_httpx_logs",
    "http_logger",
    "logger",
]

LOG_LEVELS: Final = {"info": logging.INFO, "debug": logging.DEBUG}
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The package's logger (the retry line of `_retry` goes there); IDENFY_LOG sets it.
logger = logging.getLogger("idenfy_async")
#: One line per attempt (a child: its records say which is which).
http_logger = logging.getLogger("idenfy_async.http")


@attrs.frozen
class ResponseInfo:
    """What the answer to one successful call was: for logs, metrics and support tickets.

    Get it with [`AsyncIdenfy.with_response_info`][idenfy_async.AsyncIdenfy.with_response_info] or
    [`AsyncIdenfy.capture_responses`][idenfy_async.AsyncIdenfy.capture_responses]. Never a body:
    ``repr()`` shows no headers either.
    """

    operation: str  #: the client method, e.g. ``"create_session"``
    method: str
    path: str  #: without the query string (a listing's clientId, a file URL's signature)
    status_code: int
    headers: Mapping[str, str] = attrs.field(repr=False)  #: case-insensitive
    elapsed: float  #: seconds, the whole call: every attempt and the waits between them
    attempts: int  #: 1 unless it was retried


class _HideQueries(logging.Filter):
    """httpx logs every request's full URL at INFO (``HTTP Request: GET https://...``):
    hide the query of URLs that carry ours, a listing's clientId or a pre-signed file
    URL's signature, whoever turned httpx's logger on."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts: set[str] = set()  #: the API hosts of this process's clients

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(self._hidden(a) for a in record.args)
        return True

    def _hidden(self, value: object) -> object:
        if not isinstance(value, httpx.URL) or not value.query:
            return value
        if value.host in self.hosts or b"Signature=" in value.query:
            return f"{value.copy_with(query=None)}?(query hidden)"
        return value


_HIDE_QUERIES: Final = _HideQueries()


def hide_queries_in_httpx_logs(base_url: str) -> None:
    """Hide the query strings of ``base_url``'s host (and of signed URLs) in httpx's logs."""
    _HIDE_QUERIES.hosts.add(httpx.URL(base_url).host)
    httpx_logger = logging.getLogger("httpx")
    if _HIDE_QUERIES not in httpx_logger.filters:
        httpx_logger.addFilter(_HIDE_QUERIES)


# Where capture_responses() collects; None (the default) when nobody captures.
RESPONSES: contextvars.ContextVar[list[ResponseInfo] | None] = contextvars.ContextVar(
    "idenfy_async_responses", default=None
)


def configure_logging(value: str | None) -> None:
    """Apply ``IDENFY_LOG`` (``info`` or ``debug``; unset or empty: leave logging alone).

    Sets the ``idenfy_async`` logger's level and, when the application configured no
    logging at all, a stderr handler (`logging.basicConfig`), as OPENAI_LOG does.

    Raises:
        ConfigurationError: any other value.
    """
    if not value:
        return
    level = LOG_LEVELS.get(value.strip().lower())
    if level is None:
        raise errors.ConfigurationError(
            f"{ENV_LOG} must be one of {', '.join(LOG_LEVELS)} (or unset), not {value!r}"
        )
    logging.basicConfig(format=LOG_FORMAT)  # does nothing if logging is configured
    logger.setLevel(level)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[ResponseInfo]]:
    """See [`AsyncIdenfy.capture_responses`][idenfy_async.AsyncIdenfy.capture_responses] (blocks
    nest: the outer one gets the inner one's entries too)."""
    outer = RESPONSES.get()
    responses: list[ResponseInfo] = []
    token = RESPONSES.set(responses)
    try:
        yield responses
    finally:
        RESPONSES.reset(token)
        if outer is not None:
            outer.extend(responses)


class Attempt(Protocol):
    """One attempt as `record_attempt` reads it (the wire's boundary object)."""

    operation: str
    attempt: int
    begun: float  #: when the attempt began (its slot taken)
    started: float | None  #: when the call began (its first attempt's queueing included)
    status: int  #: the answer's, once known (else 0)
    headers: httpx.Headers | None  #: the answer's, once known


def log_attempt_start(attempt: Attempt, method: str, path: str) -> None:
    """The ``debug`` line as an attempt starts: how far into the call."""
    if attempt.started is not None and http_logger.isEnabledFor(logging.DEBUG):
        http_logger.debug(
            "%s %s: attempt %d starts %d ms into the call",
            method,
            path,
            attempt.attempt,
            round((attempt.begun - attempt.started) * 1000),
            extra=fields(
                idenfy_operation=attempt.operation,
                idenfy_attempt=attempt.attempt,
                idenfy_method=method,
                idenfy_path=path,
            ),
        )


def record_attempt(
    attempt: Attempt,
    method: str,
    path: str,
    exc: BaseException | None,
    now: float,
    responses: list[ResponseInfo] | None,
) -> None:
    """Log the ended attempt (``IDENFY_LOG=info``) and, if it succeeded, capture it."""
    if http_logger.isEnabledFor(logging.INFO):
        _log_attempt(attempt, method, path, exc, now)
    if responses is not None and exc is None and attempt.headers is not None:
        begun, started = attempt.begun, attempt.started
        responses.append(
            ResponseInfo(
                operation=attempt.operation,
                method=method,
                path=path,
                status_code=attempt.status,
                headers=httpx.Headers(attempt.headers),
                elapsed=now - (begun if started is None else started),
                attempts=attempt.attempt,
            )
        )


def _log_attempt(
    attempt: Attempt, method: str, path: str, exc: BaseException | None, now: float
) -> None:
    if exc is None:
        outcome = "ok"
    else:
        outcome = "cancelled" if isinstance(exc, asyncio.CancelledError) else type(exc).__name__
    elapsed_ms = round((now - attempt.begun) * 1000)
    http_logger.info(
        "%s %s %s in %d ms (attempt %d: %s)",
        method,
        path,
        attempt.status or "-",
        elapsed_ms,
        attempt.attempt,
        outcome,
        extra=fields(
            idenfy_operation=attempt.operation,
            idenfy_method=method,
            idenfy_path=path,
            idenfy_status=attempt.status or None,
            idenfy_elapsed_ms=elapsed_ms,
            idenfy_attempt=attempt.attempt,
            idenfy_outcome=outcome,
        ),
    )
