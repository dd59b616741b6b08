"""Pure wire logic: models -> request bytes; (status, headers, body) -> model or error.

No httpx, no asyncio, no clock: everything here is a function of its arguments.

Rules:

1. iDenfy reports most errors as HTTP 400 with an ``identifier``; the identifier
   decides the error class first, the status second (``_IDENTIFIER_ERRORS``,
   ``_STATUS_ERRORS``).
2. A non-JSON error body (an HTML page from a proxy) still maps by status.
3. Token creation answers 201 (documented) or 200 (older docs): any 2xx is success.
4. Bodies never reach an error message (personal data); iDenfy's short ``message``
   does.
5. Credentials go to the API's own origin only: a pagination link to another scheme,
   host or port is never followed, and file URLs (pre-signed, on S3) are fetched
   without the Authorization header.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import attrs

from . import errors
from ._converter import (
    converter,
    session_request_to_wire,
    shape_errors,
    shape_problem,
    structure_session,
)
from ._urls import secure_url_problem
from .errors import FieldProblem, RequestValidationError
from .models import (
    FileUrls,
    Session,
    SessionRequest,
    StatusResult,
    VerificationData,
    VerificationSummary,
    json_problem,
    utf8_problem,
    wire_name,
)

__all__ = [
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
STATUS_PATH: Final = "/api/v2/status"
DATA_PATH: Final = "/api/v2/data"
FILES_PATH: Final = "/api/v2/files"
DELETE_PATH: Final = "/api/v2/delete"
GENERATE_PDF_PATH: Final = "/api/v2/generate-pdf"
LIST_VERIFICATIONS_PATH: Final = "/kyc/identifications/"  # trailing slash, as documented
JSON_CONTENT_TYPE: Final = "application/json"
PDF_CONTENT_TYPE: Final = "application/pdf"
# A PDF renderer behind content negotiation would answer 406 to "application/json" alone.
PDF_ACCEPT: Final = "application/pdf, application/json;q=0.9, */*;q=0.8"

#: Largest JSON answer read (iDenfy's are a few KB): a bigger one is not iDenfy's,
#: and reading it whole would let any proxy or impostor exhaust our memory.
MAX_JSON_RESPONSE_BYTES: Final = 4 * 1024 * 1024
#: Largest PDF report read (``generate_pdf`` with every step's photos embedded).
MAX_PDF_RESPONSE_BYTES: Final = 64 * 1024 * 1024

#: Longest scanRef accepted (iDenfy documents 36 and 40 in different places).
MAX_SCAN_REF_LENGTH: Final = 40
MAX_CLIENT_ID_LENGTH: Final = 100
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
_LANGUAGE_RE: Final = re.compile(r"[a-z]{2}")
# The PDF header may follow a little junk (PDF 1.7, annex H.3); 1 KiB is the usual bound.
_PDF_MAGIC: Final = b"%PDF-"
_PDF_MAGIC_WINDOW: Final = 1024
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# Identifiers that pick the error class whatever the HTTP status (rule 1).
_IDENTIFIER_ERRORS: Final[Mapping[str, type[errors.APIError]]] = {
    "TOO_MANY_REQUESTS": errors.RateLimitError,
    "UNAUTHORIZED": errors.AuthenticationError,
    "PERMISSIONS_ERROR": errors.PermissionDeniedError,
    "PARTNER_CONTRACT_ERROR": errors.PermissionDeniedError,
    "TOKEN_NOT_VALID": errors.TokenNotValidError,
    "INTERNAL_ERROR": errors.ServerError,
}
_STATUS_ERRORS: Final[Mapping[int, type[errors.APIError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    402: errors.InsufficientFundsError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.BadRequestError,
    429: errors.RateLimitError,
}
# "Partner reached token limit." arrives as 400 PERMISSIONS_ERROR: out of credits.
_OUT_OF_CREDITS_MARKERS: Final = ("token limit", "lack of funds")
# The keys of iDenfy's error body: never a file name ("documentation" holds a URL).
_ERROR_ENVELOPE_KEYS: Final = frozenset({"identifier", "message", "documentation", "severity"})
# Deletion before the session is over: 400 PARTNER_ERROR "Token has not expired yet.".
_NOT_EXPIRED_MARKER: Final = "not expired"


def _body_shape(body: bytes) -> str:
    # Error trackers print the locals of every frame: the size only, never the bytes.
    return f"<{len(body)} bytes>"


@attrs.frozen
class RequestSpec:
    """What to send: the transport adds base URL, auth and user agent.

    ``path`` may carry a query string. An empty ``body`` is sent without a
    Content-Type. ``repr()`` shows the body's length only: it holds personal data.
    """

    method: str
    path: str
    body: bytes = attrs.field(repr=_body_shape)
    accept: str = JSON_CONTENT_TYPE
    #: How logs name the path when the real one holds a secret (a face-auth token).
    shown_path: str | None = None


# Strict JSON only: no NaN/Infinity, and UTF-8 (a lone surrogate raises). One encoder,
# built once (json.dumps with arguments builds a new one per call); it holds no state
# between calls.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dumps(payload: Any) -> bytes:
    return _ENCODER.encode(payload).encode()


def build_create_session(request: SessionRequest) -> RequestSpec:
    """The ``POST /api/v2/token`` request for a validated :class:`SessionRequest`.

    Raises:
        RequestValidationError: a value cannot be sent as strict JSON (possible
            only if a mapping was changed after validation); nothing may be sent.
    """
    body = _encode_request(request)
    if isinstance(body, FieldProblem):
        # Raised here, outside any except block and any frame that holds the
        # body: neither the error's context nor a tracker's frame locals carry it.
        raise RequestValidationError("SessionRequest", [body])
    return RequestSpec("POST", CREATE_SESSION_PATH, body)


def _encode_request(request: SessionRequest) -> bytes | FieldProblem:
    # The body, or the first field that strict JSON cannot carry (models.py
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

    A session is paid for: only ``authToken`` and ``scanRef`` (non-empty text) and
    ``clientId`` are required. Other fields are echoes of the request and are read
    leniently; the whole body stays in :attr:`Session.raw`.

    Raises:
        ResponseDecodeError: the body is not a JSON object, or lacks a readable
            authToken, scanRef or clientId. Whatever of the token and scanRef
            could be read is on its ``auth_token`` and ``scan_ref``.
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
        # Built before structuring: one pass, no copy of the frozen Session.
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


def _identifier(value: Any) -> str | None:
    # A token, scanRef or URL that can be used as given: printable text (no control
    # characters, no lone surrogates), not blank.
    if type(value) is str and value.strip() and value.isprintable():
        return value
    return None


def _json_object(status: int, content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise errors.ResponseDecodeError("the body is not valid JSON", status_code=status) from exc
    if not isinstance(body, dict):
        raise errors.ResponseDecodeError("the body is not a JSON object", status_code=status)
    return body


# --------------------------------------------------------------------------- result endpoints

_T = TypeVar("_T")


def check_scan_ref(scan_ref: Any, operation: str) -> str:
    """``scan_ref`` when it is a non-empty string of at most 40 characters.

    Raises:
        RequestValidationError: naming ``scanRef``; nothing may be sent.
    """
    problem = _scan_ref_problem(scan_ref)
    if problem:
        raise RequestValidationError(operation, [FieldProblem("scanRef", problem)])
    return str(scan_ref)


def _scan_ref_problem(scan_ref: Any) -> str | None:
    if scan_ref is None:
        return "is required"
    if not isinstance(scan_ref, str):
        return "must be a string"
    if not scan_ref.strip():
        return "must not be empty"
    if len(scan_ref) > MAX_SCAN_REF_LENGTH:
        return f"must be at most {MAX_SCAN_REF_LENGTH} characters"
    return utf8_problem(scan_ref)


def _scan_ref_call(path: str, scan_ref: Any, operation: str) -> RequestSpec:
    return RequestSpec("POST", path, _dumps({"scanRef": check_scan_ref(scan_ref, operation)}))


def build_get_status(scan_ref: str) -> RequestSpec:
    """``POST /api/v2/status`` with ``{"scanRef": ...}``."""
    return _scan_ref_call(STATUS_PATH, scan_ref, "get_status")


def build_get_data(scan_ref: str) -> RequestSpec:
    """``POST /api/v2/data`` with ``{"scanRef": ...}``."""
    return _scan_ref_call(DATA_PATH, scan_ref, "get_data")


def build_get_files(scan_ref: str) -> RequestSpec:
    """``POST /api/v2/files`` with ``{"scanRef": ...}``."""
    return _scan_ref_call(FILES_PATH, scan_ref, "get_files")


def build_delete_verification(scan_ref: str) -> RequestSpec:
    """``POST /api/v2/delete`` with ``{"scanRef": ...}``."""
    return _scan_ref_call(DELETE_PATH, scan_ref, "delete_verification")


def build_generate_pdf(
    scan_ref: str,
    *,
    language: str = "en",
    include_main_step_files: bool = True,
    include_additional_step_files: bool = True,
) -> RequestSpec:
    """``POST /api/v2/generate-pdf``; every problem is reported at once."""
    problems: list[FieldProblem] = []
    scan_ref_problem = _scan_ref_problem(scan_ref)
    if scan_ref_problem:
        problems.append(FieldProblem("scanRef", scan_ref_problem))
    if not isinstance(language, str) or not _LANGUAGE_RE.fullmatch(language):
        problems.append(
            FieldProblem("language", "must be a two-letter language code such as en or lt")
        )
    for name, flag in (
        ("includeMainStepFiles", include_main_step_files),
        ("includeAdditionalStepFiles", include_additional_step_files),
    ):
        if not isinstance(flag, bool):
            problems.append(FieldProblem(name, "must be true or false"))
    if problems:
        raise RequestValidationError("generate_pdf", problems)
    body = {
        "scanRef": scan_ref,
        "language": language,
        "includeMainStepFiles": include_main_step_files,
        "includeAdditionalStepFiles": include_additional_step_files,
    }
    return RequestSpec("POST", GENERATE_PDF_PATH, _dumps(body), accept=PDF_ACCEPT)


def build_list_verifications(
    client_id: str | None = None, *, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE
) -> RequestSpec:
    """``GET /kyc/identifications/?clientId=...&page=...&perPage=...`` (no body)."""
    problems: list[FieldProblem] = []
    if client_id is not None and (
        not isinstance(client_id, str)
        or not client_id
        or len(client_id) > MAX_CLIENT_ID_LENGTH
        or utf8_problem(client_id)
    ):
        problems.append(
            FieldProblem(
                "clientId",
                f"must be a non-empty string of at most {MAX_CLIENT_ID_LENGTH} characters",
            )
        )
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        problems.append(FieldProblem("page", "must be an integer of at least 1"))
    if (
        isinstance(per_page, bool)
        or not isinstance(per_page, int)
        or not 1 <= per_page <= MAX_PAGE_SIZE
    ):
        problems.append(
            FieldProblem("perPage", f"must be an integer between 1 and {MAX_PAGE_SIZE:,}")
        )
    if problems:
        raise RequestValidationError("list_verifications", problems)
    query: dict[str, Any] = {}
    if client_id is not None:
        query["clientId"] = client_id
    query["page"] = page
    query["perPage"] = per_page
    return RequestSpec("GET", f"{LIST_VERIFICATIONS_PATH}?{urllib.parse.urlencode(query)}", b"")


def _structure(status: int, content: bytes, cls: type[_T], *, kind: _Kind) -> _T:
    body = _json_object(status, content)
    if not kind.fields.intersection(body):
        # An error envelope or any other object is not an empty result.
        raise errors.ResponseDecodeError(f"the body is not {kind.what}", status_code=status)
    try:
        return converter.structure(body, cls)
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc


@attrs.frozen
class _Kind:
    """What identifies an answer: at least one of ``fields`` is present (even null)."""

    what: str
    fields: frozenset[str]


_STATUS_KIND: Final = _Kind("a verification status (no status field)", frozenset({"status"}))
# Every documented key of the data answer (all may be null).
_DATA_KIND: Final = _Kind(
    "verification data (none of its fields)",
    frozenset(wire_name(a.name) for a in attrs.fields(VerificationData) if a.name != "raw"),
)


def parse_get_status(status: int, content: bytes) -> StatusResult:
    """Decode a 2xx ``/api/v2/status`` answer.

    Raises:
        ResponseDecodeError: not a JSON object, no ``status`` field, or ``scanRef``
            missing or mistyped.
    """
    return _structure(status, content, StatusResult, kind=_STATUS_KIND)


def parse_get_data(status: int, content: bytes) -> VerificationData:
    """Decode a 2xx ``/api/v2/data`` answer (every field may be null).

    Raises:
        ResponseDecodeError: not a JSON object, none of the data answer's fields
            (an error body, say), or a field of the wrong type.
    """
    return _structure(status, content, VerificationData, kind=_DATA_KIND)


def parse_files(status: int, content: bytes) -> FileUrls:
    """Decode a 2xx ``/api/v2/files`` answer: file name -> pre-signed URL or null.

    No example was ever published: a map nested under ``fileUrls`` is accepted too,
    and entries that are neither null nor an http(s) URL (e.g. a ``scanRef``) are
    left out, so every value is something to download. An empty object means no files.

    Raises:
        ResponseDecodeError: not a JSON object, or a non-empty one without a single
            file entry (an error body, say).
    """
    body = _json_object(status, content)
    nested = body.get("fileUrls")
    urls: Mapping[str, Any] = nested if isinstance(nested, dict) else body
    files = {
        name: url
        for name, url in urls.items()
        if (url is None or (isinstance(url, str) and url.startswith(("https://", "http://"))))
        and name not in _ERROR_ENVELOPE_KEYS
    }
    if urls and not files:
        raise errors.ResponseDecodeError(
            "the body holds no file URLs (nor nulls)", status_code=status
        )
    return FileUrls(files)


def parse_delete_verification(status: int, content: bytes) -> None:
    """A 2xx ``/api/v2/delete`` answer (documented empty) means deleted; the body is ignored."""


def parse_generate_pdf(status: int, headers: Mapping[str, str], content: bytes) -> bytes:
    """The PDF bytes from a 2xx ``/api/v2/generate-pdf`` answer.

    iDenfy's docs disagree on the encoding: a PDF (``application/pdf`` or a body
    starting with ``%PDF``) is returned as is; otherwise the body is base64, as a
    JSON string or as plain text, and must decode to a PDF.

    Raises:
        ResponseDecodeError: neither a PDF nor base64 of one.
    """
    content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
    if content_type == PDF_CONTENT_TYPE or content.lstrip().startswith(_PDF_MAGIC):
        return content
    text: Any
    try:
        text = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        text = content.decode("ascii", errors="replace")
    if isinstance(text, str):
        try:
            pdf = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            pdf = b""
        if _PDF_MAGIC in pdf[:_PDF_MAGIC_WINDOW]:
            return pdf
    raise errors.ResponseDecodeError(
        "the body is neither a PDF nor base64 of one", status_code=status
    )


@attrs.frozen(kw_only=True)
class VerificationPage:
    """One page of ``GET /kyc/identifications/``."""

    count: int | None
    next: str | None
    previous: str | None
    results: tuple[VerificationSummary, ...]


def parse_list_page(status: int, content: bytes) -> VerificationPage:
    """Decode one 2xx page ``{count, next, previous, results: [...]}``.

    Raises:
        ResponseDecodeError: not a JSON object, ``results`` not a list, or an item
            without a ``scanRef``.
    """
    body = _json_object(status, content)
    results = body.get("results")
    if not isinstance(results, list):
        raise errors.ResponseDecodeError("results is not a list", status_code=status)
    count = body.get("count")
    links = {key: body.get(key) for key in ("next", "previous")}
    try:
        items = converter.structure(results, tuple[VerificationSummary, ...])
    except shape_errors() as exc:
        raise errors.ResponseDecodeError("unexpected shape in results", status_code=status) from exc
    return VerificationPage(
        count=count if type(count) is int else None,
        next=links["next"] if isinstance(links["next"], str) and links["next"] else None,
        previous=links["previous"] if isinstance(links["previous"], str) else None,
        results=items,
    )


def next_page_spec(
    page: VerificationPage,
    *,
    base_url: str,
    client_id: str | None,
    page_number: int,
    per_page: int,
) -> RequestSpec | None:
    """The request for the page after ``page`` (number ``page_number``), or None at the end.

    ``next`` is followed only when it has the client's scheme, host and port and
    lies under its base path (rule 5); otherwise the next page is asked for by
    number, on the client's own origin. An empty page ends the listing even when
    ``next`` is set, so a misbehaving server cannot loop it forever.
    """
    if page.next is None or not page.results:
        return None
    own = _relative_to(page.next, base_url)
    if own is not None:
        return RequestSpec("GET", own, b"")
    return build_list_verifications(client_id, page=page_number, per_page=per_page)


def _relative_to(url: str, base_url: str) -> str | None:
    # The part of ``url`` after ``base_url``, when ``url`` is on the same origin and path.
    try:
        target = urllib.parse.urlsplit(url)
        base = urllib.parse.urlsplit(base_url)
        same_origin = (
            target.scheme.lower() == base.scheme.lower()
            and (target.hostname or "").lower() == (base.hostname or "").lower()
            and _port(target) == _port(base)
            and not target.username
            and not target.password
        )
    except ValueError:  # a bad port or an unclosed IPv6 bracket
        return None
    prefix = base.path.rstrip("/")
    if not same_origin or not target.path.startswith(prefix + "/"):
        return None
    path = target.path[len(prefix) :]
    return f"{path}?{target.query}" if target.query else path


def _port(parts: urllib.parse.SplitResult) -> int | None:
    return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())


def check_download_url(url: Any) -> str:
    """``url`` when it may be fetched: ``https://``, or ``http://`` on a loopback host.

    Raises:
        RequestValidationError: naming ``url``; nothing may be sent.
    """
    problem = "must be an https:// URL (http:// only for loopback hosts)"
    if isinstance(url, str) and not utf8_problem(url) and secure_url_problem(url) is None:
        return url
    raise RequestValidationError("download_file", [FieldProblem("url", problem)])


def download_error(
    status: int, headers: Mapping[str, str], *, path: str, now: float
) -> errors.APIError:
    """The error for a non-2xx answer to a file download (body not read: not iDenfy's)."""
    message = (
        "access denied: pre-signed file URLs expire about an hour after they are issued"
        if status == 403
        else None
    )
    error = error_from_response(status, headers, b"", method="GET", path=path, now=now)
    if message is not None:
        error.message = message
    return error


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    method: str,
    path: str,
    now: float,
) -> errors.APIError:
    """The typed error for a non-2xx answer (or a 2xx carrying an error identifier).

    ``now`` is the current wall-clock time (epoch seconds), for HTTP-date Retry-After.
    """
    body: dict[str, Any] | None
    try:
        parsed = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    body = parsed if isinstance(parsed, dict) else None
    identifier = _str_or_none(body.get("identifier")) if body else None
    message = _str_or_none(body.get("message")) if body else None

    cls = _IDENTIFIER_ERRORS.get(identifier or "")
    if cls is None:
        cls = _STATUS_ERRORS.get(status)
    if cls is None and identifier and status < 400:
        cls = errors.BadRequestError  # an error envelope on a success status
    if cls is None:
        cls = errors.ServerError if status >= 500 else errors.APIError
    if cls is errors.PermissionDeniedError and message:
        lowered = message.lower()
        if any(marker in lowered for marker in _OUT_OF_CREDITS_MARKERS):
            cls = errors.InsufficientFundsError
    if (
        cls is errors.BadRequestError
        and identifier == "PARTNER_ERROR"
        and message
        and _NOT_EXPIRED_MARKER in message.lower()
    ):
        cls = errors.TokenNotExpiredError

    kwargs: dict[str, Any] = {
        "status_code": status,
        "identifier": identifier,
        "message": message,
        "body": body,
        "headers": dict(headers),
        "method": method,
        "path": path,
        "retry_after": parse_retry_after(headers, now=now),
    }
    return cls(**kwargs)


def response_size_cap(spec: RequestSpec) -> int:
    """The most bytes of an answer to ``spec`` worth reading (a PDF may be large)."""
    return MAX_PDF_RESPONSE_BYTES if spec.accept == PDF_ACCEPT else MAX_JSON_RESPONSE_BYTES


def is_error_body(status: int, content: bytes) -> bool:
    """True when a 2xx body is really an error envelope (``identifier`` and no token)."""
    if b'"identifier"' not in content or b'"authToken"' in content:
        return False
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False
    return isinstance(body, dict) and isinstance(body.get("identifier"), str)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait from ``Retry-After-Ms`` / ``Retry-After`` (seconds or HTTP date).

    Returns None when absent, unreadable, negative or not finite (the caller's own
    backoff then applies: ``-5`` must not mean "retry at once"); a date in the past
    gives 0, as RFC 9110 says.
    """
    raw_ms = _header(headers, "retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000
        except ValueError:
            value = -1.0
        if value >= 0 and value == value and value != float("inf"):
            return value
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC without saying so
            when = when.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, when.timestamp() - now)
    if not 0 <= seconds < float("inf"):  # also refuses NaN
        return None
    return seconds


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that also works on a plain dict (``name`` lower-case)."""
    value = headers.get(name)
    if value is None and not hasattr(headers, "get_list"):  # not httpx.Headers
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value
