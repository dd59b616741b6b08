"""``FakeIdenfy``: an in-process fake of iDenfy's API for your tests and rehearsals.

Plug it in as a transport, no network and no credentials needed::

    fake = FakeIdenfy()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        session = await client.create_session(client_id="user-1")
    assert fake.sessions[0].scan_ref == session.scan_ref

It checks Basic auth, validates bodies like the real API (same error shapes and
identifiers), answers with realistic 201 bodies, records what it created, and can
be scripted to fail: ``fake.fail_next(Failure(status=503))``.

The listing (``GET /kyc/identifications/?clientId=...``) shows every session of a
clientId, ``ACTIVE`` while nobody finished it, as iDenfy's does; give
``listing_delay=`` to make a new session show up there only that many seconds
later (iDenfy does not document how soon it does), to test reconciliation's settle
window. Each session then lives through the whole flow: ``fake.complete(scan_ref,
"APPROVED")`` plays the user's verification, after which status, data, files, the
PDF report and the listing all agree; ``await fake.send_webhook(scan_ref,
signing_key=...)`` delivers the signed result webhook to the session's callbackUrl.

Served over HTTP (:class:`FakeIdenfyServer`, ``idenfy-async fake-server``), the same
flow is driven from outside Python through control endpoints under the reserved
prefix ``/__fake__/`` (no credentials; the fake listens on loopback only)::

    GET  /__fake__/sessions                      every session: scanRef, clientId, status, ...
    GET  /__fake__/sessions/SCANREF              one of them
    POST /__fake__/sessions/SCANREF/complete     {"status": "APPROVED", "fraudTags": [...],
                                                  "mismatchTags": [...], "final": true}
    POST /__fake__/sessions/SCANREF/webhook      {"signingKey": ..., "eventType": ..., "url": ...}
                                                 (all optional): answers the app's status code
    POST /__fake__/reset                         forget every session, webhook and request

:class:`FakeControl` calls them from Python, ``idenfy-async fake complete|webhook|sessions|reset``
from a shell.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import random
import string
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal

import attrs
import httpx

from . import webhooks
from ._fake_kyc import FakeKyc
from ._limiter import RateLimiter
from ._urls import secure_url_problem
from .errors import RequestValidationError
from .models import SessionRequest, wire_name

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_SIGNING_KEY",
    "FAILURE_MIX",
    "Failure",
    "FakeControl",
    "FakeControlError",
    "FakeIdenfy",
    "FakeIdenfyServer",
    "FakeSession",
    "WebhookDelivery",
    "random_failure",
]

DEFAULT_API_KEY: Final = "test-key"
DEFAULT_API_SECRET: Final = "test-secret"
FAKE_BASE_URL: Final = "https://ivs.idenfy.com"
DEFAULT_EXPIRY_TIME: Final = 86_400
DEFAULT_SESSION_LENGTH: Final = 1_800
#: Where the fake's pre-signed file URLs point (like S3: another host than the API).
FAKE_FILES_BASE_URL: Final = "https://s3.fake-idenfy.invalid"
FAKE_FILES_PREFIX: Final = "/fake-files/"
DEFAULT_PAGE_SIZE: Final = 10
MAX_PAGE_SIZE: Final = 100
#: iDenfy waits this long for a webhook answer before counting the delivery failed.
WEBHOOK_TIMEOUT: Final = 10.0
#: Reserved path prefix of the fake's control endpoints (never an iDenfy path).
CONTROL_PREFIX: Final = "/__fake__/"
#: What the fake signs webhooks with when nobody names a key (the example apps use it
#: too when they run against the fake).
DEFAULT_SIGNING_KEY: Final = "fake-signing-key"

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
    """A session the fake created: what was asked for, what was answered, where it stands.

    ``status`` is the overall status (``ACTIVE`` until :meth:`FakeIdenfy.complete`);
    ``result`` the webhook's ``status`` object, ``data`` its ``data`` object and
    ``file_urls`` its ``fileUrls`` (all empty while ACTIVE and after deletion).
    """

    scan_ref: str
    auth_token: str
    client_id: str
    request: dict[str, Any]
    response: dict[str, Any]
    status: str = "ACTIVE"
    result: dict[str, Any] = attrs.field(factory=dict)
    data: dict[str, Any] = attrs.field(factory=dict)
    file_urls: dict[str, str | None] = attrs.field(factory=dict)
    final: bool | None = None
    platform: str | None = None
    start_time: int | None = None
    finish_time: int | None = None
    created_at: float = 0.0  #: on the fake's ``clock``: when it was created

    @property
    def callback_url(self) -> str | None:
        """The ``callbackUrl`` the session was created with, if any."""
        url = self.request.get("callbackUrl")
        return url if isinstance(url, str) else None

    @property
    def suspected(self) -> bool:
        """What the listing reports: SUSPECTED, or any fraud or mismatch tag."""
        tags = self.result.get("fraudTags") or self.result.get("mismatchTags")
        return self.status == "SUSPECTED" or bool(tags)


@attrs.frozen
class WebhookDelivery:
    """One webhook :meth:`FakeIdenfy.send_webhook` delivered, and the answer it got."""

    scan_ref: str
    event_type: str
    url: str
    body: bytes = attrs.field(repr=False)
    signature: str = attrs.field(repr=False)
    status_code: int


@attrs.frozen
class _Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


_Answer = tuple[int, dict[str, str], bytes]


class FakeIdenfy(httpx.AsyncBaseTransport):
    """A stateful fake of iDenfy's KYC API; use it as ``transport=``.

    Endpoints: ``POST /api/v2/token``, ``/status``, ``/data``, ``/files``,
    ``/delete``, ``/generate-pdf`` and ``GET /kyc/identifications/``, plus the
    pre-signed file URLs it hands out (served without Basic auth, refused *with*
    an Authorization header, as S3 does).

    Args:
        api_key, api_secret: the credentials it accepts.
        seed: seeds scanRef/authToken generation, for reproducible runs.
        sleep: how scripted delays pass (inject a fake to keep tests instant).
        base_url: the origin its pagination links name.
        files_base_url: the origin of its file URLs.
        pdf_format: how ``/generate-pdf`` answers: ``"base64"`` (a JSON string, as
            the current docs say), ``"base64-text"`` (bare base64) or ``"raw"``
            (``application/pdf``).
        listing_delay: seconds a new session stays out of the listing (0: listed at
            once). Only the listing lags: status, data and the rest see it at once.
        clock: monotonic seconds, for ``listing_delay`` (inject a fake in tests).
        signing_key: what the ``/__fake__/`` webhook endpoint signs with unless the
            control request names another.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        *,
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        base_url: str = FAKE_BASE_URL,
        files_base_url: str = FAKE_FILES_BASE_URL,
        pdf_format: Literal["base64", "base64-text", "raw"] = "base64",
        listing_delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        signing_key: str | bytes = DEFAULT_SIGNING_KEY,
    ) -> None:
        if not listing_delay >= 0:
            raise ValueError("listing_delay must be at least 0 seconds")
        expected = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._expected_auth = f"Basic {expected}"
        self._file_key = hashlib.sha256(f"files:{api_secret}".encode()).digest()
        self._rng = random.Random(seed)
        self._sleep = sleep
        self._script: deque[Failure] = deque()
        self.base_url = base_url.rstrip("/")
        self.files_base_url = files_base_url.rstrip("/")
        self.pdf_format = pdf_format
        self.listing_delay = listing_delay
        self.clock = clock
        self.signing_key = signing_key
        self.sessions: list[FakeSession] = []
        self.requests = 0  #: every request that reached the fake, failed or not
        self.webhooks: list[WebhookDelivery] = []  #: every webhook sent, in order
        #: (path, lower-cased headers) of every file download asked for.
        self.file_requests: list[tuple[str, dict[str, str]]] = []
        self._routes: dict[str, tuple[str, Callable[[_Request], _Answer]]] = {
            "/api/v2/token": ("POST", lambda r: self._create_session(r.body)),
            "/api/v2/status": ("POST", self._status),
            "/api/v2/data": ("POST", self._data),
            "/api/v2/files": ("POST", self._files),
            "/api/v2/delete": ("POST", self._delete),
            "/api/v2/generate-pdf": ("POST", self._generate_pdf),
            "/kyc/identifications/": ("GET", self._list),
        }
        #: Face authentication, request-information, blocklists, processing, POA.
        self.kyc = FakeKyc(self)
        self._routes.update(self.kyc.routes())

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

    def reset(self) -> None:
        """Forget every session, webhook, request count and scripted failure."""
        self.sessions.clear()
        self.webhooks.clear()
        self.file_requests.clear()
        self._script.clear()
        self.requests = 0

    # ------------------------------------------------------------------ transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        raw_path = request.url.raw_path.decode("ascii")
        if raw_path.startswith(CONTROL_PREFIX):
            status, headers, content = await self.control(request.method, raw_path, body)
            return httpx.Response(status, headers=headers, content=content, request=request)
        self.requests += 1
        failure = self._script.popleft() if self._script else None
        if failure is not None and failure.delay:
            await self._sleep(failure.delay)
        if failure is not None and failure.error is not None and not failure.create:
            raise failure.error(f"scripted {failure.error.__name__}", request=request)
        status, headers, content = self.handle(
            request.method,
            raw_path,
            request.headers,
            body,
            failure=failure,
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
        """Answer one request: (status, headers, body). Pure apart from the fake's state.

        ``path`` may carry the query string (``/kyc/identifications/?page=2``);
        the listing needs it. ``headers`` must look up lower-case names.
        """
        path, _, raw_query = path.partition("?")
        query = dict(urllib.parse.parse_qsl(raw_query))
        route: tuple[str, Callable[[_Request], _Answer]] | None
        if path.startswith(FAKE_FILES_PREFIX):
            route = ("GET", self._download)  # pre-signed: the URL is the credential
        else:
            if headers.get("authorization") != self._expected_auth:
                return _answer(401, {"message": "Invalid authorization credentials"})
            route = self._routes.get(path) or self.kyc.route(method, path)
        if route is None:
            return _answer(404, {"message": "Not found.", "identifier": "NOT_FOUND"})
        allowed, endpoint = route
        if method != allowed:
            return _error(405, "METHOD_NOT_ALLOWED", f"Method '{method}' not allowed.")
        if failure is not None and failure.status is not None and not failure.create:
            return _scripted(failure)
        answer = endpoint(_Request(method, path, query, headers, body))
        if failure is not None and failure.status is not None:
            return _scripted(failure)  # done, but the caller is told otherwise
        return answer

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
                created_at=self.clock(),
            )
        )
        return _answer(201, response)

    # ------------------------------------------------------------------ the user's side

    def session(self, scan_ref: str) -> FakeSession:
        """The session with this scanRef.

        Raises:
            KeyError: the fake created no such session.
        """
        for candidate in self.sessions:
            if candidate.scan_ref == scan_ref:
                return candidate
        raise KeyError(scan_ref)

    def complete(
        self,
        scan_ref: str,
        outcome: str = "APPROVED",
        *,
        fraud_tags: Iterable[str] = (),
        mismatch_tags: Iterable[str] = (),
        data: Mapping[str, Any] | None = None,
        final: bool = True,
        auto_document: str | None = None,
        auto_face: str | None = None,
        manual_document: str | None = None,
        manual_face: str | None = None,
        platform: str = "PC",
    ) -> FakeSession:
        """Play the user's verification: the session ends with ``outcome``.

        ``outcome`` is the overall status (``APPROVED``, ``DENIED``, ``SUSPECTED``,
        ``REVIEWING``, ``EXPIRED``, or any newer value). Document and face results
        follow from it unless given. SUSPECTED always carries a tag (as at
        iDenfy): ``FACE_SUSPECTED`` when none is given. ``data`` overrides fields
        of the document data (camelCase or snake_case names). Afterwards status,
        data, files, the PDF and the listing all report this outcome; call again
        to change it (e.g. ``final=False`` first, then the manual review).

        Raises:
            KeyError: unknown scanRef.
            ValueError: ``outcome`` is ACTIVE or DELETED, or the session was deleted.
        """
        session = self.session(scan_ref)
        outcome = outcome.upper()
        if outcome in ("ACTIVE", "DELETED", "EXPIRED-DELETED"):
            raise ValueError(f"{outcome} is not an outcome; use delete_verification")
        if session.status in ("DELETED", "EXPIRED-DELETED"):
            raise ValueError(f"session {scan_ref} was deleted")
        fraud, mismatch = list(fraud_tags), list(mismatch_tags)
        if outcome == "SUSPECTED" and not fraud and not mismatch:
            fraud = ["FACE_SUSPECTED"]
        document, face = _OUTCOME_RESULTS.get(outcome, (None, None))
        verified = outcome != "EXPIRED"
        now = int(time.time())
        session.status = outcome
        session.final = final
        session.platform = platform if verified else None
        session.start_time = session.start_time or now
        session.finish_time = now
        session.result = {
            "overall": outcome,
            "suspicionReasons": [],
            "mismatchTags": mismatch,
            "fraudTags": fraud,
            "autoDocument": auto_document or document,
            "autoFace": auto_face or face,
            "manualDocument": manual_document,
            "manualFace": manual_face,
            "additionalSteps": None,
        }
        session.data = self._document_data(session) if verified else dict(_NULL_DATA)
        for name, value in (data or {}).items():
            session.data[wire_name(name)] = value
        self.kyc.screen(session)  # blocklisted document or face: SUSPECTED
        session.file_urls = (
            {name: self._file_url(scan_ref, name) for name in _FILE_NAMES} if verified else {}
        )
        return session

    def file_content(self, scan_ref: str, name: str) -> bytes:
        """The bytes the fake serves for one of its file URLs (deterministic, ~20 KiB)."""
        filler = hashlib.shake_256(f"{scan_ref}/{name}".encode()).digest(_FILE_SIZE)
        return b"\xff\xd8\xff\xe0" + filler + b"\xff\xd9"

    def webhook_payload(self, scan_ref: str) -> dict[str, Any]:
        """The identification webhook body for the session as it stands."""
        session = self.session(scan_ref)
        status = session.result or {
            "overall": session.status,
            "suspicionReasons": [],
            "mismatchTags": [],
            "fraudTags": [],
            "autoDocument": None,
            "autoFace": None,
            "manualDocument": None,
            "manualFace": None,
            "additionalSteps": None,
        }
        return {
            "final": session.final,
            "platform": session.platform,
            "status": {**status, "overall": session.status},
            "data": {**_NULL_DATA, **session.data},
            "fileUrls": dict(session.file_urls),
            "additionalStepPdfUrls": {},
            "AML": None,
            "LID": None,
            "scanRef": session.scan_ref,
            "externalRef": session.request.get("externalRef"),
            "clientId": session.client_id,
            "companyId": None,
            "beneficiaryId": None,
            "startTime": session.start_time,
            "finishTime": session.finish_time,
            "clientIp": "192.0.2.10",
            "clientIpCountry": "LT",
            "clientLocation": "Vilnius, Lithuania",
            "gdcMatch": None,
            "manualAddress": None,
            "manualAddressMatch": False,
            "registryCenterCheck": None,
            "addressVerification": None,
            "questionnaireAnswers": None,
            "additionalSteps": None,
        }

    async def send_webhook(
        self,
        scan_ref: str,
        *,
        signing_key: str | bytes,
        event_type: str = "IDENTIFICATION_AUTO_FINISHED",
        url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = WEBHOOK_TIMEOUT,
    ) -> int:
        """POST the signed identification webhook, as iDenfy would; return the answer's status.

        The body is :meth:`webhook_payload` as JSON; ``Idenfy-Signature`` is
        :func:`idenfy_async.webhooks.sign` of those exact bytes with
        ``signing_key``, and ``Idenfy-Event-Type`` is ``event_type``. It goes to
        ``url``, else the session's callbackUrl (``https://``, or ``http://`` on a
        loopback host), through ``http_client`` or ``transport`` when given (e.g.
        ``httpx.ASGITransport(app)``), else a new client. Like iDenfy, it waits
        ``timeout`` seconds (10) for the answer. Every delivery is recorded in
        :attr:`webhooks`.

        Raises:
            KeyError: unknown scanRef.
            ValueError: no URL to send to, or one that is neither https nor loopback.
            httpx.HTTPError: the delivery failed without an answer (e.g. a timeout).
        """
        session = self.session(scan_ref)
        target = url or session.callback_url
        if not target:
            raise ValueError(f"session {scan_ref} has no callbackUrl; pass url=")
        if secure_url_problem(target):
            raise ValueError("webhook URLs must be https:// (http:// only on a loopback host)")
        body = json.dumps(self.webhook_payload(scan_ref)).encode()
        signature = webhooks.sign(body, signing_key)
        headers = {
            "Content-Type": "application/json",
            webhooks.SIGNATURE_HEADER: signature,
            webhooks.EVENT_TYPE_HEADER: event_type,
            "User-Agent": "FakeIdenfy-Webhooks",
        }
        if http_client is not None:
            response = await http_client.post(
                target, content=body, headers=headers, timeout=timeout
            )
        else:
            async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                response = await client.post(target, content=body, headers=headers)
        self.webhooks.append(
            WebhookDelivery(scan_ref, event_type, target, body, signature, response.status_code)
        )
        return response.status_code

    # ------------------------------------------------------------------ control endpoints

    async def control(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request to a ``/__fake__/`` control endpoint (see the module doc).

        Answers are JSON; a problem is ``{"error": "..."}`` with 400 (bad body), 404
        (unknown scanRef or endpoint), 405, or 502 (the webhook got no answer).
        """
        path = path.partition("?")[0].removeprefix(CONTROL_PREFIX).strip("/")
        parts = path.split("/") if path else []
        if parts == ["reset"]:
            if method != "POST":
                return _control_error(405, "use POST")
            forgotten = len(self.sessions)
            self.reset()
            return _answer(200, {"reset": True, "forgottenSessions": forgotten})
        if not parts or parts[0] != "sessions" or len(parts) > 3:
            return _control_error(404, f"no control endpoint {CONTROL_PREFIX}{path}")
        if len(parts) == 1:
            if method != "GET":
                return _control_error(405, "use GET")
            return _answer(200, {"sessions": [_summary(s) for s in self.sessions]})
        scan_ref = urllib.parse.unquote(parts[1])
        try:
            session = self.session(scan_ref)
        except KeyError:
            return _control_error(404, f"no session with scanRef {scan_ref!r}")
        action = parts[2] if len(parts) == 3 else None
        if action is None:
            if method != "GET":
                return _control_error(405, "use GET")
            return _answer(200, _summary(session))
        if action not in ("complete", "webhook"):
            return _control_error(404, f"no control endpoint {CONTROL_PREFIX}{path}")
        if method != "POST":
            return _control_error(405, "use POST")
        try:
            options = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            options = None
        if not isinstance(options, dict):
            return _control_error(400, "the body must be a JSON object")
        if action == "complete":
            return self._control_complete(session, options)
        return await self._control_webhook(session, options)

    def _control_complete(
        self, session: FakeSession, options: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        outcome = options.get("status", "APPROVED")
        fraud = options.get("fraudTags", [])
        mismatch = options.get("mismatchTags", [])
        final = options.get("final", True)
        if not isinstance(outcome, str) or not outcome:
            return _control_error(400, "status must be a non-empty string")
        for name, tags in (("fraudTags", fraud), ("mismatchTags", mismatch)):
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                return _control_error(400, f"{name} must be a list of strings")
        if not isinstance(final, bool):
            return _control_error(400, "final must be true or false")
        try:
            self.complete(
                session.scan_ref, outcome, fraud_tags=fraud, mismatch_tags=mismatch, final=final
            )
        except ValueError as exc:
            return _control_error(400, str(exc))
        return _answer(200, _summary(session))

    async def _control_webhook(
        self, session: FakeSession, options: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        key = options.get("signingKey", self.signing_key)
        event_type = options.get("eventType", "IDENTIFICATION_AUTO_FINISHED")
        url = options.get("url")
        for name, value in (("signingKey", key), ("eventType", event_type)):
            if not isinstance(value, str | bytes) or not value:
                return _control_error(400, f"{name} must be a non-empty string")
        if url is not None and not isinstance(url, str):
            return _control_error(400, "url must be a string")
        try:
            status = await self.send_webhook(
                session.scan_ref, signing_key=key, event_type=event_type, url=url
            )
        except ValueError as exc:
            return _control_error(400, str(exc))
        except httpx.HTTPError as exc:
            return _control_error(502, f"the webhook got no answer ({type(exc).__name__})")
        delivery = self.webhooks[-1]
        return _answer(
            200,
            {
                "scanRef": session.scan_ref,
                "url": delivery.url,
                "eventType": delivery.event_type,
                "statusCode": status,
            },
        )

    # ------------------------------------------------------------------ result endpoints

    def _lookup(self, request: _Request) -> FakeSession | _Answer:
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "JSON_ERROR", "JSON parse error.")
        scan_ref = payload.get("scanRef") if isinstance(payload, dict) else None
        if scan_ref is None or scan_ref == "":
            return _error(400, "MISSING_VALUE", "Missing value: 'scanRef'.")
        if not isinstance(scan_ref, str):
            return _error(400, "BAD_VALUE", "Field 'scanRef' must be a string.")
        try:
            return self.session(scan_ref)
        except KeyError:
            return _error(404, "NOT_FOUND", "Identification not found.")

    def _status(self, request: _Request) -> _Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        result = session.result
        return _answer(
            200,
            {
                "fraudTags": result.get("fraudTags", []),
                "mismatchTags": result.get("mismatchTags", []),
                "autoDocument": result.get("autoDocument"),
                "autoFace": result.get("autoFace"),
                "manualDocument": result.get("manualDocument"),
                "manualFace": result.get("manualFace"),
                "scanRef": session.scan_ref,
                "clientId": session.client_id,
                "status": session.status,
            },
        )

    def _data(self, request: _Request) -> _Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        return _answer(
            200,
            {
                **_NULL_DATA,
                **session.data,
                "scanRef": session.scan_ref,
                "clientId": session.client_id,
            },
        )

    def _files(self, request: _Request) -> _Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        return _answer(200, dict(session.file_urls))

    def _delete(self, request: _Request) -> _Answer:
        # Deleting twice is fine: a retried deletion whose answer was lost must not fail.
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        if session.status == "ACTIVE":
            return _answer(
                400,
                {
                    "message": "Token has not expired yet.",
                    "identifier": "PARTNER_ERROR",
                    "documentation": "https://documentation.idenfy.com",
                    "severity": "NOT_SEVERE",
                },
            )
        if session.status not in ("DELETED", "EXPIRED-DELETED"):
            session.status = "EXPIRED-DELETED" if session.status == "EXPIRED" else "DELETED"
        session.data = {}
        session.file_urls = {}
        return 200, {}, b""

    def _generate_pdf(self, request: _Request) -> _Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        if session.status in ("DELETED", "EXPIRED-DELETED"):
            return _error(404, "NOT_FOUND", "Identification data was deleted.")
        pdf = _minimal_pdf(
            [
                "iDenfy verification report (FakeIdenfy)",
                f"scanRef: {session.scan_ref}",
                f"status: {session.status}",
            ]
        )
        if self.pdf_format == "raw":
            return 200, {"content-type": "application/pdf"}, pdf
        encoded = base64.b64encode(pdf).decode()
        if self.pdf_format == "base64-text":
            return 200, {"content-type": "text/plain"}, encoded.encode()
        return 200, {"content-type": "application/json"}, json.dumps(encoded).encode()

    def _list(self, request: _Request) -> _Answer:
        # Django REST framework's page-number pagination, as the OpenAPI shape suggests.
        client_id = request.query.get("clientId")
        size = request.query.get("perPage", "")
        per_page = min(int(size), MAX_PAGE_SIZE) if size.isdigit() and int(size) > 0 else 0
        per_page = per_page or DEFAULT_PAGE_SIZE
        # Sessions younger than listing_delay are not listed yet.
        listed_before = self.clock() - self.listing_delay
        chosen = [
            s
            for s in self.sessions
            if (client_id is None or s.client_id == client_id) and s.created_at <= listed_before
        ]
        number = request.query.get("page", "1")
        pages = max(1, -(-len(chosen) // per_page))
        if not number.isdigit() or not 1 <= int(number) <= pages:
            return _answer(404, {"detail": "Invalid page."})
        page = int(number)

        def link(to: int) -> str | None:
            if not 1 <= to <= pages:
                return None
            params = {k: v for k, v in request.query.items() if k != "page"}
            return f"{self.base_url}{request.path}?{urllib.parse.urlencode({**params, 'page': to})}"

        results = [
            {"scanRef": s.scan_ref, "status": s.status, "suspected": s.suspected}
            for s in chosen[(page - 1) * per_page : page * per_page]
        ]
        return _answer(
            200,
            {
                "count": len(chosen),
                "next": link(page + 1),
                "previous": link(page - 1),
                "results": results,
            },
        )

    # ------------------------------------------------------------------ files

    def _file_url(self, scan_ref: str, name: str) -> str:
        path = f"{FAKE_FILES_PREFIX}{scan_ref}/{name}.jpg"
        query = urllib.parse.urlencode(
            {"X-Amz-Expires": "3600", "X-Amz-Signature": self._file_signature(path)}
        )
        return f"{self.files_base_url}{path}?{query}"

    def _file_signature(self, path: str) -> str:
        return hmac.new(self._file_key, path.encode(), hashlib.sha256).hexdigest()

    def _download(self, request: _Request) -> _Answer:
        self.file_requests.append(
            (request.path, {k.lower(): v for k, v in request.headers.items()})
        )
        if "authorization" in {k.lower() for k in request.headers}:
            return _s3_error(400, "InvalidArgument", "Only one auth mechanism allowed")
        given = request.query.get("X-Amz-Signature", "")
        if not hmac.compare_digest(given, self._file_signature(request.path)):
            return _s3_error(403, "AccessDenied", "Request has expired or is not signed")
        scan_ref, _, file_name = request.path.removeprefix(FAKE_FILES_PREFIX).partition("/")
        name = file_name.removesuffix(".jpg")
        try:
            session = self.session(scan_ref)
        except KeyError:
            session = None
        if session is None or name not in session.file_urls:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return 200, {"content-type": "image/jpeg"}, self.file_content(scan_ref, name)

    def _document_data(self, session: FakeSession) -> dict[str, Any]:
        request = session.request
        country = request.get("country")
        if isinstance(country, list):
            country = country[0] if country else None
        country = country if isinstance(country, str) else "LT"
        documents = request.get("documents")
        first = str(request.get("firstName") or "John").upper()
        last = str(request.get("lastName") or "Doe").upper()
        digest = hashlib.sha256(session.scan_ref.encode()).hexdigest()
        return {
            **_NULL_DATA,
            "docFirstName": first,
            "docLastName": last,
            "fullName": f"{first} {last}",
            "docNumber": request.get("documentNumber") or f"FK{int(digest[:12], 16) % 10**8:08d}",
            "docPersonalCode": request.get("personalNumber"),
            "docExpiry": request.get("dateOfExpiry") or "2035-01-01",
            "docDob": request.get("dateOfBirth") or "1990-01-01",
            "docDateOfIssue": request.get("dateOfIssue") or "2025-01-01",
            "docType": documents[0] if isinstance(documents, list) and documents else "ID_CARD",
            "docSex": {"M": "MALE", "F": "FEMALE"}.get(str(request.get("sex")), "UNDEFINED"),
            "docNationality": request.get("nationality") or country,
            "docIssuingCountry": country,
            "selectedCountry": country,
            "manuallyDataChanged": False,
            "ageEstimate": "OVER_25",
            "clientIpProxyRiskLevel": "LOW",
            "duplicateFaces": [],
            "duplicateDocFaces": [],
        }


_FILE_NAMES: Final = ("FRONT", "BACK", "FACE")
_FILE_SIZE: Final = 20_000
# (autoDocument, autoFace) each outcome reports unless told otherwise.
_OUTCOME_RESULTS: Final = {
    "APPROVED": ("DOC_VALIDATED", "FACE_MATCH"),
    "SUSPECTED": ("DOC_VALIDATED", "FACE_MATCH"),
    "REVIEWING": ("DOC_VALIDATED", "FACE_MATCH"),
    "DENIED": ("DOC_VALIDATED", "FACE_MISMATCH"),
}
_NULL_DATA: Final[Mapping[str, Any]] = dict.fromkeys(
    (
        "docFirstName docLastName docNumber docPersonalCode docExpiry docDob docDateOfIssue"
        " docType docSex docNationality docIssuingCountry docTemporaryAddress docBirthName"
        " docPatronymic birthPlace authority address mothersMaidenName driverLicenseCategory"
        " manuallyDataChanged fullName selectedCountry orgFirstName orgLastName orgNationality"
        " orgBirthPlace orgAuthority orgAddress orgTemporaryAddress orgMothersMaidenName"
        " orgPatronymic orgBirthName ageEstimate clientIpProxyRiskLevel duplicateFaces"
        " duplicateDocFaces additionalData"
    ).split()
)


def _minimal_pdf(lines: Iterable[str]) -> bytes:
    """A valid one-page PDF showing ``lines`` (ASCII), with a correct xref table."""
    escaped = (
        line.encode("ascii", "replace")
        .replace(b"\\", b"\\\\")
        .replace(b"(", b"\\(")
        .replace(b")", b"\\)")
        for line in lines
    )
    stream = b"BT /F1 12 Tf 72 740 Td 16 TL " + b" ".join(b"(%s) '" % t for t in escaped) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _s3_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return status, {"content-type": "application/xml"}, body.encode()


def _answer(status: int, body: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def _error(status: int, identifier: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return _answer(status, {"identifier": identifier, "message": message})


def _control_error(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    return _answer(status, {"error": message})


def _summary(session: FakeSession) -> dict[str, Any]:
    """What the control endpoints tell of a session: no token, no personal data."""
    return {
        "scanRef": session.scan_ref,
        "clientId": session.client_id,
        "status": session.status,
        "final": session.final,
        "callbackUrl": session.callback_url,
    }


def _scripted(failure: Failure) -> tuple[int, dict[str, str], bytes]:
    assert failure.status is not None
    if failure.body is not None:
        return failure.status, dict(failure.headers), failure.body
    body: dict[str, Any] = {"message": failure.message or "Scripted failure."}
    if failure.identifier:
        body["identifier"] = failure.identifier
    status, headers, content = _answer(failure.status, body)
    return status, {**headers, **failure.headers}, content


# --------------------------------------------------------------------------- over HTTP

_MAX_HEADER_BYTES: Final = 64 * 1024

#: What :func:`random_failure` picks from, by weight: retryable refusals (503, 429 with
#: ``Retry-After: 0``), and ambiguous ones, with and without a session created first.
FAILURE_MIX: Final[Sequence[tuple[int, Failure]]] = (
    (3, Failure(status=503, message="Service temporarily unavailable.")),
    (
        2,
        Failure(
            status=429,
            identifier="TOO_MANY_REQUESTS",
            message="Too many requests.",
            headers={"Retry-After": "0"},
        ),
    ),
    (2, Failure(status=500, identifier="INTERNAL_ERROR", message="Internal error.", create=True)),
    (1, Failure(status=500, identifier="INTERNAL_ERROR", message="Internal error.")),
    (2, Failure(error=httpx.RemoteProtocolError, create=True)),  # answer lost after creating
)


def random_failure(rng: random.Random, rate: float) -> Failure | None:
    """A failure from :data:`FAILURE_MIX` for about ``rate`` of calls, else None."""
    if rate <= 0 or rng.random() >= rate:
        return None
    failures = [failure for _, failure in FAILURE_MIX]
    return rng.choices(failures, weights=[weight for weight, _ in FAILURE_MIX])[0]


class FakeIdenfyServer:
    """:class:`FakeIdenfy` served over real HTTP/1.1 (keep-alive) on a loopback port.

    For code that cannot take a transport: a subprocess, the CLI, curl. Use it as
    ``async with FakeIdenfyServer() as base_url:`` (port 0 picks a free port) and point
    the client there (``base_url=`` or ``IDENFY_BASE_URL``) with the fake's
    credentials, ``test-key`` / ``test-secret``.

    Args:
        fake: the fake to serve (a new one by default); its ``sessions`` tell what
            was created, whatever the client was told.
        fail_rate: share of requests that fail, drawn from :data:`FAILURE_MIX`; a
            dropped connection closes the socket without an answer.
        latency: seconds each answer is held after the request was processed.
        rate_limit: e.g. ``"10/s"``: beyond it, 429 ``TOO_MANY_REQUESTS`` with a
            ``Retry-After``, like iDenfy's account limit.
        seed: makes failures (and a new fake's tokens) reproducible.
    """

    def __init__(
        self,
        fake: FakeIdenfy | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        latency: float = 0.0,
        rate_limit: str | None = None,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        self.fake = fake if fake is not None else FakeIdenfy(seed=seed)
        self.host = host
        self.port = port
        self.fail_rate = fail_rate
        self.latency = latency
        self._rate_limiter = RateLimiter(rate_limit) if rate_limit else None
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[object], asyncio.StreamWriter] = {}
        self._changed = asyncio.Event()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, once started."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Start listening; return the base URL."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=_MAX_HEADER_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.base_url

    async def aclose(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Closing the sockets ends each connection's task at its next read: cancelling
        # them instead trips asyncio.streams (it reads the cancelled task's exception).
        for writer in self._connections.values():
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def wait_for_sessions(self, count: int) -> None:
        """Return once the fake has created at least ``count`` sessions."""
        while len(self.fake.sessions) < count:
            await self._changed.wait()

    # ------------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = writer
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-request
        finally:
            if task is not None:
                self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection should close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # closed between requests: the normal end of keep-alive
        except asyncio.LimitOverrunError:
            await _write(writer, 431, {}, b"", keep_alive=False)
            return False
        request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if len(parts) != 3 or not length.isdigit() or "transfer-encoding" in headers:
            await _write(writer, 400, {}, b"", keep_alive=False)
            return False
        method, target, version = parts
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(int(length))
        connection = headers.get("connection", "").lower()
        keep_alive = connection == "keep-alive" or (version == "HTTP/1.1" and connection != "close")
        answer = await self._respond(method, target, headers, body)
        if answer is None:
            writer.transport.abort()  # scripted: the answer is lost
            return False
        status, answer_headers, content = answer
        await _write(writer, status, answer_headers, content, keep_alive=keep_alive)
        return keep_alive

    async def _respond(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        if path.startswith(CONTROL_PREFIX):  # never rate-limited, never failing
            return await self.fake.control(method, path, body)
        self.fake.requests += 1
        limiter = self._rate_limiter
        if limiter is not None and not limiter.try_acquire():
            wait = str(max(1, math.ceil(limiter.wait_time)))
            return _scripted(
                Failure(
                    status=429,
                    identifier="TOO_MANY_REQUESTS",
                    message="Too many requests.",
                    headers={"Retry-After": wait},
                )
            )
        failure = random_failure(self._rng, self.fail_rate)
        if failure is not None and failure.error is not None and not failure.create:
            return None
        answer = self.fake.handle(method, path, headers, body, failure=failure)
        self._changed.set()
        self._changed = asyncio.Event()
        if self.latency:
            await asyncio.sleep(self.latency)
        if failure is not None and failure.error is not None:
            return None
        return answer


class FakeControlError(Exception):
    """A control request to a running fake failed: unreachable, or refused (``status``)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FakeControl:
    """Drive a running fake-server from Python, through its ``/__fake__/`` endpoints.

    ``idenfy-async fake complete|webhook|sessions|reset`` is built on it::

        async with FakeControl("http://127.0.0.1:8080") as fake:
            await fake.complete(scan_ref, "APPROVED")
            status_code = (await fake.send_webhook(scan_ref))["statusCode"]

    Every method raises :class:`FakeControlError` when the fake cannot be reached or
    refuses (unknown scanRef, bad outcome, a webhook that got no answer).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = WEBHOOK_TIMEOUT + 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url + CONTROL_PREFIX.rstrip("/"),
            timeout=timeout,
            transport=transport,
        )

    async def sessions(self) -> list[dict[str, Any]]:
        """Every session the fake holds: scanRef, clientId, status, final, callbackUrl."""
        answer = await self._call("GET", "/sessions")
        return list(answer["sessions"])

    async def session(self, scan_ref: str) -> dict[str, Any]:
        """One session, as :meth:`sessions` lists it."""
        return await self._call("GET", f"/sessions/{_quote(scan_ref)}")

    async def complete(
        self,
        scan_ref: str,
        status: str = "APPROVED",
        *,
        fraud_tags: Iterable[str] = (),
        mismatch_tags: Iterable[str] = (),
        final: bool = True,
    ) -> dict[str, Any]:
        """Play the user's verification (:meth:`FakeIdenfy.complete`); the session after."""
        body = {
            "status": status,
            "fraudTags": list(fraud_tags),
            "mismatchTags": list(mismatch_tags),
            "final": final,
        }
        return await self._call("POST", f"/sessions/{_quote(scan_ref)}/complete", body)

    async def send_webhook(
        self,
        scan_ref: str,
        *,
        signing_key: str | None = None,
        event_type: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Have the fake POST the session's signed webhook; its ``statusCode`` is the app's answer.

        ``signing_key`` defaults to the server's (``fake-server --signing-key``), ``url``
        to the session's callbackUrl.
        """
        body = {
            name: value
            for name, value in (
                ("signingKey", signing_key),
                ("eventType", event_type),
                ("url", url),
            )
            if value is not None
        }
        return await self._call("POST", f"/sessions/{_quote(scan_ref)}/webhook", body)

    async def reset(self) -> int:
        """Forget everything the fake holds; the number of sessions forgotten."""
        answer = await self._call("POST", "/reset")
        return int(answer["forgottenSessions"])

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> FakeControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise FakeControlError(
                f"cannot reach the fake at {self.base_url} ({type(exc).__name__});"
                " is `idenfy-async fake-server` running there?"
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise FakeControlError(
                f"{self.base_url} answered {response.status_code} without JSON:"
                " is it a fake-server?",
                response.status_code,
            )
        if response.status_code != 200:
            raise FakeControlError(str(answer.get("error", "refused")), response.status_code)
        return answer


def _quote(scan_ref: str) -> str:
    return urllib.parse.quote(scan_ref, safe="")


async def _write(
    writer: asyncio.StreamWriter,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    keep_alive: bool,
) -> None:
    reason = _REASONS.get(status, "Response")
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [
        f"content-length: {len(content)}",
        f"connection: {'keep-alive' if keep_alive else 'close'}",
        "server: FakeIdenfy",
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content)
    await writer.drain()


_REASONS: Final = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
