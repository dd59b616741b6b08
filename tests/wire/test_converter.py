"""The cattrs converter: wire names, omission of unset fields, NULL, extra, Session structuring."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from idenfy_async import (
    NULL,
    DocumentType,
    DummyStatus,
    Session,
    SessionRequest,
    Sex,
    TokenType,
)
from idenfy_async._wire.converter import session_request_to_wire, structure_session
from idenfy_async.models import wire_name
from tests.conftest import sample

#: Every SessionRequest attribute and its documented camelCase wire name.
REQUEST_WIRE_NAMES: dict[str, str] = {
    "client_id": "clientId",
    "first_name": "firstName",
    "last_name": "lastName",
    "date_of_birth": "dateOfBirth",
    "sex": "sex",
    "nationality": "nationality",
    "address": "address",
    "external_ref": "externalRef",
    "country": "country",
    "documents": "documents",
    "document_number": "documentNumber",
    "personal_number": "personalNumber",
    "date_of_expiry": "dateOfExpiry",
    "date_of_issue": "dateOfIssue",
    "success_url": "successUrl",
    "error_url": "errorUrl",
    "unverified_url": "unverifiedUrl",
    "callback_url": "callbackUrl",
    "locale": "locale",
    "expiry_time": "expiryTime",
    "session_length": "sessionLength",
    "token_type": "tokenType",
    "show_instructions": "showInstructions",
    "generate_digit_string": "generateDigitString",
    "verify_email": "verifyEmail",
    "verify_phone": "verifyPhone",
    "verify_address": "verifyAddress",
    "verify_bank": "verifyBank",
    "verify_bank_accounts": "verifyBankAccounts",
    "verify_bank_balances": "verifyBankBalances",
    "verify_bank_transactions": "verifyBankTransactions",
    "bank_card_verification": "bankCardVerification",
    "bank_card_pdf_upload": "bankCardPdfUpload",
    "nfc_required": "nfcRequired",
    "nfc_optional": "nfcOptional",
    "age_limit": "ageLimit",
    "age_max": "ageMax",
    "driver_license_back": "driverLicenseBack",
    "check_liveness": "checkLiveness",
    "id_live_face_validation": "idLiveFaceValidation",
    "id_live_document_validation": "idLiveDocumentValidation",
    "check_aml": "checkAml",
    "auto_aml_monitoring": "autoAmlMonitoring",
    "check_criminal": "checkCriminal",
    "check_ip_proxy": "checkIpProxy",
    "check_face_blacklist": "checkFaceBlacklist",
    "check_doc_face_blacklist": "checkDocFaceBlacklist",
    "check_person_blacklist": "checkPersonBlacklist",
    "check_duplicate_faces": "checkDuplicateFaces",
    "check_duplicate_doc_faces": "checkDuplicateDocFaces",
    "check_duplicate_personal_data": "checkDuplicatePersonalData",
    "check_blur_and_glare": "checkBlurAndGlare",
    "check_driver_license": "checkDriverLicense",
    "check_lid": "checkLid",
    "auto_face_matching": "autoFaceMatching",
    "allow_bsn_masking": "allowBsnMasking",
    "face_matching_threshold_modifier": "faceMatchingThresholdModifier",
    "additional_steps": "additionalSteps",
    "additional_data": "additionalData",
    "utility_bill": "utilityBill",
    "questionnaire": "questionnaire",
    "questionnaire_required": "questionnaireRequired",
    "risk_assessment_profile": "riskAssessmentProfile",
    "review_failed": "reviewFailed",
    "review_successful": "reviewSuccessful",
    "theme": "theme",
    "registry_centers_countries": "registryCentersCountries",
    "video_call_questions": "videoCallQuestions",
    "dummy_status": "dummyStatus",
}
NOT_SENT = {"extra", "allow_unlisted_documents", "allow_legacy_token_types"}

#: A valid value for every non-boolean SessionRequest attribute.
FULL_VALUES: dict[str, Any] = {
    "client_id": "user-123",
    "first_name": "John",
    "last_name": "Doe",
    "date_of_birth": "1990-05-15",
    "sex": "M",
    "nationality": "LT",
    "address": "Gedimino pr. 1, Vilnius",
    "external_ref": "ref-1",
    "country": ["US", "GB"],
    "documents": ["PASSPORT", "ID_CARD"],
    "document_number": "AB123456",
    "personal_number": "39001010000",
    "date_of_expiry": "2030-01-01",
    "date_of_issue": "2020-01-01",
    "success_url": "https://yourapp.com/verified",
    "error_url": "https://yourapp.com/failed",
    "unverified_url": "https://yourapp.com/cancelled",
    "callback_url": "https://yourapp.com/webhook",
    "locale": "en",
    "expiry_time": 3600,
    "session_length": 600,
    "token_type": "IDENTIFICATION",
    "age_limit": 18,
    "age_max": 65,
    "face_matching_threshold_modifier": 0.5,
    "additional_steps": {"ALL": {"ALL": {"UTILITY_BILL": {"type": "UPLOAD"}}}},
    "additional_data": {"UTILITY_BILL": {"address": "Gedimino pr. 1"}},
    "questionnaire": "onboarding",
    "risk_assessment_profile": 7,
    "theme": "ec6a7108-8c26-11e9-9758-309c231b1bac",
    "registry_centers_countries": ["LT"],
    "video_call_questions": ["Question 1"],
    "dummy_status": "APPROVED",
}


def _bool_attributes() -> list[str]:
    return [name for name in REQUEST_WIRE_NAMES if name not in FULL_VALUES]


def test_wire_name_table_covers_every_request_attribute() -> None:
    """The table names every SessionRequest attribute except the two that are never sent."""
    names = {a.name for a in attrs.fields(SessionRequest)}
    assert names - NOT_SENT == set(REQUEST_WIRE_NAMES)


TRICKY = [
    ("id_live_face_validation", "idLiveFaceValidation"),
    ("id_live_document_validation", "idLiveDocumentValidation"),
    ("check_duplicate_personal_data", "checkDuplicatePersonalData"),
    ("face_matching_threshold_modifier", "faceMatchingThresholdModifier"),
    ("registry_centers_countries", "registryCentersCountries"),
    ("check_ip_proxy", "checkIpProxy"),
    ("bank_card_pdf_upload", "bankCardPdfUpload"),
    ("check_lid", "checkLid"),
    ("nfc_required", "nfcRequired"),
    ("allow_bsn_masking", "allowBsnMasking"),
    ("client_id", "clientId"),
    ("sex", "sex"),
]


@pytest.mark.parametrize(("attribute", "expected"), TRICKY, ids=[t[0] for t in TRICKY])
def test_wire_name_of_tricky_attributes(attribute: str, expected: str) -> None:
    """wire_name turns each snake_case attribute into iDenfy's exact camelCase key."""
    assert wire_name(attribute) == expected


@pytest.mark.parametrize(
    ("attribute", "expected"), sorted(REQUEST_WIRE_NAMES.items()), ids=sorted(REQUEST_WIRE_NAMES)
)
def test_each_attribute_is_sent_under_its_wire_name(attribute: str, expected: str) -> None:
    """Setting one attribute sends exactly clientId plus that attribute's camelCase key."""
    value = FULL_VALUES.get(attribute, True)
    body = session_request_to_wire(SessionRequest(**{"client_id": "user-123", attribute: value}))
    assert set(body) == {"clientId", expected}


def test_full_request_sends_every_wire_name_and_nothing_else() -> None:
    """A request with every attribute set has exactly the documented wire keys."""
    kwargs = {**FULL_VALUES, **dict.fromkeys(_bool_attributes(), True)}
    body = session_request_to_wire(SessionRequest(**kwargs))
    assert set(body) == set(REQUEST_WIRE_NAMES.values())
    assert "extra" not in body
    assert "allowUnlistedDocuments" not in body


def test_unset_fields_are_omitted() -> None:
    """Fields left as None are not sent at all (so dashboard defaults apply)."""
    assert session_request_to_wire(SessionRequest("user-123")) == {"clientId": "user-123"}


FALSY = [
    pytest.param({"check_aml": False}, {"checkAml": False}, id="bool-false"),
    pytest.param({"show_instructions": False}, {"showInstructions": False}, id="showInstructions"),
    pytest.param({"age_limit": 0}, {"ageLimit": 0}, id="int-zero"),
    pytest.param(
        {"face_matching_threshold_modifier": 0.0},
        {"faceMatchingThresholdModifier": 0.0},
        id="float-zero",
    ),
    pytest.param(
        {"face_matching_threshold_modifier": -1},
        {"faceMatchingThresholdModifier": -1},
        id="negative",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), FALSY)
def test_false_and_zero_are_sent(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    """False and 0 are real values, not "unset": they are kept in the body."""
    body = session_request_to_wire(SessionRequest("user-123", **kwargs))
    assert body == {"clientId": "user-123", **expected}


def test_null_sentinel_sends_explicit_null() -> None:
    """questionnaire=NULL sends "questionnaire": null; None leaves it out."""
    body = session_request_to_wire(SessionRequest("user-123", questionnaire=NULL))
    assert body == {"clientId": "user-123", "questionnaire": None}
    assert json.dumps(body) == '{"clientId": "user-123", "questionnaire": null}'
    assert "questionnaire" not in session_request_to_wire(
        SessionRequest("user-123", questionnaire=None)
    )


def test_questionnaire_string_is_sent() -> None:
    """A questionnaire key is sent as a string."""
    body = session_request_to_wire(SessionRequest("user-123", questionnaire="kyc-basic"))
    assert body["questionnaire"] == "kyc-basic"


def test_extra_passes_through() -> None:
    """Keys in extra are merged into the body as given; extra itself is not a key."""
    nested = {"enabled": True, "items": [1, 2]}
    body = session_request_to_wire(
        SessionRequest("user-123", extra={"personScanRef": "legacy", "futureFlag": nested})
    )
    assert body == {"clientId": "user-123", "personScanRef": "legacy", "futureFlag": nested}


def test_enums_become_plain_strings() -> None:
    """Enum members are sent as their plain string values, not enum objects."""
    body = session_request_to_wire(
        SessionRequest(
            "user-123",
            sex=Sex.F,
            token_type=TokenType.DOCUMENT,
            documents=[DocumentType.PASSPORT, DocumentType.ID_CARD],
            dummy_status=DummyStatus.DENIED,
        )
    )
    assert body == {
        "clientId": "user-123",
        "sex": "F",
        "tokenType": "DOCUMENT",
        "documents": ["PASSPORT", "ID_CARD"],
        "dummyStatus": "DENIED",
    }
    for value in (body["sex"], body["tokenType"], body["dummyStatus"], *body["documents"]):
        assert type(value) is str


TUPLES = [
    pytest.param("country", ("US", "GB"), "country", id="country"),
    pytest.param("documents", ("PASSPORT",), "documents", id="documents"),
    pytest.param(
        "registry_centers_countries", ("LT", "LV"), "registryCentersCountries", id="registry"
    ),
    pytest.param(
        "video_call_questions", ("Q1", "Q2"), "videoCallQuestions", id="videoCallQuestions"
    ),
]


@pytest.mark.parametrize(("attribute", "value", "key"), TUPLES)
def test_tuples_become_lists(attribute: str, value: tuple[str, ...], key: str) -> None:
    """Sequence fields (stored as tuples) are sent as JSON lists."""
    kwargs: dict[str, Any] = {attribute: value}
    body = session_request_to_wire(SessionRequest("user-123", **kwargs))
    assert body[key] == list(value)
    assert type(body[key]) is list


def test_single_country_string_stays_a_string() -> None:
    """country given as one code is sent as a string, not a one-element list."""
    body = session_request_to_wire(SessionRequest("user-123", country="us"))
    assert body["country"] == "US"


def test_mappings_pass_through_unchanged() -> None:
    """additionalSteps and additionalData are sent as the given objects."""
    steps = {"ALL": {"ALL": {"UTILITY_BILL": {"type": "UPLOAD"}}}}
    data = {"UTILITY_BILL": {"address": "Gedimino pr. 1"}}
    body = session_request_to_wire(
        SessionRequest("user-123", additional_steps=steps, additional_data=data)
    )
    assert body["additionalSteps"] == steps
    assert body["additionalData"] == data


def test_full_body_is_json_serialisable() -> None:
    """Every unstructured value is a plain JSON type."""
    kwargs = {**FULL_VALUES, **dict.fromkeys(_bool_attributes(), False)}
    body = session_request_to_wire(SessionRequest(**kwargs))
    assert json.loads(json.dumps(body, allow_nan=False)) == body


# --------------------------------------------------------------------------- Session


def test_structure_real_token_response() -> None:
    """The documented token response structures into Session with every named field."""
    body = sample("token_response_full.json")
    session = structure_session(body)
    assert session.auth_token == "pgYQX0z2T8mtcpNj9I20uWVCLKNuG0vgr12f0wAC"
    assert session.scan_ref == "ec6a7108-8c26-11e9-9758-309c231b1bac"
    assert session.client_id == "100000"
    assert session.digit_string == "4823657"
    assert session.expiry_time == 600
    assert session.session_length == 600
    assert session.documents == ["PASSPORT", "OTHER"]
    assert session.message == "Token created successfully"
    assert session.first_name == "JOHN TOM"
    assert session.last_name == "SMITH"
    assert session.date_of_birth == "1990-12-20"
    # Echoed lower-case (every documented answer 2019-2022), read upper-case like
    # the request; raw keeps what was sent.
    assert session.country == "LT"
    assert session.nationality == "LT"
    assert session.raw["country"] == "lt"
    assert session.document_number == "123456"
    assert session.personal_number == "123456789"
    assert session.sex == "M"
    assert session.token_type == "IDENTIFICATION"
    assert session.show_instructions is True
    assert session.external_ref == "reference"
    assert session.success_url == "https://www.my-company.com/idenfy/success"
    assert session.error_url == "https://www.my-company.com/idenfy/fail"
    assert session.redirect_url is None  # the sample has none; parse_create_session fills it


def test_structure_keeps_whole_body_in_raw() -> None:
    """Session.raw is the whole response, unknown fields (videoCallQuestions) included."""
    body = sample("token_response_full.json")
    session = structure_session(body)
    assert session.raw == body
    assert session.raw["videoCallQuestions"] == ["Question 1", "Question 2"]
    assert not any(key.startswith("\x00") for key in session.raw)


def test_structure_ignores_unknown_fields() -> None:
    """Fields the model does not name do not break structuring and stay in raw."""
    body = {"authToken": "t", "scanRef": "s", "clientId": "c", "brandNewToggle": {"x": 1}}
    session = structure_session(body)
    assert session.raw["brandNewToggle"] == {"x": 1}


#: Session attributes and their wire names, with a sample value for each.
SESSION_FIELDS: list[tuple[str, str, Any]] = [
    ("auth_token", "authToken", "tok"),
    ("scan_ref", "scanRef", "scan"),
    ("client_id", "clientId", "client"),
    ("redirect_url", "redirectUrl", "https://ivs.idenfy.com/api/v2/redirect?authToken=tok"),
    ("digit_string", "digitString", "12345678"),
    ("expiry_time", "expiryTime", 3600),
    ("session_length", "sessionLength", 600),
    ("message", "message", "Token created successfully"),
    ("token_type", "tokenType", "DOCUMENT"),
    ("locale", "locale", "en"),
    ("country", "country", ["US", "GB"]),
    ("documents", "documents", ["PASSPORT"]),
    ("first_name", "firstName", "JOHN"),
    ("last_name", "lastName", "DOE"),
    ("date_of_birth", "dateOfBirth", "1990-05-15"),
    ("nationality", "nationality", "LT"),
    ("sex", "sex", "F"),
    ("address", "address", "Street 1"),
    ("document_number", "documentNumber", "AB1"),
    ("personal_number", "personalNumber", "PN1"),
    ("date_of_expiry", "dateOfExpiry", "2030-01-01"),
    ("date_of_issue", "dateOfIssue", "2020-01-01"),
    ("external_ref", "externalRef", "ref"),
    ("success_url", "successUrl", "https://a.io/ok"),
    ("error_url", "errorUrl", "https://a.io/err"),
    ("unverified_url", "unverifiedUrl", "https://a.io/unv"),
    ("callback_url", "callbackUrl", "https://a.io/cb"),
    ("show_instructions", "showInstructions", False),
    ("allowed_documents", "allowedDocuments", {"ALL": ["ID_CARD", "PASSPORT"]}),
    ("utility_bill", "utilityBill", True),
    ("questionnaire", "questionnaire", "q-1"),
    ("additional_steps", "additionalSteps", {"ALL": {"ALL": {"UTILITY_BILL": {}}}}),
    ("additional_data", "additionalData", {"UTILITY_BILL": {"address": "x"}}),
]


def test_session_field_table_covers_every_attribute() -> None:
    """The Session table names every attribute except raw."""
    assert {a.name for a in attrs.fields(Session)} - {"raw"} == {f[0] for f in SESSION_FIELDS}


def test_structure_reads_every_session_field_from_its_wire_name() -> None:
    """Each Session attribute is read from its camelCase key."""
    body = {wire: value for _, wire, value in SESSION_FIELDS}
    session = structure_session(body)
    for attribute, _, value in SESSION_FIELDS:
        assert getattr(session, attribute) == value, attribute
