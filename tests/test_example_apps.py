"""The example services end to end: FastAPI (in-process ASGI and a real uvicorn), aiohttp.

Each test creates a session through the app, completes it in FakeIdenfy, has the fake
deliver the signed webhook to the app, and waits (no sleeps) for the app's background
worker to fetch the data and record the result. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import socket
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import uvicorn
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from examples import aiohttp_app, fastapi_app
from idenfy_async import (
    AsyncIdenfy,
    ConfigurationError,
    DocumentType,
    RetryPolicy,
    coordination,
    to_dict,
)
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer, Fault
from idenfy_async.testing._faults import Reply
from idenfy_async.webhooks import sign
from tests.support.redisserver import RedisServer

SIGNING_KEY = "example-signing-key"
DATA_PATH = "/api/v2/data"
WEBHOOK_PATH = "/idenfy/webhook"
ROOT = Path(__file__).parent.parent


class GatedFake(httpx.AsyncBaseTransport):
    """FakeIdenfy that records every path and can hold ``/api/v2/data`` at a gate."""

    def __init__(self, fake: FakeIdenfy) -> None:
        self.fake = fake
        self.paths: list[str] = []
        self.data_gate = asyncio.Event()
        self.data_gate.set()
        self.at_gate = asyncio.Event()  # a data fetch is waiting at the closed gate

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path == DATA_PATH:
            if not self.data_gate.is_set():
                self.at_gate.set()
            await self.data_gate.wait()
        return await self.fake.handle_async_request(request)


class Service(Protocol):
    """What the tests use of either example's KycService."""

    results: Any

    async def drained(self) -> None: ...


@pytest.fixture
def gated(fake: FakeIdenfy) -> GatedFake:
    return GatedFake(fake)


@pytest.fixture
def client_factory(gated: GatedFake, policy: RetryPolicy) -> Callable[[], AsyncIdenfy]:
    return lambda: AsyncIdenfy("test-key", "test-secret", transport=gated, retry_policy=policy)


Post = Callable[[str, dict[str, Any]], Awaitable[tuple[int, Any]]]
Get = Callable[[str], Awaitable[tuple[int, Any]]]


async def run_flow(
    post: Post,
    get: Get,
    service: Service,
    fake: FakeIdenfy,
    gated: GatedFake,
    callback_url: str,
    http_client: httpx.AsyncClient | None = None,
) -> None:
    """Session via the app -> complete -> signed webhook -> background data fetch -> recorded."""
    status, created = await post("/verifications", {"user_id": "user-42"})
    assert status == 200
    scan_ref = created["scan_ref"]
    assert created["redirect_url"].startswith("https://ivs.idenfy.com/api/v2/redirect?authToken=")
    assert created["iframe_url"].startswith("https://ui.idenfy.com/?authToken=")
    session = fake.session(scan_ref)
    assert (session.client_id, session.callback_url) == ("user-42", callback_url)

    fake.complete(scan_ref, "APPROVED", data={"docType": "PASSPORT"})

    async def deliver(key: str = SIGNING_KEY) -> int:
        return await fake.send_webhook(scan_ref, signing_key=key, http_client=http_client)

    # The app answers only once the event is processed: hold the data fetch at the gate.
    gated.data_gate.clear()
    delivery = asyncio.create_task(deliver())
    await gated.at_gate.wait()
    assert not delivery.done()
    assert scan_ref not in service.results
    assert await get(f"/verifications/{scan_ref}") == (404, {"detail": "no result yet"})
    gated.data_gate.set()
    assert await delivery == 200
    record = service.results[scan_ref]
    assert (record.status, record.final, record.client_id) == ("APPROVED", True, "user-42")
    assert record.data.doc_type == DocumentType.PASSPORT
    assert record.data.doc_first_name == "JOHN"
    assert gated.paths.count(DATA_PATH) == 1
    assert await get(f"/verifications/{scan_ref}") == (
        200,
        {
            "scan_ref": scan_ref,
            "client_id": "user-42",
            "status": "APPROVED",
            "final": True,
            "document_type": "PASSPORT",
        },
    )

    # A redelivery is acknowledged and not processed twice.
    assert await deliver() == 200
    await service.drained()
    assert gated.paths.count(DATA_PATH) == 1

    # A forged webhook (wrong key) is refused and never processed.
    fake.complete(scan_ref, "DENIED")
    assert await deliver("forged-key") == 401
    await service.drained()
    assert service.results[scan_ref].status == "APPROVED"
    assert gated.paths.count(DATA_PATH) == 1
    assert [d.status_code for d in fake.webhooks] == [200, 200, 401]


# --------------------------------------------------------------------------- FastAPI


def httpx_calls(http: httpx.AsyncClient) -> tuple[Post, Get]:
    async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = await http.post(path, json=body)
        return response.status_code, response.json()

    async def get(path: str) -> tuple[int, Any]:
        response = await http.get(path)
        return response.status_code, response.json()

    return post, get


async def test_fastapi_app_in_process(
    fake: FakeIdenfy, gated: GatedFake, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """FastAPI through httpx.ASGITransport, with its lifespan run explicitly."""
    app = fastapi_app.create_app(client_factory, SIGNING_KEY, public_url="http://127.0.0.1")
    service: fastapi_app.KycService = app.state.service
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
    ):
        post, get = httpx_calls(http)
        await run_flow(
            post, get, service, fake, gated, "http://127.0.0.1/idenfy/webhook", http_client=http
        )
    assert service.client.is_closed  # closed at shutdown


async def test_fastapi_app_answers_503_when_processing_takes_too_long(
    fake: FakeIdenfy, gated: GatedFake, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """Not processed within answer_within: 503 and the claim released, so iDenfy's
    redelivery is processed; a redelivery of a processed event is 200 at once."""
    app = fastapi_app.create_app(client_factory, SIGNING_KEY, answer_within=0.05)
    service: fastapi_app.KycService = app.state.service
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
    ):
        created = await http.post("/verifications", json={"user_id": "slow"})
        scan_ref = created.json()["scan_ref"]
        fake.complete(scan_ref, "APPROVED")
        hook = "http://127.0.0.1/idenfy/webhook"
        gated.data_gate.clear()  # the data fetch hangs: longer than answer_within
        statuses = [
            await fake.send_webhook(scan_ref, signing_key=SIGNING_KEY, url=hook, http_client=http)
        ]
        assert scan_ref not in service.results
        gated.data_gate.set()
        for _ in range(2):  # iDenfy delivers it again
            statuses.append(
                await fake.send_webhook(
                    scan_ref,
                    signing_key=SIGNING_KEY,
                    url=hook,
                    http_client=http,
                )
            )
    assert statuses == [503, 200, 200]
    assert service.results[scan_ref].status == "APPROVED"
    assert gated.paths.count(DATA_PATH) == 2  # the abandoned fetch, then the processed one


async def test_fastapi_app_rejects_bad_input(client_factory: Callable[[], AsyncIdenfy]) -> None:
    """A webhook that is not JSON is 400, an unsigned one 401; a bad user_id is 422."""
    app = fastapi_app.create_app(client_factory, SIGNING_KEY)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        unsigned = await http.post("/idenfy/webhook", content=b"{}")
        body = b"not json"
        garbage = await http.post(
            "/idenfy/webhook",
            content=body,
            headers={"Idenfy-Signature": sign(body, SIGNING_KEY)},
        )
        too_long = await http.post("/verifications", json={"user_id": "x" * 101})
    assert (unsigned.status_code, garbage.status_code, too_long.status_code) == (401, 400, 422)
    assert "clientId" in too_long.json()["detail"]


@contextlib.asynccontextmanager
async def uvicorn_server(app: Any, sock: socket.socket) -> AsyncIterator[None]:
    """Serve ``app`` on a listening loopback socket, in this event loop, until exit."""
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task


def listening_socket() -> socket.socket:
    # Bound and listening before the server starts: early connections wait in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


async def test_fastapi_app_on_uvicorn(
    fake: FakeIdenfy, gated: GatedFake, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """FastAPI on a real uvicorn server on 127.0.0.1; the fake delivers over TCP."""
    with listening_socket() as sock:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = fastapi_app.create_app(client_factory, SIGNING_KEY, public_url=base)
        service: fastapi_app.KycService = app.state.service
        async with (
            uvicorn_server(app, sock),
            httpx.AsyncClient(base_url=base) as http,
        ):
            post, get = httpx_calls(http)
            await run_flow(post, get, service, fake, gated, f"{base}/idenfy/webhook")
    assert service.client.is_closed


async def test_fastapi_app_without_credentials_uses_the_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No IDENFY_* settings: the built-in FakeIdenfy and its signing key serve the demo."""
    for name in ("IDENFY_API_KEY", "IDENFY_API_SECRET", "IDENFY_SIGNING_KEY", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    app = fastapi_app.create_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.post("/verifications", json={"user_id": "user-1"})
    assert response.status_code == 200
    assert response.json()["scan_ref"]


def test_fastapi_app_returns_the_verdict_as_json(fake: FakeIdenfy) -> None:
    """FastAPI's TestClient: the recorded webhook's VerificationStatus comes back as the
    plain JSON of idenfy_async.to_dict (enum values, lists), the service's own route."""
    with warnings.catch_warnings():
        # Starlette 1.x asks for httpx2 under its TestClient and warns on httpx, which it
        # still supports: the test group keeps the one HTTP client the library uses.
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient as StarletteTestClient

    app = fastapi_app.create_app(
        lambda: AsyncIdenfy("test-key", "test-secret", transport=fake), SIGNING_KEY
    )
    with StarletteTestClient(app) as http:
        scan_ref = http.post("/verifications", json={"user_id": "user-42"}).json()["scan_ref"]
        assert http.get(f"/verifications/{scan_ref}/status").status_code == 404
        fake.complete(scan_ref, "SUSPECTED")
        body = json.dumps(fake.webhook_payload(scan_ref)).encode()
        delivered = http.post(
            WEBHOOK_PATH,
            content=body,
            headers={
                "Idenfy-Signature": sign(body, SIGNING_KEY),
                "Idenfy-Event-Type": "IDENTIFICATION_AUTO_FINISHED",
            },
        )
        assert delivered.status_code == 200
        verdict = http.get(f"/verifications/{scan_ref}/status")
    assert verdict.status_code == 200
    assert verdict.json() == to_dict(app.state.service.results[scan_ref].verdict)
    assert verdict.json()["overall"] == "SUSPECTED"
    assert isinstance(verdict.json()["fraud_tags"], list)


@pytest.mark.parametrize("module", [fastapi_app, aiohttp_app])
def test_apps_refuse_to_run_without_a_signing_key(
    module: Any, monkeypatch: pytest.MonkeyPatch, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """A real client (injected, or from the environment) needs the webhook signing key."""
    monkeypatch.delenv("IDENFY_SIGNING_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="IDENFY_SIGNING_KEY"):
        module.create_app(client_factory)
    monkeypatch.setenv("IDENFY_API_KEY", "live-key")
    with pytest.raises(ConfigurationError, match="IDENFY_SIGNING_KEY"):
        module.create_app()


# --------------------------------------------------------------------------- aiohttp


def aiohttp_calls(http: TestClient[web.Request, web.Application]) -> tuple[Post, Get]:
    async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with http.post(path, json=body) as response:
            return response.status, await response.json()

    async def get(path: str) -> tuple[int, Any]:
        async with http.get(path) as response:
            return response.status, await response.json()

    return post, get


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_aiohttp_app(
    fake: FakeIdenfy, gated: GatedFake, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """aiohttp through TestServer/TestClient on 127.0.0.1; the fake delivers over TCP."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = aiohttp_app.create_app(client_factory, SIGNING_KEY, public_url=base)
    service = app[aiohttp_app.SERVICE]
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)) as http:
        post, get = aiohttp_calls(http)
        await run_flow(post, get, service, fake, gated, f"{base}/idenfy/webhook")
    assert service.client.is_closed


async def test_aiohttp_app_rejects_bad_input(
    aiohttp_client: AiohttpClient, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """Through the pytest-aiohttp fixture: unsigned webhook 401, bad bodies 400/422."""
    http = await aiohttp_client(aiohttp_app.create_app(client_factory, SIGNING_KEY))
    unsigned = await http.post("/idenfy/webhook", data=b"{}")
    not_json = await http.post("/verifications", data=b"[")
    no_user = await http.post("/verifications", json={"name": "x"})
    too_long = await http.post("/verifications", json={"user_id": "x" * 101})
    assert [r.status for r in (unsigned, not_json, no_user, too_long)] == [401, 400, 422, 422]
    assert "clientId" in (await too_long.json())["detail"]


async def test_fastapi_app_reverifies_a_returning_user_by_face(
    fake: FakeIdenfy, client_factory: Callable[[], AsyncIdenfy]
) -> None:
    """An approved user gets a face-authentication link; others must verify again (409)."""
    app = fastapi_app.create_app(client_factory, SIGNING_KEY)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        started = (await http.post("/verifications", json={"user_id": "returning"})).json()
        scan_ref = started["scan_ref"]
        not_yet = await http.post(f"/verifications/{scan_ref}/reverify")
        fake.complete(scan_ref, "APPROVED")
        again = await http.post(f"/verifications/{scan_ref}/reverify")
        unknown = await http.post("/verifications/no-such-scan-ref/reverify")
    assert not_yet.status_code == 409
    assert unknown.status_code == 404
    assert again.status_code == 200
    (face,) = fake.kyc.face_sessions
    assert again.json() == {
        "method": "FACE_AUTHENTICATION",
        "redirect_url": f"https://face.authentication.idenfy.com/?token={face.token}",
    }
    assert face.scan_ref == scan_ref


# --------------------------------------------------------------------------- start-up checks


@pytest.mark.parametrize("module", [fastapi_app, aiohttp_app])
@pytest.mark.parametrize(
    ("public_url", "problem"),
    [
        ("http://kyc.example.com", "must be an https:// URL"),
        ("ftp://kyc.example.com/", "must be an https:// URL"),
        ("kyc.example.com", "must be an https:// URL"),
        ("https://kyc.example.com", None),
        ("https://kyc.example.com/", None),
        ("http://127.0.0.1:8000", None),  # loopback: the fake delivers there
    ],
)
def test_apps_check_public_base_url_at_start_up(
    module: Any,
    monkeypatch: pytest.MonkeyPatch,
    client_factory: Callable[[], AsyncIdenfy],
    public_url: str,
    problem: str | None,
) -> None:
    """A PUBLIC_BASE_URL iDenfy would refuse stops the app before it serves anyone."""
    monkeypatch.setenv("PUBLIC_BASE_URL", public_url)
    if problem is None:
        module.create_app(client_factory, SIGNING_KEY)
        return
    with pytest.raises(ConfigurationError) as info:
        module.create_app(client_factory, SIGNING_KEY)
    assert str(info.value) == (
        f"PUBLIC_BASE_URL={public_url!r} cannot be used: the callbackUrl"
        f" {public_url.rstrip('/') + module.WEBHOOK_PATH!r} {problem}"
    )


@pytest.mark.parametrize("module", [fastapi_app, aiohttp_app])
def test_example_docstrings_say_how_to_install_today(module: Any) -> None:
    """idenfy-async is not on PyPI: the examples say to install from the repository."""
    doc = module.__doc__
    assert "pip install idenfy-async " not in doc.replace("``pip install idenfy-async``", "")
    assert "pip install . " in doc
    assert "clone of the idenfy-async repository" in " ".join(doc.split())


# --------------------------------------------------------------------------- several workers


async def test_two_fastapi_workers_share_sessions_and_webhook_dedupe(
    fake: FakeIdenfy, gated: GatedFake, own_redis_server: RedisServer
) -> None:
    """Two workers on one Redis (IDENFY_REDIS_URL): a double click on two workers gets one
    session, a webhook redelivered to the other worker is not processed again, the final
    result frees the user for a new session, and a Redis outage answers 503."""

    def factory() -> AsyncIdenfy:
        return AsyncIdenfy(
            "test-key",
            "test-secret",
            transport=gated,
            redis_url=own_redis_server.url,
            rate_limit="1000/s",
            single_session=True,
        )

    apps = [
        fastapi_app.create_app(factory, SIGNING_KEY, public_url="http://127.0.0.1")
        for _ in range(2)
    ]
    services: list[fastapi_app.KycService] = [app.state.service for app in apps]
    async with contextlib.AsyncExitStack() as stack:
        https = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            https.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://t")
                )
            )
        a, b = https
        clicks = await asyncio.gather(
            *(http.post("/verifications", json={"user_id": "u-1"}) for http in (a, b))
        )
        assert [r.status_code for r in clicks] == [200, 200]
        scan_ref = clicks[0].json()["scan_ref"]
        assert clicks[1].json()["scan_ref"] == scan_ref
        assert len(fake.sessions_for("u-1")) == 1

        fake.complete(scan_ref, "APPROVED", data={"docType": "PASSPORT"})
        for http in (a, b):  # delivered to one worker, redelivered to the other
            assert (
                await fake.send_webhook(scan_ref, signing_key=SIGNING_KEY, http_client=http) == 200
            )
            for service in services:
                await service.drained()
        assert gated.paths.count(DATA_PATH) == 1
        again = await b.post("/verifications", json={"user_id": "u-1"})
        assert again.json()["scan_ref"] != scan_ref  # the final result closed the session

        own_redis_server.kill()
        fake.complete(again.json()["scan_ref"], "DENIED")
        status = await fake.send_webhook(
            again.json()["scan_ref"], signing_key=SIGNING_KEY, http_client=a
        )
        assert status == 503  # iDenfy redelivers it once Redis is back
        refused = await a.post("/verifications", json={"user_id": "u-2"})
        assert refused.status_code == 503
    assert len(fake.sessions_for("u-2")) == 0  # no session without the claim


# --------------------------------------------------------------------------- real processes


class CountingFake(FakeIdenfy):
    """FakeIdenfy counting, per scanRef, the data fetches that reached it."""

    def __init__(self) -> None:
        super().__init__(seed=11)
        self.fetched: collections.Counter[str] = collections.Counter()

    async def respond(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        fault: Fault | None = None,
        *,
        origin: str | None = None,
    ) -> Reply:
        if path == DATA_PATH:
            self.fetched[json.loads(body)["scanRef"]] += 1
        return await super().respond(method, path, headers, body, fault, origin=origin)


async def deliver_or_none(fake: FakeIdenfy, scan_ref: str) -> int | None:
    """A webhook delivery's status, or None when the connection failed (not answered)."""
    try:
        return await fake.send_webhook(scan_ref, signing_key=SIGNING_KEY)
    except httpx.HTTPError:
        return None


async def test_two_uvicorn_workers_acknowledge_only_processed_webhooks(
    own_redis_server: RedisServer,
) -> None:
    """Issue 19: two uvicorn worker processes on one Redis get more webhooks than the
    account's quota lets them fetch data for, then a graceful shutdown (SIGTERM). Every
    webhook answered 200 was processed (its data fetched); the others were answered
    otherwise (iDenfy redelivers them) and their dedupe claims were released."""
    fake = CountingFake()
    count = 40
    async with FakeIdenfyServer(fake) as base_url:
        port = free_port()
        app_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "IDENFY_API_KEY": "test-key",
            "IDENFY_API_SECRET": "test-secret",
            "IDENFY_BASE_URL": base_url,
            "IDENFY_REDIS_URL": own_redis_server.url,
            "IDENFY_SIGNING_KEY": SIGNING_KEY,
            "WEBHOOK_ANSWER_WITHIN": "2",  # iDenfy waits 10 s; keep the test short
        }
        env.pop("PUBLIC_BASE_URL", None)
        server = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "uvicorn", "--factory", "examples.fastapi_app:create_app"),
            *("--workers", "2", "--host", "127.0.0.1", "--port", str(port)),
            *("--log-level", "warning"),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with httpx.AsyncClient(base_url=app_url) as http:
                for _ in range(300):  # at most about 15 s to start two workers
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/verifications/none")).status_code == 404:
                            break
                    await asyncio.sleep(0.05)
            async with AsyncIdenfy(
                "test-key", "test-secret", transport=fake, rate_limit="1000/s"
            ) as client:
                sessions = await asyncio.gather(
                    *(
                        client.create_session(
                            client_id=f"user-{i}", callback_url=f"{app_url}{WEBHOOK_PATH}"
                        )
                        for i in range(count)
                    )
                )
            scan_refs = [s.scan_ref for s in sessions]
            for scan_ref in scan_refs:
                fake.complete(scan_ref, "APPROVED")
            deliveries = asyncio.gather(*(deliver_or_none(fake, s) for s in scan_refs))
            for _ in range(200):  # the workers are fetching: now a graceful shutdown
                if sum(fake.fetched.values()) >= 2:
                    break
                await asyncio.sleep(0.05)
            server.send_signal(signal.SIGTERM)
            statuses = await asyncio.wait_for(deliveries, 30)
            _, stderr = await asyncio.wait_for(server.communicate(), 30)
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()
    acknowledged = [s for s, status in zip(scan_refs, statuses, strict=True) if status == 200]
    lost = [s for s in acknowledged if fake.fetched[s] == 0]
    assert 0 < len(acknowledged) < count, stderr.decode()[-2000:]  # the quota held some back
    assert len(lost) == 0, f"{len(lost)} of {len(acknowledged)} acknowledged never processed"
    redis = coordination.connect(own_redis_server.url)
    try:
        keys = await redis.keys("*:wh:*")
        held = [await redis.get(k) for k in keys]
    finally:
        await redis.aclose()
    # Done keys for what was processed; no claim left to block iDenfy's redelivery.
    assert held.count(b"d") == len(keys) >= len(acknowledged)


async def test_webhooks_refused_during_a_redis_stall_are_processed_when_redelivered(
    fake: FakeIdenfy, gated: GatedFake, own_redis_server: RedisServer
) -> None:
    """Issue 19: webhooks answered 503 while Redis hung (SIGSTOP); their dedupe claims
    ran when it resumed (SIGCONT). iDenfy's redeliveries, to the other worker, must be
    processed (data fetched) before any is answered 200: none dropped as a duplicate."""

    def factory() -> AsyncIdenfy:
        return AsyncIdenfy(
            "test-key",
            "test-secret",
            transport=gated,
            redis_url=own_redis_server.url,
            rate_limit="1000/s",
            single_session=True,
        )

    apps = [fastapi_app.create_app(factory, SIGNING_KEY) for _ in range(2)]
    services: list[fastapi_app.KycService] = [app.state.service for app in apps]
    probe = coordination.connect(own_redis_server.url, op_timeout=2.0)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(probe.aclose)
        https = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            https.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
                    )
                )
            )
        a, b = https
        for service in services:  # short claim leases, so the test is short
            service._dedupe = coordination.RedisDedupeStore(
                service.client._redis, "test-key", lease=0.5
            )
        created = [await a.post("/verifications", json={"user_id": f"u-{i}"}) for i in range(10)]
        scan_refs = [r.json()["scan_ref"] for r in created]
        for scan_ref in scan_refs:
            fake.complete(scan_ref, "APPROVED")
        hook = "http://127.0.0.1" + WEBHOOK_PATH

        async def deliver(http: httpx.AsyncClient, scan_ref: str) -> int:
            return await fake.send_webhook(
                scan_ref, signing_key=SIGNING_KEY, url=hook, http_client=http
            )

        assert services[0]._dedupe is not None
        await services[0]._dedupe.claim("warm")  # the script loaded (else NOSCRIPT on resume)
        await asyncio.gather(*(services[0].client._redis.ping() for _ in range(12)))
        before = int((await probe.info("commandstats"))["cmdstat_evalsha"]["calls"])
        own_redis_server.pause()
        try:
            stalled = await asyncio.gather(*(deliver(a, s) for s in scan_refs))
        finally:
            own_redis_server.resume()
        assert stalled == [503] * 10
        assert gated.paths.count(DATA_PATH) == 0
        for _ in range(150):  # at most 3 s: until the queued claims have run
            if int((await probe.info("commandstats"))["cmdstat_evalsha"]["calls"]) >= before + 10:
                break
            await asyncio.sleep(0.02)
        answered: dict[str, int] = {}
        for _ in range(100):  # iDenfy redelivers (to the other worker) until a 200
            for scan_ref in set(scan_refs) - set(answered):
                status = await deliver(b, scan_ref)
                if status == 200:
                    answered[scan_ref] = gated.paths.count(DATA_PATH)
            if len(answered) == 10:
                break
            await asyncio.sleep(0.05)
    assert sorted(answered) == sorted(scan_refs)
    assert gated.paths.count(DATA_PATH) == 10  # each redelivery answered 200 was processed
    assert all(scan_ref in services[1].results for scan_ref in scan_refs)
