"""SessionRequest validation rules, redacted reprs, Session helpers, COUNTRY_CODES."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import types
import uuid
from typing import Any

import pytest

from idenfy_async import (
    NULL,
    DocumentType,
    DummyStatus,
    RequestValidationError,
    Session,
    SessionRequest,
    Sex,
    TokenType,
)
from idenfy_async._wire.converter import session_request_to_wire, structure_session
from idenfy_async.models import COUNTRY_CODES
from tests.conftest import sample

NAME_FORBIDDEN = '~!@#$%^*()_+={}[]|:;",<>/?'
URL_FIELDS = ("success_url", "error_url", "unverified_url", "callback_url")
DATE_FIELDS = ("date_of_birth", "date_of_expiry", "date_of_issue")
BOOL_FIELDS = (
    "show_instructions",
    "generate_digit_string",
    "verify_email",
    "verify_phone",
    "verify_address",
    "verify_bank",
    "verify_bank_accounts",
    "verify_bank_balances",
    "verify_bank_transactions",
    "bank_card_verification",
    "bank_card_pdf_upload",
    "nfc_required",
    "nfc_optional",
    "driver_license_back",
    "check_liveness",
    "id_live_face_validation",
    "id_live_document_validation",
    "check_aml",
    "auto_aml_monitoring",
    "check_criminal",
    "check_ip_proxy",
    "check_face_blacklist",
    "check_doc_face_blacklist",
    "check_person_blacklist",
    "check_duplicate_faces",
    "check_duplicate_doc_faces",
    "check_duplicate_personal_data",
    "check_blur_and_glare",
    "check_driver_license",
    "check_lid",
    "auto_face_matching",
    "allow_bsn_masking",
    "utility_bill",
    "questionnaire_required",
    "review_failed",
    "review_successful",
)


def camel(name: str) -> str:
    """snake_case -> camelCase, written independently of the library's wire_name."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def invalid(**kwargs: Any) -> RequestValidationError:
    """Build a SessionRequest that must fail and return the error."""
    kwargs.setdefault("client_id", "user-123")
    with pytest.raises(RequestValidationError) as excinfo:
        SessionRequest(**kwargs)
    return excinfo.value


def wire(**kwargs: Any) -> dict[str, Any]:
    """Build a valid SessionRequest and return its wire body."""
    kwargs.setdefault("client_id", "user-123")
    return session_request_to_wire(SessionRequest(**kwargs))


# --------------------------------------------------------------------------- valid values

VALID = [
    pytest.param({"client_id": "x"}, {"clientId": "x"}, id="clientId-1-char"),
    pytest.param({"client_id": "u" * 100}, {"clientId": "u" * 100}, id="clientId-100-chars"),
    pytest.param(
        {"client_id": "user-123_ABC.@+"}, {"clientId": "user-123_ABC.@+"}, id="clientId-ascii-punct"
    ),
    pytest.param({"first_name": "John"}, {"firstName": "John"}, id="firstName-plain"),
    pytest.param({"first_name": "J" * 100}, {"firstName": "J" * 100}, id="firstName-100-chars"),
    pytest.param(
        {"first_name": "Jean-Luc O'Neil Jr."},
        {"firstName": "Jean-Luc O'Neil Jr."},
        id="firstName-hyphen-apostrophe-space-dot",
    ),
    pytest.param(
        {"last_name": "Žemaitė"}, {"lastName": "Žemaitė"}, id="lastName-non-ascii-letters"
    ),
    pytest.param({"last_name": "D" * 100}, {"lastName": "D" * 100}, id="lastName-100-chars"),
    pytest.param(
        {"date_of_birth": "1990-05-15"}, {"dateOfBirth": "1990-05-15"}, id="dateOfBirth-str"
    ),
    pytest.param(
        {"date_of_birth": "2000-02-29"}, {"dateOfBirth": "2000-02-29"}, id="dateOfBirth-leap-day"
    ),
    pytest.param(
        {"date_of_birth": datetime.date(1990, 5, 1)},
        {"dateOfBirth": "1990-05-01"},
        id="dateOfBirth-date-object-sent-iso",
    ),
    pytest.param(
        {"date_of_expiry": datetime.date(2031, 12, 31)},
        {"dateOfExpiry": "2031-12-31"},
        id="dateOfExpiry-date-object",
    ),
    pytest.param(
        {"date_of_issue": "2021-01-01"}, {"dateOfIssue": "2021-01-01"}, id="dateOfIssue-str"
    ),
    pytest.param({"sex": "M"}, {"sex": "M"}, id="sex-M"),
    pytest.param({"sex": "F"}, {"sex": "F"}, id="sex-F"),
    pytest.param({"sex": Sex.F}, {"sex": "F"}, id="sex-enum"),
    pytest.param({"nationality": "LT"}, {"nationality": "LT"}, id="nationality-upper"),
    pytest.param({"nationality": "de"}, {"nationality": "DE"}, id="nationality-lower-normalised"),
    pytest.param({"nationality": "xk"}, {"nationality": "XK"}, id="nationality-kosovo"),
    pytest.param({"country": "US"}, {"country": "US"}, id="country-str"),
    pytest.param({"country": "gb"}, {"country": "GB"}, id="country-lower-normalised"),
    pytest.param({"country": "XK"}, {"country": "XK"}, id="country-kosovo"),
    pytest.param(
        {"country": ["us", "GB", "xk"]}, {"country": ["US", "GB", "XK"]}, id="country-list"
    ),
    pytest.param({"country": ("DE",)}, {"country": ["DE"]}, id="country-tuple"),
    pytest.param({"address": "A" * 255}, {"address": "A" * 255}, id="address-255-chars"),
    pytest.param({"external_ref": "r" * 40}, {"externalRef": "r" * 40}, id="externalRef-40-chars"),
    pytest.param(
        {"success_url": "https://yourapp.com/verified"},
        {"successUrl": "https://yourapp.com/verified"},
        id="successUrl-https",
    ),
    pytest.param(
        {"error_url": "https://e.io/" + "p" * 2035},
        {"errorUrl": "https://e.io/" + "p" * 2035},
        id="errorUrl-2048-chars",
    ),
    pytest.param(
        {"unverified_url": "https://yourapp.com/cancelled?x=1#top"},
        {"unverifiedUrl": "https://yourapp.com/cancelled?x=1#top"},
        id="unverifiedUrl-query-fragment",
    ),
    pytest.param(
        {"callback_url": "http://localhost:8000/hook"},
        {"callbackUrl": "http://localhost:8000/hook"},
        id="callbackUrl-http-localhost",
    ),
    pytest.param(
        {"callback_url": "http://127.0.0.1/hook"},
        {"callbackUrl": "http://127.0.0.1/hook"},
        id="callbackUrl-http-127.0.0.1",
    ),
    pytest.param(
        {"success_url": "http://[::1]:8080/ok"},
        {"successUrl": "http://[::1]:8080/ok"},
        id="successUrl-http-ipv6-loopback",
    ),
    pytest.param({"expiry_time": 1}, {"expiryTime": 1}, id="expiryTime-min"),
    pytest.param({"expiry_time": 2_592_000}, {"expiryTime": 2_592_000}, id="expiryTime-max"),
    pytest.param({"session_length": 60}, {"sessionLength": 60}, id="sessionLength-min"),
    pytest.param({"session_length": 3600}, {"sessionLength": 3600}, id="sessionLength-max"),
    pytest.param({"token_type": "DOCUMENT"}, {"tokenType": "DOCUMENT"}, id="tokenType-str"),
    pytest.param(
        {"token_type": TokenType.IDENTIFICATION},
        {"tokenType": "IDENTIFICATION"},
        id="tokenType-enum",
    ),
    pytest.param(
        {"documents": ["PASSPORT", "ID_CARD"]},
        {"documents": ["PASSPORT", "ID_CARD"]},
        id="documents-str",
    ),
    pytest.param(
        {"documents": [DocumentType.DRIVER_LICENSE, "RESIDENCE_PERMIT"]},
        {"documents": ["DRIVER_LICENSE", "RESIDENCE_PERMIT"]},
        id="documents-enum-and-str",
    ),
    pytest.param(
        {"documents": ["INTERNATIONAL_PASSPORT"], "allow_unlisted_documents": True},
        {"documents": ["INTERNATIONAL_PASSPORT"]},
        id="documents-unlisted-allowed",
    ),
    pytest.param(
        {"age_limit": 18, "age_max": 18},
        {"ageLimit": 18, "ageMax": 18},
        id="ageLimit-equals-ageMax",
    ),
    pytest.param({"age_limit": 0}, {"ageLimit": 0}, id="ageLimit-zero"),
    pytest.param({"age_max": 99}, {"ageMax": 99}, id="ageMax-alone"),
    pytest.param(
        {"face_matching_threshold_modifier": 0.25},
        {"faceMatchingThresholdModifier": 0.25},
        id="faceMatchingThresholdModifier-float",
    ),
    pytest.param(
        {"extra": {"personScanRef": "legacy"}},
        {"personScanRef": "legacy"},
        id="extra-unknown-name",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), VALID)
def test_valid_values_are_accepted_and_sent(
    kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    """A valid value builds a request and reaches the wire in its documented form."""
    body = wire(**kwargs)
    assert {key: body.get(key) for key in expected} == expected


@pytest.mark.parametrize("field", BOOL_FIELDS)
@pytest.mark.parametrize("value", [True, False])
def test_boolean_fields_accept_bools(field: str, value: bool) -> None:
    """Every boolean feature flag accepts True and False and sends them as-is."""
    assert wire(**{field: value})[camel(field)] is value


# --------------------------------------------------------------------------- invalid values

INVALID = [
    # clientId
    pytest.param({"client_id": ""}, "clientId", "is required", id="clientId-empty"),
    pytest.param({"client_id": None}, "clientId", "is required", id="clientId-None"),
    pytest.param({"client_id": "u" * 101}, "clientId", "at most 100", id="clientId-101-chars"),
    pytest.param({"client_id": "jönas-1"}, "clientId", "ASCII", id="clientId-non-ascii"),
    pytest.param({"client_id": 123}, "clientId", "string", id="clientId-int"),
    # names
    pytest.param({"first_name": "J" * 101}, "firstName", "at most 100", id="firstName-101"),
    pytest.param({"last_name": "D" * 101}, "lastName", "at most 100", id="lastName-101"),
    pytest.param({"first_name": "John7"}, "firstName", "digits", id="firstName-digit"),
    pytest.param({"last_name": "Doe٣"}, "lastName", "digits", id="lastName-unicode-digit"),
    pytest.param({"first_name": ""}, "firstName", "empty", id="firstName-empty"),
    pytest.param({"last_name": 42}, "lastName", "string", id="lastName-int"),
    # dates
    pytest.param(
        {"date_of_birth": "1990-02-30"}, "dateOfBirth", "real calendar date", id="dob-feb-30"
    ),
    pytest.param(
        {"date_of_birth": "2001-02-29"}, "dateOfBirth", "real calendar date", id="dob-non-leap"
    ),
    pytest.param(
        {"date_of_birth": "1990-13-01"}, "dateOfBirth", "real calendar date", id="dob-month-13"
    ),
    pytest.param({"date_of_birth": "1990-5-1"}, "dateOfBirth", "YYYY-MM-DD", id="dob-no-padding"),
    pytest.param({"date_of_birth": "1990/05/01"}, "dateOfBirth", "YYYY-MM-DD", id="dob-slashes"),
    pytest.param({"date_of_birth": "19900501"}, "dateOfBirth", "YYYY-MM-DD", id="dob-basic-format"),
    pytest.param({"date_of_birth": "15-05-1990"}, "dateOfBirth", "YYYY-MM-DD", id="dob-dd-mm-yyyy"),
    pytest.param({"date_of_birth": ""}, "dateOfBirth", "YYYY-MM-DD", id="dob-empty"),
    pytest.param(
        {"date_of_birth": datetime.datetime(1990, 5, 1, 12, 0)},
        "dateOfBirth",
        "YYYY-MM-DD",
        id="dob-datetime",
    ),
    pytest.param(
        {"date_of_expiry": "2030-04-31"}, "dateOfExpiry", "real calendar date", id="doe-apr-31"
    ),
    pytest.param({"date_of_issue": "2020-1-01"}, "dateOfIssue", "YYYY-MM-DD", id="doi-no-padding"),
    # sex
    pytest.param({"sex": "X"}, "sex", "one of F, M", id="sex-X"),
    pytest.param({"sex": "m"}, "sex", "one of F, M", id="sex-lowercase"),
    pytest.param({"sex": "MALE"}, "sex", "one of F, M", id="sex-MALE"),
    # nationality
    pytest.param({"nationality": "UK"}, "nationality", "ISO 3166-1", id="nationality-UK"),
    pytest.param({"nationality": "LTU"}, "nationality", "ISO 3166-1", id="nationality-alpha-3"),
    pytest.param({"nationality": "ZZ"}, "nationality", "ISO 3166-1", id="nationality-ZZ"),
    pytest.param({"nationality": ""}, "nationality", "ISO 3166-1", id="nationality-empty"),
    pytest.param({"nationality": ["LT"]}, "nationality", "ISO 3166-1", id="nationality-list"),
    # country
    pytest.param({"country": "EU"}, "country", "ISO 3166-1", id="country-EU"),
    pytest.param({"country": "usa"}, "country", "ISO 3166-1", id="country-alpha-3"),
    pytest.param({"country": []}, "country", "at least one", id="country-empty-list"),
    pytest.param({"country": ["US", "ZZ"]}, "country", "ISO 3166-1", id="country-list-with-bad"),
    pytest.param({"country": ["US", 1]}, "country", "ISO 3166-1", id="country-list-with-int"),
    # address, externalRef, document numbers
    pytest.param({"address": "A" * 256}, "address", "at most 255", id="address-256"),
    pytest.param({"external_ref": "r" * 41}, "externalRef", "at most 40", id="externalRef-41"),
    pytest.param({"external_ref": "réf"}, "externalRef", "ASCII", id="externalRef-non-ascii"),
    pytest.param(
        {"document_number": "N" * 51}, "documentNumber", "at most 50", id="documentNumber-51"
    ),
    pytest.param(
        {"personal_number": "N" * 51}, "personalNumber", "at most 50", id="personalNumber-51"
    ),
    # integers
    pytest.param({"expiry_time": -5}, "expiryTime", "between 0 and 2,592,000", id="expiryTime-neg"),
    pytest.param(
        {"expiry_time": 2_592_001}, "expiryTime", "between 0 and 2,592,000", id="expiryTime-too-big"
    ),
    pytest.param({"expiry_time": True}, "expiryTime", "integer", id="expiryTime-bool"),
    pytest.param({"expiry_time": 600.0}, "expiryTime", "integer", id="expiryTime-float"),
    pytest.param({"expiry_time": "600"}, "expiryTime", "integer", id="expiryTime-str"),
    pytest.param(
        {"session_length": 59}, "sessionLength", "between 60 and 3,600", id="sessionLength-59"
    ),
    pytest.param(
        {"session_length": 3601}, "sessionLength", "between 60 and 3,600", id="sessionLength-3601"
    ),
    pytest.param({"session_length": False}, "sessionLength", "integer", id="sessionLength-bool"),
    pytest.param({"age_limit": True}, "ageLimit", "integer", id="ageLimit-bool"),
    pytest.param({"age_limit": -1}, "ageLimit", "at least 0", id="ageLimit-negative"),
    pytest.param({"age_max": False}, "ageMax", "integer", id="ageMax-bool"),
    pytest.param(
        {"age_limit": 30, "age_max": 18},
        "ageLimit",
        "greater than ageMax",
        id="ageLimit-over-ageMax",
    ),
    pytest.param(
        {"face_matching_threshold_modifier": True},
        "faceMatchingThresholdModifier",
        "number",
        id="faceMatchingThresholdModifier-bool",
    ),
    pytest.param(
        {"face_matching_threshold_modifier": float("nan")},
        "faceMatchingThresholdModifier",
        "number",
        id="faceMatchingThresholdModifier-nan",
    ),
    pytest.param(
        {"face_matching_threshold_modifier": float("inf")},
        "faceMatchingThresholdModifier",
        "number",
        id="faceMatchingThresholdModifier-inf",
    ),
    # enums
    pytest.param({"token_type": "VIDEO"}, "tokenType", "one of", id="tokenType-unknown"),
    pytest.param({"token_type": "document"}, "tokenType", "one of", id="tokenType-lowercase"),
    pytest.param(
        {"documents": ["PASSPORT", "INTERNATIONAL_PASSPORT"]},
        "documents",
        "known document types",
        id="documents-unlisted",
    ),
    pytest.param(
        {"documents": ["passport"]}, "documents", "known document types", id="documents-lowercase"
    ),
    pytest.param({"documents": []}, "documents", "at least one", id="documents-empty"),
    pytest.param(
        {"documents": [], "allow_unlisted_documents": True},
        "documents",
        "at least one",
        id="documents-empty-even-if-unlisted-allowed",
    ),
    pytest.param({"documents": "PASSPORT"}, "documents", "list", id="documents-bare-str"),
    pytest.param({"documents": ["PASSPORT", ""]}, "documents", "list", id="documents-empty-name"),
    pytest.param({"dummy_status": "approved"}, "dummyStatus", "one of", id="dummyStatus-lowercase"),
    # mappings and extra
    pytest.param(
        {"additional_steps": ["x"]}, "additionalSteps", "mapping", id="additionalSteps-list"
    ),
    pytest.param({"additional_data": "x"}, "additionalData", "mapping", id="additionalData-str"),
    pytest.param({"extra": ["clientId"]}, "extra", "mapping", id="extra-list"),
    pytest.param(
        {"extra": {"clientId": "other"}}, "extra", "clientId", id="extra-repeats-clientId"
    ),
    pytest.param(
        {"extra": {"newFlag": True, "callbackUrl": "https://x.io/cb"}},
        "extra",
        "callbackUrl",
        id="extra-repeats-callbackUrl",
    ),
    pytest.param(
        {"extra": {"idLiveFaceValidation": True}}, "extra", "repeat", id="extra-repeats-flag"
    ),
    # other strings
    pytest.param({"locale": "english-uk"}, "locale", "at most 7", id="locale-too-long"),
    pytest.param({"first_name": "\U0001f600"}, "firstName", "only letters", id="name-emoji"),
    pytest.param({"last_name": "Doe\u2122"}, "lastName", "only letters", id="name-symbol"),
    pytest.param({"first_name": "Jo\u200bhn"}, "firstName", "only letters", id="name-zero-width"),
    pytest.param({"expiry_time": NULL}, "expiryTime", "must not be null", id="null-not-nullable"),
    pytest.param(
        {"show_instructions": NULL}, "showInstructions", "must not be null", id="null-bool"
    ),
    pytest.param({"theme": "dark"}, "theme", "UUID", id="theme-not-uuid"),
    pytest.param({"video_call_questions": "Q1"}, "videoCallQuestions", "list", id="vcq-bare-str"),
    pytest.param(
        {"registry_centers_countries": ["LT", "QQ"]},
        "registryCentersCountries",
        "ISO 3166-1",
        id="registryCentersCountries-bad",
    ),
    # wrong-typed collections are reported, not crashed on
    pytest.param({"country": 5}, "country", "ISO 3166-1", id="country-int"),
    pytest.param({"documents": 5}, "documents", "list", id="documents-int"),
    pytest.param(
        {"registry_centers_countries": 5},
        "registryCentersCountries",
        "ISO 3166-1",
        id="registryCentersCountries-int",
    ),
    pytest.param({"video_call_questions": 5}, "videoCallQuestions", "list", id="vcq-int"),
]


@pytest.mark.parametrize(("kwargs", "field", "rule"), INVALID)
def test_invalid_value_names_wire_field_and_rule(
    kwargs: dict[str, Any], field: str, rule: str
) -> None:
    """An invalid value raises one RequestValidationError naming the wire field and the rule."""
    err = invalid(**kwargs)
    assert isinstance(err, ValueError)
    assert err.fields == (field,)
    assert rule in err.problems[0].rule
    assert f"{field}: " in str(err)
    assert err.model == "SessionRequest"


@pytest.mark.parametrize("char", list(NAME_FORBIDDEN))
@pytest.mark.parametrize("attribute", ["first_name", "last_name"])
def test_names_reject_each_forbidden_character(attribute: str, char: str) -> None:
    """firstName/lastName refuse every one of ~!@#$%^*()_+={}[]|:;",<>/?."""
    err = invalid(**{attribute: f"Jo{char}hn"})
    assert err.fields == (camel(attribute),)
    assert "must not contain any of" in err.problems[0].rule


URL_BAD = [
    pytest.param("http://example.com/cb", "https", id="http-public-host"),
    pytest.param("ftp://example.com/cb", "https", id="ftp"),
    pytest.param("javascript:alert(1)", "https", id="javascript"),
    pytest.param("https://", "https", id="https-no-host"),
    pytest.param("example.com/cb", "https", id="no-scheme"),
    pytest.param("https://[::1/cb", "https", id="malformed-ipv6-host"),
    pytest.param("https://exa mple.com/", "RFC 3986", id="space-in-host"),
    pytest.param("https://0.aa/{", "RFC 3986", id="brace"),
    pytest.param('https://e.io/a"b', "RFC 3986", id="quote"),
    pytest.param("https://e.io/%zz", "RFC 3986", id="bad-percent"),
    pytest.param("https://e.io/ü", "RFC 3986", id="non-ascii"),
    pytest.param(42, "string", id="int"),
]


@pytest.mark.parametrize(("value", "rule"), URL_BAD)
@pytest.mark.parametrize("attribute", URL_FIELDS)
def test_urls_must_be_https_rfc_3986_uris(attribute: str, value: object, rule: str) -> None:
    """Redirect and callback URLs must be https (http only on loopback) RFC 3986 URIs."""
    err = invalid(**{attribute: value})
    assert err.fields == (camel(attribute),)
    assert rule in err.problems[0].rule


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a.io", id="4-chars"),
        pytest.param("https://e.io/" + "p" * 2036, id="2049-chars"),
    ],
)
@pytest.mark.parametrize("attribute", [f for f in URL_FIELDS if f != "callback_url"])
def test_redirect_urls_are_5_to_2048_chars(attribute: str, value: str) -> None:
    """The seed's "HTTPS, max 2048" for successUrl and its siblings (none for callbackUrl)."""
    err = invalid(**{attribute: value})
    assert err.fields == (camel(attribute),)
    assert "5 to 2048" in err.problems[0].rule


@pytest.mark.parametrize("value", [1, 0, 1.0, "true", "yes"])
@pytest.mark.parametrize("field", BOOL_FIELDS)
def test_boolean_fields_reject_non_bools(field: str, value: object) -> None:
    """Every boolean feature flag refuses ints, strings and other non-bool values."""
    err = invalid(**{field: value})
    assert err.fields == (camel(field),)
    assert err.problems[0].rule == "must be true or false"


def test_several_problems_are_reported_at_once() -> None:
    """All broken rules are collected into one error, each named by its wire field."""
    err = invalid(
        client_id="",
        first_name="J0hn",
        sex="X",
        expiry_time=-1,
        success_url="http://example.com/ok",
        country=[],
        check_aml="yes",
    )
    assert len(err.problems) == 7
    assert sorted(err.fields) == sorted(
        ["clientId", "firstName", "sex", "expiryTime", "successUrl", "country", "checkAml"]
    )
    assert str(err).startswith("7 problems in SessionRequest: ")
    for field in err.fields:
        assert f"{field}: " in str(err)


def test_single_problem_message_is_singular() -> None:
    """One broken rule reads "1 problem in SessionRequest: <field>: <rule>"."""
    err = invalid(sex="X")
    assert str(err) == "1 problem in SessionRequest: sex: must be one of F, M"


# --------------------------------------------------------------------------- no PII in errors

PII = [
    pytest.param({"first_name": "John7Secret"}, "John7Secret", id="firstName"),
    pytest.param({"last_name": "Doe$Secret"}, "Doe$Secret", id="lastName"),
    pytest.param({"date_of_birth": "1987-02-31"}, "1987-02-31", id="dateOfBirth"),
    pytest.param({"document_number": "DOC" + "9" * 60}, "DOC999", id="documentNumber"),
    pytest.param({"personal_number": "PN" + "4" * 60}, "PN444", id="personalNumber"),
    pytest.param({"address": "Secret street " * 30}, "Secret street", id="address"),
    pytest.param({"client_id": "clïent-secret"}, "clïent-secret", id="clientId"),
    pytest.param({"external_ref": "ref-secret-ü"}, "ref-secret", id="externalRef"),
    pytest.param({"nationality": "QQ"}, "QQ", id="nationality"),
    pytest.param(
        {"callback_url": "http://secret-host.example/hook"}, "secret-host", id="callbackUrl"
    ),
    pytest.param({"extra": {"firstName": "JohnSecret"}}, "JohnSecret", id="extra-value"),
]


@pytest.mark.parametrize(("kwargs", "secret"), PII)
def test_error_message_never_contains_the_value(kwargs: dict[str, Any], secret: str) -> None:
    """Validation errors name the field and rule but never echo the offending value."""
    err = invalid(**kwargs)
    assert secret not in str(err)
    assert secret not in repr(err)
    assert all(secret not in p.rule for p in err.problems)


# --------------------------------------------------------------------------- reprs


def test_session_request_repr_redacts_personal_data_and_shows_only_set_fields() -> None:
    """repr(SessionRequest) masks personal data and lists only the fields that were set."""
    req = SessionRequest(
        "user-123",
        first_name="Johnsecret",
        last_name="Doesecret",
        date_of_birth="1985-07-14",
        document_number="AB9876543",
        personal_number="38507140000",
        address="Gedimino pr. 9",
        country=["lt"],
        check_aml=False,
        extra={"hiddenFlag": "extra-secret"},
    )
    text = repr(req)
    for secret in (
        "Johnsecret",
        "Doesecret",
        "1985-07-14",
        "AB9876543",
        "38507140000",
        "Gedimino",
        "extra-secret",
    ):
        assert secret not in text
    assert text.startswith("SessionRequest(client_id='user-123', ")
    assert "first_name=<redacted>" in text
    assert "date_of_birth=<redacted>" in text
    assert "document_number=<redacted>" in text
    assert "country=('LT',)" in text
    assert "check_aml=False" in text
    for unset in ("sex=", "nationality=", "expiry_time=", "callback_url=", "allow_unlisted"):
        assert unset not in text


def test_session_request_repr_minimal() -> None:
    """A request with only clientId reprs as just that."""
    assert repr(SessionRequest("user-123")) == "SessionRequest(client_id='user-123')"


def _sample_session() -> Session:
    return structure_session(sample("token_response_full.json"))


def test_session_iframe_url() -> None:
    """Session.iframe_url is https://ui.idenfy.com/?authToken=<token>."""
    assert _sample_session().iframe_url == (
        "https://ui.idenfy.com/?authToken=pgYQX0z2T8mtcpNj9I20uWVCLKNuG0vgr12f0wAC"
    )


def test_session_iframe_url_escapes_the_token() -> None:
    """Characters that are special in a query string are percent-encoded in iframe_url."""
    session = Session(auth_token="a+b/c=d&e", scan_ref="s", client_id="c")
    assert session.iframe_url == "https://ui.idenfy.com/?authToken=a%2Bb%2Fc%3Dd%26e"


def test_session_repr_hides_token_and_personal_data() -> None:
    """repr(Session) masks authToken and digitString and omits personal data and raw."""
    session = _sample_session()
    text = repr(session)
    for secret in (
        "pgYQX0z2T8mtcpNj9I20uWVCLKNuG0vgr12f0wAC",  # authToken
        "4823657",  # digitString
        "JOHN TOM",
        "SMITH",
        "1990-12-20",
        "123456",  # documentNumber (and prefix of personalNumber)
        "Address",
        "redirect",
        "Question 1",  # only in raw
    ):
        assert secret not in text
    assert "auth_token='***'" in text
    assert "digit_string='***'" in text
    assert "scan_ref='ec6a7108-8c26-11e9-9758-309c231b1bac'" in text


def test_session_repr_shows_missing_digit_string_as_none() -> None:
    """A session without a digit string shows digit_string=None, not a mask."""
    assert "digit_string=None" in repr(Session(auth_token="t", scan_ref="s", client_id="c"))


# --------------------------------------------------------------------------- import paths

#: Every name importable from idenfy_async.models before it was split (issue 8): the
#: public ones and those other modules of the package read from it.
MODELS_NAMES_BEFORE_SPLIT = """
    COUNTRY_CODES NULL NULLABLE_FIELDS IFRAME_BASE_URL AdditionalStepsStatus AgeEstimate
    DocumentExpirationEvent DocumentExpirationThreshold DocumentSex DocumentStatus
    DocumentType DummyStatus EventType FaceStatus FacialAuthenticationEvent
    FacialAuthenticationMethod FacialAuthenticationStatus FacialAuthenticationType FileUrls
    FraudTag IdentificationEvent IpProxyRiskLevel MismatchTag OverallStatus Platform
    ServiceResult ServiceStatus Session SessionRequest Sex StatusResult TokenType
    VerificationData VerificationStatus VerificationSummary VideoCallAnswer VideoCallEvent
    WebhookEvent wire_name json_problem utf8_problem
""".split()


@pytest.mark.parametrize("name", MODELS_NAMES_BEFORE_SPLIT)
def test_models_import_paths_still_work(name: str) -> None:
    """``idenfy_async.models.X`` keeps working for every name it had (re-exported)."""
    import idenfy_async.models

    assert getattr(idenfy_async.models, name) is not None


# --------------------------------------------------------------------------- COUNTRY_CODES


def test_country_codes_table() -> None:
    """COUNTRY_CODES holds the 249 ISO 3166-1 alpha-2 codes plus XK: 250, all two capitals."""
    assert len(COUNTRY_CODES) == 250
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in COUNTRY_CODES)


#: Hand-picked from the ISO 3166-1 list (not read from the package's table): common
#: codes, ones assigned since 2006 (ME, RS, SS, CW, SX, BQ), an island (AX), Kosovo.
KNOWN_GOOD_COUNTRIES = ["LT", "US", "GB", "DE", "AX", "ME", "RS", "SS", "CW", "SX", "BQ", "XK"]
#: Not alpha-2 codes: reserved or withdrawn ones (UK, EU, AN, CS, TP, YU), user-assigned
#: (ZZ, XX), alpha-3 (USA), one letter, digits.
KNOWN_BAD_COUNTRIES = ["UK", "EU", "AN", "CS", "TP", "YU", "ZZ", "XX", "USA", "L", "12"]


@pytest.mark.parametrize("code", KNOWN_GOOD_COUNTRIES)
def test_iso_country_codes_are_accepted_in_any_case(code: str) -> None:
    """A real ISO 3166-1 alpha-2 code is accepted as country and nationality, upper-cased."""
    body = wire(country=code.lower(), nationality=code.lower())
    assert body["country"] == code
    assert body["nationality"] == code


@pytest.mark.parametrize("code", KNOWN_BAD_COUNTRIES)
def test_codes_outside_iso_3166_are_refused(code: str) -> None:
    """A code that is not an assigned alpha-2 code is refused for country and nationality."""
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", country=code, nationality=code)
    assert info.value.fields == ("nationality", "country")
    assert all("ISO 3166-1 alpha-2" in p.rule for p in info.value.problems)


@pytest.mark.parametrize(
    "member", [DocumentType.PASSPORT, TokenType.DOCUMENT, Sex.F, DummyStatus.DENIED]
)
def test_request_enums_print_their_wire_value(member: enum.Enum) -> None:
    """str() and f-strings of request enums give the wire value, not Class.MEMBER."""
    assert str(member) == f"{member}" == member.value


# --------------------------------------------------------------------------- hostile values
# Found by a census of random field sets (issue 7): each escaped as TypeError,
# OverflowError or UnicodeEncodeError, or went out as invalid JSON.

JSON_RULE = "must contain only JSON values"
SURROGATE_RULE = "valid Unicode"

HOSTILE = [
    pytest.param({"sex": ["M"]}, "sex", "one of", id="sex-list-unhashable"),
    pytest.param({"token_type": {}}, "tokenType", "one of", id="tokenType-dict-unhashable"),
    pytest.param({"dummy_status": {"x"}}, "dummyStatus", "one of", id="dummyStatus-set"),
    pytest.param({"age_limit": 10**400}, "ageLimit", "64 bits", id="ageLimit-huge"),
    pytest.param({"age_max": 10**5000}, "ageMax", "64 bits", id="ageMax-over-digit-limit"),
    pytest.param(
        {"face_matching_threshold_modifier": 10**400},
        "faceMatchingThresholdModifier",
        "64 bits",
        id="threshold-huge-int",
    ),
    pytest.param(
        {"risk_assessment_profile": 10**30}, "riskAssessmentProfile", "64 bits", id="risk-huge"
    ),
    pytest.param(
        {"risk_assessment_profile": "\u00b2"},
        "riskAssessmentProfile",
        "UUID",
        id="risk-superscript",
    ),
    pytest.param({"theme": 5}, "theme", "UUID", id="theme-int"),
    pytest.param({"extra": {"a": b"x"}}, "extra", JSON_RULE, id="extra-bytes"),
    pytest.param(
        {"additional_data": {"d": datetime.date(2020, 1, 1)}},
        "additionalData",
        JSON_RULE,
        id="additionalData-date",
    ),
    pytest.param({"additional_data": {"s": {1, 2}}}, "additionalData", JSON_RULE, id="data-set"),
    pytest.param(
        {"additional_steps": {"n": decimal.Decimal("1.5")}},
        "additionalSteps",
        JSON_RULE,
        id="additionalSteps-Decimal",
    ),
    pytest.param(
        {"additional_steps": {"u": uuid.UUID(int=1)}}, "additionalSteps", JSON_RULE, id="steps-UUID"
    ),
    pytest.param({"extra": {"n": float("nan")}}, "extra", "finite", id="extra-nan"),
    pytest.param({"additional_data": {"n": [float("inf")]}}, "additionalData", "finite", id="inf"),
    pytest.param({"additional_data": {1: "x"}}, "additionalData", "key of type int", id="int-key"),
    pytest.param({"extra": {"\ud800": 1}}, "extra", SURROGATE_RULE, id="extra-surrogate-key"),
    pytest.param({"extra": {"n": 10**400}}, "extra", "64 bits", id="extra-huge-int"),
    pytest.param({"first_name": "J\ud800"}, "firstName", SURROGATE_RULE, id="firstName-surrogate"),
    pytest.param(
        {"personal_number": "\udfff1"}, "personalNumber", SURROGATE_RULE, id="personalNumber"
    ),
    pytest.param({"address": "\ud800"}, "address", SURROGATE_RULE, id="address-surrogate"),
    pytest.param(
        {"success_url": "https://a.io/\ud800"}, "successUrl", "RFC 3986", id="url-surrogate"
    ),
    pytest.param(
        {"video_call_questions": ["\ud800"]},
        "videoCallQuestions",
        SURROGATE_RULE,
        id="videoCallQuestions-surrogate",
    ),
    pytest.param(
        {"documents": ["X\ud800"], "allow_unlisted_documents": True},
        "documents",
        SURROGATE_RULE,
        id="unlisted-document-surrogate",
    ),
    pytest.param(
        {"date_of_birth": "\u0661\u0669\u0669\u0660-01-01"},
        "dateOfBirth",
        "YYYY-MM-DD",
        id="dateOfBirth-arabic-digits",
    ),
]


@pytest.mark.parametrize(("kwargs", "field", "rule"), HOSTILE)
def test_hostile_values_are_request_validation_errors(
    kwargs: dict[str, Any], field: str, rule: str
) -> None:
    """Values that escaped as other exceptions now name the wire field and the rule."""
    err = invalid(**kwargs)
    assert err.fields == (field,)
    assert rule in err.problems[0].rule
    assert err.__context__ is None  # no UnicodeEncodeError whose .object holds the body
    str(err).encode("utf-8")  # the message itself is printable: no value in it


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    """A deeply nested (or self-containing) mapping is a validation error, not RecursionError."""
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = [deep]
    assert invalid(additional_data={"d": deep}).fields == ("additionalData",)
    loop: list[Any] = []
    loop.append(loop)
    assert invalid(extra={"loop": loop}).fields == ("extra",)


def test_json_mappings_are_copied_at_construction() -> None:
    """A mapping changed after validation cannot smuggle an unsendable value into the body."""
    data: dict[str, Any] = {"a": [1, 2]}
    request = SessionRequest("user-123", additional_data=data)
    data["a"].append(b"bytes")
    data["b"] = float("nan")
    assert session_request_to_wire(request)["additionalData"] == {"a": [1, 2]}


def test_any_mapping_type_is_sent_as_a_json_object() -> None:
    """A read-only mapping and tuples are sent as plain JSON objects and arrays."""
    body = wire(
        additional_steps=types.MappingProxyType({"ALL": {"UTILITY_BILL": ("a", "b")}}),
        extra=types.MappingProxyType({"newFlag": (1, 2)}),
    )
    assert json.loads(json.dumps(body, allow_nan=False)) == {
        "clientId": "user-123",
        "additionalSteps": {"ALL": {"UTILITY_BILL": ["a", "b"]}},
        "newFlag": [1, 2],
    }


def test_uuid_objects_are_sent_as_text() -> None:
    """theme and riskAssessmentProfile accept uuid.UUID and send its text form."""
    value = uuid.UUID(int=7)
    body = wire(theme=value, risk_assessment_profile=value)
    assert body["theme"] == body["riskAssessmentProfile"] == str(value)
