"""The request enums (closed) and NULL.

Request enums ([`DocumentType`][idenfy_async.DocumentType], [`TokenType`][idenfy_async.TokenType],
...) list what the library sends. What is decoded from iDenfy uses the *open* enums of
`idenfy_async.models._open_enums`.
Public through `idenfy_async.models` and `idenfy_async`.
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

__all__ = [
    "NULL",
    "DocumentType",
    "DummyStatus",
    "Sex",
    "TokenType",
]


class _NullType(enum.Enum):
    NULL = "NULL"

    def __repr__(self) -> str:
        return "NULL"


#: Send an explicit JSON ``null`` (e.g. ``questionnaire=NULL`` disables the dashboard's
#: questionnaire). ``None`` means "not set": the field is left out of the request so the
#: dashboard default applies.
NULL: Final = _NullType.NULL
# The class, not Literal[NULL]: annotations stay plain unions (no rule reads them:
# field rules are declared in each field's metadata, see _rules).
_Null: TypeAlias = _NullType


class _WireEnum(str, enum.Enum):
    def __str__(self) -> str:
        # The wire value, so f-strings and CSV writers print "PASSPORT", not the class.
        return str(self.value)


class DocumentType(_WireEnum):
    """Document types accepted by ``documents`` (iDenfy's KycDocumentTypeEnum)."""

    ID_CARD = "ID_CARD"
    PASSPORT = "PASSPORT"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"
    DRIVER_LICENSE = "DRIVER_LICENSE"
    PAN_CARD = "PAN_CARD"
    AADHAAR = "AADHAAR"
    VISA = "VISA"
    NATIONAL_PASSPORT = "NATIONAL_PASSPORT"
    PROVISIONAL_DRIVER_LICENSE = "PROVISIONAL_DRIVER_LICENSE"
    OLD_ID_CARD = "OLD_ID_CARD"
    MILITARY_CARD = "MILITARY_CARD"
    ADDRESS_CARD = "ADDRESS_CARD"
    SMART_ID = "SMART_ID"
    CLEAR = "CLEAR"
    ONE_ID = "ONE_ID"
    BANK_ID_SE = "BANK_ID_SE"
    BANK_ID_NO = "BANK_ID_NO"
    BANK_ID_CZ = "BANK_ID_CZ"
    FTN = "FTN"
    MIT_ID = "MIT_ID"
    VERIMI = "VERIMI"
    LA_WALLET = "LA_WALLET"
    SAMSUNG_WALLET = "SAMSUNG_WALLET"
    MOJE_ID_CZ = "MOJE_ID_CZ"
    YOTI_ID = "YOTI_ID"
    OTHER = "OTHER"
    BORDER_CROSSING = "BORDER_CROSSING"
    ASYLUM = "ASYLUM"
    PHOTO_CARD = "PHOTO_CARD"
    PROOF_OF_AGE_CARD = "PROOF_OF_AGE_CARD"
    TRAVEL_CARD = "TRAVEL_CARD"
    SOCIAL_SECURITY_CARD = "SOCIAL_SECURITY_CARD"
    VOTER_CARD = "VOTER_CARD"
    DIPLOMATIC_ID = "DIPLOMATIC_ID"
    WORK_PERMIT = "WORK_PERMIT"


class TokenType(_WireEnum):
    """``tokenType``: what the session verifies. ``VIDEO_CALL*`` are legacy, not in iDenfy's
    contract: ``SessionRequest`` sends them only with ``allow_legacy_token_types=True``."""

    IDENTIFICATION = "IDENTIFICATION"
    DOCUMENT = "DOCUMENT"
    VIDEO_CALL = "VIDEO_CALL"
    VIDEO_CALL_PHOTOS = "VIDEO_CALL_PHOTOS"
    VIDEO_CALL_IDENTIFICATION = "VIDEO_CALL_IDENTIFICATION"


class Sex(_WireEnum):
    """``sex`` in a token request."""

    M = "M"
    F = "F"


class DummyStatus(_WireEnum):
    """``dummyStatus`` (DEV environment only): create a finished dummy verification."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"
    SUSPECTED = "SUSPECTED"
    EXPIRED = "EXPIRED"
    ACTIVE = "ACTIVE"
