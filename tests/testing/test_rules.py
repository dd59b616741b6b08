"""The fake's own token rules (``testing/_rules.py``) against the library's ``SessionRequest``.

Both are written from iDenfy's reference, separately: every request the library
builds must pass the fake (else one of the two misreads the reference), and every
raw body the reference forbids is refused by the fake with iDenfy's 400 shape.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import given

from idenfy_async import (
    NULL,
    AsyncIdenfy,
    DocumentType,
    DummyStatus,
    SessionRequest,
    Sex,
    TokenType,
    errors,
)
from idenfy_async._wire.sessions import build_create_session
from idenfy_async.models import NULLABLE_FIELDS
from idenfy_async.testing import FakeIdenfy
from tests.models.test_properties import GOOD, PROPERTY, request_fields

AUTH = {"authorization": "Basic " + base64.b64encode(b"test-key:test-secret").decode()}


def answer(fake: FakeIdenfy, body: bytes) -> tuple[int, dict[str, Any]]:
    """The fake's status and JSON answer to a token request with ``body``."""
    status, _, content = fake.handle("POST", "/api/v2/token", AUTH, body)
    return status, json.loads(content)


def raw(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# --------------------------------------------------------------------------- the library's requests

#: The seed page's four examples, as the library's keywords.
SEED_EXAMPLES: list[dict[str, Any]] = [
    {"client_id": "user-123"},
    {
        "client_id": "user-123",
        "first_name": "John",
        "last_name": "Doe",
        "date_of_birth": "1990-05-15",
    },
    {
        "client_id": "user-123",
        "first_name": "John",
        "last_name": "Doe",
        "country": ["US", "GB", "DE"],
        "documents": ["PASSPORT", "ID_CARD"],
    },
    {
        "client_id": "user-123",
        "first_name": "John",
        "last_name": "Doe",
        "date_of_birth": "1990-05-15",
        "country": "US",
        "documents": ["PASSPORT", "ID_CARD"],
        "locale": "en",
        "expiry_time": 3600,
        "session_length": 600,
        "success_url": "https://yourapp.com/verified",
        "error_url": "https://yourapp.com/failed",
        "callback_url": "https://yourapp.com/webhook",
    },
]


def _library_samples() -> list[Any]:
    samples: list[Any] = [
        pytest.param(fields, id=f"seed-{i}") for i, fields in enumerate(SEED_EXAMPLES)
    ]
    # Every value the property tests call good, one field at a time, then all together.
    for name, values in GOOD.items():
        samples += [
            pytest.param({"client_id": "u", name: v}, id=f"{name}-{i}")
            for i, v in enumerate(values)
        ]
    everything = {name: values[-1] for name, values in GOOD.items()}
    samples.append(pytest.param({"client_id": "u", **everything}, id="every-good-field"))
    bools = [a for a in attrs.fields(SessionRequest) if str(a.type) == "bool | None"]
    samples.append(
        pytest.param({"client_id": "u", **{a.name: True for a in bools}}, id="every-toggle")
    )
    # Every value of every enumeration, every nullable parameter as an explicit null.
    samples += [
        pytest.param({"client_id": "u", "token_type": t}, id=f"token-{t.value}")
        for t in (TokenType.IDENTIFICATION, TokenType.DOCUMENT)
    ]
    samples += [pytest.param({"client_id": "u", "sex": s}, id=f"sex-{s.value}") for s in Sex]
    samples += [
        pytest.param({"client_id": "u", "dummy_status": s}, id=f"dummy-{s.value}")
        for s in DummyStatus
    ]
    samples.append(
        pytest.param({"client_id": "u", "documents": list(DocumentType)}, id="every-document")
    )
    samples += [
        pytest.param({"client_id": "u", name: NULL}, id=f"null-{name}")
        for name in sorted(NULLABLE_FIELDS)
    ]
    samples.append(
        pytest.param(
            {
                "client_id": "x" * 100,
                "date_of_expiry": datetime.date(2031, 2, 28),
                "expiry_time": 2_592_000,
                "session_length": 60,
                "theme": uuid.UUID(int=9),
                "nationality": "lt",
            },
            id="limits",
        )
    )
    return samples


@pytest.mark.parametrize("fields", _library_samples())
def test_every_sample_request_the_library_builds_passes_the_fake(fields: dict[str, Any]) -> None:
    """The library's body for each sample gets the fake's 201, not a 400."""
    body = build_create_session(SessionRequest(**fields)).body
    fake = FakeIdenfy()
    status, answered = answer(fake, body)
    assert (status, answered.get("message")) == (201, "Token created successfully")
    assert fake.sessions[0].request == json.loads(body)


@PROPERTY
@given(request_fields())
def test_any_request_the_library_accepts_passes_the_fake(fields: dict[str, Any]) -> None:
    """Whatever the library lets through (the property tests' values), the fake accepts."""
    try:
        body = build_create_session(SessionRequest(**fields)).body
    except errors.RequestValidationError:
        return
    status, answered = answer(FakeIdenfy(), body)
    assert status == 201, answered


async def test_the_client_creates_a_session_with_every_good_field() -> None:
    """End to end: AsyncIdenfy's create_session with every good field, through the fake."""
    fake = FakeIdenfy()
    fields = {name: values[0] for name, values in GOOD.items()}
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        session = await client.create_session(SessionRequest(client_id="user-1", **fields))
    assert fake.session(session.scan_ref).request["clientId"] == "user-1"


# --------------------------------------------------------------------------- raw bad bodies

BAD_BODIES = [
    # (body, identifier, field) — what iDenfy's reference forbids.
    ({}, "MISSING_VALUE", "clientId"),
    ({"clientId": ""}, "MISSING_VALUE", "clientId"),
    ({"clientId": None}, "MISSING_VALUE", "clientId"),
    ({"clientId": 12}, "BAD_VALUE", "clientId"),
    ({"clientId": "x" * 101}, "BAD_VALUE", "clientId"),
    ({"clientId": "naïve"}, "BAD_VALUE", "clientId"),
    ({"clientId": "u", "tokenType": "SELFIE"}, "BAD_VALUE", "tokenType"),
    ({"clientId": "u", "first_name": "John"}, "BAD_VALUE", "first_name"),  # snake_case
    ({"clientId": "u", "ExpiryTime": 600}, "BAD_VALUE", "ExpiryTime"),  # wrong case
    ({"clientId": "u", "tokenType": None}, "BAD_VALUE", "tokenType"),
    ({"clientId": "u", "externalRef": "r" * 41}, "BAD_VALUE", "externalRef"),
    ({"clientId": "u", "expiryTime": -1}, "BAD_VALUE", "expiryTime"),
    ({"clientId": "u", "expiryTime": 2_592_001}, "BAD_VALUE", "expiryTime"),
    ({"clientId": "u", "expiryTime": "3600"}, "BAD_VALUE", "expiryTime"),
    ({"clientId": "u", "expiryTime": True}, "BAD_VALUE", "expiryTime"),
    ({"clientId": "u", "sessionLength": 59}, "BAD_VALUE", "sessionLength"),
    ({"clientId": "u", "sessionLength": 3601}, "BAD_VALUE", "sessionLength"),
    ({"clientId": "u", "locale": "english!"}, "BAD_VALUE", "locale"),
    ({"clientId": "u", "country": "XX"}, "BAD_VALUE", "country"),
    ({"clientId": "u", "country": "lt"}, "BAD_VALUE", "country"),
    ({"clientId": "u", "country": ["LT", "USA"]}, "BAD_VALUE", "country"),
    ({"clientId": "u", "country": []}, "BAD_VALUE", "country"),
    ({"clientId": "u", "documents": "PASSPORT"}, "BAD_VALUE", "documents"),
    ({"clientId": "u", "documents": ["passport"]}, "BAD_VALUE", "documents"),
    ({"clientId": "u", "firstName": "J0hn"}, "BAD_VALUE", "firstName"),
    ({"clientId": "u", "lastName": "Doe;"}, "BAD_VALUE", "lastName"),
    ({"clientId": "u", "lastName": ""}, "BAD_VALUE", "lastName"),
    ({"clientId": "u", "firstName": "J" * 101}, "BAD_VALUE", "firstName"),
    ({"clientId": "u", "dateOfBirth": "15/05/1990"}, "BAD_VALUE", "dateOfBirth"),
    ({"clientId": "u", "dateOfExpiry": "2030-02-30"}, "BAD_VALUE", "dateOfExpiry"),
    ({"clientId": "u", "dateOfIssue": 20200101}, "BAD_VALUE", "dateOfIssue"),
    ({"clientId": "u", "nationality": "Lithuanian"}, "BAD_VALUE", "nationality"),
    ({"clientId": "u", "personalNumber": "1" * 51}, "BAD_VALUE", "personalNumber"),
    ({"clientId": "u", "documentNumber": ""}, "BAD_VALUE", "documentNumber"),
    ({"clientId": "u", "sex": "MALE"}, "BAD_VALUE", "sex"),
    ({"clientId": "u", "address": "a" * 256}, "BAD_VALUE", "address"),
    ({"clientId": "u", "successUrl": "ftp://example.com/x"}, "BAD_VALUE", "successUrl"),
    ({"clientId": "u", "errorUrl": "/relative"}, "BAD_VALUE", "errorUrl"),
    (
        {"clientId": "u", "unverifiedUrl": "https://e.com/" + "a" * 2048},
        "BAD_VALUE",
        "unverifiedUrl",
    ),
    ({"clientId": "u", "callbackUrl": "example.com/hook"}, "BAD_VALUE", "callbackUrl"),
    ({"clientId": "u", "showInstructions": "true"}, "BAD_VALUE", "showInstructions"),
    ({"clientId": "u", "checkAml": 1}, "BAD_VALUE", "checkAml"),
    ({"clientId": "u", "verifyEmail": None}, "BAD_VALUE", "verifyEmail"),
    ({"clientId": "u", "riskAssessmentProfile": "profile-1"}, "BAD_VALUE", "riskAssessmentProfile"),
    ({"clientId": "u", "theme": "dark"}, "BAD_VALUE", "theme"),
    ({"clientId": "u", "registryCentersCountries": "LT"}, "BAD_VALUE", "registryCentersCountries"),
    ({"clientId": "u", "utilityBill": "no"}, "BAD_VALUE", "utilityBill"),
    ({"clientId": "u", "additionalSteps": []}, "BAD_VALUE", "additionalSteps"),
    ({"clientId": "u", "additionalData": "x"}, "BAD_VALUE", "additionalData"),
    ({"clientId": "u", "ageLimit": 18.5}, "BAD_VALUE", "ageLimit"),
    (
        {"clientId": "u", "faceMatchingThresholdModifier": "high"},
        "BAD_VALUE",
        "faceMatchingThresholdModifier",
    ),
    ({"clientId": "u", "videoCallQuestions": [1]}, "BAD_VALUE", "videoCallQuestions"),
    ({"clientId": "u", "dummyStatus": "REVIEWING"}, "BAD_VALUE", "dummyStatus"),
]


@pytest.mark.parametrize(
    ("payload", "identifier", "field"),
    BAD_BODIES,
    ids=[f"{f}-{i}" for i, (_, _, f) in enumerate(BAD_BODIES)],
)
def test_the_fake_refuses_what_the_reference_forbids(
    payload: dict[str, Any], identifier: str, field: str
) -> None:
    """400, iDenfy's documented shape, naming the field; nothing is created."""
    fake = FakeIdenfy()
    status, answered = answer(fake, raw(payload))
    assert status == 400
    assert set(answered) == {"identifier", "message"}
    assert answered["identifier"] == identifier
    expected = (
        f"Missing value: '{field}'." if identifier == "MISSING_VALUE" else f"Field '{field}' "
    )
    assert answered["message"].startswith(expected)
    assert fake.sessions == []


def test_a_refusal_never_repeats_the_value() -> None:
    """Values are personal data: the 400 names the field and the rule only."""
    _, answered = answer(FakeIdenfy(), raw({"clientId": "u", "firstName": "Secr3t"}))
    assert "Secr3t" not in json.dumps(answered)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"personScanRef": "legacy-1"}, id="personScanRef-alias"),
        pytest.param({"clientId": "u", "brandNewToggle": {"any": ["thing"]}}, id="unknown-field"),
        pytest.param(
            {"clientId": "u", "nationality": "lt"}, id="nationality-upper-cased-by-idenfy"
        ),
        pytest.param({"clientId": "u", "riskAssessmentProfile": 12}, id="risk-profile-id"),
        pytest.param(
            {"clientId": "u", "additionalSteps": None, "additionalData": None}, id="2022-nulls"
        ),
    ],
)
def test_the_fake_accepts_what_the_reference_allows(payload: dict[str, Any]) -> None:
    fake = FakeIdenfy()
    status, answered = answer(fake, raw(payload))
    assert status == 201, answered
    assert fake.sessions[0].client_id == payload.get("clientId", payload.get("personScanRef"))
