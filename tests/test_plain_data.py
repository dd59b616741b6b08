"""to_dict and to_wire: a model's plain data, JSON-ready, in Python's and the wire's shape;
against every sample in tests/samples/, and returned from a FastAPI handler."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from fastapi import FastAPI

from idenfy_async import (
    NULL,
    AsyncIdenfy,
    BlocklistEntry,
    DocumentType,
    FaceAuthCheck,
    FaceAuthSession,
    FaceAuthTokenRequest,
    IdentificationEvent,
    OverallStatus,
    PoaCheck,
    Session,
    SessionRequest,
    StatusResult,
    VerificationSummary,
    VideoCallEvent,
    parse_event,
    to_dict,
    to_wire,
)
from idenfy_async._wire.converter import session_request_to_wire, structure, structure_session
from idenfy_async.testing import FakeIdenfy
from tests.conftest import SAMPLES, sample, sample_bytes

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 under its TestClient and warns on httpx, which it still
    # supports: the test group keeps the one HTTP client the library uses.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

Decode = Callable[[bytes], Any]


def _event(body: bytes) -> Any:
    return parse_event(body)


def _session(body: bytes) -> Any:
    return structure_session(json.loads(body))


def _status(body: bytes) -> Any:
    return structure(json.loads(body), StatusResult)


#: Every sample that decodes to a model: how, and what of it to_wire does not give back
#: as sent: keys the model does not name (kept in ``raw`` only; legacy lower-case ``aml``
#: and ``lid`` are read into ``AML`` / ``LID``), and values read leniently (countries
#: upper-cased).
DECODED: dict[str, tuple[Decode, set[str]]] = {
    "token_response_full.json": (_session, {"$.videoCallQuestions", "$.country", "$.nationality"}),
    "status_response_approved.json": (_status, set()),
    "webhook_approved_2018_lower_aml_lid.json": (_event, {"$.aml", "$.lid"}),
    "webhook_approved_2020_lower_aml_lid.json": (_event, {"$.aml", "$.lid"}),
    "webhook_approved_go_idenfy_testdata.json": (_event, set()),
    "webhook_approved_legacy_docs.json": (_event, set()),
    "webhook_suspected_name_mismatch_fragment.json": (_event, set()),
    "webhook_video_call_finished_2020.json": (_event, set()),
}
NOT_A_MODEL = {"error_response_delete_not_expired.json"}


def test_the_table_covers_every_sample() -> None:
    assert {p.name for p in SAMPLES.glob("*.json")} == set(DECODED) | NOT_A_MODEL


def not_given_back(sent: Any, wire: Any, path: str = "$") -> Iterator[str]:
    """Paths of ``sent`` whose value ``wire`` does not have (extra keys of wire allowed:
    the model's other fields, null)."""
    if isinstance(sent, dict) and isinstance(wire, dict):
        for key, value in sent.items():
            if key not in wire:
                yield f"{path}.{key}"
            else:
                yield from not_given_back(value, wire[key], f"{path}.{key}")
    elif sent != wire:
        yield path


def reread(model: Any, wire: dict[str, Any]) -> Any:
    body = json.dumps(wire).encode()
    if isinstance(model, Session):
        return structure_session(wire)
    if isinstance(model, StatusResult):
        return structure(wire, StatusResult)
    return parse_event(body, event_type=model.event_type)  # the header is not in the body


@pytest.mark.parametrize("name", sorted(DECODED))
def test_to_wire_gives_back_the_fields(name: str) -> None:
    """Every field as sent (but the table's), JSON-ready; read back, an equal model."""
    decode, changed = DECODED[name]
    model = decode(sample_bytes(name))
    wire = to_wire(model)
    assert json.loads(json.dumps(wire)) == wire
    assert set(leaf_types(wire)) <= JSON_TYPES  # no enum member, tuple, mapping class
    assert set(not_given_back(sample(name), wire)) == changed
    assert reread(model, wire) == model


def no_raw(value: Any) -> bool:
    if isinstance(value, dict):
        return "raw" not in value and all(no_raw(v) for v in value.values())
    if isinstance(value, list):
        return all(no_raw(v) for v in value)
    return True


def leaf_types(value: Any) -> Iterator[type]:
    """The exact types of every value inside: dicts and lists walked."""
    yield type(value)
    if isinstance(value, dict):
        for item in value.values():
            yield from leaf_types(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaf_types(item)


JSON_TYPES = {dict, list, str, int, float, bool, type(None)}


@pytest.mark.parametrize("name", sorted(DECODED))
def test_to_dict_is_json_with_the_attribute_names(name: str) -> None:
    decode, _ = DECODED[name]
    model = decode(sample_bytes(name))
    plain = to_dict(model)
    assert json.loads(json.dumps(plain)) == plain
    assert set(leaf_types(plain)) <= JSON_TYPES
    assert set(plain) == {a.name for a in attrs.fields(type(model))} - {"raw"}
    assert no_raw(plain)  # raw is model.raw, not repeated inside


#: The answers no sample holds, as iDenfy documents them (reference §3.8, §3.10-3.12).
ANSWERS: list[Any] = [
    pytest.param(FaceAuthCheck, {"type": "AUTHENTICATION"}, id="face-auth-check"),
    pytest.param(
        FaceAuthSession,
        {"id": "1", "tokenString": "t", "approved": None, "type": "AUTHENTICATION"},
        id="face-auth-session",
    ),
    pytest.param(
        BlocklistEntry,
        {"id": "1", "reason": "fraud", "fullName": "Ann Lee", "dateOfBirth": "1990-01-02"},
        id="blocklist-entry",
    ),
    pytest.param(
        PoaCheck,
        {"id": "1", "overallStatus": "MATCH", "nameMatch": True, "providedName": "Ann"},
        id="poa-check",
    ),
    pytest.param(
        VerificationSummary,
        {"scanRef": "s", "status": "A_STATUS_NEW_TO_US", "suspected": False},
        id="summary-unknown-status",
    ),
    pytest.param(
        VideoCallEvent,
        {"scanRef": "s", "status": True, "videoCallAnswers": {"Who?": {"answer": "Ann"}}},
        id="video-call-answers",
    ),
]


@pytest.mark.parametrize(("cls", "body"), ANSWERS)
def test_kyc_answers_round_trip(cls: type[Any], body: dict[str, Any]) -> None:
    model = structure(body, cls)
    wire, plain = to_wire(model), to_dict(model)
    assert set(leaf_types(wire)) | set(leaf_types(plain)) <= JSON_TYPES
    assert list(not_given_back(body, wire)) == []
    assert structure(wire, cls) == model
    assert set(plain) == {a.name for a in attrs.fields(cls)} - {"raw"}


def test_values_are_plain_json_values() -> None:
    """Enums are their values (str, not a str subclass), nested models dicts, tuples lists;
    AML results keep iDenfy's upper-case key on the wire."""
    event = parse_event(sample_bytes("webhook_approved_2020_lower_aml_lid.json"))
    assert isinstance(event, IdentificationEvent)
    plain, wire = to_dict(event), to_wire(event)
    assert plain["status"]["overall"] == wire["status"]["overall"] == "APPROVED"
    assert type(plain["status"]["overall"]) is str
    assert type(plain["event_type"]) is str
    assert type(plain["aml"]) is list
    assert wire["AML"] == [to_wire(result) for result in event.aml]
    assert "eventType" not in wire
    assert "event_type" not in wire


def test_reprs_mask_what_to_dict_gives() -> None:
    """repr() hides the token and personal data; data asked for explicitly has them."""
    session = structure_session(sample("token_response_full.json"))
    token, first_name = session.auth_token, session.first_name
    assert token
    assert first_name
    assert token not in repr(session)
    assert first_name not in repr(session)
    assert to_dict(session)["auth_token"] == to_wire(session)["authToken"] == token
    assert to_dict(session)["first_name"] == first_name
    event = parse_event(sample_bytes("webhook_approved_go_idenfy_testdata.json"))
    assert isinstance(event, IdentificationEvent)
    doc_number = event.data.doc_number
    assert doc_number
    assert doc_number not in repr(event)
    assert to_dict(event)["data"]["doc_number"] == doc_number


def test_a_session_request() -> None:
    """Python's shape: every attribute, NULL as None; the wire's: the body sent."""
    request = SessionRequest(
        client_id="c1",
        first_name="Jo",
        date_of_birth=NULL,
        documents=[DocumentType.PASSPORT],
        extra={"newParameter": [1]},
    )
    plain = to_dict(request)
    assert set(plain) == {a.name for a in attrs.fields(SessionRequest)}
    assert (plain["first_name"], plain["date_of_birth"], plain["documents"]) == (
        "Jo",
        None,
        ["PASSPORT"],
    )
    assert plain["extra"] == {"newParameter": [1]}
    assert to_wire(request) == session_request_to_wire(request)
    assert to_wire(request)["dateOfBirth"] is None
    json.dumps(plain)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"scanRef": "s"}, id="dict"),
        pytest.param(FaceAuthTokenRequest("scan-ref"), id="other-request"),
        pytest.param(OverallStatus.APPROVED, id="enum"),
        pytest.param(None, id="none"),
    ],
)
@pytest.mark.parametrize("convert", [to_dict, to_wire])
def test_anything_else_is_a_type_error(value: Any, convert: Callable[[Any], Any]) -> None:
    with pytest.raises(
        TypeError, match=rf"^{convert.__name__}\(\) takes .*, not {type(value).__name__}$"
    ):
        convert(value)


def test_a_fastapi_handler_returns_a_model_as_json() -> None:
    """FastAPI's TestClient: a handler returns to_dict(session), another to_wire(...)."""
    fake = FakeIdenfy(seed=5)
    app = FastAPI()

    def idenfy() -> AsyncIdenfy:
        return AsyncIdenfy("test-key", "test-secret", transport=fake)

    @app.post("/sessions/{user_id}")
    async def create(user_id: str) -> dict[str, Any]:
        async with idenfy() as client:
            return to_dict(await client.create_session(client_id=user_id))

    @app.get("/sessions/{scan_ref}/status")
    async def status(scan_ref: str) -> dict[str, Any]:
        async with idenfy() as client:
            return to_wire(await client.get_status(scan_ref))

    with TestClient(app) as http:
        created = http.post("/sessions/user-1")
        assert created.status_code == 200
        session = created.json()
        scan_ref = session["scan_ref"]
        assert session["auth_token"] == fake.session(scan_ref).auth_token
        assert (session["client_id"], session["token_type"]) == ("user-1", "IDENTIFICATION")
        fake.complete(scan_ref, "APPROVED")
        answered = http.get(f"/sessions/{scan_ref}/status")
    assert answered.status_code == 200
    assert answered.json()["status"] == "APPROVED"
    assert answered.json()["scanRef"] == scan_ref
