"""FakeIdenfy: auth, API-like validation, recorded sessions, scripted failures, determinism."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from idenfy_async import (
    AsyncIdenfy,
    AuthenticationError,
    InsufficientFundsError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from idenfy_async.testing import FakeIdenfy, FakeSession, Fault
from tests.conftest import VirtualClock

TOKEN_URL = "https://ivs.idenfy.com/api/v2/token"
GOOD_AUTH = ("test-key", "test-secret")


async def post(
    fake: FakeIdenfy,
    body: Any = None,
    *,
    raw: bytes | None = None,
    auth: tuple[str, str] | None = GOOD_AUTH,
    headers: dict[str, str] | None = None,
    url: str = TOKEN_URL,
    method: str = "POST",
) -> httpx.Response:
    """One request through the fake as a transport, as any httpx user would send it."""
    async with httpx.AsyncClient(transport=fake) as http:
        content = raw if raw is not None else json.dumps(body).encode()
        return await http.request(
            method,
            url,
            content=content,
            headers={"Content-Type": "application/json", **(headers or {})},
            auth=auth,
        )


def handle(fake: FakeIdenfy, body: dict[str, Any]) -> dict[str, Any]:
    """A valid token request through the pure ``handle`` entry point; the decoded answer."""
    auth = "Basic " + base64.b64encode(b"test-key:test-secret").decode()
    status, _, content = fake.handle(
        "POST", "/api/v2/token", httpx.Headers({"Authorization": auth}), json.dumps(body).encode()
    )
    assert status == 201
    answer: dict[str, Any] = json.loads(content)
    return answer


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        pytest.param(None, None, id="no-credentials"),
        pytest.param(("test-key", "wrong-secret"), None, id="wrong-secret"),
        pytest.param(("wrong-key", "test-secret"), None, id="wrong-key"),
        pytest.param(None, {"Authorization": "Bearer test-secret"}, id="bearer"),
        pytest.param(None, {"Authorization": "Basic not-base64!"}, id="garbage"),
    ],
)
async def test_fake_rejects_bad_basic_auth(
    auth: tuple[str, str] | None, headers: dict[str, str] | None
) -> None:
    """Wrong or missing Basic auth gets iDenfy's 401 {"message": ...} with no identifier."""
    fake = FakeIdenfy()
    response = await post(fake, {"clientId": "u"}, auth=auth, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid authorization credentials"}
    assert fake.sessions == []
    assert fake.requests == 1


async def test_fake_accepts_its_own_credentials() -> None:
    """A fake built with other credentials accepts exactly those."""
    fake = FakeIdenfy("my-key", "my-secret")
    assert (await post(fake, {"clientId": "u"})).status_code == 401
    assert (await post(fake, {"clientId": "u"}, auth=("my-key", "my-secret"))).status_code == 201


async def test_client_with_wrong_secret_gets_authentication_error(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """Through AsyncIdenfy the fake's 401 is an AuthenticationError, not retried."""
    async with AsyncIdenfy("test-key", "nope", transport=fake, retry_policy=policy) as client:
        with pytest.raises(AuthenticationError) as excinfo:
            await client.create_session(client_id="user-1")
    assert excinfo.value.status_code == 401
    assert excinfo.value.identifier is None
    assert excinfo.value.message == "Invalid authorization credentials"
    assert fake.requests == 1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "identifier", "message"),
    [
        pytest.param({}, "MISSING_VALUE", "Missing value: 'clientId'.", id="no-client-id"),
        pytest.param(
            {"clientId": ""}, "MISSING_VALUE", "Missing value: 'clientId'.", id="empty-client-id"
        ),
        pytest.param(
            {"clientId": None}, "MISSING_VALUE", "Missing value: 'clientId'.", id="null-client-id"
        ),
        pytest.param(
            {"clientId": "u", "country": "XX"},
            "BAD_VALUE",
            "Field 'country' must be a valid ISO 3166-1 alpha-2 code.",  # iDenfy's words
            id="bad-country",
        ),
        pytest.param(
            {"clientId": "u", "firstName": "J0hn"},
            "BAD_VALUE",
            "Field 'firstName' must not contain digits.",
            id="digits-in-name",
        ),
        pytest.param(
            {"clientId": "u", "expiryTime": -1},
            "BAD_VALUE",
            "Field 'expiryTime' must be between 0 and 2,592,000.",
            id="expiry-negative",
        ),
        pytest.param(
            {"clientId": 12}, "BAD_VALUE", "Field 'clientId' must be a string.", id="int-client-id"
        ),
    ],
)
async def test_fake_validates_like_the_api(
    body: dict[str, Any], identifier: str, message: str
) -> None:
    """Invalid bodies get 400 with iDenfy's identifier and a message naming the field."""
    fake = FakeIdenfy()
    response = await post(fake, body)
    assert response.status_code == 400
    assert response.json() == {"identifier": identifier, "message": message}
    assert fake.sessions == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"not json", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"clientId": "u"', id="truncated"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"clientId"', id="string"),
    ],
)
async def test_fake_answers_json_error_for_non_json(raw: bytes) -> None:
    """A body that is not a JSON object gets 400 JSON_ERROR."""
    fake = FakeIdenfy()
    response = await post(fake, raw=raw)
    assert response.status_code == 400
    assert response.json()["identifier"] == "JSON_ERROR"
    assert fake.sessions == []


@pytest.mark.parametrize(
    ("method", "url", "status", "identifier"),
    [
        pytest.param("POST", "https://ivs.idenfy.com/api/v2/token/", 404, "NOT_FOUND", id="slash"),
        pytest.param("POST", "https://ivs.idenfy.com/api/v2/unknown", 404, "NOT_FOUND", id="other"),
        pytest.param("GET", TOKEN_URL, 405, "METHOD_NOT_ALLOWED", id="get"),
    ],
)
async def test_fake_routes_only_the_token_endpoint(
    method: str, url: str, status: int, identifier: str
) -> None:
    """Only POST /api/v2/token exists (exact path, as the docs warn)."""
    fake = FakeIdenfy()
    response = await post(fake, {"clientId": "u"}, url=url, method=method)
    assert response.status_code == status
    assert response.json()["identifier"] == identifier


async def test_fake_lets_unlisted_document_types_through() -> None:
    """Document types the model does not list are accepted (the real API may know them)."""
    fake = FakeIdenfy()
    response = await post(fake, {"clientId": "u", "documents": ["BRAND_NEW_DOC"]})
    assert response.status_code == 201
    assert response.json()["documents"] == ["BRAND_NEW_DOC"]


# --------------------------------------------------------------------------- sessions


@pytest.mark.parametrize("seed", [pytest.param(None, id="unseeded"), pytest.param(7, id="seed7")])
def test_fake_tokens_are_unique(seed: int | None) -> None:
    """scanRef and authToken are unique across many sessions (UUID and 40 characters)."""
    fake = FakeIdenfy(seed=seed)
    answers = [handle(fake, {"clientId": f"user-{i}"}) for i in range(3000)]
    scan_refs = {a["scanRef"] for a in answers}
    auth_tokens = {a["authToken"] for a in answers}
    assert len(scan_refs) == len(auth_tokens) == 3000
    assert all(len(t) == 40 and t.isalnum() for t in auth_tokens)
    assert all(str(uuid.UUID(s)) == s for s in scan_refs)
    assert len(fake.sessions) == 3000


async def test_fake_records_sessions(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Each created session is recorded with what was asked for and what was answered."""
    session = await client.create_session(
        client_id="user-1", first_name="John", generate_digit_string=True
    )
    assert len(fake.sessions) == 1
    recorded = fake.sessions[0]
    assert isinstance(recorded, FakeSession)
    assert recorded.scan_ref == session.scan_ref
    assert recorded.auth_token == session.auth_token
    assert recorded.client_id == "user-1"
    assert recorded.status == "ACTIVE"
    assert recorded.request == {
        "clientId": "user-1",
        "firstName": "John",
        "generateDigitString": True,
    }
    answer = recorded.response
    assert answer["message"] == "Token created successfully"
    assert answer["firstName"] == "JOHN"
    assert answer["personScanRef"] == "user-1"
    assert answer["expiryTime"] == 86_400
    assert answer["sessionLength"] == 1_800
    assert answer["tokenType"] == "IDENTIFICATION"
    assert answer["redirectUrl"] == (
        f"https://ivs.idenfy.com/api/v2/redirect?authToken={session.auth_token}"
    )
    assert len(answer["digitString"]) == 8
    assert answer["digitString"].isdigit()
    assert session.digit_string == answer["digitString"]
    assert session.redirect_url == answer["redirectUrl"]


def test_fake_echoes_request_values() -> None:
    """Sent expiryTime/sessionLength/tokenType are echoed; digitString is null unless asked."""
    answer = handle(
        FakeIdenfy(),
        {"clientId": "u", "expiryTime": 600, "sessionLength": 300, "tokenType": "DOCUMENT"},
    )
    assert (answer["expiryTime"], answer["sessionLength"], answer["tokenType"]) == (
        600,
        300,
        "DOCUMENT",
    )
    assert answer["digitString"] is None


async def test_sessions_for(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """sessions_for() lists a client's sessions in creation order (two means a duplicate)."""
    a1 = await client.create_session(client_id="a")
    await client.create_session(client_id="b")
    a2 = await client.create_session(client_id="a")
    assert [s.scan_ref for s in fake.sessions_for("a")] == [a1.scan_ref, a2.scan_ref]
    assert len(fake.sessions_for("b")) == 1
    assert fake.sessions_for("nobody") == []


@pytest.mark.parametrize("seed", [0, 42, 2**40], ids=["seed0", "seed42", "seed2e40"])
def test_same_seed_same_tokens(seed: int) -> None:
    """Two fakes with the same seed hand out the same scanRefs, authTokens and digit strings."""
    bodies = [{"clientId": f"u{i}", "generateDigitString": i % 2 == 0} for i in range(20)]

    def run(fake: FakeIdenfy) -> list[tuple[Any, ...]]:
        answers = [handle(fake, body) for body in bodies]
        return [(a["scanRef"], a["authToken"], a["digitString"]) for a in answers]

    first = run(FakeIdenfy(seed=seed))
    assert run(FakeIdenfy(seed=seed)) == first
    assert run(FakeIdenfy(seed=seed + 1)) != first


# --------------------------------------------------------------------------- scripted failures


@pytest.mark.parametrize(
    ("script", "status", "body"),
    [
        pytest.param(Fault(status=503), 503, {"message": "Scripted failure."}, id="status-only"),
        pytest.param(
            Fault(status=400, identifier="TOO_MANY_REQUESTS", message="Too many requests."),
            400,
            {"identifier": "TOO_MANY_REQUESTS", "message": "Too many requests."},
            id="identifier-and-message",
        ),
        pytest.param(
            Fault(status=409, message="Client ID already exists"),
            409,
            {"message": "Client ID already exists"},
            id="message-only",
        ),
    ],
)
async def test_scripted_status(script: Fault, status: int, body: dict[str, str]) -> None:
    """A scripted status answers with an iDenfy error body and creates nothing."""
    fake = FakeIdenfy()
    fake.fail_next(script)
    response = await post(fake, {"clientId": "u"})
    assert response.status_code == status
    assert response.json() == body
    assert response.headers["content-type"] == "application/json"
    assert fake.sessions == []


async def test_scripted_headers_and_body() -> None:
    """Scripted headers are sent; a scripted body replaces the JSON error body."""
    fake = FakeIdenfy()
    fake.fail_next(
        Fault(status=429, headers={"Retry-After": "7"}),
        Fault(status=502, body=b"<html>Bad gateway</html>", headers={"X-Proxy": "edge"}),
    )
    first = await post(fake, {"clientId": "u"})
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.headers["content-type"] == "application/json"
    second = await post(fake, {"clientId": "u"})
    assert second.status_code == 502
    assert second.content == b"<html>Bad gateway</html>"
    assert second.headers["X-Proxy"] == "edge"


async def test_scripted_failures_used_in_order_then_normal_service() -> None:
    """Each scripted failure serves one request, in order; then the fake works normally."""
    fake = FakeIdenfy()
    fake.fail_next(Fault(status=500), Fault(status=503))
    fake.fail_next(Fault(status=429))
    assert fake.pending_failures == 3
    statuses = [(await post(fake, {"clientId": "u"})).status_code for _ in range(4)]
    assert statuses == [500, 503, 429, 201]
    assert fake.pending_failures == 0
    assert fake.requests == 4
    assert len(fake.sessions) == 1


@pytest.mark.parametrize(
    ("script", "status"),
    [
        pytest.param(Fault(delay=3.0), 201, id="delay-then-success"),
        pytest.param(Fault(delay=2.5, status=504), 504, id="delay-then-status"),
    ],
)
async def test_scripted_delay_uses_injected_sleep(
    script: Fault, status: int, clock: VirtualClock
) -> None:
    """A scripted delay passes through the injected sleep (no real waiting)."""
    fake = FakeIdenfy(sleep=clock.sleep)
    fake.fail_next(script)
    response = await post(fake, {"clientId": "u"})
    assert response.status_code == status
    assert clock.sleeps == [script.delay]


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError],
)
async def test_scripted_connection_error(error: type[httpx.TransportError]) -> None:
    """A scripted error class is raised by the transport; nothing is created."""
    fake = FakeIdenfy()
    fake.fail_next(Fault(error=error))
    with pytest.raises(error, match=f"scripted {error.__name__}"):
        await post(fake, {"clientId": "u"})
    assert fake.sessions == []
    assert fake.requests == 1


async def test_scripted_create_then_error_records_the_session(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """create=True with an error: the session exists although the caller got an error."""
    fake.fail_next(Fault(error=httpx.ReadTimeout, create=True))
    with pytest.raises(httpx.ReadTimeout):
        await post(fake, {"clientId": "raw"})
    assert len(fake.sessions_for("raw")) == 1

    fake.fail_next(Fault(error=httpx.ReadError, create=True))
    with pytest.raises(Exception) as excinfo:  # noqa: PT011
        await client.create_session(client_id="via-client")
    assert getattr(excinfo.value, "outcome_unknown", None) is True
    assert len(fake.sessions_for("via-client")) == 1
    assert fake.requests == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [pytest.param(500, ServerError, id="500"), pytest.param(429, RateLimitError, id="429")],
)
async def test_scripted_create_then_status_records_the_session(
    status: int, error: type[Exception], fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """create=True with a status: iDenfy created the session but answered an error."""
    fake.fail_next(Fault(status=status, create=True, headers={"Retry-After": "600"}))
    with pytest.raises(error):
        await client.create_session(client_id="user-1")
    assert len(fake.sessions_for("user-1")) == 1
    assert fake.requests == 1


async def test_scripted_out_of_credits_maps_to_insufficient_funds(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """The fake can play iDenfy's "Partner reached token limit." (400 PERMISSIONS_ERROR)."""
    fake.fail_next(
        Fault(status=400, identifier="PERMISSIONS_ERROR", message="Partner reached token limit.")
    )
    with pytest.raises(InsufficientFundsError) as excinfo:
        await client.create_session(client_id="user-1")
    assert excinfo.value.message == "Partner reached token limit."
    assert fake.requests == 1


async def test_readme_example_rate_limit_then_success(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """The README's example: a 429 with Retry-After: 0 is retried at once and succeeds."""
    fake.fail_next(Fault(status=429, identifier="TOO_MANY_REQUESTS", headers={"Retry-After": "0"}))
    session = await client.create_session(client_id="user-1")
    assert [s.scan_ref for s in fake.sessions_for("user-1")] == [session.scan_ref]
    assert fake.requests == 2
