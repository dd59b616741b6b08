"""Result endpoints: status, data, files and downloads, deletion, PDF, listing.

Each against FakeIdenfy (behaviour) and with respx (the exact wire shape).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from idenfy_async import (
    AsyncIdenfy,
    BadRequestError,
    DocumentStatus,
    FaceStatus,
    FileUrls,
    IdenfyError,
    MismatchTag,
    NotFoundError,
    OverallStatus,
    PermissionDeniedError,
    RequestValidationError,
    ResponseDecodeError,
    RetryPolicy,
    StatusResult,
    VerificationData,
    errors,
)
from idenfy_async._wire.sessions import (
    LIST_VERIFICATIONS_PATH,
    RequestSpec,
    VerificationPage,
    build_list_verifications,
    error_from_response,
    next_page_spec,
    parse_generate_pdf,
)
from idenfy_async.models import VerificationSummary
from idenfy_async.testing import FakeIdenfy, Fault
from tests.conftest import sample, sample_bytes

API = "https://ivs.idenfy.com"
S3 = "https://s3.eu-west-1.amazonaws.com"
SCAN_REF = "328c6766-934e-11ed-bb9b-025ad99a18e7"
AUTH = "Basic " + base64.b64encode(b"test-key:test-secret").decode()
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
SIGNED_QUERY = "X-Amz-Credential=AKIA%2Fsecret&X-Amz-Signature=deadbeefcafe"


@pytest.fixture
async def wire(policy: RetryPolicy) -> Any:
    """A client on the real base URL (respx answers) with instant retries."""
    async with AsyncIdenfy("test-key", "test-secret", retry_policy=policy) as client:
        yield client


def body_of(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# --------------------------------------------------------------------------- wire shape

ScanRefCall = Callable[[AsyncIdenfy, str], Awaitable[Any]]
SCAN_REF_CALLS: list[tuple[str, str, ScanRefCall, bytes]] = [
    (
        "get_status",
        "/api/v2/status",
        lambda c, s: c.get_status(s),
        sample_bytes("status_response_approved.json"),
    ),
    ("get_data", "/api/v2/data", lambda c, s: c.get_data(s), b'{"scanRef": "x"}'),
    ("get_files", "/api/v2/files", lambda c, s: c.get_files(s), b"{}"),
    ("delete_verification", "/api/v2/delete", lambda c, s: c.delete_verification(s), b""),
    ("generate_pdf", "/api/v2/generate-pdf", lambda c, s: c.generate_pdf(s), PDF),
]


@pytest.mark.parametrize(
    ("path", "call", "answer"),
    [pytest.param(path, call, answer, id=name) for name, path, call, answer in SCAN_REF_CALLS],
)
async def test_scan_ref_calls_post_json_with_basic_auth(
    wire: AsyncIdenfy, path: str, call: ScanRefCall, answer: bytes
) -> None:
    """Each is POST <documented path> with a compact JSON body naming scanRef, Basic auth."""
    with respx.mock(assert_all_called=True) as router:
        route = router.post(API + path).mock(return_value=httpx.Response(200, content=answer))
        await call(wire, SCAN_REF)
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == path
    assert request.headers["authorization"] == AUTH
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("idenfy-async/")
    assert body_of(route)["scanRef"] == SCAN_REF
    if path != "/api/v2/generate-pdf":
        assert request.content == b'{"scanRef":"%s"}' % SCAN_REF.encode()
        assert request.headers["accept"] == "application/json"


async def test_status_sample_parses(wire: AsyncIdenfy) -> None:
    """The documented /status answer decodes into a StatusResult, whole body in raw."""
    with respx.mock() as router:
        router.post(API + "/api/v2/status").respond(
            200, content=sample_bytes("status_response_approved.json")
        )
        result = await wire.get_status(SCAN_REF)
    assert result == StatusResult(
        status=OverallStatus.APPROVED,
        scan_ref=SCAN_REF,
        client_id="W2GL2K333Y",
        auto_document=DocumentStatus.DOC_VALIDATED,
        auto_face=FaceStatus.FACE_MATCH,
        manual_document=DocumentStatus.DOC_VALIDATED,
        manual_face=FaceStatus.FACE_MATCH,
    )
    assert result.raw == sample("status_response_approved.json")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"<html>", "not valid JSON", id="html"),
        pytest.param(b"[]", "not a JSON object", id="list"),
        pytest.param(b'{"status": "APPROVED"}', "scanRef", id="no-scanRef"),
    ],
)
async def test_unreadable_status_is_a_decode_error_not_retried(
    wire: AsyncIdenfy, content: bytes, reason: str
) -> None:
    """A 200 that is not a status object raises ResponseDecodeError at once."""
    with respx.mock() as router:
        route = router.post(API + "/api/v2/status").respond(200, content=content)
        with pytest.raises(ResponseDecodeError) as excinfo:
            await wire.get_status(SCAN_REF)
    assert route.call_count == 1
    assert reason in str(excinfo.value)
    assert excinfo.value.path == "/api/v2/status"


async def test_data_keeps_every_field(wire: AsyncIdenfy) -> None:
    """/data fields decode, unknown ones stay in raw; repr shows no personal data."""
    answer = {"scanRef": SCAN_REF, "docFirstName": "ZYXWV", "docType": "PASSPORT", "newField": 1}
    with respx.mock() as router:
        router.post(API + "/api/v2/data").respond(200, json=answer)
        data = await wire.get_data(SCAN_REF)
    assert data.doc_first_name == "ZYXWV"
    assert data.doc_type == "PASSPORT"
    assert data.raw["newField"] == 1
    assert "ZYXWV" not in repr(data)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"FRONT": f"{S3}/f.jpg", "FACE": None, "scanRef": SCAN_REF}, id="flat"),
        pytest.param({"fileUrls": {"FRONT": f"{S3}/f.jpg", "FACE": None}}, id="nested"),
    ],
)
async def test_files_keep_urls_only(wire: AsyncIdenfy, answer: dict[str, Any]) -> None:
    """/files gives name -> URL; non-URL entries (a scanRef) are left out."""
    with respx.mock() as router:
        router.post(API + "/api/v2/files").respond(200, json=answer)
        files = await wire.get_files(SCAN_REF)
    assert dict(files) == {"FRONT": f"{S3}/f.jpg", "FACE": None}


async def test_delete_accepts_empty_200(wire: AsyncIdenfy) -> None:
    """Deletion answers 200 with an empty body: success, nothing to decode."""
    with respx.mock() as router:
        route = router.post(API + "/api/v2/delete").respond(200, content=b"")
        await wire.delete_verification(SCAN_REF)  # no error: deleted
    assert route.call_count == 1


async def test_delete_not_expired_is_typed_and_not_retried(wire: AsyncIdenfy) -> None:
    """The documented "Token has not expired yet." raises TokenNotExpiredError, once."""
    with respx.mock() as router:
        route = router.post(API + "/api/v2/delete").respond(
            400, content=sample_bytes("error_response_delete_not_expired.json")
        )
        with pytest.raises(errors.TokenNotExpiredError) as excinfo:
            await wire.delete_verification(SCAN_REF)
    assert route.call_count == 1
    assert isinstance(excinfo.value, BadRequestError)
    assert excinfo.value.identifier == "PARTNER_ERROR"
    assert excinfo.value.message == "Token has not expired yet."


def test_other_partner_errors_stay_bad_requests() -> None:
    """Only the not-expired message picks TokenNotExpiredError; 5xx keeps ServerError."""
    other = json.dumps({"identifier": "PARTNER_ERROR", "message": "Something else."}).encode()
    not_expired = sample_bytes("error_response_delete_not_expired.json")
    kwargs: dict[str, Any] = {"method": "POST", "path": "/api/v2/delete", "now": 0.0}
    assert type(error_from_response(400, {}, other, **kwargs)) is BadRequestError
    assert type(error_from_response(500, {}, not_expired, **kwargs)) is errors.ServerError


async def test_reads_retry_transient_failures(wire: AsyncIdenfy) -> None:
    """A 503 then a 200: get_status retries (reads are safe to repeat)."""
    with respx.mock() as router:
        route = router.post(API + "/api/v2/status")
        route.side_effect = [
            httpx.Response(503),
            httpx.Response(200, content=sample_bytes("status_response_approved.json")),
        ]
        result = await wire.get_status(SCAN_REF)
    assert route.call_count == 2
    assert result.status == OverallStatus.APPROVED


async def test_delete_is_retried_after_a_lost_answer(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Deleted, answer lost: the retry deletes again, harmlessly, and succeeds."""
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref)
    fake.fail_next(Fault(error=httpx.ReadTimeout, create=True))
    await client.delete_verification(session.scan_ref)
    assert fake.session(session.scan_ref).status == "DELETED"


# --------------------------------------------------------------------------- PDF


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        pytest.param({"Content-Type": "application/pdf"}, PDF, id="pdf"),
        pytest.param({"Content-Type": "application/pdf"}, b"\x00junk" + PDF, id="pdf-junk"),
        pytest.param({"Content-Type": "application/octet-stream"}, PDF, id="magic"),
        pytest.param(
            {"Content-Type": "application/json"},
            json.dumps(base64.b64encode(PDF).decode()).encode(),
            id="json-base64",
        ),
        pytest.param(
            {"Content-Type": "text/plain"},
            base64.encodebytes(PDF),  # wrapped at 76 columns
            id="text-base64",
        ),
    ],
)
async def test_generate_pdf_returns_pdf_bytes(
    wire: AsyncIdenfy, headers: dict[str, str], content: bytes
) -> None:
    """The PDF comes back as bytes, whether sent raw or as base64 (JSON string or text)."""
    with respx.mock() as router:
        route = router.post(API + "/api/v2/generate-pdf").respond(
            200, headers=headers, content=content
        )
        pdf = await wire.generate_pdf(
            SCAN_REF, "lt", include_main_step_files=False, include_additional_step_files=True
        )
    assert pdf == content if headers["Content-Type"] == "application/pdf" else pdf == PDF
    request = route.calls.last.request
    assert request.content == (
        b'{"scanRef":"%s","language":"lt","includeMainStepFiles":false,'
        b'"includeAdditionalStepFiles":true}' % SCAN_REF.encode()
    )
    assert request.headers["accept"].startswith("application/pdf")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"<html>Bad gateway</html>", id="html"),
        pytest.param(b'"bnVsbA=="', id="base64-not-pdf"),
        pytest.param(b'{"pdf": "x"}', id="object"),
        pytest.param(b"", id="empty"),
    ],
)
def test_parse_generate_pdf_refuses_what_is_not_a_pdf(content: bytes) -> None:
    """Neither a PDF nor base64 of one: ResponseDecodeError."""
    with pytest.raises(ResponseDecodeError, match="neither a PDF nor base64"):
        parse_generate_pdf(200, {"content-type": "application/json"}, content)


async def test_generate_pdf_validates_before_sending(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Bad language and flags are all reported at once; nothing is sent."""
    flags: dict[str, Any] = {"include_main_step_files": "yes", "include_additional_step_files": 1}
    with pytest.raises(RequestValidationError) as excinfo:
        await client.generate_pdf("", "English", **flags)
    assert excinfo.value.fields == (
        "scanRef",
        "language",
        "includeMainStepFiles",
        "includeAdditionalStepFiles",
    )
    assert fake.requests == 0


@pytest.mark.parametrize("pdf_format", ["base64", "base64-text", "raw"])
async def test_generate_pdf_against_the_fake(
    pdf_format: Any, fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """Whatever encoding the fake answers with, the same PDF comes back."""
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref)
    fake.pdf_format = pdf_format
    pdf = await client.generate_pdf(session.scan_ref)
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert session.scan_ref.encode() in pdf


# --------------------------------------------------------------------------- scanRef validation

BAD_SCAN_REFS = [
    pytest.param("", "must not be empty", id="empty"),
    pytest.param("   ", "must not be empty", id="blank"),
    pytest.param(None, "is required", id="none"),
    pytest.param(123, "must be a string", id="int"),
    pytest.param("x" * 41, "must be at most 40 characters", id="41-chars"),
]


@pytest.mark.parametrize(("name", "path", "call", "answer"), SCAN_REF_CALLS)
@pytest.mark.parametrize(("scan_ref", "rule"), BAD_SCAN_REFS)
async def test_bad_scan_ref_sends_nothing(
    fake: FakeIdenfy,
    client: AsyncIdenfy,
    name: str,
    path: str,
    call: ScanRefCall,
    answer: bytes,
    scan_ref: Any,
    rule: str,
) -> None:
    """An invalid scanRef raises RequestValidationError naming scanRef; no request leaves."""
    with pytest.raises(RequestValidationError) as excinfo:
        await call(client, scan_ref)
    assert excinfo.value.fields == ("scanRef",)
    assert excinfo.value.problems[0].rule == rule
    assert excinfo.value.model == name
    assert fake.requests == 0


async def test_forty_character_scan_ref_is_accepted(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """40 characters is the limit, not beyond it: the fake answers 404 for an unknown one."""
    with pytest.raises(NotFoundError):
        await client.get_status("x" * 40)
    assert fake.requests == 1


# --------------------------------------------------------------------------- listing


def page(results: list[str], next_url: str | None, count: int = 5) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "count": count,
            "next": next_url,
            "previous": None,
            "results": [{"scanRef": s, "status": "APPROVED", "suspected": False} for s in results],
        },
    )


async def test_list_follows_three_pages_and_refuses_a_foreign_next(wire: AsyncIdenfy) -> None:
    """Page 2's next names another host: page 3 is asked for on our own origin instead."""
    listing = API + LIST_VERIFICATIONS_PATH
    with respx.mock(assert_all_called=False) as router:
        first = router.get(listing, params={"page": "1"}).mock(
            return_value=page(["a", "b"], f"{listing}?clientId=user-1&page=2&perPage=2")
        )
        second = router.get(listing, params={"page": "2"}).mock(
            return_value=page(["c", "d"], "https://evil.example/kyc/identifications/?page=3")
        )
        third = router.get(listing, params={"page": "3"}).mock(return_value=page(["e"], None))
        evil = router.route(host="evil.example").mock(return_value=page([], None))
        found = [s async for s in wire.list_verifications("user-1", per_page=2)]
    assert [s.scan_ref for s in found] == ["a", "b", "c", "d", "e"]
    assert found[0] == VerificationSummary(
        scan_ref="a", status=OverallStatus.APPROVED, suspected=False
    )
    assert evil.call_count == 0
    for route, number in ((first, 1), (second, 2), (third, 3)):
        request = route.calls.last.request
        assert request.method == "GET"
        assert request.url.path == LIST_VERIFICATIONS_PATH
        assert dict(request.url.params) == {
            "clientId": "user-1",
            "page": str(number),
            "perPage": "2",
        }
        assert request.headers["authorization"] == AUTH
        assert request.content == b""
        assert "content-type" not in request.headers


async def test_list_stops_on_a_repeated_next_link(wire: AsyncIdenfy) -> None:
    """A next link back to a page already read raises instead of looping forever."""
    listing = API + LIST_VERIFICATIONS_PATH
    with respx.mock() as router:
        router.get(listing).mock(return_value=page(["a"], f"{listing}?page=1&perPage=100"))
        with pytest.raises(ResponseDecodeError, match="already read"):
            [s async for s in wire.list_verifications()]


def spec_after(next_url: str | None, base_url: str = API, results: int = 1) -> RequestSpec | None:
    current = VerificationPage(
        count=10,
        next=next_url,
        previous=None,
        results=tuple(VerificationSummary(scan_ref=str(i)) for i in range(results)),
    )
    return next_page_spec(current, base_url=base_url, client_id="u", page_number=2, per_page=5)


OWN = RequestSpec("GET", "/kyc/identifications/?page=2&x=1", b"")
BUILT = build_list_verifications("u", page=2, per_page=5)


@pytest.mark.parametrize(
    ("next_url", "base_url", "expected"),
    [
        pytest.param(f"{API}/kyc/identifications/?page=2&x=1", API, OWN, id="same-origin"),
        pytest.param(
            "HTTPS://IVS.idenfy.com:443/kyc/identifications/?page=2&x=1", API, OWN, id="case-port"
        ),
        pytest.param("https://evil.example/kyc/identifications/?page=2", API, BUILT, id="host"),
        pytest.param("http://ivs.idenfy.com/kyc/identifications/?page=2", API, BUILT, id="http"),
        pytest.param("https://ivs.idenfy.com:8443/kyc/identifications/", API, BUILT, id="port"),
        pytest.param("https://u:p@ivs.idenfy.com/kyc/identifications/", API, BUILT, id="userinfo"),
        pytest.param("https://ivs.idenfy.com.evil.example/kyc/", API, BUILT, id="suffix"),
        pytest.param("/kyc/identifications/?page=2", API, BUILT, id="relative"),
        pytest.param("https://[::1/kyc/", API, BUILT, id="malformed"),
        pytest.param(
            "https://proxy.test/idenfy/kyc/identifications/?page=2&x=1",
            "https://proxy.test/idenfy",
            OWN,
            id="base-path",
        ),
        pytest.param(
            "https://proxy.test/other/kyc/identifications/?page=2",
            "https://proxy.test/idenfy",
            BUILT,
            id="outside-base-path",
        ),
        pytest.param(
            "https://proxy.test/idenfy/../admin/kyc/identifications/?page=2",
            "https://proxy.test/idenfy",
            BUILT,
            id="dot-segments-out-of-base-path",
        ),
        pytest.param(
            "https://proxy.test/idenfy/%2E%2e/admin/kyc/identifications/?page=2",
            "https://proxy.test/idenfy",
            BUILT,
            id="encoded-dot-segments-out-of-base-path",
        ),
        pytest.param(
            "https://proxy.test/idenfy/kyc/./x/../identifications/?page=2&x=1",
            "https://proxy.test/idenfy",
            OWN,
            id="dot-segments-within-base-path",
        ),
    ],
)
def test_next_page_is_followed_only_on_our_origin(
    next_url: str, base_url: str, expected: RequestSpec
) -> None:
    """next is followed on the client's scheme, host, port and base path; otherwise built."""
    assert spec_after(next_url, base_url) == expected


def test_listing_ends_on_null_next_or_empty_page() -> None:
    """No next, or an empty page with a next, ends the listing."""
    assert spec_after(None) is None
    assert spec_after(f"{API}/kyc/identifications/?page=2", results=0) is None


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        pytest.param({"per_page": 0}, ("perPage",), id="per-page-0"),
        pytest.param({"per_page": 1001}, ("perPage",), id="per-page-big"),
        pytest.param({"client_id": ""}, ("clientId",), id="empty-client"),
        pytest.param(
            {"client_id": "x" * 101, "per_page": True}, ("clientId", "perPage"), id="both"
        ),
    ],
)
async def test_list_validates_at_call_time(
    fake: FakeIdenfy, client: AsyncIdenfy, kwargs: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """Bad listing arguments raise when called, before iterating; nothing is sent."""
    with pytest.raises(RequestValidationError) as excinfo:
        client.list_verifications(**kwargs)
    assert excinfo.value.fields == fields
    assert fake.requests == 0


async def test_list_against_the_fake_pages_through_everything(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """Five sessions at two per page: three pages, in creation order, filter by clientId."""
    created = [await client.create_session(client_id=f"user-{i % 2}") for i in range(5)]
    fake.complete(created[0].scan_ref, "SUSPECTED")
    before = fake.requests
    everything = [s async for s in client.list_verifications(per_page=2)]
    assert fake.requests - before == 3
    assert [s.scan_ref for s in everything] == [s.scan_ref for s in created]
    assert everything[0].status == OverallStatus.SUSPECTED
    assert everything[0].suspected is True
    assert {s.status for s in everything[1:]} == {OverallStatus.ACTIVE}
    mine = [s.scan_ref async for s in client.list_verifications("user-1", per_page=1)]
    assert mine == [created[1].scan_ref, created[3].scan_ref]


# --------------------------------------------------------------------------- against the fake


async def test_status_data_files_follow_the_session(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """ACTIVE with nothing to show; after completion every endpoint reports the outcome."""
    session = await client.create_session(client_id="user-1", first_name="Zyxwv")
    active = await client.get_status(session.scan_ref)
    assert active.status == OverallStatus.ACTIVE
    assert active.auto_document is None
    assert await client.get_files(session.scan_ref) == FileUrls({})
    assert (await client.get_data(session.scan_ref)).doc_first_name is None

    fake.complete(
        session.scan_ref, "SUSPECTED", mismatch_tags=["NAME"], data={"doc_dob": "1999-09-09"}
    )
    status = await client.get_status(session.scan_ref)
    assert status.status == OverallStatus.SUSPECTED
    assert status.mismatch_tags == (MismatchTag.NAME,)
    assert status.client_id == "user-1"
    data = await client.get_data(session.scan_ref)
    assert isinstance(data, VerificationData)
    assert (data.scan_ref, data.doc_first_name, data.doc_dob) == (
        session.scan_ref,
        "ZYXWV",
        "1999-09-09",
    )
    files = await client.get_files(session.scan_ref)
    assert sorted(files) == ["BACK", "FACE", "FRONT"]


async def test_unknown_scan_ref_is_not_found(client: AsyncIdenfy) -> None:
    """The fake answers 404 for a scanRef it never created."""
    with pytest.raises(NotFoundError):
        await client.get_data("no-such-scan-ref")


async def test_delete_lifecycle_against_the_fake(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Refused while ACTIVE; then deleted: status DELETED, data and files gone; again is fine."""
    session = await client.create_session(client_id="user-1")
    with pytest.raises(errors.TokenNotExpiredError):
        await client.delete_verification(session.scan_ref)
    fake.complete(session.scan_ref)
    files = await client.get_files(session.scan_ref)
    await client.delete_verification(session.scan_ref)
    await client.delete_verification(session.scan_ref)
    assert (await client.get_status(session.scan_ref)).status == OverallStatus.DELETED
    assert (await client.get_data(session.scan_ref)).doc_last_name is None
    assert await client.get_files(session.scan_ref) == FileUrls({})
    with pytest.raises(NotFoundError):
        await client.download_file(files["FRONT"] or "", io.BytesIO())


# --------------------------------------------------------------------------- downloads


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class Recorder(io.BytesIO):
    """A binary file that remembers the size of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def write(self, data: Any) -> int:
        self.writes.append(len(data))
        return super().write(data)


async def test_download_streams_in_chunks_without_authorization(wire: AsyncIdenfy) -> None:
    """The file is written chunk by chunk; the request to S3 carries no Authorization."""
    content = bytes(range(256)) * 40
    with respx.mock() as router:
        route = router.get(f"{S3}/bucket/FRONT.jpg").respond(200, content=content)
        target = Recorder()
        written = await wire.download_file(
            f"{S3}/bucket/FRONT.jpg?{SIGNED_QUERY}", target, chunk_size=1000
        )
    assert written == len(content) == len(target.getvalue())
    assert target.getvalue() == content
    assert max(target.writes) <= 1000 < len(content)
    assert len(target.writes) == 11
    request = route.calls.last.request
    assert "authorization" not in request.headers
    assert "content-type" not in request.headers
    assert request.url.params["X-Amz-Signature"] == "deadbeefcafe"


async def test_download_strips_authorization_from_a_callers_client(policy: RetryPolicy) -> None:
    """Even an http_client with a default Authorization header sends none to the file host."""
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, content=b"jpeg")

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler),
        headers={"Authorization": "Bearer other"},
        auth=("proxy-user", "proxy-password"),
    ) as http:
        client = AsyncIdenfy("k", "s", http_client=http, retry_policy=policy)
        target = io.BytesIO()
        await client.download_file(f"{S3}/f.jpg?{SIGNED_QUERY}", target)
    assert target.getvalue() == b"jpeg"
    assert "authorization" not in seen[0]


async def test_download_to_path_is_atomic_and_retried(wire: AsyncIdenfy, tmp_path: Path) -> None:
    """A 503 then the file: the path gets the whole file, no temporary file stays."""
    with respx.mock() as router:
        route = router.get(f"{S3}/f.mp4")
        route.side_effect = [httpx.Response(503), httpx.Response(200, content=b"video" * 1000)]
        written = await wire.download_file(f"{S3}/f.mp4?{SIGNED_QUERY}", tmp_path / "face.mp4")
    assert route.call_count == 2
    assert written == 5000
    assert (tmp_path / "face.mp4").read_bytes() == b"video" * 1000
    assert names_in(tmp_path) == ["face.mp4"]


async def test_failed_download_leaves_no_file(wire: AsyncIdenfy, tmp_path: Path) -> None:
    """A connection lost mid-way, out of retries: no file, no leftovers, APIConnectionError."""
    with respx.mock() as router:
        router.get(f"{S3}/f.jpg").mock(side_effect=httpx.ReadError("reset"))
        with pytest.raises(errors.APIConnectionError) as excinfo:
            await wire.download_file(f"{S3}/f.jpg", tmp_path / "f.jpg", max_retries=0)
    assert excinfo.value.path == "/f.jpg"
    assert names_in(tmp_path) == []


async def test_download_file_object_is_rewound_for_a_retry(wire: AsyncIdenfy) -> None:
    """A seekable file starts over at its first position on each attempt."""
    target = io.BytesIO(b"header:")
    target.seek(0, io.SEEK_END)
    with respx.mock() as router:
        route = router.get(f"{S3}/f.jpg")
        route.side_effect = [httpx.Response(500), httpx.Response(200, content=b"image")]
        await wire.download_file(f"{S3}/f.jpg", target)
    assert target.getvalue() == b"header:image"


async def test_expired_file_url_is_permission_denied_without_the_signature(
    wire: AsyncIdenfy,
) -> None:
    """A 403 from S3 says the URL may have expired; the signed query is never printed."""
    with respx.mock() as router:
        route = router.get(f"{S3}/bucket/FRONT.jpg").respond(
            403, content=b"<Error><Code>AccessDenied</Code></Error>"
        )
        with pytest.raises(PermissionDeniedError) as excinfo:
            await wire.download_file(f"{S3}/bucket/FRONT.jpg?{SIGNED_QUERY}", io.BytesIO())
    assert route.call_count == 1
    text = str(excinfo.value)
    assert "expire" in text
    assert "/bucket/FRONT.jpg" in text
    assert "deadbeef" not in text
    assert "AKIA" not in text


@pytest.mark.parametrize(
    "url",
    [
        "http://s3.amazonaws.com/f.jpg",
        "ftp://127.0.0.1/f.jpg",
        "file:///etc/passwd",
        "https:///no-host",
        "https://[::1/bad",
        "",
    ],
)
async def test_download_refuses_unsafe_urls(
    fake: FakeIdenfy, client: AsyncIdenfy, url: str
) -> None:
    """Only https://, or http:// on loopback: nothing is sent otherwise."""
    with pytest.raises(RequestValidationError) as excinfo:
        await client.download_file(url, io.BytesIO())
    assert excinfo.value.fields == ("url",)
    assert fake.requests == 0


async def test_download_allows_loopback_http(wire: AsyncIdenfy) -> None:
    """http:// is fine on 127.0.0.1 (local servers, FakeIdenfyServer)."""
    with respx.mock() as router:
        router.get("http://127.0.0.1:9000/f.jpg").respond(200, content=b"x")
        assert await wire.download_file("http://127.0.0.1:9000/f.jpg", io.BytesIO()) == 1


async def test_download_files_from_the_fake(
    fake: FakeIdenfy, client: AsyncIdenfy, tmp_path: Path
) -> None:
    """download_files fetches every URL of get_files into a folder, named after the keys."""
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref)
    files = await client.get_files(session.scan_ref)
    paths = await client.download_files(
        FileUrls({**files, "FACE_VIDEO": None}), tmp_path / "kyc", chunk_size=4096
    )
    assert {name: p.name for name, p in paths.items()} == {
        "FRONT": "FRONT.jpg",
        "BACK": "BACK.jpg",
        "FACE": "FACE.jpg",
    }
    for name, path in paths.items():
        assert path.read_bytes() == fake.file_content(session.scan_ref, name)
    assert len(fake.file_requests) == 3
    assert all("authorization" not in headers for _, headers in fake.file_requests)


async def test_download_files_names_are_safe_and_unique(wire: AsyncIdenfy, tmp_path: Path) -> None:
    """Odd step names become safe file names; clashes get a number."""
    with respx.mock() as router:
        router.get(host="s3.eu-west-1.amazonaws.com").respond(200, content=b"x")
        paths = await wire.download_files(
            {
                "../UTILITY BILL": f"{S3}/a.pdf?{SIGNED_QUERY}",
                "front": f"{S3}/b",
                "FRONT": f"{S3}/c.weird-suffix",
            },
            tmp_path,
        )
    assert {name: p.name for name, p in paths.items()} == {
        "../UTILITY BILL": "_UTILITY_BILL.pdf",
        "front": "front",
        "FRONT": "FRONT_2",
    }
    assert all(p.parent == tmp_path for p in paths.values())


async def test_download_files_checks_every_url_first(
    fake: FakeIdenfy, client: AsyncIdenfy, tmp_path: Path
) -> None:
    """One bad URL: nothing is downloaded."""
    with pytest.raises(RequestValidationError):
        await client.download_files(
            {"FRONT": "https://s3.fake-idenfy.invalid/x", "BACK": "http://evil/x"}, tmp_path
        )
    assert fake.requests == 0


async def test_undecodable_download_is_a_decode_error(wire: AsyncIdenfy) -> None:
    """A file body that claims gzip but is not: ResponseDecodeError, not an httpx error."""
    with respx.mock() as router:
        router.get(f"{S3}/f.jpg").mock(
            side_effect=lambda request: httpx.Response(
                200,
                headers={"Content-Encoding": "gzip"},
                stream=httpx.ByteStream(b"not gzip at all"),  # decoded lazily, while streaming
            )
        )
        with pytest.raises(ResponseDecodeError) as excinfo:
            await wire.download_file(f"{S3}/f.jpg", io.BytesIO())
    assert excinfo.value.path == "/f.jpg"


async def test_closed_client_downloads_nothing(policy: RetryPolicy) -> None:
    """After aclose(), download_file raises ClientClosedError."""
    client = AsyncIdenfy("k", "s", retry_policy=policy)
    await client.aclose()
    with pytest.raises(errors.ClientClosedError):
        await client.download_file(f"{S3}/f.jpg", io.BytesIO())


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"identifier": "BAD_VALUE", "message": "Bad value."}),
        httpx.Response(200, content=b"not json"),
    ],
    ids=["api-error", "undecodable"],
)
async def test_listing_errors_never_name_the_client_id(
    wire: AsyncIdenfy, answer: httpx.Response
) -> None:
    """The listing's query holds the clientId (often an e-mail): errors name the path only."""
    client_id = "jane.doe@example.com"
    with respx.mock(assert_all_called=True) as router:
        router.get(url__startswith=API + "/kyc/identifications/").mock(return_value=answer)
        with pytest.raises(IdenfyError) as caught:
            [item async for item in wire.list_verifications(client_id=client_id)]
    shown = f"{caught.value} {caught.value!r}"
    assert "/kyc/identifications/" in str(caught.value)
    for leak in (client_id, "jane.doe%40example.com", "clientId="):
        assert leak not in shown
