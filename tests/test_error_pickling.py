"""Errors survive pickling (multiprocessing, task queues, pytest-xdist): same class, same
message, same attributes, even for errors whose ``__init__`` takes keyword-only values."""

from __future__ import annotations

import pickle

import pytest

from idenfy_async import Session, errors

SESSION = Session(auth_token="a" * 40, scan_ref="scan-1", client_id="user-1")


def _ambiguous(error: errors.IdenfyError) -> errors.IdenfyError:
    error.outcome_unknown = True
    return error


CASES: list[errors.IdenfyError] = [
    errors.ConfigurationError("base_url must be an absolute https:// URL"),
    errors.ClientClosedError("the client is closed"),
    errors.RequestValidationError(
        "SessionRequest", [errors.FieldProblem("firstName", "must not contain digits")]
    ),
    _ambiguous(
        errors.APIConnectionError(
            "connection reset", request_sent=True, method="POST", path="/api/v2/token"
        )
    ),
    errors.APITimeoutError("read timed out", request_sent=False),
    errors.RateLimitError(
        status_code=429,
        identifier=None,
        message="Too many requests",
        headers={"retry-after": "7"},
        method="POST",
        path="/api/v2/token",
        retry_after=7.0,
    ),
    errors.BadRequestError(
        status_code=400, identifier="BAD_VALUE", message="bad value", body={"identifier": "x"}
    ),
    errors.ResponseDecodeError(
        "answer is not JSON", status_code=201, scan_ref="scan-1", auth_token="t" * 40
    ),
    errors.SignatureVerificationError("mismatch"),
    errors.WebhookPayloadError("not a JSON object"),
    errors.CoordinationError("quota", "connection refused"),
    errors.SessionAlreadyOpenError("user-1", SESSION),
    errors.SessionOutcomeUnknownError("user-1", in_flight=True),
]


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_an_error_round_trips_through_pickle(error: errors.IdenfyError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    assert copy.outcome_unknown is error.outcome_unknown
