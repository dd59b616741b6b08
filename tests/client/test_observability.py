"""What a call tells about itself: IDENFY_LOG's per-attempt lines, and ResponseInfo."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from idenfy_async import (
    APIError,
    AsyncIdenfy,
    ConfigurationError,
    ResponseInfo,
    RetryPolicy,
    ServerError,
)
from idenfy_async._constants import ENV_LOG
from idenfy_async._send.observe import logger
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer, Fault

ATTEMPTS = "idenfy_async.http"


@pytest.fixture(autouse=True)
def _restore_level() -> Iterator[None]:
    """IDENFY_LOG sets the package logger's level: put it back after each test."""
    level = logger.level
    yield
    logger.setLevel(level)


def attempt_lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ATTEMPTS and r.levelno == level]


# --------------------------------------------------------------------------- IDENFY_LOG


@pytest.mark.parametrize(
    ("value", "level"),
    [("info", logging.INFO), ("debug", logging.DEBUG), (" DEBUG ", logging.DEBUG), ("", None)],
)
def test_idenfy_log_sets_the_package_level(
    monkeypatch: pytest.MonkeyPatch, value: str, level: int | None
) -> None:
    logger.setLevel(logging.NOTSET)
    monkeypatch.setenv(ENV_LOG, value)
    AsyncIdenfy("test-key", "test-secret", transport=FakeIdenfy())
    assert logger.level == (logging.NOTSET if level is None else level)


def test_a_bad_idenfy_log_value_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_LOG, "verbose")
    with pytest.raises(ConfigurationError, match=r"IDENFY_LOG must be one of info, debug"):
        AsyncIdenfy("test-key", "test-secret", transport=FakeIdenfy())


def test_without_idenfy_log_nothing_is_logged_per_attempt(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, policy: RetryPolicy
) -> None:
    monkeypatch.delenv(ENV_LOG, raising=False)
    logger.setLevel(logging.NOTSET)  # the root's WARNING then applies, as in an app

    async def run() -> None:
        async with AsyncIdenfy(
            "test-key", "test-secret", transport=FakeIdenfy(), retry_policy=policy
        ) as client:
            await client.create_session(client_id="user-1")

    asyncio.run(run())
    assert attempt_lines(caplog) == []


async def test_one_line_per_attempt_with_what_happened(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fake: FakeIdenfy,
    policy: RetryPolicy,
) -> None:
    monkeypatch.setenv(ENV_LOG, "info")
    caplog.set_level(logging.NOTSET)  # capture what the package's own level lets through
    fake.fail_next(Fault(status=503), Fault(error=httpx.ConnectError))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:
        session = await client.create_session(client_id="user-1")
        fake.complete(session.scan_ref)
        [_ async for _ in client.list_verifications(client_id="user-1")]
        await client.get_files(session.scan_ref)
        fake.fail_next(Fault(status=500))
        with pytest.raises(ServerError):
            await client.get_status(session.scan_ref, max_retries=0)
    assert attempt_lines(caplog) == [
        "POST /api/v2/token 503 in 0 ms (attempt 1: ServerError)",
        "POST /api/v2/token - in 0 ms (attempt 2: APIConnectionError)",
        "POST /api/v2/token 201 in 0 ms (attempt 3: ok)",
        "GET /kyc/identifications/ 200 in 0 ms (attempt 1: ok)",  # never the clientId query
        "POST /api/v2/files 200 in 0 ms (attempt 1: ok)",
        "POST /api/v2/status 500 in 0 ms (attempt 1: ServerError)",
    ]
    # Structured too, for JSON log handlers.
    record = next(r for r in caplog.records if r.name == ATTEMPTS)
    assert {k: v for k, v in vars(record).items() if k.startswith("idenfy_")} == {
        "idenfy_operation": "create_session",
        "idenfy_method": "POST",
        "idenfy_path": "/api/v2/token",
        "idenfy_status": 503,
        "idenfy_elapsed_ms": 0,
        "idenfy_attempt": 1,
        "idenfy_outcome": "ServerError",
    }
    # The retry decisions stay on the package logger, one line per retry.
    retries = [r.getMessage() for r in caplog.records if r.name == "idenfy_async"]
    assert len(retries) == 2


async def test_elapsed_is_the_attempts_own_time(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fake: FakeIdenfy,
    policy: RetryPolicy,
) -> None:
    """Measured on the client's clock: here a scripted 1.5 s delay on a virtual clock."""
    monkeypatch.setenv(ENV_LOG, "debug")
    caplog.set_level(logging.NOTSET)
    fake.fail_next(Fault(status=503, delay=1.5))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:
        await client.create_session(client_id="user-1")
    assert attempt_lines(caplog) == [
        "POST /api/v2/token 503 in 1500 ms (attempt 1: ServerError)",
        "POST /api/v2/token 201 in 0 ms (attempt 2: ok)",
    ]
    # debug: a line as each attempt starts, how far into the call (1.5 s + 0.25 s backoff).
    assert attempt_lines(caplog, logging.DEBUG) == [
        "POST /api/v2/token: attempt 1 starts 0 ms into the call",
        "POST /api/v2/token: attempt 2 starts 1750 ms into the call",
    ]


async def test_downloads_are_logged_without_the_urls_signature(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fake: FakeIdenfy,
    policy: RetryPolicy,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(ENV_LOG, "info")
    caplog.set_level(logging.NOTSET)
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:
        session = await client.create_session(client_id="user-1")
        fake.complete(session.scan_ref)
        url = (await client.get_files(session.scan_ref)).front
        assert url is not None
        await client.download_file(url, tmp_path / "front.jpg")
    downloads = [line for line in attempt_lines(caplog) if line.startswith("GET")]
    assert downloads == [
        f"GET /fake-files/{session.scan_ref}/FRONT.jpg 200 in 0 ms (attempt 1: ok)"
    ]
    signature = url.partition("X-Amz-Signature=")[2]
    assert signature
    assert signature not in caplog.text  # nor in httpx's own "HTTP Request: GET ..." line
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert f"/fake-files/{session.scan_ref}/FRONT.jpg?(query hidden)" in httpx_lines[-1]


# --------------------------------------------------------------------------- no secrets, no PII

KEY, SECRET = "KEY-sentinel-3141", "SECRET-sentinel-2718"
PERSON: dict[str, Any] = {
    "client_id": "user-sentinel-1",
    "first_name": "Zoltanna",
    "last_name": "Quixbury",
    "date_of_birth": "1987-06-05",
    "personal_number": "PN99887766",
    "document_number": "DOC5544332",
    "address": "17 Sentinel Lane",
}


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def secrets_and_pii(auth_token: str, data: Mapping[str, Any]) -> set[str]:
    """Every value that must never reach a log record."""
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    values = {KEY, SECRET, basic, auth_token}
    values |= {str(v) for k, v in PERSON.items() if k != "client_id"}
    values |= {v for v in data.values() if isinstance(v, str) and len(v) >= 6}
    return {v.lower() for v in values}


async def test_no_secret_token_or_personal_data_in_any_record_even_at_debug(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, with httpx's and httpcore's loggers on too, over real TCP (httpcore runs)."""
    monkeypatch.setenv(ENV_LOG, "debug")
    caplog.set_level(logging.DEBUG)  # the root and so every logger: httpx, httpcore, ours
    for name in ("httpx", "httpcore", "idenfy_async"):
        caplog.set_level(logging.DEBUG, logger=name)
    server = FakeIdenfyServer(FakeIdenfy(KEY, SECRET, seed=5))
    async with server as base_url, AsyncIdenfy(KEY, SECRET, base_url=base_url) as client:
        session = await client.create_session(**PERSON)
        server.fake.complete(session.scan_ref, "APPROVED")
        data = await client.get_data(session.scan_ref)
        await client.get_status(session.scan_ref)
        [_ async for _ in client.list_verifications(client_id=PERSON["client_id"])]
    # Error answers whose bodies quote personal data, a retry, a lost connection.
    fake = FakeIdenfy(KEY, SECRET)
    fake.fail_next(
        Fault(status=503, message=f"{PERSON['first_name']} is down"),
        Fault(error=httpx.ReadError, create=True),
    )
    policy = RetryPolicy(sleep=no_wait, retry_unknown=True)
    async with AsyncIdenfy(KEY, SECRET, transport=fake, retry_policy=policy) as client:
        await client.create_session(**PERSON)
        fake.fail_next(Fault(status=400, message=f"no {PERSON['last_name']}"))
        with pytest.raises(APIError):
            await client.get_data(session.scan_ref, max_retries=0)
    assert attempt_lines(caplog)  # the switch was on: there is something to check
    assert {r.name.split(".")[0] for r in caplog.records} >= {"httpx", "httpcore", "idenfy_async"}
    forbidden = secrets_and_pii(session.auth_token, data.raw)
    assert PERSON["first_name"].lower() in forbidden
    for record in caplog.records:
        text = (record.getMessage() + repr(vars(record))).lower()
        leaked = sorted(value for value in forbidden if value in text)
        assert leaked == [], f"{record.name}: {record.getMessage()}"


# --------------------------------------------------------------------------- ResponseInfo


async def test_with_response_info_gives_status_headers_elapsed_and_attempts(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    fake.fail_next(Fault(status=503, delay=2.0))
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:
        session, info = await client.with_response_info(client.create_session(client_id="u-1"))
        assert session.client_id == "u-1"
        assert info == ResponseInfo(
            operation="create_session",
            method="POST",
            path="/api/v2/token",
            status_code=201,
            headers=info.headers,
            elapsed=2.25,  # the failed attempt's 2 s, then 0.25 s backoff, then success
            attempts=2,
        )
        assert info.headers["Content-Type"] == "application/json"  # case-insensitive
        fake.complete(session.scan_ref)
        pdf, info = await client.with_response_info(client.generate_pdf(session.scan_ref))
        assert pdf.startswith(b"%PDF")
        assert info.operation == "generate_pdf"
        deleted, info = await client.with_response_info(
            client.delete_verification(session.scan_ref)
        )
        assert (deleted, info.status_code, info.attempts) == (None, 200, 1)
    assert "headers" not in repr(info)  # headers are not printed


async def test_capture_responses_collects_every_request_of_the_block(
    fake: FakeIdenfy, policy: RetryPolicy, tmp_path: Path
) -> None:
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:
        for n in range(3):
            await client.create_session(client_id="u-1", external_ref=f"r{n}")
        with client.capture_responses() as outer:
            listed = [s async for s in client.list_verifications("u-1", per_page=2)]
            with client.capture_responses() as inner:
                files = await client.get_files(listed[0].scan_ref)
            fake.complete(listed[0].scan_ref)
            files = await client.get_files(listed[0].scan_ref)
            await client.download_files(files, tmp_path)
    assert len(listed) == 3
    assert [i.operation for i in inner] == ["get_files"]
    operations = [i.operation for i in outer]
    # Two pages, the inner block's call, the files, three downloads (FRONT, BACK, FACE).
    assert operations == ["list_verifications"] * 2 + ["get_files"] * 2 + ["download_file"] * 3
    assert all(i.path.startswith("/fake-files/") for i in outer[-3:])
    assert all("?" not in i.path for i in outer)


async def test_concurrent_tasks_each_capture_their_own(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:

        async def one(n: int) -> tuple[str | None, ResponseInfo]:
            session, info = await client.with_response_info(
                client.create_session(client_id=f"u-{n}")
            )
            return session.client_id, info

        results = await asyncio.gather(*(one(n) for n in range(5)))
        with client.capture_responses() as nothing:
            pass
    assert [cid for cid, _ in results] == [f"u-{n}" for n in range(5)]
    assert all(info.attempts == 1 for _, info in results)
    assert nothing == []


async def test_a_failed_call_or_no_request_gives_no_info(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=fake, retry_policy=policy
    ) as client:
        fake.fail_next(Fault(status=500))
        with client.capture_responses() as responses, pytest.raises(ServerError):
            await client.get_status("0" * 36, max_retries=0)
        assert responses == []

        async def no_request() -> int:
            return 1

        with pytest.raises(RuntimeError, match="made no request"):
            await client.with_response_info(no_request())
