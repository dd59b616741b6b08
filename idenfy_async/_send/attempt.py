"""One attempt on the wire: send one request and read its answer, within its time.

It knows httpx and asyncio, not retries or pacing. Every attempt, downloads
included, runs inside one `WireErrors` block: the one place where httpx's
exceptions (and the aiohttp transport's, which it raises as httpx's) become ours,
most specific first, and where each attempt is logged and observed (`observe`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final

import httpx

from .. import errors
from .._wire.common import RequestSpec, error_from_response, shown_path
from . import observe as _observe

__all__ = ["AttemptExpired", "WireErrors", "check_framing", "exchange"]


class AttemptExpired(Exception):
    """An attempt outlived its bound (raised by `_AttemptTimer`, never escapes)."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


class _AttemptTimer:
    """Cancels the current task when the attempt outlives ``limit`` seconds.

    What ``asyncio.timeout`` does on 3.11+, written out so it also runs on 3.10: a
    timer on the loop (no extra task) that cancels us; `expired` then tells our
    cancellation from a caller's. On 3.11+ a caller's cancellation arriving in the
    same instant is kept (``Task.uncancel``); 3.10 cannot tell them apart.
    """

    __slots__ = ("_cancelling", "_fired", "_handle", "_task")

    def __init__(self, limit: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._fired = False
        self._cancelling = task.cancelling() if hasattr(task, "cancelling") else 0
        self._handle = task.get_loop().call_later(limit, self._fire)

    def _fire(self) -> None:
        self._fired = True
        self._task.cancel()

    def stop(self) -> None:
        self._handle.cancel()

    def expired(self) -> bool:
        """Whether the CancelledError being handled is ours alone (call once, in except)."""
        if not self._fired:
            return False
        uncancel = getattr(self._task, "uncancel", None)
        return uncancel is None or uncancel() <= self._cancelling


def check_framing(headers: httpx.Headers) -> None:
    """Refuse an answer framed by both ``Transfer-Encoding`` and ``Content-Length``.

    RFC 9112 §6.3: Transfer-Encoding overrides, but such a message "ought to be
    handled as an error" (a sign of response splitting or smuggling). httpx's parser
    reads it by Transfer-Encoding, aiohttp's refuses it; both backends here refuse
    it, as the protocol error aiohttp raises: a create's outcome stays unknown (reconciled,
    never retried blindly) instead of trusting a body of doubtful framing.

    Raises:
        httpx.RemoteProtocolError: translated by `WireErrors`.
    """
    if "transfer-encoding" in headers and "content-length" in headers:
        raise httpx.RemoteProtocolError(
            "the answer has both Transfer-Encoding and Content-Length (RFC 9112 §6.3)"
        )


async def exchange(
    sending: Awaitable[httpx.Response],
    limit: float | None,
    cap: int,
    seen: WireErrors,
) -> tuple[int, httpx.Headers, bytes]:
    """Await ``sending`` (a streamed ``http.send``) and read its answer, at most
    ``cap`` bytes, within ``limit`` s.

    A success larger than ``cap`` is a [`ResponseDecodeError`][idenfy_async.ResponseDecodeError]; an
    error answer that large keeps its status and loses its body.
    """
    timer = None if limit is None else _AttemptTimer(limit)
    response: httpx.Response | None = None
    try:
        response = await sending
        status, headers = response.status_code, response.headers
        seen.status, seen.headers = status, headers
        check_framing(headers)
        content = await _read_response(response, cap)
    except asyncio.CancelledError:
        if timer is not None and timer.expired():
            raise AttemptExpired(limit or 0.0) from None
        raise
    finally:
        if timer is not None:
            timer.stop()  # first: a body read whole is not lost to a timer during close
        if response is not None:
            await response.aclose()
    if content is None:
        if 200 <= status < 300:
            raise errors.ResponseDecodeError(
                f"the answer is larger than {cap:,} bytes",
                status_code=status,
                method=seen.spec.method,
                path=shown_path(seen.spec),
            )
        content = b""  # an error status still says what happened; its body is not needed
    return status, headers, content


async def _read_response(response: httpx.Response, cap: int) -> bytes | None:
    """``response``'s body, or None when it is over ``cap`` bytes."""
    try:
        # A transport that read the body already (the aiohttp one, a mock): the cap
        # applies all the same.
        content = response.content
    except httpx.ResponseNotRead:
        # Read in chunks, up to the cap (a declared length over it is not read at all).
        declared = response.headers.get("content-length")
        if declared is None or not declared.isdigit() or int(declared) <= cap:
            return await _read_capped(response, cap)
        return None
    return None if len(content) > cap else content


async def _read_capped(response: httpx.Response, cap: int) -> bytes | None:
    """The streamed body, or None once it passes ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# httpx exceptions raised before a single byte of the request left this machine.
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
# Everything httpx raises (HTTPError's tree, and the few classes outside it).
_FOREIGN: Final = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    httpx.CookieConflict,
    AttemptExpired,
)


class WireErrors:
    """One attempt on the wire: every attempt of every call, downloads included, runs
    inside one (``with WireErrors(...)``).

    It is the one boundary where httpx's exceptions become ours: most specific first,
    as httpx's ``_transports/default.py`` maps httpcore's; our own errors raised inside
    pass through untouched. It is also where each attempt is logged (``IDENFY_LOG``)
    and a successful answer's [`ResponseInfo`][idenfy_async.ResponseInfo] is captured (`_observe`).
    ``status`` and ``headers`` are the answer's, once known.
    """

    __slots__ = (
        "attempt",
        "begun",
        "clock",
        "headers",
        "operation",
        "responses",
        "spec",
        "started",
        "status",
    )

    def __init__(
        self,
        operation: str,
        spec: RequestSpec,
        attempt: int = 1,
        clock: Callable[[], float] | None = None,
        started: float | None = None,
    ) -> None:
        self.operation = operation
        self.spec = spec
        self.status = 0
        self.headers: httpx.Headers | None = None
        self.attempt = attempt
        self.clock = clock
        self.started = started  #: when the call began (its first attempt's queueing included)
        self.begun = 0.0
        self.responses: list[_observe.ResponseInfo] | None = None

    def __enter__(self) -> WireErrors:
        if self.clock is None:
            return self
        # Nobody listens (no ResponseInfo capture, no log): ``clock`` None, nothing
        # to record.
        self.responses = _observe.RESPONSES.get()
        if self.responses is None and not _observe.http_logger.isEnabledFor(logging.INFO):
            self.clock = None
            return self
        self.begun = self.clock()
        _observe.log_attempt_start(self, self.spec.method, shown_path(self.spec))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, _FOREIGN):
            translated = _translate(exc, self.operation, self.spec, self.status)
            self._record(translated)
            raise translated from exc
        self._record(exc)

    def _record(self, exc: BaseException | None) -> None:
        if self.clock is None:  # nobody listens (see __enter__), or not an attempt
            return
        spec = self.spec
        now = self.clock()
        _observe.record_attempt(self, spec.method, shown_path(spec), exc, now, self.responses)


def _translate(
    exc: Exception, operation: str, spec: RequestSpec, status: int
) -> errors.IdenfyError:
    method, path = spec.method, shown_path(spec)
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, AttemptExpired):
        # It may fire while connecting; we cannot tell, so "may have left" (safe).
        return errors.APITimeoutError(
            f"no complete answer within {exc.limit:.3g} s (the attempt's timeout, or what"
            " was left of retry_deadline)",
            request_sent=True,
            method=method,
            path=path,
        )
    if isinstance(exc, httpx.TimeoutException):
        sent = not isinstance(exc, _NOT_SENT)
        return errors.APITimeoutError(reason, request_sent=sent, method=method, path=path)
    if isinstance(exc, httpx.TransportError):
        sent = not isinstance(exc, _NOT_SENT)
        return errors.APIConnectionError(reason, request_sent=sent, method=method, path=path)
    if isinstance(exc, httpx.DecodingError):
        return errors.ResponseDecodeError(
            "the body could not be decompressed (Content-Encoding)",
            status_code=status,
            method=method,
            path=path,
        )
    if isinstance(exc, httpx.HTTPStatusError):  # a caller's response hook raise_for_status()
        response = exc.response  # its body is not ours to read
        return error_from_response(
            response.status_code, response.headers, b"", method=method, path=path, now=0.0
        )
    if isinstance(exc, httpx.InvalidURL):  # never echoed: a file URL's query is its signature
        return errors.RequestValidationError(
            operation, [errors.FieldProblem("url", "is not a URL httpx can send to")]
        )
    # TooManyRedirects (a caller's client with follow_redirects=True), a custom
    # transport's RequestError, StreamError: answers came, none usable; it may have
    # been processed.
    return errors.APIConnectionError(reason, request_sent=True, method=method, path=path)
