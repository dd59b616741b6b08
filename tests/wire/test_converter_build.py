"""A converter built anew (make_converter) does what the package's own one does: the
token request and the created session as session_request_to_wire and structure_session
do, and the results too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cattrs
import pytest

from idenfy_async import NULL, DocumentType, Session, SessionRequest
from idenfy_async._wire.converter import (
    make_converter,
    session_request_to_wire,
    structure_session,
)
from idenfy_async.models._results import StatusResult

REQUESTS = [
    pytest.param(SessionRequest(client_id="c1"), id="minimal"),
    pytest.param(
        SessionRequest(
            client_id="c1",
            first_name="Jo",
            date_of_birth=NULL,
            documents=[DocumentType.PASSPORT],
            country="lt",
            video_call_questions=["Who?"],
            extra={"newParameter": 1},
        ),
        id="null-enum-list-extra",
    ),
]
SAMPLES = Path(__file__).parent.parent / "samples"
ANSWER: dict[str, Any] = {
    "authToken": "t",
    "scanRef": "s",
    "clientId": "c1",
    "country": "lt",
    "documents": ["PASSPORT"],
    "unknownField": True,
}


@pytest.fixture(scope="module")
def full() -> cattrs.Converter:
    """A full converter built here (the package's own is built once per process)."""
    return make_converter()


@pytest.mark.parametrize("request_", REQUESTS)
def test_full_converter_writes_a_request_as_session_request_to_wire_does(
    request_: SessionRequest, full: cattrs.Converter
) -> None:
    hook = full.get_unstructure_hook(SessionRequest)
    assert hook(request_) == session_request_to_wire(request_)


def test_full_converter_reads_a_session_as_structure_session_does(
    full: cattrs.Converter,
) -> None:
    raw_key = "\x00raw"  # where structure_session puts the body it keeps as ``raw``
    read = full.get_structure_hook(Session)({**ANSWER, raw_key: ANSWER}, Session)
    assert read == structure_session(ANSWER)
    assert read.raw == ANSWER
    assert read.country == "LT"


def test_full_converter_also_reads_results(full: cattrs.Converter) -> None:
    body = json.loads((SAMPLES / "status_response_approved.json").read_text())
    status = full.structure(body, StatusResult)
    assert status.raw == body
    assert status.scan_ref == body["scanRef"]
