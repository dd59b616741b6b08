"""FakeIdenfy through the whole flow: create, complete, read results, receive the webhook."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import attrs
import httpx
import pytest

from idenfy_async import (
    AsyncIdenfy,
    EventType,
    FraudTag,
    IdentificationEvent,
    OverallStatus,
    SignatureVerificationError,
    webhooks,
)
from idenfy_async.testing import FakeIdenfy, Fault

SIGNING_KEY = "whsec-test-key"
CALLBACK = "https://shop.example/idenfy/webhook"
AUTH = "Basic " + base64.b64encode(b"test-key:test-secret").decode()


class Receiver:
    """A webhook endpoint behind httpx.MockTransport: keeps each request, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)

    def event(self, index: int = -1) -> IdentificationEvent:
        """The delivered webhook, verified with the shared key, then parsed."""
        request = self.requests[index]
        event = webhooks.construct_event(
            request.content,
            request.headers.get(webhooks.SIGNATURE_HEADER),
            SIGNING_KEY,
            event_type=request.headers.get(webhooks.EVENT_TYPE_HEADER),
        )
        assert isinstance(event, IdentificationEvent)
        return event


async def test_create_complete_read_and_receive_agree(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """After complete(), status, data, files, the listing and the signed webhook agree."""
    session = await client.create_session(
        client_id="user-7", first_name="Ona", last_name="Zyxwv", callback_url=CALLBACK
    )
    fake.complete(session.scan_ref, "APPROVED")

    status = await client.get_status(session.scan_ref)
    data = await client.get_data(session.scan_ref)
    files = await client.get_files(session.scan_ref)
    [listed] = [s async for s in client.list_verifications("user-7")]
    receiver = Receiver()
    delivered = await fake.send_webhook(
        session.scan_ref, signing_key=SIGNING_KEY, transport=receiver.transport
    )

    assert delivered == 200
    [request] = receiver.requests
    assert str(request.url) == CALLBACK
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers[webhooks.EVENT_TYPE_HEADER] == "IDENTIFICATION_AUTO_FINISHED"
    assert request.headers[webhooks.SIGNATURE_HEADER] == webhooks.sign(request.content, SIGNING_KEY)
    assert "authorization" not in request.headers
    event = receiver.event()

    assert event.event_type == EventType.IDENTIFICATION_AUTO_FINISHED
    assert event.final is True
    assert (
        event.scan_ref,
        event.client_id,
        status.scan_ref,
        status.client_id,
        listed.scan_ref,
    ) == (session.scan_ref, "user-7", session.scan_ref, "user-7", session.scan_ref)
    assert event.status.overall == status.status == listed.status == OverallStatus.APPROVED
    assert event.status.auto_document == status.auto_document
    assert event.status.auto_face == status.auto_face
    assert listed.suspected is False
    # The webhook's data object names no scanRef/clientId (they are top-level there).
    assert event.data == attrs.evolve(data, scan_ref=None, client_id=None)
    assert (data.doc_first_name, data.doc_last_name, data.full_name) == (
        "ONA",
        "ZYXWV",
        "ONA ZYXWV",
    )
    assert dict(event.file_urls or {}) == dict(files)
    assert event.dedupe_key == (
        f"{session.scan_ref}|IDENTIFICATION|true|APPROVED|{event.raw['finishTime']}"
    )
    [record] = fake.webhooks
    assert (record.scan_ref, record.url, record.status_code) == (session.scan_ref, CALLBACK, 200)
    assert record.body == request.content


@pytest.mark.parametrize(
    ("outcome", "kwargs", "expected"),
    [
        pytest.param("APPROVED", {}, ("DOC_VALIDATED", "FACE_MATCH", (), (), False), id="approved"),
        pytest.param("DENIED", {}, ("DOC_VALIDATED", "FACE_MISMATCH", (), (), False), id="denied"),
        pytest.param(
            "SUSPECTED",
            {},
            ("DOC_VALIDATED", "FACE_MATCH", ("FACE_SUSPECTED",), (), True),
            id="suspected-default-tag",
        ),
        pytest.param(
            "SUSPECTED",
            {"mismatch_tags": ["NAME"]},
            ("DOC_VALIDATED", "FACE_MATCH", (), ("NAME",), True),
            id="suspected-mismatch",
        ),
        pytest.param(
            "DENIED",
            {"auto_document": "DOC_FAKE", "fraud_tags": ["DOC_PRINT_SPOOFED"]},
            (
                "DOC_FAKE",
                "FACE_MISMATCH",
                ("DOC_PRINT_SPOOFED",),
                (),
                True,
            ),
            id="denied-overrides",
        ),
        # The contract's enums have no null: nothing analysed says so (issue 25).
        pytest.param(
            "EXPIRED", {}, ("DOC_NOT_ANALYSED", "FACE_NOT_ANALYSED", (), (), False), id="expired"
        ),
        pytest.param(
            "BRAND_NEW",
            {"allow_unknown_status": True},
            ("DOC_NOT_ANALYSED", "FACE_NOT_ANALYSED", (), (), False),
            id="unknown-outcome",
        ),
    ],
)
async def test_outcomes(
    fake: FakeIdenfy,
    client: AsyncIdenfy,
    outcome: str,
    kwargs: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    """Each outcome sets matching document/face results, tags and the suspected flag."""
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref, outcome, **kwargs)
    status = await client.get_status(session.scan_ref)
    [listed] = [s async for s in client.list_verifications()]
    assert status.status == listed.status == outcome
    assert (
        status.auto_document,
        status.auto_face,
        status.fraud_tags,
        status.mismatch_tags,
        listed.suspected,
    ) == expected
    files = await client.get_files(session.scan_ref)
    data = await client.get_data(session.scan_ref)
    if outcome == "EXPIRED":
        assert (len(files), data.doc_first_name) == (0, None)
    else:
        assert (len(files), data.doc_first_name) == (3, "JOHN")


async def test_manual_review_follows_a_preliminary_result(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """complete(final=False) then again with manual results: two webhooks, distinct keys."""
    session = await client.create_session(client_id="user-1", callback_url=CALLBACK)
    receiver = Receiver()
    fake.complete(session.scan_ref, "REVIEWING", final=False)
    await fake.send_webhook(session.scan_ref, signing_key=SIGNING_KEY, transport=receiver.transport)
    fake.complete(
        session.scan_ref,
        "SUSPECTED",
        fraud_tags=["DOC_MOBILE_PHOTO"],
        manual_document="DOC_VALIDATED",
        manual_face="FACE_MATCH",
    )
    await fake.send_webhook(
        session.scan_ref,
        signing_key=SIGNING_KEY,
        event_type="IDENTIFICATION_MANUAL_FINISHED",
        transport=receiver.transport,
    )
    first, second = receiver.event(0), receiver.event(1)
    assert (first.final, first.status.overall) == (False, OverallStatus.REVIEWING)
    assert (second.final, second.status.overall) == (True, OverallStatus.SUSPECTED)
    assert second.status.fraud_tags == (FraudTag.DOC_MOBILE_PHOTO,)
    assert second.status.document == "DOC_VALIDATED"
    assert first.dedupe_key != second.dedupe_key


async def test_webhook_with_another_key_does_not_verify(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """Signed with one key, checked with another: a mismatch."""
    session = await client.create_session(client_id="user-1", callback_url=CALLBACK)
    fake.complete(session.scan_ref)
    receiver = Receiver()
    await fake.send_webhook(session.scan_ref, signing_key="other", transport=receiver.transport)
    with pytest.raises(SignatureVerificationError) as excinfo:
        receiver.event()
    assert excinfo.value.reason == "mismatch"


async def test_webhook_delivery_status_is_returned_and_recorded(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """The receiver's answer (here 500) is what send_webhook returns; url= overrides."""
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref)
    receiver = Receiver(status=500)
    async with httpx.AsyncClient(transport=receiver.transport) as http:
        status = await fake.send_webhook(
            session.scan_ref,
            signing_key=SIGNING_KEY,
            url="http://127.0.0.1:9/hook",
            http_client=http,
        )
    assert status == 500
    assert fake.webhooks[-1].status_code == 500
    assert str(receiver.requests[0].url) == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("callback_url", "url", "problem"),
    [
        pytest.param(None, None, "no callbackUrl", id="none"),
        pytest.param(None, "http://shop.example/hook", "https://", id="plain-http"),
        pytest.param(None, "ftp://127.0.0.1/hook", "https://", id="ftp"),
    ],
)
async def test_send_webhook_refuses_without_a_safe_url(
    fake: FakeIdenfy, client: AsyncIdenfy, callback_url: str | None, url: str | None, problem: str
) -> None:
    """No URL, or a plain-http URL off loopback: ValueError, nothing sent."""
    session = await client.create_session(client_id="user-1", callback_url=callback_url)
    receiver = Receiver()
    with pytest.raises(ValueError, match=re.escape(problem)):
        await fake.send_webhook(
            session.scan_ref, signing_key=SIGNING_KEY, url=url, transport=receiver.transport
        )
    assert receiver.requests == []
    assert fake.webhooks == []


async def test_complete_refuses_what_is_not_an_outcome(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """ACTIVE and DELETED are not outcomes; a deleted session cannot complete; unknown ref."""
    session = await client.create_session(client_id="user-1")
    for outcome in ("ACTIVE", "deleted"):
        with pytest.raises(ValueError, match="not an outcome"):
            fake.complete(session.scan_ref, outcome)
    fake.complete(session.scan_ref, "EXPIRED")
    await client.delete_verification(session.scan_ref)
    assert (await client.get_status(session.scan_ref)).status == OverallStatus.EXPIRED_DELETED
    with pytest.raises(ValueError, match="deleted"):
        fake.complete(session.scan_ref)
    with pytest.raises(KeyError):
        fake.complete("unknown")


async def test_scripted_failures_apply_to_result_endpoints(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """fail_next works on every endpoint; reads retry through it."""
    session = await client.create_session(client_id="user-1")
    fake.fail_next(Fault(status=503), Fault(error=httpx.ConnectError))
    status = await client.get_status(session.scan_ref)
    assert status.status == OverallStatus.ACTIVE
    assert fake.pending_failures == 0


# --------------------------------------------------------------------------- the fake's wire


def answer(
    fake: FakeIdenfy, method: str, target: str, body: Any = None, *, auth: str | None = AUTH
) -> tuple[int, dict[str, str], bytes]:
    """One request through the sans-io entry point (``target`` may carry a query)."""
    headers = httpx.Headers({"Authorization": auth} if auth else {})
    content = b"" if body is None else json.dumps(body).encode()
    return fake.handle(method, target, headers, content)


def test_fake_paginates_like_django_rest_framework(fake: FakeIdenfy) -> None:
    """count/next/previous/results, absolute links on the fake's base_url, 404 past the end."""
    for i in range(5):
        answer(fake, "POST", "/api/v2/token", {"clientId": f"user-{i}"})
    fake.base_url = "http://127.0.0.1:8000"
    status, _, content = answer(fake, "GET", "/kyc/identifications/?page=2&perPage=2")
    body = json.loads(content)
    assert status == 200
    assert body["count"] == 5
    assert body["next"] == "http://127.0.0.1:8000/kyc/identifications/?perPage=2&page=3"
    assert body["previous"] == "http://127.0.0.1:8000/kyc/identifications/?perPage=2&page=1"
    assert [r["scanRef"] for r in body["results"]] == [s.scan_ref for s in fake.sessions[2:4]]
    assert answer(fake, "GET", "/kyc/identifications/?page=4&perPage=2")[0] == 404
    assert answer(fake, "GET", "/kyc/identifications/?page=x")[0] == 404
    default = json.loads(answer(fake, "GET", "/kyc/identifications/")[2])
    assert (len(default["results"]), default["next"]) == (5, None)
    empty = json.loads(answer(fake, "GET", "/kyc/identifications/?clientId=nobody")[2])
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "identifier"),
    [
        pytest.param("GET", "/api/v2/status", None, 405, "METHOD_NOT_ALLOWED", id="get-status"),
        pytest.param(
            "POST", "/kyc/identifications/", {}, 405, "METHOD_NOT_ALLOWED", id="post-list"
        ),
        pytest.param("POST", "/api/v2/status", {}, 400, "MISSING_VALUE", id="no-scanRef"),
        pytest.param("POST", "/api/v2/data", {"scanRef": 1}, 400, "BAD_VALUE", id="int-scanRef"),
        pytest.param("POST", "/api/v2/files", {"scanRef": "x"}, 404, "NOT_FOUND", id="unknown"),
        pytest.param("POST", "/api/v2/status/", {"scanRef": "x"}, 404, "NOT_FOUND", id="slash"),
    ],
)
def test_fake_result_endpoint_errors(
    fake: FakeIdenfy, method: str, target: str, body: Any, status: int, identifier: str
) -> None:
    """Wrong method, missing or bad scanRef, unknown session or path: iDenfy-shaped errors."""
    got_status, _, content = answer(fake, method, target, body)
    assert (got_status, json.loads(content)["identifier"]) == (status, identifier)


def test_fake_needs_basic_auth_on_result_endpoints(fake: FakeIdenfy) -> None:
    """The result endpoints check credentials like the token endpoint."""
    assert answer(fake, "POST", "/api/v2/status", {"scanRef": "x"}, auth=None)[0] == 401


async def test_fake_files_act_like_presigned_s3_urls(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """No auth needed; an Authorization header or a tampered signature is refused."""
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref)
    url = (await client.get_files(session.scan_ref))["FACE"] or ""
    async with httpx.AsyncClient(transport=fake) as http:
        plain = await http.get(url)
        with_auth = await http.get(url, headers={"Authorization": AUTH})
        tampered = await http.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
        missing = await http.get(url.replace("FACE.jpg", "FACE_VIDEO.jpg"))
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "image/jpeg"
    assert plain.content == fake.file_content(session.scan_ref, "FACE")
    assert with_auth.status_code == 400
    assert b"Only one auth mechanism allowed" in with_auth.content
    assert tampered.status_code == 403
    assert missing.status_code == 403  # the signature covers the path
    assert [headers.get("authorization") for _, headers in fake.file_requests] == [
        None,
        AUTH,
        None,
        None,
    ]


def test_fake_pdf_is_well_formed(fake: FakeIdenfy) -> None:
    """The fake's report is a PDF whose xref offsets point at its objects."""
    created = json.loads(answer(fake, "POST", "/api/v2/token", {"clientId": "user-1"})[2])
    fake.pdf_format = "raw"
    status, headers, pdf = answer(
        fake, "POST", "/api/v2/generate-pdf", {"scanRef": created["scanRef"]}
    )
    assert (status, headers["content-type"]) == (200, "application/pdf")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[startxref:].startswith(b"xref\n0 6\n")
    offsets = re.findall(rb"(\d{10}) 00000 n ", pdf[startxref:])
    for number, offset in enumerate(offsets, 1):
        assert pdf[int(offset) :].startswith(b"%d 0 obj\n" % number)
