"""Pure wire logic of iDenfy's standalone AML API (12 operations on 9 paths).

Same rules as `common` and `kyc`, plus:

1. Paths are sent exactly as documented, trailing slash included. A check or
   monitoring id is a UUID (sent canonical); a profile id is one percent-encoded
   segment, never only dots.
2. Creating a check or a monitoring is billable and has no idempotency key: the
   answer needs only its ``id`` (the proof of what was made); the rest is read
   leniently and kept in ``raw``.
3. The ``userType`` unions are read by what is present (`_user_type`).
4. List filters follow iDenfy's form style: lists comma-joined (a tag cannot hold a
   comma), booleans ``true``/``false``, a date range ``from,to`` in ISO 8601.
"""

from __future__ import annotations

import datetime as _dt
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final, NoReturn

import attrs

from .. import errors
from ..errors import FieldProblem, RequestValidationError
from ..models import (
    AmlCheck,
    AmlCheckRequest,
    AmlMonitoring,
    AmlMonitoringRequest,
    AmlMonitoringStatus,
    AmlMonitoringSummary,
    AmlProfile,
    AmlUserType,
)
from ..models._aml import check_tags, comment_problem, password_problem
from .common import PDF_ACCEPT, RequestSpec, _dumps, _identifier, _json_object
from .converter import shape_errors, shape_problem, structure
from .results import _relative_to, parse_generate_pdf
from .shapes import infer_user_type as _infer_user_type

__all__ = [
    "AML_CHECKS_PATH",
    "AML_MONITORINGS_PATH",
    "DEFAULT_AML_PAGE_SIZE",
    "MAX_AML_PAGE_SIZE",
    "AmlMonitoringPage",
    "build_check_pdf",
    "build_create_check",
    "build_create_monitoring",
    "build_delete_monitoring",
    "build_get_monitoring",
    "build_get_profile",
    "build_list_monitorings",
    "build_monitoring_action",
    "build_monitoring_pdf",
    "build_profile_pdf",
    "build_remove_profile",
    "build_update_monitoring",
    "infer_user_type",
    "monitoring_filters",
    "next_monitoring_page",
    "parse_check",
    "parse_monitoring",
    "parse_monitoring_page",
    "parse_pdf",
    "parse_profile",
]

AML_CHECKS_PATH: Final = "/aml/checks/"
AML_MONITORINGS_PATH: Final = "/aml/monitorings/"
#: The paths with values in them, as iDenfy's contract names them.
CHECK_PDF_PATH: Final = "/aml/checks/{id}/pdf/"
PROFILE_PATH: Final = "/aml/checks/{id}/profiles/{profileId}/"
PROFILE_PDF_PATH: Final = "/aml/checks/{id}/profiles/{profileId}/pdf/"
MONITORING_PATH: Final = "/aml/monitorings/{id}/"
START_PATH: Final = "/aml/monitorings/{id}/start/"
STOP_PATH: Final = "/aml/monitorings/{id}/stop/"
MONITORING_PDF_PATH: Final = "/aml/monitorings/{id}/pdf/"
MONITORING_PROFILE_PATH: Final = "/aml/monitorings/{id}/profiles/{profileId}/"
DEFAULT_AML_PAGE_SIZE: Final = 50
#: iDenfy states no maximum; pages larger than this are refused here.
MAX_AML_PAGE_SIZE: Final = 1000
_ORDER_BY: Final = ("created", "-created", "expiration", "-expiration")
_DOTS_RULE: Final = "must not be only dots: it would change the endpoint's path"


def _check(operation: str, problems: list[FieldProblem]) -> None:
    if problems:
        raise RequestValidationError(operation, problems)


def _refuse(operation: str, field: str, problem: str) -> NoReturn:
    raise RequestValidationError(operation, [FieldProblem(field, problem)])


def _uuid(value: Any, field: str, operation: str) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        _refuse(operation, field, "must be a UUID")


def _profile(value: Any, operation: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        _refuse(operation, "profileId", "must be a non-empty string")
    if not value.strip("."):
        _refuse(operation, "profileId", _DOTS_RULE)
    return urllib.parse.quote(value, safe="")


def _pdf_body(password: str | None, operation: str) -> bytes:
    if password is None:
        return b""
    problem = password_problem(password)
    _check(operation, [FieldProblem("password", problem)] if problem else [])
    return _dumps({"password": password})


# --------------------------------------------------------------------------- checks


def build_create_check(request: AmlCheckRequest) -> RequestSpec:
    """``POST /aml/checks/`` for a validated [`AmlCheckRequest`][idenfy_async.AmlCheckRequest]."""
    body = {
        "clientId": request.client_id,
        "userType": request.user_type,
        "input": request.subject.wire_input(),
        "filter": request.wire_filter(),
    }
    return RequestSpec("POST", AML_CHECKS_PATH, _dumps(body), client_id=request.client_id)


def build_check_pdf(check_id: str, *, password: str | None = None) -> RequestSpec:
    """``POST /aml/checks/{id}/pdf/`` (body ``{"password": ...}`` when given)."""
    path = CHECK_PDF_PATH.format(id=_uuid(check_id, "id", "check_pdf"))
    return RequestSpec("POST", path, _pdf_body(password, "check_pdf"), accept=PDF_ACCEPT)


def _profile_path(check_id: str, profile_id: str, operation: str, template: str) -> str:
    check = _uuid(check_id, "id", operation)
    return template.format(id=check, profileId=_profile(profile_id, operation))


def build_get_profile(check_id: str, profile_id: str) -> RequestSpec:
    """``GET /aml/checks/{id}/profiles/{profileId}/`` (no body)."""
    return RequestSpec("GET", _profile_path(check_id, profile_id, "get_profile", PROFILE_PATH), b"")


def build_profile_pdf(
    check_id: str, profile_id: str, *, password: str | None = None
) -> RequestSpec:
    """``POST /aml/checks/{id}/profiles/{profileId}/pdf/``."""
    path = _profile_path(check_id, profile_id, "profile_pdf", PROFILE_PDF_PATH)
    return RequestSpec("POST", path, _pdf_body(password, "profile_pdf"), accept=PDF_ACCEPT)


# --------------------------------------------------------------------------- monitorings


def build_create_monitoring(request: AmlMonitoringRequest) -> RequestSpec:
    """``POST /aml/monitorings/`` for a validated
    [`AmlMonitoringRequest`][idenfy_async.AmlMonitoringRequest]."""
    body: dict[str, Any] = {
        "isSubscribed": request.is_subscribed,
        "amlCheck": {
            "clientId": request.client_id,
            "userType": request.subject.user_type,
            "input": request.subject.wire_input(),
        },
    }
    if request.tags:
        body["tags"] = list(request.tags)
    return RequestSpec("POST", AML_MONITORINGS_PATH, _dumps(body), client_id=request.client_id)


def _monitoring_path(monitoring_id: str, operation: str, template: str = MONITORING_PATH) -> str:
    return template.format(id=_uuid(monitoring_id, "id", operation))


def build_get_monitoring(monitoring_id: str) -> RequestSpec:
    """``GET /aml/monitorings/{id}/``."""
    return RequestSpec("GET", _monitoring_path(monitoring_id, "get_monitoring"), b"")


def build_update_monitoring(
    monitoring_id: str, *, is_subscribed: bool | None = None, tags: Iterable[str] | None = None
) -> RequestSpec:
    """``PATCH /aml/monitorings/{id}/`` with the fields given (at least one)."""
    operation = "update_monitoring"
    path = _monitoring_path(monitoring_id, operation)
    body: dict[str, Any] = {}
    problems = []
    if is_subscribed is not None:
        if not isinstance(is_subscribed, bool):
            problems.append(FieldProblem("isSubscribed", "must be true or false"))
        body["isSubscribed"] = is_subscribed
    if tags is not None:
        given = tuple(tags) if not isinstance(tags, str) else tags
        problem = check_tags(given)
        if problem:
            problems.append(FieldProblem("tags", problem))
        body["tags"] = list(given)
    if not body:
        problems.append(FieldProblem("isSubscribed", "give is_subscribed or tags to change"))
    _check(operation, problems)
    return RequestSpec("PATCH", path, _dumps(body))


def build_delete_monitoring(monitoring_id: str) -> RequestSpec:
    """``DELETE /aml/monitorings/{id}/`` (answer 204)."""
    return RequestSpec("DELETE", _monitoring_path(monitoring_id, "delete_monitoring"), b"")


def build_monitoring_action(
    monitoring_id: str, action: str, *, comment: str | None = None
) -> RequestSpec:
    """``POST /aml/monitorings/{id}/{start|stop}/`` (body ``{"comment": ...}`` when given)."""
    operation = f"{action}_monitoring"
    if action not in ("start", "stop"):
        _check(operation, [FieldProblem("action", "must be start or stop")])
    path = _monitoring_path(
        monitoring_id, operation, START_PATH if action == "start" else STOP_PATH
    )
    body = b""
    if comment is not None:
        problem = comment_problem(comment)
        _check(operation, [FieldProblem("comment", problem)] if problem else [])
        body = _dumps({"comment": comment})
    return RequestSpec("POST", path, body)


def build_monitoring_pdf(monitoring_id: str, *, password: str | None = None) -> RequestSpec:
    """``POST /aml/monitorings/{id}/pdf/``."""
    path = _monitoring_path(monitoring_id, "monitoring_pdf", MONITORING_PDF_PATH)
    return RequestSpec("POST", path, _pdf_body(password, "monitoring_pdf"), accept=PDF_ACCEPT)


def build_remove_profile(monitoring_id: str, profile_id: str) -> RequestSpec:
    """``DELETE /aml/monitorings/{id}/profiles/{profileId}/`` (answer 204)."""
    operation = "remove_profile"
    check = _uuid(monitoring_id, "id", operation)
    path = MONITORING_PROFILE_PATH.format(id=check, profileId=_profile(profile_id, operation))
    return RequestSpec("DELETE", path, b"")


# --------------------------------------------------------------------------- listing


def _instant(value: Any) -> str | None:
    if isinstance(value, _dt.datetime):
        return value.isoformat() if value.tzinfo is not None else None
    if isinstance(value, _dt.date):
        return value.isoformat()
    return None


def _range(value: Any, field: str, problems: list[FieldProblem]) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple | list) and len(value) == 2:
        ends = [_instant(v) for v in value]
        if all(ends):
            return ",".join(e for e in ends if e)
    problems.append(
        FieldProblem(field, "must be a (from, to) pair of dates or timezone-aware datetimes")
    )
    return None


def monitoring_filters(
    *,
    country: str | None = None,
    created: tuple[Any, Any] | None = None,
    expiration: tuple[Any, Any] | None = None,
    is_expired: bool | None = None,
    name: str | None = None,
    order_by: Iterable[str] | None = None,
    status: str | AmlMonitoringStatus | None = None,
    tags: Iterable[str] | None = None,
    user_type: str | AmlUserType | None = None,
) -> dict[str, str]:
    """The listing's query filters, checked and in wire form (unset ones left out).

    Longer than most functions: one short check per filter, in iDenfy's order, so that
    every bad filter is reported at once.

    Raises:
        RequestValidationError: naming each bad filter; nothing is sent.
    """
    problems: list[FieldProblem] = []
    query: dict[str, str] = {}
    if country is not None:
        if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
            problems.append(FieldProblem("country", "must be a 2-letter country code"))
        else:
            query["country"] = country.upper()
    for field, value in (("created", created), ("expiration", expiration)):
        joined = _range(value, field, problems)
        if joined:
            query[field] = joined
    if is_expired is not None:
        if not isinstance(is_expired, bool):
            problems.append(FieldProblem("isExpired", "must be true or false"))
        query["isExpired"] = "true" if is_expired else "false"
    if name is not None:
        if not isinstance(name, str) or not name:
            problems.append(FieldProblem("name", "must be a non-empty string"))
        else:
            query["name"] = name
    if order_by is not None:
        orders = [order_by] if isinstance(order_by, str) else list(order_by)
        if not orders or not all(isinstance(o, str) and o in _ORDER_BY for o in orders):
            problems.append(FieldProblem("orderBy", f"must be a list of {', '.join(_ORDER_BY)}"))
        else:
            query["orderBy"] = ",".join(orders)
    choices: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
        ("status", status, tuple(s.value for s in AmlMonitoringStatus)),
        ("userType", user_type, tuple(u.value for u in AmlUserType)),
    )
    for key, choice, allowed in choices:
        if choice is None:
            continue
        text = choice.value if isinstance(choice, AmlMonitoringStatus | AmlUserType) else choice
        if not isinstance(text, str) or text not in allowed:
            problems.append(FieldProblem(key, f"must be one of {', '.join(allowed)}"))
        else:
            query[key] = text
    if tags is not None:
        given = (tags,) if isinstance(tags, str) else tuple(tags)
        problem = check_tags(given) if given else "must name at least one tag"
        if problem:
            problems.append(FieldProblem("tags", problem))
        else:
            query["tags"] = ",".join(given)
    _check("list_monitorings", problems)
    return query


def build_list_monitorings(filters: Mapping[str, str], *, page: int, per_page: int) -> RequestSpec:
    """``GET /aml/monitorings/?...&page=N&perPage=M``."""
    problems = []
    if type(page) is not int or page < 1:
        problems.append(FieldProblem("page", "must be an integer of at least 1"))
    if type(per_page) is not int or not 1 <= per_page <= MAX_AML_PAGE_SIZE:
        problems.append(
            FieldProblem("perPage", f"must be an integer from 1 to {MAX_AML_PAGE_SIZE}")
        )
    _check("list_monitorings", problems)
    query = urllib.parse.urlencode({**filters, "page": page, "perPage": per_page})
    return RequestSpec("GET", f"{AML_MONITORINGS_PATH}?{query}", b"")


@attrs.frozen(kw_only=True)
class AmlMonitoringPage:
    """One page of ``GET /aml/monitorings/``."""

    count: int | None
    next: str | None
    results: tuple[AmlMonitoringSummary, ...]


def parse_monitoring_page(status: int, content: bytes) -> AmlMonitoringPage:
    """Decode ``{count, next, previous, results: [...]}``.

    Raises:
        ResponseDecodeError: not a JSON object, ``results`` not a list, or a row without an id.
    """
    body = _json_object(status, content)
    results = body.get("results")
    if not isinstance(results, list):
        raise errors.ResponseDecodeError("results is not a list", status_code=status)
    try:
        items = structure(results, tuple[AmlMonitoringSummary, ...])
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc
    count, link = body.get("count"), body.get("next")
    return AmlMonitoringPage(
        count=count if type(count) is int else None,
        next=link if isinstance(link, str) and link else None,
        results=items,
    )


def next_monitoring_page(
    page: AmlMonitoringPage,
    *,
    base_url: str,
    filters: Mapping[str, str],
    page_number: int,
    per_page: int,
) -> RequestSpec | None:
    """The request for the page after ``page``, or None at the end (``next`` null, or an
    empty page). ``next`` is followed only on the client's own origin; otherwise the page
    is asked for by number there."""
    if page.next is None or not page.results:
        return None
    own = _relative_to(page.next, base_url)
    if own is not None:
        return RequestSpec("GET", own, b"")
    return build_list_monitorings(filters, page=page_number, per_page=per_page)


# --------------------------------------------------------------------------- answers


def infer_user_type(body: Mapping[str, Any]) -> str | None:
    """``userType`` of a check or profile body: as sent, else from its shape (rule 3)."""
    return _infer_user_type(body)


def _with_id(status: int, content: bytes, what: str) -> dict[str, Any]:
    body = _json_object(status, content)
    if _identifier(body.get("id")) is None:
        raise errors.ResponseDecodeError(f"{what} id missing or not text", status_code=status)
    return body


def parse_check(status: int, content: bytes) -> AmlCheck:
    """Decode a check (the 201 of ``POST /aml/checks/``): only ``id`` is required.

    Raises:
        ResponseDecodeError: not a JSON object, no usable ``id``, or a mistyped field.
    """
    body = _with_id(status, content, "the check")
    try:
        return structure(body, AmlCheck)
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc


def parse_monitoring(status: int, content: bytes) -> AmlMonitoring:
    """Decode a monitoring (create, read, update, start/stop): only ``id`` is required.

    Raises:
        ResponseDecodeError: not a JSON object, no usable ``id``, or a mistyped field.
    """
    body = _with_id(status, content, "the monitoring")
    try:
        return structure(body, AmlMonitoring)
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc


def parse_profile(status: int, content: bytes, *, user_type: str | None = None) -> AmlProfile:
    """Decode a profile; ``user_type`` (the check's, when known) decides its kind.

    Raises:
        ResponseDecodeError: not a JSON object, no ``resourceId``, or a mistyped field.
    """
    body = _json_object(status, content)
    if _identifier(body.get("resourceId")) is None:
        raise errors.ResponseDecodeError("resourceId missing or not text", status_code=status)
    try:
        profile = structure(body, AmlProfile)
    except shape_errors() as exc:
        raise errors.ResponseDecodeError(shape_problem(exc), status_code=status) from exc
    if user_type is not None:
        profile = attrs.evolve(profile, user_type=AmlUserType.parse(user_type))
    return profile


def parse_pdf(status: int, headers: Mapping[str, str], content: bytes) -> bytes:
    """The PDF bytes of a 2xx PDF answer (as ``generate_pdf`` reads them).

    Raises:
        ResponseDecodeError: the body is not a PDF (e.g. a JSON error on a 2xx).
    """
    return parse_generate_pdf(status, headers, content)
