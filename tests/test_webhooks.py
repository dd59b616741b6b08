"""Webhooks: Idenfy-Signature verification on raw bytes, event parsing, dedupe keys."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from idenfy_async.errors import (
    ConfigurationError,
    IdenfyError,
    SignatureVerificationError,
    WebhookPayloadError,
)
from idenfy_async.models import (
    DocumentExpirationEvent,
    DocumentExpirationThreshold,
    EventType,
    FacialAuthenticationEvent,
    FacialAuthenticationMethod,
    FacialAuthenticationStatus,
    FacialAuthenticationType,
    FraudTag,
    IdentificationEvent,
    OverallStatus,
    Platform,
    VideoCallEvent,
)
from idenfy_async.webhooks import (
    MAX_WEBHOOK_BYTES,
    construct_event,
    parse_event,
    sign,
    verify_signature,
)
from tests.conftest import sample, sample_bytes

GO_SAMPLE = "webhook_approved_go_idenfy_testdata.json"
#: The documented test vector (go-idenfy testdata): this body, key "TestingKey".
GO_KEY = "TestingKey"
GO_SIGNATURE = "e7386736c7f0e8ee293a7637a316d64f7193c3197c133576e3f72061100180e2"
GO_BODY = sample_bytes(GO_SAMPLE)

#: Strings from the sample body that must never reach a message, repr or log.
BODY_SECRETS = ("FIRST-NAME-EXAMPLE", "XXXXXXXXX", "192.0.2.0", "Kaunas", "AWSAccessKeyId")

#: A FACIAL_AUTHENTICATION body as listed in the docs' event table.
FACIAL_BODY: dict[str, Any] = {
    "id": "fa-1",
    "scanRef": "face-scan-ref",
    "clientId": "user-123",
    "token": "FACE-AUTH-TOKEN",
    "status": "Success",
    "type": "AUTHENTICATION",
    "method": "ACTIVE_LIVENESS",
    "facePhoto": "https://example.com/face.png",
    "ipAddress": "198.51.100.7",
    "failReason": None,
    "riskTags": ["UNTRUSTED_ENVIRONMENT"],
}
#: A DOCUMENT_EXPIRATION body as listed in the docs' event table.
EXPIRATION_BODY: dict[str, Any] = {
    "scanRef": "doc-scan-ref",
    "clientId": "user-123",
    "expirationThreshold": "DOCUMENT_EXPIRES_WITHIN_7_DAYS",
    "documentExpiration": "2030-01-31",
}


def _flip_byte(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def _flip_hex(signature: str, index: int) -> str:
    replacement = "0" if signature[index] != "0" else "1"
    return signature[:index] + replacement + signature[index + 1 :]


def _go_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(sample(GO_SAMPLE))
    body.update(changes)
    return body


# --------------------------------------------------------------------------- signing


def test_sample_body_is_the_documented_vector() -> None:
    """The sample is byte-exact: 3269 bytes ending in a newline."""
    assert len(GO_BODY) == 3269
    assert GO_BODY.endswith(b"\n")


@pytest.mark.parametrize("key", [GO_KEY, GO_KEY.encode()], ids=["str-key", "bytes-key"])
def test_sign_reproduces_the_test_vector(key: str | bytes) -> None:
    """sign() gives iDenfy's lower-case hex HMAC-SHA256 for a str or bytes key."""
    assert sign(GO_BODY, key) == GO_SIGNATURE


@pytest.mark.parametrize("key", [GO_KEY, GO_KEY.encode()], ids=["str-key", "bytes-key"])
@pytest.mark.parametrize(
    "signature",
    [GO_SIGNATURE, GO_SIGNATURE.upper(), f"  {GO_SIGNATURE}\n"],
    ids=["lower", "upper", "whitespace"],
)
def test_valid_signature_verifies(key: str | bytes, signature: str) -> None:
    """The vector verifies; hex case and surrounding whitespace do not matter."""
    verify_signature(GO_BODY, signature, key)


def test_bytearray_and_memoryview_bodies_verify() -> None:
    """Any bytes-like body is accepted as raw bytes."""
    verify_signature(bytearray(GO_BODY), GO_SIGNATURE, GO_KEY)  # type: ignore[arg-type]
    verify_signature(memoryview(GO_BODY), GO_SIGNATURE, GO_KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize("index", [0, 1, 17, 1000, 2000, 3267, 3268])
def test_one_flipped_body_byte_fails(index: int) -> None:
    """Changing any single byte of the body breaks the signature."""
    with pytest.raises(SignatureVerificationError) as info:
        verify_signature(_flip_byte(GO_BODY, index), GO_SIGNATURE, GO_KEY)
    assert info.value.reason == "mismatch"


@pytest.mark.parametrize("index", [0, 1, 31, 32, 62, 63])
def test_one_changed_signature_digit_fails(index: int) -> None:
    """Changing any single hex digit of the signature fails."""
    with pytest.raises(SignatureVerificationError) as info:
        verify_signature(GO_BODY, _flip_hex(GO_SIGNATURE, index), GO_KEY)
    assert info.value.reason == "mismatch"


def test_trailing_newline_is_signed() -> None:
    """Stripping the body (as some frameworks do) breaks the signature."""
    with pytest.raises(SignatureVerificationError):
        verify_signature(GO_BODY.rstrip(), GO_SIGNATURE, GO_KEY)


def test_reserialised_json_fails() -> None:
    """A body parsed and dumped again is not the signed body."""
    with pytest.raises(SignatureVerificationError):
        verify_signature(json.dumps(json.loads(GO_BODY)).encode(), GO_SIGNATURE, GO_KEY)


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("abc", "malformed"),
        (GO_SIGNATURE[:-1], "malformed"),
        (GO_SIGNATURE + "0", "malformed"),
        ("g" * 64, "malformed"),
        ("sha256=" + GO_SIGNATURE, "malformed"),
        (GO_SIGNATURE[:32] + " " + GO_SIGNATURE[33:], "malformed"),
        ("0" * 64, "mismatch"),
    ],
)
def test_bad_signature_reasons(signature: str | None, reason: str) -> None:
    """Missing, malformed and wrong signatures are told apart."""
    with pytest.raises(SignatureVerificationError) as info:
        verify_signature(GO_BODY, signature, GO_KEY)
    assert info.value.reason == reason
    assert str(info.value).startswith(f"webhook signature {reason}")


def test_wrong_key_fails() -> None:
    """Another key (for example the API secret instead of the signing key) fails."""
    with pytest.raises(SignatureVerificationError, match="mismatch"):
        verify_signature(GO_BODY, GO_SIGNATURE, "testingkey")


@pytest.mark.parametrize("signature", [None, "nothex", "0" * 64, _flip_hex(GO_SIGNATURE, 5)])
def test_errors_and_logs_never_leak_key_signature_or_body(
    signature: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """No message, repr or log record holds the key, a signature or body content."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SignatureVerificationError) as info:
        construct_event(GO_BODY, signature, GO_KEY)
    texts = [str(info.value), repr(info.value), caplog.text]
    forbidden = [GO_KEY, GO_SIGNATURE, "nothex", *BODY_SECRETS]
    if signature:
        forbidden.append(signature)
    for text in texts:
        for secret in forbidden:
            assert secret not in text


def test_signature_error_is_a_value_error() -> None:
    """SignatureVerificationError is an IdenfyError and a ValueError."""
    assert issubclass(SignatureVerificationError, IdenfyError)
    assert issubclass(SignatureVerificationError, ValueError)
    assert issubclass(WebhookPayloadError, IdenfyError)
    assert issubclass(WebhookPayloadError, ValueError)


def test_text_body_is_refused() -> None:
    """A decoded str body is refused: the signature is over the bytes received."""
    with pytest.raises(TypeError, match="raw request bytes"):
        verify_signature(GO_BODY.decode(), GO_SIGNATURE, GO_KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", b""])
def test_empty_key_is_a_configuration_error(key: str | bytes) -> None:
    """An empty signing key is a setup mistake, not a bad signature."""
    with pytest.raises(ConfigurationError, match="signing key is empty"):
        verify_signature(GO_BODY, GO_SIGNATURE, key)


def test_sign_round_trips_any_body() -> None:
    """What sign() produces, verify_signature() accepts (the fake relies on this)."""
    body = json.dumps(FACIAL_BODY).encode()
    verify_signature(body, sign(body, "k"), "k")


# --------------------------------------------------------------------------- construct_event


def test_construct_event_verifies_then_parses() -> None:
    """The documented vector yields the identification event."""
    event = construct_event(GO_BODY, GO_SIGNATURE, GO_KEY, "IDENTIFICATION_AUTO_FINISHED")
    assert isinstance(event, IdentificationEvent)
    assert event.event_type is EventType.IDENTIFICATION_AUTO_FINISHED
    assert event.scan_ref == "scan-ref"


def test_construct_event_refuses_an_unsigned_body_before_parsing() -> None:
    """A bad signature wins over an unparseable body: nothing is parsed unverified."""
    with pytest.raises(SignatureVerificationError):
        construct_event(b"not json", GO_SIGNATURE, GO_KEY)


def test_construct_event_checks_size_before_hashing() -> None:
    """An over-cap body is refused even when correctly signed."""
    body = b" " * MAX_WEBHOOK_BYTES + b"{}"
    with pytest.raises(WebhookPayloadError, match="larger than"):
        construct_event(body, sign(body, GO_KEY), GO_KEY)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("name", "scan_ref", "final", "overall"),
    [
        (GO_SAMPLE, "scan-ref", False, OverallStatus.APPROVED),
        ("webhook_approved_legacy_docs.json", "scan-ref", None, OverallStatus.APPROVED),
        ("webhook_suspected_name_mismatch_fragment.json", "d2714c8a-...", None, "SUSPECTED"),
    ],
)
def test_samples_parse(name: str, scan_ref: str, final: bool | None, overall: str) -> None:
    """Every saved webhook sample parses by shape alone, from bytes."""
    event = parse_event(sample_bytes(name))
    assert isinstance(event, IdentificationEvent)
    assert event.event_type is EventType.IDENTIFICATION
    assert (event.scan_ref, event.final, event.status.overall) == (scan_ref, final, overall)
    assert event.raw == sample(name)


@pytest.mark.parametrize(
    "body", [GO_BODY, GO_BODY.decode(), sample(GO_SAMPLE)], ids=["bytes", "str", "mapping"]
)
def test_body_may_be_bytes_text_or_mapping(body: bytes | str | dict[str, Any]) -> None:
    """parse_event accepts raw bytes, decoded text or an already decoded object."""
    event = parse_event(body)
    assert isinstance(event, IdentificationEvent)
    assert event.client_id == "123"


def test_go_sample_fields() -> None:
    """Top-level, status, data, file and service fields of the newer-shape sample."""
    event = parse_event(GO_BODY)
    assert isinstance(event, IdentificationEvent)
    assert event.platform is Platform.MOBILE_APP
    assert (event.start_time, event.finish_time) == (1554726960, 1554727002)
    assert (event.client_ip, event.client_ip_country) == ("192.0.2.0", "LT")
    assert event.client_location == "Kaunas, Lithuania"
    assert event.data.doc_first_name == "FIRST-NAME-EXAMPLE"
    assert event.data.doc_expiry == "YYYY-MM-DD"  # placeholders stay strings
    assert event.data.additional_data == {
        "UTILITY_BILL": {"ssn": {"value": "ssn number", "status": "MATCH"}}
    }
    assert event.file_urls is not None
    assert sorted(event.file_urls) == ["BACK", "FACE", "FRONT"]
    assert event.additional_step_pdf_urls is not None
    assert len(event.additional_step_pdf_urls) == 0
    assert [r.service_name for r in event.aml] == ["PilotApiAmlV2"]
    assert [r.service_group_type for r in event.lid] == ["LID"]
    assert event.manual_address_match is False  # read from data (older shape)


def test_legacy_docs_sample_duplicate_key_last_wins() -> None:
    """The 2021 sample repeats selectedCountry and has no final: both are fine."""
    event = parse_event(sample_bytes("webhook_approved_legacy_docs.json"))
    assert isinstance(event, IdentificationEvent)
    assert event.data.selected_country == "LT"
    assert event.final is None
    assert event.status.fraud_tags == ()


def test_unknown_enum_values_stay_plain_strings() -> None:
    """New values from iDenfy never fail parsing; they decode as plain str."""
    body = _go_body(platform="SMART_FRIDGE")
    body["status"].update(
        overall="BRAND_NEW_STATUS",
        fraudTags=["BRAND_NEW_TAG", "DUPLICATE_FACE"],
        autoFace="FACE_FROM_THE_FUTURE",
    )
    body["data"]["docType"] = "HOLOGRAM"
    event = parse_event(json.dumps(body).encode())
    assert isinstance(event, IdentificationEvent)
    unknown = (
        event.status.overall,
        event.status.fraud_tags[0],
        event.status.auto_face,
        event.platform,
        event.data.doc_type,
    )
    assert unknown == (
        "BRAND_NEW_STATUS",
        "BRAND_NEW_TAG",
        "FACE_FROM_THE_FUTURE",
        "SMART_FRIDGE",
        "HOLOGRAM",
    )
    assert all(type(value) is str for value in unknown)
    assert event.status.fraud_tags[1] is FraudTag.DUPLICATE_FACE


def test_unknown_fields_are_kept_in_raw() -> None:
    """Fields this library does not model survive in raw, top-level and nested."""
    body = _go_body(brandNewField={"nested": [1, 2]})
    body["status"]["brandNewStatusField"] = True
    event = parse_event(body)
    assert isinstance(event, IdentificationEvent)
    assert event.raw["brandNewField"] == {"nested": [1, 2]}
    assert event.status.raw["brandNewStatusField"] is True
    assert event.data.raw["orgBirthPlace"] == "ŠILUVA"


@pytest.mark.parametrize(
    ("header", "body", "cls", "event_type"),
    [
        (None, sample(GO_SAMPLE), IdentificationEvent, EventType.IDENTIFICATION),
        ("IDENTIFICATION", sample(GO_SAMPLE), IdentificationEvent, EventType.IDENTIFICATION),
        (
            "IDENTIFICATION_AUTO_FINISHED",
            sample(GO_SAMPLE),
            IdentificationEvent,
            EventType.IDENTIFICATION_AUTO_FINISHED,
        ),
        (
            "ID_VERIFICATION_MANUAL_FINISHED",
            sample(GO_SAMPLE),
            IdentificationEvent,
            EventType.IDENTIFICATION_MANUAL_FINISHED,
        ),
        (
            "IDENTIFICATION_CANCELED",
            sample(GO_SAMPLE),
            IdentificationEvent,
            EventType.IDENTIFICATION_CANCELLED,
        ),
        (
            " identification-expired ",
            sample(GO_SAMPLE),
            IdentificationEvent,
            EventType.IDENTIFICATION_EXPIRED,
        ),
        ("", sample(GO_SAMPLE), IdentificationEvent, EventType.IDENTIFICATION),
        (
            "VIDEO_CALL_FINISHED",
            sample("webhook_video_call_finished_2020.json"),
            VideoCallEvent,
            EventType.VIDEO_CALL_FINISHED,
        ),
        ("BRAND_NEW_EVENT", sample(GO_SAMPLE), IdentificationEvent, "BRAND_NEW_EVENT"),
        (None, FACIAL_BODY, FacialAuthenticationEvent, EventType.FACIAL_AUTHENTICATION),
        (
            "FACIAL_AUTHENTICATION",
            FACIAL_BODY,
            FacialAuthenticationEvent,
            EventType.FACIAL_AUTHENTICATION,
        ),
        (None, EXPIRATION_BODY, DocumentExpirationEvent, EventType.DOCUMENT_EXPIRATION),
        (
            "DOCUMENT_EXPIRATION",
            EXPIRATION_BODY,
            DocumentExpirationEvent,
            EventType.DOCUMENT_EXPIRATION,
        ),
    ],
)
def test_event_chosen_by_header_or_shape(
    header: str | None, body: dict[str, Any], cls: type[Any], event_type: str
) -> None:
    """The Idenfy-Event-Type header picks the model; without one the body's shape does."""
    event = parse_event(json.dumps(body).encode(), header)
    assert type(event) is cls
    assert event.event_type == event_type
    assert type(event.event_type) is type(event_type)


def test_facial_authentication_fields() -> None:
    """Facial status is upper-cased; type, method and risk tags decode."""
    event = parse_event(FACIAL_BODY)
    assert isinstance(event, FacialAuthenticationEvent)
    assert event.status is FacialAuthenticationStatus.SUCCESS
    assert event.type is FacialAuthenticationType.AUTHENTICATION
    assert event.method is FacialAuthenticationMethod.ACTIVE_LIVENESS
    assert event.risk_tags == ("UNTRUSTED_ENVIRONMENT",)
    for hidden in ("FACE-AUTH-TOKEN", "198.51.100.7", "face.png"):
        assert hidden not in repr(event)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Success", FacialAuthenticationStatus.SUCCESS),
        ("FAILED", FacialAuthenticationStatus.FAILED),
        ("canceled", FacialAuthenticationStatus.CANCELED),
        ("Pending", FacialAuthenticationStatus.PENDING),
        ("Brand_New", "BRAND_NEW"),
    ],
)
def test_facial_status_case_is_normalised(status: str, expected: str) -> None:
    """S1 sends Success/Failed, the docs table SUCCESS/FAILED: both decode alike."""
    event = parse_event({**FACIAL_BODY, "status": status})
    assert isinstance(event, FacialAuthenticationEvent)
    assert event.status == expected


def test_document_expiration_fields() -> None:
    """Threshold decodes to the enum; the date stays a string."""
    event = parse_event(EXPIRATION_BODY)
    assert isinstance(event, DocumentExpirationEvent)
    assert event.expiration_threshold is DocumentExpirationThreshold.DOCUMENT_EXPIRES_WITHIN_7_DAYS
    assert event.document_expiration == "2030-01-31"


def test_event_repr_shows_no_personal_data() -> None:
    """repr() of a parsed identification hides names, numbers, IPs and file URLs."""
    text = repr(parse_event(GO_BODY))
    assert "scan-ref" in text
    for secret in BODY_SECRETS:
        assert secret not in text


# --------------------------------------------------------------------------- dedupe


def test_dedupe_key_is_equal_for_a_redelivery() -> None:
    """Two deliveries of the same body give the same key."""
    first = parse_event(GO_BODY, "IDENTIFICATION_AUTO_FINISHED")
    again = parse_event(GO_BODY, "IDENTIFICATION_AUTO_FINISHED")
    finish = sample(GO_SAMPLE)["finishTime"]
    assert (
        first.dedupe_key == again.dedupe_key == f"scan-ref|IDENTIFICATION|false|APPROVED|{finish}"
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (
            GO_BODY,
            [
                None,
                "IDENTIFICATION",
                "IDENTIFICATION_AUTO_FINISHED",
                "IDENTIFICATION_MANUAL_FINISHED",
                "ID_VERIFICATION_EXPIRED",
                "identification-cancelled",
                "BRAND_NEW_EVENT",
            ],
        ),
        (json.dumps(FACIAL_BODY).encode(), [None, "FACIAL_AUTHENTICATION", "FACE_AUTH_V2"]),
        (json.dumps(EXPIRATION_BODY).encode(), [None, "DOCUMENT_EXPIRATION", "EXPIRY_NOTICE"]),
    ],
    ids=["identification", "facial", "expiration"],
)
def test_dedupe_key_ignores_the_unsigned_event_type_header(
    body: bytes, headers: list[str | None]
) -> None:
    """A replay of one signed body with an altered Idenfy-Event-Type gets the same key."""
    signature = sign(body, GO_KEY)
    keys = {construct_event(body, signature, GO_KEY, header).dedupe_key for header in headers}
    assert len(keys) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"final": True},
        {"scanRef": "other-scan-ref"},
        {"status": {"overall": "DENIED"}},
        {"finishTime": 1554726999},
    ],
    ids=["final", "scan-ref", "overall", "finish-time"],
)
def test_dedupe_key_differs_for_another_event(changes: dict[str, Any]) -> None:
    """A change of final, scanRef, overall status or finish time gives a new key."""
    first = parse_event(GO_BODY, "IDENTIFICATION_AUTO_FINISHED")
    other = parse_event(_go_body(**changes), "IDENTIFICATION_AUTO_FINISHED")
    assert first.dedupe_key != other.dedupe_key


@pytest.mark.parametrize(
    ("body", "changes", "key"),
    [
        (FACIAL_BODY, {"status": "FAILED"}, "face-scan-ref|FACIAL_AUTHENTICATION|fa-1|SUCCESS"),
        (
            EXPIRATION_BODY,
            {"expirationThreshold": "DOCUMENT_EXPIRED"},
            "doc-scan-ref|DOCUMENT_EXPIRATION|DOCUMENT_EXPIRES_WITHIN_7_DAYS",
        ),
    ],
    ids=["facial", "expiration"],
)
def test_other_events_dedupe_keys(body: dict[str, Any], changes: dict[str, Any], key: str) -> None:
    """Facial and expiration keys are stable and change with the outcome."""
    assert parse_event(body).dedupe_key == parse_event(dict(body)).dedupe_key == key
    assert parse_event({**body, **changes}).dedupe_key != key


# --------------------------------------------------------------------------- bad payloads


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"APPROVED"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b" " * MAX_WEBHOOK_BYTES + b"{}", "larger than 1048576 bytes"),
        (b'{"hello": "world"}', "matches no known event"),
        (b'{"status": "APPROVED", "final": true, "scanRef": "s"}', "$.status"),
        (b'{"status": {}, "final": true}', "$.scanRef (missing)"),
        (b'{"status": {"fraudTags": [1]}, "scanRef": "s"}', "$.status.fraudTags"),
        (b'{"status": {}, "scanRef": "s", "AML": ["x"]}', "$.AML"),
    ],
)
def test_bad_payloads_raise_webhook_payload_error(body: bytes, reason: str) -> None:
    """Non-JSON, non-object, over-cap and wrong-shape bodies raise WebhookPayloadError."""
    with pytest.raises(WebhookPayloadError) as info:
        parse_event(body)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("IDENTIFICATION", sample("token_response_full.json")),
        ("IDENTIFICATION_AUTO_FINISHED", {"scanRef": "s", "clientId": "c"}),
        ("DOCUMENT_EXPIRATION", sample(GO_SAMPLE)),
        ("FACIAL_AUTHENTICATION", EXPIRATION_BODY),
        ("FACIAL_AUTHENTICATION", sample("status_response_approved.json")),
        ("IDENTIFICATION", sample("error_response_delete_not_expired.json")),
    ],
    ids=["token-response", "ids-only", "identification", "expiration", "status", "error-body"],
)
def test_header_named_event_needs_a_body_of_that_kind(header: str, body: dict[str, Any]) -> None:
    """The unsigned header cannot make another kind of body pass as the event it names."""
    with pytest.raises(WebhookPayloadError, match="is not a"):
        parse_event(json.dumps(body).encode(), header)


def test_body_of_two_kinds_decodes_one_way_whatever_the_header() -> None:
    """Found by the random search: an identification body with an expirationThreshold key
    decoded as either model depending on the header, giving two dedupe keys."""
    body = json.dumps(_go_body(expirationThreshold=None)).encode()
    signature = sign(body, GO_KEY)
    plain = construct_event(body, signature, GO_KEY)
    labelled = construct_event(body, signature, GO_KEY, "IDENTIFICATION")
    assert type(plain) is type(labelled) is IdentificationEvent
    assert plain.dedupe_key == labelled.dedupe_key
    with pytest.raises(WebhookPayloadError, match="is not a DocumentExpirationEvent"):
        construct_event(body, signature, GO_KEY, "DOCUMENT_EXPIRATION")


@pytest.mark.parametrize(
    "signature",
    [GO_SIGNATURE.encode(), 12345, 1.5, [GO_SIGNATURE], {"sig": 1}, object()],
    ids=["bytes", "int", "float", "list", "dict", "object"],
)
def test_signature_of_another_type_is_malformed(signature: Any) -> None:
    """A signature that is not a str is a SignatureVerificationError, not TypeError."""
    with pytest.raises(SignatureVerificationError) as info:
        verify_signature(GO_BODY, signature, GO_KEY)
    assert info.value.reason == "malformed"
    with pytest.raises(SignatureVerificationError):
        construct_event(GO_BODY, signature, GO_KEY)


@pytest.mark.parametrize(
    "key", [5, 1.0, ["k"], "key\ud800"], ids=["int", "float", "list", "lone-surrogate"]
)
def test_signing_key_must_be_text_or_bytes(key: Any) -> None:
    """bytes(5) would be a key of five zero bytes: any other type is a ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        verify_signature(GO_BODY, GO_SIGNATURE, key)
    assert info.value.__context__ is None


@pytest.mark.parametrize("body", [5, None, ["x"]], ids=["int", "none", "list"])
def test_body_must_be_bytes(body: Any) -> None:
    """A body that is not bytes (bytes(5) is five zero bytes) is refused, not signed."""
    with pytest.raises(TypeError):
        verify_signature(body, GO_SIGNATURE, GO_KEY)


def test_event_type_header_as_raw_bytes_is_read() -> None:
    """A raw (ASGI) header value in bytes picks the model like its text."""
    event = parse_event(GO_BODY, b"IDENTIFICATION_MANUAL_FINISHED")  # type: ignore[arg-type]
    assert event.event_type is EventType.IDENTIFICATION_MANUAL_FINISHED
    with pytest.raises(WebhookPayloadError):
        parse_event(GO_BODY, 5)  # type: ignore[arg-type]


def test_unsupported_event_type_is_named_only_when_printable() -> None:
    """An unknown header is echoed only if it looks like an event name."""
    with pytest.raises(WebhookPayloadError, match=r"\(event type amlMonitoring\)"):
        parse_event(b'{"x": 1}', "amlMonitoring")
    with pytest.raises(WebhookPayloadError) as info:
        parse_event(b'{"x": 1}', "<script>" * 20)
    assert "script" not in str(info.value)


def test_payload_error_never_quotes_the_body() -> None:
    """A wrong-typed field is named by path; its value is not repeated."""
    body = _go_body(final="SECRET-VALUE", clientId={"name": "SECRET-NAME"})
    with pytest.raises(WebhookPayloadError) as info:
        parse_event(json.dumps(body))
    text = str(info.value)
    assert "$.final" in text
    assert "$.clientId" in text
    for secret in ("SECRET-VALUE", "SECRET-NAME", *BODY_SECRETS):
        assert secret not in text
        assert secret not in repr(info.value)


def test_mapping_input_is_not_size_capped() -> None:
    """An already decoded object is parsed whatever its size (nothing left to cap)."""
    event = parse_event(_go_body(padding="x" * (MAX_WEBHOOK_BYTES + 1)))
    assert isinstance(event, IdentificationEvent)
