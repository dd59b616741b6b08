"""Decoded results: a verification's status, its data, its files, third-party checks,
and the listing entries. Never sent; built by `idenfy_async._wire.converter`.

Unknown fields are kept in ``raw``; enum fields hold an open-enum member or, for a
value iDenfy added since, the plain ``str``. Dates stay strings: documented examples
hold placeholders such as "YYYY-MM-DD". Public through `idenfy_async.models`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ._checks import _mask as _mask
from ._enums import DocumentType
from ._open_enums import (
    AdditionalStepsStatus,
    AgeEstimate,
    DocumentSex,
    DocumentStatus,
    FaceStatus,
    FraudTag,
    IpProxyRiskLevel,
    MismatchTag,
    OverallStatus,
)

__all__ = [
    "FileUrls",
    "ServiceResult",
    "ServiceStatus",
    "StatusResult",
    "VerificationData",
    "VerificationStatus",
    "VerificationSummary",
]


@attrs.frozen(kw_only=True)
class VerificationStatus:
    """The ``status`` object of an identification webhook.

    Manual fields are ``None`` until a human reviewed the session (an empty string
    from iDenfy also decodes to ``None``).
    [`document`][idenfy_async.models.VerificationStatus.document] and
    [`face`][idenfy_async.models.VerificationStatus.face] give the final word: the manual result
    when there is one, else the automatic one.
    """

    overall: OverallStatus | str | None = None
    auto_document: DocumentStatus | str | None = None
    auto_face: FaceStatus | str | None = None
    manual_document: DocumentStatus | str | None = None
    manual_face: FaceStatus | str | None = None
    fraud_tags: tuple[FraudTag | str, ...] = ()
    mismatch_tags: tuple[MismatchTag | str, ...] = ()
    #: Legacy (pre-2021) list, same values as ``fraud_tags``.
    suspicion_reasons: tuple[FraudTag | str, ...] = ()
    #: Documented as a string; kept as given if iDenfy ever sends an object.
    additional_steps: AdditionalStepsStatus | str | Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def document(self) -> DocumentStatus | str | None:
        """The manual document result when reviewed, else the automatic one."""
        return self.manual_document or self.auto_document

    @property
    def face(self) -> FaceStatus | str | None:
        """The manual face result when reviewed, else the automatic one."""
        return self.manual_face or self.auto_face


@attrs.frozen(kw_only=True)
class StatusResult:
    """The ``/api/v2/status`` answer: the overall verdict and its reasons.

    A fallback for a missed webhook only: iDenfy restricts accounts that poll it.
    """

    status: OverallStatus | str | None = None
    scan_ref: str
    client_id: str | None = None
    auto_document: DocumentStatus | str | None = None
    auto_face: FaceStatus | str | None = None
    manual_document: DocumentStatus | str | None = None
    manual_face: FaceStatus | str | None = None
    fraud_tags: tuple[FraudTag | str, ...] = ()
    mismatch_tags: tuple[MismatchTag | str, ...] = ()
    #: Not in the documented example; some accounts may send it.
    final: bool | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class VerificationData:
    """The ``data`` object of an identification webhook, and the ``/api/v2/data`` answer.

    Every field may be missing or null. Dates are strings as sent (normally
    ``YYYY-MM-DD``, but not always). ``org_*`` fields hold the original script.
    ``repr()`` shows no personal data.
    """

    scan_ref: str | None = None
    client_id: str | None = None
    doc_type: DocumentType | str | None = None
    doc_issuing_country: str | None = None
    selected_country: str | None = None
    manually_data_changed: bool | None = None
    client_ip_proxy_risk_level: IpProxyRiskLevel | str | None = None

    doc_first_name: str | None = attrs.field(default=None, repr=False)
    doc_last_name: str | None = attrs.field(default=None, repr=False)
    full_name: str | None = attrs.field(default=None, repr=False)
    doc_number: str | None = attrs.field(default=None, repr=False)
    doc_personal_code: str | None = attrs.field(default=None, repr=False)
    doc_expiry: str | None = attrs.field(default=None, repr=False)
    doc_dob: str | None = attrs.field(default=None, repr=False)
    doc_date_of_issue: str | None = attrs.field(default=None, repr=False)
    doc_sex: DocumentSex | str | None = attrs.field(default=None, repr=False)
    doc_nationality: str | None = attrs.field(default=None, repr=False)
    birth_place: str | None = attrs.field(default=None, repr=False)
    authority: str | None = attrs.field(default=None, repr=False)
    address: str | None = attrs.field(default=None, repr=False)
    doc_temporary_address: str | None = attrs.field(default=None, repr=False)
    mothers_maiden_name: str | None = attrs.field(default=None, repr=False)
    doc_birth_name: str | None = attrs.field(default=None, repr=False)
    doc_patronymic: str | None = attrs.field(default=None, repr=False)
    driver_license_category: str | None = attrs.field(default=None, repr=False)
    org_first_name: str | None = attrs.field(default=None, repr=False)
    org_last_name: str | None = attrs.field(default=None, repr=False)
    org_nationality: str | None = attrs.field(default=None, repr=False)
    org_birth_place: str | None = attrs.field(default=None, repr=False)
    org_authority: str | None = attrs.field(default=None, repr=False)
    org_address: str | None = attrs.field(default=None, repr=False)
    org_temporary_address: str | None = attrs.field(default=None, repr=False)
    org_mothers_maiden_name: str | None = attrs.field(default=None, repr=False)
    org_patronymic: str | None = attrs.field(default=None, repr=False)
    org_birth_name: str | None = attrs.field(default=None, repr=False)
    age_estimate: AgeEstimate | str | None = attrs.field(default=None, repr=False)
    #: scanRefs of other verifications with the same face / document face.
    duplicate_faces: tuple[str, ...] | None = None
    duplicate_doc_faces: tuple[str, ...] | None = None
    additional_data: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    # Older payloads put these here; IdentificationEvent also reads them from here.
    manual_address: str | None = attrs.field(default=None, repr=False)
    manual_address_match: bool | None = None
    registry_center_check: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    address_verification: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


class FileUrls(Mapping[str, "str | None"]):
    """Media file name -> pre-signed URL (``FRONT``, ``BACK``, ``FACE``, ``*_VIDEO``, steps).

    The URLs expire about one hour after the webhook was sent: download at once.
    They grant access to identity documents, so ``repr()`` shows the names only.
    Values that are not strings (or null) are left out.
    """

    __slots__ = ("_urls",)

    def __init__(self, urls: Mapping[str, Any] | None = None) -> None:
        self._urls: dict[str, str | None] = {
            str(name): url
            for name, url in (urls or {}).items()
            if url is None or isinstance(url, str)
        }

    def __getitem__(self, name: str) -> str | None:
        return self._urls[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._urls)

    def __len__(self) -> int:
        return len(self._urls)

    def __repr__(self) -> str:
        return f"FileUrls(<{', '.join(self._urls)}>)"

    @property
    def front(self) -> str | None:
        """URL of the document's front image."""
        return self._urls.get("FRONT")

    @property
    def back(self) -> str | None:
        """URL of the document's back image."""
        return self._urls.get("BACK")

    @property
    def face(self) -> str | None:
        """URL of the selfie."""
        return self._urls.get("FACE")

    @property
    def front_video(self) -> str | None:
        """URL of the document front video."""
        return self._urls.get("FRONT_VIDEO")

    @property
    def back_video(self) -> str | None:
        """URL of the document back video."""
        return self._urls.get("BACK_VIDEO")

    @property
    def face_video(self) -> str | None:
        """URL of the selfie video."""
        return self._urls.get("FACE_VIDEO")


@attrs.frozen(kw_only=True)
class ServiceStatus:
    """The ``status`` of an AML, LID or criminal check (iDenfy's FraudStatus)."""

    overall_status: str | None = None  # SUSPECTED | NOT_SUSPECTED
    service_suspected: bool | None = None
    service_used: bool | None = None
    service_found: bool | None = None
    check_successful: bool | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class ServiceResult:
    """One entry of ``AML``, ``LID`` or ``CRIMINAL_CHECK``: a third-party check.

    ``service_name`` is free text (iDenfy renamed services over time). ``data``
    holds the hits as sent (names, birth dates: personal data, not in ``repr()``).
    """

    service_name: str | None = None
    service_group_type: str | None = None
    status: ServiceStatus | None = None
    uid: str | None = None
    error_message: str | None = None
    data: tuple[Any, ...] = attrs.field(default=(), repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class VerificationSummary:
    """One verification in the ``GET /kyc/identifications/`` listing.

    ``suspected`` is iDenfy's flag for fraud or mismatch tags; fetch the status or
    data for the details.
    """

    scan_ref: str
    status: OverallStatus | str | None = None
    suspected: bool | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
