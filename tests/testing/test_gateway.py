"""The fake server's own rate limits (token bucket, fixed window) and its request log."""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
import pytest

from idenfy_async import AsyncIdenfy, RateLimitError
from idenfy_async.cli._args import _parser
from idenfy_async.testing import FakeIdenfyServer
from idenfy_async.testing._gateway import (
    FixedWindow,
    Gateway,
    RequestLog,
    TokenBucket,
    parse_limit,
)


class Clock:
    """Seconds that move only when a test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- parse_limit


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("10/s", (10.0, 1.0)),
        ("30/10s", (30.0, 10.0)),
        ("10000/hour", (10000.0, 3600.0)),
        ("10000/h", (10000.0, 3600.0)),
        ("600/min", (600.0, 60.0)),
        ("2.5/sec", (2.5, 1.0)),
        (" 5 / 2 hours ", (5.0, 7200.0)),
        ("1/day", (1.0, 86400.0)),
    ],
)
def test_parse_limit(spec: str, expected: tuple[float, float]) -> None:
    assert parse_limit(spec) == expected


@pytest.mark.parametrize(
    ("spec", "whole", "message"),
    [
        ("fast", False, "not understood"),
        ("10/fortnight", False, "not understood"),
        ("10", False, "not understood"),
        ("-1/s", False, "not understood"),
        ("0/s", False, "positive"),
        ("10/0s", False, "positive"),
        ("1.5/s", True, "whole number"),
    ],
)
def test_parse_limit_refuses(spec: str, whole: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_limit(spec, whole=whole)


# --------------------------------------------------------------------------- token bucket

# (rate, capacity, arrival times, expected: None admitted, else the wait announced)
BUCKET_CASES = [
    pytest.param(4.0, 1, [0.0, 0.25, 0.5], [None, None, None], id="exactly-at-the-pace"),
    pytest.param(4.0, 1, [0.0, 0.2], [None, 0.05], id="early-by-50ms-refused"),
    pytest.param(4.0, 1, [0.0, 0.2, 0.25], [None, 0.05, None], id="refusal-takes-no-token"),
    pytest.param(4.0, 1, [0.0, 1.0, 1.0], [None, None, 0.25], id="idle-does-not-bank-tokens"),
    pytest.param(4.0, 3, [0.0, 0.0, 0.0, 0.0], [None, None, None, 0.25], id="capacity-3-burst"),
    pytest.param(
        4.0, 3, [0.0, 0.0, 0.0, 0.5, 0.5, 0.5], [None, None, None, None, None, 0.25], id="refill"
    ),
    pytest.param(10.0, 1, [i / 10 for i in range(20)], [None] * 20, id="float-steps-of-a-tenth"),
]


@pytest.mark.parametrize(("rate", "capacity", "times", "expected"), BUCKET_CASES)
def test_token_bucket(
    rate: float, capacity: int, times: Sequence[float], expected: Sequence[float | None]
) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, capacity, clock=clock)
    got = []
    for moment in times:
        clock.now = moment
        got.append(bucket.admit())
    assert got == [pytest.approx(e) if e is not None else None for e in expected]


@pytest.mark.parametrize(
    ("rate", "capacity", "message"),
    [(0.0, 1, "rate"), (float("inf"), 1, "rate"), (float("nan"), 1, "rate"), (1.0, 0, "capacity")],
)
def test_token_bucket_refuses_bad_settings(rate: float, capacity: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenBucket(rate, capacity)


# --------------------------------------------------------------------------- fixed window

# (limit, length, arrival times, expected: None admitted, else seconds to the window's end)
WINDOW_CASES = [
    pytest.param(2, 10.0, [0.0, 0.1, 0.2], [None, None, 9.8], id="third-in-window-refused"),
    pytest.param(2, 10.0, [9.0, 9.5, 10.0, 10.0], [None, None, None, None], id="aligned-reset"),
    pytest.param(2, 10.0, [0.0, 0.0, 5.0, 5.0, 10.0], [None, None, 5.0, 5.0, None], id="refusals"),
    pytest.param(1, 3600.0, [7100.0, 7199.0, 7200.0], [None, 1.0, None], id="hourly"),
    pytest.param(3, 10.0, [0.0, 20.0, 20.0, 20.0, 20.0], [None, None, None, None, 10.0], id="gap"),
]


@pytest.mark.parametrize(("limit", "length", "times", "expected"), WINDOW_CASES)
def test_fixed_window(
    limit: int, length: float, times: Sequence[float], expected: Sequence[float | None]
) -> None:
    clock = Clock()
    window = FixedWindow(limit, length, clock=clock)
    got = []
    for moment in times:
        clock.now = moment
        got.append(window.admit())
    assert got == [pytest.approx(e) if e is not None else None for e in expected]


@pytest.mark.parametrize(("limit", "length"), [(0, 1.0), (1, 0.0), (1, float("inf"))])
def test_fixed_window_refuses_bad_settings(limit: int, length: float) -> None:
    with pytest.raises(ValueError, match="window"):
        FixedWindow(limit, length)


# --------------------------------------------------------------------------- gateway


def test_no_limit_no_gateway() -> None:
    assert Gateway.from_specs() is None


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(True, "1"), (False, None)], ids=["retry-after", "none"]
)
def test_bucket_refusal(retry_after: bool, expected: str | None) -> None:
    clock = Clock()
    gateway = Gateway.from_specs("10/s", retry_after=retry_after, clock=clock)
    assert gateway is not None
    assert gateway.refuse() is None
    refusal = gateway.refuse()
    assert refusal is not None
    status, headers, body = refusal
    assert status == 429
    assert json.loads(body)["identifier"] == "TOO_MANY_REQUESTS"
    assert headers.get("Retry-After") == expected


def test_window_refusal_has_no_retry_after_and_the_bucket_goes_first() -> None:
    clock = Clock()
    gateway = Gateway.from_specs("4/s", window="2/10s", clock=clock)
    assert gateway is not None
    outcomes = []
    for moment in (0.0, 0.1, 0.25, 0.5, 10.0):
        clock.now = moment
        refusal = gateway.refuse()
        outcomes.append(None if refusal is None else (refusal[0], "Retry-After" in refusal[1]))
    # 0.1: the bucket refuses (and the window does not count it); 0.5: the window
    # is used up; 10.0: a new window.
    assert outcomes == [None, (429, True), None, (429, False), None]


# --------------------------------------------------------------------------- request log


def token_body(client_id: object) -> bytes:
    return json.dumps({"clientId": client_id, "firstName": "Ann"}).encode()


def test_request_log_entries() -> None:
    log = RequestLog(key=b"k")
    log.record(1.0, "POST", "/api/v2/token", token_body("user-1"), 201)
    log.record(2.0, "POST", "/api/v2/token", token_body("user-1"), 429)
    log.record(3.0, "POST", "/api/v2/token", token_body("user-2"), None)
    log.record(4.0, "GET", "/kyc/identifications/?clientId=user-3", b"", 200)
    log.record(5.0, "POST", "/api/v2/token", b"not json", 400)
    log.record(6.0, "POST", "/api/v2/token", token_body(7), 400)
    entries = log.entries()
    assert [(e["time"], e["method"], e["path"], e["status"]) for e in entries] == [
        (1.0, "POST", "/api/v2/token", 201),
        (2.0, "POST", "/api/v2/token", 429),
        (3.0, "POST", "/api/v2/token", None),
        (4.0, "GET", "/kyc/identifications/", 200),  # the query (a clientId) is not kept
        (5.0, "POST", "/api/v2/token", 400),
        (6.0, "POST", "/api/v2/token", 400),
    ]
    keys = [e.get("clientKey") for e in entries]
    assert keys[0] == keys[1] != keys[2]
    assert None not in (keys[0], keys[2])
    assert keys[3:] == [None, None, None]
    assert "user" not in json.dumps(entries)
    # Another log (another server) draws another key.
    other = RequestLog(key=b"other")
    other.record(1.0, "POST", "/api/v2/token", token_body("user-1"), 201)
    assert other.entries()[0]["clientKey"] != keys[0]


def test_request_log_keeps_the_newest_and_counts_the_dropped() -> None:
    log = RequestLog(limit=3)
    for second in range(5):
        log.record(float(second), "GET", "/api/v2/status", b"", 200)
    assert [e["time"] for e in log.entries()] == [2.0, 3.0, 4.0]
    assert log.dropped == 2
    assert json.loads(log.control("GET")[2]) == {"requests": log.entries(), "dropped": 2}
    assert json.loads(log.control("DELETE")[2]) == {"forgottenRequests": 3}
    assert (len(log), log.dropped) == (0, 0)
    assert log.control("POST")[0] == 405


async def test_the_server_logs_every_api_request_and_serves_the_log() -> None:
    clock = Clock(100.0)
    server = FakeIdenfyServer(rate_limit_window="2/10s", clock=clock)
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url, max_retries=0) as client,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        for second, client_id in enumerate(("a", "b")):
            clock.now = 100.0 + second
            await client.create_session(client_id=client_id)
        clock.now = 102.0
        with pytest.raises(RateLimitError) as refused:
            await client.create_session(client_id="c")
        assert refused.value.retry_after is None  # iDenfy's documented shape
        await http.get("/__fake__/sessions")  # a control request: not logged
        answer = (await http.get("/__fake__/requests")).json()
        assert [(e["time"], e["path"], e["status"]) for e in answer["requests"]] == [
            (100.0, "/api/v2/token", 201),
            (101.0, "/api/v2/token", 201),
            (102.0, "/api/v2/token", 429),
        ]
        assert len({e["clientKey"] for e in answer["requests"]}) == 3
        assert answer["dropped"] == 0
        assert server.fake.requests == 3
        assert (await http.post("/__fake__/reset")).status_code == 200
        assert (await http.get("/__fake__/requests")).json()["requests"] == []


# --------------------------------------------------------------------------- fake-server flags


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate-limit", "fast"], "argument --rate-limit: rate limit 'fast' is not understood"),
        (["--rate-limit-window", "1.5/s"], "window '1.5/s' must allow a whole number"),
        (["--rate-limit-burst", "0"], "argument --rate-limit-burst"),
    ],
)
def test_fake_server_refuses_bad_limits_as_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(["fake-server", *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_fake_server_limit_flags() -> None:
    args = _parser().parse_args(
        [
            *("fake-server", "--rate-limit", "10/s", "--rate-limit-burst", "3"),
            *("--rate-limit-window", "10000/hour", "--no-retry-after"),
        ]
    )
    assert (args.rate_limit, args.rate_limit_burst) == ("10/s", 3)
    assert (args.rate_limit_window, args.retry_after) == ("10000/hour", False)
    defaults = _parser().parse_args(["fake-server"])
    assert (defaults.rate_limit_burst, defaults.retry_after) == (1, True)
