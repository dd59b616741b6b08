"""Answers and webhook events of iDenfy's standalone AML API.

Read leniently, never wrongly: an enum value iDenfy adds stays a plain ``str``, a list
sent as null is empty, a field this library does not name is kept in ``raw``. A check
or monitoring needs only its ``id`` (it proves what was made, and paid for); the rest
may be missing. The ``userType`` union is read by what is present: when the field is
missing (the webhook's check never carries one), the shape decides (a person's hits
carry nationalities and birth dates, a company's input its name).

Three things iDenfy calls ``amlCheck`` have distinct names here: a check's hits are
``hits``, a monitoring's check is ``check``, the webhook's check is ``check``.
Names, birth dates and articles are personal data: never in ``repr()``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from ._open_enums import (
    AmlAlertStatus,
    AmlCheckStatus,
    AmlDataset,
    AmlDateOfBirthMatching,
    AmlMonitoringStatus,
    AmlPepTier,
    AmlSex,
    AmlUserType,
    EventType,
)
from ._results import ServiceResult

__all__ = [
    "AmlAdverseMedia",
    "AmlCheck",
    "AmlCheckFilter",
    "AmlCheckInput",
    "AmlCheckMonitoring",
    "AmlHit",
    "AmlHitAddress",
    "AmlMonitoring",
    "AmlMonitoringEvent",
    "AmlMonitoringExpirationEvent",
    "AmlMonitoringSummary",
    "AmlProfile",
    "AmlWebhookCheck",
]

_FLAGGED = frozenset({AmlCheckStatus.FLAGS_FOUND, AmlCheckStatus.TRUE_POSITIVE})


@attrs.frozen(kw_only=True)
class AmlHitAddress:
    """Where a hit is located: ``geography`` (an upper-case ISO country or territory code)
    and ``city``."""

    geography: str | None = None
    city: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlHit:
    """One profile a check matched (a row of the check's ``amlCheck`` list).

    ``resource_id`` is the profile's id: pass it to ``client.aml.get_profile`` (the full
    profile), ``profile_pdf`` or ``remove_profile``. ``score`` is the match score;
    ``version`` changes when iDenfy changes the profile. Person hits carry
    ``nationalities``, ``dates_of_birth`` (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``, kept as
    text), ``gender`` and ``pep_tier``; company hits leave them empty.
    """

    resource_id: str
    score: int | None = None
    match: str | None = attrs.field(default=None, repr=False)
    name: str | None = attrs.field(default=None, repr=False)
    version: int | None = None
    datasets: tuple[AmlDataset | str, ...] = ()
    current_san_body_ids: tuple[int, ...] = ()
    former_san_body_ids: tuple[int, ...] = ()
    addresses: tuple[AmlHitAddress, ...] = attrs.field(default=(), repr=False)
    nationalities: tuple[str, ...] = attrs.field(default=(), repr=False)
    dates_of_birth: tuple[str, ...] = attrs.field(default=(), repr=False)
    gender: AmlSex | str | None = attrs.field(default=None, repr=False)
    profile_image: str | None = attrs.field(default=None, repr=False)
    pep_tier: AmlPepTier | str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlAdverseMedia:
    """One news article a check found (``adverseMedia``).

    ``score`` is an integer in checks and text in webhooks: text that is a number is read
    as one, other text as None (kept in ``raw``). ``type`` is ``NEGATIVE`` in checks, any
    text in webhooks. ``status`` and ``comment`` come with webhooks only.
    """

    url: str | None = attrs.field(default=None, repr=False)
    title: str | None = attrs.field(default=None, repr=False)
    text: str | None = attrs.field(default=None, repr=False)
    score: int | None = None
    type: str | None = None
    publish_date: str | None = None
    status: str | None = None
    comment: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlCheckInput:
    """Who a check screened, as iDenfy echoes it: ``full_name`` and the rest for a person,
    ``company_name`` and ``country`` for a company."""

    full_name: str | None = attrs.field(default=None, repr=False)
    nationality: str | None = attrs.field(default=None, repr=False)
    date_of_birth: str | None = attrs.field(default=None, repr=False)
    sex: AmlSex | str | None = attrs.field(default=None, repr=False)
    company_name: str | None = attrs.field(default=None, repr=False)
    country: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlCheckFilter:
    """How a check screened (as iDenfy applied it: a monitoring's is iDenfy's choice)."""

    threshold: int | None = None
    datasets: tuple[AmlDataset | str, ...] = ()
    sanction_bodies: tuple[int, ...] = ()
    date_of_birth_matching: AmlDateOfBirthMatching | str | None = None
    pep_tiers: tuple[AmlPepTier | str, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlCheckMonitoring:
    """The monitoring a check belongs to, as the check names it."""

    id: str
    status: AmlMonitoringStatus | str | None = None
    is_subscribed: bool | None = None
    expiration: str | None = None
    tags: tuple[str, ...] = ()
    created: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def _count(items: tuple[Any, ...] | None) -> int:
    return len(items) if items else 0


@attrs.frozen(kw_only=True)
class AmlCheck:
    """One AML check: the answer of ``client.aml.create_check`` (and a monitoring's ``check``).

    iDenfy cannot show a check again (there is no read of a check): keep this object, or
    at least its ``id``, which the PDF and the profiles need. ``checked_at`` None and
    ``overall_status`` ``NOT_CHECKED`` mean the screening has not run yet; ``hits`` and
    ``adverse_media`` are then empty. ``user_type`` comes from ``userType``, else from
    the shape of the answer.
    """

    id: str
    client_id: str | None = None
    user_type: AmlUserType | str | None = None
    overall_status: AmlCheckStatus | str | None = None
    checked_at: str | None = None
    created: str | None = None
    input: AmlCheckInput | None = attrs.field(default=None, repr=False)
    filter: AmlCheckFilter | None = attrs.field(default=None, repr=False)
    #: The profiles matched (the wire's ``amlCheck`` list).
    hits: tuple[AmlHit, ...] = attrs.field(default=(), repr=False)
    adverse_media: tuple[AmlAdverseMedia, ...] = attrs.field(default=(), repr=False)
    monitoring: AmlCheckMonitoring | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def flagged(self) -> bool:
        """True when iDenfy's verdict is ``FLAGS_FOUND`` or ``TRUE_POSITIVE``."""
        return self.overall_status in _FLAGGED

    @property
    def hit_count(self) -> int:
        """How many profiles matched."""
        return _count(self.hits)

    @property
    def adverse_media_count(self) -> int:
        """How many articles were found."""
        return _count(self.adverse_media)


@attrs.frozen(kw_only=True)
class AmlMonitoring:
    """One monitoring: iDenfy screens ``check``'s subject again every day until
    ``expiration`` (renewed then when ``is_subscribed``). ``status`` ``ALERT`` means a
    rescreen found something; the ``AML_MONITORING`` webhook says so too."""

    id: str
    status: AmlMonitoringStatus | str | None = None
    is_subscribed: bool | None = None
    expiration: str | None = None
    created: str | None = None
    tags: tuple[str, ...] = ()
    #: The monitored check (the wire's ``amlCheck``): subject, filter, current hits.
    check: AmlCheck | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlMonitoringSummary:
    """One row of ``client.aml.list_monitorings()``: no clientId, hits or check id (get the
    monitoring for those). ``name`` is at most 100 characters (longer names are cut)."""

    id: str
    name: str | None = attrs.field(default=None, repr=False)
    status: AmlMonitoringStatus | str | None = None
    user_type: AmlUserType | str | None = None
    is_subscribed: bool | None = None
    checked_at: str | None = None
    expiration: str | None = None
    tags: tuple[str, ...] = ()
    created: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlProfile:
    """The full profile behind a hit (``client.aml.get_profile``), of a person or a company.

    ``user_type`` is the one asked for, else read from the shape (a person's profile has
    ``lastName`` and birth dates, a company's a ``name`` and business types). The
    commonly needed fields are typed; every list of entries (sanctions, PEP positions,
    evidence, links, ...) is kept as received in ``raw`` and in the mappings below.
    """

    resource_id: str
    user_type: AmlUserType | str | None = None
    version: int | None = None
    name: str | None = attrs.field(default=None, repr=False)
    first_name: str | None = attrs.field(default=None, repr=False)
    middle_name: str | None = attrs.field(default=None, repr=False)
    last_name: str | None = attrs.field(default=None, repr=False)
    gender: AmlSex | str | None = attrs.field(default=None, repr=False)
    is_deleted: bool | None = None
    is_deceased: bool | None = None
    datasets: tuple[AmlDataset | str, ...] = ()
    nationalities: tuple[str, ...] = attrs.field(default=(), repr=False)
    dates_of_birth: tuple[str, ...] = attrs.field(default=(), repr=False)
    business_types: tuple[str, ...] = ()
    aliases: tuple[Mapping[str, Any], ...] = attrs.field(default=(), repr=False)
    addresses: tuple[Mapping[str, Any], ...] = attrs.field(default=(), repr=False)
    evidences: tuple[Mapping[str, Any], ...] = attrs.field(default=(), repr=False)
    san_entries: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    pep_entries: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class AmlWebhookCheck:
    """The check of an ``AML_MONITORING`` webhook: the latest screening's verdict and hits.

    ``status_set_by`` is the dashboard user who set ``overall_status``, if any.
    """

    id: str
    user_type: AmlUserType | str | None = None
    overall_status: AmlCheckStatus | str | None = None
    status_set_by: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    status_set_at: str | None = None
    hits: tuple[AmlHit, ...] = attrs.field(default=(), repr=False)
    adverse_media: tuple[AmlAdverseMedia, ...] = attrs.field(default=(), repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def _body_digest(raw: Mapping[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@attrs.frozen(kw_only=True)
class AmlMonitoringEvent:
    """The ``AML_MONITORING`` webhook: a monitored subject was screened again, or its
    result was accepted or declined.

    Correlate by ``monitoring_id`` (the payload carries no clientId: keep the id from
    ``create_monitoring``). Decide on ``status`` (``ALERT``: something was found);
    ``alert_status`` is iDenfy's deprecated v2 status, kept as sent. ``results`` are the
    legacy v2 result blocks, ``check`` the current one.
    """

    event_type: EventType | str = EventType.AML_MONITORING
    monitoring_id: str
    status: AmlMonitoringStatus | str | None = None
    alert_status: AmlAlertStatus | str | None = None
    is_active: bool | None = None
    expiration: str | None = None
    peps_status: AmlCheckStatus | str | None = None
    sanctions_status: AmlCheckStatus | str | None = None
    adverse_media_status: AmlCheckStatus | str | None = None
    name: str | None = attrs.field(default=None, repr=False)
    surname: str | None = attrs.field(default=None, repr=False)
    nationality: str | None = attrs.field(default=None, repr=False)
    dob: str | None = attrs.field(default=None, repr=False)
    scan_ref_list: tuple[str, ...] = ()
    results: tuple[ServiceResult, ...] = attrs.field(default=(), repr=False)
    check: AmlWebhookCheck | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def dedupe_key(self) -> str:
        """``monitoringId|AML_MONITORING|status|checkId|digest``, from signed fields only.

        ``digest`` is a hash of the whole signed body: a redelivery (byte for byte the
        same) gets the same key, and any change of the result a new one.
        """
        check_id = self.check.id if self.check is not None else ""
        parts = (self.monitoring_id, "AML_MONITORING", str(self.status or ""), check_id)
        return "|".join((*parts, _body_digest(self.raw)))


@attrs.frozen(kw_only=True)
class AmlMonitoringExpirationEvent:
    """The ``AML_MONITORING_EXPIRATION`` webhook: how many monitorings will be renewed
    (``users_to_extend``: subscribed, likely charged) and how many will lapse
    (``users_to_expire``). It names none: list them with
    ``client.aml.list_monitorings(is_expired=...)`` or the ``expiration`` filter."""

    event_type: EventType | str = EventType.AML_MONITORING_EXPIRATION
    users_to_extend: int | None = None
    users_to_expire: int | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def dedupe_key(self) -> str:
        """``AML_MONITORING_EXPIRATION|extend|expire``, from signed fields only.

        The body has no id or date: a notice with the same counts on another day gets
        the same key, so keep these keys for a day, not for ever.
        """
        extend = "" if self.users_to_extend is None else str(self.users_to_extend)
        expire = "" if self.users_to_expire is None else str(self.users_to_expire)
        return "|".join(("AML_MONITORING_EXPIRATION", extend, expire))
