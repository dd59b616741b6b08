"""``FakeIdenfy``: an in-process fake of iDenfy's API for your tests and rehearsals.

Plug it in as a transport, no network and no credentials needed::

    fake = FakeIdenfy()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        session = await client.create_session(client_id="user-1")
    assert fake.sessions[0].scan_ref == session.scan_ref

It checks Basic auth, validates bodies like the real API (same error shapes and
identifiers), answers with realistic 201 bodies, records what it created, and can
be scripted to fail: ``fake.fail_next(Failure(status=503))``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import string
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
import httpx

from .errors import RequestValidationError
from .models import SessionRequest, wire_name

__all__ = ["FakeIdenfy", "FakeSession", "Failure"]

DEFAULT_API_KEY: Final = "test-key"
DEFAULT_API_SECRET: Final = "test-secret"
FAKE_BASE_URL: Final = "https://ivs.idenfy.com"
DEFAULT_EXPIRY_TIME: Final = 86_400
DEFAULT_SESSION_LENGTH: Final = 1_800

_ATTRIBUTES_BY_WIRE: Final = {
    wire_name(a.name): a.name
    for a in attrs.fields(SessionRequest)
    if a.name not in ("extra", "allow_unlisted_documents")
}
_TOKEN_ALPHABET: Final = string.ascii_letters + string.digits


@attrs.frozen(kw_only=True)
class Failure:
    """One scripted failure, used by the next matching request.

    Answer ``status`` with an iDenfy error body (``identifier``, ``message``), or raise
    the httpx ``error`` class (e.g. ``httpx.ConnectError``) instead of answering.
    ``create=True`` creates the session first, as when iDenfy processed a request
    whose answer was then lost: the ambiguous case. ``delay`` seconds pass first
    (through the fake's injectable ``sleep``). ``body`` replaces the JSON error body.
    """

    status: int | None = None
    identifier: str | None = None
    message: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    error: type[httpx.TransportError] | None = None
    create: bool = False
    delay: float = 0.0
    body: bytes | None = None


@attrs.define
class FakeSession:
    """A session the fake created: what was asked for and what was answered."""

    scan_ref: str
    auth_token: str
    client_id: str
    request: dict[str, Any]
    response: dict[str, Any]
    status: str = "ACTIVE"


class FakeIdenfy(httpx.AsyncBaseTransport):
    """A stateful fake of iDenfy's token endpoint; use it as ``transport=``.

    Args:
        api_key, api_secret: the credentials it accepts.
        seed: seeds scanRef/authToken generation, for reproducible runs.
        sleep: how scripted delays pass (inject a fake to keep tests instant).
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        *,
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        expected = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._expected_auth = f"Basic {expected}"
        self._rng = random.Random(seed)
        self._sleep = sleep
        self._script: deque[Failure] = deque()
        self.sessions: list[FakeSession] = []
        self.requests = 0  #: every request that reached the fake, failed or not

    # ------------------------------------------------------------------ scripting

    def fail_next(self, *failures: Failure) -> None:
        """Queue failures; each is used by one request, in order, then normal service."""
        self._script.extend(failures)

    @property
    def pending_failures(self) -> int:
        """Scripted failures not used yet."""
        return len(self._script)

    def sessions_for(self, client_id: str) -> list[FakeSession]:
        """Every session created for ``client_id`` (more than one means a duplicate)."""
        return [s for s in self.sessions if s.client_id == client_id]

    # ------------------------------------------------------------------ transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.requests += 1
        failure = self._script.popleft() if self._script else None
        if failure is not None and failure.delay:
            await self._sleep(failure.delay)
        if failure is not None and failure.error is not None and not failure.create:
            raise failure.error(f"scripted {failure.error.__name__}", request=request)
        status, headers, content = self.handle(
            request.method, request.url.path, request.headers, body, failure=failure
        )
        if failure is not None and failure.error is not None:
            raise failure.error(f"scripted {failure.error.__name__}", request=request)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        failure: Failure | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body). Pure apart from the fake's state."""
        if headers.get("authorization") != self._expected_auth:
            return _answer(401, {"message": "Invalid authorization credentials"})
        if path != "/api/v2/token":
            return _answer(404, {"message": "Not found.", "identifier": "NOT_FOUND"})
        if method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", f"Method '{method}' not allowed.")
        if failure is not None and failure.status is not None and not failure.create:
            return _scripted(failure)
        status, answer_headers, content = self._create_session(body)
        if failure is not None and failure.status is not None:
            return _scripted(failure)  # created, but the caller is told otherwise
        return status, answer_headers, content

    def _create_session(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "JSON_ERROR", "JSON parse error.")
        if not isinstance(payload, dict):
            return _error(400, "JSON_ERROR", "Request body must be a JSON object.")
        known = {_ATTRIBUTES_BY_WIRE[k]: v for k, v in payload.items() if k in _ATTRIBUTES_BY_WIRE}
        known.setdefault("client_id", "")
        try:
            # The fake knows the documented document types only; the real API may know
            # more, so it lets unlisted ones through.
            SessionRequest(**known, allow_unlisted_documents=True)
        except RequestValidationError as exc:
            problem = exc.problems[0]
            if problem.rule == "is required":
                return _error(400, "MISSING_VALUE", f"Missing value: '{problem.field}'.")
            return _error(400, "BAD_VALUE", f"Field '{problem.field}' {problem.rule}.")
        except TypeError:
            return _error(400, "BAD_VALUE", "Invalid value.")

        scan_ref = str(uuid.UUID(int=self._rng.getrandbits(128), version=1))
        auth_token = "".join(self._rng.choices(_TOKEN_ALPHABET, k=40))
        response: dict[str, Any] = {
            "message": "Token created successfully",
            **payload,
            "authToken": auth_token,
            "scanRef": scan_ref,
            "clientId": payload["clientId"],
            "personScanRef": payload["clientId"],
            "redirectUrl": f"{FAKE_BASE_URL}/api/v2/redirect?authToken={auth_token}",
            "expiryTime": payload.get("expiryTime", DEFAULT_EXPIRY_TIME),
            "sessionLength": payload.get("sessionLength", DEFAULT_SESSION_LENGTH),
            "tokenType": payload.get("tokenType", "IDENTIFICATION"),
            "digitString": (
                "".join(self._rng.choices(string.digits, k=8))
                if payload.get("generateDigitString")
                else None
            ),
        }
        for name in ("firstName", "lastName"):
            if isinstance(payload.get(name), str):
                response[name] = payload[name].upper()
        self.sessions.append(
            FakeSession(
                scan_ref=scan_ref,
                auth_token=auth_token,
                client_id=payload["clientId"],
                request=payload,
                response=response,
            )
        )
        return _answer(201, response)


def _answer(status: int, body: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def _error(status: int, identifier: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return _answer(status, {"identifier": identifier, "message": message})


def _scripted(failure: Failure) -> tuple[int, dict[str, str], bytes]:
    assert failure.status is not None
    if failure.body is not None:
        return failure.status, dict(failure.headers), failure.body
    body: dict[str, Any] = {"message": failure.message or "Scripted failure."}
    if failure.identifier:
        body["identifier"] = failure.identifier
    status, headers, content = _answer(failure.status, body)
    return status, {**headers, **failure.headers}, content
