"""The token request against the seed and iDenfy's history (§10): explicit nulls for
every nullable parameter, ISO 639-1 locales, letters-only names, integer risk profiles."""

from __future__ import annotations

import json
import uuid
from typing import Any

import attrs
import pytest

from idenfy_async import NULL, RequestValidationError, SessionRequest
from idenfy_async._wire.converter import session_request_to_wire
from idenfy_async._wire.sessions import build_create_session
from idenfy_async.models import NULLABLE_FIELDS, wire_name
from idenfy_async.models._rules import rules_of

#: The parameters §2.1 and §10 document as nullable (hand-written, not derived).
DOCUMENTED_NULLABLE = {
    "externalRef", "locale", "country", "documents", "firstName", "lastName",
    "dateOfBirth", "dateOfExpiry", "dateOfIssue", "nationality", "personalNumber",
    "documentNumber", "sex", "address", "successUrl", "errorUrl", "unverifiedUrl",
    "callbackUrl", "questionnaire", "riskAssessmentProfile", "theme",
    "registryCentersCountries", "utilityBill", "additionalSteps", "additionalData",
}  # fmt: skip


def test_nullable_fields_are_the_documented_ones() -> None:
    assert {wire_name(name) for name in NULLABLE_FIELDS} == DOCUMENTED_NULLABLE


@pytest.mark.parametrize("name", sorted(NULLABLE_FIELDS))
def test_every_nullable_parameter_can_be_sent_as_null(name: str) -> None:
    fields: dict[str, Any] = {name: NULL}
    body = json.loads(build_create_session(SessionRequest("u", **fields)).body)
    assert body == {"clientId": "u", wire_name(name): None}


def test_the_2022_full_request_nulls() -> None:
    """The 2022 full request sends ``additionalSteps: null`` and ``additionalData: null``."""
    wire = session_request_to_wire(
        SessionRequest("u", additional_steps=NULL, additional_data=NULL, questionnaire=NULL)
    )
    assert wire == {
        "clientId": "u",
        "additionalSteps": None,
        "additionalData": None,
        "questionnaire": None,
    }


NOT_NULLABLE = sorted(
    a.name
    for a in attrs.fields(SessionRequest)
    if a.name not in NULLABLE_FIELDS
    and a.name not in ("client_id", "extra", "allow_unlisted_documents", "allow_legacy_token_types")
)


@pytest.mark.parametrize("name", NOT_NULLABLE)
def test_other_parameters_refuse_null(name: str) -> None:
    fields: dict[str, Any] = {name: NULL}
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", **fields)
    assert info.value.problems[0].field == wire_name(name)
    assert "must not be null" in info.value.problems[0].rule


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("42", 42),
        (42, 42),
        ("007", 7),
        ("3fa85f64-5717-4562-b3fc-2c963f66afa6", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        (uuid.UUID(int=5), str(uuid.UUID(int=5))),
    ],
)
def test_risk_assessment_profile_integer_on_the_wire(given: Any, sent: Any) -> None:
    """The seed types it as an integer: digits are sent as a JSON number."""
    wire = session_request_to_wire(SessionRequest("u", risk_assessment_profile=given))
    assert wire["riskAssessmentProfile"] == sent
    assert type(wire["riskAssessmentProfile"]) is type(sent)


@pytest.mark.parametrize("value", ["99999999999999999999999", "4 2", "-1", "x"])
def test_risk_assessment_profile_refused(value: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", risk_assessment_profile=value)
    assert info.value.fields == ("riskAssessmentProfile",)


@pytest.mark.parametrize(
    ("given", "sent"),
    [("en", "en"), ("LT", "lt"), ("De", "de"), ("en-GB", "en-gb"), ("english", "english")],
)
def test_locale_is_a_language_code_of_up_to_7_characters(given: str, sent: str) -> None:
    # iDenfy's contract: text of at most 7 characters; an unsupported one falls back
    # to English (issue 25: en-GB was refused).
    assert session_request_to_wire(SessionRequest("u", locale=given))["locale"] == sent


@pytest.mark.parametrize("value", ["english-uk", "en-GB-oxendict", "", 5, "e\ud800"])
def test_locale_refused(value: Any) -> None:
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", locale=value)
    assert info.value.fields == ("locale",)


@pytest.mark.parametrize(
    "name",
    ["John", "Žemaitė", "O'Neil", "O\u2019Neil", "Mary-Jane", "José María", "李小龍",
     "Jr.", "Zoe\u0301", "Ἀλέξανδρος"],
)  # fmt: skip
def test_real_names_are_letters(name: str) -> None:
    assert SessionRequest("u", first_name=name, last_name=name).first_name == name


@pytest.mark.parametrize("name", ["\U0001f600", "A\u2122", "Jo\u200bhn", "\u00a0", "J\u00b2"])
def test_names_letters_only(name: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", first_name=name)
    assert info.value.fields == ("firstName",)
    assert name not in str(info.value)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("country", "list_or_str"),
        ("documents", "list"),
        ("utility_bill", "bool"),
        ("locale", "str"),
        ("first_name", "str"),
        ("risk_assessment_profile", "str"),
        ("additional_steps", "json"),
        ("registry_centers_countries", "list"),
        ("expiry_time", "int"),
    ],
)
def test_cells_are_read_by_the_declared_kind(name: str, kind: str) -> None:
    """A CSV cell is read by the kind declared on its field: nullable fields keep theirs."""
    assert {n: r.kind for n, _, r in rules_of(SessionRequest)}[name] == kind
