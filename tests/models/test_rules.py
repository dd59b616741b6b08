"""Field rules declared on the fields (``_rules``): validation and CSV cell parsing are
derived from each field's ``Rule`` metadata, never from how its annotation is spelled."""

from __future__ import annotations

from typing import Any, Optional

import attrs
import pytest

from idenfy_async import NULL, RequestValidationError, SessionRequest
from idenfy_async.models import (
    NULLABLE_FIELDS,
    AdditionalStepUpload,
    FaceAuthTokenRequest,
    InformationRequest,
    PoaCheckRequest,
    ProcessingRequest,
)
from idenfy_async.models._checks import _check_bool, _int_range
from idenfy_async.models._rules import RULE_KEY, Rule, field_problems, rule, rules_of
from idenfy_async.models._sessions import cell_value


def test_every_session_request_field_declares_its_rule() -> None:
    """No SessionRequest field goes unchecked: each one carries a Rule in its metadata."""
    missing = [a.name for a in attrs.fields(SessionRequest) if RULE_KEY not in a.metadata]
    assert missing == []
    assert all(isinstance(a.metadata[RULE_KEY], Rule) for a in attrs.fields(SessionRequest))


def test_nullable_fields_come_from_the_rules() -> None:
    """NULLABLE_FIELDS is the set of fields whose rule says nullable, nothing else."""
    declared = {name for name, _, r in rules_of(SessionRequest) if r.nullable}
    assert declared == NULLABLE_FIELDS


# A throwaway model spelled the way the old annotation-text rules could not read:
# typing.Optional, and no "bool | None" / "int" text for a lookup to find.
@attrs.frozen(kw_only=True)
class _Spelled:
    flag: Optional[bool] = attrs.field(  # noqa: UP045 - the spelling is the point
        default=None, metadata=rule("bool", _check_bool)
    )
    count: "Optional[int]" = attrs.field(  # noqa: UP037, UP045
        default=None, metadata=rule("int", _int_range(1, 9))
    )


def test_rules_do_not_depend_on_annotation_spelling() -> None:
    """An Optional[bool] field still gets its bool rule, for validation and for cells."""
    problems = field_problems(_Spelled(flag="yes", count=0))  # type: ignore[arg-type]
    assert [(p.field, p.rule) for p in problems] == [
        ("flag", "must be true or false"),
        ("count", "must be between 1 and 9"),
    ]
    assert cell_value("flag", "Yes", model=_Spelled) is True
    assert cell_value("count", "7", model=_Spelled) == 7


#: (attribute, cell text, value): one row per kind, as the CLI reads cells today.
CELLS: list[tuple[str, str, Any]] = [
    ("verify_email", "true", True),
    ("verify_email", "YES", True),
    ("verify_email", "y", True),
    ("verify_email", "T", True),
    ("verify_email", "1", True),
    ("verify_email", "False", False),
    ("verify_email", "no", False),
    ("verify_email", "n", False),
    ("verify_email", "f", False),
    ("verify_email", "0", False),
    ("utility_bill", "yes", True),  # nullable bool: still a bool
    ("allow_unlisted_documents", "true", True),  # a local option: still a bool
    ("expiry_time", "3600", 3600),
    ("expiry_time", " -5 ", -5),  # parsed; the model's range rule reports it
    ("age_limit", "18", 18),
    ("face_matching_threshold_modifier", "0.5", 0.5),
    ("face_matching_threshold_modifier", "2", 2.0),
    ("additional_data", '{"a": [1, 2]}', {"a": [1, 2]}),
    ("extra", "{}", {}),
    ("documents", "PASSPORT|ID_CARD", ["PASSPORT", "ID_CARD"]),
    ("documents", "PASSPORT", ["PASSPORT"]),  # a list field: one item is a list
    ("documents", " PASSPORT | | ID_CARD ", ["PASSPORT", "ID_CARD"]),
    ("documents", '["PASSPORT"]', ["PASSPORT"]),
    ("registry_centers_countries", "LT|LV", ["LT", "LV"]),
    ("video_call_questions", "a|b", ["a", "b"]),
    ("country", "LT", "LT"),  # list or one string: no "|" keeps the string
    ("country", "LT|LV", ["LT", "LV"]),
    ("country", '["LT"]', ["LT"]),
    ("first_name", "Jonas", "Jonas"),
    ("locale", "EN", "EN"),  # text as given; the model's converter lower-cases it
    ("risk_assessment_profile", "12", "12"),  # text; the model makes it an integer
    ("date_of_birth", "1990-01-31", "1990-01-31"),
    ("client_id", "  u-1  ", "u-1"),
    ("first_name", "", None),  # empty: not set
    ("verify_email", "   ", None),
]


@pytest.mark.parametrize(("name", "text", "value"), CELLS)
def test_cell_values(name: str, text: str, value: Any) -> None:
    """Each kind of field reads a cell the way the CLI documents it."""
    got = cell_value(name, text)
    assert got == value
    assert type(got) is type(value)


#: (attribute, cell text, wire field, rule): cells that cannot become the field's kind.
BAD_CELLS = [
    ("verify_email", "maybe", "verifyEmail", "must be true or false"),
    ("utility_bill", "2", "utilityBill", "must be true or false"),
    ("allow_unlisted_documents", "x", "allow_unlisted_documents", "must be true or false"),
    ("expiry_time", "1.5", "expiryTime", "must be an integer"),
    ("age_max", "ten", "ageMax", "must be an integer"),
    ("face_matching_threshold_modifier", "x", "faceMatchingThresholdModifier", "must be a number"),
    ("additional_steps", "[1]", "additionalSteps", "must be a JSON object"),
    ("additional_data", "{not json", "additionalData", "must be a JSON object"),
    ("extra", "[" * 100_000, "extra", "must be a JSON object"),  # nested too deep
    ("documents", '["PASSPORT"', "documents", 'must be values separated by "|" or a JSON list'),
    ("country", '[{"a": 1}', "country", 'must be values separated by "|" or a JSON list'),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "field", "broken"), BAD_CELLS)
def test_bad_cells_name_the_wire_field_and_rule(
    name: str, text: str, field: str, broken: str
) -> None:
    """A cell that cannot be read raises RequestValidationError naming the wire field,
    never quoting the cell (it is personal data)."""
    with pytest.raises(RequestValidationError) as info:
        cell_value(name, text)
    assert [(p.field, p.rule) for p in info.value.problems] == [(field, broken)]
    if len(text) < 100:
        assert text not in str(info.value)


def test_cell_value_of_an_unknown_attribute() -> None:
    """An attribute with no rule is a programming error, not a cell problem."""
    with pytest.raises(KeyError):
        cell_value("no_such_field", "x")


def test_null_is_refused_where_the_rule_is_not_nullable() -> None:
    """NULL passes only the fields whose rule says nullable; the rest name the rule."""
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", first_name=NULL, expiry_time=NULL)  # type: ignore[arg-type]
    assert [(p.field, p.rule[:16]) for p in info.value.problems] == [
        ("expiryTime", "must not be null")
    ]


@pytest.mark.parametrize(
    "model",
    [
        FaceAuthTokenRequest,
        InformationRequest,
        ProcessingRequest,
        AdditionalStepUpload,
        PoaCheckRequest,
    ],
)
def test_every_kyc_request_field_declares_its_rule(model: type) -> None:
    """The KYC workflow's requests declare their rules on their fields too (the images
    of direct processing are checked one by one, by step name, instead)."""
    missing = [a.name for a in attrs.fields(model) if RULE_KEY not in a.metadata]
    assert missing == (["images"] if model is ProcessingRequest else [])


def test_file_fields_are_not_checked_as_json() -> None:
    """A file given as bytes or a path is read and sent as base64: no JSON rule for it."""
    request = PoaCheckRequest(b"%PDF-1.4", provided_name="A", provided_address="B")
    assert field_problems(request) == []
    with pytest.raises(RequestValidationError) as info:
        PoaCheckRequest(None, provided_name="A", provided_address="B")  # type: ignore[arg-type]
    assert [(p.field, p.rule) for p in info.value.problems] == [("file", "is required")]


def test_documents_report_one_problem_at_a_time() -> None:
    """Unknown types that are also not valid text: the field's own rule alone (as before
    the rules moved onto the fields), not a second one about the types."""
    with pytest.raises(RequestValidationError) as info:
        SessionRequest("u", documents=["\ud800"])
    assert [p.field for p in info.value.problems] == ["documents"]
    assert "valid Unicode" in info.value.problems[0].rule


#: (model, arguments, expected problems): what the messages were before the rules moved
#: onto the fields (checked by a differential run against the previous code).
UNCHANGED = [
    pytest.param(
        SessionRequest,
        {"client_id": "u", "allow_unlisted_documents": None},
        [("allow_unlisted_documents", "must be true or false")],
        id="local-option-None-is-checked",
    ),
    pytest.param(
        SessionRequest, {"client_id": NULL}, [("clientId", "must be a string")], id="clientId-NULL"
    ),
    pytest.param(
        FaceAuthTokenRequest,
        {"scan_ref": "s", "lifetime": NULL},
        [("lifetime", "must be an integer")],
        id="kyc-NULL-is-just-a-wrong-value",
    ),
    pytest.param(
        PoaCheckRequest,
        {"file": "\ud800", "provided_name": "a", "provided_address": "b"},
        [("file", "text must be valid Unicode (no lone surrogates such as \\ud800)")],
        id="file-path-text-is-checked",
    ),
]


@pytest.mark.parametrize(("model", "arguments", "expected"), UNCHANGED)
def test_messages_unchanged_by_the_move(
    model: type, arguments: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Edge cases whose message depends on how the rules are applied."""
    with pytest.raises(RequestValidationError) as info:
        model(**arguments)
    assert [(p.field, p.rule) for p in info.value.problems] == expected
