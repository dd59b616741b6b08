"""The open enums: every enum value decoded from iDenfy (results, webhook events, KYC
answers). iDenfy adds values without notice, so a known value becomes a member and an
unknown one stays a plain ``str``.

Public through `idenfy_async.models` and `idenfy_async`.
"""

from __future__ import annotations

import enum
from typing import TypeVar

__all__ = [
    "AdditionalStepsStatus",
    "AgeEstimate",
    "AmlAlertStatus",
    "AmlCheckStatus",
    "AmlDataset",
    "AmlDateOfBirthMatching",
    "AmlMonitoringStatus",
    "AmlPepTier",
    "AmlSex",
    "AmlUserType",
    "BlocklistSource",
    "DocumentExpirationThreshold",
    "DocumentSex",
    "DocumentStatus",
    "EventType",
    "FaceAuthCheckType",
    "FaceStatus",
    "FacialAuthenticationMethod",
    "FacialAuthenticationStatus",
    "FacialAuthenticationType",
    "FraudTag",
    "IpProxyRiskLevel",
    "MismatchTag",
    "OverallStatus",
    "Platform",
    "PoaOverallStatus",
    "ProcessingDocumentType",
]


# Decoded from iDenfy, never sent. Members are ``str`` too, so
# ``tag == "NAME"`` works whether the value was known or not.

_E = TypeVar("_E", bound="_OpenEnum")


class _OpenEnum(str, enum.Enum):
    def __str__(self) -> str:
        # The wire value, like the plain str an unknown value decodes to.
        return str(self.value)

    @classmethod
    def parse(cls: type[_E], value: str) -> _E | str:
        """The member for a known value; the value itself (a plain ``str``) otherwise."""
        member = cls._value2member_map_.get(value)
        return member if isinstance(member, cls) else value


class OverallStatus(_OpenEnum):
    """``status.overall`` / the ``/api/v2/status`` verdict (IdentificationStatusEnum)."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"
    SUSPECTED = "SUSPECTED"
    REVIEWING = "REVIEWING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    EXPIRED_DELETED = "EXPIRED-DELETED"
    DELETED = "DELETED"
    ARCHIVED = "ARCHIVED"


class FaceStatus(_OpenEnum):
    """``autoFace`` / ``manualFace`` (FaceStatusEnum plus vocabulary-page values)."""

    FACE_MATCH = "FACE_MATCH"
    FACE_NOT_CHECKED = "FACE_NOT_CHECKED"
    FACE_MISMATCH = "FACE_MISMATCH"
    NO_FACE_FOUND = "NO_FACE_FOUND"
    TOO_MANY_FACES = "TOO_MANY_FACES"
    FACE_TOO_BLURRY = "FACE_TOO_BLURRY"
    FACE_GLARED = "FACE_GLARED"
    FACE_UNCERTAIN = "FACE_UNCERTAIN"
    FACE_NOT_ANALYSED = "FACE_NOT_ANALYSED"
    FACE_ERROR = "FACE_ERROR"
    AUTO_UNVERIFIABLE = "AUTO_UNVERIFIABLE"
    FAKE_FACE = "FAKE_FACE"
    FACE_SUSPECTED = "FACE_SUSPECTED"
    FACE_BLACKLISTED = "FACE_BLACKLISTED"


class DocumentStatus(_OpenEnum):
    """``autoDocument`` / ``manualDocument`` (DocumentStatusEnum)."""

    DOC_VALIDATED = "DOC_VALIDATED"
    DOC_INFO_MISMATCH = "DOC_INFO_MISMATCH"
    DOC_NOT_FOUND = "DOC_NOT_FOUND"
    DOC_NOT_FULLY_VISIBLE = "DOC_NOT_FULLY_VISIBLE"
    DOC_FACE_NOT_FOUND = "DOC_FACE_NOT_FOUND"
    DOC_TOO_BLURRY = "DOC_TOO_BLURRY"
    DOC_GLARED = "DOC_GLARED"
    DOC_FACE_GLARED = "DOC_FACE_GLARED"
    MRZ_NOT_FOUND = "MRZ_NOT_FOUND"
    MRZ_OCR_READING_ERROR = "MRZ_OCR_READING_ERROR"
    BARCODE_NOT_FOUND = "BARCODE_NOT_FOUND"
    DOC_EXPIRED = "DOC_EXPIRED"
    DOC_NOT_SUPPORTED = "DOC_NOT_SUPPORTED"
    COUNTRY_NOT_SUPPORTED = "COUNTRY_NOT_SUPPORTED"
    COUNTRY_MISMATCH = "COUNTRY_MISMATCH"
    DOC_TYPE_MISMATCH = "DOC_TYPE_MISMATCH"
    DOC_SUBTYPE_MISMATCH = "DOC_SUBTYPE_MISMATCH"
    DOC_SIDE_MISMATCH = "DOC_SIDE_MISMATCH"
    DOC_DAMAGED = "DOC_DAMAGED"
    DOC_FAKE = "DOC_FAKE"
    DOC_PERSONAL_CODE_INVALID = "DOC_PERSONAL_CODE_INVALID"
    DOC_NOT_ALLOWED = "DOC_NOT_ALLOWED"
    DOC_NAME_ERROR = "DOC_NAME_ERROR"
    DOC_SURNAME_ERROR = "DOC_SURNAME_ERROR"
    DOC_EXPIRY_ERROR = "DOC_EXPIRY_ERROR"
    DOC_DOB_ERROR = "DOC_DOB_ERROR"
    DOC_PERSONAL_NUMBER_ERROR = "DOC_PERSONAL_NUMBER_ERROR"
    DOC_NUMBER_ERROR = "DOC_NUMBER_ERROR"
    DOC_DATE_OF_ISSUE_ERROR = "DOC_DATE_OF_ISSUE_ERROR"
    DOC_SEX_ERROR = "DOC_SEX_ERROR"
    DOC_NATIONALITY_ERROR = "DOC_NATIONALITY_ERROR"
    DOC_NOT_ANALYSED = "DOC_NOT_ANALYSED"
    DOC_ERROR = "DOC_ERROR"
    AUTO_UNVERIFIABLE = "AUTO_UNVERIFIABLE"
    DOC_SPOOF_DETECTED = "DOC_SPOOF_DETECTED"
    MRZ_INVALID = "MRZ_INVALID"
    EID_FAILED = "EID_FAILED"
    NFC_INIT_FAILED = "NFC_INIT_FAILED"
    NFC_FAILED = "NFC_FAILED"
    NFC_TIMEOUT = "NFC_TIMEOUT"


class FraudTag(_OpenEnum):
    """``fraudTags[]`` (FraudTagsEnum); also the values of legacy ``suspicionReasons[]``."""

    FACE_IN_BLACKLIST = "FACE_IN_BLACKLIST"
    DOC_FACE_IN_BLACKLIST = "DOC_FACE_IN_BLACKLIST"
    DATA_BLACKLISTED = "DATA_BLACKLISTED"
    DATA_IN_BLACKLIST = "DATA_IN_BLACKLIST"
    DUPLICATE_FACE = "DUPLICATE_FACE"
    DUPLICATE_DOC_FACE = "DUPLICATE_DOC_FACE"
    DUPLICATE_PERSONAL_DATA = "DUPLICATE_PERSONAL_DATA"
    VIRTUAL_CAMERA = "VIRTUAL_CAMERA"
    ADDRESS_UNVERIFIED = "ADDRESS_UNVERIFIED"
    PORTRAIT_SUBSTITUTION = "PORTRAIT_SUBSTITUTION"
    FACE_SUSPECTED = "FACE_SUSPECTED"
    FACE_BLACKLISTED = "FACE_BLACKLISTED"
    DOC_FACE_BLACKLISTED = "DOC_FACE_BLACKLISTED"
    DOC_MOBILE_PHOTO = "DOC_MOBILE_PHOTO"
    DEV_TOOLS_OPENED = "DEV_TOOLS_OPENED"
    DOC_PRINT_SPOOFED = "DOC_PRINT_SPOOFED"
    FAKE_PHOTO = "FAKE_PHOTO"
    AML_SUSPECTION = "AML_SUSPECTION"
    AML_FAILED = "AML_FAILED"
    LID_SUSPECTION = "LID_SUSPECTION"
    LID_FAILED = "LID_FAILED"
    SANCTIONS_SUSPECTION = "SANCTIONS_SUSPECTION"
    SANCTIONS_FAILED = "SANCTIONS_FAILED"
    CRIMINAL_SUSPECTED = "CRIMINAL_SUSPECTED"
    CRIMINAL_CHECK_FAILED = "CRIMINAL_CHECK_FAILED"
    RC_FAILED = "RC_FAILED"
    DL_FAILED = "DL_FAILED"
    AUTO_UNVERIFIABLE = "AUTO_UNVERIFIABLE"


class MismatchTag(_OpenEnum):
    """``mismatchTags[]`` (InfoMismatchEnum): data that did not match what was expected."""

    NAME = "NAME"
    SURNAME = "SURNAME"
    DOCUMENT_NUMBER = "DOCUMENT_NUMBER"
    PERSONAL_CODE = "PERSONAL_CODE"
    EXPIRY_DATE = "EXPIRY_DATE"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    DATE_OF_ISSUE = "DATE_OF_ISSUE"
    NATIONALITY = "NATIONALITY"
    SEX = "SEX"
    FULL_NAME = "FULL_NAME"
    DOC_INFO_MISMATCH = "DOC_INFO_MISMATCH"
    UNDER_AGE = "UNDER_AGE"
    OVER_AGE = "OVER_AGE"
    UNKNOWN_AGE = "UNKNOWN_AGE"
    UTILITY_ADDRESS = "UTILITY_ADDRESS"
    UTILITY_NAME = "UTILITY_NAME"
    EXPIRED_UTILITY_BILL = "EXPIRED_UTILITY_BILL"
    INVALID_ADDITIONAL_STEP = "INVALID_ADDITIONAL_STEP"
    ADDITIONAL_STEP_NOT_FOUND = "ADDITIONAL_STEP_NOT_FOUND"
    ADDITIONAL_STEP_INFORMATION_MISMATCH = "ADDITIONAL_STEP_INFORMATION_MISMATCH"
    EXPIRED_ADDITIONAL_STEP_INFORMATION = "EXPIRED_ADDITIONAL_STEP_INFORMATION"
    REGISTRY_CENTER_INFO_MISMATCH = "REGISTRY_CENTER_INFO_MISMATCH"
    DRIVER_LICENSE_INFO_MISMATCH = "DRIVER_LICENSE_INFO_MISMATCH"
    NOT_SUPPORTED_POA_DOCUMENT_TYPE = "NOT_SUPPORTED_POA_DOCUMENT_TYPE"
    NOT_SUPPORTED_POA_DOCUMENT_COUNTRY = "NOT_SUPPORTED_POA_DOCUMENT_COUNTRY"
    POA_COUNTRIES_MISMATCH = "POA_COUNTRIES_MISMATCH"
    POA_SCREENSHOT_DETECTED = "POA_SCREENSHOT_DETECTED"


class AdditionalStepsStatus(_OpenEnum):
    """``status.additionalSteps``: the outcome of the session's additional steps."""

    VALID = "VALID"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"


class Platform(_OpenEnum):
    """``platform``: where the user went through the flow."""

    PC = "PC"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    MOBILE_APP = "MOBILE_APP"
    MOBILE_SDK = "MOBILE_SDK"
    OTHER = "OTHER"


class DocumentSex(_OpenEnum):
    """``data.docSex``: the sex printed on the document."""

    MALE = "MALE"
    FEMALE = "FEMALE"
    UNDEFINED = "UNDEFINED"


class AgeEstimate(_OpenEnum):
    """``data.ageEstimate``: the age bracket estimated from the selfie."""

    UNDER_8 = "UNDER_8"
    UNDER_13 = "UNDER_13"
    OVER_8 = "OVER_8"
    OVER_13 = "OVER_13"
    OVER_16 = "OVER_16"
    OVER_18 = "OVER_18"
    OVER_21 = "OVER_21"
    OVER_22 = "OVER_22"
    OVER_25 = "OVER_25"
    OVER_30 = "OVER_30"


class IpProxyRiskLevel(_OpenEnum):
    """``data.clientIpProxyRiskLevel``: how likely the user's IP is a proxy or VPN."""

    VERY_LOW = "VERY_LOW"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    VERY_HIGH = "VERY_HIGH"
    NOT_CHECKED = "NOT_CHECKED"


class EventType(_OpenEnum):
    """The ``Idenfy-Event-Type`` header: which notification a webhook delivers."""

    IDENTIFICATION = "IDENTIFICATION"
    IDENTIFICATION_AUTO_FINISHED = "IDENTIFICATION_AUTO_FINISHED"
    IDENTIFICATION_MANUAL_FINISHED = "IDENTIFICATION_MANUAL_FINISHED"
    IDENTIFICATION_EXPIRED = "IDENTIFICATION_EXPIRED"
    IDENTIFICATION_CANCELLED = "IDENTIFICATION_CANCELLED"
    IDENTIFICATION_RESUBMITTED = "IDENTIFICATION_RESUBMITTED"
    DOCUMENT_EXPIRATION = "DOCUMENT_EXPIRATION"
    FACIAL_AUTHENTICATION = "FACIAL_AUTHENTICATION"
    VIDEO_CALL_FINISHED = "VIDEO_CALL_FINISHED"
    AML_MONITORING = "AML_MONITORING"
    AML_MONITORING_EXPIRATION = "AML_MONITORING_EXPIRATION"


class DocumentExpirationThreshold(_OpenEnum):
    """``expirationThreshold`` of a DOCUMENT_EXPIRATION webhook."""

    DOCUMENT_EXPIRES_WITHIN_30_DAYS = "DOCUMENT_EXPIRES_WITHIN_30_DAYS"
    DOCUMENT_EXPIRES_WITHIN_7_DAYS = "DOCUMENT_EXPIRES_WITHIN_7_DAYS"
    DOCUMENT_EXPIRES_WITHIN_1_DAY = "DOCUMENT_EXPIRES_WITHIN_1_DAY"
    DOCUMENT_EXPIRED = "DOCUMENT_EXPIRED"


class FacialAuthenticationStatus(_OpenEnum):
    """``status`` of a FACIAL_AUTHENTICATION webhook (upper-cased: sources disagree on case)."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    PENDING = "PENDING"


class FacialAuthenticationType(_OpenEnum):
    """``type`` of a FACIAL_AUTHENTICATION webhook."""

    ENROLLMENT = "ENROLLMENT"
    AUTHENTICATION = "AUTHENTICATION"


class FacialAuthenticationMethod(_OpenEnum):
    """``method`` of a FACIAL_AUTHENTICATION webhook."""

    ACTIVE_LIVENESS = "ACTIVE_LIVENESS"
    FACE_MATCHING = "FACE_MATCHING"


# --------------------------------------------------------------------------- KYC workflow enums


class FaceAuthCheckType(_OpenEnum):
    """What a scanRef allows (``check-status``): AUTHENTICATION, or a new IDENTIFICATION."""

    AUTHENTICATION = "AUTHENTICATION"
    IDENTIFICATION = "IDENTIFICATION"


class BlocklistSource(_OpenEnum):
    """Which part of a verification goes on a blocklist."""

    DOCUMENT = "DOCUMENT"  #: the document's face image
    DOCUMENT_INFO = "DOCUMENT_INFO"  #: name, birth date, personal and document numbers
    SELFIE = "SELFIE"  #: the user's selfie


class ProcessingDocumentType(_OpenEnum):
    """``documentType`` accepted by direct processing (``/api/v2/process`` lists these five)."""

    ID_CARD = "ID_CARD"
    PASSPORT = "PASSPORT"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"
    DRIVER_LICENSE = "DRIVER_LICENSE"
    OTHER = "OTHER"


class PoaOverallStatus(_OpenEnum):
    """``overallStatus`` of a proof-of-address check."""

    MATCH = "MATCH"
    NO_MATCH = "NO_MATCH"
    NOT_COMPARED = "NOT_COMPARED"


# --------------------------------------------------------------------------- AML
# iDenfy's standalone AML API (models/_aml.py, _aml_results.py).


class AmlUserType(_OpenEnum):
    """``userType``: who a check or monitoring screens."""

    PERSON = "PERSON"
    COMPANY = "COMPANY"


class AmlCheckStatus(_OpenEnum):
    """``overallStatus`` of a check (also the webhook's PEP, sanction and media statuses)."""

    NOT_CHECKED = "NOT_CHECKED"
    NO_FLAGS = "NO_FLAGS"
    FALSE_POSITIVE = "FALSE_POSITIVE"
    TRUE_POSITIVE = "TRUE_POSITIVE"
    FLAGS_FOUND = "FLAGS_FOUND"


class AmlMonitoringStatus(_OpenEnum):
    """``status`` of a monitoring ("AML monitoring v3 status")."""

    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    PENDING = "PENDING"
    ALERT = "ALERT"


class AmlAlertStatus(_OpenEnum):
    """``alertStatus`` of the ``AML_MONITORING`` webhook: the v2 status, deprecated by
    iDenfy but still sent. Decide on ``status``
    ([`AmlMonitoringStatus`][idenfy_async.AmlMonitoringStatus])."""

    ALERT = "ALERT"
    DECLINED = "DECLINED"
    ACCEPTED = "ACCEPTED"
    PENDING = "PENDING"
    STATUS = "STATUS"


class AmlDataset(_OpenEnum):
    """A screening dataset. ``PEP``, ``SAN`` and ``SOE`` are deprecated (iDenfy: "ignore")
    but still arrive in business hits; ``ID`` and ``CORP`` appear only on evidence."""

    PEP_CURRENT = "PEP_CURRENT"
    PEP_FORMER = "PEP_FORMER"
    PEP_LINKED = "PEP_LINKED"
    SAN_CURRENT = "SAN_CURRENT"
    SAN_FORMER = "SAN_FORMER"
    INS = "INS"
    RRE = "RRE"
    DD = "DD"
    POI = "POI"
    REL = "REL"
    SOE_CURRENT = "SOE_CURRENT"
    SOE_FORMER = "SOE_FORMER"
    GRI = "GRI"
    ID = "ID"
    CORP = "CORP"
    PEP = "PEP"
    SAN = "SAN"
    SOE = "SOE"


class AmlPepTier(_OpenEnum):
    """A PEP tier: 1 senior, 2 middle-ranking, 3 junior officials; ``PEP_BY_ASSOCIATION``
    appears on profiles only."""

    PEP_TIER_1 = "PEP_TIER_1"
    PEP_TIER_2 = "PEP_TIER_2"
    PEP_TIER_3 = "PEP_TIER_3"
    PEP_BY_ASSOCIATION = "PEP_BY_ASSOCIATION"


class AmlDateOfBirthMatching(_OpenEnum):
    """``filter.dateOfBirthMatching``: how closely a hit's birth date must match (iDenfy's
    default ``EXACT``)."""

    EXACT = "EXACT"
    SAME_YEAR = "SAME_YEAR"
    WITHIN_ONE_YEAR = "WITHIN_ONE_YEAR"
    WITHIN_TWO_YEARS = "WITHIN_TWO_YEARS"
    WITHIN_THREE_YEARS = "WITHIN_THREE_YEARS"
    WITHIN_FOUR_YEARS = "WITHIN_FOUR_YEARS"
    WITHIN_FIVE_YEARS = "WITHIN_FIVE_YEARS"


class AmlSex(_OpenEnum):
    """``sex`` of a screened person, ``gender`` of a hit."""

    MALE = "MALE"
    FEMALE = "FEMALE"
