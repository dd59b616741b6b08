"""The rest of the KYC workflow, grouped by subject: ``client.face_auth``, ...

Each resource is an attribute of [`AsyncIdenfy`][idenfy_async.AsyncIdenfy] (as openai's
``client.chat.completions``): [`FaceAuthentication`][idenfy_async.client.FaceAuthentication]
(``face_auth``), [`InformationRequests`][idenfy_async.client.InformationRequests]
(``request_info``), [`Blocklists`][idenfy_async.client.Blocklists] (``blocklists``),
[`Processing`][idenfy_async.client.Processing] (``processing``: direct processing and the
additional-step upload) and [`ProofOfAddress`][idenfy_async.client.ProofOfAddress]
(``proof_of_address``). Requests are built and read by the pure functions of `_wire.kyc` and sent
through the client's one request verb (a resource needs only that: the
`Requester` protocol, which [`AsyncIdenfy`][idenfy_async.AsyncIdenfy] satisfies): the
same limiter, rate limit, cooldown, timeouts and retry rules as every other call.

Retry: a call that can cost a credit or change state (a face-auth token, a
request-information token, direct processing, an upload, a POA check, adding to or
removing from a blocklist) is retried like ``create_session``: only failures that
provably did nothing; any other error carries ``outcome_unknown=True``. Reads (the
face-auth check, the sessions) retry every transient failure.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from .._send.options import CreateOptions, ReadOptions, RequestOptions, options_from
from .._send.retry import CallKind
from .._send.sender import Parse
from .._wire import kyc as wire
from .._wire.sessions import RequestSpec
from ..models import (
    ADDITIONAL_STEP_MAX_IMAGE_BYTES,
    POA_MAX_FILE_BYTES,
    PROCESS_MAX_IMAGE_BYTES,
    AdditionalStepUpload,
    BlocklistEntry,
    BlocklistSource,
    FaceAuthCheck,
    FaceAuthSession,
    FaceAuthToken,
    FaceAuthTokenRequest,
    FacialAuthenticationMethod,
    FileSource,
    InformationRequest,
    InformationRequestToken,
    PoaCheck,
    PoaCheckRequest,
    ProcessingRequest,
)
from ._files import READ_CHUNK_SIZE as READ_CHUNK_SIZE
from ._files import read_file

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

__all__ = [
    "Blocklists",
    "Requester",
    "FaceAuthentication",
    "InformationRequests",
    "Processing",
    "ProofOfAddress",
]

T = TypeVar("T")


class Requester(Protocol):
    """What a resource sends through: the client's one request verb."""

    def _request(
        self,
        operation: str,
        kind: CallKind,
        spec: RequestSpec,
        parse: Parse[T],
        options: RequestOptions,
    ) -> Awaitable[T]: ...


class _Resource:
    """Sends through the requester (the client) it belongs to; holds no state of its own."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def _send(
        self,
        operation: str,
        kind: CallKind,
        spec: RequestSpec,
        parse: Callable[[int, bytes], T],
        options: Mapping[str, object],
    ) -> T:
        def parse_answer(status: int, headers: Mapping[str, str], content: bytes) -> T:
            return parse(status, content)

        # Errors and logs name spec.shown_path (no token) where the spec sets one:
        # the client's one rule for what a path may show. The options are read in one
        # place (options_from).
        return await self._requester._request(
            operation,
            kind,
            spec,
            parse_answer,
            options_from(operation, options, create=kind is CallKind.CREATE),
        )


# --------------------------------------------------------------------------- resources


class FaceAuthentication(_Resource):
    """Re-verify a returning user by face (§3.12): ``client.face_auth``.

    1. [`check`][idenfy_async.client.FaceAuthentication.check] the user's approved scanRef:
       ``AUTHENTICATION`` means a token can be made; ``IDENTIFICATION`` means a full verification is
       needed again.
    2. [`create_token`][idenfy_async.client.FaceAuthentication.create_token] (costs a credit) and
       send the user to its ``redirect_url`` (or iframe it, or pass ``token`` to the mobile SDK).
    3. The ``FACIAL_AUTHENTICATION`` webhook
       ([`FacialAuthenticationEvent`][idenfy_async.FacialAuthenticationEvent]) says how it went;
       [`get_session`][idenfy_async.client.FaceAuthentication.get_session] /
       [`list_sessions`][idenfy_async.client.FaceAuthentication.list_sessions] read it back.
    """

    async def check(
        self,
        scan_ref: str,
        method: str | FacialAuthenticationMethod = FacialAuthenticationMethod.FACE_MATCHING,
        **options: Unpack[ReadOptions],
    ) -> FaceAuthCheck:
        """Whether ``scan_ref`` can be face-authenticated (a read: retried freely).

        ``GET /identification/facial-auth/{scanRef}/check-status/?method=...``.

        Raises:
            NotFoundError: the scanRef is unknown or its data was deleted.
            RequestValidationError: a bad scanRef or method; nothing was sent.
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        return await self._send(
            "check_face_auth",
            CallKind.READ,
            wire.build_face_auth_check(scan_ref, method),
            wire.parse_face_auth_check,
            options,
        )

    async def create_token(
        self,
        request: FaceAuthTokenRequest | str,
        /,
        *,
        method: str | FacialAuthenticationMethod = FacialAuthenticationMethod.FACE_MATCHING,
        lifetime: int | None = None,
        locale: str | None = None,
        generate_digit_string: bool | None = None,
        **options: Unpack[CreateOptions],
    ) -> FaceAuthToken:
        """Create a face-authentication token (``POST /partner/authentication-info``).

        Pass a [`FaceAuthTokenRequest`][idenfy_async.FaceAuthTokenRequest], or the approved scanRef
        and keywords. Costs a credit: retried like ``create_session`` (only failures that provably
        created nothing; ``retry_unknown=True`` to retry the rest).

        Raises:
            RequestValidationError: invalid input; nothing was sent.
            APIError: iDenfy refused (e.g. face authentication not enabled, no credits).
            APIConnectionError, ResponseDecodeError: as ``create_session``.
        """
        if not isinstance(request, FaceAuthTokenRequest):
            request = FaceAuthTokenRequest(
                request,
                method=method,
                lifetime=lifetime,
                locale=locale,
                generate_digit_string=generate_digit_string,
            )
        scan_ref = request.scan_ref

        def parse(status: int, content: bytes) -> FaceAuthToken:
            return wire.parse_face_auth_token(status, content, scan_ref=scan_ref)

        return await self._send(
            "create_face_auth_token",
            CallKind.CREATE,
            wire.build_face_auth_token(request),
            parse,
            options,
        )

    async def list_sessions(
        self,
        **options: Unpack[ReadOptions],
    ) -> tuple[FaceAuthSession, ...]:
        """Every face-authentication session (``GET /api/v2/facial-authentication-sessions/``)."""
        return await self._send(
            "list_face_auth_sessions",
            CallKind.READ,
            wire.build_face_auth_sessions(),
            wire.parse_face_auth_sessions,
            options,
        )

    async def get_session(
        self,
        token: str,
        **options: Unpack[ReadOptions],
    ) -> FaceAuthSession:
        """One face-authentication session by its token (``approved`` is the outcome).

        Errors name the path with ``{tokenString}``, never the token itself.

        Raises:
            NotFoundError: no session with this token.
            APIError: any other refusal (also RequestValidationError, APIConnectionError,
                ResponseDecodeError, as every read).
        """
        return await self._send(
            "get_face_auth_session",
            CallKind.READ,
            wire.build_face_auth_session(token),
            wire.parse_face_auth_session,
            options,
        )


class InformationRequests(_Resource):
    """Ask the user of an existing verification for more (§3.9): ``client.request_info``."""

    async def create(
        self,
        request: InformationRequest | str,
        /,
        *,
        lifetime: int | None = None,
        questionnaire: str | None = None,
        risk_assessment_profile: int | str | None = None,
        additional_step_upload_required: bool | None = None,
        bank_card_verification: bool | None = None,
        bank_card_expected_last_four: str | None = None,
        **options: Unpack[CreateOptions],
    ) -> InformationRequestToken:
        """Request more information (``POST /kyc/identifications/{scanRef}/request-information/``).

        Pass an [`InformationRequest`][idenfy_async.InformationRequest], or the scanRef and
        keywords. Send the user to the answer's ``session_url``; the ``IDENTIFICATION_RESUBMITTED``
        webhook arrives when they are done. Changes the verification's state (and
        may cost a credit): retried like ``create_session``.

        Raises:
            RequestValidationError: invalid input; nothing was sent.
            NotFoundError: unknown scanRef.
            APIError, APIConnectionError, ResponseDecodeError: as ``create_session``.
        """
        if not isinstance(request, InformationRequest):
            request = InformationRequest(
                request,
                lifetime=lifetime,
                questionnaire=questionnaire,
                risk_assessment_profile=risk_assessment_profile,
                additional_step_upload_required=additional_step_upload_required,
                bank_card_verification=bank_card_verification,
                bank_card_expected_last_four=bank_card_expected_last_four,
            )
        scan_ref = request.scan_ref

        def parse(status: int, content: bytes) -> InformationRequestToken:
            return wire.parse_request_information(status, content, scan_ref=scan_ref)

        return await self._send(
            "request_information",
            CallKind.CREATE,
            wire.build_request_information(request),
            parse,
            options,
        )


class Blocklists(_Resource):
    """Put a verification's document, document data or selfie on a blocklist (§3.10).

    ``client.blocklists``. Later verifications matching an entry come back
    ``SUSPECTED`` with a blocklist fraud tag. Adding and removing change state:
    both are retried like ``create_session``. Removing is idempotent in effect,
    but a removal retried after the first one took effect would answer 404, so it
    is not retried blindly either.
    """

    async def add(
        self,
        scan_ref: str,
        source: BlocklistSource | str,
        *,
        reason: str | None = None,
        **options: Unpack[CreateOptions],
    ) -> BlocklistEntry:
        """``POST /kyc/identifications/{scanRef}/blocklists/{source}/`` with ``{reason}``.

        Raises:
            RequestValidationError: bad scanRef, source or reason; nothing was sent.
            NotFoundError: unknown scanRef.
            APIError, APIConnectionError, ResponseDecodeError: as ``create_session``.
        """
        return await self._send(
            "add_to_blocklist",
            CallKind.CREATE,
            wire.build_blocklist_add(scan_ref, source, reason),
            wire.parse_blocklist_entry,
            options,
        )

    async def remove(
        self,
        scan_ref: str,
        source: BlocklistSource | str,
        **options: Unpack[CreateOptions],
    ) -> None:
        """``DELETE /kyc/identifications/{scanRef}/blocklists/{source}/`` (204).

        Raises:
            NotFoundError: no such entry (or unknown scanRef).
            RequestValidationError, APIError, APIConnectionError: as
                [`add`][idenfy_async.client.Blocklists.add].
        """
        await self._send(
            "remove_from_blocklist",
            CallKind.CREATE,
            wire.build_blocklist_remove(scan_ref, source),
            wire.parse_empty,
            options,
        )


class Processing(_Resource):
    """Send your own images (§3.7) and upload additional steps: ``client.processing``.

    Images are given as bytes, paths or binary files; they are read off the event
    loop, checked (JPEG/PNG, size as base64) and encoded before anything is sent.
    """

    async def process(
        self,
        request: ProcessingRequest | str,
        /,
        *,
        country: str | None = None,
        document_type: str | None = None,
        images: Mapping[str, FileSource] | None = None,
        skip_analysis: bool | None = None,
        **options: Unpack[CreateOptions],
    ) -> None:
        """Process a session from your images (``POST /api/v2/process``).

        Pass a [`ProcessingRequest`][idenfy_async.ProcessingRequest], or the session's ``authToken``
        and keywords: ``process(token, country="LT", document_type="ID_CARD",
        images={"FRONT": path, "FACE": selfie_bytes})``. Success is an empty 200;
        the token is then used up and the result arrives by webhook. Uses the
        verification: retried like ``create_session``.

        Raises:
            RequestValidationError: invalid input, an unreadable file, an image over
                6 MB as base64 or not JPEG/PNG, or over 20 MB in all; nothing sent.
            TokenNotValidError: the token is unknown, expired or already used.
            APIError, APIConnectionError: as ``create_session``.
        """
        if not isinstance(request, ProcessingRequest):
            request = ProcessingRequest(
                request,
                country=country,  # None is reported as required
                document_type=document_type,
                images=images or {},
                skip_analysis=skip_analysis,
            )
        limit = wire.encoded_limit(PROCESS_MAX_IMAGE_BYTES)
        read = [
            read_file(source, field=f"images.{name}", model="ProcessingRequest", max_bytes=limit)
            for name, source in request.images.items()
        ]
        contents = await asyncio.gather(*read)
        spec = wire.build_process(request, dict(zip(request.images, contents, strict=True)))
        await self._send(
            "process",
            CallKind.CREATE,
            spec,
            wire.parse_empty,
            options,
        )

    async def upload_additional_step(
        self,
        request: AdditionalStepUpload | str,
        /,
        step: str | None = None,
        image: FileSource | None = None,
        *,
        additional_data: Mapping[str, Any] | None = None,
        **options: Unpack[CreateOptions],
    ) -> None:
        """Upload or re-upload one additional step (``POST /api/v2/upload-additional-step``).

        ``upload_additional_step(scan_ref, "UTILITY_BILL", path)``: replaces the
        step's file without a new verification. Changes the verification: retried
        like ``create_session``. The body follows the white-label copy of iDenfy's
        docs (see [`AdditionalStepUpload`][idenfy_async.AdditionalStepUpload]).

        Raises:
            RequestValidationError: invalid input, an unreadable file, or an image
                over the limit or not JPEG/PNG/PDF; nothing was sent.
            APIError, APIConnectionError: as ``create_session``.
        """
        if not isinstance(request, AdditionalStepUpload):
            request = AdditionalStepUpload(
                request,
                step=step,  # type: ignore[arg-type]  # None is reported as required
                image=image,  # type: ignore[arg-type]
                additional_data=additional_data,
            )
        data = await read_file(
            request.image,
            field="image",
            model="AdditionalStepUpload",
            max_bytes=wire.encoded_limit(ADDITIONAL_STEP_MAX_IMAGE_BYTES),
        )
        await self._send(
            "upload_additional_step",
            CallKind.CREATE,
            wire.build_upload_additional_step(request, data),
            wire.parse_empty,
            options,
        )


class ProofOfAddress(_Resource):
    """The standalone proof-of-address check (§3.11): ``client.proof_of_address``."""

    async def check(
        self,
        request: PoaCheckRequest | FileSource,
        /,
        *,
        provided_name: str | None = None,
        provided_address: str | None = None,
        **options: Unpack[CreateOptions],
    ) -> PoaCheck:
        """Check a document against a name and address (``POST /api/v2/poa-checks/``).

        ``check(path, provided_name="John Doe", provided_address="...")``, or
        ``check(path)`` to have the name and address read off the document. The file
        is JPEG, PNG, WebP, HEIC/HEIF or PDF. A check costs a credit: retried like
        ``create_session``.

        Raises:
            RequestValidationError: invalid input, an unreadable file, too large or
                of another format; nothing was sent.
            APIError, APIConnectionError, ResponseDecodeError: as ``create_session``.
        """
        if not isinstance(request, PoaCheckRequest):
            request = PoaCheckRequest(
                request,
                provided_name=provided_name,
                provided_address=provided_address,
            )
        data = await read_file(
            request.file,
            field="file",
            model="PoaCheckRequest",
            max_bytes=wire.encoded_limit(POA_MAX_FILE_BYTES),
        )
        return await self._send(
            "check_proof_of_address",
            CallKind.CREATE,
            wire.build_poa_check(request, data),
            wire.parse_poa_check,
            options,
        )
