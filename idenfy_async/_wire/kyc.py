"""Pure wire logic of the rest of the KYC workflow (reference §3.7-§3.12).

Same rules as `common` and `sessions` (whose helpers this reuses), plus:

1. Paths are sent exactly as documented, trailing slash included; a scanRef or
   token in a path is percent-encoded as one segment (``_segment``, the one place),
   and one of only dots (a ``.``/``..`` segment to URL layers) is refused.
2. Files travel as base64 text. Their limits are counted on that text, before
   anything is sent; their bytes never reach a message, a ``repr()`` or a log.
3. An answer that proves a paid call succeeded (a face-auth token, a
   request-information URL) needs only what makes it usable; the rest is read
   leniently and kept in ``raw``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any, Final

from .. import errors
from ..errors import FieldProblem, RequestValidationError
from ..models import (
    ADDITIONAL_STEP_MAX_IMAGE_BYTES,
    POA_MAX_FILE_BYTES,
    PROCESS_MAX_IMAGE_BYTES,
    PROCESS_MAX_REQUEST_BYTES,
    AdditionalStepUpload,
    BlocklistEntry,
    BlocklistSource,
    FaceAuthCheck,
    FaceAuthSession,
    FaceAuthToken,
    FaceAuthTokenRequest,
    InformationRequest,
    InformationRequestToken,
    PoaCheck,
    PoaCheckRequest,
    ProcessingRequest,
)
from ..models._checks import _text
from ..models._kyc import _token_problem, scan_ref_problem
from ..models._open_enums import FacialAuthenticationMethod
from .common import (
    RequestSpec,
    _dumps,
    _identifier,
    _json_object,
    _Kind,
    _structure,
)
from .converter import shape_errors, shape_problem, structure

__all__ = [
    "FACE_AUTH_SESSIONS_PATH",
    "FACE_AUTH_TOKEN_PATH",
    "POA_CHECK_PATH",
    "PROCESS_PATH",
    "UPLOAD_ADDITIONAL_STEP_PATH",
    "blocklist_path",
    "build_blocklist_add",
    "build_blocklist_remove",
    "build_face_auth_check",
    "build_face_auth_session",
    "build_face_auth_sessions",
    "build_face_auth_token",
    "build_poa_check",
    "build_process",
    "build_request_information",
    "build_upload_additional_step",
    "encoded_limit",
    "file_problem",
    "parse_blocklist_entry",
    "parse_empty",
    "parse_face_auth_check",
    "parse_face_auth_session",
    "parse_face_auth_sessions",
    "parse_face_auth_token",
    "parse_poa_check",
    "parse_request_information",
]

FACE_AUTH_CHECK_PATH: Final = "/identification/facial-auth/{scan_ref}/check-status/"
FACE_AUTH_TOKEN_PATH: Final = "/partner/authentication-info"  # no trailing slash, as documented
FACE_AUTH_SESSIONS_PATH: Final = "/api/v2/facial-authentication-sessions/"
REQUEST_INFORMATION_PATH: Final = "/kyc/identifications/{scan_ref}/request-information/"
BLOCKLIST_PATH: Final = "/kyc/identifications/{scan_ref}/blocklists/{source}/"
PROCESS_PATH: Final = "/api/v2/process"
UPLOAD_ADDITIONAL_STEP_PATH: Final = "/api/v2/upload-additional-step"
POA_CHECK_PATH: Final = "/api/v2/poa-checks/"
#: What a face-auth token is for (the only documented ``type``).
FACE_AUTH_TYPE: Final = "AUTHENTICATION"
#: File kinds by their first bytes. /process documents JPEG and PNG; the POA check
#: jpeg/jpg/png/webp/heic/heif/pdf.
IMAGE_KINDS: Final = frozenset({"JPEG", "PNG"})
POA_KINDS: Final = frozenset({"JPEG", "PNG", "WEBP", "HEIC", "PDF"})
_METHODS: Final = frozenset(m.value for m in FacialAuthenticationMethod)
#: The rule a path value of only dots breaks ("." and ".." are dot segments).
DOTS_RULE: Final = "must not be only dots: it would change the endpoint's path"
_HEIF_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
)


def _segment(value: str, field: str, operation: str) -> str:
    """``value`` as one path segment: every value put into a path goes through here.

    Percent-encoding keeps ``/``, ``?``, ``#`` and ``%`` inside the segment, but not
    dots: URL layers (httpx, proxies, servers) resolve ``.`` and ``..`` segments
    before sending, so such a value would reach another endpoint. Refused instead.

    Raises:
        RequestValidationError: naming ``field``; nothing is sent.
    """
    if not value.strip("."):
        _check(operation, [FieldProblem(field, DOTS_RULE)])
    return urllib.parse.quote(value, safe="")


def _check(model: str, problems: list[FieldProblem]) -> None:
    if problems:
        raise RequestValidationError(model, problems)


def _scan_ref(value: Any, operation: str) -> str:
    problem = scan_ref_problem(value)
    _check(operation, [FieldProblem("scanRef", problem)] if problem else [])
    return str(value)


# --------------------------------------------------------------------------- files


def encoded_limit(max_encoded: int) -> int:
    """The most raw bytes whose base64 text is at most ``max_encoded`` characters."""
    return (max_encoded // 4) * 3


def file_kind(data: bytes) -> str | None:
    """JPEG, PNG, WEBP, HEIC (any HEIF brand) or PDF, from the first bytes; else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIC"
    if b"%PDF-" in data[:1024]:
        return "PDF"
    return None


def file_problem(data: bytes, *, max_encoded: int, kinds: frozenset[str]) -> str | None:
    """The broken rule for one file's bytes (size as base64, then format), else None."""
    if not data:
        return "must not be empty"
    limit = encoded_limit(max_encoded)
    if len(data) > limit:
        return f"must be at most {max_encoded:,} bytes as base64 ({limit:,} bytes of file)"
    if file_kind(data) not in kinds:
        return f"must be a {' or '.join(sorted(kinds))} file"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- face authentication


def build_face_auth_check(
    scan_ref: str,
    method: str | FacialAuthenticationMethod = FacialAuthenticationMethod.FACE_MATCHING,
) -> RequestSpec:
    """``GET /identification/facial-auth/{scanRef}/check-status/?method=...`` (no body)."""
    problems = []
    scan_problem = scan_ref_problem(scan_ref)
    if scan_problem:
        problems.append(FieldProblem("scanRef", scan_problem))
    method_value = method.value if isinstance(method, FacialAuthenticationMethod) else method
    # isinstance first: ``in`` would hash the value (TypeError for a list or dict).
    if not isinstance(method_value, str) or method_value not in _METHODS:
        problems.append(FieldProblem("method", "must be one of FACE_MATCHING, ACTIVE_LIVENESS"))
    _check("check_face_auth", problems)
    path = FACE_AUTH_CHECK_PATH.format(scan_ref=_segment(scan_ref, "scanRef", "check_face_auth"))
    query = urllib.parse.urlencode({"method": method_value})
    return RequestSpec("GET", f"{path}?{query}", b"", scan_ref=scan_ref)


def build_face_auth_token(request: FaceAuthTokenRequest) -> RequestSpec:
    """``POST /partner/authentication-info`` for a validated
    [`FaceAuthTokenRequest`][idenfy_async.FaceAuthTokenRequest]."""
    body: dict[str, Any] = {
        "scanRef": request.scan_ref,
        "type": FACE_AUTH_TYPE,
        "method": request.method,
    }
    for wire, value in (
        ("lifetime", request.lifetime),
        ("locale", request.locale),
        ("generateDigitString", request.generate_digit_string),
    ):
        if value is not None:
            body[wire] = value
    return RequestSpec("POST", FACE_AUTH_TOKEN_PATH, _dumps(body), scan_ref=request.scan_ref)


def build_face_auth_sessions() -> RequestSpec:
    """``GET /api/v2/facial-authentication-sessions/`` (no body)."""
    return RequestSpec("GET", FACE_AUTH_SESSIONS_PATH, b"")


def build_face_auth_session(token: str) -> RequestSpec:
    """``GET /api/v2/facial-authentication-sessions/{tokenString}/`` (no body).

    The path holds the token: errors must name `FACE_AUTH_SESSION_PATH_SHOWN`.
    """
    problem = _token_problem(token)
    _check("get_face_auth_session", [FieldProblem("tokenString", problem)] if problem else [])
    return RequestSpec(
        "GET",
        f"{FACE_AUTH_SESSIONS_PATH}{_segment(token, 'tokenString', 'get_face_auth_session')}/",
        b"",
        shown_path=FACE_AUTH_SESSION_PATH_SHOWN,
    )


#: How errors and logs name the path of one face-auth session (the real one holds its token).
FACE_AUTH_SESSION_PATH_SHOWN: Final = FACE_AUTH_SESSIONS_PATH + "{tokenString}/"

_CHECK_KIND: Final = _Kind("a face-auth check (no type field)", frozenset({"type"}))
_SESSION_KIND: Final = _Kind(
    "a face-auth session (none of its fields)",
    frozenset({"id", "tokenString", "approved", "type", "authenticationMethod"}),
)


def parse_face_auth_check(status: int, content: bytes) -> FaceAuthCheck:
    """Decode the ``check-status`` answer ``{"type": ...}``.

    Raises:
        ResponseDecodeError: not a JSON object, or no ``type`` field.
    """
    return _structure(status, content, FaceAuthCheck, kind=_CHECK_KIND)


def parse_face_auth_token(status: int, content: bytes, *, scan_ref: str) -> FaceAuthToken:
    """Decode ``{"token": ..., "maxAttemptCount": 3, "digitString"?: ...}``.

    The token is paid for: only ``token`` (non-empty text) is required; the rest is
    read leniently.

    Raises:
        ResponseDecodeError: not a JSON object, or no usable ``token``.
    """
    body = _json_object(status, content)
    token = _identifier(body.get("token"))
    if token is None:
        raise errors.ResponseDecodeError(
            "token missing or not a non-empty string", status_code=status
        )
    count = body.get("maxAttemptCount")
    return FaceAuthToken(
        token=token,
        max_attempt_count=count if type(count) is int else None,
        digit_string=_identifier(body.get("digitString")),
        scan_ref=scan_ref,
        raw=body,
    )


def parse_face_auth_sessions(status: int, content: bytes) -> tuple[FaceAuthSession, ...]:
    """Decode the sessions listing: an array (documented), or ``{"results": [...]}``.

    Raises:
        ResponseDecodeError: neither, or an item that is not a session object.
    """
    try:
        body = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise errors.ResponseDecodeError("the body is not valid JSON", status_code=status) from exc
    items = body.get("results") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise errors.ResponseDecodeError("the body is not a list of sessions", status_code=status)
    try:
        sessions: tuple[FaceAuthSession, ...] = structure(items, tuple[FaceAuthSession, ...])
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc
    return sessions


def parse_face_auth_session(status: int, content: bytes) -> FaceAuthSession:
    """Decode one face-auth session.

    Raises:
        ResponseDecodeError: not a JSON object, or none of a session's fields.
    """
    return _structure(status, content, FaceAuthSession, kind=_SESSION_KIND)


# --------------------------------------------------------------------------- request information


def build_request_information(request: InformationRequest) -> RequestSpec:
    """``POST /kyc/identifications/{scanRef}/request-information/`` (unset fields left out)."""
    body: dict[str, Any] = {}
    for wire, value in (
        ("lifetime", request.lifetime),
        ("questionnaire", request.questionnaire),
        ("riskAssessmentProfile", request.risk_assessment_profile),
        ("additionalStepUploadRequired", request.additional_step_upload_required),
        ("bankCardVerification", request.bank_card_verification),
        ("bankCardExpectedLastFour", request.bank_card_expected_last_four),
    ):
        if value is not None:
            body[wire] = value
    scan_ref = _segment(request.scan_ref, "scanRef", "request_information")
    path = REQUEST_INFORMATION_PATH.format(scan_ref=scan_ref)
    return RequestSpec("POST", path, _dumps(body), scan_ref=request.scan_ref)


def parse_request_information(
    status: int, content: bytes, *, scan_ref: str
) -> InformationRequestToken:
    """Decode ``{"sessionUrl": ..., "tokenString": ...}``; ``sessionUrl`` is required.

    Raises:
        ResponseDecodeError: not a JSON object, or no usable ``sessionUrl``.
    """
    body = _json_object(status, content)
    url = _identifier(body.get("sessionUrl"))
    if url is None:
        raise errors.ResponseDecodeError(
            "sessionUrl missing or not a non-empty string", status_code=status
        )
    return InformationRequestToken(
        session_url=url,
        token_string=_identifier(body.get("tokenString")),
        scan_ref=scan_ref,
        raw=body,
    )


# --------------------------------------------------------------------------- blocklists


def blocklist_path(scan_ref: Any, source: Any, operation: str) -> str:
    """The blocklist path for a checked scanRef and source.

    Raises:
        RequestValidationError: naming ``scanRef`` and/or ``blocklistSource``.
    """
    problems = []
    scan_problem = scan_ref_problem(scan_ref)
    if scan_problem:
        problems.append(FieldProblem("scanRef", scan_problem))
    value = source.value if isinstance(source, BlocklistSource) else source
    if not isinstance(value, str) or value not in {s.value for s in BlocklistSource}:
        problems.append(
            FieldProblem("blocklistSource", "must be one of DOCUMENT, DOCUMENT_INFO, SELFIE")
        )
    _check(operation, problems)
    return BLOCKLIST_PATH.format(scan_ref=_segment(scan_ref, "scanRef", operation), source=value)


def build_blocklist_add(
    scan_ref: str, source: str | BlocklistSource, reason: str | None = None
) -> RequestSpec:
    """``POST /kyc/identifications/{scanRef}/blocklists/{source}/`` with ``{"reason": ...}``.

    ``reason`` is optional free text (null when not given); at most 255 characters
    here, as iDenfy documents no bound.
    """
    path = blocklist_path(scan_ref, source, "add_to_blocklist")
    if reason is not None:
        problem = _text(255)(reason)
        _check("add_to_blocklist", [FieldProblem("reason", problem)] if problem else [])
    return RequestSpec("POST", path, _dumps({"reason": reason}), scan_ref=scan_ref)


def build_blocklist_remove(scan_ref: str, source: str | BlocklistSource) -> RequestSpec:
    """``DELETE /kyc/identifications/{scanRef}/blocklists/{source}/`` (no body)."""
    path = blocklist_path(scan_ref, source, "remove_from_blocklist")
    return RequestSpec("DELETE", path, b"", scan_ref=scan_ref)


_ENTRY_KIND: Final = _Kind("a blocklist entry (none of its fields)", frozenset({"id", "created"}))


def parse_blocklist_entry(status: int, content: bytes) -> BlocklistEntry:
    """Decode the 201 answer (either documented shape).

    Raises:
        ResponseDecodeError: not a JSON object, or neither ``id`` nor ``created``.
    """
    return _structure(status, content, BlocklistEntry, kind=_ENTRY_KIND)


def parse_empty(status: int, content: bytes) -> None:
    """A 2xx answer documented empty (processing, uploads, removal): the body is ignored.

    An error envelope on a 2xx never gets here (the client checks it first).
    """


# --------------------------------------------------------------------------- files in requests


def build_process(request: ProcessingRequest, images: dict[str, bytes]) -> RequestSpec:
    """``POST /api/v2/process`` with ``images`` read from the request's sources.

    Raises:
        RequestValidationError: an image over its limit or not JPEG/PNG (named
            ``images.<STEP>``), or the whole request over 20 MB; nothing was sent.
    """
    problems = []
    for name, data in images.items():
        problem = file_problem(data, max_encoded=PROCESS_MAX_IMAGE_BYTES, kinds=IMAGE_KINDS)
        if problem:
            problems.append(FieldProblem(f"images.{name}", problem))
    _check("ProcessingRequest", problems)
    body: dict[str, Any] = {
        "authToken": request.auth_token,
        "country": request.country,
        "documentType": request.document_type,
        "images": {name: _b64(data) for name, data in images.items()},
    }
    if request.skip_analysis is not None:
        body["skipAnalysis"] = request.skip_analysis
    encoded = _dumps(body)
    if len(encoded) > PROCESS_MAX_REQUEST_BYTES:
        problem = f"must be at most {PROCESS_MAX_REQUEST_BYTES:,} bytes in all (base64 JSON)"
        _check("ProcessingRequest", [FieldProblem("images", problem)])
    return RequestSpec("POST", PROCESS_PATH, encoded)


def build_upload_additional_step(request: AdditionalStepUpload, image: bytes) -> RequestSpec:
    """``POST /api/v2/upload-additional-step`` with ``{scanRef, image, step, additionalData?}``.

    Raises:
        RequestValidationError: the image over its limit or not JPEG/PNG/PDF; nothing sent.
    """
    problem = file_problem(
        image, max_encoded=ADDITIONAL_STEP_MAX_IMAGE_BYTES, kinds=IMAGE_KINDS | {"PDF"}
    )
    _check("AdditionalStepUpload", [FieldProblem("image", problem)] if problem else [])
    body: dict[str, Any] = {"scanRef": request.scan_ref, "image": _b64(image), "step": request.step}
    if request.additional_data is not None:
        body["additionalData"] = dict(request.additional_data)
    return RequestSpec("POST", UPLOAD_ADDITIONAL_STEP_PATH, _dumps(body), scan_ref=request.scan_ref)


def build_poa_check(request: PoaCheckRequest, file: bytes) -> RequestSpec:
    """``POST /api/v2/poa-checks/`` with ``{file, providedName?, providedAddress?}``.

    Raises:
        RequestValidationError: the file too large or of another format; nothing sent.
    """
    problem = file_problem(file, max_encoded=POA_MAX_FILE_BYTES, kinds=POA_KINDS)
    _check("PoaCheckRequest", [FieldProblem("file", problem)] if problem else [])
    body = {"file": _b64(file)}
    if request.provided_name is not None:
        body["providedName"] = request.provided_name
    if request.provided_address is not None:
        body["providedAddress"] = request.provided_address
    return RequestSpec("POST", POA_CHECK_PATH, _dumps(body))


_POA_KIND: Final = _Kind(
    "a proof-of-address check (none of its fields)",
    frozenset({"id", "overallStatus", "nameMatch", "addressMatch"}),
)


def parse_poa_check(status: int, content: bytes) -> PoaCheck:
    """Decode the 201 POA check answer.

    Raises:
        ResponseDecodeError: not a JSON object, none of its fields, or a mistyped one.
    """
    return _structure(status, content, PoaCheck, kind=_POA_KIND)
