"""Pure wire logic for iDenfy's API: models -> request bytes; (status, headers, body)
-> model or error.

This module holds session creation (``POST /api/v2/token``) and re-exports
`common` (what every request and answer share: `RequestSpec`, error
mapping, Retry-After) and `results` (status, data, files, deletion, PDF,
listing, download URLs), so one module names them all; the rest of the KYC workflow
is `kyc`. No httpx, no asyncio, no clock.

Rules (numbered across `idenfy_async._wire`: 1, 2, 4 and 6 are in `common`,
5 in `results`):

3. Token creation answers 201 (documented) or 200 (older docs): any 2xx is success.
"""

from __future__ import annotations

import urllib.parse
from typing import Final

from .. import errors
from ..errors import FieldProblem, RequestValidationError
from ..models import Session, SessionRequest
from ..models._checks import json_problem
from .common import (
    JSON_CONTENT_TYPE,
    MAX_JSON_RESPONSE_BYTES,
    MAX_PDF_RESPONSE_BYTES,
    PDF_ACCEPT,
    PDF_CONTENT_TYPE,
    RequestSpec,
    _dumps,
    _identifier,
    _json_object,
    decipher,
    error_from_response,
    is_error_body,
    parse_retry_after,
    response_size_cap,
    shown_path,
)
from .converter import (
    session_request_to_wire,
    shape_errors,
    shape_problem,
    structure_session,
)
from .results import (
    DATA_PATH,
    DEFAULT_PAGE_SIZE,
    DELETE_PATH,
    FILES_PATH,
    GENERATE_PDF_PATH,
    LIST_VERIFICATIONS_PATH,
    MAX_CLIENT_ID_LENGTH,
    MAX_PAGE_SIZE,
    MAX_SCAN_REF_LENGTH,
    STATUS_PATH,
    VerificationPage,
    build_delete_verification,
    build_generate_pdf,
    build_get_data,
    build_get_files,
    build_get_status,
    build_list_verifications,
    check_download_url,
    check_scan_ref,
    download_error,
    next_page_spec,
    parse_delete_verification,
    parse_files,
    parse_generate_pdf,
    parse_get_data,
    parse_get_status,
    parse_list_page,
)

__all__ = [
    "is_error_body",
    "DEFAULT_PAGE_SIZE",
    "JSON_CONTENT_TYPE",
    "MAX_CLIENT_ID_LENGTH",
    "MAX_JSON_RESPONSE_BYTES",
    "MAX_PAGE_SIZE",
    "MAX_PDF_RESPONSE_BYTES",
    "MAX_SCAN_REF_LENGTH",
    "PDF_ACCEPT",
    "PDF_CONTENT_TYPE",
    "decipher",
    "shown_path",
    "CREATE_SESSION_PATH",
    "DATA_PATH",
    "DELETE_PATH",
    "FILES_PATH",
    "GENERATE_PDF_PATH",
    "LIST_VERIFICATIONS_PATH",
    "STATUS_PATH",
    "RequestSpec",
    "VerificationPage",
    "build_create_session",
    "build_delete_verification",
    "build_generate_pdf",
    "build_get_data",
    "build_get_files",
    "build_get_status",
    "build_list_verifications",
    "check_download_url",
    "check_scan_ref",
    "download_error",
    "error_from_response",
    "next_page_spec",
    "parse_create_session",
    "parse_delete_verification",
    "parse_files",
    "parse_generate_pdf",
    "parse_get_data",
    "parse_get_status",
    "parse_list_page",
    "parse_retry_after",
    "response_size_cap",
]

CREATE_SESSION_PATH: Final = "/api/v2/token"
REDIRECT_PATH: Final = "/api/v2/redirect"


def build_create_session(request: SessionRequest) -> RequestSpec:
    """The ``POST /api/v2/token`` request for a validated
    [`SessionRequest`][idenfy_async.SessionRequest].

    Raises:
        RequestValidationError: a value cannot be sent as strict JSON (possible
            only if a mapping was changed after validation); nothing may be sent.
    """
    body = _encode_request(request)
    if isinstance(body, FieldProblem):
        # Raised here, outside any except block and any frame that holds the
        # body: neither the error's context nor a tracker's frame locals carry it.
        raise RequestValidationError("SessionRequest", [body])
    return RequestSpec("POST", CREATE_SESSION_PATH, body, client_id=request.client_id)


def _encode_request(request: SessionRequest) -> bytes | FieldProblem:
    # The body, or the first field that strict JSON cannot carry (the model
    # validates at construction; this is the last line if a value changed since).
    try:
        wire = session_request_to_wire(request)
        return _dumps(wire)
    except (TypeError, ValueError, OverflowError, RecursionError):
        pass  # UnicodeEncodeError is a ValueError; found field by field below
    try:
        fields = list(session_request_to_wire(request).items())
    except (TypeError, ValueError, OverflowError, RecursionError):
        return FieldProblem("request", "cannot be encoded as JSON")

    for name, value in fields:
        problem = json_problem(value)
        if problem:
            return FieldProblem(name, problem)
    return FieldProblem("request", "cannot be encoded as JSON")


def parse_create_session(status: int, content: bytes, *, base_url: str) -> Session:
    """Decode a 2xx token answer; fill ``redirect_url`` the documented way if absent.

    A session is paid for: only ``authToken`` and ``scanRef`` (non-empty text) are
    required; ``clientId`` may be absent or null (``Session.client_id`` is then None).
    Other fields are echoes of the request and are read leniently; the whole body
    stays in [`Session.raw`][idenfy_async.models.Session.raw].

    Raises:
        ResponseDecodeError: the body is not a JSON object, lacks a readable authToken
            or scanRef, or has a clientId that is neither text nor null. Whatever of
            the token and scanRef could be read is on its ``auth_token`` and ``scan_ref``.
    """
    body = _json_object(status, content)
    token = _identifier(body.get("authToken"))
    scan_ref = _identifier(body.get("scanRef"))
    if token is None or scan_ref is None:
        unreadable = " and ".join(
            name for name, value in (("authToken", token), ("scanRef", scan_ref)) if value is None
        )
        raise errors.ResponseDecodeError(
            f"{unreadable} missing or not a non-empty string",
            status_code=status,
            method="POST",
            path=CREATE_SESSION_PATH,
            scan_ref=scan_ref,
            auth_token=token,
        )
    fill = {}
    if _identifier(body.get("redirectUrl")) is None:
        # Filled before structuring: Session is frozen.
        fill["redirectUrl"] = (
            f"{base_url}{REDIRECT_PATH}?authToken={urllib.parse.quote_plus(token)}"
        )
    try:
        return structure_session(body, **fill)
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(
            shape_problem(exc),
            status_code=status,
            method="POST",
            path=CREATE_SESSION_PATH,
            scan_ref=scan_ref,
            auth_token=token,
        ) from exc
