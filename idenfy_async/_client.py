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
    Mapping,
)
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypeVar

import attrs
import httpx

from . import _sansio, errors
from ._limiter import ConcurrencyLimiter, Cooldown, RateLimit, RateLimiter
from ._retry import CallKind, OnRetry, RetryPolicy, retry_call
from ._version import __version__
from .models import (
    FileUrls,
    Session,
    SessionRequest,
    StatusResult,
    VerificationData,
    VerificationSummary,
    is_loopback_host,
)
from .transports import DirectClient, HttpBackend, build_transport

__all__ = ["NOT_GIVEN", "AsyncIdenfy"]

DEFAULT_BASE_URL: Final = "https://ivs.idenfy.com"
#: Token creation is fast; a 600 s read timeout would only hide trouble.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0, pool=10.0)
DEFAULT_MAX_CONCURRENCY: Final = 10
ENV_API_KEY: Final = "IDENFY_API_KEY"
ENV_API_SECRET: Final = "IDENFY_API_SECRET"
ENV_BASE_URL: Final = "IDENFY_BASE_URL"
#: Bytes read from a file download before each write (never the whole file in memory).
DOWNLOAD_CHUNK_SIZE: Final = 64 * 1024
DEFAULT_PAGE_SIZE: Final = _sansio.DEFAULT_PAGE_SIZE
USER_AGENT: Final = (
    f"idenfy-async/{__version__} (python {platform.python_version()}; httpx {httpx.__version__})"
)

if TYPE_CHECKING:
    from .bulk import BulkProgress, BulkResult
    from .journal import Journal

T = TypeVar("T")

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

        self._base_url = _checked_base_url(base_url or os.environ.get(ENV_BASE_URL))
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
        self._rate_limit: RateLimit | None = (
            RateLimiter(rate_limit, clock=self._policy.clock, sleep=self._policy.sleep)
            if isinstance(rate_limit, str)
            else rate_limit
        )

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
        self._default_timeout = http_client.timeout.as_dict()

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

        def parse(status: int, headers: Mapping[str, str], content: bytes) -> Session:
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
            before_send=before_send,
        )

    def create_sessions(
        self,
        requests: Iterable[SessionRequest] | AsyncIterable[SessionRequest],
        *,
        concurrency: int | None = None,
        journal: Journal | None = None,
        retry_unknown: bool = False,
        retry_failed: bool = False,
        on_progress: Callable[[BulkProgress], None] | None = None,
    ) -> AsyncGenerator[BulkResult, None]:
        """Create a session per request, streaming; yield each row's result as it ends.

        ``async for result in client.create_sessions(rows, journal=SqliteJournal(...))``.
        Takes any iterable or async iterable (nothing is read ahead beyond what is in
        flight); at most ``concurrency`` rows (default: ``max_concurrency``) are in
        flight. Each result carries the input, its index and a ``state``: created,
        skipped (an earlier run created it), failed, or unknown (a session may exist).
        With a ``journal`` a re-run never sends a created row again, and never a
        pending/unknown one unless ``retry_unknown=True``. This client paces the rows
        (its ``rate_limit`` and ``max_concurrency``); a row is recorded ``pending``
        only when its request is about to leave.
        See :func:`idenfy_async.bulk.create_sessions`.
        """
        from .bulk import create_sessions  # bulk is built on this client's public API

        return create_sessions(
            self,
            requests,
            concurrency=self._limiter.limit if concurrency is None else concurrency,
            journal=journal,
            retry_unknown=retry_unknown,
            retry_failed=retry_failed,
            on_progress=on_progress,
        )

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

        async def stream_to(file: BinaryIO) -> int:
            return await self._stream(url, file, spec, chunk_size, request_timeout)

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
            # The file host's answers must not pause calls to iDenfy.
            cooldown=Cooldown(self._policy.clock, self._policy.sleep),
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
        )

    async def _stream(
        self,
        url: str,
        file: BinaryIO,
        spec: _sansio.RequestSpec,
        chunk_size: int,
        timeout: Any,
    ) -> int:
        request = self._http.build_request(
            "GET", url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"}, timeout=timeout
        )
        # Never our credentials to another host, even from a caller's http_client
        # defaults: S3 also refuses a pre-signed request that carries them.
        request.headers.pop("Authorization", None)
        written = 0
        response: httpx.Response | None = None
        async with self._limiter:
            self._check_open()  # per attempt: the client may close while a retry waits
            try:
                response = await self._http.send(request, stream=True, auth=None)
                try:
                    if not 200 <= response.status_code < 300:
                        raise _sansio.download_error(
                            response.status_code,
                            response.headers,
                            path=spec.path,
                            now=self._policy.wall_clock(),
                        )
                    async for chunk in response.aiter_bytes(chunk_size):
                        await asyncio.to_thread(file.write, chunk)
                        written += len(chunk)
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                raise _connection_error(exc, spec) from exc
            except httpx.DecodingError as exc:
                status = response.status_code if response is not None else 0
                raise _undecodable(exc, spec, status=status) from exc
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
    ) -> T:
        self._check_usable()
        policy = self._policy
        rate_limit = self._rate_limit
        first_send = before_send
        url = self._base_url + spec.path
        request_timeout = self._timeout if timeout is NOT_GIVEN else timeout
        headers = self._headers_for(spec)

        async def send() -> T:
            nonlocal first_send
            if rate_limit is not None:
                # Before taking a concurrency slot: a request waiting for its turn
                # must not hold up others.
                await rate_limit.acquire()
            async with self._limiter:
                await self._cooldown.wait()
                # Checked per attempt: the client may close while a retry waits.
                self._check_open()
                if first_send is not None:
                    hook, first_send = first_send, None
                    await hook()
                if self._owns_http:
                    request = self._build_owned_request(spec, url, headers, request_timeout)
                else:
                    request = self._http.build_request(
                        spec.method,
                        url,
                        content=spec.body or None,
                        headers=headers,
                        timeout=request_timeout,
                    )
                try:
                    response = await self._http.send(request, stream=True)
                except httpx.TransportError as exc:
                    raise _connection_error(exc, spec) from exc
                except httpx.DecodingError as exc:  # a body decoded eagerly (mock transports)
                    raise _undecodable(exc, spec, status=0) from exc
                try:
                    await response.aread()
                except httpx.TransportError as exc:
                    raise _connection_error(exc, spec) from exc
                except httpx.DecodingError as exc:
                    raise _undecodable(exc, spec, status=response.status_code) from exc
                finally:
                    await response.aclose()
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
        self, spec: _sansio.RequestSpec, url: str, headers: httpx.Headers, timeout: Any
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
            extensions={
                "timeout": self._default_timeout
                if timeout is httpx.USE_CLIENT_DEFAULT
                else httpx.Timeout(timeout).as_dict()
            },
        )

    def _interpret(
        self,
        spec: _sansio.RequestSpec,
        response: httpx.Response,
        parse: Parse[T],
    ) -> T:
        status = response.status_code
        content = response.content
        if 200 <= status < 300 and not _sansio.is_error_body(status, content):
            try:
                return parse(status, response.headers, content)
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


def _connection_error(exc: httpx.TransportError, spec: _sansio.RequestSpec) -> errors.IdenfyError:
    sent = not isinstance(exc, _NOT_SENT)
    cls = (
        errors.APITimeoutError
        if isinstance(exc, httpx.TimeoutException)
        else (errors.APIConnectionError)
    )
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return cls(reason, request_sent=sent, method=spec.method, path=spec.path)


def _undecodable(
    exc: httpx.DecodingError, spec: _sansio.RequestSpec, *, status: int
) -> errors.ResponseDecodeError:
    return errors.ResponseDecodeError(
        "the body could not be decompressed (Content-Encoding)",
        status_code=status,
        method=spec.method,
        path=spec.path,
    )


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
