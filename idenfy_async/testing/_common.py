"""What every part of the fake shares: its defaults, its records, and how it answers.

The fake's modules answer with ``(status, headers, body)`` triples (`Answer`);
`answer` and `error` build them in iDenfy's JSON shapes.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any, Final

import attrs

DEFAULT_API_KEY: Final = "test-key"
DEFAULT_API_SECRET: Final = "test-secret"
FAKE_BASE_URL: Final = "https://ivs.idenfy.com"
DEFAULT_EXPIRY_TIME: Final = 86_400
DEFAULT_SESSION_LENGTH: Final = 1_800
#: The document types a session accepts when the request names none (the
#: additional-steps example's dashboard default).
DEFAULT_DOCUMENTS: Final = ("ID_CARD", "PASSPORT", "DRIVER_LICENSE", "RESIDENCE_PERMIT")
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
TOKEN_ALPHABET: Final = string.ascii_letters + string.digits

#: The statuses a verification ends with, as iDenfy documents them: what
#: ``fake.complete`` takes without ``allow_unknown_status``.
OUTCOMES: Final = ("APPROVED", "DENIED", "SUSPECTED", "REVIEWING", "EXPIRED")
#: Statuses that are not the end of a verification (a session's start, or deletion).
NOT_OUTCOMES: Final = ("ACTIVE", "DELETED", "EXPIRED-DELETED")
#: One answer: (status, headers, body).
Answer = tuple[int, dict[str, str], bytes]


@attrs.define
class FakeSession:
    """A session the fake created: what was asked for, what was answered, where it stands.

    ``status`` is the overall status (``ACTIVE`` until
    [`FakeIdenfy.complete`][idenfy_async.testing.FakeIdenfy.complete]); ``result`` the webhook's
    ``status`` object, ``data`` its ``data`` object and ``file_urls`` its ``fileUrls`` (all empty
    while ACTIVE and after deletion).
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
    """One webhook [`FakeIdenfy.send_webhook`][idenfy_async.testing.FakeIdenfy.send_webhook]
    delivered, and the answer it got."""

    scan_ref: str
    event_type: str
    url: str
    body: bytes = attrs.field(repr=False)
    signature: str = attrs.field(repr=False)
    status_code: int


@attrs.frozen
class Request:
    """One API request as the endpoints see it.

    ``origin`` is where the client reached the fake (``http://HOST:PORT``, over TCP);
    None in-process, where the fake names its own invalid hosts.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    origin: str | None = None


def answer(status: int, body: Any) -> Answer:
    """A JSON answer."""
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def error(status: int, identifier: str, message: str) -> Answer:
    """An iDenfy error answer: ``{"identifier": ..., "message": ...}`` (reference §4.1)."""
    return answer(status, {"identifier": identifier, "message": message})


def json_object(body: bytes) -> dict[str, Any] | Answer:
    """The request body as a JSON object, or the 400 ``JSON_ERROR`` iDenfy answers."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return error(400, "JSON_ERROR", "JSON parse error.")
    if not isinstance(payload, dict):
        return error(400, "JSON_ERROR", "Request body must be a JSON object.")
    return payload


def outcome_problem(outcome: str, *, allow_unknown: bool, flag: str) -> str | None:
    """Why ``outcome`` (upper-cased) cannot end a verification, or None.

    ACTIVE and the deleted statuses never can; a status iDenfy does not document only
    with ``allow_unknown`` (to test how a client handles a value newer than it), which
    the message names as ``flag`` (the keyword, field or option of the caller).
    """
    if outcome in NOT_OUTCOMES:
        return f"{outcome} is not an outcome; use delete_verification"
    if outcome in OUTCOMES or allow_unknown:
        return None
    return (
        f"unknown status {outcome!r}: use {', '.join(OUTCOMES[:-1])} or {OUTCOMES[-1]}"
        f" ({flag} lets a made-up one through, to test a client's handling of new values)"
    )
