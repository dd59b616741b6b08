"""Sending: a call's attempts on the wire, from a `RequestSpec` to a result.

`Sender` owns the pooled ``httpx.AsyncClient`` (shared by a client and every
client [`AsyncIdenfy.with_options`][idenfy_async.AsyncIdenfy.with_options] derives from it).
`Sender.call` runs a call: admission (`admission`), one attempt (`Sender.send`, inside the
attempt's `WireErrors`), then `_wire.decipher` and the
endpoint's parser, under `retry.retry_call`. Every request is built by
`Sender.request`.
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Generic, TypeVar

import httpx

from .. import errors
from .._version import __version__
from .._wire.common import (
    JSON_CONTENT_TYPE,
    RequestSpec,
    decipher,
    response_size_cap,
    shown_path,
)
from .admission import Admission, Priority, Turn
from .attempt import WireErrors, exchange
from .calllog import CallLog, client_ref_key, running
from .options import (
    CallSettings,
    Timeouts,
    checked_timeouts,
    clipped_timeouts,
    largest_timeout,
)
from .retry import Budget, CallKind, RetryPolicy, retry_call

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "Parse", "Sender", "checked_timeouts"]

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
        "_headers",
        "_log_key",
        "_urls",
        "admission",
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
        self._log_key = client_ref_key(authorization)  # for the records' idenfy_client_ref
        self._headers: dict[tuple[bool, str], httpx.Headers] = {}
        self._urls: dict[str, httpx.URL] = {}
        checked_timeouts(http.timeout.as_dict())  # a bad client timeout fails here

    def timeouts(self, chosen: Any) -> Timeouts:
        """httpx's four timeouts (connect, read, write, pool) for ``chosen``: a number,
        an ``httpx.Timeout``, None, or ``httpx.USE_CLIENT_DEFAULT``."""
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

        ``settings`` is everything the call is sent with, resolved by the client;
        a bad ``deadline`` raises at once.
        """
        policy = settings.policy
        attempts = _Attempts(self, operation, spec, parse, settings.base_url + spec.path, policy)
        attempts.timeouts, attempts.check_open = settings.timeouts, settings.check_open
        attempts.first_send, attempts.priority = settings.before_send, settings.priority
        attempts.budget = Budget(settings.deadline, policy.clock)
        log = CallLog(
            operation, scan_ref=spec.scan_ref, client_id=spec.client_id, key=self._log_key
        )
        attempts.log = log
        calling = retry_call(
            attempts.send,
            operation=operation,
            kind=kind,
            policy=policy,
            max_retries=settings.max_retries,
            deadline=None,
            budget=attempts.budget,
            retry_unknown=settings.retry_unknown,
            on_retry=settings.on_retry,
            rate_limited=attempts.rate_limited,
            patient=settings.priority == "bulk",
        )
        # Every record of the call (its attempts', its retries') carries log's fields.
        return running(log, calling)

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
        if limit is not None and limit < largest_timeout(timeouts):
            timeouts = clipped_timeouts(timeouts, limit)
        request = self.request(spec, url, timeouts)
        sending = self.http.send(request, stream=True)
        return await exchange(sending, limit, response_size_cap(spec), seen)

    def request(self, spec: RequestSpec, url: str, timeouts: Timeouts) -> httpx.Request:
        """The ``httpx.Request`` for ``spec`` at ``url``, with the attempt's timeouts.

        A caller's own ``http_client`` goes through its ``build_request`` (its defaults
        apply). For the client we own it is built from prepared headers and a parsed
        URL kept per endpoint, for the aiohttp backend's CPU floor (see
        [`DirectClient`][idenfy_async.transports.DirectClient]).
        """
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
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if "?" not in url:  # fixed endpoint paths only: page URLs would pile up
                self._urls[url] = parsed
        return parsed

    def _headers_for(self, spec: RequestSpec) -> httpx.Headers:
        """Our headers for this kind of request, built once per (has body, Accept).

        For the client we own they include its defaults (what build_request would
        merge in); for a caller's client, only ours: build_request merges theirs.
        """
        key = (bool(spec.body), spec.accept)
        headers = self._headers.get(key)
        if headers is None:
            headers = httpx.Headers(self.http.headers if self.owns_http else None)
            headers["Accept"] = spec.accept
            headers["User-Agent"] = USER_AGENT
            headers["Authorization"] = self._authorization
            if spec.body:  # a GET has nothing to describe
                headers["Content-Type"] = JSON_CONTENT_TYPE
            self._headers[key] = headers
        return headers


class _Attempts(Generic[T]):
    """One call's state across its attempts (`send` is one attempt)."""

    budget: Budget
    timeouts: Timeouts
    check_open: Callable[[], None]
    first_send: Callable[[], Awaitable[None]] | None  #: the before_send hook, until run
    priority: Priority
    log: CallLog

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
        self.turn: Turn | None = None  # the last attempt's, once it left

    async def send(self) -> T:
        """One attempt: admitted, sent, read and parsed (an error answer raises)."""
        admission, spec, policy = self.sender.admission, self.spec, self.policy
        turn = await admission.admit(self.budget, spec, self.priority)
        self.attempt += 1
        self.log.attempt = self.attempt
        with WireErrors(self.operation, spec, self.attempt, policy.clock, self.started) as seen:
            try:
                self.check_open()  # per attempt: the client may close while a retry waits
                hook = self.first_send
                if hook is not None:
                    self.first_send = None
                    await hook()
                # The pace owns the moment of sending: nothing awaits between here
                # and the request leaving but the send itself.
                waiting = policy.clock()
                self.turn = await admission.leave(turn)
                self.budget.exclude(policy.clock() - waiting)  # pacing, not the call's time
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
                result = self.parse(status, headers, content)
            except errors.ResponseDecodeError as exc:
                exc.method, exc.path = spec.method, shown_path(spec)
                raise
            if self.log.scan_ref is None:  # a create's: known from its answer
                scan_ref = getattr(result, "scan_ref", None)
                if isinstance(scan_ref, str):
                    self.log.scan_ref = scan_ref
            return result

    def rate_limited(self, exc: errors.IdenfyError) -> Awaitable[float]:
        """A 429 answered this call's last attempt: the pace adapts and pauses."""
        retry_after = exc.retry_after if isinstance(exc, errors.APIError) else None
        return self.sender.admission.rate_limited(self.turn, retry_after)
