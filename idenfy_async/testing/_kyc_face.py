"""Face authentication in the fake (reference §3.12): the returning user's face check.

``check-status`` says ``AUTHENTICATION`` for an APPROVED scanRef; a token is made
for it; `FaceAuth.complete_face_auth` plays the user,
`FaceAuth.send_face_auth_webhook` delivers the signed webhook, and the sessions
endpoints read it back. `FakeKyc` builds on it.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import httpx

from ._common import TOKEN_ALPHABET, Answer, FakeSession
from ._common import answer as _answer
from ._common import error as _error
from ._common import json_object as _json_body
from ._rules import FACE_AUTH_TOKEN_RULES, refused_body
from ._state import FakeState

__all__ = ["Call", "FaceAuth", "FakeFaceAuthSession"]

_Answer = Answer
MAX_ATTEMPT_COUNT: Final = 3


@attrs.frozen
class Call:
    """One request to a workflow endpoint, with the parameters its path carried."""

    method: str
    query: Mapping[str, str]
    body: bytes
    params: tuple[str, ...]
    #: Where the client reached a served fake (None in-process): its file URLs go there.
    origin: str | None = None


Endpoint = Callable[[Call], Answer]


@attrs.define
class FakeFaceAuthSession:
    """A face-authentication session the fake created."""

    id: str
    token: str
    scan_ref: str
    client_id: str
    method: str
    request: dict[str, Any]
    approved: bool | None = None
    status: str = "PENDING"  #: SUCCESS, FAILED, EXPIRED, CANCELED once finished
    fail_reason: str | None = None


class FaceAuth:
    """Face-authentication state and endpoints, and the helpers every workflow part uses."""

    def __init__(self, state: FakeState) -> None:
        self._state = state
        self.face_sessions: list[FakeFaceAuthSession] = []

    # ------------------------------------------------------------------ helpers

    def _token(self) -> str:
        return "".join(self._state.rng.choices(TOKEN_ALPHABET, k=40))

    def _session(self, scan_ref: str) -> FakeSession | _Answer:
        try:
            session = self._state.session(scan_ref)
        except KeyError:
            return _error(404, "NOT_FOUND", "Identification not found.")
        if session.status in ("DELETED", "EXPIRED-DELETED"):
            return _error(404, "NOT_FOUND", "Identification not found.")
        return session

    def _face_check(self, call: Call) -> _Answer:
        method = call.query.get("method", "FACE_MATCHING")
        if method not in ("FACE_MATCHING", "ACTIVE_LIVENESS"):
            return _error(
                400, "BAD_VALUE", "Field 'method' must be one of FACE_MATCHING, ACTIVE_LIVENESS."
            )
        session = self._session(call.params[0])
        if isinstance(session, tuple):
            return session
        kind = "AUTHENTICATION" if session.status == "APPROVED" else "IDENTIFICATION"
        return _answer(200, {"type": kind})

    def _create_face_token(self, call: Call) -> _Answer:
        payload = _json_body(call.body)
        if not isinstance(payload, dict):
            return payload
        problem = refused_body(payload, FACE_AUTH_TOKEN_RULES, required=("scanRef",))
        if problem is not None:
            return problem
        session = self._session(payload["scanRef"])
        if isinstance(session, tuple):
            return session
        if session.status != "APPROVED":
            return _error(
                400, "BAD_VALUE", "Identification must be approved for face authentication."
            )
        face = FakeFaceAuthSession(
            id=str(uuid.UUID(int=self._state.rng.getrandbits(128), version=4)),
            token=self._token(),
            scan_ref=session.scan_ref,
            client_id=session.client_id,
            method=str(payload.get("method", "FACE_MATCHING")),
            request=payload,
        )
        self.face_sessions.append(face)
        answer: dict[str, Any] = {"token": face.token, "maxAttemptCount": MAX_ATTEMPT_COUNT}
        if payload.get("generateDigitString"):
            answer["digitString"] = "".join(self._state.rng.choices(string.digits, k=8))
        return _answer(200, answer)

    def face_session(self, token: str) -> FakeFaceAuthSession:
        """The face-auth session with this token.

        Raises:
            KeyError: no such token.
        """
        for face in self.face_sessions:
            if face.token == token:
                return face
        raise KeyError("no face-authentication session with this token")

    def _face_session_body(
        self, face: FakeFaceAuthSession, origin: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": face.id,
            "tokenString": face.token,
            "approved": face.approved,
            "givenScanRef": face.scan_ref,
            "type": "AUTHENTICATION",
            "authenticationMethod": face.method,
            "facePhoto": self._face_photo(face, origin) if face.approved is not None else None,
        }

    def _face_photo(self, face: FakeFaceAuthSession, origin: str | None = None) -> str:
        return self._state.file_url(face.scan_ref, "FACE", origin)

    def _list_face_sessions(self, call: Call) -> _Answer:
        return _answer(
            200, [self._face_session_body(face, call.origin) for face in self.face_sessions]
        )

    def _get_face_session(self, call: Call) -> _Answer:
        try:
            face = self.face_session(call.params[0])
        except KeyError:
            return _answer(404, {"detail": "Not found."})
        return _answer(200, self._face_session_body(face, call.origin))

    def complete_face_auth(
        self, token: str, *, approved: bool = True, fail_reason: str | None = None
    ) -> FakeFaceAuthSession:
        """Play the returning user: the face check passes (or fails, with ``fail_reason``).

        Raises:
            KeyError: no such token.
        """
        face = self.face_session(token)
        face.approved = approved
        face.status = "SUCCESS" if approved else "FAILED"
        face.fail_reason = None if approved else (fail_reason or "FACE_MISMATCH")
        return face

    def face_auth_webhook_payload(self, token: str) -> dict[str, Any]:
        """The FACIAL_AUTHENTICATION webhook body for the session as it stands."""
        face = self.face_session(token)
        return {
            "id": face.id,
            "scanRef": face.scan_ref,
            "clientId": face.client_id,
            "token": face.token,
            # The contract's case exactly (face OpenAPI, FacialAuthenticationWebhookStatusEnum:
            # Success, Failed, Expired, Canceled, Pending), so a case-sensitive receiver
            # is tested as iDenfy will call it.
            "status": face.status.capitalize(),
            "type": "AUTHENTICATION",
            "method": face.method,
            "facePhoto": self._face_photo(face) if face.approved is not None else None,
            "ipAddress": "192.0.2.10",
            "failReason": face.fail_reason,
            "riskTags": [],
        }

    async def send_face_auth_webhook(
        self,
        token: str,
        *,
        signing_key: str | bytes,
        url: str,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = 10.0,
    ) -> int:
        """POST the signed FACIAL_AUTHENTICATION webhook to ``url``; return the answer's status.

        Recorded in the fake's ``webhooks`` like identification webhooks.

        Raises:
            KeyError: no such token.
            ValueError: ``url`` is neither https nor http on a loopback host.
        """
        face = self.face_session(token)
        return await self._state.deliver(
            face.scan_ref,
            "FACIAL_AUTHENTICATION",
            url,
            self.face_auth_webhook_payload(token),
            signing_key,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
        )
