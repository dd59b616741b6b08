"""Verify and parse iDenfy webhooks; needs no client.

iDenfy signs each webhook with ``Idenfy-Signature``: the lower-case hex
HMAC-SHA256 of the exact body bytes, keyed with the notification's signing key.
Verify the raw bytes before parsing anything. In FastAPI::

    @app.post("/idenfy/webhook")
    async def idenfy_webhook(request: Request) -> Response:
        try:
            event = webhooks.construct_event(
                await request.body(),  # raw bytes, not a parsed model
                request.headers.get("Idenfy-Signature"),
                SIGNING_KEY,
                event_type=request.headers.get("Idenfy-Event-Type"),
            )
        except (SignatureVerificationError, WebhookPayloadError):
            return Response(status_code=400)
        if await remember(event.dedupe_key):  # False when already seen
            await queue.put(event)  # answer within 10 s; do the work elsewhere
        return Response(status_code=200)

Deduplicate: iDenfy retries failed deliveries and the signature carries no
timestamp, so a redelivery is byte-for-byte valid again. Store each event's
``dedupe_key`` and skip keys already processed. An auto result with
``final=False`` is followed by a manual one: act on the final event.

The AML webhooks (``AML_MONITORING``, ``AML_MONITORING_EXPIRATION``) are signed the
same way and parse to [`AmlMonitoringEvent`][idenfy_async.AmlMonitoringEvent] and
[`AmlMonitoringExpirationEvent`][idenfy_async.AmlMonitoringExpirationEvent].
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from ._wire.converter import shape_errors, shape_problem, structure
from .errors import (
    ConfigurationError,
    SignatureVerificationError,
    WebhookPayloadError,
)
from .models import (
    AmlMonitoringEvent,
    AmlMonitoringExpirationEvent,
    DocumentExpirationEvent,
    EventType,
    FacialAuthenticationEvent,
    FacialAuthenticationStatus,
    IdentificationEvent,
    VideoCallEvent,
    WebhookEvent,
    utf8_problem,
)

__all__ = [
    "EVENT_TYPE_HEADER",
    "MAX_WEBHOOK_BYTES",
    "SIGNATURE_HEADER",
    "construct_event",
    "parse_event",
    "sign",
    "verify_signature",
]

#: Bodies larger than this are refused before parsing (real ones are a few KiB).
MAX_WEBHOOK_BYTES: Final = 1024 * 1024
SIGNATURE_HEADER: Final = "Idenfy-Signature"
EVENT_TYPE_HEADER: Final = "Idenfy-Event-Type"

_HEX_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_PRINTABLE_TYPE: Final = re.compile(r"[A-Za-z0-9_. -]{1,64}")
_IDENTIFICATION_TYPES: Final = frozenset(
    {
        EventType.IDENTIFICATION,
        EventType.IDENTIFICATION_AUTO_FINISHED,
        EventType.IDENTIFICATION_MANUAL_FINISHED,
        EventType.IDENTIFICATION_EXPIRED,
        EventType.IDENTIFICATION_CANCELLED,
        EventType.IDENTIFICATION_RESUBMITTED,
    }
)
_EVENT_CLASSES: Final[Mapping[str, type[WebhookEvent]]] = {
    **dict.fromkeys(_IDENTIFICATION_TYPES, IdentificationEvent),
    EventType.FACIAL_AUTHENTICATION: FacialAuthenticationEvent,
    EventType.DOCUMENT_EXPIRATION: DocumentExpirationEvent,
    EventType.VIDEO_CALL_FINISHED: VideoCallEvent,
    EventType.AML_MONITORING: AmlMonitoringEvent,
    EventType.AML_MONITORING_EXPIRATION: AmlMonitoringExpirationEvent,
}
# Spellings seen in iDenfy's docs and dashboard for the same events.
_TYPE_ALIASES: Final = {
    "IDENTIFICATION_CANCELED": EventType.IDENTIFICATION_CANCELLED,
    "IDENTIFICATION_AUTO_FINISH": EventType.IDENTIFICATION_AUTO_FINISHED,
    "IDENTIFICATION_MANUAL_FINISH": EventType.IDENTIFICATION_MANUAL_FINISHED,
    "FACE_AUTHENTICATION": EventType.FACIAL_AUTHENTICATION,
}


def sign(body: bytes, signing_key: str | bytes) -> str:
    """The ``Idenfy-Signature`` value for ``body``: lower-case hex HMAC-SHA256."""
    return hmac.new(_key_bytes(signing_key), _body_bytes(body), hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, signing_key: str | bytes) -> None:
    """Check ``Idenfy-Signature`` against the raw request body; return None if it matches.

    ``signing_key`` is the key set for the notification in iDenfy's dashboard, used
    as UTF-8 bytes. The header is compared case-insensitively, in constant time.
    A signature that is not a ``str`` (raw header bytes, say) is malformed.

    Raises:
        SignatureVerificationError: the signature is missing, malformed or wrong.
        ConfigurationError: the signing key is empty, or neither str nor bytes.
        TypeError: ``body`` is not bytes (a ``str``: pass the raw bytes as received).
    """
    expected = sign(body, signing_key)
    if signature is None or (isinstance(signature, str) and not signature.strip()):
        raise SignatureVerificationError("missing")
    if not isinstance(signature, str):
        raise SignatureVerificationError("malformed")
    given = signature.strip().lower()
    if not _HEX_SHA256.fullmatch(given):
        raise SignatureVerificationError("malformed")
    if not hmac.compare_digest(expected, given):
        raise SignatureVerificationError("mismatch")


def parse_event(
    body: bytes | str | Mapping[str, Any], event_type: str | None = None
) -> WebhookEvent:
    """Decode a webhook body into its event model. Verify the signature first.

    The body's shape picks the model. ``event_type`` is the ``Idenfy-Event-Type``
    header (``ID_VERIFICATION_*`` and other documented spellings are accepted): it
    labels the event, and when it names a modelled type the body must be of that
    type. It never chooses the model: it is not signed. Without it, an
    identification body is labelled ``IDENTIFICATION``.

    Raises:
        WebhookPayloadError: not JSON, not an object, larger than
            [`MAX_WEBHOOK_BYTES`][idenfy_async.webhooks.MAX_WEBHOOK_BYTES], not the shape of any
            known event, or not the shape of the event ``event_type`` names.
    """
    payload = body if isinstance(body, Mapping) else _decode(body)
    kind = _event_type(event_type)
    named = _EVENT_CLASSES.get(kind) if kind is not None else None
    printable = kind is not None and _PRINTABLE_TYPE.fullmatch(kind)
    detail = f" (event type {kind})" if printable else ""
    # The signed body alone picks the model: the header is not signed, so it may
    # only agree (or name a type without a model of its own), never choose.
    cls = _shape_of(payload)
    if named is not None and named is not cls:
        raise WebhookPayloadError(f"the body is not a {named.__name__}{detail}")
    if cls is None:
        raise WebhookPayloadError(f"the body matches no known event{detail}")
    try:
        event: WebhookEvent = structure(payload, cls)
    except shape_errors() as exc:
        raise WebhookPayloadError(shape_problem(exc, cls.__name__)) from exc
    if kind is not None and kind != event.event_type:
        event = attrs.evolve(event, event_type=kind)
    return event


def construct_event(
    body: bytes,
    signature: str | None,
    signing_key: str | bytes,
    event_type: str | None = None,
) -> WebhookEvent:
    """Verify ``Idenfy-Signature`` on the raw body, then parse it (see
    [`parse_event`][idenfy_async.parse_event]).

    Raises:
        WebhookPayloadError: the body is over
            [`MAX_WEBHOOK_BYTES`][idenfy_async.webhooks.MAX_WEBHOOK_BYTES] (checked before hashing),
            or cannot be parsed.
        SignatureVerificationError: the signature is missing, malformed or wrong.
    """
    raw = _body_bytes(body)
    _check_size(len(raw))
    verify_signature(raw, signature, signing_key)
    return parse_event(raw, event_type)


# --------------------------------------------------------------------------- helpers


def _key_bytes(signing_key: str | bytes) -> bytes:
    if isinstance(signing_key, str):
        if utf8_problem(signing_key):  # checked, not raised: the error would hold the key
            raise ConfigurationError("the webhook signing key is not valid Unicode text")
        key = signing_key.encode()
    elif isinstance(signing_key, bytes | bytearray | memoryview):
        key = bytes(signing_key)
    else:  # bytes(5) would be five zero bytes, a key anyone can guess
        raise ConfigurationError("the webhook signing key must be a str or bytes")
    if not key:
        raise ConfigurationError("the webhook signing key is empty")
    return key


def _body_bytes(body: bytes) -> bytes:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(
            "the webhook body must be the raw request bytes (e.g. await request.body()),"
            " not text or another object: a signature is over the exact bytes received"
        )
    return bytes(body)


def _check_size(size: int) -> None:
    if size > MAX_WEBHOOK_BYTES:
        raise WebhookPayloadError(f"the body is larger than {MAX_WEBHOOK_BYTES} bytes")


def _decode(body: bytes | str) -> Mapping[str, Any]:
    if isinstance(body, str):
        if utf8_problem(body):
            raise WebhookPayloadError("the body is not valid Unicode text")
        raw = body.encode()
    else:
        raw = _body_bytes(body)
    _check_size(len(raw))
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise WebhookPayloadError("the body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookPayloadError("the body is not a JSON object")
    return payload


def _event_type(value: str | bytes | None) -> EventType | str | None:
    if isinstance(value, bytes):  # a raw header (ASGI): HTTP headers are Latin-1
        value = value.decode("latin-1")
    if value is not None and not isinstance(value, str):
        raise WebhookPayloadError("the event type is not text")
    if value is None or not value.strip():
        return None
    key = value.strip().upper().replace("-", "_").replace(" ", "_")
    if key.startswith("ID_VERIFICATION"):
        key = "IDENTIFICATION" + key.removeprefix("ID_VERIFICATION")
    known = EventType.parse(key)
    if isinstance(known, EventType):
        return known
    return _TYPE_ALIASES.get(key, value.strip())


def _is_document_expiration(payload: Mapping[str, Any]) -> bool:
    return "expirationThreshold" in payload or "documentExpiration" in payload


def _is_identification(payload: Mapping[str, Any]) -> bool:
    return isinstance(payload.get("status"), Mapping) or "data" in payload or "final" in payload


def _is_facial_authentication(payload: Mapping[str, Any]) -> bool:
    # The documented example carries no status string: its own fields decide. The
    # contract requires only id, scanRef, clientId and status (face OpenAPI,
    # FacialAuthenticationWebhook): a status of its enum (any case) decides too. An
    # object status is an identification's (checked first anyway), a boolean one a
    # video call's.
    own = ("token", "method", "facePhoto", "failReason", "riskTags")
    status = payload.get("status")
    if isinstance(status, str):
        return status.upper() in _FACIAL_STATUSES or any(key in payload for key in own)
    return status is None and any(key in payload for key in own)


_FACIAL_STATUSES: Final = frozenset(s.value for s in FacialAuthenticationStatus)


def _is_video_call(payload: Mapping[str, Any]) -> bool:
    return "videoCallAnswers" in payload


def _is_aml_monitoring(payload: Mapping[str, Any]) -> bool:
    # Its own required field; checked before the others: its string ``status``
    # (PENDING, say) would otherwise read as a face-authentication status.
    return "monitoringId" in payload


def _is_aml_expiration(payload: Mapping[str, Any]) -> bool:
    return "usersToExtend" in payload or "usersToExpire" in payload


# What identifies each event's body, in order: the first match is the model, so a
# body that matches two (an identification result that gains a documentExpiration
# field, say) always decodes the same way, whatever the header.
_SHAPES: Final[Mapping[type[WebhookEvent], Callable[[Mapping[str, Any]], bool]]] = {
    AmlMonitoringEvent: _is_aml_monitoring,
    AmlMonitoringExpirationEvent: _is_aml_expiration,
    IdentificationEvent: _is_identification,
    DocumentExpirationEvent: _is_document_expiration,
    FacialAuthenticationEvent: _is_facial_authentication,
    VideoCallEvent: _is_video_call,
}


def _shape_of(payload: Mapping[str, Any]) -> type[WebhookEvent] | None:
    return next((cls for cls, matches in _SHAPES.items() if matches(payload)), None)
