"""Public attrs models: the token request, the session it returns, and their enums.

Python names are snake_case; the wire uses iDenfy's camelCase (see :func:`wire_name`).
Requests validate every set field at construction and report all problems at once;
responses keep every field iDenfy sends, known or not.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from .errors import FieldProblem, RequestValidationError

__all__ = [
    "COUNTRY_CODES",
    "NULL",
    "DocumentType",
    "DummyStatus",
    "Session",
    "SessionRequest",
    "Sex",
    "TokenType",
    "wire_name",
]

IFRAME_BASE_URL: Final = "https://ui.idenfy.com/"


class _NullType(enum.Enum):
    NULL = "NULL"

    def __repr__(self) -> str:
        return "NULL"


#: Send an explicit JSON ``null`` (e.g. ``questionnaire=NULL`` disables the dashboard's
#: questionnaire). ``None`` means "not set": the field is left out of the request so the
#: dashboard default applies.
NULL: Final = _NullType.NULL


class DocumentType(str, enum.Enum):
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


class TokenType(str, enum.Enum):
    """``tokenType``: what the session verifies (VIDEO_CALL* are legacy)."""

    IDENTIFICATION = "IDENTIFICATION"
    DOCUMENT = "DOCUMENT"
    VIDEO_CALL = "VIDEO_CALL"
    VIDEO_CALL_PHOTOS = "VIDEO_CALL_PHOTOS"
    VIDEO_CALL_IDENTIFICATION = "VIDEO_CALL_IDENTIFICATION"


class Sex(str, enum.Enum):
    """``sex`` in a token request."""

    M = "M"
    F = "F"


class DummyStatus(str, enum.Enum):
    """``dummyStatus`` (DEV environment only): create a finished dummy verification."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"
    SUSPECTED = "SUSPECTED"
    EXPIRED = "EXPIRED"
    ACTIVE = "ACTIVE"


#: ISO 3166-1 alpha-2 codes plus XK (Kosovo), which iDenfy accepts.
COUNTRY_CODES: Final = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
    DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR
    GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
    KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
    VI VN VU WF WS XK YE YT ZA ZM ZW""".split()
)


_CAMEL_RE = re.compile(r"_([a-z0-9])")


def wire_name(attribute: str) -> str:
    """The camelCase wire name of a snake_case attribute: ``client_id`` -> ``clientId``."""
    return _CAMEL_RE.sub(lambda m: m.group(1).upper(), attribute)


# --------------------------------------------------------------------------- rules
# Each check takes a set (non-None) value and returns the broken rule, or None.
# Messages never include the value: it is personal data.

_Check = Callable[[Any], "str | None"]

_NAME_FORBIDDEN: Final = frozenset('~!@#$%^*()_+={}[]|:;",<>/?')
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_EXPIRY_TIME: Final = 2_592_000
_URL_MIN, _URL_MAX = 5, 2048
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def _text(max_len: int, *, ascii_only: bool = False) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if not value:
            return "must not be empty"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        if ascii_only and not value.isascii():
            return "must contain only ASCII characters"
        return None

    return check


_name_length = _text(100)


def _check_name(value: Any) -> str | None:
    problem = _name_length(value)
    if problem:
        return problem
    if any(c.isdigit() for c in value):
        return "must not contain digits"
    if not _NAME_FORBIDDEN.isdisjoint(value):
        return 'must not contain any of ~!@#$%^*()_+={}[]|:;",<>/?'
    return None


def _check_date(value: Any) -> str | None:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return "must be a date in YYYY-MM-DD format"
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return "must be a real calendar date (YYYY-MM-DD)"
    return None


def _one_of(allowed: Iterable[str]) -> _Check:
    values = frozenset(allowed)
    listing = ", ".join(sorted(values))

    def check(value: Any) -> str | None:
        return None if value in values else f"must be one of {listing}"

    return check


def _check_country(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value in COUNTRY_CODES else "must be an ISO 3166-1 alpha-2 country code"
    return "must be an ISO 3166-1 alpha-2 country code"


def _check_nationality(value: Any) -> str | None:
    # "ALL" clears a nationality set on the account (iDenfy docs).
    return None if value == "ALL" else _check_country(value)


def _check_countries(value: Any) -> str | None:
    if isinstance(value, str):
        return _check_country(value)
    if not value:
        return "must name at least one country"
    if all(isinstance(v, str) and v in COUNTRY_CODES for v in value):
        return None
    return "must contain only ISO 3166-1 alpha-2 country codes"


def _check_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not _URL_MIN <= len(value) <= _URL_MAX:
        return f"must be {_URL_MIN} to {_URL_MAX} characters long"
    parts = urllib.parse.urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return None  # local development and FakeIdenfy only; iDenfy itself needs https
    return "must be an https:// URL"


def _int_range(low: int, high: int | None = None) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if value < low or (high is not None and value > high):
            return f"must be between {low:,} and {high:,}" if high else f"must be at least {low}"
        return None

    return check


def _check_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _check_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    return None


def _check_mapping(value: Any) -> str | None:
    return None if isinstance(value, Mapping) else "must be an object (a mapping)"


def _check_str_list(value: Any) -> str | None:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        return "must be a list of strings"
    return None


def _check_uuid(value: Any) -> str | None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return "must be a UUID"
    return None


def _check_risk_profile(value: Any) -> str | None:
    # The docs type it as an integer id; the OpenAPI file as a UUID. Accept both.
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, str):
        return _check_uuid(value) if not value.isdigit() else None
    return "must be an integer id or a UUID"


def _check_questionnaire(value: Any) -> str | None:
    return None if value is NULL else _text(255)(value)


_DOCUMENT_TYPES: Final = frozenset(d.value for d in DocumentType)


# --------------------------------------------------------------------------- normalising


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _upper_all(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return _upper(value)
    if isinstance(value, Iterable):
        return tuple(_upper(v) for v in value)
    return value


def _tuple(value: Any) -> Any:
    if value is None or isinstance(value, str | Mapping):
        return value
    return tuple(value) if isinstance(value, Iterable) else value


def _iso_date(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value  # a datetime is not a date here; the validator says so
    return value.isoformat() if isinstance(value, _dt.date) else value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) and value is not NULL else value


def _enum_values(value: Any) -> Any:
    value = _tuple(value)
    return tuple(_enum_value(v) for v in value) if isinstance(value, tuple) else value


@attrs.frozen(kw_only=True, repr=False)
class SessionRequest:
    """The body of ``POST /api/v2/token``: every documented parameter.

    Only ``client_id`` is required. A field left as ``None`` is not sent, so the
    dashboard default applies; use :data:`NULL` to send an explicit ``null``.
    ``extra`` passes through parameters this model does not know yet. Unlisted
    document types are refused unless ``allow_unlisted_documents=True``.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    client_id: str = attrs.field(kw_only=False)

    # Personal data
    first_name: str | None = attrs.field(default=None, repr=False)
    last_name: str | None = attrs.field(default=None, repr=False)
    date_of_birth: str | _dt.date | None = attrs.field(
        default=None, converter=_iso_date, repr=False
    )
    sex: str | Sex | None = attrs.field(default=None, converter=_enum_value, repr=False)
    nationality: str | None = attrs.field(default=None, converter=_upper, repr=False)
    address: str | None = attrs.field(default=None, repr=False)
    external_ref: str | None = None

    # Document data
    country: str | Sequence[str] | None = attrs.field(default=None, converter=_upper_all)
    documents: Sequence[str | DocumentType] | None = attrs.field(
        default=None, converter=_enum_values
    )
    document_number: str | None = attrs.field(default=None, repr=False)
    personal_number: str | None = attrs.field(default=None, repr=False)
    date_of_expiry: str | _dt.date | None = attrs.field(
        default=None, converter=_iso_date, repr=False
    )
    date_of_issue: str | _dt.date | None = attrs.field(
        default=None, converter=_iso_date, repr=False
    )

    # Session settings
    success_url: str | None = None
    error_url: str | None = None
    unverified_url: str | None = None
    callback_url: str | None = None
    locale: str | None = None
    expiry_time: int | None = None
    session_length: int | None = None
    token_type: str | TokenType | None = attrs.field(default=None, converter=_enum_value)
    show_instructions: bool | None = None
    generate_digit_string: bool | None = None

    # Verification features
    verify_email: bool | None = None
    verify_phone: bool | None = None
    verify_address: bool | None = None
    verify_bank: bool | None = None
    verify_bank_accounts: bool | None = None
    verify_bank_balances: bool | None = None
    verify_bank_transactions: bool | None = None
    bank_card_verification: bool | None = None
    bank_card_pdf_upload: bool | None = None
    nfc_required: bool | None = None
    nfc_optional: bool | None = None
    age_limit: int | None = None
    age_max: int | None = None
    driver_license_back: bool | None = None

    # Security and fraud detection
    check_liveness: bool | None = None
    id_live_face_validation: bool | None = None
    id_live_document_validation: bool | None = None
    check_aml: bool | None = None
    auto_aml_monitoring: bool | None = None
    check_criminal: bool | None = None
    check_ip_proxy: bool | None = None
    check_face_blacklist: bool | None = None
    check_doc_face_blacklist: bool | None = None
    check_person_blacklist: bool | None = None
    check_duplicate_faces: bool | None = None
    check_duplicate_doc_faces: bool | None = None
    check_duplicate_personal_data: bool | None = None
    check_blur_and_glare: bool | None = None
    check_driver_license: bool | None = None
    check_lid: bool | None = None
    auto_face_matching: bool | None = None
    allow_bsn_masking: bool | None = None
    face_matching_threshold_modifier: float | None = None

    # Customisation
    additional_steps: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    additional_data: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    utility_bill: bool | None = None
    questionnaire: str | Literal[_NullType.NULL] | None = None
    questionnaire_required: bool | None = None
    risk_assessment_profile: int | str | None = None
    review_failed: bool | None = None
    review_successful: bool | None = None
    theme: str | None = None
    registry_centers_countries: Sequence[str] | None = attrs.field(
        default=None, converter=_upper_all
    )
    video_call_questions: Sequence[str] | None = attrs.field(default=None, converter=_tuple)
    dummy_status: str | DummyStatus | None = attrs.field(default=None, converter=_enum_value)

    # Not sent as such
    extra: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    allow_unlisted_documents: bool = False

    def __attrs_post_init__(self) -> None:
        problems = _session_request_problems(self)
        if problems:
            raise RequestValidationError("SessionRequest", problems)

    def __repr__(self) -> str:
        # Only what was set, and personal data masked: requests end up in logs.
        shown = []
        for a in _REPR_FIELDS:
            value = getattr(self, a.name)
            if value is not None:
                shown.append(f"{a.name}={value!r}" if a.repr else f"{a.name}=<redacted>")
        return f"SessionRequest({', '.join(shown)})"


_BOOLS: Final = tuple(
    a.name for a in attrs.fields(SessionRequest) if a.type in ("bool | None", bool | None)
)
_REPR_FIELDS: Final = tuple(
    a for a in attrs.fields(SessionRequest) if a.name != "allow_unlisted_documents"
)

_RULES: Final[tuple[tuple[str, _Check], ...]] = (
    ("first_name", _check_name),
    ("last_name", _check_name),
    ("date_of_birth", _check_date),
    ("sex", _one_of(s.value for s in Sex)),
    ("nationality", _check_nationality),
    ("address", _text(255)),
    ("external_ref", _text(40, ascii_only=True)),
    ("country", _check_countries),
    ("document_number", _text(50)),
    ("personal_number", _text(50)),
    ("date_of_expiry", _check_date),
    ("date_of_issue", _check_date),
    ("success_url", _check_url),
    ("error_url", _check_url),
    ("unverified_url", _check_url),
    ("callback_url", _check_url),
    ("locale", _text(7, ascii_only=True)),
    ("expiry_time", _int_range(1, _MAX_EXPIRY_TIME)),
    ("session_length", _int_range(60, 3600)),
    ("token_type", _one_of(t.value for t in TokenType)),
    ("age_limit", _int_range(0)),
    ("age_max", _int_range(0)),
    ("face_matching_threshold_modifier", _check_number),
    ("additional_steps", _check_mapping),
    ("additional_data", _check_mapping),
    ("questionnaire", _check_questionnaire),
    ("risk_assessment_profile", _check_risk_profile),
    ("theme", _check_uuid),
    ("registry_centers_countries", _check_countries),
    ("video_call_questions", _check_str_list),
    ("dummy_status", _one_of(s.value for s in DummyStatus)),
    ("extra", _check_mapping),
    *((name, _check_bool) for name in _BOOLS),
)

_WIRE_NAMES: Final = {a.name: wire_name(a.name) for a in attrs.fields(SessionRequest)}
_KNOWN_WIRE_NAMES: Final = frozenset(_WIRE_NAMES.values()) - {"extra", "allowUnlistedDocuments"}


def _session_request_problems(req: SessionRequest) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    client_id = req.client_id
    if client_id is None or client_id == "":
        problems.append(FieldProblem("clientId", "is required"))
    else:
        rule = _text(100, ascii_only=True)(client_id)
        if rule:
            problems.append(FieldProblem("clientId", rule))
    for name, check in _RULES:
        value = getattr(req, name)
        if value is not None:
            rule = check(value)
            if rule:
                problems.append(FieldProblem(_WIRE_NAMES[name], rule))
    if req.documents is not None:
        rule = _documents_rule(req.documents, req.allow_unlisted_documents)
        if rule:
            problems.append(FieldProblem("documents", rule))
    if (
        isinstance(req.age_limit, int)
        and isinstance(req.age_max, int)
        and req.age_limit > req.age_max
    ):
        problems.append(FieldProblem("ageLimit", "must not be greater than ageMax"))
    if isinstance(req.extra, Mapping):
        clash = sorted(_KNOWN_WIRE_NAMES.intersection(req.extra))
        if clash:
            problems.append(
                FieldProblem("extra", f"must not repeat known parameters ({', '.join(clash)})")
            )
    return problems


def _documents_rule(documents: Any, allow_unlisted: bool) -> str | None:
    if isinstance(documents, str) or not all(isinstance(d, str) and d for d in documents):
        return "must be a list of document type names"
    if not documents:
        return "must name at least one document type"
    if not allow_unlisted and not _DOCUMENT_TYPES.issuperset(documents):
        return "must contain only known document types (allow_unlisted_documents=True to force)"
    return None


# --------------------------------------------------------------------------- responses


def _mask(value: object) -> str:
    return "'***'" if value else repr(value)


@attrs.frozen(kw_only=True)
class Session:
    """A created verification session (the ``/api/v2/token`` answer).

    ``raw`` holds the whole decoded response, including fields this model does not
    name. ``repr()`` hides the auth token and personal data.
    """

    auth_token: str = attrs.field(repr=_mask)
    scan_ref: str
    client_id: str
    redirect_url: str | None = attrs.field(default=None, repr=False)
    digit_string: str | None = attrs.field(default=None, repr=_mask)
    expiry_time: int | None = None
    session_length: int | None = None
    message: str | None = None
    token_type: str | None = None
    locale: str | None = None
    country: str | list[str] | None = None
    documents: list[str] | None = None
    first_name: str | None = attrs.field(default=None, repr=False)
    last_name: str | None = attrs.field(default=None, repr=False)
    date_of_birth: str | None = attrs.field(default=None, repr=False)
    nationality: str | None = attrs.field(default=None, repr=False)
    sex: str | None = attrs.field(default=None, repr=False)
    address: str | None = attrs.field(default=None, repr=False)
    document_number: str | None = attrs.field(default=None, repr=False)
    personal_number: str | None = attrs.field(default=None, repr=False)
    date_of_expiry: str | None = attrs.field(default=None, repr=False)
    date_of_issue: str | None = attrs.field(default=None, repr=False)
    external_ref: str | None = None
    success_url: str | None = attrs.field(default=None, repr=False)
    error_url: str | None = attrs.field(default=None, repr=False)
    unverified_url: str | None = attrs.field(default=None, repr=False)
    callback_url: str | None = attrs.field(default=None, repr=False)
    show_instructions: bool | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def iframe_url(self) -> str:
        """The URL to embed in an ``<iframe>`` (``https://ui.idenfy.com/?authToken=...``)."""
        return IFRAME_BASE_URL + "?" + urllib.parse.urlencode({"authToken": self.auth_token})
