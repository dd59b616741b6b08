"""What every iDenfy request and answer share, whatever the endpoint.

`RequestSpec` (what to send), the strict JSON encoder, and the reading of an
answer: `decipher` says whether an answer is a success to parse or an error,
`error_from_response` which error, `parse_retry_after` how long to wait.
No httpx, no asyncio, no clock: everything here is a function of its arguments.

Rules (numbered across `idenfy_async._wire`; 3 is in `sessions`, 5 in
`results`):

1. iDenfy reports most errors as HTTP 400 with an ``identifier``; the identifier
   decides the error class first, the status second (``_IDENTIFIER_ERRORS``,
   ``_STATUS_ERRORS``).
2. A non-JSON error body (an HTML page from a proxy) still maps by status.
4. Bodies never reach an error message (personal data); iDenfy's short ``message``
   does.
6. A 2xx whose body is iDenfy's error envelope (an ``identifier``, no token) is that
   error, not a success (`decipher`).
"""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, TypeVar

import attrs

from .. import errors
from .converter import shape_errors, shape_problem, structure

__all__ = [
    "JSON_CONTENT_TYPE",
    "MAX_JSON_RESPONSE_BYTES",
    "MAX_PDF_RESPONSE_BYTES",
    "PDF_ACCEPT",
    "PDF_CONTENT_TYPE",
    "RequestSpec",
    "decipher",
    "error_from_response",
    "is_error_body",
    "parse_retry_after",
    "response_size_cap",
    "shown_path",
]

JSON_CONTENT_TYPE: Final = "application/json"
PDF_CONTENT_TYPE: Final = "application/pdf"
# A PDF renderer behind content negotiation would answer 406 to "application/json" alone.
PDF_ACCEPT: Final = "application/pdf, application/json;q=0.9, */*;q=0.8"

#: Largest JSON answer read (iDenfy's are a few KB): a bigger one is not iDenfy's,
#: and reading it whole would let any proxy or impostor exhaust our memory.
MAX_JSON_RESPONSE_BYTES: Final = 4 * 1024 * 1024
#: Largest PDF report read (``generate_pdf`` with every step's photos embedded).
MAX_PDF_RESPONSE_BYTES: Final = 64 * 1024 * 1024

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
    #: The session the request is about, for the log records' ``idenfy_scan_ref``.
    scan_ref: str | None = attrs.field(default=None, eq=False)
    #: The user a create is for: only its keyed hash is ever logged (``idenfy_client_ref``).
    client_id: str | None = attrs.field(default=None, eq=False, repr=False)


# Strict JSON only: no NaN/Infinity, and UTF-8 (a lone surrogate raises). One shared
# encoder: it holds no state between calls.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dumps(payload: Any) -> bytes:
    return _ENCODER.encode(payload).encode()


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


_T = TypeVar("_T")


def _structure(status: int, content: bytes, cls: type[_T], *, kind: _Kind) -> _T:
    body = _json_object(status, content)
    if not kind.fields.intersection(body):
        # An error envelope or any other object is not an empty result.
        raise errors.ResponseDecodeError(f"the body is not {kind.what}", status_code=status)
    try:
        return structure(body, cls)
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc


class _Kind(NamedTuple):
    """What identifies an answer: at least one of ``fields`` is present (even null)."""

    what: str
    fields: frozenset[str]


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


def shown_path(spec: RequestSpec) -> str:
    """The path as errors, logs and ResponseInfo name it: never a query (a listing's
    clientId, a file URL's signature), never a token the real path holds."""
    return spec.shown_path or spec.path.partition("?")[0]


def decipher(
    spec: RequestSpec, status: int, headers: Mapping[str, str], content: bytes, *, now: float
) -> errors.APIError | None:
    """None when the answer is a success to parse; else the error it stands for (rule 6).

    ``now`` is the current wall-clock time (epoch seconds), for HTTP-date Retry-After.
    """
    if 200 <= status < 300 and not is_error_body(status, content):
        return None
    return error_from_response(
        status, headers, content, method=spec.method, path=shown_path(spec), now=now
    )
