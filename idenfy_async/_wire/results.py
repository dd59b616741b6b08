"""Sans-I/O for the result endpoints: status, data, files, deletion, the PDF report,
the verification listing and file downloads' URLs.

No httpx, no asyncio, no clock: everything here is a function of its arguments.

Rules (numbered across `idenfy_async._wire`: 1, 2, 4 and 6 are in `common`):

5. Credentials go to the API's own origin only: a pagination link to another scheme,
   host or port, or outside the base path once its dot segments (``%2e`` too) are
   resolved, is never followed, and file URLs (pre-signed, on S3) are fetched
   without the Authorization header.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .. import errors
from .._constants import DEFAULT_PAGE_SIZE
from ..errors import FieldProblem, RequestValidationError
from ..models import utf8_problem, wire_name
from ..models._results import FileUrls, StatusResult, VerificationData, VerificationSummary
from ..models._urls import secure_url_problem
from .common import (
    PDF_ACCEPT,
    PDF_CONTENT_TYPE,
    RequestSpec,
    _dumps,
    _header,
    _json_object,
    _Kind,
    _structure,
    error_from_response,
)
from .converter import shape_errors, structure

__all__ = [
    "DATA_PATH",
    "DEFAULT_PAGE_SIZE",
    "DELETE_PATH",
    "FILES_PATH",
    "GENERATE_PDF_PATH",
    "LIST_VERIFICATIONS_PATH",
    "STATUS_PATH",
    "VerificationPage",
    "build_delete_verification",
    "build_generate_pdf",
    "build_get_data",
    "build_get_files",
    "build_get_status",
    "build_list_verifications",
    "check_download_url",
    "check_scan_ref",
    "download_error",
    "next_page_spec",
    "parse_delete_verification",
    "parse_files",
    "parse_generate_pdf",
    "parse_get_data",
    "parse_get_status",
    "parse_list_page",
]

STATUS_PATH: Final = "/api/v2/status"
DATA_PATH: Final = "/api/v2/data"
FILES_PATH: Final = "/api/v2/files"
DELETE_PATH: Final = "/api/v2/delete"
GENERATE_PDF_PATH: Final = "/api/v2/generate-pdf"
LIST_VERIFICATIONS_PATH: Final = "/kyc/identifications/"  # trailing slash, as documented

#: Longest scanRef accepted (iDenfy documents 36 and 40 in different places).
MAX_SCAN_REF_LENGTH: Final = 40
MAX_CLIENT_ID_LENGTH: Final = 100
MAX_PAGE_SIZE: Final = 1000
_LANGUAGE_RE: Final = re.compile(r"[a-z]{2}")
# The PDF header may follow a little junk (PDF 1.7, annex H.3); 1 KiB is the usual bound.
_PDF_MAGIC: Final = b"%PDF-"
_PDF_MAGIC_WINDOW: Final = 1024
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# The keys of iDenfy's error body: never a file name ("documentation" holds a URL).
_ERROR_ENVELOPE_KEYS: Final = frozenset({"identifier", "message", "documentation", "severity"})


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
    checked = check_scan_ref(scan_ref, operation)
    return RequestSpec("POST", path, _dumps({"scanRef": checked}), scan_ref=checked)


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
    return RequestSpec(
        "POST", GENERATE_PDF_PATH, _dumps(body), accept=PDF_ACCEPT, scan_ref=scan_ref
    )


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
    path = f"{LIST_VERIFICATIONS_PATH}?{urllib.parse.urlencode(query)}"
    return RequestSpec("GET", path, b"", client_id=client_id)


_STATUS_KIND: Final = _Kind("a verification status (no status field)", frozenset({"status"}))


#: Every documented key of the data answer (all may be null).
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
        items = structure(results, tuple[VerificationSummary, ...])
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
    path = _without_dot_segments(target.path)
    if not same_origin or not path.startswith(prefix + "/"):
        return None
    path = path[len(prefix) :]
    return f"{path}?{target.query}" if target.query else path


def _without_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, with "%2e" read as "." too: httpx resolves "..", and servers
    # or proxies may decode "%2e%2e" first. Checking the base path on the resolved
    # form keeps a "next" of "/base/../admin/" from leaving it.
    kept: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        dots = segment.replace("%2e", ".").replace("%2E", ".")
        last = index == len(segments) - 1
        if dots == "..":
            if len(kept) > 1:
                kept.pop()
        elif dots != ".":
            kept.append(segment)
            continue
        if last:
            kept.append("")  # "/a/.." is "/": the directory, trailing slash kept
    return "/".join(kept)


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
