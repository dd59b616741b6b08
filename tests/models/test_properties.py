"""Property tests (Hypothesis): hostile input ends typed, and a paid session is never lost.

- Any value in any ``SessionRequest`` field gives ``RequestValidationError`` or a body
  that strict JSON accepts.
- Any 2xx body through the token parser gives a ``Session`` or ``ResponseDecodeError``,
  and a readable authToken/scanRef always comes back (on the Session or the error).
- Any webhook body, event-type header and signature gives an event,
  ``WebhookPayloadError`` or ``SignatureVerificationError``; the dedupe key ignores
  the unsigned header.

Examples are derandomized (same cases on every run and in CI) and kept few enough for
the suite to stay fast.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import types
import uuid
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idenfy_async import NULL, DocumentType, SessionRequest, Sex, errors
from idenfy_async._wire.sessions import (
    build_create_session,
    parse_create_session,
    parse_files,
    parse_get_data,
    parse_get_status,
    parse_list_page,
)
from idenfy_async.models import EventType
from idenfy_async.webhooks import construct_event, parse_event, sign, verify_signature
from tests.conftest import sample, sample_bytes

BASE_URL = "https://ivs.idenfy.com"
KEY = "property-signing-key"

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- strategies

LONE_SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udc80", "\udbff"])
#: Text including lone surrogates (which Hypothesis' text() never produces).
TEXT = st.one_of(
    st.text(max_size=20),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), LONE_SURROGATES, st.text(max_size=5)),
)
JSON_INTEGERS = st.one_of(
    st.integers(),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400)]),
)
#: Also one over Python's 4,300-digit str() limit (built: repr() of it would fail).
INTEGERS = st.one_of(JSON_INTEGERS, st.builds(lambda: 10**5000))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)


class Opaque:
    """An arbitrary object with no JSON form."""


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INTEGERS,
    FLOATS,
    TEXT,
    st.binary(max_size=10),
    st.dates(),
    st.datetimes(),
    st.decimals(allow_nan=True),
    st.uuids(),
    st.builds(Opaque),
    st.builds(object),
    st.sampled_from([NULL, Sex.M, DocumentType.PASSPORT, EventType.IDENTIFICATION]),
    st.frozensets(st.integers(), max_size=3),
    st.sets(st.text(max_size=3), max_size=3),
)
HASHABLE_KEYS = st.one_of(TEXT, st.integers(), st.none(), st.booleans(), st.floats())


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(TEXT, children, max_size=4),
        st.dictionaries(HASHABLE_KEYS, children, max_size=3),
        st.builds(
            types.MappingProxyType, st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
    )


#: Any Python value: scalars of every kind, nested in lists, tuples, dicts, mappings.
ANYTHING = st.recursive(SCALARS, _containers, max_leaves=8)

#: Values each field accepts, so that whole requests also get built and encoded.
GOOD: dict[str, list[Any]] = {
    "first_name": ["John", "Ona Zyx"],
    "last_name": ["Smith"],
    "date_of_birth": ["1990-12-20", datetime.date(1990, 1, 2)],
    "sex": ["M", Sex.F],
    "nationality": ["LT", "ALL"],
    "address": ["Street 1"],
    "external_ref": ["ref-1"],
    "country": ["lt", ["LT", "GB"]],
    "documents": [["PASSPORT"], [DocumentType.ID_CARD]],
    "document_number": ["AB123"],
    "personal_number": ["39001010000"],
    "success_url": ["https://example.com/ok"],
    "callback_url": ["http://127.0.0.1:8000/hook"],
    "locale": ["en"],
    "expiry_time": [600],
    "session_length": [600],
    "token_type": ["DOCUMENT"],
    "age_limit": [18],
    "face_matching_threshold_modifier": [0.5, 2],
    "questionnaire": [NULL, "q-1"],
    "risk_assessment_profile": [7, "12", uuid.UUID(int=3)],
    "theme": [str(uuid.UUID(int=5))],
    "registry_centers_countries": [["LT"]],
    "video_call_questions": [["Question?"]],
    "dummy_status": ["APPROVED"],
    "additional_data": [{"a": [1, "x", None, 1.5, {"b": True}]}],
    "additional_steps": [{"ALL": {"UTILITY_BILL": {"type": "DOCUMENT"}}}],
    "extra": [{"newParam": [1, "x"]}],
}
FIELDS = [a.name for a in attrs.fields(SessionRequest) if a.name != "client_id"]
BOOL_FIELDS = {
    a.name for a in attrs.fields(SessionRequest) if str(a.type) in {"bool | None", "bool"}
}


def _value_for(name: str) -> st.SearchStrategy[Any]:
    good = GOOD.get(name, [True, False] if name in BOOL_FIELDS else [None])
    options = [st.sampled_from(good), ANYTHING]
    if name in {"extra", "additional_data", "additional_steps"}:
        options.append(st.dictionaries(TEXT, ANYTHING, max_size=3))
    return st.one_of(*options)


@st.composite
def request_fields(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True))
    fields = {name: draw(_value_for(name)) for name in names}
    fields["client_id"] = draw(st.one_of(st.just("user-1"), ANYTHING))
    return fields


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {name} in the request body")


# --------------------------------------------------------------------------- (a) requests


@PROPERTY
@given(request_fields())
def test_any_field_value_is_refused_or_sent_as_strict_json(fields: dict[str, Any]) -> None:
    """RequestValidationError naming wire fields, or a body strict JSON parses."""
    refused: errors.RequestValidationError | None = None
    try:
        spec = build_create_session(SessionRequest(**fields))
    except errors.RequestValidationError as exc:
        refused = exc
    if refused is not None:
        assert refused.problems
        assert all(p.field and p.rule for p in refused.problems)
        str(refused).encode("utf-8")  # printable: no lone surrogate from a value in it
        assert refused.__context__ is None
        return
    body = json.loads(spec.body.decode("utf-8"), parse_constant=_reject_constant)
    assert isinstance(body, dict)
    assert body["clientId"] == fields["client_id"]
    assert str(len(spec.body)) in repr(spec)


# --------------------------------------------------------------------------- (b) token answers

TOKEN_SAMPLE: dict[str, Any] = sample("token_response_full.json")
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), JSON_INTEGERS, FLOATS, TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated_token_sample(draw: st.DrawFn) -> bytes:
    body = copy.deepcopy(TOKEN_SAMPLE)
    keys = draw(st.lists(st.sampled_from([*TOKEN_SAMPLE, "redirectUrl", "new"]), max_size=5))
    for key in keys:
        if draw(st.booleans()):
            body[key] = draw(JSON_VALUES)
        else:
            body.pop(key, None)
    return json.dumps(body).encode()


TOKEN_BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(list(TOKEN_SAMPLE)), JSON_VALUES).map(
        lambda v: json.dumps(v).encode()
    ),
    mutated_token_sample(),
)


def _readable(value: Any) -> str | None:
    """What the library promises to keep: printable, non-blank text."""
    if isinstance(value, str) and value.strip() and value.isprintable():
        return value
    return None


@PROPERTY
@given(TOKEN_BODIES, st.sampled_from([200, 201, 299]))
def test_any_2xx_token_body_is_a_session_or_keeps_what_identifies_it(
    content: bytes, status: int
) -> None:
    """A Session, or ResponseDecodeError holding every readable authToken and scanRef."""
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        parsed = None
    token = scan_ref = None
    if isinstance(parsed, dict):
        token, scan_ref = _readable(parsed.get("authToken")), _readable(parsed.get("scanRef"))
    failed: errors.ResponseDecodeError | None = None
    try:
        session = parse_create_session(status, content, base_url=BASE_URL)
    except errors.ResponseDecodeError as exc:
        failed = exc
    if failed is not None:
        assert (failed.auth_token, failed.scan_ref) == (token, scan_ref)
        for secret in (token, scan_ref):
            if secret is not None and len(secret) >= 12:
                assert secret not in str(failed)
                assert secret not in repr(failed)
        return
    assert (session.auth_token, session.scan_ref) == (token, scan_ref)
    # clientId is nullable and not required in the contract (issue 25).
    assert session.client_id is None or isinstance(session.client_id, str)
    assert session.raw == parsed
    assert session.redirect_url
    if token is not None and len(token) >= 12:
        assert token not in repr(session)


@PROPERTY
@given(st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_any_2xx_result_body_is_a_result_or_a_decode_error(content: bytes) -> None:
    """The status, data, files and listing readers never raise anything untyped."""
    for parse in (parse_get_status, parse_get_data, parse_files, parse_list_page):
        with contextlib.suppress(errors.ResponseDecodeError):
            parse(200, content)


# --------------------------------------------------------------------------- (c) webhooks

GO_BODY: dict[str, Any] = sample("webhook_approved_go_idenfy_testdata.json")
EVENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from([*(t.value for t in EventType), "ID_VERIFICATION_EXPIRED", "amlMonitoring"]),
    TEXT,
    st.binary(max_size=10),
)


@st.composite
def mutated_webhook(draw: st.DrawFn) -> bytes:
    body = copy.deepcopy(GO_BODY)
    keys = draw(st.lists(st.sampled_from([*GO_BODY, "token", "expirationThreshold"]), max_size=4))
    for key in keys:
        if draw(st.booleans()):
            body[key] = draw(JSON_VALUES)
        else:
            body.pop(key, None)
    return json.dumps(body).encode()


WEBHOOK_BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    mutated_webhook(),
    st.just(sample_bytes("webhook_approved_go_idenfy_testdata.json")),
)
SIGNATURES = st.one_of(
    st.none(), TEXT, st.binary(max_size=70), INTEGERS, FLOATS, st.lists(st.integers(), max_size=2)
)


@PROPERTY
@given(WEBHOOK_BODIES, EVENT_TYPES, EVENT_TYPES)
def test_any_webhook_is_an_event_or_a_payload_error(
    body: bytes, event_type: Any, replayed_type: Any
) -> None:
    """A correctly signed body parses or is a WebhookPayloadError; the header never moves
    the dedupe key."""
    signature = sign(body, KEY)
    keys = set()
    for header in (event_type, replayed_type):
        try:
            event = construct_event(body, signature, KEY, header)
        except errors.WebhookPayloadError as exc:
            str(exc).encode("utf-8")
            continue
        keys.add(event.dedupe_key)
    assert len(keys) <= 1


@PROPERTY
@given(WEBHOOK_BODIES, SIGNATURES, EVENT_TYPES)
def test_any_signature_is_verified_or_refused(body: bytes, signature: Any, event_type: Any) -> None:
    """Any signature of any type: verified, or a SignatureVerificationError."""
    try:
        verify_signature(body, signature, KEY)
    except errors.SignatureVerificationError:
        verified = False
    else:
        verified = True
    assert verified == (signature == sign(body, KEY))
    try:
        construct_event(body, signature, KEY, event_type)
    except errors.SignatureVerificationError:
        assert not verified
    except errors.WebhookPayloadError:
        pass


@PROPERTY
@given(st.one_of(ANYTHING, st.dictionaries(TEXT, ANYTHING, max_size=4)), EVENT_TYPES)
def test_any_mapping_or_value_through_parse_event(payload: Any, event_type: Any) -> None:
    """parse_event with a mapping or text of any content: an event or WebhookPayloadError."""
    if not isinstance(payload, str | dict | types.MappingProxyType):
        try:
            payload = json.dumps(payload, default=repr).encode()
        except ValueError:  # an int over Python's 4,300-digit str() limit
            payload = b"{}"
    with contextlib.suppress(errors.WebhookPayloadError):
        parse_event(payload, event_type)
