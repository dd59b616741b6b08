"""Property tests for the rest of the KYC workflow (Hypothesis, derandomized): any value
in any request field is refused or sent as strict JSON; any 2xx body is a model or a
ResponseDecodeError; any lower-case aml/lid value is a result or a WebhookPayloadError."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from idenfy_async import errors
from idenfy_async._wire import kyc as wire
from idenfy_async.models import FaceAuthTokenRequest, IdentificationEvent, InformationRequest
from idenfy_async.webhooks import parse_event
from tests.conftest import sample
from tests.models.test_properties import ANYTHING, JSON_VALUES, PROPERTY, TEXT

GOOD: dict[str, list[Any]] = {
    "method": ["FACE_MATCHING", "ACTIVE_LIVENESS"],
    "lifetime": [1, 600, 2_592_000],
    "locale": ["en", "LT"],
    "generate_digit_string": [True, False],
    "questionnaire": ["q-1"],
    "risk_assessment_profile": [7, "42", "3fa85f64-5717-4562-b3fc-2c963f66afa6"],
    "additional_step_upload_required": [True],
    "bank_card_verification": [False],
    "bank_card_expected_last_four": ["1234"],
}
FACE_FIELDS = ["method", "lifetime", "locale", "generate_digit_string"]
INFO_FIELDS = [
    "lifetime",
    "questionnaire",
    "risk_assessment_profile",
    "additional_step_upload_required",
    "bank_card_verification",
    "bank_card_expected_last_four",
]


def _fields(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def draw_fields(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
        fields = {name: draw(st.one_of(st.sampled_from(GOOD[name]), ANYTHING)) for name in chosen}
        fields["scan_ref"] = draw(st.one_of(st.just("scan-1"), ANYTHING))
        return fields

    return draw_fields()


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {name}")


def _refused_or_strict(build: Callable[[], Any]) -> None:
    refused: errors.RequestValidationError | None = None
    try:
        spec = build()
    except errors.RequestValidationError as exc:
        refused = exc
    if refused is not None:
        assert refused.problems
        str(refused).encode("utf-8")  # no lone surrogate from a value
        assert refused.__context__ is None
        return
    if spec.body:
        json.loads(spec.body.decode("utf-8"), parse_constant=_reject_constant)
    spec.path.encode("ascii")  # every path segment percent-encoded


@PROPERTY
@given(_fields(FACE_FIELDS))
def test_face_auth_token_request_refused_or_strict(fields: dict[str, Any]) -> None:
    _refused_or_strict(lambda: wire.build_face_auth_token(FaceAuthTokenRequest(**fields)))


@PROPERTY
@given(_fields(INFO_FIELDS))
def test_information_request_refused_or_strict(fields: dict[str, Any]) -> None:
    _refused_or_strict(lambda: wire.build_request_information(InformationRequest(**fields)))


@PROPERTY
@given(st.one_of(TEXT, ANYTHING), st.one_of(st.sampled_from(["SELFIE", "DOCUMENT"]), ANYTHING))
def test_blocklist_calls_refused_or_strict(scan_ref: Any, source: Any) -> None:
    _refused_or_strict(lambda: wire.build_blocklist_add(scan_ref, source, "reason"))
    _refused_or_strict(lambda: wire.build_blocklist_remove(scan_ref, source))
    _refused_or_strict(lambda: wire.build_face_auth_check(scan_ref, source))


PARSERS: list[Callable[[int, bytes], Any]] = [
    wire.parse_face_auth_check,
    wire.parse_face_auth_sessions,
    wire.parse_face_auth_session,
    wire.parse_blocklist_entry,
    wire.parse_poa_check,
    lambda status, content: wire.parse_face_auth_token(status, content, scan_ref="s"),
    lambda status, content: wire.parse_request_information(status, content, scan_ref="s"),
]


@PROPERTY
@given(st.one_of(st.binary(max_size=100), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_any_2xx_body_is_a_model_or_a_decode_error(content: bytes) -> None:
    for parse in PARSERS:
        try:
            parse(200, content)
        except errors.ResponseDecodeError as exc:
            str(exc)


LEGACY = sample("webhook_approved_2018_lower_aml_lid.json")


@PROPERTY
@given(st.sampled_from(["aml", "lid", "AML", "LID"]), JSON_VALUES)
def test_any_legacy_service_value_is_a_result_or_an_error(key: str, value: Any) -> None:
    """Never silently dropped: either typed results hold it, or parsing fails."""
    body = copy.deepcopy(LEGACY)
    body[key] = value
    try:
        event = parse_event(body)
    except errors.WebhookPayloadError:
        return
    assert isinstance(event, IdentificationEvent)
    results = event.aml if key.lower() == "aml" else event.lid
    other = "lid" if key.lower() == "aml" else "aml"
    assert len(getattr(event, other)) == 1  # the untouched 2018 form still there
    if value is None or value == []:
        # An empty upper-case list leaves the lower-case result; an empty lower-case one
        # replaces it with nothing.
        assert len(results) == (1 if key.isupper() else 0)
    else:
        assert results, "a non-empty value must become at least one result"
