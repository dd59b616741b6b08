"""Retry decisions (RETRY_TABLE, classify), backoff maths, the retry loop; unit and end to end."""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest

from idenfy_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncIdenfy,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    Failure,
    FieldProblem,
    IdenfyError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    RetryDetails,
    RetryPolicy,
    ServerError,
)
from idenfy_async._send.retry import RETRY_TABLE, CallKind, classify, retry_call, should_retry
from idenfy_async._wire.sessions import error_from_response
from idenfy_async.testing import FakeIdenfy, Fault
from tests.conftest import VirtualClock, sample

SECRET = "test-secret"
C, R = CallKind.CREATE, CallKind.READ

# --------------------------------------------------------------------------- helpers


@asynccontextmanager
async def make_client(
    fake: FakeIdenfy, policy: RetryPolicy, **kwargs: Any
) -> AsyncIterator[AsyncIdenfy]:
    """A client on the fake and the virtual-clock policy, with extra constructor options."""
    async with AsyncIdenfy(
        "test-key", SECRET, transport=fake, retry_policy=policy, **kwargs
    ) as client:
        yield client


def http_error(
    status: int, identifier: str | None = None, headers: dict[str, str] | None = None
) -> APIError:
    """The error the client builds for an iDenfy answer."""
    body: dict[str, str] = {"message": "Scripted."}
    if identifier:
        body["identifier"] = identifier
    return error_from_response(
        status,
        headers or {},
        json.dumps(body).encode(),
        method="POST",
        path="/api/v2/token",
        now=1000.0,
    )


def failing(n: int, **kwargs: Any) -> list[Fault]:
    """``n`` copies of one scripted failure."""
    return [Fault(**kwargs) for _ in range(n)]


# --------------------------------------------------------------------------- the decision table

# (kind, failure): (retried by default, retried with retry_unknown=True). Written out by
# hand so the test does not just restate RETRY_TABLE.
EXPECTED_DECISIONS: dict[tuple[CallKind, Failure], tuple[bool, bool]] = {
    (C, Failure.NOT_SENT): (True, True),
    (C, Failure.NO_ANSWER): (False, True),
    (C, Failure.RATE_LIMITED): (True, True),
    (C, Failure.UNAVAILABLE): (True, True),
    (C, Failure.SERVER_ERROR): (False, True),
    (C, Failure.CONFLICT): (False, True),
    (C, Failure.UNREADABLE): (False, False),
    (C, Failure.FATAL): (False, False),
    (R, Failure.NOT_SENT): (True, True),
    (R, Failure.NO_ANSWER): (True, True),
    (R, Failure.RATE_LIMITED): (True, True),
    (R, Failure.UNAVAILABLE): (True, True),
    (R, Failure.SERVER_ERROR): (True, True),
    (R, Failure.CONFLICT): (True, True),
    (R, Failure.UNREADABLE): (False, False),
    (R, Failure.FATAL): (False, False),
}

DECISION_CASES = [
    pytest.param(
        kind,
        failure,
        ambiguous_ok,
        expected[ambiguous_ok],
        id=f"{kind.value}-{failure.value}-{'opt_in' if ambiguous_ok else 'default'}",
    )
    for (kind, failure), expected in EXPECTED_DECISIONS.items()
    for ambiguous_ok in (False, True)
]


@pytest.mark.parametrize(("kind", "failure", "retry_unknown", "expected"), DECISION_CASES)
def test_should_retry_table(
    kind: CallKind, failure: Failure, retry_unknown: bool, expected: bool
) -> None:
    """should_retry gives the documented answer for every kind x failure x retry_unknown."""
    assert should_retry(kind, failure, retry_unknown=retry_unknown) is expected


def test_retry_table_covers_every_pair() -> None:
    """RETRY_TABLE has exactly one entry per (CallKind, Failure) pair."""
    assert set(RETRY_TABLE) == {(k, f) for k in CallKind for f in Failure}


@pytest.mark.parametrize(
    ("failure", "outcome_unknown"),
    [
        pytest.param(Failure.NOT_SENT, False, id="not_sent"),
        pytest.param(Failure.NO_ANSWER, True, id="no_answer"),
        pytest.param(Failure.RATE_LIMITED, False, id="rate_limited"),
        pytest.param(Failure.UNAVAILABLE, False, id="unavailable"),
        pytest.param(Failure.SERVER_ERROR, True, id="server_error"),
        pytest.param(Failure.CONFLICT, False, id="conflict"),
        pytest.param(Failure.UNREADABLE, True, id="unreadable"),
        pytest.param(Failure.FATAL, False, id="fatal"),
    ],
)
def test_failure_outcome_unknown(failure: Failure, outcome_unknown: bool) -> None:
    """outcome_unknown is True exactly for failures iDenfy may have acted on."""
    assert failure.outcome_unknown is outcome_unknown


CLASSIFY_CASES = [
    pytest.param(
        lambda: APIConnectionError("ConnectError", request_sent=False),
        Failure.NOT_SENT,
        id="connect_error",
    ),
    pytest.param(
        lambda: APITimeoutError("PoolTimeout", request_sent=False),
        Failure.NOT_SENT,
        id="pool_timeout",
    ),
    pytest.param(
        lambda: APITimeoutError("ReadTimeout", request_sent=True),
        Failure.NO_ANSWER,
        id="read_timeout",
    ),
    pytest.param(
        lambda: APIConnectionError("ReadError", request_sent=True),
        Failure.NO_ANSWER,
        id="connection_lost",
    ),
    pytest.param(lambda: http_error(429), Failure.RATE_LIMITED, id="http_429"),
    pytest.param(
        lambda: http_error(400, "TOO_MANY_REQUESTS"),
        Failure.RATE_LIMITED,
        id="http_400_too_many_requests",
    ),
    pytest.param(
        lambda: http_error(200, "TOO_MANY_REQUESTS"),
        Failure.RATE_LIMITED,
        id="http_200_too_many_requests",
    ),
    pytest.param(lambda: http_error(503), Failure.UNAVAILABLE, id="http_503"),
    pytest.param(
        lambda: http_error(503, "INTERNAL_ERROR"),
        Failure.UNAVAILABLE,
        id="http_503_internal_error",
    ),
    pytest.param(lambda: http_error(500), Failure.SERVER_ERROR, id="http_500"),
    pytest.param(lambda: http_error(502), Failure.SERVER_ERROR, id="http_502"),
    pytest.param(lambda: http_error(504), Failure.SERVER_ERROR, id="http_504"),
    pytest.param(lambda: http_error(408), Failure.SERVER_ERROR, id="http_408"),
    pytest.param(
        lambda: http_error(400, "INTERNAL_ERROR"),
        Failure.SERVER_ERROR,
        id="http_400_internal_error",
    ),
    pytest.param(lambda: http_error(409), Failure.CONFLICT, id="http_409"),
    pytest.param(lambda: http_error(400, "BAD_VALUE"), Failure.FATAL, id="http_400_bad_value"),
    pytest.param(
        lambda: http_error(400, "MISSING_VALUE"), Failure.FATAL, id="http_400_missing_value"
    ),
    pytest.param(
        lambda: http_error(400, "TOKEN_NOT_VALID"), Failure.FATAL, id="http_400_token_not_valid"
    ),
    pytest.param(lambda: http_error(401), Failure.FATAL, id="http_401"),
    pytest.param(lambda: http_error(402), Failure.FATAL, id="http_402"),
    pytest.param(lambda: http_error(403), Failure.FATAL, id="http_403"),
    pytest.param(lambda: http_error(404), Failure.FATAL, id="http_404"),
    pytest.param(lambda: http_error(422), Failure.FATAL, id="http_422"),
    pytest.param(
        lambda: ResponseDecodeError("the body is not valid JSON", status_code=201),
        Failure.UNREADABLE,
        id="undecodable_success",
    ),
    pytest.param(
        lambda: RequestValidationError("SessionRequest", [FieldProblem("clientId", "is required")]),
        Failure.FATAL,
        id="request_validation",
    ),
    pytest.param(lambda: ConfigurationError("bad"), Failure.FATAL, id="configuration"),
    pytest.param(lambda: ClientClosedError("closed"), Failure.FATAL, id="client_closed"),
]


@pytest.mark.parametrize(("make_error", "expected"), CLASSIFY_CASES)
def test_classify_table(make_error: Callable[[], IdenfyError], expected: Failure) -> None:
    """classify() maps each error, as the client builds it, to its retry-relevant Failure."""
    assert classify(make_error()) is expected


# --------------------------------------------------------------------------- end to end


@attrs.frozen
class E2E:
    """One scripted failure and what the client must do with it."""

    script: Fault
    decision: str  # "retry", "opt_in" or "never"
    error: type[IdenfyError]
    outcome_unknown: bool
    request_sent: bool | None = None  # for connection errors
    rate_limited: bool = False


E2E_CASES = [
    pytest.param(
        E2E(Fault(error=httpx.ConnectError), "retry", APIConnectionError, False, False),
        id="connect_error",
    ),
    pytest.param(
        E2E(Fault(error=httpx.ConnectTimeout), "retry", APITimeoutError, False, False),
        id="connect_timeout",
    ),
    pytest.param(
        E2E(Fault(error=httpx.PoolTimeout), "retry", APITimeoutError, False, False),
        id="pool_timeout",
    ),
    pytest.param(
        E2E(Fault(error=httpx.ReadTimeout), "opt_in", APITimeoutError, True, True),
        id="read_timeout",
    ),
    pytest.param(
        E2E(Fault(error=httpx.WriteTimeout), "opt_in", APITimeoutError, True, True),
        id="write_timeout",
    ),
    pytest.param(
        E2E(Fault(error=httpx.ReadError), "opt_in", APIConnectionError, True, True),
        id="read_error",
    ),
    pytest.param(
        E2E(Fault(error=httpx.RemoteProtocolError), "opt_in", APIConnectionError, True, True),
        id="remote_protocol_error",
    ),
    pytest.param(
        E2E(Fault(status=429), "retry", RateLimitError, False, rate_limited=True),
        id="http_429",
    ),
    pytest.param(
        E2E(
            Fault(status=400, identifier="TOO_MANY_REQUESTS"),
            "retry",
            RateLimitError,
            False,
            rate_limited=True,
        ),
        id="http_400_too_many_requests",
    ),
    pytest.param(E2E(Fault(status=503), "retry", ServerError, False), id="http_503"),
    pytest.param(E2E(Fault(status=500), "opt_in", ServerError, True), id="http_500"),
    pytest.param(E2E(Fault(status=502), "opt_in", ServerError, True), id="http_502"),
    pytest.param(E2E(Fault(status=504), "opt_in", ServerError, True), id="http_504"),
    pytest.param(E2E(Fault(status=408), "opt_in", APIError, True), id="http_408"),
    pytest.param(
        E2E(Fault(status=400, identifier="INTERNAL_ERROR"), "opt_in", ServerError, True),
        id="http_400_internal_error",
    ),
    pytest.param(E2E(Fault(status=409), "opt_in", ConflictError, False), id="http_409"),
    pytest.param(
        E2E(Fault(status=400, identifier="BAD_VALUE"), "never", BadRequestError, False),
        id="http_400_bad_value",
    ),
    pytest.param(
        E2E(Fault(status=201, body=b"<html>oops</html>"), "never", ResponseDecodeError, True),
        id="http_201_unreadable",
    ),
]


def _check_not_retried(exc: IdenfyError, case: E2E, fake: FakeIdenfy) -> None:
    assert type(exc) is case.error
    assert exc.outcome_unknown is case.outcome_unknown
    if case.request_sent is not None:
        assert isinstance(exc, APIConnectionError)
        assert exc.request_sent is case.request_sent
    assert fake.requests == 1


@pytest.mark.parametrize("case", E2E_CASES)
async def test_create_session_default_policy_end_to_end(
    case: E2E, fake: FakeIdenfy, client: AsyncIdenfy, clock: VirtualClock
) -> None:
    """By default create_session retries only failures that provably created nothing."""
    fake.fail_next(case.script)
    if case.decision == "retry":
        session = await client.create_session(client_id="user-1")
        assert fake.requests == 2
        assert [s.scan_ref for s in fake.sessions_for("user-1")] == [session.scan_ref]
        assert clock.sleeps == [2.0 if case.rate_limited else 0.25]
    else:
        with pytest.raises(IdenfyError) as excinfo:
            await client.create_session(client_id="user-1")
        _check_not_retried(excinfo.value, case, fake)
        assert clock.sleeps == []


@pytest.mark.parametrize("how", ["per_call", "per_client"])
@pytest.mark.parametrize("case", E2E_CASES)
async def test_create_session_retry_unknown_end_to_end(
    case: E2E, how: str, fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """retry_unknown=True (per call or per client) also retries ambiguous failures."""
    fake.fail_next(case.script)
    client_opts: dict[str, Any] = {"retry_unknown": True} if how == "per_client" else {}
    call_opts: dict[str, Any] = {"retry_unknown": True} if how == "per_call" else {}
    async with make_client(fake, policy, **client_opts) as client:
        if case.decision in ("retry", "opt_in"):
            await client.create_session(client_id="user-1", **call_opts)
            assert fake.requests == 2
            assert len(fake.sessions_for("user-1")) == 1
            assert clock.sleeps == [2.0 if case.rate_limited else 0.25]
        else:
            with pytest.raises(IdenfyError) as excinfo:
                await client.create_session(client_id="user-1", **call_opts)
            _check_not_retried(excinfo.value, case, fake)


class ReadScript(httpx.AsyncBaseTransport):
    """Plays scripted failures for any endpoint, then answers a documented status body."""

    def __init__(self, *failures: Fault) -> None:
        self.script = list(failures)
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if not self.script:
            return httpx.Response(200, json=sample("status_response_approved.json"))
        failure = self.script.pop(0)
        if failure.error is not None:
            raise failure.error(f"scripted {failure.error.__name__}", request=request)
        assert failure.status is not None
        body: dict[str, str] = {"message": "Scripted."}
        if failure.identifier:
            body["identifier"] = failure.identifier
        content = failure.body if failure.body is not None else json.dumps(body).encode()
        return httpx.Response(failure.status, headers=failure.headers, content=content)


@pytest.mark.parametrize("case", E2E_CASES)
async def test_read_call_end_to_end(case: E2E, policy: RetryPolicy, clock: VirtualClock) -> None:
    """A READ call (get_status) retries every transient failure, ambiguous or not."""
    transport = ReadScript(case.script)
    async with AsyncIdenfy("test-key", SECRET, transport=transport, retry_policy=policy) as client:
        if case.decision == "never":
            with pytest.raises(IdenfyError) as excinfo:
                await client.get_status("328c6766-934e-11ed-bb9b-025ad99a18e7")
            assert type(excinfo.value) is case.error
            assert excinfo.value.outcome_unknown is False  # a read changes nothing
            assert transport.requests == 1
        else:
            result = await client.get_status("328c6766-934e-11ed-bb9b-025ad99a18e7")
            assert result.scan_ref == "328c6766-934e-11ed-bb9b-025ad99a18e7"
            assert transport.requests == 2
            assert clock.sleeps == [2.0 if case.rate_limited else 0.25]


async def test_per_call_retry_unknown_false_overrides_client(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """A per-call retry_unknown=False wins over the client's retry_unknown=True."""
    fake.fail_next(Fault(status=500))
    async with make_client(fake, policy, retry_unknown=True) as client:
        with pytest.raises(ServerError) as excinfo:
            await client.create_session(client_id="user-1", retry_unknown=False)
    assert excinfo.value.outcome_unknown is True
    assert fake.requests == 1


async def test_lost_answer_after_creation_is_ambiguous(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """A read timeout after iDenfy created the session is raised, ambiguous, and not repeated."""
    fake.fail_next(Fault(error=httpx.ReadTimeout, create=True))
    with pytest.raises(APITimeoutError) as excinfo:
        await client.create_session(client_id="user-1")
    assert excinfo.value.outcome_unknown is True
    assert excinfo.value.request_sent is True
    assert "may have reached iDenfy" in str(excinfo.value)
    assert len(fake.sessions_for("user-1")) == 1  # exists although the caller got an error


async def test_retry_unknown_can_duplicate_a_session(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Opting in to ambiguous retries may create a second session: the documented trade-off."""
    fake.fail_next(Fault(error=httpx.ReadTimeout, create=True))
    session = await client.create_session(client_id="user-1", retry_unknown=True)
    created = fake.sessions_for("user-1")
    assert len(created) == 2
    assert created[-1].scan_ref == session.scan_ref


# --------------------------------------------------------------------------- backoff maths


def _policy(rand: float, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(random=lambda: rand, **kwargs)


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        pytest.param(0, 0.5, id="retry0"),
        pytest.param(1, 1.0, id="retry1"),
        pytest.param(2, 2.0, id="retry2"),
        pytest.param(3, 4.0, id="retry3"),
        pytest.param(4, 8.0, id="retry4-cap"),
        pytest.param(5, 8.0, id="retry5-capped"),
        pytest.param(100, 8.0, id="retry100-capped"),
        pytest.param(10_000, 8.0, id="retry10000-no-overflow"),
    ],
)
def test_backoff_exponential_with_cap(retry: int, expected: float) -> None:
    """Without jitter the wait doubles from initial_delay and stops at max_delay."""
    assert _policy(0.0).backoff(retry, Failure.UNAVAILABLE, None) == expected


@pytest.mark.parametrize(
    ("rand", "jitter", "retry", "expected"),
    [
        pytest.param(0.0, 0.5, 0, 0.5, id="random0-full-delay"),
        pytest.param(1.0, 0.5, 0, 0.25, id="random1-lower-bound"),
        pytest.param(0.5, 0.5, 0, 0.375, id="random-half"),
        pytest.param(1.0, 0.5, 4, 4.0, id="random1-capped"),
        pytest.param(0.0, 0.5, 4, 8.0, id="random0-capped"),
        pytest.param(1.0, 0.0, 2, 2.0, id="no-jitter"),
        pytest.param(1.0, 1.0, 2, 0.0, id="full-jitter-random1"),
        pytest.param(0.0, 1.0, 2, 2.0, id="full-jitter-random0"),
    ],
)
def test_backoff_jitter_bounds(rand: float, jitter: float, retry: int, expected: float) -> None:
    """Jitter multiplies the delay by a factor in [1 - jitter, 1] driven by random()."""
    policy = _policy(rand, jitter=jitter)
    assert policy.backoff(retry, Failure.NO_ANSWER, None) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("rand", "retry", "floor", "expected"),
    [
        pytest.param(1.0, 0, 2.0, 2.0, id="raised-to-floor"),
        pytest.param(0.0, 0, 2.0, 2.0, id="raised-to-floor-no-jitter"),
        pytest.param(1.0, 3, 2.0, 2.0, id="equal-to-floor"),
        pytest.param(1.0, 4, 2.0, 4.0, id="above-floor-kept"),
        pytest.param(1.0, 0, 3.5, 3.5, id="custom-floor"),
    ],
)
def test_backoff_rate_limit_floor(rand: float, retry: int, floor: float, expected: float) -> None:
    """A rate-limit answer without Retry-After waits at least rate_limit_floor."""
    policy = _policy(rand, rate_limit_floor=floor)
    assert policy.backoff(retry, Failure.RATE_LIMITED, None) == expected


@pytest.mark.parametrize(
    "failure",
    [Failure.UNAVAILABLE, Failure.NOT_SENT, Failure.NO_ANSWER],
    ids=["unavailable", "not_sent", "no_answer"],
)
def test_backoff_floor_only_for_rate_limits(failure: Failure) -> None:
    """The rate-limit floor does not apply to other failures."""
    assert _policy(1.0).backoff(0, failure, None) == 0.25


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(5.0, 5.0, id="seconds"),
        pytest.param(1.0, 1.0, id="below-floor-exact"),
        pytest.param(0.0, 0.0, id="zero"),
        pytest.param(0.3, 0.3, id="fractional"),
        pytest.param(120.0, 120.0, id="at-max"),
        pytest.param(120.5, None, id="above-max"),
        pytest.param(3600.0, None, id="hour"),
    ],
)
def test_backoff_retry_after(retry_after: float, expected: float | None) -> None:
    """Retry-After is used exactly (no jitter, no floor) up to max_retry_after, else no retry."""
    assert _policy(1.0).backoff(3, Failure.RATE_LIMITED, retry_after) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_retries": -1}, id="negative-retries"),
        pytest.param({"jitter": -0.1}, id="negative-jitter"),
        pytest.param({"jitter": 1.5}, id="jitter-above-one"),
    ],
)
def test_retry_policy_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    """RetryPolicy validates max_retries >= 0 and 0 <= jitter <= 1."""
    with pytest.raises(ValueError):  # noqa: PT011
        RetryPolicy(**kwargs)


# --------------------------------------------------------------------------- Retry-After e2e

WALL_NOW = 1000.0  # the fixture's wall clock is the virtual clock


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        pytest.param({"Retry-After": "5"}, 5.0, id="seconds"),
        pytest.param({"Retry-After": "1"}, 1.0, id="seconds-below-floor"),
        pytest.param({"Retry-After": "0.5"}, 0.5, id="fractional-seconds"),
        pytest.param({"Retry-After": "59"}, 59.0, id="just-within-default-deadline"),
        pytest.param(
            {"Retry-After": email.utils.formatdate(WALL_NOW + 7, usegmt=True)}, 7.0, id="http-date"
        ),
        pytest.param({"Retry-After-Ms": "1500"}, 1.5, id="retry-after-ms"),
        pytest.param({"Retry-After": "soon"}, 2.0, id="unreadable-uses-floor"),
        pytest.param({"Retry-After": "-5"}, 2.0, id="negative-uses-floor"),
        pytest.param({"Retry-After": "nan"}, 2.0, id="nan-uses-floor"),
    ],
)
@pytest.mark.parametrize(
    ("status", "identifier"),
    [
        pytest.param(429, None, id="429"),
        pytest.param(400, "TOO_MANY_REQUESTS", id="400-too-many-requests"),
    ],
)
async def test_retry_after_honoured_exactly(
    headers: dict[str, str],
    expected_wait: float,
    status: int,
    identifier: str | None,
    fake: FakeIdenfy,
    client: AsyncIdenfy,
    clock: VirtualClock,
) -> None:
    """A rate-limit answer's Retry-After (seconds or HTTP date) is waited exactly, then retried."""
    fake.fail_next(Fault(status=status, identifier=identifier, headers=headers))
    session = await client.create_session(client_id="user-1")
    assert session.client_id == "user-1"
    assert fake.requests == 2
    # Waited in two steps: to shortly before the turn, then to the turn (Pace).
    assert sum(clock.sleeps) == pytest.approx(expected_wait)
    assert clock.now == pytest.approx(1000.0 + expected_wait)


async def test_retry_after_in_the_past_means_no_wait(
    fake: FakeIdenfy, client: AsyncIdenfy, clock: VirtualClock
) -> None:
    """An HTTP-date Retry-After already past is a zero wait."""
    past = email.utils.formatdate(WALL_NOW - 30, usegmt=True)
    fake.fail_next(Fault(status=429, headers={"Retry-After": past}))
    await client.create_session(client_id="user-1")
    assert fake.requests == 2
    assert clock.sleeps == []


async def test_retry_after_honoured_on_503(
    fake: FakeIdenfy, client: AsyncIdenfy, clock: VirtualClock
) -> None:
    """A 503 with Retry-After waits what the server asked (RFC 9110), not the short backoff."""
    fake.fail_next(Fault(status=503, headers={"Retry-After": "5"}))
    await client.create_session(client_id="user-1")
    assert fake.requests == 2
    assert clock.sleeps == [5.0]


@pytest.mark.parametrize(
    ("max_retry_after", "header", "expected_retry_after"),
    [
        pytest.param(None, "121", 121.0, id="default-max-120"),
        pytest.param(None, "3600", 3600.0, id="an-hour"),
        pytest.param(10.0, "11", 11.0, id="custom-max-10"),
        pytest.param(
            None,
            email.utils.formatdate(WALL_NOW + 600, usegmt=True),
            600.0,
            id="http-date-10min",
        ),
    ],
)
async def test_retry_after_above_max_is_raised(
    max_retry_after: float | None,
    header: str,
    expected_retry_after: float,
    fake: FakeIdenfy,
    policy: RetryPolicy,
    clock: VirtualClock,
) -> None:
    """A Retry-After longer than max_retry_after is not waited: RateLimitError carries it."""
    if max_retry_after is not None:
        policy = attrs.evolve(policy, max_retry_after=max_retry_after)
    fake.fail_next(
        Fault(status=429, identifier="TOO_MANY_REQUESTS", headers={"Retry-After": header})
    )
    async with make_client(fake, policy) as client:
        with pytest.raises(RateLimitError) as excinfo:
            await client.create_session(client_id="user-1")
    assert excinfo.value.retry_after == expected_retry_after
    assert excinfo.value.status_code == 429
    assert fake.requests == 1
    assert clock.sleeps == []


# --------------------------------------------------------------------------- attempts and deadlines


@pytest.mark.parametrize(
    ("max_retries", "attempts"),
    [
        pytest.param(None, 4, id="default-3-retries"),
        pytest.param(0, 1, id="no-retries"),
        pytest.param(1, 2, id="one-retry"),
        pytest.param(5, 6, id="five-retries"),
    ],
)
async def test_max_retries_respected(
    max_retries: int | None,
    attempts: int,
    fake: FakeIdenfy,
    policy: RetryPolicy,
    clock: VirtualClock,
) -> None:
    """A client's max_retries bounds the attempts (max_retries + 1 requests, then the error)."""
    fake.fail_next(*failing(10, status=503))
    opts: dict[str, Any] = {} if max_retries is None else {"max_retries": max_retries}
    async with make_client(fake, policy, **opts) as client:
        with pytest.raises(ServerError):
            await client.create_session(client_id="user-1")
    assert fake.requests == attempts
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0][: attempts - 1]
    assert fake.sessions == []


@pytest.mark.parametrize(
    ("client_retries", "call_retries", "attempts"),
    [
        pytest.param(5, 1, 2, id="call-fewer"),
        pytest.param(0, 2, 3, id="call-more"),
        pytest.param(3, 0, 1, id="call-none"),
    ],
)
async def test_per_call_max_retries_override(
    client_retries: int,
    call_retries: int,
    attempts: int,
    fake: FakeIdenfy,
    policy: RetryPolicy,
) -> None:
    """create_session(max_retries=...) overrides the client's setting for that call."""
    fake.fail_next(*failing(10, error=httpx.ConnectError))
    async with make_client(fake, policy, max_retries=client_retries) as client:
        with pytest.raises(APIConnectionError):
            await client.create_session(client_id="user-1", max_retries=call_retries)
    assert fake.requests == attempts


@pytest.mark.parametrize(
    ("client_deadline", "call_deadline", "attempts", "sleeps"),
    [
        # waits with random()==1.0: 0.25, 0.5, 1.0, 2.0, 4.0, 4.0, ...
        pytest.param(None, 1.0, 3, [0.25, 0.5], id="call-1s"),
        pytest.param(1.0, None, 11, [0.25, 0.5, 1.0, 2.0] + [4.0] * 6, id="call-unbounded"),
        pytest.param(100.0, 0.1, 1, [], id="call-too-short-for-any-wait"),
        pytest.param(0.1, 3.76, 5, [0.25, 0.5, 1.0, 2.0], id="call-longer-fits"),
        # A wait that would end exactly at the deadline leaves no time to try: not made.
        pytest.param(0.1, 3.75, 4, [0.25, 0.5, 1.0], id="call-wait-ending-at-deadline"),
    ],
)
async def test_per_call_retry_deadline_override(
    client_deadline: float | None,
    call_deadline: float | None,
    attempts: int,
    sleeps: list[float],
    fake: FakeIdenfy,
    policy: RetryPolicy,
    clock: VirtualClock,
) -> None:
    """create_session(retry_deadline=...) overrides the client's deadline (None: unbounded)."""
    fake.fail_next(*failing(20, status=503))
    async with make_client(fake, policy, max_retries=10, retry_deadline=client_deadline) as c:
        with pytest.raises(ServerError):
            await c.create_session(client_id="user-1", retry_deadline=call_deadline)
    assert fake.requests == attempts
    assert clock.sleeps == sleeps


async def test_total_deadline_counts_attempt_time(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """The deadline bounds attempts and waits together: slow attempts stop retries early."""
    fake.fail_next(*failing(10, status=503, delay=2.0))
    async with make_client(fake, policy, max_retries=10, retry_deadline=5.0) as client:
        with pytest.raises(ServerError):
            await client.create_session(client_id="user-1")
    # t=0..2 attempt 1; wait 0.25; t=2.25..4.25 attempt 2; wait 0.5 (4.75 < 5);
    # t=4.75.. attempt 3 (its timeout is cut to the 0.25 s left, which the fake's
    # virtual delay does not honour: test_client's VirtualWire does); a 1.0 wait
    # would end past the deadline: stop.
    assert fake.requests == 3
    assert clock.sleeps == [2.0, 0.25, 2.0, 0.5, 2.0]


async def test_deadline_stops_rate_limit_wait(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """A Retry-After that would end past the deadline is not waited for."""
    fake.fail_next(Fault(status=429, headers={"Retry-After": "30"}))
    async with make_client(fake, policy, retry_deadline=10.0) as client:
        with pytest.raises(RateLimitError) as excinfo:
            await client.create_session(client_id="user-1")
    assert excinfo.value.retry_after == 30.0
    assert fake.requests == 1
    assert clock.sleeps == []


# --------------------------------------------------------------------------- the loop itself


async def test_retry_call_reraises_the_original_exception_object(clock: VirtualClock) -> None:
    """After the last attempt retry_call raises the very last error object, unwrapped."""
    raised = [http_error(503) for _ in range(3)]
    seen: list[RetryDetails] = []

    async def send() -> str:
        raise raised[len(seen)]

    policy = RetryPolicy(clock=clock, sleep=clock.sleep, random=lambda: 1.0)
    with pytest.raises(ServerError) as excinfo:
        await retry_call(
            send,
            operation="get_status",
            kind=CallKind.READ,
            policy=policy,
            max_retries=2,
            deadline=None,
            retry_unknown=False,
            on_retry=seen.append,
        )
    assert excinfo.value is raised[-1]
    assert excinfo.value.__cause__ is None
    assert [d.error for d in seen] == raised[:2]
    assert [d.attempt for d in seen] == [2, 3]
    assert {d.max_attempts for d in seen} == {3}
    assert {d.operation for d in seen} == {"get_status"}


async def test_retry_call_read_kind_retries_ambiguous_failures(clock: VirtualClock) -> None:
    """For CallKind.READ a 500 and a read timeout are retried without any opt-in."""
    outcomes: list[IdenfyError | str] = [
        http_error(500),
        APITimeoutError("ReadTimeout", request_sent=True),
        http_error(409),
        "ok",
    ]

    async def send() -> str:
        item = outcomes.pop(0)
        if isinstance(item, IdenfyError):
            raise item
        return item

    policy = RetryPolicy(clock=clock, sleep=clock.sleep, random=lambda: 1.0)
    result = await retry_call(
        send,
        operation="get_status",
        kind=CallKind.READ,
        policy=policy,
        max_retries=3,
        deadline=None,
        retry_unknown=False,
    )
    assert result == "ok"
    assert clock.sleeps == [0.25, 0.5, 1.0]


async def test_retry_call_marks_ambiguity_by_call_kind(clock: VirtualClock) -> None:
    """The same 500 is ambiguous for a CREATE call and not for a READ call."""
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, max_retries=0)
    for kind, ambiguous in ((CallKind.CREATE, True), (CallKind.READ, False)):
        error = http_error(500)

        async def send(error: APIError = error) -> None:
            raise error

        with pytest.raises(ServerError):
            await retry_call(
                send,
                operation="op",
                kind=kind,
                policy=policy,
                max_retries=0,
                deadline=None,
                retry_unknown=False,
            )
        assert error.outcome_unknown is ambiguous


def _sent_timeout() -> IdenfyError:
    return APITimeoutError("read timed out", request_sent=True)


def _not_sent() -> IdenfyError:
    return APIConnectionError("refused", request_sent=False)


@pytest.mark.parametrize(
    ("kind", "errors_raised", "outcome_unknown"),
    [
        # The last error's ambiguous describes the whole call: True when *any* attempt
        # may have taken effect (a 500 that created a session, then a clean 400).
        pytest.param(C, [lambda: http_error(500), lambda: http_error(400)], True, id="500-400"),
        pytest.param(C, [_sent_timeout, lambda: http_error(503)], True, id="timeout-503"),
        pytest.param(
            C,
            [lambda: http_error(503), _sent_timeout, _not_sent, lambda: http_error(400)],
            True,
            id="503-timeout-refused-400",
        ),
        pytest.param(C, [lambda: http_error(503), lambda: http_error(400)], False, id="503-400"),
        pytest.param(C, [_not_sent, lambda: http_error(429)], False, id="refused-429"),
        pytest.param(C, [lambda: http_error(400)], False, id="400"),
        pytest.param(R, [lambda: http_error(500), lambda: http_error(400)], False, id="read"),
    ],
)
async def test_ambiguous_describes_every_attempt_of_the_call(
    kind: CallKind,
    errors_raised: list[Callable[[], IdenfyError]],
    outcome_unknown: bool,
    clock: VirtualClock,
) -> None:
    raised = [make() for make in errors_raised]
    attempts = iter(raised)

    async def send() -> None:
        raise next(attempts)

    policy = RetryPolicy(clock=clock, sleep=clock.sleep, rate_limit_floor=0.0)
    with pytest.raises(IdenfyError) as excinfo:
        await retry_call(
            send,
            operation="op",
            kind=kind,
            policy=policy,
            max_retries=len(raised) - 1,
            deadline=None,
            retry_unknown=True,
        )
    assert excinfo.value is raised[-1]
    assert excinfo.value.outcome_unknown is outcome_unknown


async def test_a_session_created_by_a_retried_500_is_not_forgotten(
    fake: FakeIdenfy, policy: RetryPolicy
) -> None:
    """retry_unknown=True: 500 (session created), then 400: the error says ambiguous."""
    fake.fail_next(Fault(status=500, create=True), Fault(status=400, identifier="BAD_VALUE"))
    async with make_client(fake, policy, retry_unknown=True) as client:
        with pytest.raises(BadRequestError) as excinfo:
            await client.create_session(client_id="user-1")
    assert excinfo.value.outcome_unknown is True  # was False although a session exists
    assert len(fake.sessions) == 1


async def test_retry_call_does_not_catch_foreign_exceptions(clock: VirtualClock) -> None:
    """A non-IdenfyError (a bug in our code) propagates at once, never retried."""
    calls = 0

    async def send() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    policy = RetryPolicy(clock=clock, sleep=clock.sleep)
    with pytest.raises(KeyError):
        await retry_call(
            send,
            operation="op",
            kind=CallKind.READ,
            policy=policy,
            max_retries=3,
            deadline=None,
            retry_unknown=True,
        )
    assert calls == 1


@pytest.mark.parametrize(
    ("script", "error_type"),
    [
        pytest.param(Fault(status=503), ServerError, id="http_503"),
        pytest.param(Fault(status=429), RateLimitError, id="http_429"),
        pytest.param(Fault(error=httpx.ConnectError), APIConnectionError, id="connect_error"),
    ],
)
async def test_client_raises_last_error_unwrapped(
    script: Fault,
    error_type: type[IdenfyError],
    fake: FakeIdenfy,
    policy: RetryPolicy,
) -> None:
    """After the last attempt the client raises the last attempt's own error, same type."""
    fake.fail_next(script, script, script)
    seen: list[RetryDetails] = []
    async with make_client(fake, policy, max_retries=2, on_retry=seen.append) as client:
        with pytest.raises(IdenfyError) as excinfo:
            await client.create_session(client_id="user-1")
    assert type(excinfo.value) is error_type
    assert all(type(d.error) is error_type for d in seen)
    assert all(d.error is not excinfo.value for d in seen)  # a fresh error from attempt 3
    if isinstance(excinfo.value, APIConnectionError):
        assert isinstance(excinfo.value.__cause__, httpx.ConnectError)
    else:
        assert excinfo.value.__cause__ is None
    assert fake.requests == 3


async def test_on_retry_receives_details(fake: FakeIdenfy, policy: RetryPolicy) -> None:
    """on_retry gets one RetryDetails per retry: attempt numbers, delay, failure and error."""
    fake.fail_next(
        Fault(error=httpx.ConnectError),
        Fault(status=503),
        Fault(status=429, identifier="TOO_MANY_REQUESTS", headers={"Retry-After": "3"}),
        Fault(status=400, identifier="TOO_MANY_REQUESTS"),
    )
    seen: list[RetryDetails] = []
    async with make_client(fake, policy, max_retries=5, on_retry=seen.append) as client:
        await client.create_session(client_id="user-1")
    assert [(d.operation, d.attempt, d.max_attempts) for d in seen] == [
        ("create_session", 2, 6),
        ("create_session", 3, 6),
        ("create_session", 4, 6),
        ("create_session", 5, 6),
    ]
    # The second 429 comes as the first one's pause ends: the window is still closed,
    # so its pause doubles (rate_limit_floor, 2.0 s, twice).
    assert [d.delay for d in seen] == [0.25, 0.5, 3.0, 4.0]
    assert [d.failure for d in seen] == [
        Failure.NOT_SENT,
        Failure.UNAVAILABLE,
        Failure.RATE_LIMITED,
        Failure.RATE_LIMITED,
    ]
    assert [type(d.error) for d in seen] == [
        APIConnectionError,
        ServerError,
        RateLimitError,
        RateLimitError,
    ]
    assert fake.requests == 5


async def test_retry_logs_say_what_and_why_without_secrets(
    fake: FakeIdenfy, policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry logs one INFO line naming the call, attempt, wait and cause; no body or secret."""
    caplog.set_level(logging.DEBUG)
    fake.fail_next(
        Fault(status=503, message="Zyxwv is down"),
        Fault(status=400, identifier="TOO_MANY_REQUESTS", message="Zyxwv limited"),
        Fault(error=httpx.ConnectError),
    )
    async with make_client(fake, policy) as client:
        await client.create_session(client_id="user-1", first_name="Zyxwv")
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "idenfy_async" and r.levelno == logging.INFO
    ]
    assert lines == [
        "retrying create_session (attempt 2 of 4) in 0.25s after ServerError (HTTP 503)",
        "retrying create_session (attempt 3 of 4) in 2.00s after RateLimitError"
        " (HTTP 400 TOO_MANY_REQUESTS)",
        "retrying create_session (attempt 4 of 4) in 1.00s after APIConnectionError",
    ]
    everything = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert SECRET not in everything
    assert "zyxwv" not in everything.lower()
