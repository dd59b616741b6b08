"""What a call tells about itself: IDENFY_LOG's per-attempt lines, and ResponseInfo."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
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
    fields = {k: v for k, v in vars(record).items() if k.startswith("idenfy_")}
    assert re.fullmatch(r"[0-9a-f]{8}", fields.pop("idenfy_call_id"))
    assert re.fullmatch(r"[0-9a-f]{12}", fields.pop("idenfy_client_ref"))
    assert fields == {
        "idenfy_operation": "create_session",
        "idenfy_method": "POST",
        "idenfy_path": "/api/v2/token",
        "idenfy_status": 503,
        "idenfy_elapsed_ms": 0,
        "idenfy_attempt": 1,
        "idenfy_outcome": "ServerError",
        "idenfy_scan_ref": None,  # a create's is known once it succeeded
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
    """Every value that must never reach a log record (the scanRef may: it is how records
    say which session; the clientId may not, only its keyed hash)."""
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    values = {KEY, SECRET, basic, auth_token}
    values |= {str(v) for v in PERSON.values()}
    values |= {v for k, v in data.items() if isinstance(v, str) and len(v) >= 6 and k != "scanRef"}
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


# --------------------------------------------------------------------------- correlating fields

CALL_FIELDS = (
    "idenfy_operation",
    "idenfy_call_id",
    "idenfy_attempt",
    "idenfy_scan_ref",
    "idenfy_client_ref",
)
CLIENT_ID, FIRST, LAST = "crm-4711-sentinel", "Wilhelmina", "Fothergay"


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.split(".")[0] == "idenfy_async"]


@pytest.mark.parametrize(
    ("faults", "succeeds", "lines"),
    [
        ([], True, ["http 1"]),
        ([Fault(status=503)], True, ["http 1", "retry 2", "http 2"]),
        # 503 then 500: a create is not retried after a 500 (it may have been processed)
        ([Fault(status=503), Fault(status=500)], False, ["http 1", "retry 2", "http 2"]),
    ],
    ids=["success", "retry after 503", "failure"],
)
async def test_every_record_of_a_create_carries_the_calls_fields(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    policy: RetryPolicy,
    faults: list[Fault],
    succeeds: bool,
    lines: list[str],
) -> None:
    monkeypatch.setenv(ENV_LOG, "debug")
    caplog.set_level(logging.NOTSET)
    fake = FakeIdenfy(KEY, SECRET, seed=3)
    fake.fail_next(*faults)
    async with AsyncIdenfy(KEY, SECRET, transport=fake, retry_policy=policy) as client:
        if succeeds:
            scan_ref = (
                await client.create_session(client_id=CLIENT_ID, first_name=FIRST, last_name=LAST)
            ).scan_ref
        else:
            with pytest.raises(ServerError):
                await client.create_session(client_id=CLIENT_ID, first_name=FIRST, last_name=LAST)
    records = [r for r in ours(caplog) if r.levelno == logging.INFO]
    kinds = [
        f"{'http' if r.name == ATTEMPTS else 'retry'} {vars(r)['idenfy_attempt']}" for r in records
    ]
    assert kinds == lines
    every = ours(caplog)  # the debug lines too
    for record in every:
        fields = vars(record)
        assert {name: fields.get(name, "missing") for name in CALL_FIELDS} == {
            "idenfy_operation": "create_session",
            "idenfy_call_id": vars(every[0])["idenfy_call_id"],  # one call: one id
            "idenfy_attempt": fields["idenfy_attempt"],
            "idenfy_scan_ref": fields["idenfy_scan_ref"],
            "idenfy_client_ref": vars(every[0])["idenfy_client_ref"],
        }
        assert isinstance(fields["idenfy_attempt"], int)
        assert fields["idenfy_attempt"] >= 1
    assert re.fullmatch(r"[0-9a-f]{8}", vars(every[0])["idenfy_call_id"])
    assert re.fullmatch(r"[0-9a-f]{12}", vars(every[0])["idenfy_client_ref"])
    # The scanRef once known: on the successful attempt's record.
    assert [vars(r)["idenfy_scan_ref"] for r in records] == (
        [None] * (len(records) - 1) + [scan_ref if succeeds else None]
    )
    for retry in (r for r in records if r.name == "idenfy_async"):
        assert (vars(retry)["idenfy_status"], vars(retry)["idenfy_failure"]) == (503, "unavailable")
        assert vars(retry)["idenfy_delay"] == 0.25
    # Never the secret, the clientId or the person's names, in a message or any attribute.
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    forbidden = {SECRET, basic, CLIENT_ID, FIRST, LAST}
    for record in every:
        text = record.getMessage() + repr(vars(record))
        assert [value for value in forbidden if value.lower() in text.lower()] == []


async def test_each_call_has_its_own_id_and_a_users_ref_is_stable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, policy: RetryPolicy
) -> None:
    """Concurrent calls do not mix their fields; the clientId's ref is the same for the
    same credentials (another client, another process), another for other credentials."""
    monkeypatch.setenv(ENV_LOG, "info")
    caplog.set_level(logging.NOTSET)
    fake = FakeIdenfy(KEY, SECRET, seed=4)
    async with AsyncIdenfy(KEY, SECRET, transport=fake, retry_policy=policy) as client:
        created = await asyncio.gather(
            *(client.create_session(client_id=f"user-{n % 2}") for n in range(4))
        )
    async with AsyncIdenfy(KEY, SECRET, transport=fake, retry_policy=policy) as again:
        await again.create_session(client_id="user-0")
    other = FakeIdenfy("other-key", "other-secret")
    async with AsyncIdenfy("other-key", "other-secret", transport=other) as elsewhere:
        await elsewhere.create_session(client_id="user-0")
    records = [vars(r) for r in caplog.records if r.name == ATTEMPTS]
    assert len({r["idenfy_call_id"] for r in records}) == 6
    by_scan_ref = {r["idenfy_scan_ref"]: r for r in records}
    refs = [by_scan_ref[session.scan_ref]["idenfy_client_ref"] for session in created]
    assert refs[0] == refs[2] != refs[1] == refs[3]
    assert records[4]["idenfy_client_ref"] == refs[0]  # same credentials, another client
    assert records[5]["idenfy_client_ref"] not in refs  # keyed: other credentials


async def test_reads_name_their_session_and_downloads_their_call(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    client: AsyncIdenfy,
    fake: FakeIdenfy,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(logger, "level", logging.INFO)
    caplog.set_level(logging.NOTSET)
    session = await client.create_session(client_id="user-1")
    fake.complete(session.scan_ref)
    caplog.clear()
    fake.fail_next(Fault(status=503))
    files = await client.get_files(session.scan_ref)
    assert files.front is not None
    await client.download_file(files.front, tmp_path / "front.jpg")
    got = [
        {k: vars(r)[k] for k in ("idenfy_operation", "idenfy_attempt", "idenfy_scan_ref")}
        for r in ours(caplog)
    ]
    assert got == [
        {"idenfy_operation": "get_files", "idenfy_attempt": 1, "idenfy_scan_ref": session.scan_ref},
        {"idenfy_operation": "get_files", "idenfy_attempt": 2, "idenfy_scan_ref": session.scan_ref},
        {"idenfy_operation": "get_files", "idenfy_attempt": 2, "idenfy_scan_ref": session.scan_ref},
        {"idenfy_operation": "download_file", "idenfy_attempt": 1, "idenfy_scan_ref": None},
    ]
    assert all(vars(r)["idenfy_client_ref"] is None for r in ours(caplog))  # no clientId sent
    assert len({vars(r)["idenfy_call_id"] for r in ours(caplog)}) == 2


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
