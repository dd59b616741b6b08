"""The rest of the KYC workflow against FakeIdenfy: each flow end to end, in-process
and once over TCP (FakeIdenfyServer)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from idenfy_async import (
    AsyncIdenfy,
    BadRequestError,
    FacialAuthenticationEvent,
    IdentificationEvent,
    NotFoundError,
    RequestValidationError,
    RetryPolicy,
    ServerError,
    TokenNotValidError,
)
from idenfy_async.models import EventType, FaceAuthCheckType, PoaOverallStatus
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer, Fault
from idenfy_async.webhooks import construct_event

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-body" * 3 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"png-body" * 3
PDF = b"%PDF-1.4\n%fake\n"
KEY = "webhook-signing-key"


async def approved(client: AsyncIdenfy, fake: FakeIdenfy, client_id: str, **data: Any) -> str:
    session = await client.create_session(client_id=client_id)
    fake.complete(session.scan_ref, "APPROVED", data=data or None)
    return session.scan_ref


class Receiver:
    """A webhook endpoint (an httpx transport): verifies, parses and keeps each event."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            event = construct_event(
                request.content,
                request.headers.get("Idenfy-Signature"),
                KEY,
                event_type=request.headers.get("Idenfy-Event-Type"),
            )
            self.events.append(event)
            return httpx.Response(200)

        return httpx.MockTransport(handle)


# --------------------------------------------------------------------------- face authentication


async def test_face_authentication_flow(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    scan_ref = await approved(client, fake, "returning-user")
    check = await client.face_auth.check(scan_ref)
    assert check.type is FaceAuthCheckType.AUTHENTICATION
    assert check.can_authenticate

    token = await client.face_auth.create_token(scan_ref, lifetime=600, generate_digit_string=True)
    assert token.max_attempt_count == 3
    assert token.digit_string is not None
    assert len(token.digit_string) == 8
    assert token.redirect_url.startswith("https://face.authentication.idenfy.com/?token=")
    pending = await client.face_auth.get_session(token.token)
    assert pending.approved is None
    assert pending.given_scan_ref == scan_ref

    fake.kyc.complete_face_auth(token.token, approved=True)
    receiver = Receiver()
    status = await fake.kyc.send_face_auth_webhook(
        token.token,
        signing_key=KEY,
        url="https://app.example/hooks",
        transport=receiver.transport(),
    )
    assert status == 200
    (event,) = receiver.events
    assert isinstance(event, FacialAuthenticationEvent)
    assert event.event_type is EventType.FACIAL_AUTHENTICATION
    assert event.scan_ref == scan_ref
    assert event.approved is True
    assert event.method == "FACE_MATCHING"
    assert fake.webhooks[-1].event_type == "FACIAL_AUTHENTICATION"

    done = await client.face_auth.get_session(token.token)
    assert done.approved is True
    assert done.face_photo is not None
    (listed,) = await client.face_auth.list_sessions()
    assert listed.id == done.id


async def test_face_authentication_failed(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    scan_ref = await approved(client, fake, "returning-user")
    token = await client.face_auth.create_token(scan_ref, method="ACTIVE_LIVENESS")
    fake.kyc.complete_face_auth(token.token, approved=False)
    payload = fake.kyc.face_auth_webhook_payload(token.token)
    assert payload["status"] == "Failed"  # the contract's case
    assert payload["failReason"] == "FACE_MISMATCH"
    assert (await client.face_auth.get_session(token.token)).approved is False


@pytest.mark.parametrize("outcome", ["DENIED", "SUSPECTED", "EXPIRED"])
async def test_only_an_approved_scan_ref_can_authenticate(
    client: AsyncIdenfy, fake: FakeIdenfy, outcome: str
) -> None:
    session = await client.create_session(client_id="user")
    assert (await client.face_auth.check(session.scan_ref)).type == "IDENTIFICATION"
    fake.complete(session.scan_ref, outcome)
    assert not (await client.face_auth.check(session.scan_ref)).can_authenticate
    with pytest.raises(BadRequestError):
        await client.face_auth.create_token(session.scan_ref)
    assert fake.kyc.face_sessions == []


async def test_unknown_or_deleted_scan_ref_is_not_found(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    with pytest.raises(NotFoundError):
        await client.face_auth.check("no-such-scan-ref")
    scan_ref = await approved(client, fake, "user")
    await client.delete_verification(scan_ref)
    with pytest.raises(NotFoundError):
        await client.face_auth.check(scan_ref)
    with pytest.raises(NotFoundError):
        await client.face_auth.get_session("x" * 40)


async def test_an_ambiguous_token_failure_is_not_retried(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    """iDenfy made the token (a credit spent) but the answer was a 500: raised, ambiguous,
    and no second token is made."""
    scan_ref = await approved(client, fake, "user")
    fake.fail_next(Fault(status=500, identifier="INTERNAL_ERROR", create=True))
    with pytest.raises(ServerError) as info:
        await client.face_auth.create_token(scan_ref)
    assert info.value.outcome_unknown is True
    assert len(fake.kyc.face_sessions) == 1  # made once, not twice


async def test_a_connect_error_is_retried(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    scan_ref = await approved(client, fake, "user")
    fake.fail_next(Fault(error=httpx.ConnectError))
    await client.face_auth.create_token(scan_ref)
    assert len(fake.kyc.face_sessions) == 1


# --------------------------------------------------------------------------- request information


async def test_request_information_and_resubmission(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    session = await client.create_session(client_id="user")
    with pytest.raises(BadRequestError):  # not finished yet
        await client.request_info.create(session.scan_ref)
    fake.complete(session.scan_ref, "SUSPECTED", mismatch_tags=["UTILITY_ADDRESS"])
    answer = await client.request_info.create(
        session.scan_ref, additional_step_upload_required=True, lifetime=3600
    )
    assert answer.scan_ref == session.scan_ref
    assert answer.token_string is not None
    assert answer.token_string in answer.session_url
    (recorded,) = fake.kyc.information_requests
    assert recorded.request == {"additionalStepUploadRequired": True, "lifetime": 3600}

    fake.kyc.resubmit(session.scan_ref, "APPROVED")
    receiver = Receiver()
    await fake.send_webhook(
        session.scan_ref,
        signing_key=KEY,
        url="https://app.example/hooks",
        event_type="IDENTIFICATION_RESUBMITTED",
        transport=receiver.transport(),
    )
    (event,) = receiver.events
    assert isinstance(event, IdentificationEvent)
    assert event.event_type is EventType.IDENTIFICATION_RESUBMITTED
    assert event.status.overall == "APPROVED"
    assert (await client.get_status(session.scan_ref)).status == "APPROVED"
    with pytest.raises(KeyError):
        fake.kyc.resubmit(session.scan_ref)  # answered already


async def test_request_information_for_unknown_scan_ref(client: AsyncIdenfy) -> None:
    with pytest.raises(NotFoundError):
        await client.request_info.create("no-such-scan-ref")


# --------------------------------------------------------------------------- blocklists


@pytest.mark.parametrize(
    ("source", "tag"),
    [("DOCUMENT_INFO", "DATA_IN_BLACKLIST"), ("DOCUMENT", "DOC_FACE_IN_BLACKLIST")],
)
async def test_a_blocklisted_document_makes_a_later_verification_suspected(
    client: AsyncIdenfy, fake: FakeIdenfy, source: str, tag: str
) -> None:
    first = await approved(client, fake, "fraudster", docNumber="AB123456")
    entry = await client.blocklists.add(first, source, reason="forged document")
    assert entry.reason == "forged document"
    assert entry.id is not None

    again = await client.create_session(client_id="someone-else")
    fake.complete(again.scan_ref, "APPROVED", data={"docNumber": "AB123456"})
    status = await client.get_status(again.scan_ref)
    assert status.status == "SUSPECTED"
    assert tag in status.fraud_tags
    other = await approved(client, fake, "honest", docNumber="ZZ000000")
    assert (await client.get_status(other)).status == "APPROVED"

    await client.blocklists.remove(first, source)
    later = await approved(client, fake, "third", docNumber="AB123456")
    assert (await client.get_status(later)).status == "APPROVED"
    with pytest.raises(NotFoundError):
        await client.blocklists.remove(first, source)


async def test_a_blocklisted_selfie_matches_the_same_person(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    first = await approved(client, fake, "same-face")
    entry = await client.blocklists.add(first, "SELFIE")
    assert entry.face_image_url is not None
    second = await approved(client, fake, "same-face")
    status = await client.get_status(second)
    assert status.status == "SUSPECTED"
    assert "FACE_IN_BLACKLIST" in status.fraud_tags


async def test_document_info_entry_carries_the_data(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    first = await approved(client, fake, "user", docNumber="AB1")
    entry = await client.blocklists.add(first, "DOCUMENT_INFO")
    assert entry.document_number == "AB1"
    assert entry.full_name == "JOHN DOE"
    assert "AB1" not in repr(entry)


# --------------------------------------------------------------------------- processing


async def test_direct_processing_moves_the_session_to_a_result(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    session = await client.create_session(client_id="user")
    await client.processing.process(
        session.auth_token,
        country="LT",
        document_type="PASSPORT",
        images={"FRONT": JPEG, "FACE": PNG},
    )
    status = await client.get_status(session.scan_ref)
    assert status.status == "APPROVED"
    data = await client.get_data(session.scan_ref)
    assert data.doc_type == "PASSPORT"
    with pytest.raises(TokenNotValidError):  # the token is used up
        await client.processing.process(
            session.auth_token, country="LT", document_type="PASSPORT", images={"FRONT": JPEG}
        )


async def test_processing_needs_front_and_face(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    session = await client.create_session(client_id="user")
    with pytest.raises(BadRequestError) as info:
        await client.processing.process(
            session.auth_token, country="LT", document_type="ID_CARD", images={"FRONT": JPEG}
        )
    assert info.value.identifier == "MISSING_VALUE"
    assert fake.session(session.scan_ref).status == "ACTIVE"


async def test_processing_a_blocklisted_document_is_suspected(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    first = await approved(client, fake, "x", docNumber="SAME-NO")
    await client.blocklists.add(first, "DOCUMENT_INFO")
    session = await client.create_session(client_id="y", document_number="SAME-NO")
    await client.processing.process(
        session.auth_token,
        country="LT",
        document_type="ID_CARD",
        images={"FRONT": JPEG, "FACE": PNG},
    )
    assert (await client.get_status(session.scan_ref)).status == "SUSPECTED"


async def test_additional_step_upload(client: AsyncIdenfy, fake: FakeIdenfy) -> None:
    scan_ref = await approved(client, fake, "user")
    await client.processing.upload_additional_step(
        scan_ref, "UTILITY_BILL", PDF, additional_data={"address": "Main st 1"}
    )
    assert fake.kyc.uploads == [(scan_ref, "UTILITY_BILL", PDF)]
    files = await client.get_files(scan_ref)
    assert "UTILITY_BILL" in files
    with pytest.raises(NotFoundError):
        await client.processing.upload_additional_step("no-such-scan-ref", "UTILITY_BILL", PDF)


# --------------------------------------------------------------------------- proof of address


@pytest.mark.parametrize(
    ("name", "address", "verdict"),
    [
        ("John  Doe", "gedimino pr. 1, Vilnius", PoaOverallStatus.MATCH),
        ("Jane Doe", "Gedimino pr. 1, Vilnius", PoaOverallStatus.NO_MATCH),
    ],
)
async def test_proof_of_address(
    client: AsyncIdenfy, fake: FakeIdenfy, name: str, address: str, verdict: PoaOverallStatus
) -> None:
    result = await client.proof_of_address.check(PDF, provided_name=name, provided_address=address)
    assert result.overall_status is verdict
    assert result.address_match is True
    assert result.provided_name == name
    assert len(fake.kyc.poa_checks) == 1


@pytest.mark.parametrize(
    ("given", "verdict", "name_match"),
    [
        ({}, PoaOverallStatus.NOT_COMPARED, None),
        ({"provided_name": "john doe"}, PoaOverallStatus.MATCH, True),
        ({"provided_address": "Elsewhere 2"}, PoaOverallStatus.NO_MATCH, None),
    ],
)
async def test_proof_of_address_with_the_file_alone(
    client: AsyncIdenfy,
    fake: FakeIdenfy,
    given: dict[str, Any],
    verdict: PoaOverallStatus,
    name_match: bool | None,
) -> None:
    """Issue 19: only ``file`` is required (kyc OpenAPI, PoaCheckDetailRequest)."""
    result = await client.proof_of_address.check(PDF, **given)
    assert result.overall_status is verdict
    assert result.name_match is name_match
    assert result.name == fake.kyc.poa_document[0]  # read off the document
    assert result.provided_name == given.get("provided_name")


async def test_the_fake_refuses_what_the_client_would_not_send(fake: FakeIdenfy) -> None:
    """Raw requests that bypass the client's checks get iDenfy's error shapes."""
    async with httpx.AsyncClient(
        transport=fake, base_url="https://ivs.idenfy.com", auth=("test-key", "test-secret")
    ) as raw:
        token = await raw.post("/partner/authentication-info", json={"scanRef": ""})
        poa = await raw.post("/api/v2/poa-checks/", json={"file": "not base64!"})
        wrong = await raw.put("/kyc/identifications/x/blocklists/SELFIE/")
        source = await raw.post("/kyc/identifications/x/blocklists/PASSPORT/", json={})
    assert token.status_code == 400
    assert token.json()["identifier"] == "MISSING_VALUE" or "scanRef" in token.json()["message"]
    assert poa.status_code == 400
    assert wrong.status_code == 405
    assert source.status_code == 400


async def test_client_validation_happens_before_the_fake(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    requests = fake.requests
    with pytest.raises(RequestValidationError):
        await client.face_auth.create_token("x" * 41)
    assert fake.requests == requests


# --------------------------------------------------------------------------- over TCP


async def test_flows_over_tcp(policy: RetryPolicy) -> None:
    """Face authentication, a blocklist and direct processing through FakeIdenfyServer."""
    server = FakeIdenfyServer(seed=3)
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url, retry_policy=policy) as client,
    ):
        fake = server.fake
        first = await asyncio.wait_for(approved(client, fake, "tcp-user", docNumber="TCP1"), 5)
        check = await asyncio.wait_for(client.face_auth.check(first), 5)
        assert check.can_authenticate
        token = await asyncio.wait_for(client.face_auth.create_token(first), 5)
        fake.kyc.complete_face_auth(token.token)
        assert (await asyncio.wait_for(client.face_auth.get_session(token.token), 5)).approved
        await asyncio.wait_for(client.blocklists.add(first, "DOCUMENT_INFO", reason="test"), 5)
        second = await asyncio.wait_for(
            client.create_session(client_id="tcp-2", document_number="TCP1"), 5
        )
        await asyncio.wait_for(
            client.processing.process(
                second.auth_token,
                country="LT",
                document_type="ID_CARD",
                images={"FRONT": JPEG, "FACE": PNG},
            ),
            5,
        )
        status = await asyncio.wait_for(client.get_status(second.scan_ref), 5)
        assert status.status == "SUSPECTED"
        await asyncio.wait_for(client.blocklists.remove(first, "DOCUMENT_INFO"), 5)
        assert fake.kyc.blocklist == []
