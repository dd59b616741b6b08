"""``AsyncIdenfy``: the only production module that talks HTTP.

Glue only: :mod:`._sansio` builds and reads requests, :mod:`._retry` decides what to
repeat, :mod:`._limiter` bounds what is in flight; this module owns the pooled
``httpx.AsyncClient`` and translates httpx's exceptions into ours, in one place.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import enum
import functools
import logging
import math
import os
import platform
import re
import urllib.parse
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypeVar

import attrs
import httpx

from . import _sansio, errors
from ._constants import (
    DEFAULT_ACCOUNT_RATE,
    DEFAULT_CONCURRENCY,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_BASE_URL,
    ENV_LOG,
    ENV_REDIS_URL,
)
from ._limiter import ConcurrencyLimiter, Cooldown, RateLimit, RateLimiter
from ._retry import Budget, CallKind, OnRetry, RetryPolicy, retry_call
from ._urls import secure_url_problem
from ._version import __version__
from .models import (
    FileUrls,
    IdentificationEvent,
    Session,
    SessionRequest,
    StatusResult,
    VerificationData,
    VerificationSummary,
    WebhookEvent,
)
from .reconcile import (
    DEFAULT_SETTLE_WINDOW,
    ReconcilePolicy,
    Reconciliation,
    reconcile_session,
)
from .transports import DirectClient, HttpBackend, build_transport

__all__ = ["NOT_GIVEN", "AsyncIdenfy", "ResponseInfo"]

DEFAULT_BASE_URL: Final = "https://ivs.idenfy.com"
#: Token creation is fast; a 600 s read timeout would only hide trouble.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0, pool=10.0)
DEFAULT_MAX_CONCURRENCY: Final = DEFAULT_CONCURRENCY
LOG_LEVELS: Final = {"info": logging.INFO, "debug": logging.DEBUG}
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Bytes read from a file download before each write (never the whole file in memory).
DOWNLOAD_CHUNK_SIZE: Final = 64 * 1024
DEFAULT_PAGE_SIZE: Final = _sansio.DEFAULT_PAGE_SIZE
USER_AGENT: Final = (
    f"idenfy-async/{__version__} (python {platform.python_version()}; httpx {httpx.__version__})"
)

if TYPE_CHECKING:
    from . import coordination
    from .bulk import BulkProgress, BulkResult
    from .journal import Journal
    from .resources import (
        Blocklists,
        FaceAuthentication,
        InformationRequests,
        Processing,
        ProofOfAddress,
    )

T = TypeVar("T")

#: The package's logger (the retry line of :mod:`._retry` goes there); IDENFY_LOG sets it.
logger = logging.getLogger("idenfy_async")
#: One line per attempt (a child: its records say which is which).
http_logger = logging.getLogger("idenfy_async.http")

#: Reads a 2xx answer: (status, headers, body) -> result.
Parse = Callable[[int, Mapping[str, str], bytes], T]
_SAFE_FILE_NAME: Final = re.compile(r"[^A-Za-z0-9_.-]")
_FILE_SUFFIX: Final = re.compile(r"\.[A-Za-z0-9]{1,8}")


class _NotGiven(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: "Use the client's setting" for per-call options, where ``None`` has its own meaning
#: (``timeout=None`` disables the timeout; ``retry_deadline=None`` removes the bound).
NOT_GIVEN: Final = _NotGiven.NOT_GIVEN


@attrs.frozen
class ResponseInfo:
    """What the answer to one successful call was: for logs, metrics and support tickets.

    Get it with :meth:`AsyncIdenfy.with_response_info` or
    :meth:`AsyncIdenfy.capture_responses`. Never a body: ``repr()`` shows no headers either.
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


def _hide_queries_in_httpx_logs(base_url: str) -> None:
    _HIDE_QUERIES.hosts.add(httpx.URL(base_url).host)
    httpx_logger = logging.getLogger("httpx")
    if _HIDE_QUERIES not in httpx_logger.filters:
        httpx_logger.addFilter(_HIDE_QUERIES)


# Where capture_responses() collects; None (the default) costs the hot path one lookup.
_RESPONSES: contextvars.ContextVar[list[ResponseInfo] | None] = contextvars.ContextVar(
    "idenfy_async_responses", default=None
)


def configure_logging(value: str | None) -> None:
    """Apply ``IDENFY_LOG`` (``info`` or ``debug``; unset or empty: leave logging alone).

    Sets the ``idenfy_async`` logger's level and, when the application configured no
    logging at all, a stderr handler (:func:`logging.basicConfig`), as OPENAI_LOG does.

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


class AsyncIdenfy:
    """Async client for iDenfy's KYC API; one per event loop, shared by every task.

    Use it as ``async with AsyncIdenfy() as client:`` or call :meth:`aclose` when done.
    Credentials default to ``IDENFY_API_KEY`` / ``IDENFY_API_SECRET``, the base URL to
    ``IDENFY_BASE_URL`` then ``https://ivs.idenfy.com``. ``IDENFY_LOG=info``, read
    here, logs one line per attempt to ``idenfy_async.http``: method, path, status,
    elapsed ms, attempt number and outcome (and each retry to ``idenfy_async``);
    ``debug`` adds a line as each attempt starts (how far into the call). Never a
    body, a secret, a token or a query string.

    Args:
        api_key: API key (the Basic-auth user name).
        api_secret: API secret (the Basic-auth password). Never printed.
        base_url: ``https://`` URL; plain ``http://`` only for loopback hosts.
        timeout: seconds or an ``httpx.Timeout`` for one attempt: its ``read`` value
            bounds the attempt from send to the last byte (a number sets all four).
        max_retries: retries after the first attempt (see :class:`RetryPolicy`).
        retry_deadline: seconds one call may take, attempts and the waits between them
            together (queueing for this client's own rate token or slot not counted);
            each attempt is cut to what is left.
        retry_ambiguous: also retry ``create_session`` failures that may have created
            a session (read timeouts, 500/502/504, 409). Off by default: it can cost a
            second verification credit.
        max_concurrency: requests in flight at once for the whole client.
        rate_limit: pace every request of the client, e.g. ``"10000/hour"`` (iDenfy's
            default account limit) or any :class:`RateLimit` (such as one shared by
            several processes). Every attempt, retries included, takes a token.
        retry_policy: backoff tuning and the injectable clock/sleep/random.
        on_retry: called with a :class:`RetryDetails` before each retry.
        http_backend: what carries the requests: ``"httpx"`` (default: httpx's own
            connection pool) or ``"aiohttp"`` (needs ``pip install
            'idenfy-async[aiohttp]'``; several times less CPU per call under
            concurrency, same retries and errors). Sized by ``max_concurrency`` and
            ``timeout``. See the README's "Choosing a transport".
        transport: an ``httpx.AsyncBaseTransport`` (e.g. ``FakeIdenfy()`` for tests, or
            ``idenfy_async.transports.AiohttpTransport(...)`` tuned yourself).
        http_client: your own ``httpx.AsyncClient`` (proxies, CA bundles); used as is
            and never closed by us.
        redis_url: a Redis URL (default: ``IDENFY_REDIS_URL``; ``None`` or empty: off)
            shared by every process on this account. With it ``rate_limit`` is the
            *account's* rate (a spec, default ``"10000/hour"``) that all processes
            share (:class:`~idenfy_async.coordination.RedisQuota`); a rate-limit answer
            seen by any process pauses all of them; bulk rows (:meth:`create_sessions`)
            take bulk tokens, after interactive calls; bulk runs keep one open session
            per clientId across processes. Needs ``pip install 'idenfy-async[redis]'``.
        bulk_share: with ``redis_url``, the share of the account's rate bulk rows may
            use at most (default 1.0: all that interactive calls leave). Give every
            process the same value.
        fallback_share: with ``redis_url``, the share of the account's rate this
            process paces itself at while Redis fails (default 0.25: it cannot know
            how many others do the same); ``None`` refuses instead: calls raise
            :class:`CoordinationError` without sending.
        single_session: one open session per clientId for :meth:`create_session`
            (:class:`~idenfy_async.coordination.SessionRegistry`): concurrent creates
            send one request, an open session is returned for the same request and
            raises :class:`SessionAlreadyOpenError` for another. Across processes with
            ``redis_url``, else within this one. Bulk runs use it whenever
            ``redis_url`` is set.
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
        rate_limit: str | RateLimit | None = None,
        retry_policy: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        http_backend: HttpBackend = "httpx",
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        redis_url: str | _NotGiven | None = NOT_GIVEN,
        bulk_share: float | _NotGiven = NOT_GIVEN,
        fallback_share: float | _NotGiven | None = NOT_GIVEN,
        single_session: bool = False,
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
        if http_backend != "httpx" and (transport is not None or http_client is not None):
            raise errors.ConfigurationError(
                "http_backend= chooses the transport: pass it, transport= or http_client=,"
                " not several"
            )
        configure_logging(os.environ.get(ENV_LOG))

        self._base_url = _checked_base_url(base_url or os.environ.get(ENV_BASE_URL))
        _hide_queries_in_httpx_logs(self._base_url)
        self._api_key = api_key
        token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._authorization: Final = f"Basic {token}"

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
        url = os.environ.get(ENV_REDIS_URL) if redis_url is NOT_GIVEN else redis_url
        self._redis: Any = None
        self._quota: coordination.RedisQuota | None = None  # loaded only when used
        self._shared_cooldown: coordination.SharedCooldown | None = None
        self._rate_limit: RateLimit | None
        if url:
            if rate_limit is not None and not isinstance(rate_limit, str | int | float):
                raise errors.ConfigurationError(
                    "with redis_url, rate_limit is the account's rate shared by every"
                    ' process: give a spec such as "10000/hour", not a RateLimit object'
                )
            from . import coordination

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
                sleep=self._policy.sleep,
                clock=self._policy.clock,
                **shares,
            )
            self._shared_cooldown = coordination.SharedCooldown(
                self._redis, api_key, clock=self._policy.clock, sleep=self._policy.sleep
            )
            self._rate_limit = self._quota.interactive
        else:
            self._rate_limit = (
                RateLimiter(rate_limit, clock=self._policy.clock, sleep=self._policy.sleep)
                if isinstance(rate_limit, str)
                else rate_limit
            )
        self._single_session = single_session
        self._registry: coordination.SessionRegistry | None = None  # made on first use

        if timeout is not NOT_GIVEN:
            _checked_timeouts(httpx.Timeout(timeout).as_dict())
        self._owns_http = http_client is None
        if http_client is None:
            # Our limiter admits at most max_concurrency requests, so the pool
            # never makes one wait (no PoolTimeout under a large gather).
            limits = httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            )
            http_client = DirectClient(
                transport=transport or build_transport(http_backend, limits),
                timeout=DEFAULT_TIMEOUT if timeout is NOT_GIVEN else timeout,
                limits=limits,
                follow_redirects=False,
            )
            self._timeout: Any = httpx.USE_CLIENT_DEFAULT
        else:
            self._timeout = httpx.USE_CLIENT_DEFAULT if timeout is NOT_GIVEN else timeout
        self._http = http_client
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Hot path for the client we own: requests are built directly from prepared
        # headers and parsed URLs (httpx's build_request re-merges and re-encodes
        # every header and re-parses the URL on each call: ~15 µs of a ~100 µs call).
        # A caller's own client goes through build_request, so its defaults apply.
        self._header_cache: dict[tuple[bool, str], httpx.Headers] = {}
        self._fast_urls: dict[str, httpx.URL] = {}
        self._default_timeout = _checked_timeouts(http_client.timeout.as_dict())
        self._default_largest = _largest(self._default_timeout)

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
        try:
            if self._owns_http:
                await self._http.aclose()
        finally:
            if self._redis is not None:
                with contextlib.suppress(Exception):  # a dead Redis has nothing to flush
                    await self._redis.aclose()

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

    # ------------------------------------------------------------------ response details

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
        outer = _RESPONSES.get()
        responses: list[ResponseInfo] = []
        token = _RESPONSES.set(responses)
        try:
            yield responses
        finally:
            _RESPONSES.reset(token)
            if outer is not None:
                outer.extend(responses)

    def __repr__(self) -> str:
        key = self._api_key
        shown = key[:4] + "…" if len(key) >= 12 else "***"
        return (
            f"AsyncIdenfy(base_url={self._base_url!r}, api_key={shown!r},"
            f" max_concurrency={self._limiter.limit}, closed={self._closed})"
        )

    def _check_open(self) -> None:
        if self._closed or self._http.is_closed:
            raise errors.ClientClosedError(
                "this AsyncIdenfy client is closed; create a new one (one client per"
                " application, opened at start-up and closed at shutdown)"
            )

    def _check_usable(self) -> None:
        self._check_open()
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
        before_send: Callable[[], Awaitable[None]] | None = None,
        **fields: Any,
    ) -> Session:
        """Create a verification session (``POST /api/v2/token``).

        Pass a :class:`SessionRequest`, or its fields as keywords
        (``create_session(client_id="user-123", first_name="John")``).

        Only failures that provably created no session are retried unless
        ``retry_ambiguous=True``; an error that may hide a created session has
        ``ambiguous=True``. ``before_send`` is awaited once, right before the first
        attempt leaves: after its rate-limit token and concurrency slot are taken and
        any shared cooldown has passed (bulk runs record a row ``pending`` there). If it
        raises, nothing is sent and its exception propagates.

        With ``single_session=True`` (or in a bulk run with ``redis_url``) the
        clientId's open session is returned instead of creating another, for the
        same request (see :class:`~idenfy_async.coordination.SessionRegistry`).

        Raises:
            RequestValidationError: invalid input; nothing was sent.
            APIError: iDenfy refused (a subclass per cause).
            APIConnectionError: no answer (``request_sent`` says whether it left).
            ResponseDecodeError: the answer could not be read.
            SessionAlreadyOpenError: (single session) the clientId has an open session
                for another request, on ``.session``; nothing was sent.
            SessionOutcomeUnknownError: (single session) an earlier create for the
                clientId may have made a session: reconcile, then :meth:`forget_session`.
            CoordinationError: (single session with Redis) the clientId could not be
                claimed in Redis; nothing was sent.
        """
        if request is None:
            fields.setdefault("client_id", "")  # reported as "clientId: is required"
            request = SessionRequest(**fields)
        elif fields:
            raise TypeError("pass a SessionRequest or keyword fields, not both")
        return await self._create_session(
            request,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_ambiguous=retry_ambiguous,
            timeout=timeout,
            before_send=before_send,
            priority="interactive",
            single=self._single_session,
        )

    def _create_session(
        self,
        request: SessionRequest,
        *,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        retry_ambiguous: bool | _NotGiven = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
        before_send: Callable[[], Awaitable[None]] | None = None,
        priority: coordination.Priority,
        single: bool,
    ) -> Awaitable[Session]:
        # A plain function handing back the call's coroutine: one coroutine layer
        # fewer per create (both callers await it at once, so its checks and
        # validation still raise where they did).
        spec = _sansio.build_create_session(request)
        base_url = self._base_url

        def parse(status: int, headers: Mapping[str, str], content: bytes) -> Session:
            return _sansio.parse_create_session(status, content, base_url=base_url)

        if not single:
            return self._call(
                "create_session",
                CallKind.CREATE,
                spec,
                parse,
                max_retries=max_retries,
                retry_deadline=retry_deadline,
                retry_ambiguous=retry_ambiguous,
                timeout=timeout,
                before_send=before_send,
                priority=priority,
            )

        async def send(hook: Callable[[], Awaitable[None]] | None) -> Session:
            return await self._call(
                "create_session",
                CallKind.CREATE,
                spec,
                parse,
                max_retries=max_retries,
                retry_deadline=retry_deadline,
                retry_ambiguous=retry_ambiguous,
                timeout=timeout,
                before_send=hook,
                priority=priority,
            )

        self._check_usable()
        deadline = self._policy.deadline if retry_deadline is NOT_GIVEN else retry_deadline
        return self._sessions().create(
            request.client_id,
            spec.body,
            send,
            expiry_time=request.expiry_time,
            deadline=deadline,
            before_send=before_send,
        )

    async def mark_session_closed(self, event: WebhookEvent) -> bool:
        """Tell the open-session registry a webhook arrived; True if it closed a session.

        Call it from the webhook handler with the parsed event: an identification
        event with its final result (``final`` not False) closes the clientId's open
        session with that scanRef, so the next ``create_session`` for the clientId
        creates a new one. Other events change nothing. Shared through Redis with
        ``redis_url`` (raises :class:`CoordinationError` when Redis fails: answer the
        webhook 503 so iDenfy redelivers it).
        """
        if not isinstance(event, IdentificationEvent) or event.final is False:
            return False
        if not event.client_id:
            return False
        return await self._sessions().close(event.client_id, event.scan_ref)

    def dedupe_store(self, *, ttl: float | None = None) -> coordination.DedupeStore:
        """A webhook dedupe store for this account: shared through Redis with ``redis_url``
        (:class:`~idenfy_async.coordination.RedisDedupeStore`, on this client's
        connections), else one process's (:class:`~idenfy_async.coordination.MemoryDedupeStore`).

        Make one per application and ``claim(event.dedupe_key)`` for each webhook.
        ``ttl``: seconds a key is kept (default a day: ``DEFAULT_DEDUPE_TTL``).
        """
        from . import coordination

        kept = coordination.DEFAULT_DEDUPE_TTL if ttl is None else ttl
        if self._redis is None:
            return coordination.MemoryDedupeStore(ttl=kept)
        return coordination.RedisDedupeStore(self._redis, self._api_key, ttl=kept)

    async def forget_session(self, client_id: str) -> None:
        """Let the next ``create_session`` for ``client_id`` be sent, whatever was known.

        For a :class:`SessionOutcomeUnknownError`: once :meth:`reconcile_session` says
        ``NOT_FOUND`` (or you handled the session it found). Raises
        :class:`CoordinationError` when Redis fails.
        """
        await self._sessions().forget(client_id)

    def _sessions(self) -> coordination.SessionRegistry:
        """The open-session registry (in Redis with ``redis_url``), made on first use."""
        if self._registry is None:
            from . import coordination

            self._registry = coordination.SessionRegistry(
                self._redis, self._api_key, clock=self._policy.clock, sleep=self._policy.sleep
            )
        return self._registry

    def create_sessions(
        self,
        requests: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
        *,
        concurrency: int | None = None,
        journal: Journal | None = None,
        retry_unknown: bool = False,
        retry_failed: bool = False,
        on_progress: Callable[[BulkProgress], None] | None = None,
        reconcile: bool | ReconcilePolicy = True,
        stop: asyncio.Event | None = None,
    ) -> AsyncGenerator[BulkResult, None]:
        """Create a session per request, streaming; yield each row's result as it ends.

        ``async for result in client.create_sessions(rows, journal=SqliteJournal(...))``.
        Takes any iterable or async iterable (nothing is read ahead beyond what is in
        flight); at most ``concurrency`` rows (default: ``max_concurrency``) are in
        flight. Each result carries the input, its index and a ``state``: created,
        skipped (an earlier run created it), failed, or unknown (a session may exist).
        With a ``journal`` a re-run never sends a created row again; a pending/unknown
        one is first reconciled (``reconcile``: this client lists its clientId, on its
        retry policy's clocks unless a ``ReconcilePolicy`` is given): found, it is
        recorded and not sent; not found, it is sent; still unknown, it is sent only
        if ``retry_unknown=True``. This client paces the rows
        (its ``rate_limit`` and ``max_concurrency``); a row is recorded ``pending``
        only when its request is about to leave. Set ``stop`` to send nothing new:
        rows not yet sent are dropped, requests in flight finish.
        See :func:`idenfy_async.bulk.create_sessions`.
        """
        from .bulk import create_sessions  # bulk is built on this client's public API

        return create_sessions(
            _BulkCreator(self, single=self._single_session or self._redis is not None),
            requests,
            concurrency=self._limiter.limit if concurrency is None else concurrency,
            journal=journal,
            retry_unknown=retry_unknown,
            retry_failed=retry_failed,
            on_progress=on_progress,
            reconcile=(
                ReconcilePolicy(wall_clock=self._policy.wall_clock, sleep=self._policy.sleep)
                if reconcile is True
                else reconcile
            ),
            stop=stop,
        )

    # ------------------------------------------------------------------ resources
    # The rest of the KYC workflow lives in .resources (imported on first use: it
    # imports this module), sent through this client's _call.

    @functools.cached_property
    def face_auth(self) -> FaceAuthentication:
        """Face authentication of a returning user (:class:`~.resources.FaceAuthentication`)."""
        from .resources import FaceAuthentication

        return FaceAuthentication(self)

    @functools.cached_property
    def request_info(self) -> InformationRequests:
        """Ask for more information (:class:`~.resources.InformationRequests`)."""
        from .resources import InformationRequests

        return InformationRequests(self)

    @functools.cached_property
    def blocklists(self) -> Blocklists:
        """Blocklist entries (:class:`~.resources.Blocklists`)."""
        from .resources import Blocklists

        return Blocklists(self)

    @functools.cached_property
    def processing(self) -> Processing:
        """Direct processing and additional-step uploads (:class:`~.resources.Processing`)."""
        from .resources import Processing

        return Processing(self)

    @functools.cached_property
    def proof_of_address(self) -> ProofOfAddress:
        """The standalone proof-of-address check (:class:`~.resources.ProofOfAddress`)."""
        from .resources import ProofOfAddress

        return ProofOfAddress(self)

    @property
    def rate_limit(self) -> RateLimit | None:
        """The limiter pacing this client's requests, if any."""
        return self._rate_limit

    async def get_status(
        self,
        scan_ref: str,
        *,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> StatusResult:
        """The verification's overall status (``POST /api/v2/status``).

        A fallback for a missed webhook only: iDenfy restricts accounts that poll it.
        Transient failures are retried (a read is safe to repeat).

        Raises:
            RequestValidationError: ``scan_ref`` is empty or too long; nothing was sent.
            APIError: iDenfy refused (``NotFoundError`` for an unknown scanRef, ...).
            APIConnectionError: no answer after the last attempt.
            ResponseDecodeError: the answer could not be read.
        """
        return await self._read(
            "get_status",
            _sansio.build_get_status(scan_ref),
            _body_only(_sansio.parse_get_status),
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            timeout=timeout,
        )

    async def get_data(
        self,
        scan_ref: str,
        *,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> VerificationData:
        """The document data read during verification (``POST /api/v2/data``).

        Every field may be ``None``. Raises as :meth:`get_status` does.
        """
        return await self._read(
            "get_data",
            _sansio.build_get_data(scan_ref),
            _body_only(_sansio.parse_get_data),
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            timeout=timeout,
        )

    async def get_files(
        self,
        scan_ref: str,
        *,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> FileUrls:
        """Pre-signed URLs of the verification's photos and videos (``POST /api/v2/files``).

        The URLs expire after about an hour: fetch them with :meth:`download_file`
        or :meth:`download_files` right away. Raises as :meth:`get_status` does.
        """
        return await self._read(
            "get_files",
            _sansio.build_get_files(scan_ref),
            _body_only(_sansio.parse_files),
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            timeout=timeout,
        )

    async def delete_verification(
        self,
        scan_ref: str,
        *,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> None:
        """Delete the verification's personal data for good (``POST /api/v2/delete``).

        Deleting is safe to repeat, so transient failures are retried.

        Raises:
            TokenNotExpiredError: the session is not over yet ("Token has not
                expired yet."); try again once it was used or expired.
            RequestValidationError, APIError, APIConnectionError: as :meth:`get_status`.
        """
        await self._read(
            "delete_verification",
            _sansio.build_delete_verification(scan_ref),
            _body_only(_sansio.parse_delete_verification),
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            timeout=timeout,
        )

    async def generate_pdf(
        self,
        scan_ref: str,
        language: str = "en",
        *,
        include_main_step_files: bool = True,
        include_additional_step_files: bool = True,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> bytes:
        """The verification report as PDF bytes (``POST /api/v2/generate-pdf``).

        Whether iDenfy answers with the PDF itself or with base64 of it, the PDF
        bytes are returned. Generating again is harmless, so failures are retried.

        Raises:
            ResponseDecodeError: the answer is neither a PDF nor base64 of one.
            RequestValidationError, APIError, APIConnectionError: as :meth:`get_status`.
        """
        return await self._read(
            "generate_pdf",
            _sansio.build_generate_pdf(
                scan_ref,
                language=language,
                include_main_step_files=include_main_step_files,
                include_additional_step_files=include_additional_step_files,
            ),
            _sansio.parse_generate_pdf,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            timeout=timeout,
        )

    def list_verifications(
        self,
        client_id: str | None = None,
        *,
        per_page: int = DEFAULT_PAGE_SIZE,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> AsyncIterator[VerificationSummary]:
        """Every verification, or those of ``client_id`` (``GET /kyc/identifications/``).

        ``async for summary in client.list_verifications("user-1"): ...``; page after
        page, each fetched when the previous one is used up. A ``next`` link is followed only
        on this client's own origin: the credentials never go anywhere else.

        Raises:
            RequestValidationError: at once (before iterating), for a bad
                ``client_id`` or ``per_page``.
            APIError, APIConnectionError, ResponseDecodeError: while iterating.
        """
        return self._list_verifications(
            client_id,
            per_page=per_page,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            timeout=timeout,
            priority="interactive",
        )

    def _list_verifications(
        self,
        client_id: str | None,
        *,
        per_page: int = DEFAULT_PAGE_SIZE,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
        priority: coordination.Priority,
    ) -> AsyncIterator[VerificationSummary]:
        first = _sansio.build_list_verifications(client_id, page=1, per_page=per_page)

        async def pages() -> AsyncIterator[VerificationSummary]:
            spec: _sansio.RequestSpec | None = first
            number = 1
            fetched: set[str] = set()
            while spec is not None:
                if spec.path in fetched:
                    raise errors.ResponseDecodeError(
                        "the next page link points to a page already read",
                        status_code=200,
                        method=spec.method,
                        path=_sansio.LIST_VERIFICATIONS_PATH,
                    )
                fetched.add(spec.path)
                page = await self._read(
                    "list_verifications",
                    spec,
                    _body_only(_sansio.parse_list_page),
                    max_retries=max_retries,
                    retry_deadline=retry_deadline,
                    timeout=timeout,
                    priority=priority,
                )
                for summary in page.results:
                    yield summary
                number += 1
                spec = _sansio.next_page_spec(
                    page,
                    base_url=self._base_url,
                    client_id=client_id,
                    page_number=number,
                    per_page=per_page,
                )

        return pages()

    async def reconcile_session(
        self,
        client_id: str,
        *,
        since: float | None,
        known_scan_refs: Iterable[str] = (),
        scan_ref: str | None = None,
        expiry_time: int | None = None,
        dummy: bool = False,
        settle_window: float = DEFAULT_SETTLE_WINDOW,
    ) -> Reconciliation:
        """After an ambiguous ``create_session`` error: did iDenfy create the session?

        Lists ``client_id``'s verifications (every page; a read, retried like any
        read, safe to call again) and decides by the rules of
        :mod:`idenfy_async.reconcile`: ``FOUND`` (``scan_ref``, ``status``,
        ``expires_at`` while open; the authToken cannot be recovered),
        ``NOT_FOUND`` (safe to send again) or ``UNKNOWN`` (the listing failed,
        several sessions cannot be told apart, or it is too soon: ask again after
        ``retry_at``). Never sends anything else.

        Assumptions (iDenfy documents neither): a new session, even one never
        opened, appears in the listing within ``settle_window`` seconds of its
        request; until then "not listed" is ``UNKNOWN``. Any listed session not in
        ``known_scan_refs`` and still in a state this attempt's could be in (nobody
        has its token, so it was not opened) may be this attempt's.

        Args:
            client_id: the clientId the lost request was for.
            since: wall-clock time (``time.time()``) taken just before calling
                ``create_session``; None if unknown (then never ``NOT_FOUND``).
            known_scan_refs: every scanRef you already hold for this clientId.
            scan_ref: a scanRef the failed call did read (``ResponseDecodeError.scan_ref``).
            expiry_time, dummy: the request's ``expiry_time``, and whether it set
                ``dummy_status``.
            settle_window: seconds after ``since`` before "not listed" counts.

        Raises:
            RequestValidationError: a bad ``client_id``; nothing was sent.
            ConfigurationError: a negative ``settle_window``.
            ClientStateError: the client is closed or bound to another loop.
        """
        return await reconcile_session(
            self,
            client_id,
            since=since,
            known_scan_refs=known_scan_refs,
            scan_ref=scan_ref,
            expiry_time=expiry_time,
            dummy=dummy,
            settle_window=settle_window,
            wall_clock=self._policy.wall_clock,
        )

    async def download_file(
        self,
        url: str,
        destination: str | os.PathLike[str] | BinaryIO,
        *,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> int:
        """Stream one file URL (from :meth:`get_files` or a webhook) to a path or binary file.

        The body is written in ``chunk_size`` pieces off the event loop, never held
        whole in memory. A path is written to a temporary file beside it and
        renamed at the end, so it never holds half a file; a file object is
        written at its current position (retried only if it is seekable). The
        request carries no Authorization header: these are pre-signed URLs on
        another host. Returns the number of bytes written.

        Raises:
            RequestValidationError: ``url`` is not ``https://`` (``http://`` only on
                loopback); nothing was sent.
            APIError: the file host refused (``PermissionDeniedError`` once the URL
                expired, about an hour after it was issued).
            APIConnectionError: no complete answer after the last attempt.
        """
        url = _sansio.check_download_url(url)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError("chunk_size must be a positive integer")
        self._check_usable()
        # Errors name the path only: the query is the URL's signature.
        spec = _sansio.RequestSpec("GET", urllib.parse.urlsplit(url).path or "/", b"")
        request_timeout = self._timeout if timeout is NOT_GIVEN else timeout
        retries = self._policy.max_retries if max_retries is NOT_GIVEN else max_retries
        # The file host's rate-limit answers must not pause calls to iDenfy.
        cooldown = Cooldown(self._policy.clock, self._policy.sleep)

        started = self._policy.clock()
        tries = 0

        async def stream_to(file: BinaryIO) -> int:
            nonlocal tries
            await cooldown.wait()  # a 429's Retry-After, before the retry leaves
            tries += 1
            return await self._stream(
                url, file, spec, chunk_size, request_timeout, attempt=tries, started=started
            )

        attempt: Callable[[], Awaitable[int]]
        if isinstance(destination, str | os.PathLike):
            target = Path(destination)

            async def to_path() -> int:
                part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
                try:
                    file = await asyncio.to_thread(part.open, "wb")
                    try:
                        written = await stream_to(file)
                    finally:
                        await asyncio.to_thread(file.close)
                    await asyncio.to_thread(os.replace, part, target)
                except BaseException:
                    await asyncio.shield(asyncio.to_thread(part.unlink, missing_ok=True))
                    raise
                return written

            attempt = to_path
        else:
            file = destination
            start = await asyncio.to_thread(_position, file)
            if start is None:
                retries = 0  # what was written cannot be taken back
            attempts = 0

            async def to_file() -> int:
                nonlocal attempts
                attempts += 1
                if attempts > 1 and start is not None:
                    await asyncio.to_thread(_rewind, file, start)
                return await stream_to(file)

            attempt = to_file

        written: int = await retry_call(
            attempt,
            operation="download_file",
            kind=CallKind.READ,
            policy=self._policy,
            cooldown=cooldown,
            max_retries=retries,
            deadline=self._policy.deadline if retry_deadline is NOT_GIVEN else retry_deadline,
            retry_ambiguous=False,
            on_retry=self._on_retry,
        )
        return written

    async def download_files(
        self,
        file_urls: Mapping[str, str | None],
        directory: str | os.PathLike[str],
        *,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
        max_retries: int | _NotGiven = NOT_GIVEN,
        retry_deadline: float | _NotGiven | None = NOT_GIVEN,
        timeout: float | httpx.Timeout | _NotGiven | None = NOT_GIVEN,
    ) -> dict[str, Path]:
        """Download every URL of a :class:`FileUrls` into ``directory``, concurrently.

        Files are named after their key and the URL's extension (``FRONT.jpg``);
        null URLs are skipped. Returns key -> path. If one download fails, the
        others are cancelled and the error is raised (files already complete stay).
        Raises as :meth:`download_file` does; every URL is checked before any is sent.
        """
        folder = Path(directory)
        plan: dict[str, tuple[str, Path]] = {}
        used: set[str] = set()
        for name, url in file_urls.items():
            if url is None:
                continue
            file_name = _file_name(name, _sansio.check_download_url(url), used)
            used.add(file_name.lower())
            plan[name] = (url, folder / file_name)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        tasks = [
            asyncio.ensure_future(
                self.download_file(
                    url,
                    path,
                    chunk_size=chunk_size,
                    max_retries=max_retries,
                    retry_deadline=retry_deadline,
                    timeout=timeout,
                )
            )
            for url, path in plan.values()
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return {name: path for name, (_, path) in plan.items()}

    # ------------------------------------------------------------------ machinery

    async def _read(
        self,
        operation: str,
        spec: _sansio.RequestSpec,
        parse: Parse[T],
        *,
        max_retries: int | _NotGiven,
        retry_deadline: float | _NotGiven | None,
        timeout: float | httpx.Timeout | _NotGiven | None,
        priority: coordination.Priority = "interactive",
    ) -> T:
        return await self._call(
            operation,
            CallKind.READ,
            spec,
            parse,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_ambiguous=NOT_GIVEN,
            timeout=timeout,
            priority=priority,
        )

    async def _stream(
        self,
        url: str,
        file: BinaryIO,
        spec: _sansio.RequestSpec,
        chunk_size: int,
        timeout: Any,
        *,
        attempt: int,
        started: float,
    ) -> int:
        request = self._http.build_request(
            "GET", url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"}, timeout=timeout
        )
        # Never our credentials to another host, even from a caller's http_client
        # defaults: S3 also refuses a pre-signed request that carries them.
        request.headers.pop("Authorization", None)
        written = 0
        async with self._limiter:
            self._check_open()  # per attempt: the client may close while a retry waits
            # No whole-attempt bound here: a file's size is unknown, so ``timeout``
            # keeps httpx's meaning (each phase, each read).
            clock = self._policy.clock
            with _HttpxErrors("download_file", spec, attempt, clock, started) as seen:
                response = await self._http.send(request, stream=True, auth=None)
                seen.status, seen.headers = response.status_code, response.headers
                try:
                    if not 200 <= response.status_code < 300:
                        raise _sansio.download_error(
                            response.status_code,
                            response.headers,
                            path=_shown_path(spec),
                            now=self._policy.wall_clock(),
                        )
                    async for chunk in response.aiter_bytes(chunk_size):
                        await asyncio.to_thread(file.write, chunk)
                        written += len(chunk)
                finally:
                    await response.aclose()
        return written

    async def _call(
        self,
        operation: str,
        kind: CallKind,
        spec: _sansio.RequestSpec,
        parse: Parse[T],
        *,
        max_retries: int | _NotGiven,
        retry_deadline: float | _NotGiven | None,
        retry_ambiguous: bool | _NotGiven,
        timeout: float | httpx.Timeout | _NotGiven | None,
        before_send: Callable[[], Awaitable[None]] | None = None,
        priority: coordination.Priority = "interactive",
    ) -> T:
        self._check_usable()
        policy = self._policy
        first_send = before_send
        url = self._base_url + spec.path
        headers = self._headers_for(spec)
        timeouts = self._timeouts(timeout)
        # The read timeout bounds the whole attempt, send to last byte (httpx's own is
        # per read: a body trickling a byte at a time would never end).
        whole = timeouts["read"]
        largest = self._default_largest if timeouts is self._default_timeout else _largest(timeouts)
        cap = _sansio.response_size_cap(spec)
        budget = Budget(
            policy.deadline if retry_deadline is NOT_GIVEN else retry_deadline, policy.clock
        )
        started = policy.clock()
        attempt = 0

        async def send() -> T:
            nonlocal first_send, attempt
            if self._admits_now():
                await self._limiter.acquire()  # takes a free slot without yielding
            else:
                await self._admit(budget, spec, priority)
            attempt += 1
            # One attempt, from its slot to its result: httpx's errors are translated
            # here, and here it is logged and its answer captured (see _HttpxErrors).
            with _HttpxErrors(operation, spec, attempt, policy.clock, started) as seen:
                try:
                    # Checked per attempt: the client may close while a retry waits.
                    self._check_open()
                    if first_send is not None:
                        hook, first_send = first_send, None
                        await hook()
                    left = budget.left()
                    limit = whole if left is None or (whole is not None and whole <= left) else left
                    if limit is not None and limit <= 0:
                        raise errors.APITimeoutError(
                            "no time left to send the request (timeout, or retry_deadline)",
                            request_sent=False,
                            method=spec.method,
                            path=_shown_path(spec),
                        )
                    # httpx's per-phase timeouts never outlast the attempt's share either.
                    attempt_timeouts = (
                        timeouts if limit is None or limit >= largest else _clipped(timeouts, limit)
                    )
                    request = self._build_request(spec, url, headers, attempt_timeouts)
                    response, content = await _exchange(self._http, request, limit, cap, seen)
                finally:
                    self._limiter.release()
                return self._interpret(spec, response, content, parse)

        return await retry_call(
            send,
            operation=operation,
            kind=kind,
            policy=policy,
            cooldown=self._cooldown,
            shared_cooldown=self._shared_cooldown,
            max_retries=policy.max_retries if max_retries is NOT_GIVEN else max_retries,
            deadline=None,
            budget=budget,
            retry_ambiguous=(
                policy.retry_ambiguous if retry_ambiguous is NOT_GIVEN else retry_ambiguous
            ),
            on_retry=self._on_retry,
        )

    async def _admit(
        self, budget: Budget, spec: _sansio.RequestSpec, priority: coordination.Priority
    ) -> None:
        """Wait out the shared cooldown, then take a rate token, then a slot (held on return).

        The token is taken after the cooldown: when a cooldown ends, the calls that
        waited it out leave at the configured pace, not all in the same instant (which
        would draw a 429 for all but one and start the next cooldown). Queueing for
        the token and the slot does not count against the deadline; the cooldown does,
        and one that would outlast it raises :class:`RateLimitError` at once.
        With Redis, the account's quota takes the token at ``priority``; its script
        also waits out a cooldown another process started.
        """
        clock = self._policy.clock
        rate_limit = self._rate_limit
        quota = self._quota
        cooldown = self._cooldown
        while True:
            # Checked inline first: the hot path has no cooldown and needs no coroutine.
            cooling = await cooldown.wait(budget.end) if cooldown.remaining > 0 else 0.0
            if cooling > 0:
                raise _cooldown_error(spec, cooling)
            queued = clock()
            if quota is not None:
                # Before the slot, as below. Another process's cooldown is waited out
                # here; one that would outlast the deadline raises, as ours does.
                grant = await quota.take(priority, max_cooldown=budget.left())
                if grant.cooldown > 0:
                    raise _cooldown_error(spec, grant.cooldown)
            elif rate_limit is not None:
                # Before taking a concurrency slot: a request waiting for its turn
                # must not hold up others.
                await rate_limit.acquire()
            await self._limiter.acquire()
            budget.exclude(clock() - queued)
            if cooldown.remaining <= 0:
                return
            # A cooldown began while this call queued: give the slot back and wait it
            # out with the others (the token is spent; pacing only gets slower).
            self._limiter.release()

    def _admits_now(self) -> bool:
        """Whether :meth:`_admit` would have nothing to wait for: no Redis quota, no
        cooldown, a free slot, and no rate limit or a token of this process's bucket
        free with nobody queued for it (taken here, in :meth:`_admit`'s order: after
        the cooldown, before the slot). The slot is then taken without yielding to the
        loop, so no cooldown can begin and no time is queued meanwhile: the same
        outcome as :meth:`_admit`, without its loop and clock readings."""
        rate_limit = self._rate_limit
        return (
            self._quota is None
            and self._limiter.free()
            and self._cooldown.remaining <= 0
            and (rate_limit is None or (type(rate_limit) is RateLimiter and rate_limit.take_now()))
        )

    def _timeouts(self, timeout: float | httpx.Timeout | _NotGiven | None) -> dict[str, Any]:
        """httpx's four timeouts (connect, read, write, pool) for one call."""
        chosen: Any = self._timeout if timeout is NOT_GIVEN else timeout
        if chosen is httpx.USE_CLIENT_DEFAULT and self._owns_http:
            return self._default_timeout  # checked once, in __init__
        if chosen is httpx.USE_CLIENT_DEFAULT:
            return _checked_timeouts(self._http.timeout.as_dict())
        return _checked_timeouts(httpx.Timeout(chosen).as_dict())

    def _build_request(
        self,
        spec: _sansio.RequestSpec,
        url: str,
        headers: httpx.Headers,
        timeouts: dict[str, Any],
    ) -> httpx.Request:
        if self._owns_http:
            return self._build_owned_request(spec, url, headers, timeouts)
        request = self._http.build_request(
            spec.method, url, content=spec.body or None, headers=headers
        )
        request.extensions["timeout"] = timeouts
        return request

    def _headers_for(self, spec: _sansio.RequestSpec) -> httpx.Headers:
        """Our headers for this kind of request, built once per (has body, Accept).

        For the client we own they already include its defaults (what build_request
        would merge in); for a caller's client, only ours: build_request merges theirs.
        """
        key = (bool(spec.body), spec.accept)
        headers = self._header_cache.get(key)
        if headers is None:
            headers = httpx.Headers(self._http.headers if self._owns_http else None)
            headers["Accept"] = spec.accept
            headers["User-Agent"] = USER_AGENT
            headers["Authorization"] = self._authorization
            if spec.body:  # a GET has nothing to describe
                headers["Content-Type"] = _sansio.JSON_CONTENT_TYPE
            self._header_cache[key] = headers
        return headers

    def _build_owned_request(
        self,
        spec: _sansio.RequestSpec,
        url: str,
        headers: httpx.Headers,
        timeouts: dict[str, Any],
    ) -> httpx.Request:
        parsed = self._fast_urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if "?" not in url:  # fixed endpoint paths only: page URLs would pile up
                self._fast_urls[url] = parsed
        return httpx.Request(
            spec.method,
            parsed,
            content=spec.body or None,
            headers=headers,
            extensions={"timeout": timeouts},
        )

    def _interpret(
        self,
        spec: _sansio.RequestSpec,
        response: httpx.Response,
        content: bytes,
        parse: Parse[T],
    ) -> T:
        status = response.status_code
        if 200 <= status < 300 and not _sansio.is_error_body(status, content):
            try:
                return parse(status, response.headers, content)
            except errors.ResponseDecodeError as exc:
                exc.method, exc.path = spec.method, _shown_path(spec)
                raise
        raise _sansio.error_from_response(
            status,
            response.headers,
            content,
            method=spec.method,
            path=_shown_path(spec),
            now=self._policy.wall_clock(),
        )


class _BulkCreator:
    """The client as bulk runs see it: bulk-priority tokens, and (with Redis or
    ``single_session``) one open session per clientId."""

    def __init__(self, client: AsyncIdenfy, *, single: bool) -> None:
        self._client = client
        self._single = single

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_ambiguous: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        return await self._client._create_session(
            request,
            retry_ambiguous=retry_ambiguous,
            before_send=before_send,
            priority="bulk",
            single=self._single,
        )

    def list_verifications(
        self, client_id: str | None = None
    ) -> AsyncIterator[VerificationSummary]:
        # Reconciling a bulk run's open rows is bulk work too: behind interactive calls.
        return self._client._list_verifications(client_id, priority="bulk")


def _cooldown_error(spec: _sansio.RequestSpec, cooling: float) -> errors.RateLimitError:
    """A cooldown (this client's, or with Redis any process's) outlasting the deadline."""
    return errors.RateLimitError(
        status_code=429,
        identifier=None,
        message=(
            f"this client pauses every call for {cooling:.1f} s more after a rate-limit"
            " answer (with Redis: any process's), past this call's retry_deadline"
        ),
        method=spec.method,
        path=_shown_path(spec),
        retry_after=cooling,
    )


def _body_only(parse: Callable[[int, bytes], T]) -> Parse[T]:
    def parse_body(status: int, headers: Mapping[str, str], content: bytes) -> T:
        return parse(status, content)

    return parse_body


def _position(file: BinaryIO) -> int | None:
    # Where writing starts, when the file can go back there for a retry.
    try:
        return file.tell() if file.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _rewind(file: BinaryIO, position: int) -> None:
    file.seek(position)
    file.truncate()


def _file_name(name: str, url: str, used: set[str]) -> str:
    stem = _SAFE_FILE_NAME.sub("_", name).strip(".") or "file"
    suffix = PurePosixPath(urllib.parse.urlsplit(url).path).suffix
    suffix = suffix if _FILE_SUFFIX.fullmatch(suffix) else ""
    candidate, number = stem + suffix, 1
    while candidate.lower() in used:
        number += 1
        candidate = f"{stem}_{number}{suffix}"
    return candidate


# ------------------------------------------------------------------ one attempt on the wire
# Everything below sends one request and reads its answer; it knows httpx and asyncio,
# not retries or pacing.


class _AttemptExpired(Exception):
    """An attempt outlived its bound (raised by :class:`_AttemptTimer`, never escapes)."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


class _AttemptTimer:
    """Cancels the current task when the attempt outlives ``limit`` seconds.

    What ``asyncio.timeout`` does on 3.11+, written out so it also runs on 3.10: a
    timer on the loop (no extra task) that cancels us; :meth:`expired` then tells our
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


async def _exchange(
    http: httpx.AsyncClient,
    request: httpx.Request,
    limit: float | None,
    cap: int,
    seen: _HttpxErrors,
) -> tuple[httpx.Response, bytes]:
    """Send ``request`` and read its answer, at most ``cap`` bytes, within ``limit`` s.

    A success larger than ``cap`` is a :class:`ResponseDecodeError`; an error answer
    that large keeps its status and loses its body.
    """
    timer = None if limit is None else _AttemptTimer(limit)
    response: httpx.Response | None = None
    content: bytes | None = None
    try:
        response = await http.send(request, stream=True)
        seen.status, seen.headers = response.status_code, response.headers
        try:
            # A transport that read the body already (the aiohttp one, a mock): no
            # stream to walk, no header to look up; the cap applies all the same.
            content = response.content
        except httpx.ResponseNotRead:
            # Read in chunks, up to the cap (a declared length over it is not read at all).
            declared = response.headers.get("content-length")
            if declared is None or not declared.isdigit() or int(declared) <= cap:
                content = await _read_capped(response, cap)
        else:
            if len(content) > cap:
                content = None
    except asyncio.CancelledError:
        if timer is not None and timer.expired():
            raise _AttemptExpired(limit or 0.0) from None
        raise
    finally:
        if timer is not None:
            timer.stop()  # first: a body read whole is not lost to a timer during close
        if response is not None:
            await response.aclose()
    if content is None:
        if 200 <= response.status_code < 300:
            raise errors.ResponseDecodeError(
                f"the answer is larger than {cap:,} bytes",
                status_code=response.status_code,
                method=request.method,
                path=_shown_path(seen.spec),
            )
        content = b""  # an error status still says what happened; its body is not needed
    return response, content


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
    _AttemptExpired,
)


class _HttpxErrors:
    """One attempt on the wire: every attempt of every call, downloads included, runs
    inside one (``with _HttpxErrors(...)``).

    It is the one boundary where httpx's exceptions become ours: most specific first,
    as httpx's ``_transports/default.py`` maps httpcore's; our own errors raised inside
    pass through untouched. It is also where each attempt is logged (``IDENFY_LOG``)
    and a successful answer's :class:`ResponseInfo` is captured. ``status`` and
    ``headers`` are the answer's, once known.
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
        spec: _sansio.RequestSpec,
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
        self.responses: list[ResponseInfo] | None = None

    def __enter__(self) -> _HttpxErrors:
        if self.clock is None:
            return self
        # Cheap when nobody listens: one level check, one context-variable lookup;
        # then no clock reading either (``clock`` None: nothing to record).
        self.responses = _RESPONSES.get()
        if self.responses is None and not http_logger.isEnabledFor(logging.INFO):
            self.clock = None
            return self
        self.begun = self.clock()
        if self.started is not None and http_logger.isEnabledFor(logging.DEBUG):
            http_logger.debug(
                "%s %s: attempt %d starts %d ms into the call",
                self.spec.method,
                _shown_path(self.spec),
                self.attempt,
                round((self.begun - self.started) * 1000),
            )
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
        logged = http_logger.isEnabledFor(logging.INFO)
        responses = self.responses if exc is None else None
        if not logged and responses is None:
            return
        now = self.clock()
        path = _shown_path(self.spec)
        if logged:
            if exc is None:
                outcome = "ok"
            elif isinstance(exc, asyncio.CancelledError):
                outcome = "cancelled"
            else:
                outcome = type(exc).__name__
            elapsed_ms = round((now - self.begun) * 1000)
            status = self.status or "-"
            http_logger.info(
                "%s %s %s in %d ms (attempt %d: %s)",
                self.spec.method,
                path,
                status,
                elapsed_ms,
                self.attempt,
                outcome,
                extra={
                    "idenfy_operation": self.operation,
                    "idenfy_method": self.spec.method,
                    "idenfy_path": path,
                    "idenfy_status": self.status or None,
                    "idenfy_elapsed_ms": elapsed_ms,
                    "idenfy_attempt": self.attempt,
                    "idenfy_outcome": outcome,
                },
            )
        if responses is not None and self.headers is not None:
            responses.append(
                ResponseInfo(
                    operation=self.operation,
                    method=self.spec.method,
                    path=path,
                    status_code=self.status,
                    headers=httpx.Headers(self.headers),
                    elapsed=now - (self.begun if self.started is None else self.started),
                    attempts=self.attempt,
                )
            )


def _shown_path(spec: _sansio.RequestSpec) -> str:
    """The path as errors, logs and ResponseInfo name it: never a query (a listing's clientId,
    a file URL's signature), never a token the real path holds."""
    return spec.shown_path or spec.path.partition("?")[0]


def _translate(
    exc: Exception, operation: str, spec: _sansio.RequestSpec, status: int
) -> errors.IdenfyError:
    method, path = spec.method, _shown_path(spec)
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, _AttemptExpired):
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
        response = exc.response
        return _sansio.error_from_response(
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


def _checked_timeouts(timeouts: dict[str, Any]) -> dict[str, Any]:
    if any(value is not None and not 0 <= value < math.inf for value in timeouts.values()):
        raise errors.ConfigurationError(
            "timeout must be a finite number of seconds (>= 0), None, or an httpx.Timeout"
            " of such values"
        )
    return timeouts


def _largest(timeouts: Mapping[str, float | None]) -> float:
    return max(math.inf if value is None else value for value in timeouts.values())


def _clipped(timeouts: Mapping[str, float | None], limit: float) -> dict[str, float]:
    return {
        name: limit if value is None or value > limit else value for name, value in timeouts.items()
    }


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
