"""The AML webhooks: verified and parsed by `idenfy_async.webhooks`, the documented bodies
decoded leniently, dedupe keys from signed fields only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from idenfy_async import (
    AmlAlertStatus,
    AmlCheckStatus,
    AmlMonitoringEvent,
    AmlMonitoringExpirationEvent,
    AmlMonitoringStatus,
    EventType,
    SignatureVerificationError,
    WebhookPayloadError,
    to_wire,
    webhooks,
)

KEY = "signing-key"


def monitoring_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "monitoringId": "9b2d5c1e-0f4e-4d7a-9a41-6f1c2e3d4b5a",
        "name": "John",
        "surname": "Doe",
        "nationality": "LT",
        "dob": None,
        "isActive": True,
        "expiration": None,
        "scanRefList": ["scan-1"],
        "alertStatus": "ALERT",
        "status": "ALERT",
        "pepsStatus": "FLAGS_FOUND",
        "sanctionsStatus": None,
        "adverseMediaStatus": "NO_FLAGS",
        "results": [
            {
                "status": {
                    "serviceSuspected": True,
                    "serviceUsed": True,
                    "serviceFound": True,
                    "checkSuccessful": True,
                    "overallStatus": "SUSPECTED",
                },
                "serviceName": "AML_NAMES_CHECK",
                "serviceGroupType": "AML",
                "uid": "u-1",
                "errorMessage": None,
                "data": [{"name": "John", "surname": "Doe", "whitelisted": False}],
            }
        ],
        "amlCheck": {
            "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "overallStatus": "FLAGS_FOUND",
            "statusSetBy": {"id": 4, "name": "Ann", "surname": "Lee", "email": "a@x.example"},
            "statusSetAt": "2024-05-02T08:00:00Z",
            "adverseMedia": [
                {
                    "title": "t",
                    "url": "https://news.example/a",
                    "text": None,
                    "score": "73",
                    "type": "ANY TEXT",
                    "publishDate": None,
                    "status": "NOT_CHECKED",
                    "comment": None,
                }
            ],
            "amlCheck": [
                {
                    "resourceId": "r-1",
                    "score": 91,
                    "match": "John Doe",
                    "name": "John Doe",
                    "addresses": [],
                    "nationalities": ["LT"],
                    "datesOfBirth": ["1980"],
                    "datasets": ["PEP_CURRENT"],
                    "currentSanBodyIds": [],
                    "formerSanBodyIds": [],
                }
            ],
        },
    }
    body.update(changes)
    return body


def _signed(body: dict[str, Any]) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, webhooks.sign(raw, KEY)


def test_aml_monitoring_webhook_parses() -> None:
    raw, signature = _signed(monitoring_body())
    event = webhooks.construct_event(raw, signature, KEY, event_type="AML_MONITORING")
    assert isinstance(event, AmlMonitoringEvent)
    assert event.event_type is EventType.AML_MONITORING
    assert (event.status, event.alert_status) == (AmlMonitoringStatus.ALERT, AmlAlertStatus.ALERT)
    assert event.peps_status is AmlCheckStatus.FLAGS_FOUND
    assert event.sanctions_status is None
    assert event.scan_ref_list == ("scan-1",)
    assert event.results[0].service_name == "AML_NAMES_CHECK"
    assert event.check is not None
    assert event.check.user_type == "PERSON"  # no userType in the schema: from the hits' shape
    assert event.check.adverse_media[0].score == 73
    assert event.check.adverse_media[0].type == "ANY TEXT"
    assert event.check.status_set_by is not None
    assert event.check.status_set_by["id"] == 4
    assert "John" not in repr(event)


@pytest.mark.parametrize("status", ["PENDING", "ACTIVE", "STOPPED"])
def test_without_the_header_the_signed_body_decides(status: str) -> None:
    # PENDING is also a face-authentication status: the AML body's own field wins.
    event = webhooks.parse_event(json.dumps(monitoring_body(status=status)).encode())
    assert isinstance(event, AmlMonitoringEvent)
    assert event.status == status


def test_a_header_naming_another_event_is_refused() -> None:
    with pytest.raises(WebhookPayloadError):
        webhooks.parse_event(json.dumps(monitoring_body()), event_type="IDENTIFICATION")


def test_unknown_values_and_a_business_check_decode() -> None:
    check = monitoring_body()["amlCheck"]
    check["amlCheck"] = [
        {
            "resourceId": "b-1",
            "score": 80,
            "match": "X",
            "name": "X",
            "addresses": [],
            "datasets": ["SOE"],
            "currentSanBodyIds": [],
            "formerSanBodyIds": [],
        }
    ]
    body = monitoring_body(status="ESCALATED", alertStatus="SOMETHING_NEW", amlCheck=check)
    event = webhooks.parse_event(json.dumps(body))
    assert isinstance(event, AmlMonitoringEvent)
    assert (event.status, event.alert_status) == ("ESCALATED", "SOMETHING_NEW")
    assert event.check is not None
    assert event.check.user_type == "COMPANY"


def test_expiration_webhook_parses() -> None:
    raw, signature = _signed({"usersToExtend": 4, "usersToExpire": 2})
    event = webhooks.construct_event(raw, signature, KEY, event_type="AML_MONITORING_EXPIRATION")
    assert isinstance(event, AmlMonitoringExpirationEvent)
    assert (event.users_to_extend, event.users_to_expire) == (4, 2)
    assert event.dedupe_key == "AML_MONITORING_EXPIRATION|4|2"


def test_a_bad_signature_is_refused() -> None:
    raw, _ = _signed(monitoring_body())
    with pytest.raises(SignatureVerificationError):
        webhooks.construct_event(raw, "0" * 64, KEY, event_type="AML_MONITORING")


def test_dedupe_key_is_from_signed_fields_only() -> None:
    raw, _ = _signed(monitoring_body())
    plain = webhooks.parse_event(raw)
    labelled = webhooks.parse_event(raw, event_type="AML_MONITORING_EXPIRATION_TYPO")
    assert isinstance(plain, AmlMonitoringEvent)
    assert isinstance(labelled, AmlMonitoringEvent)
    assert plain.dedupe_key == labelled.dedupe_key
    assert plain.dedupe_key.startswith(
        "9b2d5c1e-0f4e-4d7a-9a41-6f1c2e3d4b5a|AML_MONITORING|ALERT|3fa85f64"
    )
    # The same bytes again: the same key; a changed result: another key.
    assert webhooks.parse_event(raw).dedupe_key == plain.dedupe_key
    changed = webhooks.parse_event(json.dumps(monitoring_body(pepsStatus="NO_FLAGS")))
    assert isinstance(changed, AmlMonitoringEvent)
    assert changed.dedupe_key != plain.dedupe_key


def test_events_round_trip_through_to_wire() -> None:
    event = webhooks.parse_event(json.dumps(monitoring_body()))
    wire = to_wire(event)
    assert wire["monitoringId"] == "9b2d5c1e-0f4e-4d7a-9a41-6f1c2e3d4b5a"
    assert wire["amlCheck"]["id"] == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert wire["amlCheck"]["amlCheck"][0]["resourceId"] == "r-1"
    assert webhooks.parse_event(json.dumps(wire), event_type="AML_MONITORING") == event
