"""The client's foundation: configuration, lifecycle, and the one way a call is sent.

:class:`ClientBase` holds what every endpoint needs: the shared state built from the
constructor's arguments (the :class:`._http.Sender` with its pool and admission, the
retry policy, Redis), ``aclose``/``async with``, :meth:`~ClientBase.with_options`, the
response-info capture, and :meth:`~ClientBase._call`, where per-call options meet the
client's settings. The endpoints are its subclasses' (:mod:`._client_sessions`,
:mod:`._client_results`); :class:`~idenfy_async.AsyncIdenfy` puts them together.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import urllib.parse
from collections.abc import (
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import httpx

from .. import errors
from .._constants import (
    DEFAULT_ACCOUNT_RATE,
    DEFAULT_CONCURRENCY,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_BASE_URL,
    ENV_LOG,
    ENV_REDIS_URL,
)
from .._send.admission import Admission
from .._send.limits import ConcurrencyLimiter, Cooldown, Pacer, RateLimiter
from .._send.observe import ResponseInfo, configure_logging, hide_queries_in_httpx_logs
from .._send.observe import capture_responses as _capture_responses
from .._send.options import (
    NO_OPTIONS,
    NOT_GIVEN,
    NotGiven,
    ReadOptions,
    RequestOptions,
    given_options,
    options_from,
)
from .._send.retry import CallKind, OnRetry, RetryPolicy
from .._send.sender import DEFAULT_TIMEOUT, Parse, Sender, checked_timeouts
from .._wire import sessions as _sansio
from ..models._urls import secure_url_problem
from ..transports import DirectClient, HttpBackend, build_transport

if sys.version_info >= (3, 11):
    from typing import Self
else:
    from typing_extensions import Self

if TYPE_CHECKING:
    import asyncio  # imported where a call needs it: `import idenfy_async` does not load it

    from .. import coordination

T = TypeVar("T")

DEFAULT_BASE_URL: Final = "https://ivs.idenfy.com"
DEFAULT_MAX_CONCURRENCY: Final = DEFAULT_CONCURRENCY


class ClientBase:
    """Configuration, lifecycle and sending of :class:`~idenfy_async.AsyncIdenfy` (see there)."""

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry_deadline: float | NotGiven | None = NOT_GIVEN,
        retry_unknown: bool | NotGiven = NOT_GIVEN,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        rate_limit: str | Pacer | None = None,
        retry_policy: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        http_backend: HttpBackend = "httpx",
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        redis_url: str | NotGiven | None = NOT_GIVEN,
        bulk_share: float | NotGiven = NOT_GIVEN,
        fallback_share: float | NotGiven | None = NOT_GIVEN,
        single_session: bool = False,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
        api_secret = api_secret if api_secret is not None else os.environ.get(ENV_API_SECRET)
        _check_arguments(api_key, api_secret, max_concurrency, http_backend, transport, http_client)
        assert api_key is not None  # checked just above
        assert api_secret is not None
        configure_logging(os.environ.get(ENV_LOG))

        self._base_url = _checked_base_url(base_url or os.environ.get(ENV_BASE_URL))
        hide_queries_in_httpx_logs(self._base_url)
        self._api_key = api_key
        options = given_options(
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_unknown=retry_unknown,
        )
        self._policy = _evolved(retry_policy or RetryPolicy(), options)
        self._on_retry = on_retry
        self._single_session = single_session
        self._registry: coordination.SessionRegistry | None = None  # made on first use
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._root = self  # with_options: the client that owns the pool and registry
        admission = self._connect_pacing(api_key, rate_limit, redis_url, bulk_share, fallback_share)
        admission.limiter = ConcurrencyLimiter(max_concurrency)

        self._owns_http = http_client is None
        self._timeout: Any = httpx.USE_CLIENT_DEFAULT
        if timeout is not NOT_GIVEN:
            checked_timeouts(httpx.Timeout(timeout).as_dict())
            if http_client is not None:  # ours gets it as its default instead
                self._timeout = timeout
        token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._sender = Sender(
            http_client or _own_http_client(max_concurrency, http_backend, transport, timeout),
            owns_http=self._owns_http,
            authorization=f"Basic {token}",
            admission=admission,
        )

    def _connect_pacing(
        self,
        api_key: str,
        rate_limit: str | Pacer | None,
        redis_url: str | NotGiven | None,
        bulk_share: float | NotGiven,
        fallback_share: float | NotGiven | None,
    ) -> Admission:
        """The client's pacing: Redis's account quota with ``redis_url``, else ``rate_limit``."""
        policy = self._policy
        url = os.environ.get(ENV_REDIS_URL) if redis_url is NOT_GIVEN else redis_url
        self._redis: Any = None
        self._quota: coordination.RedisQuota | None = None  # loaded only when used
        admission = Admission(
            limiter=ConcurrencyLimiter(1),  # replaced by the caller
            cooldown=Cooldown(policy.clock, policy.sleep),
            clock=policy.clock,
        )
        if not url:
            admission.pacer = (
                RateLimiter(rate_limit, clock=policy.clock, sleep=policy.sleep)
                if isinstance(rate_limit, str)
                else rate_limit
            )
            return admission
        if rate_limit is not None and not isinstance(rate_limit, str | int | float):
            raise errors.ConfigurationError(
                "with redis_url, rate_limit is the account's rate shared by every"
                ' process: give a spec such as "10000/hour", not a Pacer object'
            )
        from .. import coordination

        shares: dict[str, Any] = {}
        if bulk_share is not NOT_GIVEN:
            shares["bulk_share"] = bulk_share
        if fallback_share is not NOT_GIVEN:
            shares["fallback_share"] = fallback_share
        self._redis = coordination.connect(url)  # bounded timeouts, lazy: no I/O here
        self._quota = coordination.RedisQuota(
            self._redis,
            api_key,
            rate_limit if rate_limit is not None else DEFAULT_ACCOUNT_RATE,
            sleep=policy.sleep,
            clock=policy.clock,
            **shares,
        )
        admission.quota = self._quota
        admission.pacer = self._quota.interactive
        admission.shared_cooldown = coordination.SharedCooldown(
            self._redis, api_key, clock=policy.clock, sleep=policy.sleep
        )
        return admission

    async def __aenter__(self) -> Self:
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
        """Close the connection pool (unless it is a caller's ``http_client``). Idempotent.

        On a client from :meth:`with_options` this closes that client only: the pool,
        pacing and Redis connections belong to the client it came from.
        """
        if self._closed:
            return
        self._closed = True
        if self._root is not self:
            return
        try:
            if self._owns_http:
                await self._http.aclose()
        finally:
            if self._redis is not None:
                with contextlib.suppress(Exception):  # a dead Redis has nothing to flush
                    await self._redis.aclose()

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry_deadline: float | NotGiven | None = NOT_GIVEN,
        retry_unknown: bool | NotGiven = NOT_GIVEN,
    ) -> Self:
        """A client with other defaults for these per-call options, sharing this one's state.

        ``client.with_options(timeout=5, max_retries=0).get_status(scan_ref)``. The new
        client shares the connection pool, the concurrency limit, the rate limit and
        the rate-limit cooldown, the open-session registry and the Redis connections:
        one pace for both. Options not given keep this client's; a call's own keywords
        still win. Closing the new client (``aclose``, ``async with``) closes only it;
        the pool closes with this one (and then the new client is closed too).
        """
        given = given_options(
            timeout=timeout,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_unknown=retry_unknown,
        )
        if given.timeout is not NOT_GIVEN:
            checked_timeouts(httpx.Timeout(given.timeout).as_dict())
        derived = object.__new__(type(self))
        shared = {k: v for k, v in vars(self).items() if k not in _RESOURCES}
        vars(derived).update(shared)
        derived._closed = False  # its own open/closed state; _root's is checked too
        derived._policy = _evolved(self._policy, given)
        if given.timeout is not NOT_GIVEN:
            derived._timeout = given.timeout
        return derived

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._sender.http

    @property
    def is_closed(self) -> bool:
        """True after :meth:`aclose` or leaving ``async with`` (this client's or, for a
        client from :meth:`with_options`, the one it came from)."""
        return self._closed or self._root._closed

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._base_url

    @property
    def in_flight(self) -> int:
        """Requests in flight right now (bounded by ``max_concurrency``)."""
        return self._sender.admission.limiter.in_flight

    @property
    def rate_limit(self) -> Pacer | None:
        """The pacer of this client's requests, if any."""
        return self._sender.admission.pacer

    async def with_response_info(self, call: Awaitable[T]) -> tuple[T, ResponseInfo]:
        """Await ``call`` (a call of this client) and return its result with its answer's details.

        ``status, info = await client.with_response_info(client.get_status(scan_ref))``;
        ``info.status_code``, ``info.headers``, ``info.elapsed``, ``info.attempts``. For
        a call that makes several requests (a listing's pages), the last one's.

        Whatever ``call`` raises propagates unchanged.

        Raises:
            RuntimeError: the awaited call made no request at all.
        """
        with self.capture_responses() as responses:
            result = await call
        if not responses:
            raise RuntimeError("with_response_info: the awaited call made no request")
        return result, responses[-1]

    @contextlib.contextmanager
    def capture_responses(self) -> Iterator[list[ResponseInfo]]:
        """Collect a :class:`ResponseInfo` for every successful request made in the block.

        ``with client.capture_responses() as responses: ...``: one entry per request,
        in order of completion, including each page of a listing and each file of
        :meth:`download_files`. It follows the current task and the tasks it starts
        (a context variable), so concurrent callers each see only their own; it
        collects requests of any ``AsyncIdenfy``. Blocks nest: the outer one gets the
        inner one's entries too.
        """
        with _capture_responses() as responses:
            yield responses

    def __repr__(self) -> str:
        key = self._api_key
        shown = key[:4] + "…" if len(key) >= 12 else "***"
        return (
            f"AsyncIdenfy(base_url={self._base_url!r}, api_key={shown!r},"
            f" max_concurrency={self._sender.admission.limiter.limit}, closed={self.is_closed})"
        )

    def _check_open(self) -> None:
        if self.is_closed or self._http.is_closed:
            raise errors.ClientClosedError(
                "this AsyncIdenfy client is closed; create a new one (one client per"
                " application, opened at start-up and closed at shutdown)"
            )

    def _check_usable(self) -> None:
        self._check_open()
        import asyncio  # loaded by the running loop; not at import (see _retry)

        root = self._root  # the connections' loop is one for every derived client
        loop = asyncio.get_running_loop()
        if root._loop is None:
            root._loop = loop
        elif loop is not root._loop:
            raise errors.EventLoopMismatchError(
                "this AsyncIdenfy client was first used on another event loop; its"
                " connections belong to that loop. Create one client per event loop"
                " (e.g. inside the coroutine passed to asyncio.run)."
            )

    def _call(
        self,
        operation: str,
        kind: CallKind,
        spec: _sansio.RequestSpec,
        parse: Parse[T],
        options: RequestOptions = NO_OPTIONS,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
        priority: coordination.Priority = "interactive",
    ) -> Awaitable[T]:
        """Send one call (the one place per-call options meet the client's settings).

        ``retry_unknown`` counts for ``CallKind.CREATE`` only: a read retries every
        transient failure anyway. A plain function handing back the call's coroutine
        (one coroutine layer fewer per call); its checks still raise at once.
        """
        self._check_usable()
        policy = self._policy
        o = options
        return self._sender.call(
            operation,
            kind,
            spec,
            parse,
            base_url=self._base_url,
            policy=policy,
            timeouts=self._sender.timeouts(self._timeout if o.timeout is NOT_GIVEN else o.timeout),
            max_retries=policy.max_retries if o.max_retries is NOT_GIVEN else o.max_retries,
            deadline=policy.deadline if o.retry_deadline is NOT_GIVEN else o.retry_deadline,
            retry_unknown=(
                kind is CallKind.CREATE
                and (policy.retry_unknown if o.retry_unknown is NOT_GIVEN else o.retry_unknown)
            ),
            on_retry=self._on_retry,
            check_open=self._check_open,
            before_send=before_send,
            priority=priority,
        )

    async def _read(
        self,
        operation: str,
        spec: _sansio.RequestSpec,
        parse: Callable[[int, bytes], T],
        options: ReadOptions,
    ) -> T:
        def parse_body(status: int, headers: Mapping[str, str], content: bytes) -> T:
            return parse(status, content)

        return await self._call(
            operation, CallKind.READ, spec, parse_body, options_from(operation, options)
        )


#: The resource objects a client caches (each holds its client): a client from
#: with_options() makes its own.
_RESOURCES: Final = frozenset(
    {"face_auth", "request_info", "blocklists", "processing", "proof_of_address"}
)


def _own_http_client(
    max_concurrency: int,
    http_backend: HttpBackend,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float | httpx.Timeout | NotGiven | None,
) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` a client builds for itself (not a caller's ``http_client``)."""
    # Our limiter admits at most max_concurrency requests, so the pool never makes
    # one wait (no PoolTimeout under a large gather).
    limits = httpx.Limits(
        max_connections=max_concurrency, max_keepalive_connections=max_concurrency
    )
    return DirectClient(
        transport=transport or build_transport(http_backend, limits),
        timeout=DEFAULT_TIMEOUT if timeout is NOT_GIVEN else timeout,
        limits=limits,
        follow_redirects=False,
    )


def _check_arguments(
    api_key: str | None,
    api_secret: str | None,
    max_concurrency: int,
    http_backend: str,
    transport: httpx.AsyncBaseTransport | None,
    http_client: httpx.AsyncClient | None,
) -> None:
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
    if http_backend != "httpx" and (transport is not None or http_client is not None):
        raise errors.ConfigurationError(
            "http_backend= chooses the transport: pass it, transport= or http_client=, not several"
        )


def _evolved(policy: RetryPolicy, options: RequestOptions) -> RetryPolicy:
    """``policy`` with the retry settings ``options`` gives (a client's own defaults)."""
    overrides: dict[str, Any] = {}
    if options.max_retries is not NOT_GIVEN:
        overrides["max_retries"] = options.max_retries
    if options.retry_deadline is not NOT_GIVEN:
        overrides["deadline"] = options.retry_deadline
    if options.retry_unknown is not NOT_GIVEN:
        overrides["retry_unknown"] = options.retry_unknown
    return attrs.evolve(policy, **overrides) if overrides else policy


def _checked_base_url(url: str | None) -> str:
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise errors.ConfigurationError("base_url must be an absolute https:// URL")
    if secure_url_problem(url):
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
