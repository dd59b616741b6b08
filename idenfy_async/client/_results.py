"""The client's result calls: a verification's status, data, files and PDF report,
deleting it, listing verifications, and downloading its files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Mapping,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from .. import errors
from .._constants import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from .._constants import DOWNLOAD_CHUNK_SIZE
from .._send.options import (
    NO_OPTIONS,
    NOT_GIVEN,
    ReadOptions,
    RequestOptions,
    options_from,
)
from .._send.retry import CallKind
from .._wire import sessions as _sansio
from ._base import ClientBase

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

if TYPE_CHECKING:  # results load on first use (see models.LAZY): annotations only here
    from .. import coordination
    from ..models._results import (
        FileUrls,
        StatusResult,
        VerificationData,
        VerificationSummary,
    )

T = TypeVar("T")


class ResultCalls(ClientBase):
    """Reads of a verification's results (part of :class:`~idenfy_async.AsyncIdenfy`)."""

    async def get_status(self, scan_ref: str, **options: Unpack[ReadOptions]) -> StatusResult:
        """The verification's overall status (``POST /api/v2/status``).

        A fallback for a missed webhook only: iDenfy restricts accounts that poll it.
        Transient failures are retried (a read is safe to repeat). Per-call options:
        ``timeout``, ``max_retries``, ``retry_deadline`` (:class:`RequestOptions`).

        Raises:
            RequestValidationError: ``scan_ref`` is empty or too long; nothing was sent.
            APIError: iDenfy refused (``NotFoundError`` for an unknown scanRef, ...).
            APIConnectionError: no answer after the last attempt.
            ResponseDecodeError: the answer could not be read.
        """
        spec = _sansio.build_get_status(scan_ref)
        return await self._read("get_status", spec, _sansio.parse_get_status, options)

    async def get_data(self, scan_ref: str, **options: Unpack[ReadOptions]) -> VerificationData:
        """The document data read during verification (``POST /api/v2/data``).

        Every field may be ``None``. Options and errors as :meth:`get_status`.
        """
        spec = _sansio.build_get_data(scan_ref)
        return await self._read("get_data", spec, _sansio.parse_get_data, options)

    async def get_files(self, scan_ref: str, **options: Unpack[ReadOptions]) -> FileUrls:
        """Pre-signed URLs of the verification's photos and videos (``POST /api/v2/files``).

        The URLs expire after about an hour: fetch them with :meth:`download_file`
        or :meth:`download_files` right away. Options and errors as :meth:`get_status`.
        """
        spec = _sansio.build_get_files(scan_ref)
        return await self._read("get_files", spec, _sansio.parse_files, options)

    async def delete_verification(self, scan_ref: str, **options: Unpack[ReadOptions]) -> None:
        """Delete the verification's personal data for good (``POST /api/v2/delete``).

        Deleting is safe to repeat, so transient failures are retried. Options as
        :meth:`get_status`.

        Raises:
            TokenNotExpiredError: the session is not over yet ("Token has not
                expired yet."); try again once it was used or expired.
            RequestValidationError, APIError, APIConnectionError: as :meth:`get_status`.
        """
        spec = _sansio.build_delete_verification(scan_ref)
        await self._read("delete_verification", spec, _sansio.parse_delete_verification, options)

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
        Options as :meth:`get_status`.

        Raises:
            ResponseDecodeError: the answer is neither a PDF nor base64 of one.
            RequestValidationError, APIError, APIConnectionError: as :meth:`get_status`.
        """
        spec = _sansio.build_generate_pdf(
            scan_ref,
            language=language,
            include_main_step_files=include_main_step_files,
            include_additional_step_files=include_additional_step_files,
        )
        return await self._call(
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
    ) -> AsyncIterator[VerificationSummary]:
        """Every verification, or those of ``client_id`` (``GET /kyc/identifications/``).

        ``async for summary in client.list_verifications("user-1"): ...``; page after
        page, each fetched when the previous one is used up. A ``next`` link is followed only
        on this client's own origin: the credentials never go anywhere else. Options
        (for each page) as :meth:`get_status`.

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
    ) -> AsyncIterator[VerificationSummary]:
        first = _sansio.build_list_verifications(client_id, page=1, per_page=per_page)

        def parse(status: int, headers: Mapping[str, str], content: bytes) -> Any:
            return _sansio.parse_list_page(status, content)

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
                page: _sansio.VerificationPage = await self._call(
                    "list_verifications", CallKind.READ, spec, parse, options, priority=priority
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
        **options: Unpack[ReadOptions],
    ) -> int:
        """Stream one file URL (from :meth:`get_files` or a webhook) to a path or binary file.

        The body is written in ``chunk_size`` pieces off the event loop, never held
        whole in memory. A path is written to a temporary file beside it and
        renamed at the end, so it never holds half a file; a file object is
        written at its current position (retried only if it is seekable). The
        request carries no Authorization header: these are pre-signed URLs on
        another host. Returns the number of bytes written. Options as
        :meth:`get_status` (``timeout`` keeps httpx's meaning here: each phase, each
        read, as a file's size is unknown).

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
        chosen = options_from("download_file", options)
        self._check_usable()
        policy = self._policy
        from .._send import (
            downloads as _downloads,  # loaded by the first download, not by the import
        )

        return await _downloads.download_file(
            self._sender,
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
            on_retry=self._on_retry,
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
        """Download every URL of a :class:`FileUrls` into ``directory``, concurrently.

        Files are named after their key and the URL's extension (``FRONT.jpg``);
        null URLs are skipped. Returns key -> path. If one download fails, the
        others are cancelled and the error is raised (files already complete stay).
        Raises as :meth:`download_file` does; every URL is checked before any is sent.
        """
        options_from("download_files", options)  # a wrong keyword raises before any I/O

        def download(url: str, path: Path) -> Awaitable[int]:
            return self.download_file(url, path, chunk_size=chunk_size, **options)

        from .._send import downloads as _downloads  # see download_file

        return await _downloads.download_files(download, file_urls, directory)
