"""The fake's side of the rest of the KYC workflow: ``FakeIdenfy().kyc``.

Plays each flow of reference §3.7-§3.12 against the sessions of its
[`FakeIdenfy`][idenfy_async.testing.FakeIdenfy], in-process and over TCP alike (the
fake's ``handle`` routes here):

* face authentication: in ``_kyc_face`` (its `FaceAuth` is FakeKyc's base),
  with the helpers every part uses;
* request-information: a new token and session URL for a finished verification;
  `FakeKyc.resubmit` plays the user answering (then
  ``fake.send_webhook(..., event_type="IDENTIFICATION_RESUBMITTED")``);
* blocklists: an entry makes every later verification that matches it
  ``SUSPECTED`` with the blocklist fraud tag. The fake has no face recognition:
  ``DOCUMENT`` and ``DOCUMENT_INFO`` entries match the same document number,
  ``SELFIE`` entries the same clientId (the fake's stand-in for the same face);
* direct processing: valid images for an unused authToken finish the session
  (``APPROVED``, unless a blocklist says otherwise) and use the token up;
* the additional-step upload stores the step's file; the POA check compares the
  provided name and address with `FakeKyc.poa_document`.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any, Final

import attrs

from .._wire import kyc as wire
from ..models import (
    COUNTRY_CODES,
    POA_MAX_FILE_BYTES,
    PROCESS_MAX_IMAGE_BYTES,
    ProcessingDocumentType,
)
from . import _rules
from ._common import FakeSession
from ._common import answer as _answer
from ._common import error as _error
from ._common import json_object as _json_body
from ._kyc_face import Call, FaceAuth, FakeFaceAuthSession
from ._state import FakeState

__all__ = ["BlocklistRecord", "FakeFaceAuthSession", "FakeInformationRequest", "FakeKyc"]

_Answer = tuple[int, dict[str, str], bytes]
_Endpoint = Callable[["Call"], _Answer]

#: Fraud tag a later verification gets for each kind of blocklist entry.
BLOCKLIST_TAGS: Final = {
    "DOCUMENT": "DOC_FACE_IN_BLACKLIST",
    "DOCUMENT_INFO": "DATA_IN_BLACKLIST",
    "SELFIE": "FACE_IN_BLACKLIST",
}
_FACE_CHECK: Final = re.compile(r"/identification/facial-auth/([^/]+)/check-status/")
_FACE_SESSION: Final = re.compile(r"/api/v2/facial-authentication-sessions/([^/]+)/")
_REQUEST_INFO: Final = re.compile(r"/kyc/identifications/([^/]+)/request-information/")
_BLOCKLIST: Final = re.compile(r"/kyc/identifications/([^/]+)/blocklists/([^/]+)/")
_FINISHED_REQUIRED: Final = ("FRONT", "FACE")


@attrs.define
class FakeInformationRequest:
    """A request-information the fake answered; ``answered`` once `FakeKyc.resubmit` ran."""

    scan_ref: str
    token: str
    session_url: str
    request: dict[str, Any]
    answered: bool = False


@attrs.frozen
class BlocklistRecord:
    """One blocklist entry: what it was made from, and what it matches."""

    id: str
    source: str
    scan_ref: str
    reason: str | None
    created: str
    document_number: str | None
    client_id: str


def _decode_file(
    value: Any, field: str, kinds: frozenset[str], max_encoded: int
) -> bytes | _Answer:
    if not isinstance(value, str) or not value:
        return _error(400, "MISSING_VALUE", f"No image provided for step '{field}'")
    if len(value) > max_encoded:
        return _error(400, "BAD_VALUE", f"Image for step '{field}' is too large.")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return _error(400, "BAD_VALUE", f"Field '{field}' is not valid base64.")
    if wire.file_kind(data) not in kinds:
        return _error(400, "BAD_VALUE", f"Field '{field}' is not a supported file type.")
    return data


class FakeKyc(FaceAuth):
    """State and endpoints of the rest of the workflow, for one
    [`FakeIdenfy`][idenfy_async.testing.FakeIdenfy]."""

    def __init__(self, state: FakeState, complete: Callable[..., FakeSession]) -> None:
        """``complete`` plays the user's verification (``FakeIdenfy.complete``)."""
        super().__init__(state)
        self._complete = complete
        self.information_requests: list[FakeInformationRequest] = []
        self.blocklist: list[BlocklistRecord] = []
        #: (scanRef, step, bytes) of every additional-step upload.
        self.uploads: list[tuple[str, str, bytes]] = []
        #: (name, address) the POA check finds on every document.
        self.poa_document: tuple[str, str] = ("JOHN DOE", "Gedimino pr. 1, Vilnius")
        self.poa_checks: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ routing

    def routes(self) -> dict[str, tuple[str, Callable[[Any], _Answer]]]:
        """Fixed paths, for the fake's route table (its ``_Request`` has ``body``/``query``)."""

        def adapt(endpoint: _Endpoint) -> Callable[[Any], _Answer]:
            return lambda request: endpoint(
                Call(request.method, request.query, request.body, (), request.origin)
            )

        return {
            wire.FACE_AUTH_TOKEN_PATH: ("POST", adapt(self._create_face_token)),
            wire.FACE_AUTH_SESSIONS_PATH: ("GET", adapt(self._list_face_sessions)),
            wire.PROCESS_PATH: ("POST", adapt(self._process)),
            wire.UPLOAD_ADDITIONAL_STEP_PATH: ("POST", adapt(self._upload_step)),
            wire.POA_CHECK_PATH: ("POST", adapt(self._poa_check)),
        }

    def route(self, method: str, path: str) -> tuple[str, Callable[[Any], _Answer]] | None:
        """(allowed method, endpoint) for a path with parameters in it, else None."""
        patterns: tuple[tuple[re.Pattern[str], tuple[str, ...], _Endpoint], ...] = (
            (_FACE_CHECK, ("GET",), self._face_check),
            (_FACE_SESSION, ("GET",), self._get_face_session),
            (_REQUEST_INFO, ("POST",), self._request_information),
            (_BLOCKLIST, ("POST", "DELETE"), self._blocklist),
        )
        for pattern, methods, endpoint in patterns:
            match = pattern.fullmatch(path)
            if match:
                params = tuple(urllib.parse.unquote(p) for p in match.groups())
                allowed = method if method in methods else methods[0]
                return allowed, _bind(endpoint, params)
        return None

    # ------------------------------------------------------------------ request information

    def _request_information(self, call: Call) -> _Answer:
        payload = _json_body(call.body)
        if not isinstance(payload, dict):
            return payload
        scan_ref = call.params[0]
        problem = _rules.refused_body(payload, _rules.REQUEST_INFORMATION_RULES)
        if problem is not None:
            return problem
        session = self._session(scan_ref)
        if isinstance(session, tuple):
            return session
        if session.status == "ACTIVE":
            return _error(400, "BAD_VALUE", "Identification is not finished yet.")
        token = self._token()
        url = f"https://ui.idenfy.com/?authToken={token}"
        self.information_requests.append(FakeInformationRequest(scan_ref, token, url, payload))
        return _answer(200, {"sessionUrl": url, "tokenString": token})

    def resubmit(self, scan_ref: str, outcome: str = "APPROVED", **complete: Any) -> FakeSession:
        """Play the user answering the latest request-information for ``scan_ref``.

        The session ends with ``outcome`` (``complete`` takes the keywords of
        ``fake.complete``); then deliver ``fake.send_webhook(scan_ref, ...,
        event_type="IDENTIFICATION_RESUBMITTED")``.

        Raises:
            KeyError: no unanswered request-information for this scanRef.
        """
        pending = [
            r for r in self.information_requests if r.scan_ref == scan_ref and not r.answered
        ]
        if not pending:
            raise KeyError(f"no unanswered request-information for {scan_ref}")
        pending[-1].answered = True
        return self._complete(scan_ref, outcome, **complete)

    # ------------------------------------------------------------------ blocklists

    def _blocklist(self, call: Call) -> _Answer:
        scan_ref, source = call.params
        if source not in BLOCKLIST_TAGS:
            return _error(
                400,
                "BAD_VALUE",
                "Field 'blocklistSource' must be one of DOCUMENT, DOCUMENT_INFO, SELFIE.",
            )
        session = self._session(scan_ref)
        if isinstance(session, tuple):
            return session
        existing = [e for e in self.blocklist if e.scan_ref == scan_ref and e.source == source]
        if call.method == "DELETE":
            if not existing:
                return _answer(404, {"detail": "Not found."})
            self.blocklist.remove(existing[0])
            return 204, {}, b""
        payload = _json_body(call.body)
        if not isinstance(payload, dict):
            return payload
        problem = _rules.refused_body(payload, _rules.BLOCKLIST_RULES)
        if problem is not None:
            return problem
        reason = payload.get("reason")
        if not session.data:
            return _error(400, "BAD_VALUE", "Identification has no data to blocklist.")
        if existing:
            return _error(400, "BAD_VALUE", "Already in the blocklist.")
        data = session.data
        record = BlocklistRecord(
            id=scan_ref
            if source != "DOCUMENT_INFO"
            else str(uuid.UUID(int=self._state.rng.getrandbits(128), version=4)),
            source=source,
            scan_ref=scan_ref,
            reason=reason,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            document_number=data.get("docNumber"),
            client_id=session.client_id,
        )
        self.blocklist.append(record)
        answer: dict[str, Any] = {"id": record.id, "reason": reason, "created": record.created}
        if source == "DOCUMENT_INFO":
            # Every field a string, never null (kyc OpenAPI,
            # IdentificationDataBlacklistResponse): what the document lacks is "".
            answer.update(
                fullName=data.get("fullName") or "",
                dateOfBirth=data.get("docDob") or "",
                personalNumber=data.get("docPersonalCode") or "",
                documentNumber=data.get("docNumber") or "",
                nationality=data.get("docNationality") or "",
                reason=reason or "",
            )
        else:
            answer["faceImageUrl"] = self._state.file_url(scan_ref, "FACE", call.origin)
        return _answer(201, answer)

    def screen(self, session: FakeSession) -> None:
        """Apply the blocklist to a session that just finished (``fake.complete`` calls it).

        A match adds the entry's fraud tag; an APPROVED outcome becomes SUSPECTED.
        """
        if not session.data:
            return
        number = session.data.get("docNumber")
        tags = []
        for entry in self.blocklist:
            if entry.scan_ref == session.scan_ref:
                continue
            same_document = number is not None and entry.document_number == number
            if (entry.source == "SELFIE" and entry.client_id == session.client_id) or (
                entry.source != "SELFIE" and same_document
            ):
                tags.append(BLOCKLIST_TAGS[entry.source])
        if not tags:
            return
        fraud = session.result.setdefault("fraudTags", [])
        fraud.extend(tag for tag in dict.fromkeys(tags) if tag not in fraud)
        if session.status == "APPROVED":
            session.status = "SUSPECTED"
            session.result["overall"] = "SUSPECTED"

    # ------------------------------------------------------------------ processing

    def _token_session(self, token: Any) -> FakeSession | None:
        for session in self._state.sessions:
            if session.auth_token == token:
                return session
        return None

    def _process(self, call: Call) -> _Answer:
        payload = _json_body(call.body)
        if not isinstance(payload, dict):
            return payload
        session = self._token_session(payload.get("authToken"))
        if session is None or session.status != "ACTIVE":
            return _error(400, "TOKEN_NOT_VALID", "Token is not valid.")
        country = payload.get("country")
        if country not in COUNTRY_CODES:
            return _error(
                400, "BAD_VALUE", "Field 'country' must be a valid ISO 3166-1 alpha-2 code."
            )
        document_type = payload.get("documentType")
        if document_type not in {d.value for d in ProcessingDocumentType}:
            return _error(400, "BAD_VALUE", "Field 'documentType' is not supported.")
        images = payload.get("images")
        if not isinstance(images, dict):
            return _error(400, "MISSING_VALUE", "Missing value: 'images'.")
        for step in _FINISHED_REQUIRED:
            if step not in images:
                return _error(400, "MISSING_VALUE", f"No image provided for step '{step}'")
        for step, value in images.items():
            decoded = _decode_file(value, step, wire.IMAGE_KINDS, PROCESS_MAX_IMAGE_BYTES)
            if isinstance(decoded, tuple):
                return decoded
        self._complete(
            session.scan_ref,
            "APPROVED",
            data={
                "docType": document_type,
                "selectedCountry": country,
                "docIssuingCountry": country,
            },
        )
        return 200, {}, b""

    def _upload_step(self, call: Call) -> _Answer:
        payload = _json_body(call.body)
        if not isinstance(payload, dict):
            return payload
        scan_ref, step = payload.get("scanRef"), payload.get("step")
        if not isinstance(scan_ref, str) or not scan_ref:
            return _error(400, "MISSING_VALUE", "Missing value: 'scanRef'.")
        if not isinstance(step, str) or not step:
            return _error(400, "MISSING_VALUE", "Missing value: 'step'.")
        session = self._session(scan_ref)
        if isinstance(session, tuple):
            return session
        decoded = _decode_file(
            payload.get("image"), step, wire.IMAGE_KINDS | {"PDF"}, PROCESS_MAX_IMAGE_BYTES
        )
        if isinstance(decoded, tuple):
            return decoded
        self.uploads.append((scan_ref, step, decoded))
        session.file_urls[step] = self._state.file_url(scan_ref, step)
        additional = payload.get("additionalData")
        if isinstance(additional, dict):
            session.data["additionalData"] = {step: additional}
        return 200, {}, b""

    # ------------------------------------------------------------------ proof of address

    def _poa_check(self, call: Call) -> _Answer:
        payload = _json_body(call.body)
        if not isinstance(payload, dict):
            return payload
        decoded = _decode_file(payload.get("file"), "file", wire.POA_KINDS, POA_MAX_FILE_BYTES)
        if isinstance(decoded, tuple):
            return decoded
        problem = _rules.refused_body(payload, _rules.POA_RULES)
        if problem is not None:
            return problem
        name, address = self.poa_document
        # Only what was provided is compared (providedName/providedAddress are optional
        # and nullable in iDenfy's contract); nothing provided: NOT_COMPARED.
        given_name, given_address = payload.get("providedName"), payload.get("providedAddress")
        name_match = None if given_name is None else _same(given_name, name)
        address_match = None if given_address is None else _same(given_address, address)
        compared = [m for m in (name_match, address_match) if m is not None]
        verdict = "MATCH" if all(compared) else "NO_MATCH"
        if not compared:
            verdict = "NOT_COMPARED"
        answer = {
            "id": str(uuid.UUID(int=self._state.rng.getrandbits(128), version=4)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "issueDate": "2026-01-01",
            "documentType": "UTILITY_BILL",
            "country": "LT",
            "hasLogo": True,
            "isScreenshot": False,
            "nameMatch": name_match,
            "addressMatch": address_match,
            "dateValid": True,
            "overallStatus": verdict,
            "name": name,
            "address": address,
            "orgName": "Fake Utility UAB",
            "orgAddress": "Fake st 2, Vilnius",
            "documentTypeSupported": True,
            "countrySupported": True,
            "file": self._state.file_url("poa", "file", call.origin),
            "providedName": given_name,
            "providedAddress": given_address,
        }
        self.poa_checks.append(answer)
        return _answer(201, answer)


def _same(given: str, found: str) -> bool:
    return " ".join(given.upper().split()) == " ".join(found.upper().split())


def _bind(endpoint: _Endpoint, params: tuple[str, ...]) -> Callable[[Any], _Answer]:
    return lambda request: endpoint(
        Call(request.method, request.query, request.body, params, request.origin)
    )
