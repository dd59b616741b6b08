"""Pure wire logic: request bytes, token response parsing, error mapping, Retry-After."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

import httpx
import pytest

from idenfy_async import NULL, SessionRequest, errors
from idenfy_async._wire.sessions import (
    CREATE_SESSION_PATH,
    RequestSpec,
    build_create_session,
    build_get_status,
    build_list_verifications,
    check_download_url,
    decipher,
    error_from_response,
    is_error_body,
    parse_create_session,
    parse_files,
    parse_get_data,
    parse_get_status,
    parse_retry_after,
)
from tests.conftest import sample, sample_bytes

BASE_URL = "https://ivs.idenfy.com"
SAMPLE_TOKEN = "pgYQX0z2T8mtcpNj9I20uWVCLKNuG0vgr12f0wAC"
SECRET = "JOHNSECRETNAME"
#: A fixed wall clock: 2030-01-01T00:00:00Z.
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc).timestamp()


# --------------------------------------------------------------------------- building


def test_build_create_session_is_post_to_token_path_with_compact_json() -> None:
    """build_create_session gives POST /api/v2/token with compact JSON bytes of the wire body."""
    spec = build_create_session(SessionRequest("user-123", first_name="John", check_aml=False))
    assert spec == RequestSpec(
        "POST", "/api/v2/token", b'{"clientId":"user-123","firstName":"John","checkAml":false}'
    )
    assert CREATE_SESSION_PATH == "/api/v2/token"


def test_build_create_session_minimal_body() -> None:
    """A request with only clientId sends just that key."""
    assert build_create_session(SessionRequest("user-123")).body == b'{"clientId":"user-123"}'


def test_build_create_session_encodes_utf8_and_lists() -> None:
    """Non-ASCII text is UTF-8 encoded; lists and null are compact JSON."""
    spec = build_create_session(
        SessionRequest("u", last_name="Žemaitė", country=["lt", "lv"], questionnaire=NULL)
    )
    assert (
        spec.body
        == (
            '{"clientId":"u","lastName":"Žemaitė","country":["LT","LV"],"questionnaire":null}'
        ).encode()
    )
    assert json.loads(spec.body) == {
        "clientId": "u",
        "lastName": "Žemaitė",
        "country": ["LT", "LV"],
        "questionnaire": None,
    }


# --------------------------------------------------------------------------- parsing success


@pytest.mark.parametrize("status", [200, 201])
def test_parse_create_session_real_sample(status: int) -> None:
    """The documented token response parses on 200 and 201 into a Session."""
    session = parse_create_session(
        status, sample_bytes("token_response_full.json"), base_url=BASE_URL
    )
    assert session.auth_token == SAMPLE_TOKEN
    assert session.scan_ref == "ec6a7108-8c26-11e9-9758-309c231b1bac"
    assert session.client_id == "100000"
    assert session.digit_string == "4823657"
    assert session.expiry_time == 600
    assert session.raw == sample("token_response_full.json")


def test_parse_create_session_fills_missing_redirect_url() -> None:
    """Without redirectUrl in the body, redirect_url is <base>/api/v2/redirect?authToken=..."""
    session = parse_create_session(201, sample_bytes("token_response_full.json"), base_url=BASE_URL)
    assert (
        session.redirect_url == f"https://ivs.idenfy.com/api/v2/redirect?authToken={SAMPLE_TOKEN}"
    )


def test_parse_create_session_fills_null_redirect_url_with_escaped_token() -> None:
    """A null redirectUrl is filled too, and the token is query-escaped."""
    body = {"authToken": "a+b/c", "scanRef": "s", "clientId": "c", "redirectUrl": None}
    session = parse_create_session(201, json.dumps(body).encode(), base_url="http://127.0.0.1:8080")
    assert session.redirect_url == "http://127.0.0.1:8080/api/v2/redirect?authToken=a%2Bb%2Fc"


def test_parse_create_session_keeps_redirect_url_from_body() -> None:
    """A redirectUrl sent by iDenfy is kept as-is."""
    body = sample("token_response_full.json")
    body["redirectUrl"] = "https://ivs.idenfy.com/api/v2/redirect?authToken=OTHER"
    session = parse_create_session(201, json.dumps(body).encode(), base_url="https://x.example")
    assert session.redirect_url == "https://ivs.idenfy.com/api/v2/redirect?authToken=OTHER"


# --------------------------------------------------------------------------- parsing failures


_MISSING = object()


def _body(**fields: object) -> bytes:
    base: dict[str, object] = {
        "authToken": "tok",
        "scanRef": "scan",
        "clientId": "client",
        "firstName": SECRET,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not _MISSING}).encode()


DECODE_FAILURES = [
    pytest.param(f"<html><body>{SECRET}</body></html>".encode(), id="html"),
    pytest.param(f'{{"authToken": "tok", "firstName": "{SECRET}"'.encode(), id="truncated-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff\xfe" + SECRET.encode(), id="not-utf8"),
    pytest.param(json.dumps([{"authToken": "tok", "firstName": SECRET}]).encode(), id="json-array"),
    pytest.param(json.dumps(SECRET).encode(), id="json-string"),
    pytest.param(b"null", id="json-null"),
    pytest.param(_body(authToken=_MISSING), id="missing-authToken"),
    pytest.param(_body(scanRef=_MISSING), id="missing-scanRef"),
    pytest.param(_body(authToken=""), id="empty-authToken"),
    pytest.param(_body(authToken=None), id="authToken-null"),
    pytest.param(_body(authToken=12345), id="authToken-number"),
    pytest.param(_body(authToken={"firstName": SECRET}), id="authToken-object"),
    pytest.param(_body(scanRef=["a", "b"]), id="scanRef-list"),
    pytest.param(_body(scanRef="  "), id="scanRef-blank"),
    pytest.param(_body(authToken="tok\ud800"), id="authToken-lone-surrogate"),
    pytest.param(_body(clientId=[SECRET]), id="clientId-list"),
    pytest.param(b"[" * 100_000, id="nested-too-deep"),
]


@pytest.mark.parametrize("content", DECODE_FAILURES)
def test_parse_create_session_rejects_unreadable_bodies(content: bytes) -> None:
    """A 2xx body that is not a JSON object of the right shape raises ResponseDecodeError."""
    with pytest.raises(errors.ResponseDecodeError) as excinfo:
        parse_create_session(201, content, base_url=BASE_URL)
    err = excinfo.value
    assert err.status_code == 201
    assert isinstance(err, errors.IdenfyError)
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert SECRET not in err.reason


def test_decode_error_names_the_missing_wire_field() -> None:
    """A missing authToken is reported by its wire name, never with the body's values."""
    with pytest.raises(errors.ResponseDecodeError) as excinfo:
        parse_create_session(201, _body(authToken=_MISSING), base_url=BASE_URL)
    assert "authToken" in str(excinfo.value)


#: Echoed fields of odd types: (wire key, value, Session attribute, what it reads as).
LENIENT_ECHOES = [
    pytest.param("expiryTime", "3600", "expiry_time", 3600, id="expiryTime-digits"),
    pytest.param("expiryTime", SECRET, "expiry_time", None, id="expiryTime-text"),
    pytest.param("expiryTime", True, "expiry_time", None, id="expiryTime-bool"),
    pytest.param("sessionLength", 600.0, "session_length", 600, id="sessionLength-float"),
    pytest.param("sessionLength", "9" * 5000, "session_length", None, id="sessionLength-huge"),
    pytest.param("showInstructions", "true", "show_instructions", True, id="showInstr-true"),
    pytest.param("showInstructions", "false", "show_instructions", False, id="showInstr-false"),
    pytest.param("showInstructions", 1, "show_instructions", None, id="showInstructions-1"),
    pytest.param("clientId", 12345, "client_id", "12345", id="clientId-int"),
    pytest.param("country", ["LT", None], "country", None, id="country-list-with-null"),
    pytest.param("country", {"LT": 1}, "country", None, id="country-object"),
    pytest.param("documents", 7, "documents", None, id="documents-number"),
    pytest.param("documents", {"doc": SECRET}, "documents", None, id="documents-object"),
    pytest.param("documents", "PASSPORT", "documents", ["PASSPORT"], id="documents-string"),
    pytest.param("digitString", 123, "digit_string", None, id="digitString-int-loses-zeros"),
    pytest.param("firstName", ["A"], "first_name", None, id="firstName-list"),
    pytest.param("message", None, "message", None, id="message-null"),
    pytest.param("locale", 5, "locale", "5", id="locale-int"),
]


@pytest.mark.parametrize(("key", "value", "attribute", "expected"), LENIENT_ECHOES)
def test_odd_echoed_fields_never_lose_the_paid_session(
    key: str, value: object, attribute: str, expected: object
) -> None:
    """A 201 with a good token and scanRef is a Session whatever the echoed fields hold."""
    session = parse_create_session(201, _body(**{key: value}), base_url=BASE_URL)
    assert (session.auth_token, session.scan_ref) == ("tok", "scan")
    assert getattr(session, attribute) == expected
    assert session.raw[key] == value  # the value as sent is never lost


def test_odd_redirect_url_is_replaced_by_the_documented_one() -> None:
    """A redirectUrl that is not text is rebuilt from the token; raw keeps what was sent."""
    session = parse_create_session(201, _body(redirectUrl=5), base_url=BASE_URL)
    assert session.redirect_url == f"{BASE_URL}/api/v2/redirect?authToken=tok"
    assert session.raw["redirectUrl"] == 5


TOKEN, SCAN = "TOKEN-7f3a9c", "SCAN-REF-51d2e8"


@pytest.mark.parametrize("client_id", [_MISSING, None], ids=["absent", "null"])
def test_a_token_answer_without_client_id_is_a_session(client_id: object) -> None:
    """Only authToken, scanRef and tokenType are required in a token 201, and clientId
    is nullable (kyc OpenAPI, /api/v2/token 201): a paid session, not undecodable."""
    content = json.dumps(
        {
            k: v
            for k, v in {
                "authToken": TOKEN,
                "scanRef": SCAN,
                "tokenType": "IDENTIFICATION",
                "clientId": client_id,
            }.items()
            if v is not _MISSING
        }
    ).encode()
    session = parse_create_session(201, content, base_url=BASE_URL)
    assert (session.auth_token, session.scan_ref, session.client_id) == (TOKEN, SCAN, None)


@pytest.mark.parametrize(
    ("fields", "scan_ref", "auth_token"),
    [
        pytest.param({"clientId": {"x": SECRET}}, SCAN, TOKEN, id="clientId-object"),
        pytest.param({"authToken": _MISSING}, SCAN, None, id="token-missing"),
        pytest.param({"scanRef": 5}, None, TOKEN, id="scanRef-number"),
    ],
)
def test_decode_error_carries_what_identifies_the_session(
    fields: dict[str, object], scan_ref: str | None, auth_token: str | None
) -> None:
    """An unreadable answer keeps its readable scanRef and authToken; neither is printed."""
    content = _body(**{"authToken": TOKEN, "scanRef": SCAN, **fields})
    with pytest.raises(errors.ResponseDecodeError) as excinfo:
        parse_create_session(201, content, base_url=BASE_URL)
    err = excinfo.value
    assert (err.scan_ref, err.auth_token) == (scan_ref, auth_token)
    for text in (str(err), repr(err), err.reason):
        for secret in (TOKEN, SCAN, SECRET):
            assert secret not in text


def test_decode_error_str_mentions_kept_session_without_values() -> None:
    """When a session was identified, str() says where to find it, never its values."""
    with pytest.raises(errors.ResponseDecodeError) as excinfo:
        parse_create_session(201, _body(clientId=[1], scanRef=SCAN), base_url=BASE_URL)
    text = str(excinfo.value)
    assert "scan_ref" in text
    assert "auth_token" in text
    assert SCAN not in text


def test_request_spec_repr_shows_the_body_length_only() -> None:
    """RequestSpec's repr (what error trackers print for frame locals) hides the body."""
    spec = build_create_session(SessionRequest("user-1", first_name=SECRET))
    text = repr(spec)
    assert SECRET not in text
    assert f"<{len(spec.body)} bytes>" in text
    assert CREATE_SESSION_PATH in text


def test_build_create_session_refuses_a_value_changed_after_validation() -> None:
    """Strict encoding: a value slipped past validation is a field-naming error, no body."""
    request = SessionRequest("user-1", first_name="John", personal_number="123")
    object.__setattr__(request, "first_name", SECRET + "\ud800")  # bypass the frozen class
    with pytest.raises(errors.RequestValidationError) as excinfo:
        build_create_session(request)
    err = excinfo.value
    assert err.fields == ("firstName",)
    assert err.__context__ is None
    assert err.__cause__ is None
    assert SECRET not in str(err)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), b"bytes", {1, 2}], ids=["nan", "inf", "bytes", "set"]
)
def test_build_create_session_never_sends_non_strict_json(value: object) -> None:
    """NaN, Infinity and non-JSON types never go out, even when set after validation."""
    request = SessionRequest("user-1", additional_data={"a": 1})
    object.__setattr__(request, "additional_data", {"a": value})
    with pytest.raises(errors.RequestValidationError) as excinfo:
        build_create_session(request)
    assert excinfo.value.fields == ("additionalData",)


def test_scan_ref_and_client_id_with_lone_surrogates_are_refused() -> None:
    """Other request builders refuse unencodable text before anything is sent."""
    with pytest.raises(errors.RequestValidationError) as excinfo:
        build_get_status("scan\ud800")
    assert excinfo.value.fields == ("scanRef",)
    with pytest.raises(errors.RequestValidationError) as excinfo:
        build_list_verifications("user\ud800")
    assert excinfo.value.fields == ("clientId",)
    with pytest.raises(errors.RequestValidationError) as excinfo:
        check_download_url("https://s3.example/\ud800")
    assert excinfo.value.fields == ("url",)


def test_deeply_nested_error_body_is_not_an_error_envelope() -> None:
    """is_error_body survives JSON nested past the recursion limit."""
    content = b'{"identifier": "X", "a": ' + b"[" * 100_000
    assert is_error_body(200, content) is False


# (status, body) -> the error class decipher() says the answer stands for (None: a
# success to parse). Written out from the API reference, not from the code.
DECIPHER_CASES = [
    pytest.param(201, b'{"authToken": "t", "scanRef": "s"}', None, id="201-token"),
    pytest.param(200, b'{"status": "APPROVED"}', None, id="200-result"),
    pytest.param(200, b"not json", None, id="200-unreadable-is-the-parser's"),
    pytest.param(
        200,
        b'{"identifier": "TOO_MANY_REQUESTS", "message": "Slow down."}',
        errors.RateLimitError,
        id="200-error-envelope",
    ),
    pytest.param(
        200,
        b'{"identifier": "X", "authToken": "t", "scanRef": "s"}',
        None,
        id="200-token-with-identifier-key",
    ),
    pytest.param(400, b'{"identifier": "UNAUTHORIZED"}', errors.AuthenticationError, id="400-id"),
    pytest.param(404, b"<html>nope</html>", errors.NotFoundError, id="404-html"),
    pytest.param(503, b"", errors.ServerError, id="503-empty"),
]


@pytest.mark.parametrize(("status", "content", "expected"), DECIPHER_CASES)
def test_decipher_says_which_answers_are_errors(
    status: int, content: bytes, expected: type[errors.APIError] | None
) -> None:
    """decipher(): None for a success to parse, else the typed error, its path shown bare."""
    spec = RequestSpec("POST", "/api/v2/status?clientId=secret-person", b"{}")
    error = decipher(spec, status, {}, content, now=NOW)
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected
        assert error.path == "/api/v2/status"  # never the query
        assert "secret-person" not in str(error)


# --------------------------------------------------------------------------- result readers

READER_REFUSALS = [
    pytest.param(
        parse_get_data, sample_bytes("error_response_delete_not_expired.json"), id="data-error-body"
    ),
    pytest.param(parse_get_data, b"{}", id="data-empty-object"),
    pytest.param(parse_get_data, b'{"unrelated": 1}', id="data-unrelated"),
    pytest.param(parse_get_status, b'{"scanRef": "s", "clientId": "c"}', id="status-no-status"),
    pytest.param(
        parse_get_status,
        sample_bytes("error_response_delete_not_expired.json"),
        id="status-error-body",
    ),
    pytest.param(
        parse_files, sample_bytes("error_response_delete_not_expired.json"), id="files-error-body"
    ),
    pytest.param(parse_files, b'{"scanRef": "s"}', id="files-no-file"),
    pytest.param(parse_get_data, b"[" * 100_000, id="data-too-deep"),
]


@pytest.mark.parametrize(("parse", "content"), READER_REFUSALS)
def test_readers_refuse_bodies_of_another_kind(
    parse: Callable[[int, bytes], object], content: bytes
) -> None:
    """A body without the fields that identify its kind is an error, not an empty result."""
    with pytest.raises(errors.ResponseDecodeError):
        parse(200, content)


@pytest.mark.parametrize(
    ("parse", "content"),
    [
        pytest.param(parse_get_data, b'{"scanRef": "s", "docFirstName": null}', id="data-nulls"),
        pytest.param(parse_get_data, b'{"docType": null}', id="data-one-null-field"),
        pytest.param(parse_get_status, b'{"status": null, "scanRef": "s"}', id="status-null"),
        pytest.param(
            parse_get_status, sample_bytes("status_response_approved.json"), id="status-sample"
        ),
        pytest.param(parse_files, b"{}", id="files-none"),
        pytest.param(parse_files, b'{"fileUrls": {}}', id="files-nested-none"),
        pytest.param(parse_files, b'{"FRONT": null, "scanRef": "s"}', id="files-null-url"),
    ],
)
def test_readers_accept_their_own_kind(
    parse: Callable[[int, bytes], object], content: bytes
) -> None:
    """Answers of the right kind still decode, null fields included."""
    parse(200, content)


# --------------------------------------------------------------------------- errors

E = errors
ERROR_TABLE = [
    pytest.param(
        400, "BAD_VALUE", "Field 'country' is invalid.", E.BadRequestError, id="400-BAD_VALUE"
    ),
    pytest.param(
        400, "MISSING_VALUE", "clientId is required.", E.BadRequestError, id="400-MISSING_VALUE"
    ),
    pytest.param(
        400, "VALIDATION_ERROR", "Bad request.", E.BadRequestError, id="400-VALIDATION_ERROR"
    ),
    pytest.param(400, "JSON_ERROR", "Malformed JSON.", E.BadRequestError, id="400-JSON_ERROR"),
    pytest.param(422, None, "Unprocessable.", E.BadRequestError, id="422-no-identifier"),
    pytest.param(400, "UNAUTHORIZED", "Bad key.", E.AuthenticationError, id="400-UNAUTHORIZED"),
    pytest.param(
        401,
        None,
        "Invalid authorization credentials",
        E.AuthenticationError,
        id="401-no-identifier",
    ),
    pytest.param(
        402,
        None,
        "Action not allowed due to lack of funds or exceeded limit.",
        E.InsufficientFundsError,
        id="402",
    ),
    pytest.param(
        400,
        "PERMISSIONS_ERROR",
        "Partner reached token limit.",
        E.InsufficientFundsError,
        id="400-PERMISSIONS_ERROR-token-limit",
    ),
    pytest.param(
        400,
        "PERMISSIONS_ERROR",
        "This endpoint is not available for TESTING partners.",
        E.PermissionDeniedError,
        id="400-PERMISSIONS_ERROR-other",
    ),
    pytest.param(
        400,
        "PARTNER_CONTRACT_ERROR",
        "Contract does not allow this.",
        E.PermissionDeniedError,
        id="400-PARTNER_CONTRACT_ERROR",
    ),
    pytest.param(403, None, "Partner inactive", E.PermissionDeniedError, id="403-no-identifier"),
    pytest.param(404, None, "Not found.", E.NotFoundError, id="404"),
    pytest.param(409, None, "Client ID already exists", E.ConflictError, id="409"),
    pytest.param(429, None, "Rate limited", E.RateLimitError, id="429"),
    pytest.param(
        400,
        "TOO_MANY_REQUESTS",
        "Hourly limit reached.",
        E.RateLimitError,
        id="400-TOO_MANY_REQUESTS",
    ),
    pytest.param(
        400,
        "TOKEN_NOT_VALID",
        "Token is not valid.",
        E.TokenNotValidError,
        id="400-TOKEN_NOT_VALID",
    ),
    pytest.param(400, "INTERNAL_ERROR", "Unhandled error.", E.ServerError, id="400-INTERNAL_ERROR"),
    pytest.param(500, "INTERNAL_ERROR", "Unhandled error.", E.ServerError, id="500-INTERNAL_ERROR"),
    pytest.param(500, None, "Server error", E.ServerError, id="500"),
    pytest.param(502, None, "Bad gateway", E.ServerError, id="502"),
    pytest.param(503, None, "Unavailable", E.ServerError, id="503"),
    pytest.param(504, None, "Gateway timeout", E.ServerError, id="504"),
    pytest.param(418, None, "I'm a teapot", E.APIError, id="418"),
    pytest.param(
        400, "SOMETHING_NEW", "New failure.", E.BadRequestError, id="400-unknown-identifier"
    ),
]


@pytest.mark.parametrize(("status", "identifier", "message", "cls"), ERROR_TABLE)
def test_error_from_response_maps_status_and_identifier(
    status: int, identifier: str | None, message: str, cls: type[errors.APIError]
) -> None:
    """Each (status, identifier, message) maps to its exception class with the facts attached."""
    payload: dict[str, object] = {"message": message, "firstName": SECRET, "documentNumber": "X9"}
    if identifier is not None:
        payload["identifier"] = identifier
    err = error_from_response(
        status,
        httpx.Headers({"Content-Type": "application/json"}),
        json.dumps(payload).encode(),
        method="POST",
        path=CREATE_SESSION_PATH,
        now=NOW,
    )
    assert type(err) is cls
    assert err.status_code == status
    assert err.identifier == identifier
    assert err.message == message
    assert err.body == payload
    assert err.method == "POST"
    assert err.path == CREATE_SESSION_PATH
    text = str(err)
    assert text.startswith(f"HTTP {status}")
    assert message.rstrip(".") in text
    assert SECRET not in text
    assert SECRET not in repr(err)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_non_json_server_error_maps_by_status(status: int) -> None:
    """An HTML error page from a proxy still maps by status, with no identifier or message."""
    html = f"<html><body>Bad gateway {SECRET}</body></html>".encode()
    err = error_from_response(
        status, httpx.Headers(), html, method="POST", path=CREATE_SESSION_PATH, now=NOW
    )
    assert type(err) is errors.ServerError
    assert err.status_code == status
    assert err.identifier is None
    assert err.message is None
    assert err.body is None
    assert SECRET not in str(err)
    assert str(err) == f"HTTP {status} from POST /api/v2/token"


@pytest.mark.parametrize(
    "content", [b"", b"[1, 2]", b'"text"', b'{"identifier": 5, "message": {"x": 1}}'], ids=repr
)
def test_error_body_of_unexpected_shape_maps_by_status(content: bytes) -> None:
    """Empty, non-object or oddly typed error bodies still map by status with no identifier."""
    err = error_from_response(
        400, httpx.Headers(), content, method="POST", path=CREATE_SESSION_PATH, now=NOW
    )
    assert type(err) is errors.BadRequestError
    assert err.identifier is None
    assert err.message is None


def test_documented_partner_error_sample() -> None:
    """The documented "Token has not expired yet." is a TokenNotExpiredError (a 400)."""
    err = error_from_response(
        400,
        httpx.Headers(),
        sample_bytes("error_response_delete_not_expired.json"),
        method="POST",
        path="/api/v2/delete",
        now=NOW,
    )
    assert type(err) is errors.TokenNotExpiredError
    assert isinstance(err, errors.BadRequestError)
    assert err.identifier == "PARTNER_ERROR"
    assert err.message == "Token has not expired yet."
    assert err.body == sample("error_response_delete_not_expired.json")
    assert str(err) == "HTTP 400 PARTNER_ERROR from POST /api/v2/delete: Token has not expired yet"


@pytest.mark.parametrize(
    ("status", "identifier", "headers", "retry_after"),
    [
        pytest.param(429, None, {"Retry-After": "7"}, 7.0, id="429-retry-after"),
        pytest.param(429, None, {}, None, id="429-no-header"),
        pytest.param(
            400, "TOO_MANY_REQUESTS", {"Retry-After-Ms": "1500"}, 1.5, id="400-TOO_MANY_REQUESTS-ms"
        ),
    ],
)
def test_rate_limit_error_carries_retry_after(
    status: int, identifier: str | None, headers: dict[str, str], retry_after: float | None
) -> None:
    """RateLimitError.retry_after is read from the response's Retry-After headers."""
    payload = {"identifier": identifier} if identifier else {}
    err = error_from_response(
        status,
        httpx.Headers(headers),
        json.dumps(payload).encode(),
        method="POST",
        path=CREATE_SESSION_PATH,
        now=NOW,
    )
    assert isinstance(err, errors.RateLimitError)
    assert err.retry_after == retry_after


def test_error_keeps_headers() -> None:
    """The response headers are kept on the error."""
    err = error_from_response(
        503,
        httpx.Headers({"X-Request-Id": "abc"}),
        b"",
        method="POST",
        path=CREATE_SESSION_PATH,
        now=NOW,
    )
    assert err.headers.get("x-request-id") == "abc"


# --------------------------------------------------------------------------- Retry-After

RETRY_AFTER = [
    pytest.param({"Retry-After": "5"}, 5.0, id="seconds"),
    pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
    pytest.param({"Retry-After": "1.5"}, 1.5, id="fractional"),
    pytest.param({"Retry-After": " 12 "}, 12.0, id="whitespace"),
    pytest.param({"Retry-After-Ms": "1500"}, 1.5, id="retry-after-ms"),
    pytest.param({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25, id="ms-wins"),
    pytest.param({"Retry-After-Ms": "soon", "Retry-After": "9"}, 9.0, id="bad-ms-falls-back"),
    pytest.param({"Retry-After-Ms": "-5", "Retry-After": "9"}, 9.0, id="negative-ms-falls-back"),
    pytest.param({"Retry-After": "Tue, 01 Jan 2030 00:00:30 GMT"}, 30.0, id="http-date-future"),
    pytest.param({"Retry-After": "Mon, 31 Dec 2029 23:59:00 GMT"}, 0.0, id="http-date-past"),
    pytest.param({"Retry-After": "Tue, 01 Jan 2030 00:00:00 GMT"}, 0.0, id="http-date-now"),
    pytest.param({"Retry-After": "soon"}, None, id="garbage"),
    pytest.param({"Retry-After": ""}, None, id="empty"),
    pytest.param({"Retry-After": "nan"}, None, id="nan"),
    pytest.param({"Retry-After": "inf"}, None, id="inf"),
    pytest.param({}, None, id="absent"),
    pytest.param({"Content-Type": "application/json"}, None, id="other-headers-only"),
    # A negative or non-finite value is no value: the caller's backoff and floor apply
    # ("-5" read as 0 once sent four POSTs in 30 ms).
    pytest.param({"Retry-After": "-5"}, None, id="negative"),
    pytest.param({"Retry-After": "-0.5"}, None, id="negative-fraction"),
    pytest.param({"Retry-After": "-inf"}, None, id="minus-inf"),
    pytest.param({"Retry-After": "1e400"}, None, id="overflows-to-inf"),
    pytest.param({"Retry-After": "NaN"}, None, id="nan-capitalised"),
    pytest.param({"Retry-After": "86400000000"}, 86400000000.0, id="huge-is-read"),
    pytest.param({"Retry-After": "5 seconds"}, None, id="garbage-with-number"),
    pytest.param({"Retry-After": "0x10"}, None, id="hex"),
    pytest.param({"Retry-After-Ms": "-5"}, None, id="negative-ms-alone"),
    pytest.param({"Retry-After-Ms": "nan", "Retry-After": "2"}, 2.0, id="nan-ms-falls-back"),
    pytest.param({"Retry-After-Ms": "inf"}, None, id="inf-ms-alone"),
    pytest.param({"Retry-After": "Tue, 01 Jan 2030 01:00:00 GMT"}, 3600.0, id="http-date-hour"),
    pytest.param({"Retry-After": "Tue, 01 Jan 1980 00:00:00 GMT"}, 0.0, id="http-date-1980"),
    pytest.param({"Retry-After": "Tue, 99 Jan 2030 00:00:00 GMT"}, None, id="http-date-bad-day"),
    pytest.param({"RETRY-AFTER": "3"}, 3.0, id="upper-case-name"),
    pytest.param({"retry-after": "4"}, 4.0, id="lower-case-name"),
    pytest.param({"RETRY-AFTER-MS": "100"}, 0.1, id="upper-case-ms-name"),
]


@pytest.mark.parametrize(("headers", "expected"), RETRY_AFTER)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After-Ms / Retry-After (seconds or HTTP date) become seconds; unreadable is None."""
    result = parse_retry_after(httpx.Headers(headers), now=NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_every_name_sansio_exports_resolves_and_the_results_ones_are_the_results_own() -> None:
    # _sansio re-exports the results module's names: each must resolve, and to the
    # results module's own object.
    from idenfy_async._wire import results as _results_sansio
    from idenfy_async._wire import sessions as _sansio

    assert all(hasattr(_sansio, name) for name in _sansio.__all__)
    shared = set(_sansio.__all__) & set(_results_sansio.__all__)
    assert "parse_get_status" in shared
    for name in shared:
        assert getattr(_sansio, name) is getattr(_results_sansio, name)
