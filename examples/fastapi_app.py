"""A small FastAPI service: start identity verifications, take iDenfy's signed webhooks.

Run it from the root of a clone of the idenfy-async repository (the package is not on
PyPI yet, so ``pip install idenfy-async`` finds nothing); without credentials it talks
to the built-in FakeIdenfy::

    python3 -m venv .venv && . .venv/bin/activate
    pip install . fastapi uvicorn
    uvicorn --factory examples.fastapi_app:create_app

Settings come from the environment: ``IDENFY_API_KEY`` / ``IDENFY_API_SECRET``, the
webhook signing key set in iDenfy's dashboard as ``IDENFY_SIGNING_KEY``, and
``PUBLIC_BASE_URL`` (where iDenfy can reach this service, ``https://``; sent as each
session's callbackUrl, otherwise the dashboard's notification URL applies). Settings
are checked at start-up: a ``PUBLIC_BASE_URL`` iDenfy would refuse stops the service
with a ConfigurationError instead of failing every verification later. With
``IDENFY_REDIS_URL`` set, every worker (and any bulk job) shares the account's rate
limit, its 429 pauses, each user's open session and the webhook dedupe through
Redis (``pip install 'idenfy-async[redis]'``).

* ``POST /verifications`` ``{"user_id": "..."}`` -> ``{scan_ref, redirect_url, iframe_url}``;
  while the user's session is open, the same one (409 if it cannot be told).
* ``POST /idenfy/webhook``: verifies ``Idenfy-Signature`` on the raw body, fetches the
  document data and records the result, once per ``dedupe_key`` across workers, and
  answers 200 only then: an event is acknowledged once it is processed, never merely
  accepted, so a crash, a restart or a shutdown cannot lose one. When it cannot be
  done within ``WEBHOOK_ANSWER_WITHIN`` seconds (8; iDenfy waits 10), when the
  account's quota is exhausted, when fetching fails or Redis does, or while another
  worker processes the same event, the answer is 503 and the claim is released, so
  iDenfy's redelivery is processed (a redelivery of a processed event is answered 200
  at once). A final result closes the user's open session, so their next
  ``POST /verifications`` starts a new one.
* ``GET /verifications/{scan_ref}`` -> the recorded result.
* ``GET /verifications/{scan_ref}/status`` -> the webhook's verdict as plain JSON
  (``idenfy_async.to_dict``: a model is not JSON by itself, so a handler returns its dict).
* ``POST /verifications/{scan_ref}/reverify`` -> re-verify a returning user by face:
  ``{method, redirect_url}`` (face authentication), or 409 when the verification is
  not approved and a new one is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import attrs
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

from idenfy_async import (
    AsyncIdenfy,
    ConfigurationError,
    CoordinationError,
    IdenfyError,
    IdentificationEvent,
    NotFoundError,
    OpenSessionError,
    RequestValidationError,
    SessionRequest,
    SignatureVerificationError,
    VerificationData,
    VerificationStatus,
    WebhookPayloadError,
    construct_event,
    to_dict,
)
from idenfy_async.coordination import DedupeStore
from idenfy_async.testing import FakeIdenfy

logger = logging.getLogger("kyc_service")

WEBHOOK_PATH: Final = "/idenfy/webhook"
#: Used only with the built-in fake, which signs its webhooks with whatever key it is given.
FAKE_SIGNING_KEY: Final = "fake-signing-key"
#: Seconds a webhook may take to be processed before it is answered 503 instead (iDenfy
#: waits 10 s for an answer, then delivers it again). ``WEBHOOK_ANSWER_WITHIN`` overrides it.
ANSWER_WITHIN: Final = 8.0


def check_public_url(public_url: str | None) -> None:
    """Refuse at start-up a PUBLIC_BASE_URL whose callbackUrl iDenfy's token call would refuse.

    The rule is the client's own (``SessionRequest``'s callbackUrl check), applied once
    now, rather than a 422 to every user later.
    """
    if not public_url:
        return
    callback_url = public_url.rstrip("/") + WEBHOOK_PATH
    try:
        SessionRequest(client_id="start-up-check", callback_url=callback_url)
    except RequestValidationError as exc:
        rules = "; ".join(problem.rule for problem in exc.problems)
        raise ConfigurationError(
            f"PUBLIC_BASE_URL={public_url!r} cannot be used: the callbackUrl"
            f" {callback_url!r} {rules}"
        ) from None


def default_client() -> AsyncIdenfy:
    """The real API with credentials from the environment, else the built-in fake."""
    if os.environ.get("IDENFY_API_KEY") and os.environ.get("IDENFY_API_SECRET"):
        # A double click on "Verify" gets the user's open session, not a second credit
        # (across every worker when IDENFY_REDIS_URL is set).
        return AsyncIdenfy(single_session=True)
    logger.warning("IDENFY_API_KEY/IDENFY_API_SECRET not set: using the built-in FakeIdenfy")
    return AsyncIdenfy(
        "test-key", "test-secret", transport=FakeIdenfy(), single_session=True, redis_url=None
    )


@attrs.frozen
class Verification:
    """What the service keeps of a verification result."""

    scan_ref: str
    client_id: str | None
    status: str
    final: bool | None
    data: VerificationData
    #: The webhook's whole verdict: overall, automatic and manual results, tags.
    verdict: VerificationStatus


class KycService:
    """One AsyncIdenfy client, the webhooks being processed, the recorded results."""

    def __init__(
        self,
        client_factory: Callable[[], AsyncIdenfy],
        signing_key: str,
        public_url: str | None,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        self._client_factory = client_factory
        self._signing_key = signing_key
        self._callback_url = public_url.rstrip("/") + WEBHOOK_PATH if public_url else None
        self._answer_within = answer_within
        self._client: AsyncIdenfy | None = None
        self._dedupe: DedupeStore | None = None
        self._processing = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.results: dict[str, Verification] = {}

    @property
    def client(self) -> AsyncIdenfy:
        if self._client is None:
            raise RuntimeError("the service is not started")
        return self._client

    async def start(self) -> None:
        self._client = self._client_factory()  # on the serving event loop
        # Shared by every worker through Redis when IDENFY_REDIS_URL is set.
        self._dedupe = self._client.dedupe_store()

    async def stop(self) -> None:
        # The server lets running requests finish first; each is bounded by answer_within.
        with contextlib.suppress(asyncio.TimeoutError):  # TimeoutError since 3.11
            await asyncio.wait_for(self.drained(), self._answer_within)
        await self.client.aclose()

    async def drained(self) -> None:
        """Return once no webhook is being processed."""
        await self._idle.wait()

    async def start_verification(self, user_id: str) -> dict[str, str | None]:
        session = await self.client.create_session(
            client_id=user_id, callback_url=self._callback_url
        )
        return {
            "scan_ref": session.scan_ref,
            "redirect_url": session.redirect_url,
            "iframe_url": session.iframe_url,
        }

    async def reverify(self, scan_ref: str) -> dict[str, str] | None:
        """Re-verify a returning user by face against their approved verification.

        None when the scanRef cannot be face-authenticated (not approved): the user
        must go through a full verification again. A token costs a credit.
        """
        check = await self.client.face_auth.check(scan_ref)
        if not check.can_authenticate:
            return None
        token = await self.client.face_auth.create_token(scan_ref)
        return {"method": "FACE_AUTHENTICATION", "redirect_url": token.redirect_url}

    async def accept_webhook(
        self, body: bytes, signature: str | None, event_type: str | None
    ) -> int:
        """Verify and process one webhook; the HTTP status to answer with.

        200 once the event is processed (here or by any worker before), never for an
        event merely accepted: iDenfy stops delivering an event answered 200. 503
        (iDenfy delivers it again later) when it could not be processed in time, or
        Redis failed, or another worker is processing it; its claim is then released,
        also when the request is cancelled (the server shutting down), so the next
        delivery is processed.
        """
        try:
            event = construct_event(body, signature, self._signing_key, event_type=event_type)
        except SignatureVerificationError:
            return 401
        except WebhookPayloadError:
            return 400
        if not isinstance(event, IdentificationEvent):
            return 200  # an event this service does not use: acknowledged
        assert self._dedupe is not None
        key = event.dedupe_key
        try:
            if not await self._dedupe.claim(key):
                return 200  # processed already (by any worker): a redelivery
        except CoordinationError as exc:  # Redis failed, or another worker has it now
            logger.warning("webhook %s not taken (%s): asking iDenfy to redeliver", key, exc)
            return 503
        self._processing += 1
        self._idle.clear()
        try:
            await asyncio.wait_for(self._process(event), self._answer_within)
        except (asyncio.TimeoutError, IdenfyError) as exc:
            await asyncio.shield(self._release(key))
            logger.warning("webhook %s not processed (%r): asking iDenfy to redeliver", key, exc)
            return 503
        except BaseException:  # cancelled (shutting down): never acknowledged, so released
            await asyncio.shield(self._release(key))
            raise
        finally:
            self._processing -= 1
            if not self._processing:
                self._idle.set()
        await self._dedupe_done(key)
        return 200

    async def _process(self, event: IdentificationEvent) -> None:
        # Its final result closes the clientId's open session (single_session).
        await self.client.mark_session_closed(event)
        data = await self.client.get_data(event.scan_ref)
        self.results[event.scan_ref] = Verification(
            scan_ref=event.scan_ref,
            client_id=event.client_id,
            status=str(event.status.overall or ""),
            final=event.final,
            data=data,
            verdict=event.status,
        )

    async def _release(self, key: str) -> None:
        """Give up a claim whose processing did not finish, so iDenfy's redelivery is."""
        assert self._dedupe is not None
        try:
            await self._dedupe.release(key)
        except CoordinationError as exc:  # the claim then lapses with its lease
            logger.warning("could not release webhook %s: %s", key, exc)

    async def _dedupe_done(self, key: str) -> None:
        """Mark a processed webhook done: its redeliveries are acknowledged, not redone."""
        assert self._dedupe is not None
        try:
            await self._dedupe.complete(key)
        except CoordinationError as exc:  # its claim lapses: a redelivery is redone
            logger.warning("could not mark webhook %s done: %s", key, exc)


class StartVerification(BaseModel):
    user_id: str


def create_app(
    client_factory: Callable[[], AsyncIdenfy] | None = None,
    signing_key: str | None = None,
    public_url: str | None = None,
    answer_within: float | None = None,
) -> FastAPI:
    """The service; tests inject a client factory bound to a FakeIdenfy and the signing key."""
    signing_key = signing_key or os.environ.get("IDENFY_SIGNING_KEY")
    if not signing_key:
        if client_factory is not None or os.environ.get("IDENFY_API_KEY"):
            raise ConfigurationError("set IDENFY_SIGNING_KEY: webhooks cannot be verified")
        signing_key = FAKE_SIGNING_KEY
    public_url = public_url or os.environ.get("PUBLIC_BASE_URL")
    check_public_url(public_url)
    if answer_within is None:
        answer_within = float(os.environ.get("WEBHOOK_ANSWER_WITHIN", ANSWER_WITHIN))
    service = KycService(client_factory or default_client, signing_key, public_url, answer_within)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(lifespan=lifespan)
    app.state.service = service

    @app.post("/verifications")
    async def start_verification(body: StartVerification) -> dict[str, str | None]:
        try:
            return await service.start_verification(body.user_id)
        except RequestValidationError as exc:
            raise HTTPException(422, detail=str(exc)) from exc
        except OpenSessionError as exc:  # a session may be open or in flight for the user
            raise HTTPException(409, detail="a verification is already in progress") from exc
        except IdenfyError as exc:
            logger.warning("create_session failed: %s", exc)
            raise HTTPException(503, detail="identity verification unavailable") from exc

    @app.post("/verifications/{scan_ref}/reverify")
    async def reverify(scan_ref: str) -> dict[str, str]:
        """A returning user: face authentication, or 409 if a full verification is needed."""
        try:
            answer = await service.reverify(scan_ref)
        except RequestValidationError as exc:
            raise HTTPException(422, detail=str(exc)) from exc
        except NotFoundError as exc:
            raise HTTPException(404, detail="unknown verification") from exc
        except IdenfyError as exc:
            logger.warning("face authentication failed: %s", exc)
            raise HTTPException(503, detail="face authentication unavailable") from exc
        if answer is None:
            raise HTTPException(409, detail="not approved: start a new verification")
        return answer

    @app.post(WEBHOOK_PATH)
    async def idenfy_webhook(request: Request) -> Response:
        status = await service.accept_webhook(
            await request.body(),  # the raw bytes: the signature is over them
            request.headers.get("Idenfy-Signature"),
            request.headers.get("Idenfy-Event-Type"),
        )
        return Response(status_code=status)

    @app.get("/verifications/{scan_ref}")
    async def verification(scan_ref: str) -> dict[str, Any]:
        result = service.results.get(scan_ref)
        if result is None:
            raise HTTPException(404, detail="no result yet")
        return {
            "scan_ref": result.scan_ref,
            "client_id": result.client_id,
            "status": result.status,
            "final": result.final,
            "document_type": result.data.doc_type,  # a str enum: JSON gives its value
        }

    @app.get("/verifications/{scan_ref}/status")
    async def verdict(scan_ref: str) -> dict[str, Any]:
        """``{"overall": "APPROVED", "auto_document": ..., "fraud_tags": [...], ...}``."""
        result = service.results.get(scan_ref)
        if result is None:
            raise HTTPException(404, detail="no result yet")
        # A model is not JSON by itself (returning it fails in FastAPI's encoder): to_dict
        # gives its attributes as plain JSON values (to_wire: as iDenfy names them).
        return to_dict(result.verdict)

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=8000)
