"""Result models: open enums, StatusResult, VerificationData, FileUrls, lenient decoding."""

from __future__ import annotations

import copy
import enum
from typing import Any

import cattrs
import pytest

from idenfy_async._wire.converter import structure
from idenfy_async.models import (
    AdditionalStepsStatus,
    AgeEstimate,
    DocumentSex,
    DocumentStatus,
    DocumentType,
    EventType,
    FaceStatus,
    FileUrls,
    FraudTag,
    IdentificationEvent,
    IpProxyRiskLevel,
    MismatchTag,
    OverallStatus,
    Platform,
    StatusResult,
    VerificationData,
    VerificationStatus,
)
from tests.conftest import sample

GO_SAMPLE = "webhook_approved_go_idenfy_testdata.json"


def _identification(**changes: Any) -> IdentificationEvent:
    body: dict[str, Any] = copy.deepcopy(sample(GO_SAMPLE))
    body.update(changes)
    return structure(body, IdentificationEvent)


@pytest.mark.parametrize(
    ("enum_cls", "value", "expected"),
    [
        (OverallStatus, "EXPIRED-DELETED", OverallStatus.EXPIRED_DELETED),
        (OverallStatus, "APPROVED", OverallStatus.APPROVED),
        (OverallStatus, "approved", "approved"),
        (FaceStatus, "FACE_BLACKLISTED", FaceStatus.FACE_BLACKLISTED),
        (DocumentStatus, "NFC_TIMEOUT", DocumentStatus.NFC_TIMEOUT),
        (FraudTag, "VIRTUAL_CAMERA", FraudTag.VIRTUAL_CAMERA),
        (FraudTag, "BRAND_NEW_TAG", "BRAND_NEW_TAG"),
        (MismatchTag, "POA_SCREENSHOT_DETECTED", MismatchTag.POA_SCREENSHOT_DETECTED),
        (Platform, "MOBILE_SDK", Platform.MOBILE_SDK),
        (EventType, "IDENTIFICATION_RESUBMITTED", EventType.IDENTIFICATION_RESUBMITTED),
        (AgeEstimate, "OVER_18", AgeEstimate.OVER_18),
        (IpProxyRiskLevel, "VERY_HIGH", IpProxyRiskLevel.VERY_HIGH),
        (DocumentSex, "UNDEFINED", DocumentSex.UNDEFINED),
        (AdditionalStepsStatus, "NOT_FOUND", AdditionalStepsStatus.NOT_FOUND),
    ],
)
def test_open_enum_parse(enum_cls: Any, value: str, expected: str) -> None:
    """parse() gives the member for a known value and the plain str otherwise."""
    parsed = enum_cls.parse(value)
    assert parsed == expected
    assert type(parsed) is type(expected)


@pytest.mark.parametrize("member", [OverallStatus.EXPIRED_DELETED, FraudTag.DUPLICATE_FACE])
def test_open_enum_members_read_as_their_wire_value(member: enum.Enum) -> None:
    """str() and f-strings of a member give the wire value, like an unknown str would."""
    assert str(member) == member.value
    assert f"{member}" == member.value
    assert member == member.value


def test_status_result_sample() -> None:
    """The documented /api/v2/status answer decodes to members."""
    result = structure(sample("status_response_approved.json"), StatusResult)
    assert result.status is OverallStatus.APPROVED
    assert result.scan_ref == "328c6766-934e-11ed-bb9b-025ad99a18e7"
    assert result.client_id == "W2GL2K333Y"
    assert (result.auto_document, result.manual_document) == (
        DocumentStatus.DOC_VALIDATED,
        DocumentStatus.DOC_VALIDATED,
    )
    assert (result.auto_face, result.manual_face) == (FaceStatus.FACE_MATCH, FaceStatus.FACE_MATCH)
    assert (result.fraud_tags, result.mismatch_tags, result.final) == ((), (), None)
    assert result.raw == sample("status_response_approved.json")


def test_status_result_lenient_values() -> None:
    """Not-reviewed "" and null manual fields are None; null tags are empty; new values kept."""
    body = {
        "status": "BRAND_NEW_STATUS",
        "scanRef": "s",
        "manualFace": "",
        "manualDocument": None,
        "fraudTags": None,
        "mismatchTags": ["NAME", "NEW_MISMATCH"],
        "final": True,
        "newField": 1,
    }
    result = structure(body, StatusResult)
    assert result.status == "BRAND_NEW_STATUS"
    assert (result.manual_face, result.manual_document, result.fraud_tags) == (None, None, ())
    assert result.mismatch_tags == (MismatchTag.NAME, "NEW_MISMATCH")
    assert result.final is True
    assert result.raw["newField"] == 1


@pytest.mark.parametrize(
    ("status", "document", "face"),
    [
        (
            {"autoDocument": "DOC_VALIDATED", "autoFace": "FACE_MATCH"},
            DocumentStatus.DOC_VALIDATED,
            FaceStatus.FACE_MATCH,
        ),
        (
            {
                "autoDocument": "DOC_VALIDATED",
                "manualDocument": "DOC_FAKE",
                "autoFace": "FACE_MATCH",
                "manualFace": "",
            },
            DocumentStatus.DOC_FAKE,
            FaceStatus.FACE_MATCH,
        ),
    ],
)
def test_verification_status_final_word(
    status: dict[str, Any], document: DocumentStatus, face: FaceStatus
) -> None:
    """document/face prefer the manual result when there is one."""
    decoded = structure(status, VerificationStatus)
    assert (decoded.document, decoded.face) == (document, face)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("VALID", AdditionalStepsStatus.VALID),
        ("SOMETHING_NEW", "SOMETHING_NEW"),
        (None, None),
        ({"UTILITY_BILL": "UPLOAD"}, {"UTILITY_BILL": "UPLOAD"}),
    ],
)
def test_status_additional_steps_string_or_object(value: Any, expected: Any) -> None:
    """status.additionalSteps is documented as a string; an object is kept too."""
    decoded = structure({"additionalSteps": value}, VerificationStatus)
    assert decoded.additional_steps == expected


def test_verification_data_from_data_endpoint() -> None:
    """A /api/v2/data answer (the webhook's data plus scanRef/clientId) decodes."""
    body = {**sample(GO_SAMPLE)["data"], "scanRef": "s", "clientId": 42}
    data = structure(body, VerificationData)
    assert (data.scan_ref, data.client_id) == ("s", "42")  # legacy docs typed clientId Int
    assert data.doc_type is DocumentType.ID_CARD
    assert data.doc_sex is DocumentSex.UNDEFINED
    assert data.age_estimate is AgeEstimate.OVER_25
    assert data.client_ip_proxy_risk_level is IpProxyRiskLevel.LOW
    assert data.org_birth_place == "ŠILUVA"
    assert data.doc_dob == "YYYY-MM-DD"
    text = repr(data)
    for secret in ("FIRST-NAME-EXAMPLE", "XXXXXXXXX", "ŠILUVA", "ADDRESS EXAMPLE", "ssn"):
        assert secret not in text


def test_verification_data_all_optional() -> None:
    """An empty object (or null) is a valid data object."""
    assert structure({}, VerificationData) == VerificationData()
    assert _identification(data=None).data == VerificationData()
    assert _identification(status=None).status == VerificationStatus()


def test_file_urls_mapping() -> None:
    """FileUrls is a read-only mapping with named shortcuts; repr shows names only."""
    urls = FileUrls({"FRONT": "https://s3/front", "FACE_VIDEO": None, "BAD": 3})
    assert dict(urls) == {"FRONT": "https://s3/front", "FACE_VIDEO": None}
    assert (urls.front, urls.back, urls.face_video) == ("https://s3/front", None, None)
    assert repr(urls) == "FileUrls(<FRONT, FACE_VIDEO>)"
    assert "s3" not in repr(urls)


@pytest.mark.parametrize(
    ("changes", "attribute", "expected"),
    [
        ({"clientId": 123}, "client_id", "123"),
        ({"startTime": 1554726960.0}, "start_time", 1554726960),
        ({"startTime": "1554726960"}, "start_time", 1554726960),
        ({"final": None}, "final", None),
        ({"AML": None}, "aml", ()),
        ({"LID": {"serviceName": "one-object"}}, "lid", "one-object"),
        ({"manualAddress": "TOP"}, "manual_address", "TOP"),
    ],
)
def test_lenient_but_correct_scalars(
    changes: dict[str, Any], attribute: str, expected: Any
) -> None:
    """Harmless variations decode: numbers as strings, float times, one object for a list."""
    value = getattr(_identification(**changes), attribute)
    if attribute == "lid":
        value = value[0].service_name
    assert value == expected


@pytest.mark.parametrize(
    "changes",
    [{"final": "false"}, {"final": 0}, {"scanRef": None}, {"startTime": "soon"}, {"data": []}],
)
def test_wrong_types_are_errors_not_guesses(changes: dict[str, Any]) -> None:
    """A "false" string never becomes True, and a null never becomes "None"."""
    with pytest.raises(cattrs.BaseValidationError):
        _identification(**changes)


def test_address_fields_are_read_from_data_when_only_there() -> None:
    """Older payloads put manualAddress* inside data; the current schema top-level wins."""
    body: dict[str, Any] = copy.deepcopy(sample(GO_SAMPLE))
    body["data"].update(manualAddress="IN DATA", addressVerification={"status": "VERIFIED"})
    from_data = structure(body, IdentificationEvent)
    assert from_data.manual_address == "IN DATA"
    assert from_data.address_verification == {"status": "VERIFIED"}
    assert "manualAddress" not in from_data.raw
    body["manualAddress"] = "TOP LEVEL"
    assert structure(body, IdentificationEvent).manual_address == "TOP LEVEL"


def test_raw_is_not_part_of_equality() -> None:
    """Two events differing only in unknown fields compare equal (raw has eq=False)."""
    assert _identification() == _identification(brandNewField=1)
