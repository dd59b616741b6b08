"""Webhook bodies iDenfy has sent over the years (§10): lower-case aml/lid, video calls,
facial authentication without a status string, resubmissions.

The 2018 and 2020 samples are byte-exact JSON blocks of idenfy/Documentation
``pages/ResultCallback.md`` (@ef4c9ef9, 2018-12-06, and @19db4747, 2020-11-26); the
video call one is ``pages/VideoCall.md`` @fe300f16 (2020-08-17).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from idenfy_async.errors import WebhookPayloadError
from idenfy_async.models import (
    EventType,
    FacialAuthenticationEvent,
    IdentificationEvent,
    ServiceResult,
    VideoCallAnswer,
    VideoCallEvent,
)
from idenfy_async.webhooks import construct_event, parse_event, sign
from tests.conftest import sample, sample_bytes

LOWER_2018 = "webhook_approved_2018_lower_aml_lid.json"
LOWER_2020 = "webhook_approved_2020_lower_aml_lid.json"
UPPER_2021 = "webhook_approved_legacy_docs.json"
VIDEO_CALL = "webhook_video_call_finished_2020.json"


def identification(body: Any, event_type: str | None = None) -> IdentificationEvent:
    event = parse_event(body, event_type)
    assert isinstance(event, IdentificationEvent)
    return event


def test_2018_suspected_results_form_becomes_one_typed_result() -> None:
    """``aml``/``lid`` as ``{suspected, results}`` (2018-12) are results, not dropped."""
    event = identification(sample_bytes(LOWER_2018))
    for results, group in ((event.aml, "AML"), (event.lid, "LID")):
        assert len(results) == 1
        (result,) = results
        assert result.service_group_type == group
        assert result.status is not None
        assert result.status.service_suspected is False
        assert result.data == ()
        assert result.raw["suspected"] is False  # the original keys are kept


def test_2020_single_object_form_reads_like_the_2021_list() -> None:
    """``aml``/``lid`` holding one result object (2019-2020) decode to what the 2021
    ``AML``/``LID`` lists of the same example decode to."""
    lower = identification(sample_bytes(LOWER_2020))
    upper = identification(sample_bytes(UPPER_2021))
    assert lower.aml == upper.aml
    assert lower.lid == upper.lid
    assert len(lower.aml) == len(lower.lid) == 1
    assert lower.aml[0].service_name == "PilotApiAmlV2"
    assert lower.lid[0].service_name == "IrdInvalidPapers"
    assert lower.aml[0].status is not None
    assert lower.aml[0].status.overall_status == "NOT_SUSPECTED"


def test_a_lower_case_aml_hit_reaches_the_typed_results() -> None:
    """A suspected 2018-form check keeps its hit: it must never vanish."""
    body = sample(LOWER_2018)
    hit = {"name": "JOHN", "surname": "DOE", "suspicion": "SANCTION"}
    body["aml"] = {"suspected": True, "results": {"hits": [hit]}}
    event = identification(body)
    (result,) = event.aml
    assert result.status is not None
    assert result.status.service_suspected is True
    assert result.data == ({"hits": [hit]},)


def test_upper_and_lower_keys_together_keep_both() -> None:
    body = sample(UPPER_2021)
    body["aml"] = copy.deepcopy(body["AML"][0])
    body["aml"]["serviceName"] = "AML_NAMES_CHECK"
    event = identification(body)
    assert [r.service_name for r in event.aml] == ["PilotApiAmlV2", "AML_NAMES_CHECK"]


def test_lower_case_null_is_no_result() -> None:
    body = sample(UPPER_2021)
    body["aml"] = None
    assert len(identification(body).aml) == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("aml", "yes", id="aml-string"),
        pytest.param("lid", 1, id="lid-number"),
        pytest.param("aml", {"suspected": "no", "results": {}}, id="suspected-not-bool"),
        pytest.param("lid", [{"status": "bad"}], id="lid-list-bad-status"),
        pytest.param("aml", {"status": {"serviceSuspected": "true"}}, id="object-bad-flag"),
    ],
)
def test_an_unreadable_legacy_form_is_an_error_not_silence(key: str, value: Any) -> None:
    """A known key that cannot be read fails parsing instead of disappearing."""
    body = sample(LOWER_2018)
    body[key] = value
    with pytest.raises(WebhookPayloadError, match=r"\$\.(AML|LID)"):
        parse_event(body)


def test_lower_case_forms_are_verified_on_the_exact_bytes() -> None:
    raw = sample_bytes(LOWER_2020)
    event = construct_event(raw, sign(raw, "key"), "key", event_type="IDENTIFICATION")
    assert isinstance(event, IdentificationEvent)
    assert isinstance(event.aml[0], ServiceResult)


# --------------------------------------------------------------------------- video call


def test_video_call_finished_has_a_model() -> None:
    """The documented VIDEO_CALL_FINISHED body parses (no more 400s and redeliveries)."""
    event = parse_event(sample_bytes(VIDEO_CALL), "VIDEO_CALL_FINISHED")
    assert isinstance(event, VideoCallEvent)
    assert event.event_type is EventType.VIDEO_CALL_FINISHED
    assert event.scan_ref == "unique_scan_ref"
    assert event.client_id == "unique_client_id"
    assert event.status is True
    assert event.date == "2020-08-14 12:48:08.085275+00:00"
    assert event.video_call_answers == {
        "Question 1": VideoCallAnswer(answer="Answer to first question.", correct=True),
        "Question 2": VideoCallAnswer(answer="Answer to second question.", correct=True),
    }
    assert event.dedupe_key == (
        "unique_scan_ref|VIDEO_CALL_FINISHED|true|2020-08-14 12:48:08.085275+00:00"
    )
    assert "unique_auth_token" not in repr(event)
    assert "Answer to first" not in repr(event)


def test_video_call_is_recognised_without_the_header() -> None:
    assert isinstance(parse_event(sample_bytes(VIDEO_CALL)), VideoCallEvent)


@pytest.mark.parametrize(
    ("key", "value"),
    [("status", "true"), ("videoCallAnswers", ["a"]), ("videoCallAnswers", {"q": {"correct": 1}})],
)
def test_video_call_bad_fields_are_errors(key: str, value: Any) -> None:
    body = sample(VIDEO_CALL)
    body[key] = value
    with pytest.raises(WebhookPayloadError):
        parse_event(body, "VIDEO_CALL_FINISHED")


# --------------------------------------------------------------------------- facial authentication

#: The documented fields of the FACIAL_AUTHENTICATION body, with no status string
#: (as in the generated documentation example).
FACIAL_NO_STATUS: dict[str, Any] = {
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "scanRef": "approved-scan-ref",
    "clientId": "user-123",
    "token": "FACEAUTHTOKEN0000000000000000000000000000"[:40],
    "type": "AUTHENTICATION",
    "method": "FACE_MATCHING",
    "facePhoto": "https://s3.example.invalid/face.jpg",
    "ipAddress": "192.0.2.1",
    "failReason": None,
    "riskTags": ["UNTRUSTED_ENVIRONMENT"],
}


@pytest.mark.parametrize("event_type", [None, "FACIAL_AUTHENTICATION"])
def test_facial_authentication_without_status_is_recognised(event_type: str | None) -> None:
    event = parse_event(FACIAL_NO_STATUS, event_type)
    assert isinstance(event, FacialAuthenticationEvent)
    assert event.status is None
    assert event.approved is None
    assert event.type == "AUTHENTICATION"
    assert event.method == "FACE_MATCHING"
    assert event.risk_tags == ("UNTRUSTED_ENVIRONMENT",)
    assert FACIAL_NO_STATUS["token"] not in repr(event)


@pytest.mark.parametrize(
    ("status", "approved"),
    [("Success", True), ("FAILED", False), ("expired", False), ("Pending", None)],
)
def test_facial_authentication_approved(status: str, approved: bool | None) -> None:
    event = parse_event({**FACIAL_NO_STATUS, "status": status})
    assert isinstance(event, FacialAuthenticationEvent)
    assert event.approved is approved


def test_resubmitted_event_is_an_identification() -> None:
    event = identification(sample_bytes(LOWER_2020), "IDENTIFICATION_RESUBMITTED")
    assert event.event_type is EventType.IDENTIFICATION_RESUBMITTED
