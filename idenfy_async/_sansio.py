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
"""

from __future__ import annotations

import datetime
import email.utils
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

import attrs
import cattrs

from . import errors
from ._converter import session_request_to_wire, structure_session
from .models import Session, SessionRequest, wire_name

__all__ = [
    "CREATE_SESSION_PATH",
    "RequestSpec",
    "build_create_session",
    "error_from_response",
    "parse_create_session",
    "parse_retry_after",
]

CREATE_SESSION_PATH: Final = "/api/v2/token"
REDIRECT_PATH: Final = "/api/v2/redirect"
JSON_CONTENT_TYPE: Final = "application/json"

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


@attrs.frozen
class RequestSpec:
    """What to send: the transport adds base URL, auth and user agent."""

    method: str
    path: str
    body: bytes


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def build_create_session(request: SessionRequest) -> RequestSpec:
    """The ``POST /api/v2/token`` request for a validated :class:`SessionRequest`."""
    return RequestSpec("POST", CREATE_SESSION_PATH, _dumps(session_request_to_wire(request)))


def parse_create_session(status: int, content: bytes, *, base_url: str) -> Session:
    """Decode a 2xx token answer; fill ``redirect_url`` the documented way if absent.

    Raises:
        ResponseDecodeError: the body is not a JSON object of the expected shape.
    """
    body = _json_object(status, content)
    try:
        session = structure_session(body)
    except (cattrs.BaseValidationError, KeyError, TypeError, ValueError) as exc:
        raise errors.ResponseDecodeError(
            _shape_problem(exc), status_code=status, method="POST", path=CREATE_SESSION_PATH
        ) from exc
    if not session.auth_token or not session.scan_ref:
        raise errors.ResponseDecodeError(
            "authToken or scanRef is empty",
            status_code=status,
            method="POST",
            path=CREATE_SESSION_PATH,
        )
    if session.redirect_url is None:
        query = urllib.parse.urlencode({"authToken": session.auth_token})
        session = attrs.evolve(session, redirect_url=f"{base_url}{REDIRECT_PATH}?{query}")
    return session


def _json_object(status: int, content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.ResponseDecodeError("the body is not valid JSON", status_code=status) from exc
    if not isinstance(body, dict):
        raise errors.ResponseDecodeError("the body is not a JSON object", status_code=status)
    return body


def _shape_problem(exc: BaseException) -> str:
    # Name the paths only: cattrs' own messages may quote values (personal data).
    if isinstance(exc, cattrs.BaseValidationError):
        paths = sorted({_path_of(sub) for sub in _leaves(exc)})
        return "unexpected shape at " + ", ".join(paths)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!s}"
    return "unexpected shape"


def _leaves(exc: cattrs.BaseValidationError) -> list[BaseException]:
    found: list[BaseException] = []
    for sub in exc.exceptions:
        if isinstance(sub, cattrs.BaseValidationError):
            found.extend(_leaves(sub))
        else:
            found.append(sub)
    return found


def _path_of(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        note_name = getattr(note, "name", None)
        if note_name is not None:
            return f"$.{wire_name(note_name)}"
    if isinstance(exc, KeyError) and exc.args:
        return f"$.{exc.args[0]}"
    return "$"


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

    kwargs: dict[str, Any] = {
        "status_code": status,
        "identifier": identifier,
        "message": message,
        "body": body,
        "headers": dict(headers),
        "method": method,
        "path": path,
    }
    if cls is errors.RateLimitError:
        return errors.RateLimitError(retry_after=parse_retry_after(headers, now=now), **kwargs)
    return cls(**kwargs)


def is_error_body(status: int, content: bytes) -> bool:
    """True when a 2xx body is really an error envelope (``identifier`` and no token)."""
    if b'"identifier"' not in content or b'"authToken"' in content:
        return False
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and isinstance(body.get("identifier"), str)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait from ``Retry-After-Ms`` / ``Retry-After`` (seconds or HTTP date).

    Returns None when absent or unreadable; a date in the past gives 0.
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
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that also works on a plain dict (``name`` lower-case)."""
    value = headers.get(name)
    if value is None and not hasattr(headers, "get_list"):  # not httpx.Headers
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value
