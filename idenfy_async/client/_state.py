"""What an [`AsyncIdenfy`][idenfy_async.AsyncIdenfy] and every client `with_options`
derives from it share: one `ClientState`.

It is built once, from the constructor's arguments (`open_state`): the
`Sender` with its connection pool and admission
(concurrency limit, pacing, cooldown), the Redis connection and account quota, the
open-session registry (made on first use), the event loop the connections belong to,
and whether they are closed. A client holds a reference to it plus its own per-call
defaults; closing the client that built it closes it (`ClientState.aclose`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import httpx

from .. import errors
from .._constants import (
    DEFAULT_ACCOUNT_RATE,
    DEFAULT_CONCURRENCY,
    ENV_ALLOW_INSECURE_HTTP,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_BASE_URL,
    ENV_LOG,
    ENV_REDIS_URL,
)
from .._send.admission import Admission
from .._send.limits import ConcurrencyLimiter, Pace, Pacer, parse_rate
from .._send.observe import configure_logging, hide_queries_in_httpx_logs
from .._send.options import NOT_GIVEN, NotGiven, RequestOptions, checked_timeouts
from .._send.retry import OnRetry, RetryPolicy
from .._send.sender import DEFAULT_TIMEOUT, Sender
from .._wire import sessions as _sansio
from ..models import utf8_problem
from ..models._urls import origin_of, secure_url_problem
from ..transports import DirectClient, HttpBackend, build_transport

if TYPE_CHECKING:
    from .. import coordination  # loaded with redis_url= or single_session (needs redis)
    from ..models import Session

DEFAULT_BASE_URL: Final = "https://ivs.idenfy.com"
DEFAULT_MAX_CONCURRENCY: Final = DEFAULT_CONCURRENCY
#: What ``IDENFY_ALLOW_INSECURE_HTTP`` may say (case-insensitive): on, or off.
_ENV_ON: Final = frozenset({"1", "true", "yes", "on"})
_ENV_OFF: Final = frozenset({"", "0", "false", "no", "off"})

logger = logging.getLogger("idenfy_async")


class ClientState:
    """The shared part of a client: connections, pacing, Redis, registry, loop, closed.

    ``policy`` is the building client's retry policy: its clocks and sleep pace the
    shared parts (the registry, the quota); each client keeps its own for its calls.
    """

    __slots__ = (
        "api_key",
        "base_url",
        "closed",
        "insecure_origin",
        "loop",
        "on_retry",
        "parse_session",
        "policy",
        "quota",
        "redis",
        "registry",
        "sender",
        "single_session",
    )

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        sender: Sender,
        policy: RetryPolicy,
        on_retry: OnRetry | None,
        single_session: bool,
        redis: Any,
        quota: coordination.RedisQuota | None,
        insecure_origin: str | None = None,
    ) -> None:
        self.base_url = base_url
        #: The base URL's origin when plain http:// to it was allowed by the opt-in
        #: (its file URLs, e.g. a fake's, may then be fetched over http:// too).
        self.insecure_origin = insecure_origin
        self.api_key = api_key
        self.sender = sender
        self.policy = policy
        self.on_retry = on_retry
        self.single_session = single_session
        self.redis = redis
        self.quota = quota
        self.registry: coordination.SessionRegistry | None = None  # made on first use
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        # The token answer's reader, built once: it needs the base URL.
        self.parse_session = _session_parser(base_url)

    async def aclose(self) -> None:
        """Close the pool (unless it is a caller's ``http_client``) and Redis. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.sender.owns_http:
                await self.sender.http.aclose()
        finally:
            if self.redis is not None:
                with contextlib.suppress(Exception):  # a dead Redis has nothing to flush
                    await self.redis.aclose()

    def bind_loop(self) -> None:
        """Tie the connections to the running loop on first use; refuse any other loop.

        Raises:
            EventLoopMismatchError: the state was first used on another loop.
        """
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise errors.EventLoopMismatchError(
                "this AsyncIdenfy client was first used on another event loop; its"
                " connections belong to that loop. Create one client per event loop"
                " (e.g. inside the coroutine passed to asyncio.run)."
            )

    def checked_download_url(self, url: Any) -> str:
        """``url`` when it may be fetched: ``https://``, ``http://`` on loopback, or
        ``http://`` on the base URL's own origin when the insecure-http opt-in allowed it.

        Raises:
            RequestValidationError: naming ``url``; nothing may be sent.
        """
        insecure = self.insecure_origin
        if (
            insecure is not None
            and isinstance(url, str)
            and url.startswith("http://")
            and not utf8_problem(url)
            and origin_of(url) == insecure
        ):
            return url
        return _sansio.check_download_url(url)

    def sessions(self) -> coordination.SessionRegistry:
        """The open-session registry (in Redis with ``redis_url``), made on first use."""
        if self.registry is None:
            from .. import coordination

            policy = self.policy
            self.registry = coordination.SessionRegistry(
                self.redis, self.api_key, clock=policy.clock, sleep=policy.sleep
            )
        return self.registry


def open_state(
    api_key: str | None,
    api_secret: str | None,
    *,
    base_url: str | None,
    timeout: float | httpx.Timeout | NotGiven | None,
    max_concurrency: int,
    rate_limit: str | Pacer | None,
    retry_policy: RetryPolicy | None,
    retry_options: RequestOptions,
    on_retry: OnRetry | None,
    http_backend: HttpBackend,
    transport: httpx.AsyncBaseTransport | None,
    http_client: httpx.AsyncClient | None,
    redis_url: str | NotGiven | None,
    bulk_share: float | NotGiven,
    fallback_share: float | NotGiven | None,
    single_session: bool,
    allow_insecure_http: bool | None = None,
) -> ClientState:
    """The `ClientState` of the constructor's arguments (environment defaults read;
    ``IDENFY_LOG`` applied); its ``policy`` is ``retry_policy`` with ``retry_options``.

    Raises:
        ConfigurationError: missing credentials, a bad base URL, conflicting arguments.
    """
    api_key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
    api_secret = api_secret if api_secret is not None else os.environ.get(ENV_API_SECRET)
    _check_arguments(api_key, api_secret, max_concurrency, http_backend, transport, http_client)
    assert api_key is not None  # checked just above
    assert api_secret is not None
    configure_logging(os.environ.get(ENV_LOG))
    checked_url, insecure_origin = _checked_base_url(
        base_url or os.environ.get(ENV_BASE_URL), allow_insecure_http
    )
    hide_queries_in_httpx_logs(checked_url)
    policy = evolved(retry_policy or RetryPolicy(), retry_options)
    url = os.environ.get(ENV_REDIS_URL) if redis_url is NOT_GIVEN else redis_url
    admission, redis, quota = _pacing(
        api_key, policy, rate_limit, url, bulk_share=bulk_share, fallback_share=fallback_share
    )
    admission.limiter = ConcurrencyLimiter(max_concurrency)
    if timeout is not NOT_GIVEN:
        checked_timeouts(httpx.Timeout(timeout).as_dict())
    token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
    sender = Sender(
        http_client or _own_http_client(max_concurrency, http_backend, transport, timeout),
        owns_http=http_client is None,
        authorization=f"Basic {token}",
        admission=admission,
    )
    return ClientState(
        base_url=checked_url,
        api_key=api_key,
        sender=sender,
        policy=policy,
        on_retry=on_retry,
        single_session=single_session,
        redis=redis,
        quota=quota,
        insecure_origin=insecure_origin,
    )


def _pacing(
    api_key: str,
    policy: RetryPolicy,
    rate_limit: str | Pacer | None,
    redis_url: str | None,
    *,
    bulk_share: float | NotGiven,
    fallback_share: float | NotGiven | None,
) -> tuple[Admission, Any, coordination.RedisQuota | None]:
    """The client's pacing: Redis's account quota with ``redis_url``, else ``rate_limit``.

    Returns the admission (its limiter set by the caller), the Redis connection and
    the quota (both None without Redis).
    """

    def pace(rate: float | None) -> Pace:
        return Pace(
            rate, clock=policy.clock, sleep=policy.sleep, base_pause=policy.rate_limit_floor
        )

    limiter = ConcurrencyLimiter(1)  # replaced by the caller
    if not redis_url:
        if rate_limit is None or isinstance(rate_limit, str | int | float):
            rate = None if rate_limit is None else parse_rate(rate_limit)
            return Admission(limiter=limiter, pace=pace(rate), clock=policy.clock), None, None
        # A caller's own Pacer says when; ours still pauses every call after a 429.
        admission = Admission(
            limiter=limiter, pace=pace(None), clock=policy.clock, pacer=rate_limit
        )
        return admission, None, None
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
    redis = coordination.connect(redis_url)  # bounded timeouts, lazy: no I/O here
    quota = coordination.RedisQuota(
        redis,
        api_key,
        rate_limit if rate_limit is not None else DEFAULT_ACCOUNT_RATE,
        sleep=policy.sleep,
        clock=policy.clock,
        **shares,
    )
    # The quota owns the account's pace and pauses; this process's pace only waits
    # for the moment each turn leaves.
    admission = Admission(limiter=limiter, pace=pace(None), clock=policy.clock, quota=quota)
    return admission, redis, quota


def _session_parser(base_url: str) -> Callable[[int, Mapping[str, str], bytes], Session]:
    def parse(status: int, headers: Mapping[str, str], content: bytes) -> Session:
        return _sansio.parse_create_session(status, content, base_url=base_url)

    return parse


def evolved(policy: RetryPolicy, options: RequestOptions) -> RetryPolicy:
    """``policy`` with the retry settings ``options`` gives (a client's own defaults)."""
    overrides: dict[str, Any] = {}
    if options.max_retries is not NOT_GIVEN:
        overrides["max_retries"] = options.max_retries
    if options.retry_deadline is not NOT_GIVEN:
        overrides["deadline"] = options.retry_deadline
    if options.retry_unknown is not NOT_GIVEN:
        overrides["retry_unknown"] = options.retry_unknown
    return attrs.evolve(policy, **overrides) if overrides else policy


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


def _checked_base_url(url: str | None, allow_insecure_http: bool | None) -> tuple[str, str | None]:
    """The base URL without its trailing slash, and its origin if it is plain http://
    to a host that is not loopback (see `insecure_http_origin`)."""
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise errors.ConfigurationError("base_url must be an absolute https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise errors.ConfigurationError(
            "base_url must not carry a query, fragment or user:password (pass credentials"
            " as api_key= and api_secret=)"
        )
    return url, insecure_http_origin(url, allow_insecure_http)


def insecure_http_origin(url: str, allow_insecure_http: bool | None) -> str | None:
    """None for an ``https://`` URL or ``http://`` on a loopback host; for plain ``http://``
    to another host, its origin, if the opt-in allows it (then one WARNING is logged).

    ``allow_insecure_http``: the opt-in (None: ``IDENFY_ALLOW_INSECURE_HTTP``).

    Raises:
        ConfigurationError: plain http:// to another host without the opt-in (the
            message names both ways to opt in), or an unreadable opt-in.
    """
    if secure_url_problem(url) is None:
        return None
    if not insecure_http_allowed(allow_insecure_http):
        raise errors.ConfigurationError(
            "base_url must use https://: plain http:// would send the API secret in clear"
            " (allowed for loopback hosts such as 127.0.0.1; for another host, such as a"
            " fake iDenfy in docker-compose, only with allow_insecure_http=True or"
            f" {ENV_ALLOW_INSECURE_HTTP}=1)"
        )
    origin = origin_of(url)
    if origin is None or not origin.startswith("http://"):
        raise errors.ConfigurationError("base_url must be an absolute https:// URL")
    warn_insecure_http(origin, "the API secret and personal data")
    return origin


def warn_insecure_http(origin: str, what: str) -> None:
    """Log the one WARNING of the insecure-http opt-in: ``what`` crosses to ``origin``
    unencrypted (the origin only: never a path, query or credential)."""
    logger.warning(
        "plain http:// to %s (allowed by allow_insecure_http or %s): %s cross the network"
        " unencrypted; use it only with a fake iDenfy or on a private test network",
        origin,
        ENV_ALLOW_INSECURE_HTTP,
        what,
    )


def insecure_http_allowed(allow_insecure_http: bool | None) -> bool:
    """The opt-in to plain http:// off loopback: the argument, else ``IDENFY_ALLOW_INSECURE_HTTP``.

    Raises:
        ConfigurationError: the argument is not a bool or None, or the variable is
            set to something that is neither on (1, true, yes, on) nor off (0, false,
            no, off, empty).
    """
    if allow_insecure_http is not None:
        if not isinstance(allow_insecure_http, bool):
            raise errors.ConfigurationError("allow_insecure_http must be True, False or None")
        return allow_insecure_http
    value = os.environ.get(ENV_ALLOW_INSECURE_HTTP, "").strip().lower()
    if value in _ENV_ON:
        return True
    if value in _ENV_OFF:
        return False
    raise errors.ConfigurationError(
        f"{ENV_ALLOW_INSECURE_HTTP} must be 1 (or true, yes, on) to allow plain http://,"
        " or 0 (or false, no, off, empty)"
    )
