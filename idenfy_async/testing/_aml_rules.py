"""The fake's own rules for AML requests, written from iDenfy's AML OpenAPI file, and the
hits and profiles it plays (`person_hit`, `company_hit`).

A broken rule is iDenfy's 400 ``VALIDATION_ERROR`` whose message starts with the field.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..models import COMPANY_DATASETS, COUNTRY_CODES, PERSON_DATASETS
from ._common import Answer, error

__all__ = [
    "DEFAULT_THRESHOLD",
    "company_hit",
    "filter_problem",
    "list_row",
    "person_hit",
    "profile_of",
    "subject_problem",
    "tags_problem",
    "webhook_body",
]

_TAG: Final = re.compile(r"[^,]{1,32}")
_PEP_TIERS: Final = ("PEP_TIER_1", "PEP_TIER_2", "PEP_TIER_3")
_DOB_MATCHING: Final = (
    "EXACT",
    "SAME_YEAR",
    "WITHIN_ONE_YEAR",
    "WITHIN_TWO_YEARS",
    "WITHIN_THREE_YEARS",
    "WITHIN_FOUR_YEARS",
    "WITHIN_FIVE_YEARS",
)
DEFAULT_THRESHOLD: Final = 85


def person_hit(
    resource_id: str,
    name: str,
    *,
    score: int = 95,
    datasets: Iterable[str] = ("PEP_CURRENT",),
    nationalities: Iterable[str] = ("DE",),
    dates_of_birth: Iterable[str] = ("1972",),
    pep_tier: str | None = "PEP_TIER_1",
    current_san_body_ids: Iterable[int] = (),
) -> dict[str, Any]:
    """A person hit (``IndividualSearchResult``) as iDenfy sends it."""
    hit: dict[str, Any] = {
        "version": 1,
        "resourceId": resource_id,
        "score": score,
        "match": name,
        "name": name,
        "addresses": [{"geography": next(iter(nationalities), "DE"), "city": "Berlin"}],
        "nationalities": list(nationalities),
        "datesOfBirth": list(dates_of_birth),
        "gender": "MALE",
        "datasets": list(datasets),
        "currentSanBodyIds": list(current_san_body_ids),
        "formerSanBodyIds": [],
    }
    if pep_tier is not None:
        hit["pepTier"] = pep_tier
    return hit


def company_hit(
    resource_id: str,
    name: str,
    *,
    score: int = 92,
    datasets: Iterable[str] = ("SAN_CURRENT",),
    current_san_body_ids: Iterable[int] = (7,),
) -> dict[str, Any]:
    """A company hit (``BusinessSearchResult``) as iDenfy sends it."""
    return {
        "version": 1,
        "resourceId": resource_id,
        "score": score,
        "match": name,
        "name": name,
        "addresses": [{"geography": "LT", "city": "Vilnius"}],
        "datasets": list(datasets),
        "currentSanBodyIds": list(current_san_body_ids),
        "formerSanBodyIds": [],
    }


CLIFF_ARTICLE: Final = {
    "title": "Local businessman questioned",
    "url": "https://news.example/cliff-hazard",
    "text": "Cliff Hazard was questioned by the police.",
    "score": 88,
    "type": "NEGATIVE",
    "publishDate": "2023-05-01",
}


def refused(field: str, rule: str) -> Answer:
    return error(400, "VALIDATION_ERROR", f"{field}: {rule}")


def text_problem(value: Any, field: str, max_len: int) -> Answer | None:
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        return refused(field, f"must be text of 1-{max_len} characters")
    return None


def subject_problem(body: Mapping[str, Any]) -> Answer | None:
    """iDenfy's 400 for a bad ``clientId``/``userType``/``input`` (checks and monitorings)."""
    problem = text_problem(body.get("clientId"), "clientId", 100)
    if problem:
        return problem
    kind = body.get("userType")
    data = body.get("input")
    if kind not in ("PERSON", "COMPANY"):
        return refused("userType", "must be PERSON or COMPANY")
    if not isinstance(data, dict):
        return refused("input", "is required")
    name_field, country_field = (
        ("fullName", "nationality") if kind == "PERSON" else ("companyName", "country")
    )
    problem = text_problem(data.get(name_field), f"input.{name_field}", 200)
    if problem:
        return problem
    country = data.get(country_field)
    if country is not None and country not in COUNTRY_CODES:
        return refused(f"input.{country_field}", "must be a country code")
    if kind == "PERSON":
        birth = data.get("dateOfBirth")
        if birth is not None:
            try:
                _dt.date.fromisoformat(birth)
            except (TypeError, ValueError):
                return refused("input.dateOfBirth", "must be a date")
        if data.get("sex") not in (None, "MALE", "FEMALE"):
            return refused("input.sex", "must be MALE or FEMALE")
    return None


def filter_problem(kind: str, value: Any) -> Answer | None:
    """iDenfy's 400 for a bad ``filter`` of a check of ``kind``."""
    if not isinstance(value, dict):
        return refused("filter", "is required")
    threshold = value.get("threshold")
    if threshold is not None and (type(threshold) is not int or not 75 <= threshold <= 100):
        return refused("filter.threshold", "must be an integer from 75 to 100")
    allowed = PERSON_DATASETS if kind == "PERSON" else COMPANY_DATASETS
    datasets = value.get("datasets")
    if not isinstance(datasets, list) or not datasets or not set(datasets) <= set(allowed):
        return refused("filter.datasets", f"must be a non-empty list of {', '.join(allowed)}")
    bodies = value.get("sanctionBodies")
    if bodies is not None and (
        not isinstance(bodies, list) or not all(type(b) is int and 1 <= b <= 80 for b in bodies)
    ):
        return refused("filter.sanctionBodies", "must be a list of ids from 1 to 80")
    tiers, matching = value.get("pepTiers"), value.get("dateOfBirthMatching")
    if kind == "COMPANY" and (tiers is not None or matching is not None):
        return refused("filter", "pepTiers and dateOfBirthMatching are for a person only")
    if tiers is not None and (not isinstance(tiers, list) or not set(tiers) <= set(_PEP_TIERS)):
        return refused("filter.pepTiers", "must be a list of PEP_TIER_1, PEP_TIER_2, PEP_TIER_3")
    if matching is not None and matching not in _DOB_MATCHING:
        return refused("filter.dateOfBirthMatching", "must be a DateOfBirthMatchingEnum value")
    return None


def tags_problem(value: Any) -> Answer | None:
    """iDenfy's 400 for bad ``tags`` (at most 5, 1-32 characters, no comma)."""
    if not isinstance(value, list) or len(value) > 5:
        return refused("tags", "must be a list of at most 5 tags")
    if not all(isinstance(t, str) and _TAG.fullmatch(t) for t in value):
        return refused("tags", "each tag must be 1-32 characters without a comma")
    return None


def profile_of(kind: str, hit: Mapping[str, Any]) -> dict[str, Any]:
    """The full profile iDenfy would give for ``hit`` (its lists empty)."""
    common: dict[str, Any] = {
        "version": hit.get("version", 1),
        "resourceId": hit["resourceId"],
        "isDeleted": False,
        "aliases": [],
        "addresses": [],
        "profileImages": [],
        "notes": [],
        "contactEntries": [],
        "identifiers": [],
        "evidences": [],
        "sanEntries": {"current": [], "former": []},
        "relEntries": [],
        "rreEntries": [],
        "poiEntries": [],
        "insEntries": [],
        "individualLinks": [],
        "businessLinks": [],
        "griEntries": [],
        "datasets": list(hit.get("datasets", ())),
    }
    if kind == "COMPANY":
        return {**common, "name": hit["name"], "businessTypes": [], "activities": []}
    first, _, last = str(hit["name"]).partition(" ")
    return {
        **common,
        "firstName": first,
        "lastName": last or first,
        "datesOfBirth": list(hit.get("datesOfBirth", ())),
        "datesOfDeath": [],
        "nationalities": list(hit.get("nationalities", ())),
        "ddEntries": [],
        "pepEntries": {"pepTier": hit.get("pepTier"), "current": [], "former": []},
        "pepByAssociationEntries": [],
    }


def webhook_body(monitoring_id: str, monitoring: Mapping[str, Any]) -> dict[str, Any]:
    """The ``AML_MONITORING`` webhook body iDenfy would send for ``monitoring``."""
    check = monitoring["amlCheck"]
    data = check["input"]
    name = data.get("fullName") or data.get("companyName") or ""
    first, _, last = name.partition(" ")
    flagged = "FLAGS_FOUND" if check["amlCheck"] else "NO_FLAGS"
    return {
        "monitoringId": monitoring_id,
        "name": first,
        "surname": last,
        "nationality": data.get("nationality") or data.get("country") or "",
        "dob": data.get("dateOfBirth"),
        "isActive": monitoring["status"] != "STOPPED",
        "expiration": monitoring["expiration"],
        "scanRefList": [],
        "alertStatus": "ALERT" if monitoring["status"] == "ALERT" else "STATUS",
        "status": monitoring["status"],
        "pepsStatus": flagged,
        "sanctionsStatus": flagged,
        "adverseMediaStatus": "FLAGS_FOUND" if check["adverseMedia"] else "NO_FLAGS",
        "results": [],
        "amlCheck": {
            "id": check["id"],
            "overallStatus": check["overallStatus"],
            "statusSetBy": None,
            "statusSetAt": None,
            "adverseMedia": [
                {**a, "score": str(a.get("score")), "status": "NOT_CHECKED"}
                for a in check["adverseMedia"]
            ],
            "amlCheck": check["amlCheck"],
        },
    }


def list_row(monitoring: Mapping[str, Any]) -> dict[str, Any]:
    """``monitoring`` as a row of ``GET /aml/monitorings/``."""
    check = monitoring["amlCheck"]
    data = check["input"]
    name = str(data.get("fullName") or data.get("companyName") or "")[:100]
    return {
        "id": monitoring["id"],
        "name": name,
        "status": monitoring["status"],
        "userType": check["userType"],
        "isSubscribed": monitoring["isSubscribed"],
        "checkedAt": check["checkedAt"],
        "expiration": monitoring["expiration"],
        "tags": monitoring["tags"],
        "created": monitoring["created"],
    }
