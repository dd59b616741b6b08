"""``AsyncIdenfy``: the client, put together from its parts.

Thin on purpose: :mod:`._client_base` (configuration, lifecycle, ``with_options``,
sending), :mod:`._client_sessions` (``create_session`` and the open-session
registry), :mod:`._client_results` (status, data, files, PDF, deletion, listing,
downloads), and here bulk runs and the KYC resources. Endpoints build requests with
the sans-I/O modules (:mod:`._sansio`); :mod:`._http` sends them (admission by
:mod:`._admission`, retries by :mod:`._retry`, httpx's errors made ours in one
place); logs and ``ResponseInfo`` are :mod:`._observe`'s, per-call options
:mod:`._options`'.
"""

from __future__ import annotations

import functools
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from typing import TYPE_CHECKING

from .._constants import DEFAULT_SETTLE_WINDOW
from .._constants import DOWNLOAD_CHUNK_SIZE as DOWNLOAD_CHUNK_SIZE
from .._send.observe import ResponseInfo
from .._send.observe import configure_logging as configure_logging
from .._send.observe import http_logger as http_logger
from .._send.observe import logger as logger
from .._send.options import NOT_GIVEN, NotGiven, RequestOptions
from .._send.sender import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from .._send.sender import USER_AGENT as USER_AGENT
from ._base import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from ._base import DEFAULT_MAX_CONCURRENCY as DEFAULT_MAX_CONCURRENCY
from ._results import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from ._results import ResultCalls
from ._sessions import SessionCalls

if TYPE_CHECKING:
    import asyncio  # not loaded by `import idenfy_async` (a sync webhook receiver)

    from ..bulk import BulkProgress, BulkResult
    from ..bulk.journal import Journal
    from ..bulk.reconcile import ReconcilePolicy, Reconciliation  # loaded on first use
    from ..models import Session, SessionRequest  # loaded on first use (the package's _LAZY)
    from ..models._results import VerificationSummary  # loaded on first use (models.LAZY)
    from ._resources import (
        Blocklists,
        FaceAuthentication,
        InformationRequests,
        Processing,
        ProofOfAddress,
    )

__all__ = ["NOT_GIVEN", "AsyncIdenfy", "NotGiven", "RequestOptions", "ResponseInfo"]


class AsyncIdenfy(SessionCalls, ResultCalls):
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
        retry_unknown: also retry ``create_session`` failures that may have created
            a session (read timeouts, 500/502/504, 409). Off by default: it can cost a
            second verification credit.
        max_concurrency: requests in flight at once for the whole client.
        rate_limit: pace every request of the client, e.g. ``"10000/hour"`` (iDenfy's
            default account limit) or any :class:`Pacer` (such as one shared by
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

    :meth:`with_options` gives a client with other per-call defaults that shares this
    one's connections, pacing and Redis state.
    """

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
        replace_conflicts: bool = False,
        reissue_expired: bool = False,
        origin: Callable[[int], str | None] | None = None,
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
        rows not yet sent are dropped, requests in flight finish. A row whose clientId
        has a session made from other data ends ``conflict`` unless
        ``replace_conflicts``; expired sessions are re-issued only with
        ``reissue_expired``; ``origin`` names each row's source for those messages.
        See :func:`idenfy_async.bulk.create_sessions`.
        """
        from ..bulk import create_sessions  # bulk is built on this client's public API
        from ..bulk.reconcile import ReconcilePolicy

        return create_sessions(
            _BulkCreator(self, single=self._single_session or self._redis is not None),
            requests,
            concurrency=self._sender.admission.limiter.limit
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
        """After an ambiguous ``create_session`` error: did iDenfy create the session?

        Lists ``client_id``'s verifications (every page; a read, retried like any
        read, safe to call again) and decides by the rules of
        :mod:`idenfy_async.bulk.reconcile`: ``FOUND`` (``scan_ref``, ``status``,
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
        from ..bulk.reconcile import reconcile_session  # loaded on first use

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
    # The rest of the KYC workflow lives in .resources (imported on first use: it
    # imports the options module only), sent through this client's _call.

    @functools.cached_property
    def face_auth(self) -> FaceAuthentication:
        """Face authentication of a returning user (:class:`~.resources.FaceAuthentication`)."""
        from ._resources import FaceAuthentication

        return FaceAuthentication(self)

    @functools.cached_property
    def request_info(self) -> InformationRequests:
        """Ask for more information (:class:`~.resources.InformationRequests`)."""
        from ._resources import InformationRequests

        return InformationRequests(self)

    @functools.cached_property
    def blocklists(self) -> Blocklists:
        """Blocklist entries (:class:`~.resources.Blocklists`)."""
        from ._resources import Blocklists

        return Blocklists(self)

    @functools.cached_property
    def processing(self) -> Processing:
        """Direct processing and additional-step uploads (:class:`~.resources.Processing`)."""
        from ._resources import Processing

        return Processing(self)

    @functools.cached_property
    def proof_of_address(self) -> ProofOfAddress:
        """The standalone proof-of-address check (:class:`~.resources.ProofOfAddress`)."""
        from ._resources import ProofOfAddress

        return ProofOfAddress(self)


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
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Session:
        return await self._client._create_session(
            request,
            RequestOptions(retry_unknown=retry_unknown),
            before_send=before_send,
            priority="bulk",
            single=self._single,
        )

    def list_verifications(
        self, client_id: str | None = None
    ) -> AsyncIterator[VerificationSummary]:
        # Reconciling a bulk run's open rows is bulk work too: behind interactive calls.
        return self._client._list_verifications(client_id, priority="bulk")
