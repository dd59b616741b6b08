"""AsyncIdenfy: configuration, wire format, input handling, lifecycle, loops and secrets."""

from __future__ import annotations

import asyncio
import base64
import datetime
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest
import respx

from idenfy_async import (
    NOT_GIVEN,
    NULL,
    APIConnectionError,
    APITimeoutError,
    AsyncIdenfy,
    AuthenticationError,
    BulkState,
    ClientClosedError,
    ConfigurationError,
    DocumentType,
    EventLoopMismatchError,
    IdenfyError,
    RequestValidationError,
    ResponseDecodeError,
    RetryPolicy,
    Session,
    SessionRequest,
    __version__,
)
from idenfy_async._send.limits import PACE_MARGIN, Pace
from idenfy_async.testing import FakeIdenfy, Fault
from tests.conftest import VirtualClock

TOKEN_URL = "https://ivs.idenfy.com/api/v2/token"
KEY = "live-key-0123456789"
SECRET = "sup3r-S3CRET-value-42"
PII = "Zyxwv"
OK_BODY: dict[str, Any] = {
    "message": "Token created successfully",
    "authToken": "A" * 40,
    "scanRef": "0a1b2c3d-0000-1000-8000-000000000001",
    "clientId": "user-123",
}


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No IDENFY_* variables from the environment running the tests."""
    for name in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "IDENFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- configuration


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize(
    ("api_key", "api_secret"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("key", None, id="key-only"),
        pytest.param(None, "secret", id="secret-only"),
        pytest.param("", "secret", id="empty-key"),
        pytest.param("key", "", id="empty-secret"),
    ],
)
def test_missing_credentials_raise_configuration_error(
    api_key: str | None, api_secret: str | None
) -> None:
    """Missing credentials fail at construction, naming both ways to provide them."""
    with pytest.raises(ConfigurationError) as excinfo:
        AsyncIdenfy(api_key, api_secret, transport=FakeIdenfy())
    text = str(excinfo.value)
    for hint in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "api_key=", "api_secret="):
        assert hint in text
    assert isinstance(excinfo.value, ValueError)
    if api_secret:
        assert api_secret not in text.replace("api_secret", "")


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize(
    ("env", "args", "expected_auth"),
    [
        pytest.param(
            {"IDENFY_API_KEY": "env-key", "IDENFY_API_SECRET": "env-secret"},
            {},
            ("env-key", "env-secret"),
            id="both-from-env",
        ),
        pytest.param(
            {"IDENFY_API_KEY": "env-key", "IDENFY_API_SECRET": "env-secret"},
            {"api_key": "arg-key", "api_secret": "arg-secret"},
            ("arg-key", "arg-secret"),
            id="arguments-win",
        ),
        pytest.param(
            {"IDENFY_API_SECRET": "env-secret"},
            {"api_key": "arg-key"},
            ("arg-key", "env-secret"),
            id="mixed",
        ),
    ],
)
async def test_credentials_from_environment(
    env: dict[str, str],
    args: dict[str, Any],
    expected_auth: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    policy: RetryPolicy,
) -> None:
    """IDENFY_API_KEY / IDENFY_API_SECRET fill in what was not passed."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fake = FakeIdenfy(*expected_auth, seed=1)
    async with AsyncIdenfy(**args, transport=fake, retry_policy=policy) as client:
        session = await client.create_session(client_id="user-1")
    assert fake.sessions[0].scan_ref == session.scan_ref


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize(
    ("env_url", "arg_url", "expected"),
    [
        pytest.param(None, None, "https://ivs.idenfy.com", id="default"),
        pytest.param("https://eu.example.com", None, "https://eu.example.com", id="from-env"),
        pytest.param(
            "https://eu.example.com", "https://arg.example.com", "https://arg.example.com", id="arg"
        ),
    ],
)
def test_base_url_from_environment(
    env_url: str | None, arg_url: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base URL comes from base_url=, then IDENFY_BASE_URL, then iDenfy's host."""
    if env_url is not None:
        monkeypatch.setenv("IDENFY_BASE_URL", env_url)
    client = AsyncIdenfy("k", "s", base_url=arg_url, transport=FakeIdenfy())
    assert client.base_url == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://ivs.idenfy.com", "https://ivs.idenfy.com", id="https"),
        pytest.param("https://ivs.idenfy.com/", "https://ivs.idenfy.com", id="trailing-slash"),
        pytest.param(
            "https://proxy.example.com/idenfy", "https://proxy.example.com/idenfy", id="path"
        ),
        pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080", id="http-ipv4-loopback"),
        pytest.param("http://127.5.5.5", "http://127.5.5.5", id="http-127-8"),
        pytest.param("http://localhost:9000", "http://localhost:9000", id="http-localhost"),
        pytest.param("http://[::1]:8000", "http://[::1]:8000", id="http-ipv6-loopback"),
    ],
)
def test_base_url_accepted(url: str, expected: str) -> None:
    """https:// anywhere, http:// on loopback only."""
    client = AsyncIdenfy("k", "s", base_url=url, transport=FakeIdenfy())
    assert client.base_url == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://ivs.idenfy.com", id="http-remote"),
        pytest.param("http://10.0.0.1:8080", id="http-private-ip"),
        pytest.param("http://localhost.evil.example", id="http-localhost-lookalike"),
        pytest.param("ftp://ivs.idenfy.com", id="ftp"),
        pytest.param("ivs.idenfy.com", id="no-scheme"),
        pytest.param("https://", id="no-host"),
        pytest.param(f"https://{KEY}:{SECRET}@ivs.idenfy.com", id="https-user-pass"),
        pytest.param(f"http://{KEY}:{SECRET}@localhost:8000", id="http-loopback-user-pass"),
        pytest.param(f"https://{KEY}@ivs.idenfy.com", id="https-user-only"),
        pytest.param("https://ivs.idenfy.com?debug=1", id="query"),
        pytest.param("https://ivs.idenfy.com#frag", id="fragment"),
    ],
)
def test_base_url_refused(url: str) -> None:
    """Plain http:// off loopback, credentials in the URL and odd URLs are refused."""
    with pytest.raises(ConfigurationError) as excinfo:
        AsyncIdenfy("k", "s", base_url=url, transport=FakeIdenfy())
    assert SECRET not in str(excinfo.value)
    assert SECRET not in repr(excinfo.value)


COMPOSE_URL = "http://idenfy-fake:8080"


def test_plain_http_to_a_named_host_is_refused_by_default() -> None:
    """Without the opt-in, the refusal names both ways to opt in."""
    with pytest.raises(ConfigurationError) as excinfo:
        AsyncIdenfy("k", "s", base_url=COMPOSE_URL, transport=FakeIdenfy())
    assert "allow_insecure_http=True" in str(excinfo.value)
    assert "IDENFY_ALLOW_INSECURE_HTTP=1" in str(excinfo.value)


@pytest.mark.parametrize(
    ("argument", "env"),
    [
        pytest.param(True, None, id="argument"),
        pytest.param(None, "1", id="env-1"),
        pytest.param(None, "true", id="env-true"),
        pytest.param(None, " YES ", id="env-yes"),
        pytest.param(True, "0", id="argument-over-env"),
    ],
)
def test_plain_http_to_a_named_host_with_the_opt_in_warns_once(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    argument: bool | None,
    env: str | None,
) -> None:
    """Each opt-in lets it through; one WARNING names the origin, never the secret."""
    if env is not None:
        monkeypatch.setenv("IDENFY_ALLOW_INSECURE_HTTP", env)
    with caplog.at_level(logging.WARNING, logger="idenfy_async"):
        client = AsyncIdenfy(
            KEY, SECRET, base_url=COMPOSE_URL, transport=FakeIdenfy(), allow_insecure_http=argument
        )
    assert client.base_url == COMPOSE_URL
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.name == "idenfy_async"
    assert "http://idenfy-fake:8080" in record.getMessage()
    assert "unencrypted" in record.getMessage()
    assert SECRET not in record.getMessage()
    assert KEY not in record.getMessage()


@pytest.mark.parametrize(
    ("argument", "env"),
    [
        pytest.param(None, "0", id="env-0"),
        pytest.param(None, "", id="env-empty"),
        pytest.param(None, "off", id="env-off"),
        pytest.param(False, "1", id="argument-false-over-env"),
    ],
)
def test_plain_http_to_a_named_host_stays_refused_when_the_opt_in_is_off(
    monkeypatch: pytest.MonkeyPatch, argument: bool | None, env: str
) -> None:
    monkeypatch.setenv("IDENFY_ALLOW_INSECURE_HTTP", env)
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        AsyncIdenfy(
            "k", "s", base_url=COMPOSE_URL, transport=FakeIdenfy(), allow_insecure_http=argument
        )


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://ivs.idenfy.com", id="https"),
        pytest.param("http://127.0.0.1:8080", id="loopback"),
    ],
)
def test_the_opt_in_warns_only_when_it_is_used(caplog: pytest.LogCaptureFixture, url: str) -> None:
    with caplog.at_level(logging.WARNING, logger="idenfy_async"):
        AsyncIdenfy("k", "s", base_url=url, transport=FakeIdenfy(), allow_insecure_http=True)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_unreadable_opt_in_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in the variable must not silently mean off (nor on)."""
    monkeypatch.setenv("IDENFY_ALLOW_INSECURE_HTTP", "maybe")
    with pytest.raises(ConfigurationError, match="IDENFY_ALLOW_INSECURE_HTTP must be 1"):
        AsyncIdenfy("k", "s", base_url=COMPOSE_URL, transport=FakeIdenfy())


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param(f"{COMPOSE_URL}/fake-files/x/FRONT.jpg", True, id="same-origin"),
        pytest.param("http://IDENFY-FAKE:8080/fake-files/x/FRONT.jpg", True, id="host-case"),
        pytest.param("http://idenfy-fake:9090/fake-files/x/FRONT.jpg", False, id="other-port"),
        pytest.param("http://elsewhere:8080/fake-files/x/FRONT.jpg", False, id="other-host"),
        pytest.param("https://s3.example.com/x/FRONT.jpg", True, id="https-anywhere"),
    ],
)
async def test_with_the_opt_in_downloads_over_http_only_from_the_base_urls_origin(
    url: str, allowed: bool
) -> None:
    """A fake in docker-compose serves its files on its own origin; nothing else is opened."""
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, content=b"jpeg")

    async with AsyncIdenfy(
        "k",
        "s",
        base_url=COMPOSE_URL,
        transport=httpx.MockTransport(handler),
        allow_insecure_http=True,
    ) as client:
        target = io.BytesIO()
        if allowed:
            assert await client.download_file(url, target) == 4
        else:
            with pytest.raises(RequestValidationError, match="url"):
                await client.download_file(url, target)
    assert len(fetched) == (1 if allowed else 0)


@pytest.mark.parametrize(
    "concurrency", [pytest.param(0, id="zero"), pytest.param(-3, id="negative")]
)
def test_max_concurrency_below_one_refused(concurrency: int) -> None:
    """max_concurrency must allow at least one request."""
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        AsyncIdenfy("k", "s", transport=FakeIdenfy(), max_concurrency=concurrency)


async def test_transport_and_http_client_together_refused() -> None:
    """transport= and http_client= are alternatives, not both."""
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigurationError, match="transport"):
            AsyncIdenfy("k", "s", transport=FakeIdenfy(), http_client=http)


# --------------------------------------------------------------------------- the wire


@pytest.mark.parametrize("status", [pytest.param(200, id="200"), pytest.param(201, id="201")])
async def test_request_on_the_wire(status: int, policy: RetryPolicy) -> None:
    """POST /api/v2/token with Basic auth, our User-Agent, JSON headers and camelCase body."""
    with respx.mock(assert_all_called=True) as router:
        route = router.post(TOKEN_URL).mock(return_value=httpx.Response(status, json=OK_BODY))
        async with AsyncIdenfy(KEY, SECRET, retry_policy=policy) as client:
            session = await client.create_session(
                client_id="user-123", first_name="John", expiry_time=600, documents=["PASSPORT"]
            )
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["Authorization"] == basic(KEY, SECRET)
    user_agent = request.headers["User-Agent"]
    assert user_agent.startswith(f"idenfy-async/{__version__} ")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.content == (
        b'{"clientId":"user-123","firstName":"John","documents":["PASSPORT"],"expiryTime":600}'
    )
    assert session.auth_token == OK_BODY["authToken"]
    assert session.scan_ref == OK_BODY["scanRef"]
    assert session.redirect_url == (
        f"https://ivs.idenfy.com/api/v2/redirect?authToken={OK_BODY['authToken']}"
    )


@pytest.mark.parametrize(
    ("fields", "wire"),
    [
        pytest.param({}, {}, id="client-id-only"),
        pytest.param(
            {"first_name": "John", "last_name": None}, {"firstName": "John"}, id="none-omitted"
        ),
        pytest.param({"show_instructions": False}, {"showInstructions": False}, id="false-kept"),
        pytest.param({"age_limit": 0}, {"ageLimit": 0}, id="zero-kept"),
        pytest.param({"questionnaire": NULL}, {"questionnaire": None}, id="explicit-null"),
        pytest.param({"country": ["lt", "LV"]}, {"country": ["LT", "LV"]}, id="country-list"),
        pytest.param({"country": "de"}, {"country": "DE"}, id="country-str"),
        pytest.param(
            {"documents": [DocumentType.PASSPORT, "ID_CARD"]},
            {"documents": ["PASSPORT", "ID_CARD"]},
            id="documents-enum",
        ),
        pytest.param(
            {"date_of_birth": datetime.date(1990, 1, 2)},
            {"dateOfBirth": "1990-01-02"},
            id="date",
        ),
        pytest.param(
            {"check_liveness": True, "session_length": 600, "token_type": "DOCUMENT"},
            {"checkLiveness": True, "sessionLength": 600, "tokenType": "DOCUMENT"},
            id="camel-case",
        ),
        pytest.param({"extra": {"brandNewFlag": True}}, {"brandNewFlag": True}, id="extra"),
    ],
)
async def test_body_is_camel_case_and_omits_unset_fields(
    fields: dict[str, Any], wire: dict[str, Any], policy: RetryPolicy
) -> None:
    """The JSON body has wire names only for fields that were set (None is left out)."""
    with respx.mock(assert_all_called=True) as router:
        route = router.post(TOKEN_URL).mock(return_value=httpx.Response(201, json=OK_BODY))
        async with AsyncIdenfy(KEY, SECRET, retry_policy=policy) as client:
            await client.create_session(client_id="user-123", **fields)
    assert json.loads(route.calls.last.request.content) == {"clientId": "user-123", **wire}


# --------------------------------------------------------------------------- input handling


async def test_keywords_and_session_request_send_the_same(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """create_session(**fields) and create_session(SessionRequest(...)) are equivalent."""
    fields: dict[str, Any] = {"first_name": "John", "country": "LT", "expiry_time": 3600}
    by_kwargs = await client.create_session(client_id="user-1", **fields)
    by_model = await client.create_session(SessionRequest("user-1", **fields))
    assert isinstance(by_kwargs, Session)
    assert isinstance(by_model, Session)
    first, second = fake.sessions
    assert (
        first.request
        == second.request
        == {
            "clientId": "user-1",
            "firstName": "John",
            "country": "LT",
            "expiryTime": 3600,
        }
    )
    assert by_kwargs.first_name == by_model.first_name == "JOHN"


@pytest.mark.parametrize(
    ("call", "fields"),
    [
        pytest.param(lambda c: c.create_session(), ("clientId",), id="no-client-id"),
        pytest.param(lambda c: c.create_session(client_id=""), ("clientId",), id="empty-client-id"),
        pytest.param(
            lambda c: c.create_session(client_id="ünïcode"), ("clientId",), id="non-ascii-client-id"
        ),
        pytest.param(
            lambda c: c.create_session(client_id="u", country="XX"), ("country",), id="bad-country"
        ),
        pytest.param(
            lambda c: c.create_session(client_id="u", first_name="J0hn", expiry_time=-1),
            ("firstName", "expiryTime"),
            id="all-problems-at-once",
        ),
        pytest.param(
            lambda c: c.create_session(client_id="u", documents=["NOPE"]),
            ("documents",),
            id="unknown-document",
        ),
        pytest.param(
            lambda c: c.create_session(client_id="u", callback_url="http://example.com/hook"),
            ("callbackUrl",),
            id="http-callback",
        ),
    ],
)
async def test_invalid_input_raises_before_any_request(
    call: Callable[[AsyncIdenfy], Any],
    fields: tuple[str, ...],
    fake: FakeIdenfy,
    client: AsyncIdenfy,
) -> None:
    """Invalid input raises RequestValidationError naming every field; nothing is sent."""
    with pytest.raises(RequestValidationError) as excinfo:
        await call(client)
    assert excinfo.value.fields == fields
    assert fake.requests == 0


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c: c.create_session(SessionRequest("u"), first_name="John"), id="model-and-field"
        ),
        pytest.param(
            lambda c: c.create_session(SessionRequest("u"), client_id="u"), id="model-and-client-id"
        ),
        pytest.param(lambda c: c.create_session(client_id="u", bogus=1), id="unknown-keyword"),
    ],
)
async def test_mixing_model_and_fields_is_a_type_error(
    call: Callable[[AsyncIdenfy], Any], fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """A SessionRequest plus keyword fields, or an unknown keyword, is a TypeError; nothing sent."""
    with pytest.raises(TypeError):
        await call(client)
    assert fake.requests == 0


async def test_error_status_body_is_kept_on_the_error(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """APIError.body keeps iDenfy's parsed answer for code that needs it."""
    body = {"identifier": "BAD_VALUE", "message": "Invalid value.", "firstName": "ZYXWV"}
    fake.fail_next(Fault(status=400, body=json.dumps(body).encode()))
    with pytest.raises(IdenfyError) as excinfo:
        await client.create_session(client_id="user-1", first_name=PII)
    error = excinfo.value
    assert getattr(error, "body", None) == body
    assert getattr(error, "identifier", None) == "BAD_VALUE"


async def test_undecodable_content_encoding_is_a_response_decode_error(
    policy: RetryPolicy,
) -> None:
    """An undecodable gzip 201 raises ResponseDecodeError (ambiguous), not httpx.DecodingError."""

    class StreamingTransport(httpx.AsyncBaseTransport):
        # Like a real connection: the body is read (and decoded) after the status line.
        # (httpx.MockTransport reads the body itself, before the client sees a status.)
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                201,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                stream=httpx.ByteStream(b"definitely not gzip"),
            )

    async with AsyncIdenfy("k", "s", transport=StreamingTransport(), retry_policy=policy) as client:
        with pytest.raises(ResponseDecodeError) as excinfo:
            await client.create_session(client_id="user-1")
    assert excinfo.value.status_code == 201
    assert excinfo.value.outcome_unknown is True


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("how", ["aclose", "async_with_exit"])
async def test_closed_client_raises_client_closed_error(
    how: str, fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """After aclose() or leaving async with, calls raise ClientClosedError and send nothing."""
    client = AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy)
    if how == "aclose":
        await client.create_session(client_id="before")
        await client.aclose()
    else:
        async with client:
            await client.create_session(client_id="before")
    assert client.is_closed
    with pytest.raises(ClientClosedError) as excinfo:
        await client.create_session(client_id="after")
    assert isinstance(excinfo.value, RuntimeError)
    assert "closed" in str(excinfo.value)
    assert fake.requests == 1
    await client.aclose()  # twice is fine
    assert client.is_closed


async def test_entering_a_closed_client_raises(fake: FakeIdenfy) -> None:
    """async with on a closed client raises ClientClosedError."""
    client = AsyncIdenfy("test-key", "test-secret", transport=fake)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        async with client:
            pass


async def test_caller_http_client_is_used_and_not_closed(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """A caller's http_client carries the requests and stays open after our aclose()."""
    async with httpx.AsyncClient(transport=fake) as http:
        client = AsyncIdenfy("test-key", "test-secret", http_client=http, retry_policy=policy)
        async with client:
            session = await client.create_session(client_id="user-1")
        assert client.is_closed
        assert not http.is_closed
        assert fake.sessions_for("user-1")[0].scan_ref == session.scan_ref
        response = await http.post(TOKEN_URL, json={"clientId": "x"})  # still usable
        assert response.status_code == 401  # (no auth from a bare client)


async def test_caller_closing_their_http_client_gives_client_closed_error(
    fake: FakeIdenfy,
) -> None:
    """If the caller closes their http_client, our calls raise ClientClosedError."""
    http = httpx.AsyncClient(transport=fake)
    client = AsyncIdenfy("test-key", "test-secret", http_client=http)
    await http.aclose()
    with pytest.raises(ClientClosedError):
        await client.create_session(client_id="user-1")
    assert fake.requests == 0


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(Fault(status=503), id="backoff-wait"),
        pytest.param(Fault(status=429, headers={"Retry-After": "5"}), id="cooldown-wait"),
    ],
)
async def test_close_during_retry_wait_raises_client_closed_error(
    script: Fault, fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """A call whose client is closed while it waits to retry raises ClientClosedError."""
    clients: list[AsyncIdenfy] = []

    async def closing_sleep(seconds: float) -> None:
        await clients[0].aclose()
        await clock.sleep(seconds)

    fake.fail_next(script)
    client = AsyncIdenfy(
        "test-key",
        "test-secret",
        transport=fake,
        retry_policy=attrs.evolve(policy, sleep=closing_sleep),
    )
    clients.append(client)
    with pytest.raises(ClientClosedError):
        await client.create_session(client_id="user-1")
    assert fake.requests == 1


@pytest.mark.parametrize("runner", ["new_event_loop", "asyncio_run"])
def test_client_used_from_another_event_loop(runner: str) -> None:
    """A client first used on one loop raises EventLoopMismatchError on another loop."""
    fake = FakeIdenfy(seed=1)
    client = AsyncIdenfy("test-key", "test-secret", transport=fake)

    async def create(client_id: str) -> Session:
        return await client.create_session(client_id=client_id)

    async def enter() -> None:
        async with client:
            pass

    if runner == "asyncio_run":
        asyncio.run(create("first"))
        with pytest.raises(EventLoopMismatchError, match="event loop"):
            asyncio.run(create("second"))
        with pytest.raises(EventLoopMismatchError):
            asyncio.run(enter())
        asyncio.run(client.aclose())
    else:
        first_loop = asyncio.new_event_loop()
        other_loop = asyncio.new_event_loop()
        try:
            first_loop.run_until_complete(create("first"))
            with pytest.raises(EventLoopMismatchError, match="event loop") as excinfo:
                other_loop.run_until_complete(create("second"))
            assert isinstance(excinfo.value, RuntimeError)
            with pytest.raises(EventLoopMismatchError):
                other_loop.run_until_complete(enter())
            first_loop.run_until_complete(create("third"))  # still fine on its own loop
            first_loop.run_until_complete(client.aclose())
        finally:
            first_loop.close()
            other_loop.close()
        assert [s.client_id for s in fake.sessions] == ["first", "third"]
    assert fake.sessions[0].client_id == "first"
    assert client.is_closed


# --------------------------------------------------------------------------- secrets and PII


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        pytest.param(KEY, "live…", id="long-key-prefix"),
        pytest.param("short", "***", id="short-key"),
    ],
)
def test_repr_hides_secret(key: str, shown: str) -> None:
    """repr(client) shows the base URL and at most a key prefix, never the secret."""
    text = repr(AsyncIdenfy(key, SECRET, transport=FakeIdenfy()))
    assert SECRET not in text
    assert basic(key, SECRET) not in text
    assert f"api_key='{shown}'" in text
    assert "https://ivs.idenfy.com" in text
    if len(key) >= 12:
        assert key not in text


PII_ECHO = json.dumps(
    {
        "identifier": "BAD_VALUE",
        "message": "Invalid value.",
        "clientId": "user-1",
        "firstName": PII.upper(),
        "lastName": "QWXYZ",
    }
).encode()

LEAK_CASES = [
    pytest.param([Fault(status=400, body=PII_ECHO)], None, id="400-echoing-body"),
    pytest.param(
        [Fault(status=500, body=b"<html>" + PII.encode() + b"</html>")] * 2,
        None,
        id="500-html-echo",
    ),
    pytest.param(
        [Fault(status=429, headers={"Retry-After": "600"}, body=PII_ECHO)],
        None,
        id="429-too-long",
    ),
    pytest.param([Fault(status=409, body=PII_ECHO)] * 2, None, id="409"),
    pytest.param(
        [
            Fault(
                status=201,
                body=json.dumps(
                    {**OK_BODY, "clientId": {"n": PII}, "firstName": PII.upper()}
                ).encode(),
            )
        ],
        None,
        id="201-undecodable-shape",
    ),
    pytest.param([Fault(status=201, body=b"{" + PII.encode())], None, id="201-not-json"),
    pytest.param([Fault(error=httpx.ReadTimeout)] * 2, None, id="read-timeout"),
    pytest.param([Fault(error=httpx.ConnectError)] * 2, None, id="connect-error"),
    pytest.param([], "wrong-secret", id="401-wrong-credentials"),
    pytest.param([], "invalid-input", id="validation-error"),
    pytest.param([], "closed", id="closed"),
]


@pytest.mark.parametrize(("scripts", "special"), LEAK_CASES)
async def test_errors_and_logs_never_leak_secret_or_body(
    scripts: list[Fault],
    special: str | None,
    clock: VirtualClock,
    policy: RetryPolicy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No error str/repr and no log record (any logger, DEBUG) holds the secret or body PII."""
    caplog.set_level(logging.DEBUG)
    fake = FakeIdenfy(KEY, "another-secret" if special == "wrong-secret" else SECRET, seed=2)
    fake.fail_next(*scripts)
    client = AsyncIdenfy(
        KEY, SECRET, transport=fake, retry_policy=policy, retry_unknown=True, max_retries=1
    )
    if special == "closed":
        await client.aclose()
    fields: dict[str, Any] = {"first_name": PII, "last_name": "Qwxyz"}
    if special == "invalid-input":
        fields["first_name"] = PII + "1"
    with pytest.raises(IdenfyError) as excinfo:
        await client.create_session(client_id="user-1", **fields)
    await client.aclose()
    if special == "wrong-secret":
        assert isinstance(excinfo.value, AuthenticationError)
    if special == "invalid-input":
        assert isinstance(excinfo.value, RequestValidationError)

    error = excinfo.value
    texts = [str(error), repr(error), repr(error.args), repr(client)]
    texts += [r.getMessage() for r in caplog.records]
    texts += [caplog.text]
    forbidden = [SECRET, basic(KEY, SECRET), base64.b64encode(SECRET.encode()).decode()]
    for text in texts:
        for secret in forbidden:
            assert secret not in text
        assert PII.lower() not in text.lower()
        assert "qwxyz" not in text.lower()


async def test_happy_path_debug_logs_hold_no_secret(
    policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """A successful call at DEBUG logs nothing secret or personal (httpx included)."""
    caplog.set_level(logging.DEBUG)
    fake = FakeIdenfy(KEY, SECRET, seed=2)
    async with AsyncIdenfy(KEY, SECRET, transport=fake, retry_policy=policy) as client:
        session = await client.create_session(client_id="user-1", first_name=PII)
    assert any(r.name.startswith("httpx") for r in caplog.records)  # httpx did log
    for record in caplog.records:
        message = record.getMessage()
        assert SECRET not in message
        assert basic(KEY, SECRET) not in message
        assert PII.lower() not in message.lower()
        assert session.auth_token not in message


# --------------------------------------------------------------------------- rate limit


class CountingPacer:
    """A Pacer that records acquisitions and never waits."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


async def test_rate_limit_spec_paces_every_request_on_the_injected_clock(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """rate_limit="2/s" lets 5 sequential calls through in 2 s of virtual time (and the
    pace's margin), none sooner."""
    start = clock()
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, rate_limit="2/s"
    ) as client:
        assert isinstance(client.rate_limit, Pace)
        assert client.rate_limit.rate == 2.0
        for n in range(5):
            await client.create_session(client_id=f"user-{n}")
    assert clock() - start == pytest.approx(4 / (2.0 * (1 - PACE_MARGIN)))
    assert len(fake.sessions) == 5


async def test_rate_limit_charges_every_attempt_including_retries(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """A retried call takes one token per attempt: the server counts every request."""
    limiter = CountingPacer()
    fake.fail_next(Fault(status=503))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, rate_limit=limiter
    ) as client:
        await client.create_session(client_id="user-1")
    assert (limiter.acquired, fake.requests) == (2, 2)


async def test_before_send_runs_once_after_pacing_and_before_the_first_attempt(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """before_send: awaited once, after the token is taken; retries do not call it again."""
    limiter = CountingPacer()
    seen: list[tuple[int, int]] = []

    async def hook() -> None:
        seen.append((limiter.acquired, fake.requests))

    fake.fail_next(Fault(status=503))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, rate_limit=limiter
    ) as client:
        await client.create_session(client_id="user-1", before_send=hook)
    assert seen == [(1, 0)]
    assert (limiter.acquired, fake.requests) == (2, 2)


async def test_before_send_that_raises_sends_nothing(fake: FakeIdenfy, policy: RetryPolicy) -> None:
    class Stop(Exception):
        pass

    async def hook() -> None:
        raise Stop

    async with AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy) as c:
        with pytest.raises(Stop):
            await c.create_session(client_id="user-1", before_send=hook)
        assert c.in_flight == 0
    assert fake.requests == 0


async def test_client_create_sessions_takes_one_token_per_row(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """client.create_sessions paces rows with the client's limiter, one token per request."""
    limiter = CountingPacer()
    rows = [SessionRequest(f"user-{n}") for n in range(7)]
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, rate_limit=limiter
    ) as client:
        results = [r async for r in client.create_sessions(rows, concurrency=3)]
    assert sorted(r.index for r in results) == list(range(7))
    assert {r.state for r in results} == {BulkState.CREATED}
    assert (limiter.acquired, fake.requests) == (7, 7)


async def test_client_create_sessions_without_rate_limit_defaults_to_max_concurrency(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """With no limiter every row is sent once and each clientId gets exactly one session."""
    rows = (SessionRequest(f"user-{n}") for n in range(25))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy, max_concurrency=4
    ) as client:
        states = [r.state async for r in client.create_sessions(rows)]
    assert states.count(BulkState.CREATED) == 25
    assert all(len(fake.sessions_for(f"user-{n}")) == 1 for n in range(25))


# --------------------------------------------------------------------------- one error boundary

_SENT, _NOT_SENT = True, False


def _raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


# Every httpx failure class: the typed error it becomes and whether the request may have
# left (None: not a connection error). Written out by hand, most specific first.
HTTPX_FAILURES = [
    pytest.param(httpx.ConnectError("x"), APIConnectionError, _NOT_SENT, id="ConnectError"),
    pytest.param(httpx.ConnectTimeout("x"), APITimeoutError, _NOT_SENT, id="ConnectTimeout"),
    pytest.param(httpx.PoolTimeout("x"), APITimeoutError, _NOT_SENT, id="PoolTimeout"),
    pytest.param(httpx.ProxyError("x"), APIConnectionError, _NOT_SENT, id="ProxyError"),
    pytest.param(httpx.UnsupportedProtocol("x"), APIConnectionError, _NOT_SENT, id="Unsupported"),
    pytest.param(httpx.LocalProtocolError("x"), APIConnectionError, _NOT_SENT, id="LocalProto"),
    pytest.param(httpx.ReadTimeout("x"), APITimeoutError, _SENT, id="ReadTimeout"),
    pytest.param(httpx.WriteTimeout("x"), APITimeoutError, _SENT, id="WriteTimeout"),
    pytest.param(httpx.ReadError("x"), APIConnectionError, _SENT, id="ReadError"),
    pytest.param(httpx.WriteError("x"), APIConnectionError, _SENT, id="WriteError"),
    pytest.param(httpx.CloseError("x"), APIConnectionError, _SENT, id="CloseError"),
    pytest.param(httpx.RemoteProtocolError("x"), APIConnectionError, _SENT, id="RemoteProto"),
    pytest.param(httpx.NetworkError("x"), APIConnectionError, _SENT, id="NetworkError"),
    pytest.param(httpx.TransportError("x"), APIConnectionError, _SENT, id="TransportError"),
    pytest.param(httpx.TooManyRedirects("x"), APIConnectionError, _SENT, id="TooManyRedirects"),
    pytest.param(httpx.RequestError("x"), APIConnectionError, _SENT, id="RequestError"),
    pytest.param(httpx.HTTPError("x"), APIConnectionError, _SENT, id="HTTPError"),
    pytest.param(httpx.StreamConsumed(), APIConnectionError, _SENT, id="StreamConsumed"),
    pytest.param(httpx.StreamClosed(), APIConnectionError, _SENT, id="StreamClosed"),
    pytest.param(httpx.ResponseNotRead(), APIConnectionError, _SENT, id="ResponseNotRead"),
    pytest.param(httpx.CookieConflict("x"), APIConnectionError, _SENT, id="CookieConflict"),
    pytest.param(httpx.DecodingError("x"), ResponseDecodeError, None, id="DecodingError"),
    pytest.param(httpx.InvalidURL("x"), RequestValidationError, None, id="InvalidURL"),
]


@pytest.mark.parametrize(("raised", "expected", "sent"), HTTPX_FAILURES)
@pytest.mark.parametrize("path", ["call", "download"])
async def test_every_httpx_failure_becomes_a_typed_error(
    raised: Exception,
    expected: type[IdenfyError],
    sent: bool | None,
    path: str,
    policy: RetryPolicy,
) -> None:
    """One boundary translates every httpx exception, on the API and the download path."""
    async with AsyncIdenfy(
        "k", "s", transport=_raising(raised), retry_policy=policy, max_retries=0
    ) as client:
        call = (
            client.create_session(client_id="user-1")
            if path == "call"
            else client.download_file("https://s3.example/f.jpg?sig=1", io.BytesIO())
        )
        with pytest.raises(IdenfyError) as excinfo:
            await call
    error = excinfo.value
    assert type(error) is expected
    assert error.__cause__ is raised
    if sent is not None:
        assert isinstance(error, APIConnectionError)
        assert error.request_sent is sent
        assert error.outcome_unknown is (sent and path == "call")


async def test_too_many_redirects_from_a_callers_client_is_typed(policy: RetryPolicy) -> None:
    """A caller's http_client that follows redirects: TooManyRedirects escaped untyped."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": str(request.url)})

    http = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), follow_redirects=True, max_redirects=3
    )
    async with http, AsyncIdenfy("k", "s", http_client=http, retry_policy=policy) as client:
        with pytest.raises(APIConnectionError) as excinfo:
            await client.create_session(client_id="user-1")
    assert excinfo.value.request_sent is True
    assert excinfo.value.outcome_unknown is True
    assert isinstance(excinfo.value.__cause__, httpx.TooManyRedirects)


async def test_raise_for_status_in_a_callers_response_hook_maps_by_status(
    policy: RetryPolicy,
) -> None:
    async def raise_for_status(response: httpx.Response) -> None:
        response.raise_for_status()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"identifier": "UNAUTHORIZED"})

    http = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), event_hooks={"response": [raise_for_status]}
    )
    async with http, AsyncIdenfy("k", "s", http_client=http, retry_policy=policy) as client:
        with pytest.raises(AuthenticationError) as excinfo:
            await client.get_status("scan-1")
    assert excinfo.value.status_code == 401


# --------------------------------------------------------------------------- timeouts, deadline


class VirtualWire:
    """A mock API on the virtual clock that honours the request's timeouts as httpx does.

    Each answer is a status, or "hang": the read timeout passes (on the virtual
    clock), then ReadTimeout. Records the timeouts each request carried.
    """

    def __init__(self, clock: VirtualClock, *answers: int | str) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.timeouts: list[dict[str, float | None]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions["timeout"]
        self.timeouts.append(timeouts)
        answer = self.answers.pop(0) if self.answers else 201
        if answer == "hang":
            read = timeouts["read"]
            await self.clock.sleep(3600.0 if read is None else read)
            raise httpx.ReadTimeout("timed out", request=request)
        assert isinstance(answer, int)
        return httpx.Response(answer, json=OK_BODY if answer < 300 else {})


async def test_deadline_cuts_the_attempt_after_a_retry(
    policy: RetryPolicy, clock: VirtualClock
) -> None:
    """503, then a hang: the retry gets what is left of retry_deadline=3, not timeout=30."""
    wire = VirtualWire(clock, 503, "hang")
    start = clock.now
    async with AsyncIdenfy(
        "k", "s", transport=httpx.MockTransport(wire), retry_policy=policy
    ) as client:
        with pytest.raises(APITimeoutError) as excinfo:
            await client.create_session(client_id="user-1", retry_deadline=3)
    assert clock.now - start == 3.0  # was 30.25: the timeout ran whole after the wait
    assert [t["read"] for t in wire.timeouts] == [3.0, 2.75]
    assert excinfo.value.request_sent is True


D = httpx.Timeout(30.0, connect=5.0, pool=10.0)  # the default


@pytest.mark.parametrize(
    ("timeout", "deadline", "expected"),
    [
        # (connect, read, write, pool) of the first attempt. The read value bounds the
        # whole attempt; no phase outlasts it or what is left of the deadline.
        pytest.param(NOT_GIVEN, 60.0, (5.0, 30.0, 30.0, 10.0), id="default"),
        pytest.param(NOT_GIVEN, 7.0, (5.0, 7.0, 7.0, 7.0), id="default-short-deadline"),
        pytest.param(NOT_GIVEN, None, (5.0, 30.0, 30.0, 10.0), id="default-no-deadline"),
        pytest.param(2.0, 60.0, (2.0, 2.0, 2.0, 2.0), id="number-sets-all-four"),
        pytest.param(None, 60.0, (60.0, 60.0, 60.0, 60.0), id="none-bounded-by-deadline"),
        pytest.param(None, None, (None, None, None, None), id="none-no-deadline"),
        pytest.param(httpx.Timeout(10.0, connect=20.0), 60.0, (10.0,) * 4, id="read-bounds-all"),
        pytest.param(httpx.Timeout(None, connect=5.0), 9.0, (5.0, 9.0, 9.0, 9.0), id="read-none"),
        pytest.param(httpx.Timeout(4.0, pool=1.0), 60.0, (4.0, 4.0, 4.0, 1.0), id="pool-shorter"),
    ],
)
async def test_timeout_components_of_one_attempt(
    timeout: Any,
    deadline: float | None,
    expected: tuple[float | None, ...],
    policy: RetryPolicy,
    clock: VirtualClock,
) -> None:
    wire = VirtualWire(clock, 201)
    async with AsyncIdenfy(
        "k", "s", transport=httpx.MockTransport(wire), retry_policy=policy
    ) as client:
        await client.create_session(client_id="user-1", timeout=timeout, retry_deadline=deadline)
    sent = wire.timeouts[0]
    assert (sent["connect"], sent["read"], sent["write"], sent["pool"]) == expected
    assert D.read == 30.0  # the documented default


async def test_queueing_for_a_token_does_not_count_against_the_deadline(
    policy: RetryPolicy, clock: VirtualClock
) -> None:
    """Ten calls gathered at 1/s with retry_deadline=3: the last waits 9 s for its turn,
    and its attempt still gets the whole 3 s (pacing is the caller's, not a failure)."""
    wire = VirtualWire(clock)
    async with AsyncIdenfy(
        "k", "s", transport=httpx.MockTransport(wire), retry_policy=policy, rate_limit="1/s"
    ) as client:
        sessions = await asyncio.gather(
            *(client.create_session(client_id=f"u{n}", retry_deadline=3) for n in range(10))
        )
    assert len(sessions) == 10
    assert [t["read"] for t in wire.timeouts] == [3.0] * 10


async def test_download_waits_out_the_file_hosts_retry_after(
    policy: RetryPolicy, clock: VirtualClock
) -> None:
    """A 429 from the file host is retried after its Retry-After (it was retried at once)."""
    answers = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, content=b"j")]
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now)
        return answers.pop(0)

    target = io.BytesIO()
    async with AsyncIdenfy(
        "k", "s", transport=httpx.MockTransport(handler), retry_policy=policy
    ) as client:
        await client.download_file("https://s3.example/f.jpg?sig=1", target)
    assert target.getvalue() == b"j"
    assert sent == [1000.0, 1003.0]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"timeout": float("nan")}, id="timeout-nan"),
        pytest.param({"timeout": -1.0}, id="timeout-negative"),
        pytest.param({"timeout": httpx.Timeout(5.0, read=float("inf"))}, id="read-inf"),
        pytest.param({"retry_deadline": float("nan")}, id="deadline-nan"),
        pytest.param({"retry_deadline": -1.0}, id="deadline-negative"),
        pytest.param({"retry_deadline": float("inf")}, id="deadline-inf"),
    ],
)
async def test_a_bound_that_is_no_number_of_seconds_is_refused_before_sending(
    options: dict[str, Any], policy: RetryPolicy, clock: VirtualClock
) -> None:
    """NaN or negative bounds would reach the event loop's timer heap: refused, typed."""
    wire = VirtualWire(clock)
    async with AsyncIdenfy(
        "k", "s", transport=httpx.MockTransport(wire), retry_policy=policy
    ) as client:
        with pytest.raises(ConfigurationError):
            await client.create_session(client_id="user-1", **options)
    if "timeout" in options:
        with pytest.raises(ConfigurationError):
            AsyncIdenfy("k", "s", timeout=options["timeout"])
    assert wire.timeouts == []


async def test_client_create_sessions_passes_stop_on(fake: FakeIdenfy, policy: RetryPolicy) -> None:
    """stop= set before the run: the client's bulk runner sends nothing at all."""
    stop = asyncio.Event()
    stop.set()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy) as c:
        results = [r async for r in c.create_sessions(SessionRequest(f"u-{n}") for n in range(5))]
        assert len(results) == 5
        stopped = [
            r
            async for r in c.create_sessions(
                (SessionRequest(f"v-{n}") for n in range(5)), stop=stop
            )
        ]
    assert stopped == []
    assert fake.requests == 5
