"""Requests and enums of iDenfy's standalone AML API (``/aml/checks/``, ``/aml/monitorings/``).

Who is screened is a subject: an [`AmlPerson`][idenfy_async.AmlPerson] or an
[`AmlCompany`][idenfy_async.AmlCompany] (the wire's ``userType`` comes from the class,
never from a value you pass). A check is a subject and how to screen it
([`AmlCheckRequest`][idenfy_async.AmlCheckRequest]: datasets, threshold, sanction bodies,
PEP tiers); a monitoring is a subject and whether iDenfy renews it
([`AmlMonitoringRequest`][idenfy_async.AmlMonitoringRequest]). Every request is validated at
construction and reports every broken rule at once, by wire name, never quoting a value.

The AML enums are open, as every enum read from iDenfy (``_open_enums``): a value iDenfy
adds (or a deprecated one it still sends) decodes as a plain ``str``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

from ..errors import FieldProblem, RequestValidationError
from ._checks import _check_bool, _check_country, _int_range, _text
from ._open_enums import AmlDataset, AmlDateOfBirthMatching, AmlPepTier, AmlSex
from ._rules import _enum_value, _enum_values, _iso_date, _tuple, field_problems, rule

__all__ = [
    "AML_DEFAULT_THRESHOLD",
    "AML_MAX_TAGS",
    "AML_MAX_THRESHOLD",
    "AML_MIN_THRESHOLD",
    "COMPANY_DATASETS",
    "PERSON_DATASETS",
    "AmlCheckRequest",
    "AmlCompany",
    "AmlMonitoringRequest",
    "AmlPerson",
    "AmlSubject",
]

#: iDenfy's bounds on ``filter.threshold`` (the lowest match score that counts as a hit).
AML_MIN_THRESHOLD: Final = 75
AML_MAX_THRESHOLD: Final = 100
#: What iDenfy uses when ``threshold`` is left out (it is then not sent).
AML_DEFAULT_THRESHOLD: Final = 85
#: A monitoring carries at most five tags, each 1-32 characters without a comma.
AML_MAX_TAGS: Final = 5
_MAX_TAG: Final = 32
_MAX_NAME: Final = 200
_MAX_CLIENT_ID: Final = 100
_MAX_COMMENT: Final = 10_000
_SANCTION_BODIES: Final = (1, 80)


#: The datasets a person check may ask for (no ``GRI``, no company-only ``SOE_*``).
PERSON_DATASETS: Final = (
    "PEP_CURRENT",
    "PEP_FORMER",
    "PEP_LINKED",
    "SAN_CURRENT",
    "SAN_FORMER",
    "INS",
    "RRE",
    "DD",
    "POI",
    "REL",
)
#: The datasets a company check may ask for.
COMPANY_DATASETS: Final = (
    "PEP_LINKED",
    "SAN_CURRENT",
    "SAN_FORMER",
    "INS",
    "RRE",
    "POI",
    "REL",
    "SOE_CURRENT",
    "SOE_FORMER",
)
_PEP_TIERS: Final = ("PEP_TIER_1", "PEP_TIER_2", "PEP_TIER_3")
_TAG: Final = re.compile(r"[^,]{1,32}")


# --------------------------------------------------------------------------- checks


def _each_of(allowed: Iterable[str], *, at_least_one: bool) -> Any:
    values = tuple(allowed)
    listing = ", ".join(values)

    def check(value: Any) -> str | None:
        if isinstance(value, str) or not isinstance(value, tuple):
            return f"must be a list of {listing}"
        if at_least_one and not value:
            return f"must name at least one of {listing}"
        if not all(isinstance(v, str) and v in values for v in value):
            return f"must contain only {listing}"
        if len(set(value)) != len(value):
            return "must not repeat a value"
        return None

    return check


def _check_sanction_bodies(value: Any) -> str | None:
    low, high = _SANCTION_BODIES
    if isinstance(value, str) or not isinstance(value, tuple):
        return f"must be a list of sanction body ids ({low}-{high})"
    if not all(type(v) is int and low <= v <= high for v in value):
        return f"must contain only sanction body ids from {low} to {high}"
    return None


def _check_birth(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a date (YYYY-MM-DD)"
    try:
        parsed = _dt.date.fromisoformat(value)
    except ValueError:
        return "must be a real calendar date (YYYY-MM-DD)"
    if len(value) != 10:
        return "must be a date in YYYY-MM-DD format"
    return "must not be after today" if parsed > _dt.date.today() else None


def _check_one(allowed: Iterable[str]) -> Any:
    values = tuple(allowed)

    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in values:
            return None
        return f"must be one of {', '.join(values)}"

    return check


def check_tags(value: Any) -> str | None:
    """The broken rule of a monitoring's ``tags`` (at most 5, each 1-32 characters, no
    comma), else None."""
    if isinstance(value, str) or not isinstance(value, tuple):
        return "must be a list of tags"
    if len(value) > AML_MAX_TAGS:
        return f"must hold at most {AML_MAX_TAGS} tags"
    if not all(isinstance(v, str) and _TAG.fullmatch(v) for v in value):
        return f"must contain only tags of 1-{_MAX_TAG} characters without a comma"
    return None


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) and value.isascii() else value


def _upper_value(value: Any) -> Any:
    return _upper(_enum_value(value))


def _raise(model: str, problems: list[FieldProblem]) -> None:
    if problems:
        raise RequestValidationError(model, problems)


_CLIENT_ID: Final = rule("str", _text(_MAX_CLIENT_ID), required=True)


# --------------------------------------------------------------------------- subjects


@attrs.frozen(kw_only=True, repr=False)
class AmlPerson:
    """A person to screen (``userType: PERSON``).

    ``client_id`` is your identifier of them (1-100 characters): iDenfy keeps it on the
    check but offers no lookup by it. ``full_name`` is 1-200 characters; ``nationality``
    an ISO 3166-1 alpha-2 code; ``date_of_birth`` a date (or ``YYYY-MM-DD``), not after
    today; ``sex`` ``MALE`` or ``FEMALE``. ``repr()`` shows no personal data.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    user_type: ClassVar[Literal["PERSON"]] = "PERSON"

    client_id: str = attrs.field(metadata=_CLIENT_ID)
    full_name: str = attrs.field(metadata=rule("str", _text(_MAX_NAME), required=True))
    nationality: str | None = attrs.field(
        default=None, converter=_upper, metadata=rule("str", _check_country)
    )
    date_of_birth: str | _dt.date | None = attrs.field(
        default=None, converter=_iso_date, metadata=rule("str", _check_birth)
    )
    sex: str | AmlSex | None = attrs.field(
        default=None, converter=_upper_value, metadata=rule("str", _check_one(("MALE", "FEMALE")))
    )

    def __attrs_post_init__(self) -> None:
        _raise("AmlPerson", field_problems(self, takes_null=False))

    def __repr__(self) -> str:
        return f"AmlPerson(client_id={self.client_id!r}, full_name=<redacted>, ...)"

    def wire_input(self) -> dict[str, Any]:
        """The ``input`` object sent for this person (unset fields left out)."""
        body: dict[str, Any] = {"fullName": self.full_name}
        for wire, value in (
            ("nationality", self.nationality),
            ("dateOfBirth", self.date_of_birth),
            ("sex", self.sex),
        ):
            if value is not None:
                body[wire] = value
        return body


@attrs.frozen(kw_only=True, repr=False)
class AmlCompany:
    """A company to screen (``userType: COMPANY``): ``company_name`` (1-200 characters)
    and optionally the ISO 3166-1 alpha-2 ``country`` it is registered in.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    user_type: ClassVar[Literal["COMPANY"]] = "COMPANY"

    client_id: str = attrs.field(metadata=_CLIENT_ID)
    company_name: str = attrs.field(metadata=rule("str", _text(_MAX_NAME), required=True))
    country: str | None = attrs.field(
        default=None, converter=_upper, metadata=rule("str", _check_country)
    )

    def __attrs_post_init__(self) -> None:
        _raise("AmlCompany", field_problems(self, takes_null=False))

    def __repr__(self) -> str:
        return f"AmlCompany(client_id={self.client_id!r}, company_name=<redacted>, ...)"

    def wire_input(self) -> dict[str, Any]:
        """The ``input`` object sent for this company (unset fields left out)."""
        body: dict[str, Any] = {"companyName": self.company_name}
        if self.country is not None:
            body["country"] = self.country
        return body


#: Who is screened: the union iDenfy keys on ``userType``.
AmlSubject: TypeAlias = AmlPerson | AmlCompany


def _check_subject(value: Any) -> str | None:
    if isinstance(value, AmlPerson | AmlCompany):
        return None
    return "must be an AmlPerson or an AmlCompany"


# --------------------------------------------------------------------------- requests


@attrs.frozen(kw_only=True)
class AmlCheckRequest:
    """The body of ``POST /aml/checks/``: screen ``subject`` once (a billable screening).

    ``datasets`` is required and not empty (iDenfy: "Required."): for a person any of
    [`PERSON_DATASETS`][idenfy_async.models.PERSON_DATASETS], for a company any of
    [`COMPANY_DATASETS`][idenfy_async.models.COMPANY_DATASETS]. ``threshold`` is the lowest
    match score that counts (75-100; left out, iDenfy uses 85). ``sanction_bodies`` narrows
    the sanction datasets to those bodies (ids 1-80; none: every body).
    ``date_of_birth_matching`` and ``pep_tiers`` are for a person only.

    Raises:
        RequestValidationError: listing every broken rule, by wire name (``filter.*``).
    """

    subject: AmlSubject = attrs.field(
        metadata=rule("json", _check_subject, required=True, sent=False)
    )
    datasets: tuple[str | AmlDataset, ...] = attrs.field(converter=_enum_values)
    threshold: int | None = attrs.field(
        default=None,
        metadata=rule(
            "int", _int_range(AML_MIN_THRESHOLD, AML_MAX_THRESHOLD), wire="filter.threshold"
        ),
    )
    sanction_bodies: tuple[int, ...] | None = attrs.field(
        default=None,
        converter=_tuple,
        metadata=rule("list", _check_sanction_bodies, wire="filter.sanctionBodies"),
    )
    date_of_birth_matching: str | AmlDateOfBirthMatching | None = attrs.field(
        default=None,
        converter=_enum_value,
        metadata=rule(
            "str",
            _check_one(m.value for m in AmlDateOfBirthMatching),
            wire="filter.dateOfBirthMatching",
        ),
    )
    pep_tiers: tuple[str | AmlPepTier, ...] | None = attrs.field(
        default=None,
        converter=_enum_values,
        metadata=rule("list", _each_of(_PEP_TIERS, at_least_one=False), wire="filter.pepTiers"),
    )

    def __attrs_post_init__(self) -> None:
        problems = field_problems(self, takes_null=False)
        person = isinstance(self.subject, AmlPerson)
        allowed = PERSON_DATASETS if person else COMPANY_DATASETS
        broken = _each_of(allowed, at_least_one=True)(self.datasets)
        if broken:
            problems.append(FieldProblem("filter.datasets", broken))
        if isinstance(self.subject, AmlCompany):
            for wire, value in (
                ("filter.dateOfBirthMatching", self.date_of_birth_matching),
                ("filter.pepTiers", self.pep_tiers),
            ):
                if value is not None:
                    problems.append(FieldProblem(wire, "is for a person only (userType PERSON)"))
        _raise("AmlCheckRequest", problems)

    @property
    def user_type(self) -> str:
        """``PERSON`` or ``COMPANY``, from the subject's class."""
        return self.subject.user_type

    @property
    def client_id(self) -> str:
        """The subject's clientId."""
        return self.subject.client_id

    def wire_filter(self) -> dict[str, Any]:
        """The ``filter`` object sent (unset fields left out, never null)."""
        body: dict[str, Any] = {"datasets": list(self.datasets)}
        for wire, value in (
            ("threshold", self.threshold),
            ("sanctionBodies", self.sanction_bodies),
            ("dateOfBirthMatching", self.date_of_birth_matching),
            ("pepTiers", self.pep_tiers),
        ):
            if value is not None:
                body[wire] = list(value) if isinstance(value, tuple) else value
        return body


@attrs.frozen(kw_only=True)
class AmlMonitoringRequest:
    """The body of ``POST /aml/monitorings/``: screen ``subject`` again every day until the
    monitoring expires (billable).

    ``is_subscribed`` has no default (iDenfy requires it, and it decides money): True
    renews the monitoring automatically when it expires (each renewal is likely charged),
    False lets it lapse. ``tags``: at most 5, each 1-32 characters without a comma.
    iDenfy picks the screening filter of a monitoring; none is sent.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    subject: AmlSubject = attrs.field(
        metadata=rule("json", _check_subject, required=True, sent=False)
    )
    is_subscribed: bool = attrs.field(metadata=rule("bool", _check_bool, required=True))
    tags: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, metadata=rule("list", check_tags)
    )

    def __attrs_post_init__(self) -> None:
        _raise("AmlMonitoringRequest", field_problems(self, takes_null=False))

    @property
    def client_id(self) -> str:
        """The subject's clientId."""
        return self.subject.client_id


def comment_problem(value: Any) -> str | None:
    """The broken rule of a start/stop ``comment`` (1-10,000 characters), else None."""
    return _text(_MAX_COMMENT)(value)


def password_problem(value: Any) -> str | None:
    """The broken rule of a PDF ``password`` (text, not empty), else None."""
    return _text(None)(value)


def subject_of(value: Mapping[str, Any]) -> AmlSubject:
    """An [`AmlPerson`][idenfy_async.AmlPerson] or [`AmlCompany`][idenfy_async.AmlCompany] from
    a row of text cells (``userType``, ``clientId``, ``fullName``/``companyName``,
    ``nationality``/``country``, ``dateOfBirth``, ``sex``); empty cells are unset.

    Raises:
        RequestValidationError: an unknown ``userType`` or a broken field rule.
    """
    cells: dict[str, Any] = {k: v for k, v in value.items() if v not in (None, "")}
    kind = str(cells.get("userType", "PERSON")).upper()
    client_id: Any = cells.get("clientId")
    if kind == "PERSON":
        full_name: Any = cells.get("fullName")
        return AmlPerson(
            client_id=client_id,
            full_name=full_name,
            nationality=cells.get("nationality"),
            date_of_birth=cells.get("dateOfBirth"),
            sex=cells.get("sex"),
        )
    if kind == "COMPANY":
        company_name: Any = cells.get("companyName")
        return AmlCompany(
            client_id=client_id, company_name=company_name, country=cells.get("country")
        )
    raise RequestValidationError(
        "AmlSubject", [FieldProblem("userType", "must be PERSON or COMPANY")]
    )
