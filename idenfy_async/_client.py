"""``AsyncIdenfy``: the only production module that talks HTTP.

Glue only: :mod:`._sansio` builds and reads requests, :mod:`._retry` decides what to
repeat, :mod:`._limiter` bounds what is in flight; this module owns the pooled
``httpx.AsyncClient`` and translates httpx's exceptions into ours, in one place.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import os
import platform
import urllib.parse
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

import attrs
import httpx

from . import _sansio, errors
from ._limiter import ConcurrencyLimiter, Cooldown
from ._retry import CallKind, OnRetry, RetryPolicy, retry_call
from ._version import __version__
from .models import Session, SessionRequest, is_loopback_host

__all__ = ["NOT_GIVEN", "AsyncIdenfy"]

DEFAULT_BASE_URL: Final = "https://ivs.idenfy.com"
#: Token creation is fast; a 600 s read timeout would only hide trouble.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0, pool=10.0)
DEFAULT_MAX_CONCURRENCY: Final = 10
ENV_API_KEY: Final = "IDENFY_API_KEY"
ENV_API_SECRET: Final = "IDENFY_API_SECRET"
ENV_BASE_URL: Final = "IDENFY_BASE_URL"
USER_AGENT: Final = (
    f"idenfy-async/{__version__} (python {platform.python_version()}; httpx {httpx.__version__})"
)

T = TypeVar("T")


class _NotGiven(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: "Use the client's setting" for per-call options, where ``None`` has its own meaning
#: (``timeout=None`` disables the timeout; ``retry_deadline=None`` removes the bound).
NOT_GIVEN: Final = _NotGiven.NOT_GIVEN

# httpx exceptions raised before a single byte of the request left this machine.
_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


class AsyncIdenfy:
    """Async client for iDenfy's KYC API; one per event loop, shared by every task.

    Use it as ``async with AsyncIdenfy() as client:`` or call :meth:`aclose` when done.
    Credentials default to ``IDENFY_API_KEY`` / ``IDENFY_API_SECRET``, the base URL to
    ``IDENFY_BASE_URL`` then ``https://ivs.idenfy.com``.

    Args:
        api_key: API key (the Basic-auth user name).
        api_secret: API secret (the Basic-auth password). Never printed.
        base_url: ``https://`` URL; plain ``http://`` only for loopback hosts.
        timeout: seconds or an ``httpx.Timeout`` for each attempt.
        max_retries: retries after the first attempt (see :class:`RetryPolicy`).
        retry_deadline: seconds one call may spend in attempts and waits, in total.
        retry_ambiguous: also retry ``create_session`` failures that may have created
            a session (read timeouts, 500/502/504, 409). Off by default: it can cost a
            second verification credit.
        max_concurrency: requests in flight at once for the whole client.
        retry_policy: backoff tuning and the injectable clock/sleep/random.
        on_retry: called with a :class:`RetryDetails` before each retry.
        transport: an ``httpx.AsyncBaseTransport`` (e.g. ``FakeIdenfy()``) for tests.
        http_client: your own ``httpx.AsyncClient`` (proxies, CA bundles); used as is
            and never closed by us.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        retry_ambiguous: bool | _NotGiven = NOT_GIVEN,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        retry_policy: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
        api_secret = api_secret if api_secret is not None else os.environ.get(ENV_API_SECRET)
        if not api_key or not api_secret:
            raise errors.ConfigurationError(
                "iDenfy API credentials are missing: pass api_key= and api_secret= to"
                f" AsyncIdenfy(), or set the {ENV_API_KEY} and {ENV_API_SECRET}"
                " environment variables."
            )
        if http_client is not None and transport is not None:
            raise errors.ConfigurationError("pass either transport= or http_client=, not both")
        if max_concurrency < 1:
            raise errors.ConfigurationError("max_concurrency must be at least 1")

        self._base_url = _checked_base_url(base_url or os.environ.get(ENV_BASE_URL))
        self._api_key = api_key
        token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._headers: Final = {
            "Authorization": f"Basic {token}",
            "User-Agent": USER_AGENT,
            "Content-Type": _sansio.JSON_CONTENT_TYPE,
            "Accept": _sansio.JSON_CONTENT_TYPE,
        }

        policy = retry_policy or RetryPolicy()
        overrides: dict[str, Any] = {}
        if max_retries is not NOT_GIVEN:
            overrides["max_retries"] = max_retries
        if retry_deadline is not NOT_GIVEN:
            overrides["deadline"] = retry_deadline
        if retry_ambiguous is not NOT_GIVEN:
            overrides["retry_ambiguous"] = retry_ambiguous
        self._policy: RetryPolicy = attrs.evolve(policy, **overrides) if overrides else policy
        self._on_retry = on_retry
        self._limiter = ConcurrencyLimiter(max_concurrency)
        self._cooldown = Cooldown(self._policy.clock, self._policy.sleep)

        self._owns_http = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(
                transport=transport,
                timeout=DEFAULT_TIMEOUT if timeout is NOT_GIVEN else timeout,
                # Our limiter admits at most max_concurrency requests, so the pool
                # never makes one wait (no PoolTimeout under a large gather).
                limits=httpx.Limits(
                    max_connections=max_concurrency, max_keepalive_connections=max_concurrency
                ),
                follow_redirects=False,
            )
            self._timeout: Any = httpx.USE_CLIENT_DEFAULT
        else:
            self._timeout = httpx.USE_CLIENT_DEFAULT if timeout is NOT_GIVEN else timeout
        self._http = http_client
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AsyncIdenfy:
        self._check_usable()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is a caller's ``http_client``). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """True after :meth:`aclose` or leaving ``async with``."""
        return self._closed

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._base_url

    @property
    def in_flight(self) -> int:
        """Requests in flight right now (bounded by ``max_concurrency``)."""
        return self._limiter.in_flight

    def __repr__(self) -> str:
        key = self._api_key
        shown = key[:4] + "…" if len(key) >= 12 else "***"
        return (
            f"AsyncIdenfy(base_url={self._base_url!r}, api_key={shown!r},"
            f" max_concurrency={self._limiter.limit}, closed={self._closed})"
        )

    def _check_usable(self) -> None:
        if self._closed or self._http.is_closed:
            raise errors.ClientClosedError(
                "this AsyncIdenfy client is closed; create a new one (one client per"
                " application, opened at start-up and closed at shutdown)"
            )
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise errors.EventLoopMismatchError(
                "this AsyncIdenfy client was first used on another event loop; its"
                " connections belong to that loop. Create one client per event loop"
                " (e.g. inside the coroutine passed to asyncio.run)."
            )

    # ------------------------------------------------------------------ endpoints

    async def create_session(
        self,
        request: SessionRequest | None = None,
        /,
        *,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        retry_ambiguous: bool | _NotGiven = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
        **fields: Any,
    ) -> Session:
        """Create a verification session (``POST /api/v2/token``).

        Pass a :class:`SessionRequest`, or its fields as keywords
        (``create_session(client_id="user-123", first_name="John")``).

        Only failures that provably created no session are retried unless
        ``retry_ambiguous=True``; an error that may hide a created session has
        ``ambiguous=True``.

        Raises:
            RequestValidationError: invalid input; nothing was sent.
            APIError: iDenfy refused (a subclass per cause).
            APIConnectionError: no answer (``request_sent`` says whether it left).
            ResponseDecodeError: the answer could not be read.
        """
        if request is None:
            fields.setdefault("client_id", "")  # reported as "clientId: is required"
            request = SessionRequest(**fields)
        elif fields:
            raise TypeError("pass a SessionRequest or keyword fields, not both")
        spec = _sansio.build_create_session(request)
        base_url = self._base_url

        def parse(status: int, content: bytes) -> Session:
            return _sansio.parse_create_session(status, content, base_url=base_url)

        return await self._call(
            "create_session",
            CallKind.CREATE,
            spec,
            parse,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_ambiguous=retry_ambiguous,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ machinery

    async def _call(
        self,
        operation: str,
        kind: CallKind,
        spec: _sansio.RequestSpec,
        parse: Callable[[int, bytes], T],
        *,
        max_retries: int | _NotGiven,
        retry_deadline: float | _NotGiven | None,
        retry_ambiguous: bool | _NotGiven,
        timeout: float | httpx.Timeout | _NotGiven | None,
    ) -> T:
        self._check_usable()
        policy = self._policy
        url = self._base_url + spec.path
        request_timeout = self._timeout if timeout is NOT_GIVEN else timeout

        async def send() -> T:
            async with self._limiter:
                await self._cooldown.wait()
                try:
                    response = await self._http.request(
                        spec.method,
                        url,
                        content=spec.body,
                        headers=self._headers,
                        timeout=request_timeout,
                    )
                except httpx.TransportError as exc:
                    raise _connection_error(exc, spec) from exc
            return self._interpret(spec, response, parse)

        return await retry_call(
            send,
            operation=operation,
            kind=kind,
            policy=policy,
            cooldown=self._cooldown,
            max_retries=policy.max_retries if max_retries is NOT_GIVEN else max_retries,
            deadline=policy.deadline if retry_deadline is NOT_GIVEN else retry_deadline,
            retry_ambiguous=(
                policy.retry_ambiguous if retry_ambiguous is NOT_GIVEN else retry_ambiguous
            ),
            on_retry=self._on_retry,
        )

    def _interpret(
        self,
        spec: _sansio.RequestSpec,
        response: httpx.Response,
        parse: Callable[[int, bytes], T],
    ) -> T:
        status = response.status_code
        content = response.content
        if 200 <= status < 300 and not _sansio.is_error_body(status, content):
            try:
                return parse(status, content)
            except errors.ResponseDecodeError as exc:
                exc.method, exc.path = spec.method, spec.path
                raise
        raise _sansio.error_from_response(
            status,
            response.headers,
            content,
            method=spec.method,
            path=spec.path,
            now=self._policy.wall_clock(),
        )


def _connection_error(exc: httpx.TransportError, spec: _sansio.RequestSpec) -> errors.IdenfyError:
    sent = not isinstance(exc, _NOT_SENT)
    cls = (
        errors.APITimeoutError
        if isinstance(exc, httpx.TimeoutException)
        else (errors.APIConnectionError)
    )
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return cls(reason, request_sent=sent, method=spec.method, path=spec.path)


def _checked_base_url(url: str | None) -> str:
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise errors.ConfigurationError("base_url must be an absolute https:// URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise errors.ConfigurationError(
            "base_url must use https://: plain http:// would send the API secret in clear"
            " (allowed only for loopback hosts such as 127.0.0.1, for local testing)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise errors.ConfigurationError(
            "base_url must not carry a query, fragment or user:password (pass credentials"
            " as api_key= and api_secret=)"
        )
    return url
