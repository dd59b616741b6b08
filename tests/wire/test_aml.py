"""The AML API on the wire: every operation's request (method, path, body), the documented
answers decoded, unknown enum values and missing discriminators, and the request rules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from idenfy_async import errors
from idenfy_async._wire import aml as wire
from idenfy_async.models import (
    AmlAlertStatus,
    AmlCheckRequest,
    AmlCheckStatus,
    AmlCompany,
    AmlDataset,
    AmlMonitoringRequest,
    AmlMonitoringStatus,
    AmlPepTier,
    AmlPerson,
    AmlUserType,
)

CHECK_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
MON_ID = "9b2d5c1e-0f4e-4d7a-9a41-6f1c2e3d4b5a"
PERSON = AmlPerson(client_id="user-1", full_name="John Doe", nationality="lt", sex="male")
COMPANY = AmlCompany(client_id="co-1", company_name="GoPayments", country="LT")


def _body(spec: Any) -> Any:
    return json.loads(spec.body) if spec.body else None


# --------------------------------------------------------------------------- requests

WIRE = [
    (
        "create_check",
        lambda: wire.build_create_check(
            AmlCheckRequest(
                subject=PERSON,
                datasets=[AmlDataset.PEP_CURRENT, "SAN_CURRENT"],
                threshold=80,
                sanction_bodies=[1, 80],
                date_of_birth_matching="SAME_YEAR",
                pep_tiers=["PEP_TIER_1"],
            )
        ),
        "POST",
        "/aml/checks/",
        {
            "clientId": "user-1",
            "userType": "PERSON",
            "input": {"fullName": "John Doe", "nationality": "LT", "sex": "MALE"},
            "filter": {
                "datasets": ["PEP_CURRENT", "SAN_CURRENT"],
                "threshold": 80,
                "sanctionBodies": [1, 80],
                "dateOfBirthMatching": "SAME_YEAR",
                "pepTiers": ["PEP_TIER_1"],
            },
        },
    ),
    (
        "create_check company",
        lambda: wire.build_create_check(AmlCheckRequest(subject=COMPANY, datasets=["SOE_CURRENT"])),
        "POST",
        "/aml/checks/",
        {
            "clientId": "co-1",
            "userType": "COMPANY",
            "input": {"companyName": "GoPayments", "country": "LT"},
            "filter": {"datasets": ["SOE_CURRENT"]},
        },
    ),
    (
        "check_pdf",
        lambda: wire.build_check_pdf(CHECK_ID, password="s3cret"),
        "POST",
        f"/aml/checks/{CHECK_ID}/pdf/",
        {"password": "s3cret"},
    ),
    (
        "check_pdf no password",
        lambda: wire.build_check_pdf(CHECK_ID.upper()),
        "POST",
        f"/aml/checks/{CHECK_ID}/pdf/",
        None,
    ),
    (
        "get_profile",
        lambda: wire.build_get_profile(CHECK_ID, "res/1 x"),
        "GET",
        f"/aml/checks/{CHECK_ID}/profiles/res%2F1%20x/",
        None,
    ),
    (
        "profile_pdf",
        lambda: wire.build_profile_pdf(CHECK_ID, "r1", password="p"),
        "POST",
        f"/aml/checks/{CHECK_ID}/profiles/r1/pdf/",
        {"password": "p"},
    ),
    (
        "list_monitorings",
        lambda: wire.build_list_monitorings(
            wire.monitoring_filters(
                country="lt",
                created=(dt.date(2024, 1, 1), dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)),
                is_expired=False,
                name="Doe",
                order_by=["-created", "expiration"],
                status="ALERT",
                tags=["a", "b"],
                user_type=AmlUserType.PERSON,
            ),
            page=2,
            per_page=20,
        ),
        "GET",
        "/aml/monitorings/?country=LT&created=2024-01-01%2C2024-02-01T00%3A00%3A00%2B00%3A00"
        "&isExpired=false&name=Doe&orderBy=-created%2Cexpiration&status=ALERT&userType=PERSON"
        "&tags=a%2Cb&page=2&perPage=20",
        None,
    ),
    (
        "create_monitoring",
        lambda: wire.build_create_monitoring(
            AmlMonitoringRequest(subject=PERSON, is_subscribed=False, tags=["vip"])
        ),
        "POST",
        "/aml/monitorings/",
        {
            "isSubscribed": False,
            "amlCheck": {
                "clientId": "user-1",
                "userType": "PERSON",
                "input": {"fullName": "John Doe", "nationality": "LT", "sex": "MALE"},
            },
            "tags": ["vip"],
        },
    ),
    (
        "get_monitoring",
        lambda: wire.build_get_monitoring(MON_ID),
        "GET",
        f"/aml/monitorings/{MON_ID}/",
        None,
    ),
    (
        "update_monitoring",
        lambda: wire.build_update_monitoring(MON_ID, is_subscribed=True, tags=("x",)),
        "PATCH",
        f"/aml/monitorings/{MON_ID}/",
        {"isSubscribed": True, "tags": ["x"]},
    ),
    (
        "delete_monitoring",
        lambda: wire.build_delete_monitoring(MON_ID),
        "DELETE",
        f"/aml/monitorings/{MON_ID}/",
        None,
    ),
    (
        "start",
        lambda: wire.build_monitoring_action(MON_ID, "start", comment="back"),
        "POST",
        f"/aml/monitorings/{MON_ID}/start/",
        {"comment": "back"},
    ),
    (
        "stop",
        lambda: wire.build_monitoring_action(MON_ID, "stop"),
        "POST",
        f"/aml/monitorings/{MON_ID}/stop/",
        None,
    ),
    (
        "monitoring_pdf",
        lambda: wire.build_monitoring_pdf(MON_ID),
        "POST",
        f"/aml/monitorings/{MON_ID}/pdf/",
        None,
    ),
    (
        "remove_profile",
        lambda: wire.build_remove_profile(MON_ID, "r1"),
        "DELETE",
        f"/aml/monitorings/{MON_ID}/profiles/r1/",
        None,
    ),
]


@pytest.mark.parametrize(
    ("build", "method", "path", "body"), [w[1:] for w in WIRE], ids=[w[0] for w in WIRE]
)
def test_request_on_the_wire(build: Any, method: str, path: str, body: Any) -> None:
    spec = build()
    assert (spec.method, spec.path, _body(spec)) == (method, path, body)


def test_pdf_requests_accept_pdf() -> None:
    for spec in (
        wire.build_check_pdf(CHECK_ID),
        wire.build_profile_pdf(CHECK_ID, "r"),
        wire.build_monitoring_pdf(MON_ID),
    ):
        assert spec.accept.startswith("application/pdf")


def test_creates_carry_the_client_id_for_logs() -> None:
    spec = wire.build_create_check(AmlCheckRequest(subject=PERSON, datasets=["INS"]))
    assert spec.client_id == "user-1"


# --------------------------------------------------------------------------- request rules

RULES = [
    (lambda: AmlPerson(client_id="", full_name="A"), "clientId", "must not be empty"),
    (lambda: AmlPerson(client_id="x" * 101, full_name="A"), "clientId", "at most 100"),
    (lambda: AmlPerson(client_id="a", full_name="x" * 201), "fullName", "at most 200"),
    (lambda: AmlPerson(client_id="a", full_name="A", nationality="XX"), "nationality", "ISO"),
    (
        lambda: AmlPerson(client_id="a", full_name="A", date_of_birth="1990-02-30"),
        "dateOfBirth",
        "real",
    ),
    (
        lambda: AmlPerson(client_id="a", full_name="A", date_of_birth="2999-01-01"),
        "dateOfBirth",
        "after today",
    ),
    (lambda: AmlPerson(client_id="a", full_name="A", sex="X"), "sex", "MALE, FEMALE"),
    (lambda: AmlCompany(client_id="a", company_name=""), "companyName", "must not be empty"),
    (lambda: AmlCheckRequest(subject=PERSON, datasets=[]), "filter.datasets", "at least one"),
    (lambda: AmlCheckRequest(subject=PERSON, datasets="PEP_CURRENT"), "filter.datasets", "list"),
    (lambda: AmlCheckRequest(subject=PERSON, datasets=["SOE_CURRENT"]), "filter.datasets", "only"),
    (lambda: AmlCheckRequest(subject=COMPANY, datasets=["PEP_CURRENT"]), "filter.datasets", "only"),
    (lambda: AmlCheckRequest(subject=PERSON, datasets=["INS", "INS"]), "filter.datasets", "repeat"),
    (
        lambda: AmlCheckRequest(subject=PERSON, datasets=["INS"], threshold=74),
        "filter.threshold",
        "75 and 100",
    ),
    (
        lambda: AmlCheckRequest(subject=PERSON, datasets=["INS"], threshold=101),
        "filter.threshold",
        "75 and 100",
    ),
    (
        lambda: AmlCheckRequest(subject=PERSON, datasets=["INS"], threshold=True),
        "filter.threshold",
        "integer",
    ),
    (
        lambda: AmlCheckRequest(subject=PERSON, datasets=["INS"], sanction_bodies=[81]),
        "filter.sanctionBodies",
        "1 to 80",
    ),
    (
        lambda: AmlCheckRequest(subject=PERSON, datasets=["INS"], pep_tiers=["PEP_BY_ASSOCIATION"]),
        "filter.pepTiers",
        "only",
    ),
    (
        lambda: AmlCheckRequest(subject=PERSON, datasets=["INS"], date_of_birth_matching="CLOSE"),
        "filter.dateOfBirthMatching",
        "one of",
    ),
    (
        lambda: AmlCheckRequest(subject=COMPANY, datasets=["INS"], pep_tiers=["PEP_TIER_1"]),
        "filter.pepTiers",
        "person only",
    ),
    (
        lambda: AmlCheckRequest(subject=COMPANY, datasets=["INS"], date_of_birth_matching="EXACT"),
        "filter.dateOfBirthMatching",
        "person only",
    ),
    (lambda: AmlCheckRequest(subject="John", datasets=["INS"]), "subject", "AmlPerson"),  # type: ignore[arg-type]
    (lambda: AmlMonitoringRequest(subject=PERSON, is_subscribed=None), "isSubscribed", "required"),  # type: ignore[arg-type]
    (
        lambda: AmlMonitoringRequest(subject=PERSON, is_subscribed=True, tags=["a,b"]),
        "tags",
        "comma",
    ),
    (
        lambda: AmlMonitoringRequest(subject=PERSON, is_subscribed=True, tags=["t"] * 6),
        "tags",
        "at most 5",
    ),
    (
        lambda: AmlMonitoringRequest(subject=PERSON, is_subscribed=True, tags=["x" * 33]),
        "tags",
        "1-32",
    ),
    (lambda: wire.build_check_pdf("not-a-uuid"), "id", "UUID"),
    (lambda: wire.build_check_pdf(CHECK_ID, password=""), "password", "empty"),
    (lambda: wire.build_get_profile(CHECK_ID, ".."), "profileId", "dots"),
    (lambda: wire.build_get_profile(CHECK_ID, ""), "profileId", "non-empty"),
    (lambda: wire.build_update_monitoring(MON_ID), "isSubscribed", "give is_subscribed or tags"),
    (lambda: wire.build_monitoring_action(MON_ID, "start", comment=""), "comment", "empty"),
    (lambda: wire.build_monitoring_action(MON_ID, "pause"), "action", "start or stop"),
    (lambda: wire.monitoring_filters(country="LTU"), "country", "2-letter"),
    (
        lambda: wire.monitoring_filters(created=(dt.datetime(2024, 1, 1), None)),
        "created",
        "timezone-aware",
    ),
    (lambda: wire.monitoring_filters(order_by=["name"]), "orderBy", "created"),
    (lambda: wire.monitoring_filters(status="OPEN"), "status", "ACTIVE"),
    (lambda: wire.monitoring_filters(user_type="ROBOT"), "userType", "PERSON"),
    (lambda: wire.monitoring_filters(tags=["a,b"]), "tags", "comma"),
    (lambda: wire.build_list_monitorings({}, page=0, per_page=10), "page", "at least 1"),
    (lambda: wire.build_list_monitorings({}, page=1, per_page=0), "perPage", "from 1"),
]


@pytest.mark.parametrize(("make", "field", "rule"), RULES)
def test_bad_input_names_the_field_and_rule(make: Any, field: str, rule: str) -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        make()
    problems = {p.field: p.rule for p in caught.value.problems}
    assert field in problems, problems
    assert rule in problems[field]


def test_a_bad_value_is_never_quoted() -> None:
    with pytest.raises(errors.RequestValidationError) as caught:
        AmlPerson(client_id="a", full_name="Secret Name", nationality="ZZ")
    assert "ZZ" not in str(caught.value)
    assert "Secret" not in repr(AmlPerson(client_id="a", full_name="Secret Name"))


# --------------------------------------------------------------------------- answers


def person_check(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": CHECK_ID,
        "clientId": "user-1",
        "checkedAt": "2024-05-01T10:00:00Z",
        "created": "2024-05-01T10:00:00Z",
        "userType": "PERSON",
        "input": {
            "fullName": "John Doe",
            "nationality": "LT",
            "dateOfBirth": "1980-01-02",
            "sex": "MALE",
        },
        "filter": {
            "threshold": 85,
            "datasets": ["PEP_CURRENT", "SAN_CURRENT"],
            "sanctionBodies": None,
            "dateOfBirthMatching": "EXACT",
            "pepTiers": None,
        },
        "amlCheck": [
            {
                "version": 3,
                "resourceId": "r-1",
                "score": 91,
                "match": "John Doe",
                "name": "John Doe",
                "addresses": [{"geography": "LT", "city": "Vilnius"}],
                "nationalities": ["LT"],
                "datesOfBirth": ["1980"],
                "gender": "MALE",
                "datasets": ["PEP_CURRENT"],
                "currentSanBodyIds": [],
                "formerSanBodyIds": [12],
                "pepTier": "PEP_TIER_2",
            }
        ],
        "adverseMedia": [
            {
                "title": "t",
                "url": "https://news.example/a",
                "text": None,
                "score": 80,
                "type": "NEGATIVE",
                "publishDate": "2024-01-01",
            }
        ],
        "overallStatus": "FLAGS_FOUND",
        "monitoring": None,
    }
    body.update(changes)
    return body


def company_check(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": CHECK_ID,
        "clientId": "co-1",
        "checkedAt": None,
        "created": "2024-05-01T10:00:00Z",
        "userType": "COMPANY",
        "input": {"companyName": "GoPayments", "country": "LT"},
        "filter": {"threshold": 85, "datasets": ["SAN_CURRENT"], "sanctionBodies": [7]},
        "amlCheck": [
            {
                "resourceId": "b-1",
                "score": 88,
                "match": "GoPayments",
                "name": "GoPayments Ltd",
                "addresses": [{"geography": "LT"}],
                "datasets": ["SAN", "SAN_CURRENT"],
                "currentSanBodyIds": [7],
                "formerSanBodyIds": [],
            }
        ],
        "adverseMedia": None,
        "overallStatus": "NOT_CHECKED",
        "monitoring": {
            "id": MON_ID,
            "status": "ACTIVE",
            "isSubscribed": True,
            "expiration": "2025-05-01T10:00:00Z",
            "tags": [],
            "created": "2024-05-01T10:00:00Z",
        },
    }
    body.update(changes)
    return body


def test_person_check_decodes() -> None:
    check = wire.parse_check(201, json.dumps(person_check()).encode())
    assert (check.id, check.client_id, check.user_type) == (CHECK_ID, "user-1", AmlUserType.PERSON)
    assert check.overall_status is AmlCheckStatus.FLAGS_FOUND
    assert check.flagged
    assert check.input is not None
    assert check.input.full_name == "John Doe"
    assert check.filter is not None
    assert check.filter.sanction_bodies == ()
    hit = check.hits[0]
    assert (hit.resource_id, hit.score, hit.version, hit.pep_tier) == (
        "r-1",
        91,
        3,
        AmlPepTier.PEP_TIER_2,
    )
    assert hit.former_san_body_ids == (12,)
    assert hit.addresses[0].city == "Vilnius"
    assert check.adverse_media[0].score == 80
    assert check.adverse_media_count == 1
    assert check.raw["amlCheck"][0]["resourceId"] == "r-1"


def test_company_check_decodes_with_deprecated_datasets() -> None:
    check = wire.parse_check(201, json.dumps(company_check()).encode())
    assert check.user_type is AmlUserType.COMPANY
    assert check.checked_at is None
    assert check.hits[0].datasets == (AmlDataset.SAN, AmlDataset.SAN_CURRENT)
    assert check.hits[0].nationalities == ()
    assert check.adverse_media == ()
    assert not check.flagged
    assert check.monitoring is not None
    assert check.monitoring.status is AmlMonitoringStatus.ACTIVE


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (person_check(), "PERSON"),
        (company_check(), "COMPANY"),
        ({**person_check(input=None)}, "PERSON"),  # the hits' shape decides
        ({**company_check(input=None)}, "COMPANY"),
        ({**person_check(input=None, amlCheck=None)}, None),
    ],
)
def test_missing_user_type_is_read_from_the_shape(
    body: dict[str, Any], expected: str | None
) -> None:
    del body["userType"]
    check = wire.parse_check(201, json.dumps(body).encode())
    assert check.user_type == expected
    assert "userType" not in check.raw


def test_unknown_enum_values_stay_text() -> None:
    body = person_check(overallStatus="NEEDS_REVIEW", userType="TRUST")
    body["amlCheck"][0]["datasets"] = ["NEW_LIST"]
    body["amlCheck"][0]["pepTier"] = "PEP_TIER_9"
    check = wire.parse_check(201, json.dumps(body).encode())
    assert check.overall_status == "NEEDS_REVIEW"
    assert type(check.overall_status) is str
    assert check.user_type == "TRUST"
    assert check.hits[0].datasets == ("NEW_LIST",)
    assert check.hits[0].pep_tier == "PEP_TIER_9"


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{}", b'{"id": ""}', b'{"id": null}', b"not json", b'{"identifier": "X"}'],
)
def test_a_check_without_an_id_is_not_a_check(body: bytes) -> None:
    with pytest.raises(errors.ResponseDecodeError):
        wire.parse_check(201, body)


def test_a_mistyped_field_is_a_decode_error() -> None:
    body = person_check()
    body["amlCheck"][0]["currentSanBodyIds"] = ["seven"]
    with pytest.raises(errors.ResponseDecodeError):
        wire.parse_check(201, json.dumps(body).encode())


def monitoring(**changes: Any) -> dict[str, Any]:
    check = person_check()
    del check["monitoring"]
    body = {
        "id": MON_ID,
        "isSubscribed": True,
        "status": "ALERT",
        "expiration": "2025-05-01T10:00:00Z",
        "created": "2024-05-01T10:00:00Z",
        "amlCheck": check,
        "tags": ["vip"],
    }
    body.update(changes)
    return body


def test_monitoring_decodes() -> None:
    found = wire.parse_monitoring(200, json.dumps(monitoring()).encode())
    assert (found.id, found.status, found.is_subscribed, found.tags) == (
        MON_ID,
        AmlMonitoringStatus.ALERT,
        True,
        ("vip",),
    )
    assert found.check is not None
    assert found.check.hits[0].resource_id == "r-1"


def test_monitoring_without_its_check_decodes() -> None:
    body = monitoring()
    del body["amlCheck"], body["tags"]
    found = wire.parse_monitoring(200, json.dumps(body).encode())
    assert found.check is None
    assert found.tags == ()


def test_listing_page_decodes_and_follows_only_its_own_origin() -> None:
    body = {
        "count": 3,
        "next": "https://ivs.idenfy.com/aml/monitorings/?page=2&perPage=2",
        "previous": None,
        "results": [
            {
                "id": MON_ID,
                "name": "John Doe",
                "status": "STOPPED",
                "userType": "PERSON",
                "isSubscribed": False,
                "checkedAt": "2024-05-01T10:00:00Z",
                "expiration": "2025-05-01T10:00:00Z",
                "tags": [],
                "created": "2024-05-01T10:00:00Z",
            }
        ],
    }
    page = wire.parse_monitoring_page(200, json.dumps(body).encode())
    assert page.count == 3
    assert page.results[0].status is AmlMonitoringStatus.STOPPED
    own = wire.next_monitoring_page(
        page, base_url="https://ivs.idenfy.com", filters={}, page_number=2, per_page=2
    )
    assert own is not None
    assert own.path == "/aml/monitorings/?page=2&perPage=2"
    elsewhere = wire.next_monitoring_page(
        page,
        base_url="https://other.example",
        filters={"status": "STOPPED"},
        page_number=2,
        per_page=2,
    )
    assert elsewhere is not None
    assert elsewhere.path == "/aml/monitorings/?status=STOPPED&page=2&perPage=2"
    last = wire.parse_monitoring_page(200, json.dumps({**body, "next": None}).encode())
    assert (
        wire.next_monitoring_page(last, base_url="x", filters={}, page_number=2, per_page=2) is None
    )


PERSON_PROFILE = {
    "version": 2,
    "resourceId": "r-1",
    "firstName": "John",
    "lastName": "Doe",
    "gender": "MALE",
    "aliases": [{"type": "NICKNAME", "firstName": "Johnny"}],
    "datesOfBirth": ["1980"],
    "datesOfDeath": [],
    "nationalities": ["LT"],
    "addresses": [],
    "profileImages": [],
    "notes": [],
    "contactEntries": [],
    "identifiers": [],
    "evidences": [{"evidenceId": "e1", "originalUrl": "https://x", "datasets": ["PEP_CURRENT"]}],
    "sanEntries": {"current": [], "former": []},
    "relEntries": [],
    "rreEntries": [],
    "poiEntries": [],
    "insEntries": [],
    "ddEntries": [],
    "pepEntries": {"pepTier": "PEP_TIER_2", "current": [], "former": []},
    "pepByAssociationEntries": [],
    "individualLinks": [],
    "businessLinks": [],
    "griEntries": [],
    "datasets": ["PEP_CURRENT"],
}
COMPANY_PROFILE = {
    "version": 1,
    "resourceId": "b-1",
    "name": "GoPayments Ltd",
    "aliases": [{"alias": "GoPay", "type": "BRAND_NAME"}],
    "addresses": [],
    "profileImages": [],
    "notes": [],
    "contactEntries": [],
    "businessTypes": ["PRIVATELY_HELD_COMPANY"],
    "activities": ["payments"],
    "identifiers": [],
    "evidences": [],
    "sanEntries": {
        "current": [{"measures": [], "regime": {"body": "EU", "origin": "EU"}, "events": []}],
        "former": [],
    },
    "relEntries": [],
    "rreEntries": [],
    "poiEntries": [],
    "insEntries": [],
    "individualLinks": [],
    "businessLinks": [],
    "griEntries": [],
    "soeEntry": {"status": "CURRENT", "evidenceIds": []},
    "datasets": ["SAN_CURRENT"],
}


@pytest.mark.parametrize(
    ("body", "hint", "expected"),
    [
        (PERSON_PROFILE, None, "PERSON"),
        (COMPANY_PROFILE, None, "COMPANY"),
        (PERSON_PROFILE, "COMPANY", "COMPANY"),  # the caller's userType wins
        ({"resourceId": "r", "datasets": []}, None, None),
    ],
)
def test_profile_without_discriminator_decodes(
    body: Any, hint: str | None, expected: str | None
) -> None:
    profile = wire.parse_profile(200, json.dumps(body).encode(), user_type=hint)
    assert profile.user_type == expected
    assert profile.resource_id == body["resourceId"]


def test_profile_fields() -> None:
    person = wire.parse_profile(200, json.dumps(PERSON_PROFILE).encode())
    assert (person.last_name, person.dates_of_birth, person.version) == ("Doe", ("1980",), 2)
    assert person.pep_entries is not None
    assert person.pep_entries["pepTier"] == "PEP_TIER_2"
    assert person.aliases[0]["type"] == "NICKNAME"
    assert person.evidences[0]["evidenceId"] == "e1"
    company = wire.parse_profile(200, json.dumps(COMPANY_PROFILE).encode())
    assert company.name == "GoPayments Ltd"
    assert company.business_types == ("PRIVATELY_HELD_COMPANY",)
    assert company.raw["soeEntry"]["status"] == "CURRENT"


def test_profile_without_resource_id_is_refused() -> None:
    with pytest.raises(errors.ResponseDecodeError):
        wire.parse_profile(200, b'{"name": "x"}')


@pytest.mark.parametrize(
    ("headers", "body", "ok"),
    [
        ({"content-type": "application/pdf"}, b"%PDF-1.7 ...", True),
        ({}, b"%PDF-1.4", True),
        ({"content-type": "application/json"}, b'{"detail": "x"}', False),
    ],
)
def test_pdf_answer(headers: dict[str, str], body: bytes, ok: bool) -> None:
    if ok:
        assert wire.parse_pdf(200, headers, body) == body
    else:
        with pytest.raises(errors.ResponseDecodeError):
            wire.parse_pdf(200, headers, body)


def test_alert_status_keeps_deprecated_values() -> None:
    assert AmlAlertStatus.parse("DECLINED") is AmlAlertStatus.DECLINED
    assert AmlAlertStatus.parse("ESCALATED") == "ESCALATED"
