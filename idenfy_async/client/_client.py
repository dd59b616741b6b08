"""``AsyncIdenfy``: the client, one class.

It holds a `_state.ClientState` (what it shares with every client
[`with_options`][idenfy_async.AsyncIdenfy.with_options] derives from it: the `Sender` with its pool
and admission, Redis, the open-session registry, the loop, closed or not) and its own
per-call defaults (retry policy, timeout). Every endpoint is a thin wrapper over one
request verb, `AsyncIdenfy._request`: build the request with the sans-I/O
modules (`_wire`), send it with a `CallSettings` resolved once per call.
The optional KYC products are resources (`_resources`) that need only that verb
(their `Requester` protocol).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import httpx

from .. import errors
from .._constants import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from .._constants import DEFAULT_SETTLE_WINDOW
from .._constants import DOWNLOAD_CHUNK_SIZE as DOWNLOAD_CHUNK_SIZE
from .._send import downloads as _downloads
from .._send.admission import PaceReport
from .._send.limits import Pacer
from .._send.observe import ResponseInfo
from .._send.observe import capture_responses as _capture_responses
from .._send.observe import configure_logging as configure_logging
from .._send.observe import http_logger as http_logger
from .._send.observe import logger as logger
from .._send.options import (
    NO_OPTIONS,
    NOT_GIVEN,
    CallSettings,
    NotGiven,
    ReadOptions,
    RequestOptions,
    given_options,
    options_from,
)
from .._send.retry import CallKind, OnRetry, RetryPolicy
from .._send.sender import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from .._send.sender import USER_AGENT as USER_AGENT
from .._send.sender import Parse, Sender, checked_timeouts
from .._wire import sessions as _sansio
from ..bulk import BulkProgress, BulkResult, create_sessions
from ..bulk.journal import Journal, PostgresJournal, SqliteJournal, account_scope, journal_for
from ..bulk.reconcile import ReconcilePolicy, Reconciliation, reconcile_session
from ..models import (
    FileUrls,
    IdentificationEvent,
    Session,
    SessionFields,
    SessionRequest,
    StatusResult,
    VerificationData,
    WebhookEvent,
)
from ..transports import HttpBackend
from ._aml import AmlScreening
from ._paging import VerificationListing, parse_page
from ._resources import (
    Blocklists,
    FaceAuthentication,
    InformationRequests,
    Processing,
    ProofOfAddress,
)
from ._state import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from ._state import DEFAULT_MAX_CONCURRENCY, ClientState, evolved, open_state

if sys.version_info >= (3, 11):
    from typing import Self, Unpack
else:
    from typing_extensions import Self, Unpack

if TYPE_CHECKING:
    from .. import coordination  # loaded with redis_url= or single_session (needs redis)

__all__ = ["NOT_GIVEN", "AsyncIdenfy", "NotGiven", "RequestOptions", "ResponseInfo"]

T = TypeVar("T")


def _content_only(parse: Callable[[int, bytes], T]) -> Parse[T]:
    """``parse`` of (status, body) as the request verb's parser of (status, headers, body)."""

    def parse_answer(status: int, headers: Mapping[str, str], content: bytes) -> T:
        return parse(status, content)

    return parse_answer


class AsyncIdenfy:
    """Async client for iDenfy's KYC API; one per event loop, shared by every task.

    Use it as ``async with AsyncIdenfy() as client:`` or call
    [`aclose`][idenfy_async.AsyncIdenfy.aclose] when done. Credentials default to ``IDENFY_API_KEY``
    / ``IDENFY_API_SECRET``, the base URL to ``IDENFY_BASE_URL`` then ``https://ivs.idenfy.com``.
    ``IDENFY_LOG=info``, read here, logs one line per attempt to ``idenfy_async.http``: method,
    path, status, elapsed ms, attempt number and outcome (and each retry to ``idenfy_async``);
    ``debug`` adds a line as each attempt starts (how far into the call). Never a
    body, a secret, a token or a query string.

    Args:
        api_key: API key (the Basic-auth user name).
        api_secret: API secret (the Basic-auth password). Never printed.
        base_url: ``https://`` URL; plain ``http://`` only for loopback hosts, unless
            ``allow_insecure_http`` says otherwise.
        timeout: seconds or an ``httpx.Timeout`` for one attempt: its ``read`` value
            bounds the attempt from send to the last byte (a number sets all four).
        max_retries: retries after the first attempt (see
            [`RetryPolicy`][idenfy_async.RetryPolicy]).
        retry_deadline: seconds one call may take, attempts and the waits between them
            together (queueing for this client's own rate token or slot not counted);
            each attempt is cut to what is left.
        retry_unknown: also retry ``create_session`` failures that may have created
            a session (read timeouts, 500/502/504, 409). Off by default: it can cost a
            second verification credit.
        max_concurrency: requests in flight at once for the whole client.
        rate_limit: pace every request of the client, e.g. ``"10000/hour"`` (iDenfy's
            default account limit) or any [`Pacer`][idenfy_async.Pacer] (such as one shared by
            several processes). Every attempt, retries included, takes a token.
        retry_policy: backoff tuning and the injectable clock/sleep/random.
        on_retry: called with a [`RetryDetails`][idenfy_async.RetryDetails] before each retry.
        http_backend: what carries the requests: ``"httpx"`` (default: httpx's own
            connection pool) or ``"aiohttp"`` (needs ``pip install
            'idenfy-async[aiohttp]'``; less CPU under high concurrency, same retries
            and errors). Sized by ``max_concurrency`` and
            ``timeout``. See the README's "Choosing a transport".
        transport: an ``httpx.AsyncBaseTransport`` (e.g. ``FakeIdenfy()`` for tests, or
            ``idenfy_async.transports.AiohttpTransport(...)`` tuned yourself).
        http_client: your own ``httpx.AsyncClient`` (proxies, CA bundles); used as is
            and never closed by us.
        redis_url: a Redis URL (default: ``IDENFY_REDIS_URL``; ``None`` or empty: off)
            shared by every process on this account. With it ``rate_limit`` is the
            *account's* rate (a spec, default ``"10000/hour"``) that all processes
            share ([`RedisQuota`][idenfy_async.coordination.RedisQuota]); a rate-limit answer
            seen by any process pauses all of them; bulk rows
            ([`create_sessions`][idenfy_async.AsyncIdenfy.create_sessions]) take bulk tokens, after
            interactive calls; bulk runs keep one open session per clientId across processes. Needs
            ``pip install 'idenfy-async[redis]'``.
        bulk_share: with ``redis_url``, the share of the account's rate bulk rows may
            use at most (default 1.0: all that interactive calls leave). Give every
            process the same value.
        fallback_share: with ``redis_url``, the share of the account's rate this
            process paces itself at while Redis fails (default 0.25: it cannot know
            how many others do the same); ``None`` refuses instead: calls raise
            [`CoordinationError`][idenfy_async.CoordinationError] without sending.
        single_session: one open session per clientId for
            [`create_session`][idenfy_async.AsyncIdenfy.create_session]
            ([`SessionRegistry`][idenfy_async.coordination.SessionRegistry]): concurrent creates
            send one request, an open session is returned for the same request and raises
            [`SessionAlreadyOpenError`][idenfy_async.SessionAlreadyOpenError] for another. Across
            processes with ``redis_url``, else within this one. Bulk runs use it whenever
            ``redis_url`` is set.

    [`with_options`][idenfy_async.AsyncIdenfy.with_options] gives a client with other per-call
    defaults that shares this one's connections, pacing and Redis state.
    """

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
        allow_insecure_http: bool | None = None,
    ) -> None:
        state = open_state(
            api_key,
            api_secret,
            base_url=base_url,
            timeout=timeout,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            retry_policy=retry_policy,
            retry_options=given_options(
                max_retries=max_retries,
                retry_deadline=retry_deadline,
                retry_unknown=retry_unknown,
            ),
            on_retry=on_retry,
            http_backend=http_backend,
            transport=transport,
            http_client=http_client,
            redis_url=redis_url,
            bulk_share=bulk_share,
            fallback_share=fallback_share,
            single_session=single_session,
            allow_insecure_http=allow_insecure_http,
        )
        # A caller's http_client keeps its own default timeout; ours got it built in.
        own = http_client is not None and timeout is not NOT_GIVEN
        self._attach(state, state.policy, timeout if own else httpx.USE_CLIENT_DEFAULT, owner=True)

    def _attach(
        self, state: ClientState, policy: RetryPolicy, timeout: Any, *, owner: bool
    ) -> None:
        """Hold ``state`` with these per-call defaults (the constructor,
        [`with_options`][idenfy_async.AsyncIdenfy.with_options]).

        ``timeout``: this client's default (``httpx.USE_CLIENT_DEFAULT``: the pool's);
        ``owner``: closing this client closes the state (the constructor's client).
        """
        self._state = state
        self._policy = policy
        self._timeout = timeout
        self._owner = owner
        self._closed = False  # this client's own; the state's counts too

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

        On a client from [`with_options`][idenfy_async.AsyncIdenfy.with_options] this closes that
        client only: the pool, pacing and Redis connections belong to the client it came from.
        """
        self._closed = True
        if self._owner:
            await self._state.aclose()

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
        derived = type(self).__new__(type(self))
        derived._attach(
            self._state,
            evolved(self._policy, given),
            self._timeout if given.timeout is NOT_GIVEN else given.timeout,
            owner=False,
        )
        return derived

    @property
    def _sender(self) -> Sender:
        return self._state.sender

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._state.sender.http

    @property
    def _redis(self) -> Any:
        """The Redis connection (``redis_url``), else None."""
        return self._state.redis

    @property
    def _quota(self) -> coordination.RedisQuota | None:
        return self._state.quota

    @property
    def is_closed(self) -> bool:
        """True after [`aclose`][idenfy_async.AsyncIdenfy.aclose] or leaving ``async with`` (this
        client's or, for a client from [`with_options`][idenfy_async.AsyncIdenfy.with_options], the
        one it came from)."""
        return self._closed or self._state.closed

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._state.base_url

    @property
    def in_flight(self) -> int:
        """Requests in flight right now (bounded by ``max_concurrency``)."""
        return self._state.sender.admission.limiter.in_flight

    @property
    def pacing(self) -> PaceReport:
        """How this client's requests (and those of every client
        [`with_options`][idenfy_async.AsyncIdenfy.with_options] derives from it) have been
        paced so far: the configured and current rate, requests sent, 429 answers."""
        return self._state.sender.admission.report()

    @property
    def rate_limit(self) -> Pacer | None:
        """The pacer of this client's requests, if any: the one given as ``rate_limit``,
        the account's quota with Redis, or the pace a rate spec made."""
        admission = self._state.sender.admission
        if admission.pacer is not None:
            return admission.pacer
        if admission.quota is not None:
            return self._state.quota.interactive if self._state.quota is not None else None
        return admission.pace if admission.pace.rate is not None else None

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
        """Collect a [`ResponseInfo`][idenfy_async.ResponseInfo] for every successful request made
        in the block.

        ``with client.capture_responses() as responses: ...``: one entry per request,
        in order of completion, including each page of a listing and each file of
        [`download_files`][idenfy_async.AsyncIdenfy.download_files]. It follows the current task and
        the tasks it starts (a context variable), so concurrent callers each see only their own; it
        collects requests of any ``AsyncIdenfy``. Blocks nest: the outer one gets the
        inner one's entries too.
        """
        with _capture_responses() as responses:
            yield responses

    def __repr__(self) -> str:
        key = self._state.api_key
        shown = key[:4] + "…" if len(key) >= 12 else "***"
        return (
            f"AsyncIdenfy(base_url={self.base_url!r}, api_key={shown!r},"
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
        self._state.bind_loop()  # the connections' loop is one for every derived client

    async def _request(
        self,
        operation: str,
        kind: CallKind,
        spec: _sansio.RequestSpec,
        parse: Parse[T],
        options: RequestOptions = NO_OPTIONS,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
        priority: coordination.Priority = "interactive",
    ) -> T:
        """Send one call: the one request verb every endpoint and resource wraps.

        Here per-call ``options`` meet this client's settings, resolved once into the
        `CallSettings` the sender takes. ``retry_unknown`` counts for
        ``CallKind.CREATE`` only: a read retries every transient failure anyway.
        """
        self._check_usable()
        state, policy, o = self._state, self._policy, options
        settings = CallSettings(
            base_url=state.base_url,
            policy=policy,
            timeouts=state.sender.timeouts(self._timeout if o.timeout is NOT_GIVEN else o.timeout),
            max_retries=policy.max_retries if o.max_retries is NOT_GIVEN else o.max_retries,
            deadline=policy.deadline if o.retry_deadline is NOT_GIVEN else o.retry_deadline,
            retry_unknown=(
                kind is CallKind.CREATE
                and (policy.retry_unknown if o.retry_unknown is NOT_GIVEN else o.retry_unknown)
            ),
            on_retry=state.on_retry,
            check_open=self._check_open,
            before_send=before_send,
            priority=priority,
        )
        return await state.sender.call(operation, kind, spec, parse, settings)

    # ------------------------------------------------------------------ sessions

    async def create_session(
        self,
        request: SessionRequest | None = None,
        /,
        *,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry_deadline: float | NotGiven | None = NOT_GIVEN,
        retry_unknown: bool | NotGiven = NOT_GIVEN,
        timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN,
        before_send: Callable[[], Awaitable[None]] | None = None,
        **fields: Unpack[SessionFields],
    ) -> Session:
        """Create a verification session (``POST /api/v2/token``).

        Pass a [`SessionRequest`][idenfy_async.SessionRequest], or its fields as keywords
        (``create_session(client_id="user-123", first_name="John")``; typed by
        ``SessionFields``: a type checker catches a misspelt field or a wrong type).

        Only failures that provably created no session are retried unless
        ``retry_unknown=True``; an error that may hide a created session has
        ``outcome_unknown=True``. ``before_send`` is awaited once, right before the first
        attempt leaves: after its rate-limit token and concurrency slot are taken and
        any shared cooldown has passed (bulk runs record a row ``pending`` there). If it
        raises, nothing is sent and its exception propagates.

        With ``single_session=True`` (or in a bulk run with ``redis_url``) the
        clientId's open session is returned instead of creating another, for the
        same request (see [`SessionRegistry`][idenfy_async.coordination.SessionRegistry]).

        Raises:
            RequestValidationError: invalid input; nothing was sent.
            APIError: iDenfy refused (a subclass per cause).
            APIConnectionError: no answer (``request_sent`` says whether it left).
            ResponseDecodeError: the answer could not be read.
            SessionAlreadyOpenError: (single session) the clientId has an open session
                for another request, on ``.session``; nothing was sent.
            SessionOutcomeUnknownError: (single session) an earlier create for the
                clientId may have made a session: reconcile, then
                [`forget_session`][idenfy_async.AsyncIdenfy.forget_session].
            CoordinationError: (single session with Redis) the clientId could not be
                claimed in Redis; nothing was sent.
        """
        if request is None:
            from ..models import SessionRequest

            fields.setdefault("client_id", "")  # reported as "clientId: is required"
            request = SessionRequest(**fields)
        elif fields:
            raise TypeError("pass a SessionRequest or keyword fields, not both")
        options = given_options(
            timeout=timeout,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_unknown=retry_unknown,
        )
        return await self._create_session(
            request,
            options,
            before_send=before_send,
            priority="interactive",
            single=self._state.single_session,
        )

    async def _create_session(
        self,
        request: SessionRequest,
        options: RequestOptions,
        *,
        before_send: Callable[[], Awaitable[None]] | None,
        priority: coordination.Priority,
        single: bool,
        wait: bool = True,
    ) -> Session:
        spec = _sansio.build_create_session(request)
        parse = self._state.parse_session
        if single:
            return await self._create_single(
                request, spec, parse, options, before_send, priority, wait
            )
        return await self._request(
            "create_session",
            CallKind.CREATE,
            spec,
            parse,
            options,
            before_send=before_send,
            priority=priority,
        )

    def _create_single(
        self,
        request: SessionRequest,
        spec: _sansio.RequestSpec,
        parse: Callable[[int, Mapping[str, str], bytes], Session],
        options: RequestOptions,
        before_send: Callable[[], Awaitable[None]] | None,
        priority: coordination.Priority,
        wait: bool,
    ) -> Awaitable[Session]:
        """A create through the open-session registry (``single_session``); ``wait``:
        wait for another process creating the clientId (see ``SessionRegistry.create``)."""

        def send(hook: Callable[[], Awaitable[None]] | None) -> Awaitable[Session]:
            return self._request(
                "create_session",
                CallKind.CREATE,
                spec,
                parse,
                options,
                before_send=hook,
                priority=priority,
            )

        self._check_usable()
        deadline = options.retry_deadline
        return self._sessions().create(
            request.client_id,
            spec.body,
            send,
            expiry_time=request.expiry_time,
            deadline=self._policy.deadline if deadline is NOT_GIVEN else deadline,
            before_send=before_send,
            wait=wait,
        )

    async def mark_session_closed(self, event: WebhookEvent) -> bool:
        """Tell the open-session registry a webhook arrived; True if it closed a session.

        Call it from the webhook handler with the parsed event: an identification
        event with its final result (``final`` not False) closes the clientId's open
        session with that scanRef, so the next ``create_session`` for the clientId
        creates a new one. Other events change nothing. Shared through Redis with
        ``redis_url`` (raises [`CoordinationError`][idenfy_async.CoordinationError] when Redis
        fails: answer the webhook 503 so iDenfy redelivers it).
        """

        if not isinstance(event, IdentificationEvent) or event.final is False:
            return False
        if not event.client_id:
            return False
        return await self._sessions().close(event.client_id, event.scan_ref)

    def dedupe_store(
        self, *, ttl: float | None = None, lease: float | None = None
    ) -> coordination.DedupeStore:
        """A webhook dedupe store for this account: shared through Redis with ``redis_url``
        ([`RedisDedupeStore`][idenfy_async.coordination.RedisDedupeStore], on this client's
        connections), else one process's
        ([`MemoryDedupeStore`][idenfy_async.coordination.MemoryDedupeStore]).

        Make one per application; for each webhook ``claim(event.dedupe_key)``, then
        ``complete`` it once processed (or ``release`` it when processing failed).
        ``ttl``: seconds a processed key is kept (default a day: ``DEFAULT_DEDUPE_TTL``);
        ``lease``: seconds a claim holds its key while processing
        (``DEFAULT_DEDUPE_LEASE``).
        """
        from .. import coordination

        kept = coordination.DEFAULT_DEDUPE_TTL if ttl is None else ttl
        held = coordination.DEFAULT_DEDUPE_LEASE if lease is None else lease
        state = self._state
        if state.redis is None:
            return coordination.MemoryDedupeStore(ttl=kept, lease=held)
        return coordination.RedisDedupeStore(state.redis, state.api_key, ttl=kept, lease=held)

    async def forget_session(self, client_id: str) -> None:
        """Let the next ``create_session`` for ``client_id`` be sent, whatever was known.

        For a [`SessionOutcomeUnknownError`][idenfy_async.SessionOutcomeUnknownError]: once
        [`reconcile_session`][idenfy_async.AsyncIdenfy.reconcile_session] says ``NOT_FOUND`` (or you
        handled the session it found). Raises [`CoordinationError`][idenfy_async.CoordinationError]
        when Redis fails.
        """
        await self._sessions().forget(client_id)

    def _sessions(self) -> coordination.SessionRegistry:
        """The open-session registry (in Redis with ``redis_url``), made on first use;
        one for a client and every client [`with_options`][idenfy_async.AsyncIdenfy.with_options]
        derives from it."""
        return self._state.sessions()

    # ------------------------------------------------------------------ results

    async def get_status(self, scan_ref: str, **options: Unpack[ReadOptions]) -> StatusResult:
        """The verification's overall status (``POST /api/v2/status``).

        A fallback for a missed webhook only: iDenfy restricts accounts that poll it.
        Transient failures are retried (a read is safe to repeat). Per-call options:
        ``timeout``, ``max_retries``, ``retry_deadline``
        ([`RequestOptions`][idenfy_async.RequestOptions]).

        Raises:
            RequestValidationError: ``scan_ref`` is empty or too long; nothing was sent.
            APIError: iDenfy refused (``NotFoundError`` for an unknown scanRef, ...).
            APIConnectionError: no answer after the last attempt.
            ResponseDecodeError: the answer could not be read.
        """
        spec = _sansio.build_get_status(scan_ref)
        return await self._request(
            "get_status",
            CallKind.READ,
            spec,
            _content_only(_sansio.parse_get_status),
            options_from("get_status", options),
        )

    async def get_data(self, scan_ref: str, **options: Unpack[ReadOptions]) -> VerificationData:
        """The document data read during verification (``POST /api/v2/data``).

        Every field may be ``None``. Options and errors as
        [`get_status`][idenfy_async.AsyncIdenfy.get_status].
        """
        spec = _sansio.build_get_data(scan_ref)
        return await self._request(
            "get_data",
            CallKind.READ,
            spec,
            _content_only(_sansio.parse_get_data),
            options_from("get_data", options),
        )

    async def get_files(self, scan_ref: str, **options: Unpack[ReadOptions]) -> FileUrls:
        """Pre-signed URLs of the verification's photos and videos (``POST /api/v2/files``).

        The URLs expire after about an hour: fetch them with
        [`download_file`][idenfy_async.AsyncIdenfy.download_file] or
        [`download_files`][idenfy_async.AsyncIdenfy.download_files] right away. Options and errors
        as [`get_status`][idenfy_async.AsyncIdenfy.get_status].
        """
        spec = _sansio.build_get_files(scan_ref)
        return await self._request(
            "get_files",
            CallKind.READ,
            spec,
            _content_only(_sansio.parse_files),
            options_from("get_files", options),
        )

    async def delete_verification(self, scan_ref: str, **options: Unpack[ReadOptions]) -> None:
        """Delete the verification's personal data for good (``POST /api/v2/delete``).

        Deleting is safe to repeat, so transient failures are retried. Options as
        [`get_status`][idenfy_async.AsyncIdenfy.get_status].

        Raises:
            TokenNotExpiredError: the session is not over yet ("Token has not
                expired yet."); try again once it was used or expired.
            RequestValidationError, APIError, APIConnectionError: as
                [`get_status`][idenfy_async.AsyncIdenfy.get_status].
        """
        spec = _sansio.build_delete_verification(scan_ref)
        await self._request(
            "delete_verification",
            CallKind.READ,
            spec,
            _content_only(_sansio.parse_delete_verification),
            options_from("delete_verification", options),
        )

    async def generate_pdf(
        self,
        scan_ref: str,
        language: str = "en",
        *,
        include_main_step_files: bool = True,
        include_additional_step_files: bool = True,
        **options: Unpack[ReadOptions],
    ) -> bytes:
        """The verification report as PDF bytes (``POST /api/v2/generate-pdf``).

        Whether iDenfy answers with the PDF itself or with base64 of it, the PDF
        bytes are returned. Generating again is harmless, so failures are retried.
        Options as [`get_status`][idenfy_async.AsyncIdenfy.get_status].

        Raises:
            ResponseDecodeError: the answer is neither a PDF nor base64 of one.
            RequestValidationError, APIError, APIConnectionError: as
                [`get_status`][idenfy_async.AsyncIdenfy.get_status].
        """
        spec = _sansio.build_generate_pdf(
            scan_ref,
            language=language,
            include_main_step_files=include_main_step_files,
            include_additional_step_files=include_additional_step_files,
        )
        return await self._request(
            "generate_pdf",
            CallKind.READ,
            spec,
            _sansio.parse_generate_pdf,
            options_from("generate_pdf", options),
        )

    def list_verifications(
        self,
        client_id: str | None = None,
        *,
        per_page: int = DEFAULT_PAGE_SIZE,
        **options: Unpack[ReadOptions],
    ) -> VerificationListing:
        """Every verification, or those of ``client_id`` (``GET /kyc/identifications/``).

        ``async for summary in client.list_verifications("user-1"): ...`` gives every
        verification, page after page, each page fetched when the previous one is used
        up. One page at a time: ``page = await client.list_verifications("user-1").first_page()``
        has ``items``, ``count`` (iDenfy's total), ``number`` and ``has_next``;
        ``await page.next_page()`` is the next one, ``.page(n)`` resumes at page ``n``
        (see [`VerificationListing`][idenfy_async.client.VerificationListing]). A ``next`` link is
        followed only on this client's own origin: the credentials never go anywhere
        else. Options (for each page) as [`get_status`][idenfy_async.AsyncIdenfy.get_status].

        Raises:
            RequestValidationError: at once (before iterating), for a bad
                ``client_id`` or ``per_page``.
            APIError, APIConnectionError, ResponseDecodeError: while iterating.
        """
        return self._list_verifications(
            client_id,
            per_page=per_page,
            options=options_from("list_verifications", options),
            priority="interactive",
        )

    def _list_verifications(
        self,
        client_id: str | None,
        *,
        per_page: int = DEFAULT_PAGE_SIZE,
        options: RequestOptions = NO_OPTIONS,
        priority: coordination.Priority,
    ) -> VerificationListing:
        def fetch(spec: _sansio.RequestSpec) -> Awaitable[_sansio.VerificationPage]:
            return self._request(
                "list_verifications", CallKind.READ, spec, parse_page, options, priority=priority
            )

        return VerificationListing(
            fetch, base_url=self._state.base_url, client_id=client_id, per_page=per_page
        )

    async def download_file(
        self,
        url: str,
        destination: str | os.PathLike[str] | BinaryIO,
        *,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
        **options: Unpack[ReadOptions],
    ) -> int:
        """Stream one file URL (from [`get_files`][idenfy_async.AsyncIdenfy.get_files] or a webhook)
        to a path or binary file.

        The body is written in ``chunk_size`` pieces off the event loop, never held
        whole in memory. A path is written to a temporary file beside it and
        renamed at the end, so it never holds half a file; a file object is
        written at its current position (retried only if it is seekable). The
        request carries no Authorization header: these are pre-signed URLs on
        another host. Returns the number of bytes written. Options as
        [`get_status`][idenfy_async.AsyncIdenfy.get_status] (``timeout`` keeps httpx's meaning here:
        each phase, each read, as a file's size is unknown).

        Raises:
            RequestValidationError: ``url`` is not ``https://`` (``http://`` only on
                loopback, or on the base URL's origin with ``allow_insecure_http``);
                nothing was sent.
            APIError: the file host refused (``PermissionDeniedError`` once the URL
                expired, about an hour after it was issued).
            APIConnectionError: no complete answer after the last attempt.
        """
        url = self._state.checked_download_url(url)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError("chunk_size must be a positive integer")
        chosen = options_from("download_file", options)
        self._check_usable()
        policy = self._policy
        return await _downloads.download_file(
            self._state.sender,
            url,
            destination,
            chunk_size=chunk_size,
            policy=policy,
            timeout=self._timeout if chosen.timeout is NOT_GIVEN else chosen.timeout,
            max_retries=(
                policy.max_retries if chosen.max_retries is NOT_GIVEN else chosen.max_retries
            ),
            deadline=policy.deadline
            if chosen.retry_deadline is NOT_GIVEN
            else chosen.retry_deadline,
            on_retry=self._state.on_retry,
            check_open=self._check_open,
        )

    async def download_files(
        self,
        file_urls: Mapping[str, str | None],
        directory: str | os.PathLike[str],
        *,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
        **options: Unpack[ReadOptions],
    ) -> dict[str, Path]:
        """Download every URL of a [`FileUrls`][idenfy_async.FileUrls] into ``directory``,
        concurrently.

        Files are named after their key and the URL's extension (``FRONT.jpg``);
        null URLs are skipped. Returns key -> path. If one download fails, the
        others are cancelled and the error is raised (files already complete stay).
        Raises as [`download_file`][idenfy_async.AsyncIdenfy.download_file] does; every URL is
        checked before any is sent.
        """
        options_from("download_files", options)  # a wrong keyword raises before any I/O

        def download(url: str, path: Path) -> Awaitable[int]:
            return self.download_file(url, path, chunk_size=chunk_size, **options)

        return await _downloads.download_files(
            download, file_urls, directory, check=self._state.checked_download_url
        )

    # ------------------------------------------------------------------ bulk

    def create_sessions(
        self,
        requests: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
        *,
        concurrency: int | None = None,
        journal: Journal | str | os.PathLike[str] | None = None,
        retry_unknown: bool = False,
        retry_failed: bool = False,
        on_progress: Callable[[BulkProgress], None] | None = None,
        reconcile: bool | ReconcilePolicy = True,
        stop: asyncio.Event | None = None,
        replace_conflicts: bool = False,
        reissue_expired: bool = False,
        origin: Callable[[int], str | None] | None = None,
    ) -> AsyncGenerator[BulkResult, None]:
        """Create a session per request, streaming; yield each row's result as it ends.

        ``async for result in client.create_sessions(rows, journal=SqliteJournal(...))``.
        [`idenfy_async.bulk.create_sessions`][idenfy_async.create_sessions] with this client: the
        contract and every parameter are described there. Here ``concurrency`` defaults to
        ``max_concurrency``, this client paces the rows (its ``rate_limit`` and
        ``max_concurrency``), and ``reconcile=True`` lists clientIds on its retry
        policy's clocks. ``journal`` may also be a ``postgresql://`` URL or an SQLite
        file's path: that journal, bound to this client's account
        ([`journal_for`][idenfy_async.bulk.journal.journal_for]), is opened when the iteration
        starts and closed when it ends.
        """
        if isinstance(journal, str | os.PathLike):
            where = journal_for(
                journal, scope=account_scope(self._state.base_url, self._state.api_key)
            )
            return _in_journal(
                where,
                functools.partial(
                    self.create_sessions,
                    requests,
                    concurrency=concurrency,
                    retry_unknown=retry_unknown,
                    retry_failed=retry_failed,
                    on_progress=on_progress,
                    reconcile=reconcile,
                    stop=stop,
                    replace_conflicts=replace_conflicts,
                    reissue_expired=reissue_expired,
                    origin=origin,
                ),
            )
        return create_sessions(
            _BulkCreator(self, single=self._state.single_session or self._state.redis is not None),
            requests,
            concurrency=self._state.sender.admission.limiter.limit
            if concurrency is None
            else concurrency,
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
            replace_conflicts=replace_conflicts,
            reissue_expired=reissue_expired,
            origin=origin,
        )

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
        """After a ``create_session`` error of unknown outcome: did iDenfy create the session?

        Lists ``client_id``'s verifications (every page; a read, retried like any
        read, safe to call again) and decides by the rules of
        [`idenfy_async.bulk.reconcile`][idenfy_async.bulk.reconcile]: ``FOUND`` (``scan_ref``,
        ``status``, ``expires_at`` while open; the authToken cannot be recovered),
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

    # ------------------------------------------------------------------ resources
    # The rest of the KYC workflow (._resources), sent through this client's _request;
    # each client (a derived one too) makes its own, on first use.

    @functools.cached_property
    def face_auth(self) -> FaceAuthentication:
        """Face authentication of a returning user (`FaceAuthentication`)."""

        return FaceAuthentication(self)

    @functools.cached_property
    def request_info(self) -> InformationRequests:
        """Ask for more information (`InformationRequests`)."""

        return InformationRequests(self)

    @functools.cached_property
    def blocklists(self) -> Blocklists:
        """Blocklist entries (`Blocklists`)."""

        return Blocklists(self)

    @functools.cached_property
    def processing(self) -> Processing:
        """Direct processing and additional-step uploads (`Processing`)."""

        return Processing(self)

    @functools.cached_property
    def proof_of_address(self) -> ProofOfAddress:
        """The standalone proof-of-address check (`ProofOfAddress`)."""

        return ProofOfAddress(self)

    @functools.cached_property
    def aml(self) -> AmlScreening:
        """AML checks and monitorings: iDenfy's standalone AML API (`AmlScreening`)."""

        return AmlScreening(self, self._state.base_url)


class _BulkCreator:
    """The client as bulk runs see it: bulk-priority turns, and (with Redis or
    ``single_session``) one open session per clientId, never waiting for another
    process's create (the row is set aside: ``SessionOutcomeUnknownError.in_flight``)."""

    def __init__(self, client: AsyncIdenfy, *, single: bool) -> None:
        self._client = client
        self._single = single

    async def create_session(
        self,
        request: SessionRequest,
        /,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        return await self._client._create_session(
            request,
            RequestOptions(retry_unknown=retry_unknown),
            before_send=before_send,
            priority="bulk",
            single=self._single,
            wait=False,
        )

    def list_verifications(self, client_id: str | None = None) -> VerificationListing:
        # Reconciling a bulk run's open rows is bulk work too: behind interactive calls.
        return self._client._list_verifications(client_id, priority="bulk")

    async def forget_session(self, client_id: str) -> None:
        # A row reconciled not found by the worker holding it in a shared journal.
        if self._single:
            await self._client.forget_session(client_id)


async def _in_journal(
    journal: SqliteJournal | PostgresJournal,
    run: Callable[..., AsyncGenerator[BulkResult, None]],
) -> AsyncGenerator[BulkResult, None]:
    """``run(journal=journal)``'s results, with ``journal`` open for as long as they last."""
    async with journal, contextlib.aclosing(run(journal=journal)) as results:
        async for result in results:
            yield result
