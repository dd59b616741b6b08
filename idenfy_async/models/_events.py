"""Webhook events: what [`idenfy_async.webhooks.parse_event`][idenfy_async.parse_event] returns.

One class per notification type. ``dedupe_key`` is built from signed body fields only,
so a redelivery (or a replay with an altered, unsigned header) gets the same key.
Public through `idenfy_async.models` and `idenfy_async`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from ._aml_results import AmlMonitoringEvent, AmlMonitoringExpirationEvent
from ._checks import _mask
from ._open_enums import (
    DocumentExpirationThreshold,
    EventType,
    FacialAuthenticationMethod,
    FacialAuthenticationStatus,
    FacialAuthenticationType,
    Platform,
)
from ._results import (
    FileUrls,
    ServiceResult,
    VerificationData,
    VerificationStatus,
)

__all__ = [
    "DocumentExpirationEvent",
    "FacialAuthenticationEvent",
    "IdentificationEvent",
    "VideoCallAnswer",
    "VideoCallEvent",
    "WebhookEvent",
]


def _flag(value: bool | None) -> str:
    return "null" if value is None else str(value).lower()


@attrs.frozen(kw_only=True)
class IdentificationEvent:
    """An identification webhook (``IDENTIFICATION*`` event types): the verification result.

    ``final`` False means a manual review follows with another webhook; act on the
    final one. ``event_type`` is the ``Idenfy-Event-Type`` header, or
    ``IDENTIFICATION`` when it was not given. Nested objects this library does not
    model yet (bank, questionnaire, registry checks, ...) are plain mappings; the
    whole body is in ``raw``. ``repr()`` shows no personal data.
    """

    event_type: EventType | str = EventType.IDENTIFICATION
    scan_ref: str
    client_id: str | None = None
    external_ref: str | None = None
    final: bool | None = None
    platform: Platform | str | None = None
    status: VerificationStatus = attrs.field(factory=VerificationStatus)
    data: VerificationData = attrs.field(factory=VerificationData, repr=False)
    file_urls: FileUrls | None = attrs.field(default=None, repr=False)
    additional_step_pdf_urls: FileUrls | None = attrs.field(default=None, repr=False)
    start_time: int | None = None
    finish_time: int | None = None
    client_ip: str | None = attrs.field(default=None, repr=False)
    client_ip_country: str | None = attrs.field(default=None, repr=False)
    client_location: str | None = attrs.field(default=None, repr=False)
    company_id: str | None = None
    beneficiary_id: str | None = None
    #: Legacy AML results: wire key ``AML`` (a list), or from older integrations
    #: ``aml`` (one result object, or 2018's ``{suspected, results}``), all read here.
    aml: tuple[ServiceResult, ...] = attrs.field(default=(), repr=False)
    #: Lost and invalid document checks (wire key ``LID``, or ``lid`` as for ``aml``).
    lid: tuple[ServiceResult, ...] = attrs.field(default=(), repr=False)
    #: Wire key ``CRIMINAL_CHECK``.
    criminal_check: tuple[ServiceResult, ...] = attrs.field(default=(), repr=False)
    aml_check: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    gdc_match: bool | None = None
    manual_address: str | None = attrs.field(default=None, repr=False)
    manual_address_match: bool | None = None
    registry_center_check: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    address_verification: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    questionnaire_answers: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    risk_assessment: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    bank_verification: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    email_verification: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    phone_verification: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    driver_license_check: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    bank_card_verification: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    additional_steps: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def dedupe_key(self) -> str:
        """``scanRef|IDENTIFICATION|final|overall|finishTime``: equal for redeliveries.

        iDenfy retries failed deliveries and signatures carry no timestamp, so store
        this key and skip an event whose key you have already processed. It is made
        of signed body fields only: the ``Idenfy-Event-Type`` header is not signed,
        so a replay with an altered header gets the same key.
        """
        overall = self.status.overall
        finish = "" if self.finish_time is None else str(self.finish_time)
        return "|".join(
            (self.scan_ref, "IDENTIFICATION", _flag(self.final), str(overall or ""), finish)
        )


@attrs.frozen(kw_only=True)
class FacialAuthenticationEvent:
    """A FACIAL_AUTHENTICATION webhook: a returning user's face check finished.

    ``status`` is upper-cased (iDenfy's sources disagree on its case); the
    documented example has none, so it may be ``None``: then read the session
    back (``client.face_auth.get_session(token)``) for ``approved``.
    """

    event_type: EventType | str = EventType.FACIAL_AUTHENTICATION
    id: str | None = None
    scan_ref: str | None = None
    client_id: str | None = None
    token: str | None = attrs.field(default=None, repr=_mask)
    status: FacialAuthenticationStatus | str | None = None
    type: FacialAuthenticationType | str | None = None
    method: FacialAuthenticationMethod | str | None = None
    fail_reason: str | None = None
    risk_tags: tuple[str, ...] = ()
    face_photo: str | None = attrs.field(default=None, repr=False)
    ip_address: str | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def approved(self) -> bool | None:
        """True for SUCCESS, False for a finished failure, None while unknown or pending."""
        if self.status is None or self.status == FacialAuthenticationStatus.PENDING:
            return None
        return self.status == FacialAuthenticationStatus.SUCCESS

    @property
    def dedupe_key(self) -> str:
        """``scanRef|FACIAL_AUTHENTICATION|id-or-token|status``, from signed fields only."""
        return "|".join(
            (
                self.scan_ref or "",
                "FACIAL_AUTHENTICATION",
                self.id or self.token or "",
                str(self.status or ""),
            )
        )


@attrs.frozen(kw_only=True)
class DocumentExpirationEvent:
    """A DOCUMENT_EXPIRATION webhook: a verified document expires soon, or has expired."""

    event_type: EventType | str = EventType.DOCUMENT_EXPIRATION
    scan_ref: str
    client_id: str | None = None
    expiration_threshold: DocumentExpirationThreshold | str | None = None
    #: The document's expiry date as sent (normally ``YYYY-MM-DD``).
    document_expiration: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def dedupe_key(self) -> str:
        """``scanRef|DOCUMENT_EXPIRATION|threshold``, from signed fields only."""
        kind = "DOCUMENT_EXPIRATION"
        return "|".join((self.scan_ref, kind, str(self.expiration_threshold or "")))


@attrs.frozen(kw_only=True)
class VideoCallAnswer:
    """One answer of a video call: what the user said and whether the agent accepted it."""

    answer: str | None = attrs.field(default=None, repr=False)
    correct: bool | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class VideoCallEvent:
    """A VIDEO_CALL_FINISHED webhook (legacy video-call sessions, 2020 docs).

    ``status`` is the agent's verdict as a boolean; ``date`` is the call's end as
    sent (``"2020-08-14 12:48:08.085275+00:00"``); ``video_call_answers`` maps each
    question to its [`VideoCallAnswer`][idenfy_async.VideoCallAnswer]. ``repr()`` hides the auth
    token.
    """

    event_type: EventType | str = EventType.VIDEO_CALL_FINISHED
    scan_ref: str
    client_id: str | None = None
    auth_token: str | None = attrs.field(default=None, repr=_mask)
    status: bool | None = None
    date: str | None = None
    video_call_answers: Mapping[str, VideoCallAnswer] = attrs.field(factory=dict, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def dedupe_key(self) -> str:
        """``scanRef|VIDEO_CALL_FINISHED|status|date``, from signed fields only."""
        return "|".join((self.scan_ref, "VIDEO_CALL_FINISHED", _flag(self.status), self.date or ""))


#: What [`idenfy_async.webhooks.parse_event`][idenfy_async.parse_event] returns.
WebhookEvent: TypeAlias = (
    IdentificationEvent
    | FacialAuthenticationEvent
    | DocumentExpirationEvent
    | VideoCallEvent
    | AmlMonitoringEvent
    | AmlMonitoringExpirationEvent
)
