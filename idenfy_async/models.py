"""Public attrs models: the token request, the session it returns, results, webhooks, enums.

Python names are snake_case; the wire uses iDenfy's camelCase (see :func:`wire_name`).
Requests validate every set field at construction and report all problems at once;
responses keep every field iDenfy sends, known or not.
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import re
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeAlias, TypeVar

import attrs

from ._urls import secure_url_problem
from .errors import FieldProblem, RequestValidationError

__all__ = [
    "COUNTRY_CODES",
    "NULL",
    "AdditionalStepsStatus",
    "AgeEstimate",
    "DocumentExpirationEvent",
    "DocumentExpirationThreshold",
    "DocumentSex",
    "DocumentStatus",
    "DocumentType",
    "DummyStatus",
    "EventType",
    "FaceStatus",
    "FacialAuthenticationEvent",
    "FacialAuthenticationMethod",
    "FacialAuthenticationStatus",
    "FacialAuthenticationType",
    "FileUrls",
    "FraudTag",
    "IdentificationEvent",
    "IpProxyRiskLevel",
    "MismatchTag",
    "OverallStatus",
    "Platform",
    "ServiceResult",
    "ServiceStatus",
    "Session",
    "SessionRequest",
    "Sex",
    "StatusResult",
    "TokenType",
    "VerificationData",
    "VerificationStatus",
    "VerificationSummary",
    "VideoCallAnswer",
    "VideoCallEvent",
    "WebhookEvent",
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
# The class, not Literal[NULL]: a Literal makes every annotation a typing.Union,
# whose text the CLI reads to parse cells.
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
    """``tokenType``: what the session verifies (VIDEO_CALL* are legacy)."""

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
_DIGIT: Final = re.compile(r"\d")
_NAME_SEPARATORS: Final = frozenset(" -'.\u2019")
_LOCALE_RE: Final = re.compile(r"[a-z]{2}")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_EXPIRY_TIME: Final = 2_592_000
_URL_MIN, _URL_MAX = 5, 2048
#: Integers sent must fit in 64 bits: larger ones are not portable JSON (and Python
#: refuses to print ones of over 4,300 digits).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: Deepest nesting accepted inside ``extra``, ``additionalData`` and ``additionalSteps``
#: (also what stops a container that contains itself).
_MAX_JSON_DEPTH: Final = 32
_JSON_RULE: Final = (
    "must contain only JSON values (strings, finite numbers, true/false, null,"
    " lists, and objects with string keys)"
)
_NOT_NULLABLE: Final = "must not be null (iDenfy documents no null for it; leave it unset)"
_UNENCODABLE_RULE: Final = "text must be valid Unicode (no lone surrogates such as \\ud800)"


def utf8_problem(value: str) -> str | None:
    """The broken rule when ``value`` cannot be sent as UTF-8 (a lone surrogate), else None."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Returned, not raised: the error's ``.object`` would carry the whole value.
        return _UNENCODABLE_RULE
    return None


class _NotJSON(Exception):
    """A value that strict JSON cannot carry; ``args[0]`` is the rule (no value in it)."""


def _json_copy(value: Any, depth: int = 0) -> Any:
    # A plain dict/list copy of ``value``, or _NotJSON. bool and str subclasses
    # (enum members) are JSON as themselves; bytes, sets, dates, Decimal, UUID and
    # arbitrary objects are not: the caller must say what they mean.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        problem = utf8_problem(value)
        if problem:
            raise _NotJSON(problem)
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise _NotJSON("integers must fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJSON("numbers must be finite (no NaN or Infinity)")
        return value
    if depth >= _MAX_JSON_DEPTH:
        raise _NotJSON(f"must not be nested more than {_MAX_JSON_DEPTH} levels deep")
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJSON(f"{_JSON_RULE}: found a key of type {type(key).__name__}")
            copy[_json_copy(key, depth + 1)] = _json_copy(item, depth + 1)
        return copy
    if isinstance(value, list | tuple):
        return [_json_copy(item, depth + 1) for item in value]
    raise _NotJSON(f"{_JSON_RULE}: found a value of type {type(value).__name__}")


def json_problem(value: Any) -> str | None:
    """The broken rule when ``value`` is not strict, sendable JSON, else None."""
    try:
        _json_copy(value)
    except _NotJSON as exc:
        return str(exc.args[0])
    except RecursionError:
        return f"must not be nested more than {_MAX_JSON_DEPTH} levels deep"
    return None


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
        return utf8_problem(value)

    return check


_name_length = _text(100)
_client_id_text = _text(100, ascii_only=True)


def _check_name(value: Any) -> str | None:
    problem = _name_length(value)
    if problem:
        return problem
    if _DIGIT.search(value):
        return "must not contain digits"
    if not _NAME_FORBIDDEN.isdisjoint(value):
        return 'must not contain any of ~!@#$%^*()_+={}[]|:;",<>/?'
    # "Letters only" (the seed), in any script: a letter, a combining mark (a
    # decomposed accent), or what separates the parts of a name. Emoji, symbols and
    # control characters are not part of a name printed on a document.
    if not all(c.isalpha() or c in _NAME_SEPARATORS or _is_mark(c) for c in value):
        return "must contain only letters, spaces, hyphens, apostrophes and periods"
    return None


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _check_locale(value: Any) -> str | None:
    # ISO 639-1 (the seed: "ISO alpha-2"): "english" or "en-GB" would reach iDenfy
    # and silently fall back to English.
    if not isinstance(value, str) or not _LOCALE_RE.fullmatch(value):
        return "must be a two-letter ISO 639-1 language code such as en or lt"
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
        # isinstance first: ``in`` would hash the value (TypeError for a list or dict).
        return None if isinstance(value, str) and value in values else f"must be one of {listing}"

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
    if not isinstance(value, Iterable):
        return "must be an ISO 3166-1 alpha-2 country code or a list of them"
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
    return secure_url_problem(value)


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
    # An int is finite (math.isfinite(10**400) would overflow); its size is json_problem's.
    return None if isinstance(value, int) or math.isfinite(value) else "must be a finite number"


def _check_mapping(value: Any) -> str | None:
    return None if isinstance(value, Mapping) else "must be an object (a mapping)"


def _check_str_list(value: Any) -> str | None:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return "must be a list of strings"
    if not all(isinstance(v, str) for v in value):
        return "must be a list of strings"
    return None


def _check_uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a UUID"
    try:
        uuid.UUID(value)
    except ValueError:
        return "must be a UUID"
    return None


def _check_risk_profile(value: Any) -> str | None:
    # The seed types it as an integer id; the OpenAPI file as a UUID. Accept both
    # (a digit string was made an integer by _risk_profile).
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, str):
        if value.isascii() and value.isdigit():  # left as text by _risk_profile: too big
            return "integers must fit in 64 bits"
        return _check_uuid(value)
    return "must be an integer id or a UUID"


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


def _uuid_text(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _risk_profile(value: Any) -> Any:
    # An integer id given as text (a CSV cell, say) is sent as the integer the seed
    # documents; a UUID stays text. Over 64 bits it stays text, for the rule to report.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
        return number if number <= _INT_MAX else value
    return _uuid_text(value)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value.isascii() else value


def _json_mapping(value: Any) -> Any:
    # A plain copy, so a caller's later change to the mapping cannot slip past the
    # rules; a value that is not JSON stays as given for the validator to report.
    if not isinstance(value, Mapping):
        return value
    try:
        return _json_copy(value)
    except (_NotJSON, RecursionError):
        return value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) and value is not NULL else value


def _enum_values(value: Any) -> Any:
    value = _tuple(value)
    return tuple(_enum_value(v) for v in value) if isinstance(value, tuple) else value


@attrs.frozen(kw_only=True, repr=False)
class SessionRequest:
    """The body of ``POST /api/v2/token``: every documented parameter.

    Only ``client_id`` is required. A field left as ``None`` is not sent, so the
    dashboard default applies; use :data:`NULL` to send an explicit ``null`` for
    any parameter iDenfy documents as nullable (:data:`NULLABLE_FIELDS`: personal
    data, URLs, ``locale``, ``country``, ``documents``, ``questionnaire``,
    ``additional_steps``, ``additional_data``, ...). ``locale`` is an ISO 639-1
    code (lower-cased); names are letters (any script) with spaces, hyphens,
    apostrophes and periods; an integer ``risk_assessment_profile`` given as
    digits is sent as a JSON integer.
    ``extra`` passes through parameters this model does not know yet. Unlisted
    document types are refused unless ``allow_unlisted_documents=True``.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    client_id: str = attrs.field(kw_only=False)

    # Personal data
    first_name: str | _Null | None = attrs.field(default=None, repr=False)
    last_name: str | _Null | None = attrs.field(default=None, repr=False)
    date_of_birth: str | _dt.date | _Null | None = attrs.field(
        default=None, converter=_iso_date, repr=False
    )
    sex: str | Sex | _Null | None = attrs.field(default=None, converter=_enum_value, repr=False)
    nationality: str | _Null | None = attrs.field(default=None, converter=_upper, repr=False)
    address: str | _Null | None = attrs.field(default=None, repr=False)
    external_ref: str | _Null | None = None

    # Document data
    country: str | Sequence[str] | _Null | None = attrs.field(default=None, converter=_upper_all)
    documents: Sequence[str | DocumentType] | _Null | None = attrs.field(
        default=None, converter=_enum_values
    )
    document_number: str | _Null | None = attrs.field(default=None, repr=False)
    personal_number: str | _Null | None = attrs.field(default=None, repr=False)
    date_of_expiry: str | _dt.date | _Null | None = attrs.field(
        default=None, converter=_iso_date, repr=False
    )
    date_of_issue: str | _dt.date | _Null | None = attrs.field(
        default=None, converter=_iso_date, repr=False
    )

    # Session settings
    success_url: str | _Null | None = None
    error_url: str | _Null | None = None
    unverified_url: str | _Null | None = None
    callback_url: str | _Null | None = None
    locale: str | _Null | None = attrs.field(default=None, converter=_lower)
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
    additional_steps: Mapping[str, Any] | _Null | None = attrs.field(
        default=None, converter=_json_mapping, repr=False
    )
    additional_data: Mapping[str, Any] | _Null | None = attrs.field(
        default=None, converter=_json_mapping, repr=False
    )
    utility_bill: bool | _Null | None = None
    questionnaire: str | _Null | None = None
    questionnaire_required: bool | None = None
    risk_assessment_profile: int | str | uuid.UUID | _Null | None = attrs.field(
        default=None, converter=_risk_profile
    )
    review_failed: bool | None = None
    review_successful: bool | None = None
    theme: str | uuid.UUID | _Null | None = attrs.field(default=None, converter=_uuid_text)
    registry_centers_countries: Sequence[str] | _Null | None = attrs.field(
        default=None, converter=_upper_all
    )
    video_call_questions: Sequence[str] | None = attrs.field(default=None, converter=_tuple)
    dummy_status: str | DummyStatus | None = attrs.field(default=None, converter=_enum_value)

    # Not sent as such
    extra: Mapping[str, Any] | None = attrs.field(default=None, converter=_json_mapping, repr=False)
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
    a.name
    for a in attrs.fields(SessionRequest)
    if a.type in ("bool | None", "bool | _Null | None", bool | None, bool | _NullType | None)
)
#: Parameters iDenfy documents as nullable: these may be sent as an explicit null
#: (the 2022 full request sends ``"additionalSteps": null``); the rest may not.
NULLABLE_FIELDS: Final = frozenset(
    a.name for a in attrs.fields(SessionRequest) if "_Null" in str(a.type)
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
    ("locale", _check_locale),
    ("expiry_time", _int_range(1, _MAX_EXPIRY_TIME)),
    ("session_length", _int_range(60, 3600)),
    ("token_type", _one_of(t.value for t in TokenType)),
    ("age_limit", _int_range(0)),
    ("age_max", _int_range(0)),
    ("face_matching_threshold_modifier", _check_number),
    ("additional_steps", _check_mapping),
    ("additional_data", _check_mapping),
    ("questionnaire", _text(255)),
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
        rule = _client_id_text(client_id)
        if rule:
            problems.append(FieldProblem("clientId", rule))
    for name, check in _RULES:
        value = getattr(req, name)
        if value is NULL:
            if name not in NULLABLE_FIELDS:
                problems.append(FieldProblem(_WIRE_NAMES[name], _NOT_NULLABLE))
        elif value is not None:
            # Each field's own rule first, then the one every sent value obeys.
            rule = check(value) or json_problem(value)
            if rule:
                problems.append(FieldProblem(_WIRE_NAMES[name], rule))
    if not isinstance(req.allow_unlisted_documents, bool):
        problems.append(FieldProblem("allow_unlisted_documents", "must be true or false"))
    if req.documents is not None and req.documents is not NULL:
        rule = _documents_rule(req.documents, req.allow_unlisted_documents) or json_problem(
            req.documents
        )
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
    if isinstance(documents, str) or not isinstance(documents, Iterable):
        return "must be a list of document type names"
    if not all(isinstance(d, str) and d for d in documents):
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
    name. ``repr()`` hides the auth token and personal data. Echoed ``country`` and
    ``nationality`` are upper-cased (iDenfy echoes them lower-case, ``"lt"``); an
    echoed field of an unexpected type is ``None`` here and as sent in ``raw``.
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
    #: Country -> document types the session accepts (``{"ALL": [...]}`` in 2022 answers).
    allowed_documents: Mapping[str, list[str]] | None = None
    utility_bill: bool | None = None
    questionnaire: str | None = None
    #: The echoed step configuration (often null).
    additional_steps: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    additional_data: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def iframe_url(self) -> str:
        """The URL to embed in an ``<iframe>`` (``https://ui.idenfy.com/?authToken=...``)."""
        return IFRAME_BASE_URL + "?" + urllib.parse.urlencode({"authToken": self.auth_token})


# --------------------------------------------------------------------------- results and webhooks
# Everything below is decoded from iDenfy, never sent. iDenfy adds enum values without
# notice, so every enum here is *open*: a known value becomes a member, an unknown one
# stays a plain ``str`` (members are ``str`` too, so ``tag == "NAME"`` works either way).
# Unknown fields are kept in ``raw``. Dates stay strings: documented examples hold
# placeholders such as "YYYY-MM-DD".

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


@attrs.frozen(kw_only=True)
class VerificationStatus:
    """The ``status`` object of an identification webhook.

    Manual fields are ``None`` until a human reviewed the session (an empty string
    from iDenfy also decodes to ``None``). :attr:`document` and :attr:`face` give
    the final word: the manual result when there is one, else the automatic one.
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
    question to its :class:`VideoCallAnswer`. ``repr()`` hides the auth token.
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


#: What :func:`idenfy_async.webhooks.parse_event` returns.
WebhookEvent: TypeAlias = (
    IdentificationEvent | FacialAuthenticationEvent | DocumentExpirationEvent | VideoCallEvent
)


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
