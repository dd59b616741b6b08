"""The fake's control surface: the ``/__fake__/`` endpoints and
[`FakeControl`][idenfy_async.testing.FakeControl].

The endpoints drive a served fake from outside Python (see the package doc); the
client calls them from Python and is what ``idenfy-async fake ...`` is built on.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol

import httpx

from ._common import (
    CONTROL_PREFIX,
    WEBHOOK_TIMEOUT,
    Answer,
    FakeSession,
    WebhookDelivery,
    answer,
    outcome_problem,
)

__all__ = ["Controlled", "FakeControl", "FakeControlError", "control"]


class Controlled(Protocol):
    """What the control endpoints drive: a [`FakeIdenfy`][idenfy_async.testing.FakeIdenfy]
    (named by what they use, so that this module sits below the fake)."""

    @property
    def sessions(self) -> list[FakeSession]: ...
    @property
    def webhooks(self) -> list[WebhookDelivery]: ...
    @property
    def signing_key(self) -> str | bytes: ...
    def reset(self) -> None: ...
    def session(self, scan_ref: str) -> FakeSession: ...
    def complete(
        self,
        scan_ref: str,
        outcome: str = ...,
        *,
        fraud_tags: Iterable[str] = ...,
        mismatch_tags: Iterable[str] = ...,
        final: bool = ...,
        allow_unknown_status: bool = ...,
    ) -> FakeSession: ...
    async def send_webhook(
        self,
        scan_ref: str,
        *,
        signing_key: str | bytes,
        event_type: str = ...,
        url: str | None = ...,
        origin: str | None = ...,
    ) -> int: ...


async def control(
    fake: Controlled, method: str, path: str, body: bytes, *, origin: str | None = None
) -> Answer:
    """Answer one request to a ``/__fake__/`` control endpoint (see the module doc).

    Answers are JSON; a problem is ``{"error": "..."}`` with 400 (bad body), 404
    (unknown scanRef or endpoint), 405, or 502 (the webhook got no answer).
    ``origin``: where the request reached a served fake (its webhooks' file URLs).
    """
    path = path.partition("?")[0].removeprefix(CONTROL_PREFIX).strip("/")
    parts = path.split("/") if path else []
    if parts == ["reset"]:
        if method != "POST":
            return _control_error(405, "use POST")
        forgotten = len(fake.sessions)
        fake.reset()
        return answer(200, {"reset": True, "forgottenSessions": forgotten})
    if not parts or parts[0] != "sessions" or len(parts) > 3:
        return _control_error(404, f"no control endpoint {CONTROL_PREFIX}{path}")
    if len(parts) == 1:
        if method != "GET":
            return _control_error(405, "use GET")
        return answer(200, {"sessions": [_summary(s) for s in fake.sessions]})
    scan_ref = urllib.parse.unquote(parts[1])
    try:
        session = fake.session(scan_ref)
    except KeyError:
        return _control_error(404, f"no session with scanRef {scan_ref!r}")
    action = parts[2] if len(parts) == 3 else None
    if action is None:
        if method != "GET":
            return _control_error(405, "use GET")
        return answer(200, _summary(session))
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
        return _control_complete(fake, session, options)
    return await _control_webhook(fake, session, options, origin)


def _control_complete(fake: Controlled, session: FakeSession, options: Mapping[str, Any]) -> Answer:
    outcome = options.get("status", "APPROVED")
    fraud = options.get("fraudTags", [])
    mismatch = options.get("mismatchTags", [])
    final = options.get("final", True)
    allow_unknown = options.get("allowUnknownStatus", False)
    if not isinstance(outcome, str) or not outcome:
        return _control_error(400, "status must be a non-empty string")
    if not isinstance(allow_unknown, bool):
        return _control_error(400, "allowUnknownStatus must be true or false")
    problem = outcome_problem(
        outcome.upper(), allow_unknown=allow_unknown, flag='"allowUnknownStatus": true'
    )
    if problem is not None:
        return _control_error(400, problem)
    for name, tags in (("fraudTags", fraud), ("mismatchTags", mismatch)):
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return _control_error(400, f"{name} must be a list of strings")
    if not isinstance(final, bool):
        return _control_error(400, "final must be true or false")
    try:
        fake.complete(
            session.scan_ref,
            outcome,
            fraud_tags=fraud,
            mismatch_tags=mismatch,
            final=final,
            allow_unknown_status=allow_unknown,
        )
    except ValueError as exc:
        return _control_error(400, str(exc))
    return answer(200, _summary(session))


async def _control_webhook(
    fake: Controlled, session: FakeSession, options: Mapping[str, Any], origin: str | None
) -> Answer:
    key = options.get("signingKey", fake.signing_key)
    event_type = options.get("eventType", "IDENTIFICATION_AUTO_FINISHED")
    url = options.get("url")
    for name, value in (("signingKey", key), ("eventType", event_type)):
        if not isinstance(value, str | bytes) or not value:
            return _control_error(400, f"{name} must be a non-empty string")
    if url is not None and not isinstance(url, str):
        return _control_error(400, "url must be a string")
    try:
        status = await fake.send_webhook(
            session.scan_ref, signing_key=key, event_type=event_type, url=url, origin=origin
        )
    except ValueError as exc:
        return _control_error(400, str(exc))
    except httpx.HTTPError as exc:
        return _control_error(502, f"the webhook got no answer ({type(exc).__name__})")
    delivery = fake.webhooks[-1]
    return answer(
        200,
        {
            "scanRef": session.scan_ref,
            "url": delivery.url,
            "eventType": delivery.event_type,
            "statusCode": status,
        },
    )


def _control_error(status: int, message: str) -> Answer:
    return answer(status, {"error": message})


def _summary(session: FakeSession) -> dict[str, Any]:
    """What the control endpoints tell of a session: no token, no personal data."""
    return {
        "scanRef": session.scan_ref,
        "clientId": session.client_id,
        "status": session.status,
        "final": session.final,
        "callbackUrl": session.callback_url,
    }


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

    Every method raises [`FakeControlError`][idenfy_async.testing.FakeControlError] when the fake
    cannot be reached or refuses (unknown scanRef, bad outcome, a webhook that got no answer).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = WEBHOOK_TIMEOUT + 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url: str = base_url.rstrip("/")
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
        """One session, as [`sessions`][idenfy_async.testing.FakeControl.sessions] lists it."""
        return await self._call("GET", f"/sessions/{_quote(scan_ref)}")

    async def complete(
        self,
        scan_ref: str,
        status: str = "APPROVED",
        *,
        fraud_tags: Iterable[str] = (),
        mismatch_tags: Iterable[str] = (),
        final: bool = True,
        allow_unknown_status: bool = False,
    ) -> dict[str, Any]:
        """Play the user's verification
        ([`FakeIdenfy.complete`][idenfy_async.testing.FakeIdenfy.complete]); the session after.

        A ``status`` iDenfy does not document is refused
        ([`FakeControlError`][idenfy_async.testing.FakeControlError], 400, naming the valid ones)
        unless ``allow_unknown_status`` lets it through.
        """
        body = {
            "status": status,
            "fraudTags": list(fraud_tags),
            "mismatchTags": list(mismatch_tags),
            "final": final,
            "allowUnknownStatus": allow_unknown_status,
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
