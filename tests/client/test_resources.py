"""The rest of the KYC workflow (reference §3.7-§3.12): wire shapes (respx), retry
rules, validation, files, and what never reaches a repr, a log or an error."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from idenfy_async import AsyncIdenfy, RequestValidationError, RetryPolicy, errors
from idenfy_async.client import (
    Blocklists,
    FaceAuthentication,
    InformationRequests,
    Processing,
    ProofOfAddress,
)
from idenfy_async.models import (
    AdditionalStepUpload,
    BlocklistEntry,
    BlocklistSource,
    FaceAuthCheck,
    FaceAuthCheckType,
    FaceAuthSession,
    FaceAuthToken,
    FaceAuthTokenRequest,
    InformationRequest,
    InformationRequestToken,
    PoaCheck,
    PoaCheckRequest,
    PoaOverallStatus,
    ProcessingRequest,
)

API = "https://ivs.idenfy.com"
AUTH = "Basic " + base64.b64encode(b"test-key:test-secret").decode()
SCAN_REF = "328c6766-934e-11ed-bb9b-025ad99a18e7"
TOKEN = "FaceAuthTokenSecretValue0123456789abcdef"
SESSION_TOKEN = "KycAuthTokenSecretValue0123456789abcdefg"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-body" * 3 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"png-body" * 3
PDF = b"%PDF-1.4\n%fake\n"
GIF = b"GIF89a" + b"\x00" * 10


def bad(value: Any) -> Any:
    """A value of the wrong type, as an untyped caller could pass it."""
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def wire(policy: RetryPolicy) -> Any:
    async with AsyncIdenfy("test-key", "test-secret", retry_policy=policy) as client:
        yield client


# --------------------------------------------------------------------------- wire shape

Call = Callable[[AsyncIdenfy], Awaitable[Any]]

#: (id, method, path with query, call, answer status, answer body, exact JSON body or None)
WIRE: list[tuple[str, str, str, Call, int, Any, Any]] = [
    (
        "face-auth-check",
        "GET",
        f"/identification/facial-auth/{SCAN_REF}/check-status/?method=FACE_MATCHING",
        lambda c: c.face_auth.check(SCAN_REF),
        200,
        {"type": "AUTHENTICATION"},
        None,
    ),
    (
        "face-auth-check-liveness",
        "GET",
        f"/identification/facial-auth/{SCAN_REF}/check-status/?method=ACTIVE_LIVENESS",
        lambda c: c.face_auth.check(SCAN_REF, "ACTIVE_LIVENESS"),
        200,
        {"type": "IDENTIFICATION"},
        None,
    ),
    (
        "face-auth-token-minimal",
        "POST",
        "/partner/authentication-info",
        lambda c: c.face_auth.create_token(SCAN_REF),
        200,
        {"token": TOKEN, "maxAttemptCount": 3},
        {"scanRef": SCAN_REF, "type": "AUTHENTICATION", "method": "FACE_MATCHING"},
    ),
    (
        "face-auth-token-full",
        "POST",
        "/partner/authentication-info",
        lambda c: c.face_auth.create_token(
            SCAN_REF,
            method="ACTIVE_LIVENESS",
            lifetime=600,
            locale="LT",
            generate_digit_string=True,
        ),
        201,
        {"token": TOKEN, "maxAttemptCount": 3, "digitString": "12345678"},
        {
            "scanRef": SCAN_REF,
            "type": "AUTHENTICATION",
            "method": "ACTIVE_LIVENESS",
            "lifetime": 600,
            "locale": "lt",
            "generateDigitString": True,
        },
    ),
    (
        "face-auth-sessions",
        "GET",
        "/api/v2/facial-authentication-sessions/",
        lambda c: c.face_auth.list_sessions(),
        200,
        [{"id": "s-1", "tokenString": TOKEN, "approved": True}],
        None,
    ),
    (
        "face-auth-session",
        "GET",
        f"/api/v2/facial-authentication-sessions/{TOKEN}/",
        lambda c: c.face_auth.get_session(TOKEN),
        200,
        {"id": "s-1", "tokenString": TOKEN, "approved": None},
        None,
    ),
    (
        "request-information",
        "POST",
        f"/kyc/identifications/{SCAN_REF}/request-information/",
        lambda c: c.request_info.create(
            SCAN_REF,
            lifetime=86_400,
            questionnaire="kyc-extra",
            risk_assessment_profile="42",
            additional_step_upload_required=True,
            bank_card_verification=True,
            bank_card_expected_last_four="1234",
        ),
        200,
        {"sessionUrl": "https://ui.idenfy.com/?authToken=x", "tokenString": "x"},
        {
            "lifetime": 86_400,
            "questionnaire": "kyc-extra",
            "riskAssessmentProfile": 42,
            "additionalStepUploadRequired": True,
            "bankCardVerification": True,
            "bankCardExpectedLastFour": "1234",
        },
    ),
    (
        "request-information-empty",
        "POST",
        f"/kyc/identifications/{SCAN_REF}/request-information/",
        lambda c: c.request_info.create(SCAN_REF),
        200,
        {"sessionUrl": "https://ui.idenfy.com/?authToken=x", "tokenString": "x"},
        {},
    ),
    (
        "blocklist-add",
        "POST",
        f"/kyc/identifications/{SCAN_REF}/blocklists/DOCUMENT_INFO/",
        lambda c: c.blocklists.add(SCAN_REF, BlocklistSource.DOCUMENT_INFO, reason="fraud"),
        201,
        {"id": "e-1", "reason": "fraud", "created": "2026-01-01T00:00:00Z"},
        {"reason": "fraud"},
    ),
    (
        "blocklist-add-no-reason",
        "POST",
        f"/kyc/identifications/{SCAN_REF}/blocklists/SELFIE/",
        lambda c: c.blocklists.add(SCAN_REF, "SELFIE"),
        201,
        {"id": SCAN_REF, "reason": None, "created": "x", "faceImageUrl": "https://s3/x"},
        {"reason": None},
    ),
    (
        "blocklist-remove",
        "DELETE",
        f"/kyc/identifications/{SCAN_REF}/blocklists/DOCUMENT/",
        lambda c: c.blocklists.remove(SCAN_REF, "DOCUMENT"),
        204,
        None,
        None,
    ),
    (
        "process",
        "POST",
        "/api/v2/process",
        lambda c: c.processing.process(
            SESSION_TOKEN,
            country="lt",
            document_type="ID_CARD",
            images={"FRONT": JPEG, "FACE": PNG},
        ),
        200,
        None,
        {
            "authToken": SESSION_TOKEN,
            "country": "LT",
            "documentType": "ID_CARD",
            "images": {"FRONT": b64(JPEG), "FACE": b64(PNG)},
        },
    ),
    (
        "process-skip-analysis",
        "POST",
        "/api/v2/process",
        lambda c: c.processing.process(
            ProcessingRequest(
                SESSION_TOKEN,
                country="LT",
                document_type="PASSPORT",
                images={"FRONT": JPEG, "UTILITY_BILL": PNG},
                skip_analysis=True,
            )
        ),
        200,
        None,
        {
            "authToken": SESSION_TOKEN,
            "country": "LT",
            "documentType": "PASSPORT",
            "images": {"FRONT": b64(JPEG), "UTILITY_BILL": b64(PNG)},
            "skipAnalysis": True,
        },
    ),
    (
        "upload-additional-step",
        "POST",
        "/api/v2/upload-additional-step",
        lambda c: c.processing.upload_additional_step(
            SCAN_REF, "UTILITY_BILL", PDF, additional_data={"address": "Main st 1"}
        ),
        200,
        None,
        {
            "scanRef": SCAN_REF,
            "image": b64(PDF),
            "step": "UTILITY_BILL",
            "additionalData": {"address": "Main st 1"},
        },
    ),
    (
        "poa-check",
        "POST",
        "/api/v2/poa-checks/",
        lambda c: c.proof_of_address.check(
            PDF, provided_name="John Doe", provided_address="Main st 1, Vilnius"
        ),
        201,
        {"id": "p-1", "overallStatus": "MATCH", "nameMatch": True, "addressMatch": True},
        {"file": b64(PDF), "providedName": "John Doe", "providedAddress": "Main st 1, Vilnius"},
    ),
]


WIRE.append(
    (
        "poa-check-file-only",
        "POST",
        "/api/v2/poa-checks/",
        lambda c: c.proof_of_address.check(PDF),
        201,
        {"id": "p-1", "overallStatus": "NOT_COMPARED", "nameMatch": None},
        {"file": b64(PDF)},  # providedName/providedAddress optional (issue 19)
    )
)


@pytest.mark.parametrize(
    ("method", "path", "call", "status", "answer", "body"),
    [pytest.param(*row[1:], id=row[0]) for row in WIRE],
)
async def test_wire_shape(
    wire: AsyncIdenfy,
    method: str,
    path: str,
    call: Call,
    status: int,
    answer: Any,
    body: Any,
) -> None:
    """Method, exact path (trailing slash, query), headers and the exact compact JSON body."""
    bare = path.partition("?")[0]
    content = b"" if answer is None else json.dumps(answer).encode()
    with respx.mock(assert_all_called=True) as router:
        route = router.route(method=method, url=API + bare).mock(
            return_value=httpx.Response(status, content=content)
        )
        await call(wire)
    request = route.calls.last.request
    assert request.method == method
    assert request.url.raw_path.decode() == path
    assert request.headers["authorization"] == AUTH
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("idenfy-async/")
    if body is None:
        assert request.content == b""
        assert "content-type" not in request.headers
    else:
        assert request.headers["content-type"] == "application/json"
        compact = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        assert request.content == compact


async def test_answers_are_typed(wire: AsyncIdenfy) -> None:
    with respx.mock() as router:
        router.get(url__startswith=API + "/identification/facial-auth/").respond(
            200, json={"type": "AUTHENTICATION", "extra": 1}
        )
        router.post(API + "/partner/authentication-info").respond(
            200, json={"token": TOKEN, "maxAttemptCount": "3", "digitString": "12345678"}
        )
        router.get(API + "/api/v2/facial-authentication-sessions/").respond(
            200,
            json=[
                {
                    "id": "s-1",
                    "tokenString": TOKEN,
                    "approved": True,
                    "givenScanRef": SCAN_REF,
                    "type": "AUTHENTICATION",
                    "authenticationMethod": "FACE_MATCHING",
                    "facePhoto": "https://s3/face.jpg",
                }
            ],
        )
        router.post(url__regex=r".*/request-information/$").respond(
            200, json={"sessionUrl": "https://ui.idenfy.com/s", "tokenString": "tok"}
        )
        router.post(url__regex=r".*/blocklists/DOCUMENT_INFO/$").respond(
            201,
            json={
                "id": "e-1",
                "fullName": "JOHN DOE",
                "dateOfBirth": "1990-01-01",
                "personalNumber": "39001010000",
                "documentNumber": "AB123",
                "nationality": "LT",
                "reason": "fraud",
                "created": "2026-01-01T00:00:00Z",
            },
        )
        router.post(API + "/api/v2/poa-checks/").respond(
            201, json={"id": "p-1", "overallStatus": "NO_MATCH", "nameMatch": False, "new": 1}
        )
        check = await wire.face_auth.check(SCAN_REF)
        token = await wire.face_auth.create_token(SCAN_REF)
        (session,) = await wire.face_auth.list_sessions()
        info = await wire.request_info.create(SCAN_REF)
        entry = await wire.blocklists.add(SCAN_REF, "DOCUMENT_INFO", reason="fraud")
        poa = await wire.proof_of_address.check(JPEG, provided_name="A", provided_address="B")
    assert check == FaceAuthCheck(type=FaceAuthCheckType.AUTHENTICATION)
    assert check.can_authenticate
    assert check.raw["extra"] == 1
    assert token.token == TOKEN
    assert token.max_attempt_count is None  # "3" is not an integer: lenient, kept in raw
    assert token.raw["maxAttemptCount"] == "3"
    assert token.digit_string == "12345678"
    assert token.scan_ref == SCAN_REF
    assert token.redirect_url == f"https://face.authentication.idenfy.com/?token={TOKEN}"
    assert session.approved is True
    assert session.authentication_method == "FACE_MATCHING"
    assert session.given_scan_ref == SCAN_REF
    assert info == InformationRequestToken(
        session_url="https://ui.idenfy.com/s", token_string="tok", scan_ref=SCAN_REF
    )
    assert entry.full_name == "JOHN DOE"
    assert entry.document_number == "AB123"
    assert poa.overall_status is PoaOverallStatus.NO_MATCH
    assert poa.name_match is False
    assert poa.raw["new"] == 1
    for secret in ("JOHN DOE", "AB123", "39001010000"):
        assert secret not in repr(entry)
    assert TOKEN not in repr(token)
    assert "12345678" not in repr(token)
    assert TOKEN not in repr(session)
    assert "tok" not in repr(info).replace("token_string", "")


@pytest.mark.parametrize(
    ("call", "route_path", "content", "reason"),
    [
        pytest.param(
            lambda c: c.face_auth.create_token(SCAN_REF),
            "/partner/authentication-info",
            b'{"maxAttemptCount": 3}',
            "token missing",
            id="token-missing",
        ),
        pytest.param(
            lambda c: c.request_info.create(SCAN_REF),
            f"/kyc/identifications/{SCAN_REF}/request-information/",
            b'{"tokenString": "x"}',
            "sessionUrl missing",
            id="session-url-missing",
        ),
        pytest.param(
            lambda c: c.face_auth.check(SCAN_REF),
            f"/identification/facial-auth/{SCAN_REF}/check-status/",
            b'{"detail": "x"}',
            "no type",
            id="check-other-object",
        ),
        pytest.param(
            lambda c: c.face_auth.list_sessions(),
            "/api/v2/facial-authentication-sessions/",
            b'{"detail": "x"}',
            "not a list",
            id="sessions-object",
        ),
        pytest.param(
            lambda c: c.blocklists.add(SCAN_REF, "SELFIE"),
            f"/kyc/identifications/{SCAN_REF}/blocklists/SELFIE/",
            b'{"detail": "x"}',
            "blocklist entry",
            id="entry-other-object",
        ),
        pytest.param(
            lambda c: c.proof_of_address.check(PNG, provided_name="A", provided_address="B"),
            "/api/v2/poa-checks/",
            b'{"overallStatus": 5}',
            "overallStatus",
            id="poa-mistyped",
        ),
    ],
)
async def test_unreadable_answers_are_decode_errors(
    wire: AsyncIdenfy, call: Call, route_path: str, content: bytes, reason: str
) -> None:
    """A 2xx of another kind is a ResponseDecodeError, not an empty result; a paid
    call's unreadable answer is ambiguous and not retried."""
    with respx.mock() as router:
        route = router.route(url__startswith=API + route_path).respond(200, content=content)
        with pytest.raises(errors.ResponseDecodeError) as info:
            await call(wire)
    assert route.call_count == 1
    assert reason in str(info.value)


# --------------------------------------------------------------------------- retry

CREATES: list[tuple[str, str, str, Call, int, Any]] = [
    (row[0], row[1], row[2].partition("?")[0], row[3], row[4], row[5])
    for row in WIRE
    if row[1] != "GET"
]
READS: list[tuple[str, str, str, Call, int, Any]] = [
    (row[0], row[1], row[2].partition("?")[0], row[3], row[4], row[5])
    for row in WIRE
    if row[1] == "GET"
]


def _answer(status: int, answer: Any) -> httpx.Response:
    return httpx.Response(status, content=b"" if answer is None else json.dumps(answer).encode())


@pytest.mark.parametrize(
    ("method", "path", "call", "status", "answer"), [pytest.param(*r[1:], id=r[0]) for r in CREATES]
)
async def test_state_changing_calls_do_not_retry_an_ambiguous_failure(
    wire: AsyncIdenfy, method: str, path: str, call: Call, status: int, answer: Any
) -> None:
    """A 500 may have been processed (a credit spent): raised at once, ambiguous."""
    with respx.mock() as router:
        route = router.route(method=method, url=API + path).mock(
            side_effect=[
                httpx.Response(500, json={"identifier": "INTERNAL_ERROR", "message": "x"}),
                _answer(status, answer),
            ]
        )
        with pytest.raises(errors.ServerError) as info:
            await call(wire)
    assert route.call_count == 1
    assert info.value.outcome_unknown is True


@pytest.mark.parametrize(
    ("method", "path", "call", "status", "answer"), [pytest.param(*r[1:], id=r[0]) for r in CREATES]
)
async def test_state_changing_calls_retry_what_was_never_sent(
    wire: AsyncIdenfy, method: str, path: str, call: Call, status: int, answer: Any
) -> None:
    """A connect error provably did nothing: retried, then the call succeeds."""
    with respx.mock() as router:
        route = router.route(method=method, url=API + path).mock(
            side_effect=[httpx.ConnectError("refused"), _answer(status, answer)]
        )
        await call(wire)
    assert route.call_count == 2


async def test_retry_unknown_opt_in(policy: RetryPolicy) -> None:
    async with AsyncIdenfy(
        "test-key", "test-secret", retry_policy=policy, retry_unknown=True
    ) as client:
        with respx.mock() as router:
            route = router.post(API + "/partner/authentication-info").mock(
                side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={"token": "t"})]
            )
            token = await client.face_auth.create_token(SCAN_REF)
    assert route.call_count == 2
    assert token.token == "t"


@pytest.mark.parametrize(
    ("method", "path", "call", "status", "answer"), [pytest.param(*r[1:], id=r[0]) for r in READS]
)
async def test_reads_retry_transient_failures(
    wire: AsyncIdenfy, method: str, path: str, call: Call, status: int, answer: Any
) -> None:
    with respx.mock() as router:
        route = router.route(method=method, url=API + path).mock(
            side_effect=[httpx.ReadTimeout("slow"), httpx.Response(502), _answer(status, answer)]
        )
        await call(wire)
    assert route.call_count == 3


async def test_get_session_errors_never_name_the_token(
    wire: AsyncIdenfy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="idenfy_async")
    with respx.mock() as router:
        router.get(url__startswith=API + "/api/v2/facial-authentication-sessions/").mock(
            side_effect=[httpx.Response(503), httpx.Response(404, json={"detail": "Not found."})]
        )
        with pytest.raises(errors.NotFoundError) as info:
            await wire.face_auth.get_session(TOKEN)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert info.value.path == "/api/v2/facial-authentication-sessions/{tokenString}/"
    assert TOKEN not in caplog.text


# --------------------------------------------------------------------------- validation

INVALID: list[tuple[str, Callable[[], Any], str, str]] = [
    ("token-no-scan-ref", lambda: FaceAuthTokenRequest(""), "scanRef", "must not be empty"),
    ("token-long-scan-ref", lambda: FaceAuthTokenRequest("x" * 41), "scanRef", "at most 40"),
    ("token-method", lambda: FaceAuthTokenRequest("s", method="SELFIE"), "method", "one of"),
    ("token-lifetime-0", lambda: FaceAuthTokenRequest("s", lifetime=0), "lifetime", "between"),
    (
        "token-lifetime-big",
        lambda: FaceAuthTokenRequest("s", lifetime=2_592_001),
        "lifetime",
        "between",
    ),
    (
        "token-lifetime-str",
        lambda: FaceAuthTokenRequest("s", lifetime=bad("60")),
        "lifetime",
        "integer",
    ),
    ("token-locale", lambda: FaceAuthTokenRequest("s", locale="english"), "locale", "ISO 639-1"),
    (
        "token-digits",
        lambda: FaceAuthTokenRequest("s", generate_digit_string=bad("yes")),
        "generateDigitString",
        "true or false",
    ),
    ("info-lifetime", lambda: InformationRequest("s", lifetime=-1), "lifetime", "between"),
    (
        "info-last-four",
        lambda: InformationRequest("s", bank_card_expected_last_four="123"),
        "bankCardExpectedLastFour",
        "exactly 4 digits",
    ),
    (
        "info-last-four-int",
        lambda: InformationRequest("s", bank_card_expected_last_four=bad(1234)),
        "bankCardExpectedLastFour",
        "exactly 4 digits",
    ),
    (
        "info-profile",
        lambda: InformationRequest("s", risk_assessment_profile="x"),
        "riskAssessmentProfile",
        "UUID",
    ),
    (
        "info-bool",
        lambda: InformationRequest("s", bank_card_verification=bad(1)),
        "bankCardVerification",
        "true or false",
    ),
    (
        "info-questionnaire-surrogate",
        lambda: InformationRequest("s", questionnaire="\ud800"),
        "questionnaire",
        "Unicode",
    ),
    (
        "process-country",
        lambda: ProcessingRequest("t", country="XX", document_type="ID_CARD", images={"F": JPEG}),
        "country",
        "alpha-2",
    ),
    (
        "process-document-type",
        lambda: ProcessingRequest("t", country="LT", document_type="VISA", images={"F": JPEG}),
        "documentType",
        "one of",
    ),
    (
        "process-token",
        lambda: ProcessingRequest("a b", country="LT", document_type="ID_CARD", images={"F": JPEG}),
        "authToken",
        "printable",
    ),
    (
        "process-no-images",
        lambda: ProcessingRequest("t", country="LT", document_type="ID_CARD", images={}),
        "images",
        "at least one",
    ),
    (
        "process-image-key",
        lambda: ProcessingRequest(
            "t", country="LT", document_type="ID_CARD", images={"FRONT SIDE": JPEG}
        ),
        "images",
        "step name",
    ),
    (
        "process-image-type",
        lambda: ProcessingRequest("t", country="LT", document_type="ID_CARD", images={"FACE": 5}),
        "images.FACE",
        "bytes, a file path",
    ),
    (
        "process-image-empty",
        lambda: ProcessingRequest("t", country="LT", document_type="ID_CARD", images={"FACE": b""}),
        "images.FACE",
        "empty",
    ),
    (
        "step-name",
        lambda: AdditionalStepUpload("s", step="utility bill", image=PDF),
        "step",
        "step name",
    ),
    (
        "step-data",
        lambda: AdditionalStepUpload("s", step="UTILITY_BILL", image=PDF, additional_data=[1]),
        "additionalData",
        "object",
    ),
    (
        "poa-name",
        lambda: PoaCheckRequest(PDF, provided_name="x" * 256, provided_address="a"),
        "providedName",
        "at most 255",
    ),
    (
        "poa-address",
        lambda: PoaCheckRequest(PDF, provided_name="x", provided_address=""),
        "providedAddress",
        "empty",
    ),
    (
        "poa-file",
        lambda: PoaCheckRequest(bad(None), provided_name="x", provided_address="y"),
        "file",
        "is required",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "rule"), [pytest.param(*r[1:], id=r[0]) for r in INVALID]
)
def test_requests_validated_at_construction(
    build: Callable[[], Any], field: str, rule: str
) -> None:
    with pytest.raises(RequestValidationError) as info:
        build()
    assert info.value.fields == (field,)
    assert rule in info.value.problems[0].rule


CALL_INVALID: list[tuple[str, Call, str]] = [
    ("check-scan-ref", lambda c: c.face_auth.check(""), "scanRef"),
    ("check-method", lambda c: c.face_auth.check("s", "SELFIE"), "method"),
    ("check-method-unhashable", lambda c: c.face_auth.check("s", bad(["x"])), "method"),
    ("blocklist-source-unhashable", lambda c: c.blocklists.add("s", bad({})), "blocklistSource"),
    ("session-token", lambda c: c.face_auth.get_session("a/b c"), "tokenString"),
    ("blocklist-source", lambda c: c.blocklists.add("s", "PASSPORT"), "blocklistSource"),
    ("blocklist-scan-ref", lambda c: c.blocklists.remove(bad(None), "SELFIE"), "scanRef"),
    ("blocklist-reason", lambda c: c.blocklists.add("s", "SELFIE", reason=bad(5)), "reason"),
    ("process-kwargs", lambda c: c.processing.process("t", images={"F": JPEG}), "country"),
    (
        "process-gif",
        lambda c: c.processing.process(
            "t", country="LT", document_type="ID_CARD", images={"FRONT": GIF}
        ),
        "images.FRONT",
    ),
    (
        "upload-gif",
        lambda c: c.processing.upload_additional_step("s", "UTILITY_BILL", GIF),
        "image",
    ),
    (
        "poa-gif",
        lambda c: c.proof_of_address.check(GIF, provided_name="A", provided_address="B"),
        "file",
    ),
    (
        "poa-missing-path",
        lambda c: c.proof_of_address.check(
            "/nonexistent/secret-name.pdf", provided_name="A", provided_address="B"
        ),
        "file",
    ),
]


@pytest.mark.parametrize(("call", "field"), [pytest.param(*r[1:], id=r[0]) for r in CALL_INVALID])
async def test_bad_calls_send_nothing(wire: AsyncIdenfy, call: Call, field: str) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        with pytest.raises(RequestValidationError) as info:
            await call(wire)
        assert not router.calls
    assert field in info.value.fields
    assert "secret-name" not in str(info.value)


# --------------------------------------------------------------------------- files


async def test_images_from_paths_and_files_are_read_off_the_loop(
    wire: AsyncIdenfy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front = tmp_path / "front.jpg"
    front.write_bytes(JPEG)
    threads: list[str] = []
    real = asyncio.to_thread

    async def to_thread(func: Callable[..., Any], /, *args: Any) -> Any:
        threads.append(func.__name__)
        return await real(func, *args)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    with respx.mock() as router:
        route = router.post(API + "/api/v2/process").respond(200)
        await wire.processing.process(
            SESSION_TOKEN,
            country="LT",
            document_type="ID_CARD",
            images={"FRONT": front, "BACK": str(front), "FACE": io.BytesIO(PNG)},
        )
    sent = json.loads(route.calls.last.request.content)["images"]
    assert sent == {"FRONT": b64(JPEG), "BACK": b64(JPEG), "FACE": b64(PNG)}
    assert threads == ["_read_bounded"] * 3


async def test_an_image_over_6_mb_as_base64_is_refused_before_sending(
    wire: AsyncIdenfy, tmp_path: Path
) -> None:
    """4,500,000 bytes encode to exactly 6,000,000: allowed; one byte more is not."""
    exact = JPEG[:4] + b"\x00" * (4_500_000 - 4)
    big = tmp_path / "big.jpg"
    big.write_bytes(exact + b"\x00")
    with respx.mock() as router:
        route = router.post(API + "/api/v2/process").respond(200)
        await wire.processing.process(
            "t", country="LT", document_type="ID_CARD", images={"FRONT": exact}
        )
        assert len(json.loads(route.calls.last.request.content)["images"]["FRONT"]) == 6_000_000
        for source in (exact + b"\x00", big, io.BytesIO(exact + b"\x00")):
            with pytest.raises(RequestValidationError) as info:
                await wire.processing.process(
                    "t", country="LT", document_type="ID_CARD", images={"FRONT": source}
                )
            assert info.value.fields == ("images.FRONT",)
            assert "6,000,000" in str(info.value) or "4,500,000" in str(info.value)
    assert route.call_count == 1


async def test_the_whole_request_over_20_mb_is_refused(wire: AsyncIdenfy) -> None:
    image = JPEG[:4] + b"\x00" * (4_000_000 - 4)
    images = dict.fromkeys(("FRONT", "BACK", "FACE", "UTILITY_BILL"), image)
    with respx.mock(assert_all_called=False) as router:
        route = router.post(API + "/api/v2/process").respond(200)
        with pytest.raises(RequestValidationError) as info:
            await wire.processing.process("t", country="LT", document_type="ID_CARD", images=images)
    assert info.value.fields == ("images",)
    assert "20,000,000" in str(info.value)
    assert route.call_count == 0


def test_images_never_in_repr() -> None:
    request = ProcessingRequest(
        SESSION_TOKEN, country="LT", document_type="ID_CARD", images={"FRONT": JPEG}
    )
    shown = repr(request)
    assert SESSION_TOKEN not in shown
    assert "jpeg-body" not in shown
    assert "FRONT" in shown
    upload = AdditionalStepUpload("s", step="UTILITY_BILL", image=PDF)
    assert "fake" not in repr(upload)
    poa = PoaCheckRequest(PDF, provided_name="John Secret", provided_address="Secret st")
    assert "Secret" not in repr(poa)


async def test_image_bytes_never_in_errors_or_logs(
    wire: AsyncIdenfy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with respx.mock() as router:
        router.post(API + "/api/v2/process").mock(
            side_effect=[
                httpx.Response(429, json={"identifier": "TOO_MANY_REQUESTS", "message": "x"}),
                httpx.Response(400, json={"identifier": "BAD_VALUE", "message": "bad image"}),
            ]
        )
        with pytest.raises(errors.BadRequestError) as info:
            await wire.processing.process(
                SESSION_TOKEN, country="LT", document_type="ID_CARD", images={"FRONT": JPEG}
            )
    for text in (str(info.value), repr(info.value), caplog.text):
        assert b64(JPEG) not in text
        assert SESSION_TOKEN not in text


# --------------------------------------------------------------------------- wiring


async def test_resources_are_attributes_of_the_client(wire: AsyncIdenfy) -> None:
    assert isinstance(wire.face_auth, FaceAuthentication)
    assert isinstance(wire.request_info, InformationRequests)
    assert isinstance(wire.blocklists, Blocklists)
    assert isinstance(wire.processing, Processing)
    assert isinstance(wire.proof_of_address, ProofOfAddress)
    assert wire.face_auth is wire.face_auth  # one per client


async def test_a_closed_client_sends_nothing(policy: RetryPolicy) -> None:
    client = AsyncIdenfy("test-key", "test-secret", retry_policy=policy)
    await client.aclose()
    with pytest.raises(errors.ClientClosedError):
        await client.face_auth.check(SCAN_REF)


def test_models_compare_without_raw() -> None:
    assert BlocklistEntry(id="1", raw={"a": 1}) == BlocklistEntry(id="1")
    assert FaceAuthSession(id="1") != FaceAuthSession(id="2")
    assert PoaCheck(id="p") == PoaCheck(id="p", raw={"x": 1})
    assert FaceAuthToken(token="t").iframe_url.endswith("?token=t")
