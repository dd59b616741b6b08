"""Sending: a call's attempts on the wire, from a :class:`RequestSpec` to a result.

:class:`Sender` owns the pooled ``httpx.AsyncClient`` (shared by a client and every
client :meth:`AsyncIdenfy.with_options` derives from it). :meth:`Sender.call` runs a
call: admission (:mod:`._admission`), one attempt (:meth:`Sender.send`), then
:func:`._wire.decipher` and the endpoint's parser, under :func:`._retry.retry_call`.
Every attempt, downloads included, runs inside one :class:`WireErrors` block: the one
place where httpx's exceptions (and the aiohttp transport's, which it raises as
httpx's) become ours, most specific first.

Every request is built the same way, by :meth:`Sender.request`: for the client we own
straight from prepared headers and parsed URLs (httpx's ``build_request`` re-merges
and re-encodes every header and re-parses the URL on each call: ~15 µs of a ~100 µs
call); a caller's own ``http_client`` goes through ``build_request``, so its defaults
apply. On the aiohttp transport our own client skips even that: a plain request goes
to :meth:`AiohttpTransport.exchange` with prepared header pairs and comes back as
(status, headers, body), with no ``httpx.Request``/``Response`` built (each call's
objects are what the garbage collector walks while hundreds are in flight).
:mod:`._http_attempt` sends and reads one attempt, either way.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import httpx

from .. import errors
from .._version import __version__
from .._wire.common import (
    JSON_CONTENT_TYPE,
    RequestSpec,
    decipher,
    error_from_response,
    response_size_cap,
    shown_path,
)
from ..transports import DirectClient
from . import observe as _observe
from .admission import Admission
from .attempt import AttemptExpired, exchange
from .options import (
    CallSettings,
    Timeouts,
    checked_timeouts,
    clipped_timeouts,
    largest_timeout,
)
from .retry import Budget, CallKind, RetryPolicy, retry_call

if TYPE_CHECKING:
    from .. import coordination

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "Parse", "Sender", "WireErrors", "checked_timeouts"]

#: Token creation is fast; a 600 s read timeout would only hide trouble.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0, pool=10.0)
USER_AGENT: Final = (
    f"idenfy-async/{__version__} (python {platform.python_version()}; httpx {httpx.__version__})"
)

T = TypeVar("T")
#: Reads a 2xx answer: (status, headers, body) -> result.
Parse = Callable[[int, Mapping[str, str], bytes], T]


class Sender:
    """The connection pool, the admission in front of it, and how requests are built."""

    __slots__ = (
        "_authorization",
        "_direct",
        "_fast_urls",
        "_header_cache",
        "_pair_cache",
        "admission",
        "default_largest",
        "default_timeout",
        "http",
        "owns_http",
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        owns_http: bool,
        authorization: str,
        admission: Admission,
    ) -> None:
        self.http = http
        self.owns_http = owns_http
        self.admission = admission
        self._authorization = authorization
        self._header_cache: dict[tuple[bool, str], httpx.Headers] = {}
        self._fast_urls: dict[str, httpx.URL] = {}
        self._pair_cache: dict[tuple[bool, str], tuple[tuple[str, str], ...]] = {}
        # The client we built sends plain requests past httpx's models when it can.
        self._direct = http if owns_http and isinstance(http, DirectClient) else None
        self.default_timeout = checked_timeouts(http.timeout.as_dict())
        self.default_largest = largest_timeout(self.default_timeout)

    def timeouts(self, chosen: Any) -> Timeouts:
        """httpx's four timeouts (connect, read, write, pool) for ``chosen``: a number,
        an ``httpx.Timeout``, None, or ``httpx.USE_CLIENT_DEFAULT``."""
        if chosen is httpx.USE_CLIENT_DEFAULT and self.owns_http:
            return self.default_timeout  # checked once, in __init__
        if chosen is httpx.USE_CLIENT_DEFAULT:
            return checked_timeouts(self.http.timeout.as_dict())
        return checked_timeouts(httpx.Timeout(chosen).as_dict())

    def call(
        self,
        operation: str,
        kind: CallKind,
        spec: RequestSpec,
        parse: Parse[T],
        settings: CallSettings,
    ) -> Awaitable[T]:
        """Run one call: its attempts, each admitted, sent and read, until one succeeds
        or the retry rules say stop (then the last error is raised).

        ``settings`` is everything the call is sent with, resolved by the client.
        A plain function handing back the call's coroutine (one coroutine layer fewer
        per call, alive while the call queues); a bad ``deadline`` raises at once.
        """
        admission = self.admission
        policy = settings.policy
        attempts = _Attempts(self, operation, spec, parse, settings.base_url + spec.path, policy)
        attempts.timeouts, attempts.check_open = settings.timeouts, settings.check_open
        attempts.first_send, attempts.priority = settings.before_send, settings.priority
        attempts.budget = Budget(settings.deadline, policy.clock)
        return retry_call(
            attempts.send,
            operation=operation,
            kind=kind,
            policy=policy,
            cooldown=admission.cooldown,
            shared_cooldown=admission.shared_cooldown,
            max_retries=settings.max_retries,
            deadline=None,
            budget=attempts.budget,
            retry_unknown=settings.retry_unknown,
            on_retry=settings.on_retry,
        )

    async def send(
        self, spec: RequestSpec, url: str, timeouts: Timeouts, budget: Budget, seen: WireErrors
    ) -> tuple[int, httpx.Headers, bytes]:
        """One attempt: (status, headers, body), within the attempt's time.

        The read timeout bounds the whole attempt, send to last byte (httpx's own is
        per read: a body trickling a byte at a time would never end), and never
        outlasts what is left of the call's deadline.
        """
        whole = timeouts["read"]
        left = budget.left()
        limit = whole if left is None or (whole is not None and whole <= left) else left
        if limit is not None and limit <= 0:
            raise errors.APITimeoutError(
                "no time left to send the request (timeout, or retry_deadline)",
                request_sent=False,
                method=spec.method,
                path=shown_path(spec),
            )
        # httpx's per-phase timeouts never outlast the attempt's share either.
        largest = (
            self.default_largest if timeouts is self.default_timeout else largest_timeout(timeouts)
        )
        if limit is not None and limit < largest:
            timeouts = clipped_timeouts(timeouts, limit)
        cap = response_size_cap(spec)
        direct = None if self._direct is None else self._direct.aiohttp_transport()
        if direct is not None:
            parsed = self._url(url)
            if not parsed.userinfo:  # else httpx's auth flow applies (as DirectClient.send)
                sending = direct.exchange(
                    spec.method, parsed, self._pairs_for(spec), spec.body or None, timeouts, cap
                )
                return await exchange(sending, limit, cap, seen)
        request = self.request(spec, url, timeouts)
        return await exchange(self.http.send(request, stream=True), limit, cap, seen)

    def request(self, spec: RequestSpec, url: str, timeouts: Timeouts) -> httpx.Request:
        """The ``httpx.Request`` for ``spec`` at ``url`` (see the module docstring)."""
        headers = self._headers_for(spec)
        if not self.owns_http:
            request = self.http.build_request(
                spec.method, url, content=spec.body or None, headers=headers
            )
            request.extensions["timeout"] = timeouts
            return request
        return httpx.Request(
            spec.method,
            self._url(url),
            content=spec.body or None,
            headers=headers,
            extensions={"timeout": timeouts},
        )

    def _url(self, url: str) -> httpx.URL:
        parsed = self._fast_urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if "?" not in url:  # fixed endpoint paths only: page URLs would pile up
                self._fast_urls[url] = parsed
        return parsed

    def _pairs_for(self, spec: RequestSpec) -> tuple[tuple[str, str], ...]:
        """:meth:`_headers_for` as the aiohttp transport sends them, built once."""
        key = (bool(spec.body), spec.accept)
        pairs = self._pair_cache.get(key)
        if pairs is None:
            raw = self._headers_for(spec).raw
            pairs = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw)
            self._pair_cache[key] = pairs
        return pairs

    def _headers_for(self, spec: RequestSpec) -> httpx.Headers:
        """Our headers for this kind of request, built once per (has body, Accept).

        For the client we own they already include its defaults (what build_request
        would merge in); for a caller's client, only ours: build_request merges theirs.
        """
        key = (bool(spec.body), spec.accept)
        headers = self._header_cache.get(key)
        if headers is None:
            headers = httpx.Headers(self.http.headers if self.owns_http else None)
            headers["Accept"] = spec.accept
            headers["User-Agent"] = USER_AGENT
            headers["Authorization"] = self._authorization
            if spec.body:  # a GET has nothing to describe
                headers["Content-Type"] = JSON_CONTENT_TYPE
            self._header_cache[key] = headers
        return headers


class _Attempts(Generic[T]):
    """One call's state across its attempts (:meth:`send` is one attempt).

    One object rather than a closure: a closure holds a cell per variable it shares,
    and with hundreds of calls queued or in flight those cells are most of what the
    garbage collector walks.
    """

    __slots__ = (
        "attempt",
        "budget",
        "check_open",
        "first_send",
        "operation",
        "parse",
        "policy",
        "priority",
        "sender",
        "spec",
        "started",
        "timeouts",
        "url",
    )

    budget: Budget
    timeouts: Timeouts
    check_open: Callable[[], None]
    first_send: Callable[[], Awaitable[None]] | None  #: the before_send hook, until run
    priority: coordination.Priority

    def __init__(
        self,
        sender: Sender,
        operation: str,
        spec: RequestSpec,
        parse: Parse[T],
        url: str,
        policy: RetryPolicy,
    ) -> None:
        self.sender = sender
        self.operation = operation
        self.spec = spec
        self.parse = parse
        self.url = url
        self.policy = policy
        self.started = policy.clock()  # the call's start (its first queueing included)
        self.attempt = 0

    async def send(self) -> T:
        """One attempt: admitted, sent, read and parsed (an error answer raises)."""
        admission, spec, policy = self.sender.admission, self.spec, self.policy
        if admission.admits_now():
            await admission.limiter.acquire()  # takes a free slot without yielding
        else:
            await admission.admit(self.budget, spec, self.priority)
        self.attempt += 1
        with WireErrors(self.operation, spec, self.attempt, policy.clock, self.started) as seen:
            try:
                self.check_open()  # per attempt: the client may close while a retry waits
                hook = self.first_send
                if hook is not None:
                    self.first_send = None
                    await hook()
                status, headers, content = await self.sender.send(
                    spec, self.url, self.timeouts, self.budget, seen
                )
            finally:
                admission.limiter.release()
            # Inside the attempt's block: an error answer is logged as this attempt's
            # outcome, and only a parsed success is captured as a ResponseInfo.
            error = decipher(spec, status, headers, content, now=policy.wall_clock())
            if error is not None:
                raise error
            try:
                return self.parse(status, headers, content)
            except errors.ResponseDecodeError as exc:
                exc.method, exc.path = spec.method, shown_path(spec)
                raise


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
    and a successful answer's :class:`ResponseInfo` is captured (:mod:`._observe`).
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
        # Cheap when nobody listens: one level check, one context-variable lookup;
        # then no clock reading either (``clock`` None: nothing to record).
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
