"""The stateful fake: [`FakeIdenfy`][idenfy_async.testing.FakeIdenfy], its sessions and the user's
side of each flow.

It routes each request (Basic auth, method, path) to its endpoints: creating a
session here, the result endpoints in `_results`, the rest of the workflow in
`_kyc`, the control endpoints in `_control`. Scripted faults act only
through `_faults`; token requests are checked by `_rules`. The endpoint
modules get the fake's `FakeState` (its sessions and records), not
the fake, so they sit below this module.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import string
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from ..models import wire_name
from . import _control, _faults, _rules
from ._aml import FakeAml
from ._common import (
    CONTROL_PREFIX,
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_DOCUMENTS,
    DEFAULT_EXPIRY_TIME,
    DEFAULT_SESSION_LENGTH,
    DEFAULT_SIGNING_KEY,
    FAKE_BASE_URL,
    FAKE_FILES_BASE_URL,
    FAKE_FILES_PREFIX,
    TOKEN_ALPHABET,
    WEBHOOK_TIMEOUT,
    Answer,
    FakeSession,
    Request,
    WebhookDelivery,
    answer,
    error,
    outcome_problem,
)
from ._faults import Fault, Reply
from ._kyc import FakeKyc
from ._results import (
    FILE_NAMES,
    NOT_ANALYSED,
    NULL_DATA,
    OUTCOME_RESULTS,
    Results,
    document_data,
    file_content,
    status_object,
)
from ._state import FakeState, PdfFormat

__all__ = ["FakeIdenfy"]


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
        base_url: the origin its pagination links name (in-process; a
            [`FakeIdenfyServer`][idenfy_async.testing.FakeIdenfyServer] names where the client
            reached it instead).
        files_base_url: the origin of its file URLs (in-process; likewise).
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
        pdf_format: PdfFormat = "base64",
        listing_delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        signing_key: str | bytes = DEFAULT_SIGNING_KEY,
    ) -> None:
        if not listing_delay >= 0:
            raise ValueError("listing_delay must be at least 0 seconds")
        expected = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._expected_auth = f"Basic {expected}"
        self._sleep = sleep
        self._script: deque[Fault] = deque()
        self.signing_key = signing_key
        self.requests: int = 0  #: every request that reached the fake, failed or not
        #: What the endpoint handlers read and write (sessions, records, clock, URLs).
        self._state = FakeState(
            rng=random.Random(seed),
            clock=clock,
            base_url=base_url.rstrip("/"),
            files_base_url=files_base_url.rstrip("/"),
            pdf_format=pdf_format,
            listing_delay=listing_delay,
            file_key=hashlib.sha256(f"files:{api_secret}".encode()).digest(),
        )
        #: Status, data, files, delete, PDF, the listing and file downloads.
        self.results: Results = Results(self._state)
        self._routes: dict[str, tuple[str, Callable[[Request], Answer]]] = {
            "/api/v2/token": ("POST", lambda r: self._create_session(r.body, r.origin)),
            **self.results.routes(),
        }
        #: Face authentication, request-information, blocklists, processing, POA.
        self.kyc: FakeKyc = FakeKyc(self._state, self.complete)
        self._routes.update(self.kyc.routes())
        #: AML checks and monitorings (scripted hits, PDFs, webhooks).
        self.aml: FakeAml = FakeAml(self._state)
        self._routes.update(self.aml.routes())

    # ------------------------------------------------------------------ state

    @property
    def sessions(self) -> list[FakeSession]:
        """Every session created, in order."""
        return self._state.sessions

    @property
    def webhooks(self) -> list[WebhookDelivery]:
        """Every webhook sent, in order."""
        return self._state.webhooks

    @property
    def file_requests(self) -> list[tuple[str, dict[str, str]]]:
        """(path, lower-cased headers) of every file download asked for."""
        return self._state.file_requests

    @property
    def base_url(self) -> str:
        """The origin its pagination links name."""
        return self._state.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._state.base_url = value

    @property
    def files_base_url(self) -> str:
        """The origin of its file URLs."""
        return self._state.files_base_url

    @files_base_url.setter
    def files_base_url(self, value: str) -> None:
        self._state.files_base_url = value

    @property
    def pdf_format(self) -> PdfFormat:
        """How ``/generate-pdf`` answers (see the class doc)."""
        return self._state.pdf_format

    @pdf_format.setter
    def pdf_format(self, value: PdfFormat) -> None:
        self._state.pdf_format = value

    @property
    def listing_delay(self) -> float:
        """Seconds a new session stays out of the listing."""
        return self._state.listing_delay

    @listing_delay.setter
    def listing_delay(self, value: float) -> None:
        self._state.listing_delay = value

    @property
    def clock(self) -> Callable[[], float]:
        """Monotonic seconds, for ``listing_delay``."""
        return self._state.clock

    @clock.setter
    def clock(self, value: Callable[[], float]) -> None:
        self._state.clock = value

    # ------------------------------------------------------------------ scripting

    def fail_next(self, *failures: Fault) -> None:
        """Queue faults; each is used by one request, in order, then normal service.

        In-process and over TCP ([`FakeIdenfyServer`][idenfy_async.testing.FakeIdenfyServer]) alike.
        """
        self._script.extend(failures)

    def next_fault(self) -> Fault | None:
        """Take the next scripted fault, if any (the server asks before its random ones)."""
        return self._script.popleft() if self._script else None

    @property
    def pending_failures(self) -> int:
        """Scripted failures not used yet."""
        return len(self._script)

    def sessions_for(self, client_id: str) -> list[FakeSession]:
        """Every session created for ``client_id`` (more than one means a duplicate)."""
        return [s for s in self.sessions if s.client_id == client_id]

    def reset(self) -> None:
        """Forget every session, webhook, request count, scripted failure, AML check and
        monitoring (the AML watchlist stays)."""
        self.sessions.clear()
        self.webhooks.clear()
        self.file_requests.clear()
        self._script.clear()
        self.requests = 0
        self.aml.reset()

    # ------------------------------------------------------------------ transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        raw_path = request.url.raw_path.decode("ascii")
        if raw_path.startswith(CONTROL_PREFIX):
            status, headers, content = await self.control(request.method, raw_path, body)
            return httpx.Response(status, headers=headers, content=content, request=request)
        reply = await self.respond(
            request.method, raw_path, request.headers, body, self.next_fault()
        )
        if reply.lost is not None:
            raise reply.lost(f"scripted {reply.lost.__name__}", request=request)
        if reply.cut is None:
            return httpx.Response(
                reply.status, headers=reply.headers, content=reply.body, request=request
            )
        # The headers declare the whole body; reading it stops short, as over TCP.
        headers = {**reply.headers, "content-length": str(len(reply.body))}
        stream = _CutStream(reply.body[: reply.cut])
        return httpx.Response(reply.status, headers=headers, stream=stream, request=request)

    async def respond(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        fault: Fault | None = None,
        *,
        origin: str | None = None,
    ) -> Reply:
        """Count and answer one API request under ``fault`` (in-process and TCP alike).

        ``origin``: where the client reached the fake (see
        [`handle`][idenfy_async.testing.FakeIdenfy.handle]).
        """
        self.requests += 1
        return await _faults.play(
            fault,
            lambda f: self.handle(method, path, headers, body, failure=f, origin=origin),
            self._sleep,
        )

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        failure: Fault | None = None,
        origin: str | None = None,
    ) -> Answer:
        """Answer one request: (status, headers, body). Pure apart from the fake's state.

        ``path`` may carry the query string (``/kyc/identifications/?page=2``);
        the listing needs it. ``headers`` must look up lower-case names. A scripted
        ``failure`` with a status answers once authentication and routing passed.
        ``origin`` (``http://HOST:PORT``, where the client reached a served fake) is
        what the file URLs, the listing's links and ``redirectUrl`` then name, so that
        they lead back to the fake; None: ``files_base_url`` and ``base_url``.
        """
        path, _, raw_query = path.partition("?")
        query = dict(urllib.parse.parse_qsl(raw_query))
        route: tuple[str, Callable[[Request], Answer]] | None
        if path.startswith(FAKE_FILES_PREFIX):
            route = ("GET", self.results.download)  # pre-signed: the URL is the credential
        else:
            if headers.get("authorization") != self._expected_auth:
                return answer(401, {"message": "Invalid authorization credentials"})
            route = (
                self._routes.get(path)
                or self.kyc.route(method, path)
                or self.aml.route(method, path)
            )
        if route is None:
            return answer(404, {"message": "Not found.", "identifier": "NOT_FOUND"})
        allowed, endpoint = route
        if method != allowed:
            return error(405, "METHOD_NOT_ALLOWED", f"Method '{method}' not allowed.")
        request = Request(method, path, query, headers, body, origin)
        return _faults.answer(failure, lambda: endpoint(request))

    def _create_session(self, body: bytes, origin: str | None) -> Answer:
        payload = _rules.token_request(body)
        if not isinstance(payload, dict):
            return payload  # iDenfy's 400

        scan_ref = str(uuid.UUID(int=self._state.rng.getrandbits(128), version=1))
        auth_token = "".join(self._state.rng.choices(TOKEN_ALPHABET, k=40))
        response: dict[str, Any] = {
            "message": "Token created successfully",
            **payload,
            "authToken": auth_token,
            "scanRef": scan_ref,
            "clientId": payload["clientId"],
            "personScanRef": payload["clientId"],
            "redirectUrl": f"{origin or FAKE_BASE_URL}/api/v2/redirect?authToken={auth_token}",
            "expiryTime": payload.get("expiryTime", DEFAULT_EXPIRY_TIME),
            "sessionLength": payload.get("sessionLength", DEFAULT_SESSION_LENGTH),
            "tokenType": payload.get("tokenType", "IDENTIFICATION"),
            "digitString": (
                "".join(self._state.rng.choices(string.digits, k=8))
                if payload.get("generateDigitString")
                else None
            ),
        }
        for name in ("firstName", "lastName"):
            if isinstance(payload.get(name), str):
                response[name] = payload[name].upper()
        # Arrays in the contract's 201, never null: a null or absent request value
        # is answered with what the session then uses.
        if response.get("documents") is None:
            response["documents"] = list(DEFAULT_DOCUMENTS)
        if response.get("registryCentersCountries") is None:
            response["registryCentersCountries"] = []
        self._state.sessions.append(
            FakeSession(
                scan_ref=scan_ref,
                auth_token=auth_token,
                client_id=payload["clientId"],
                request=payload,
                response=response,
                created_at=self._state.clock(),
            )
        )
        return answer(201, response)

    # ------------------------------------------------------------------ the user's side

    def session(self, scan_ref: str) -> FakeSession:
        """The session with this scanRef.

        Raises:
            KeyError: the fake created no such session.
        """
        return self._state.session(scan_ref)

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
        allow_unknown_status: bool = False,
    ) -> FakeSession:
        """Play the user's verification: the session ends with ``outcome``.

        ``outcome`` is the overall status (``APPROVED``, ``DENIED``, ``SUSPECTED``,
        ``REVIEWING`` or ``EXPIRED``, any case); a value iDenfy does not document only
        with ``allow_unknown_status=True``, to test how a client handles a status
        newer than it (a typo would otherwise pass unnoticed). Document and face results
        follow from it unless given. SUSPECTED always carries a tag (as at
        iDenfy): ``FACE_SUSPECTED`` when none is given. ``data`` overrides fields
        of the document data (camelCase or snake_case names). Afterwards status,
        data, files, the PDF and the listing all report this outcome; call again
        to change it (e.g. ``final=False`` first, then the manual review).

        Raises:
            KeyError: unknown scanRef.
            ValueError: ``outcome`` is ACTIVE or DELETED, unknown without
                ``allow_unknown_status`` (the message names the valid ones), or the
                session was deleted.
        """
        session = self.session(scan_ref)
        outcome = outcome.upper()
        problem = outcome_problem(
            outcome, allow_unknown=allow_unknown_status, flag="allow_unknown_status=True"
        )
        if problem is not None:
            raise ValueError(problem)
        if session.status in ("DELETED", "EXPIRED-DELETED"):
            raise ValueError(f"session {scan_ref} was deleted")
        fraud, mismatch = list(fraud_tags), list(mismatch_tags)
        if outcome == "SUSPECTED" and not fraud and not mismatch:
            fraud = ["FACE_SUSPECTED"]
        document, face = OUTCOME_RESULTS.get(outcome, NOT_ANALYSED)
        verified = outcome != "EXPIRED"
        now = int(time.time())
        session.status = outcome
        session.final = final
        # DeviceTypeEnum has no null: an expired session says where it was opened.
        session.platform = platform
        session.start_time = session.start_time or now
        session.finish_time = now
        session.result = status_object(
            outcome,
            fraud_tags=fraud,
            mismatch_tags=mismatch,
            auto=(auto_document or document, auto_face or face),
            manual=(manual_document, manual_face),
        )
        session.data = document_data(session) if verified else dict(NULL_DATA)
        for name, value in (data or {}).items():
            session.data[wire_name(name)] = value
        self.kyc.screen(session)  # blocklisted document or face: SUSPECTED
        session.file_urls = (
            {name: self._state.file_url(scan_ref, name) for name in FILE_NAMES} if verified else {}
        )
        return session

    def file_content(self, scan_ref: str, name: str) -> bytes:
        """The bytes the fake serves for one of its file URLs (deterministic, ~20 KiB)."""
        return file_content(scan_ref, name)

    def webhook_payload(self, scan_ref: str, *, origin: str | None = None) -> dict[str, Any]:
        """The identification webhook body for the session as it stands; its file URLs
        on ``origin`` when given (where a served fake was reached)."""
        session = self.session(scan_ref)
        status = session.result or status_object(session.status)
        return {
            "final": session.final,
            "platform": session.platform or "OTHER",  # DeviceTypeEnum: no null
            "status": {**status, "overall": session.status},
            "data": {**NULL_DATA, **session.data},
            "fileUrls": self._state.files_at(session.file_urls, origin),
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
        origin: str | None = None,
    ) -> int:
        """POST the signed identification webhook, as iDenfy would; return the answer's status.

        The body is [`webhook_payload`][idenfy_async.testing.FakeIdenfy.webhook_payload] as JSON;
        ``Idenfy-Signature`` is [`idenfy_async.webhooks.sign`][idenfy_async.webhooks.sign] of those
        exact bytes with ``signing_key``, and ``Idenfy-Event-Type`` is ``event_type``. It goes to
        ``url``, else the session's callbackUrl (``https://``, or ``http://`` on a
        loopback host), through ``http_client`` or ``transport`` when given (e.g.
        ``httpx.ASGITransport(app)``), else a new client. Like iDenfy, it waits
        ``timeout`` seconds (10) for the answer. Its file URLs name ``origin`` when
        given (the control endpoint of a served fake passes where it was reached).
        Every delivery is recorded in [`webhooks`][idenfy_async.testing.FakeIdenfy.webhooks].

        Raises:
            KeyError: unknown scanRef.
            ValueError: no URL to send to, or one that is neither https nor loopback.
            httpx.HTTPError: the delivery failed without an answer (e.g. a timeout).
        """
        session = self.session(scan_ref)
        target = url or session.callback_url
        if not target:
            raise ValueError(f"session {scan_ref} has no callbackUrl; pass url=")
        return await self._state.deliver(
            scan_ref,
            event_type,
            target,
            self.webhook_payload(scan_ref, origin=origin),
            signing_key,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ control endpoints

    async def control(
        self, method: str, path: str, body: bytes, *, origin: str | None = None
    ) -> Answer:
        """Answer one request to a ``/__fake__/`` control endpoint (see the package doc).

        Answers are JSON; a problem is ``{"error": "..."}`` with 400 (bad body), 404
        (unknown scanRef or endpoint), 405, or 502 (the webhook got no answer).
        ``origin``: where the control request reached a served fake; the webhooks it
        sends name their file URLs there.
        """
        parts = path.partition("?")[0].removeprefix(CONTROL_PREFIX).strip("/").split("/")
        if parts[0] == "aml":
            return await self.aml.control(method, parts[1:], body, signing_key=self.signing_key)
        return await _control.control(self, method, path, body, origin=origin)


class _CutStream(httpx.AsyncByteStream):
    """A response body that ends early: reading it fails as httpx fails over TCP."""

    def __init__(self, sent: bytes) -> None:
        self._sent = sent

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._sent:
            yield self._sent
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body (scripted)"
        )
