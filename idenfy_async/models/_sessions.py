"""The token request ([`SessionRequest`][idenfy_async.SessionRequest], every field with its rule)
and the session it returns ([`Session`][idenfy_async.Session])."""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from ..errors import FieldProblem, RequestValidationError
from ._checks import (
    _MAX_EXPIRY_TIME,
    _check_birth_date,
    _check_bool,
    _check_callback_url,
    _check_client_id,
    _check_countries,
    _check_country_list,
    _check_date,
    _check_document_list,
    _check_mapping,
    _check_name,
    _check_nationality,
    _check_number,
    _check_risk_profile,
    _check_str_list,
    _check_token_locale,
    _check_url,
    _check_uuid,
    _int_range,
    _mask,
    _one_of,
    _text,
)
from ._checks import json_problem as json_problem
from ._checks import utf8_problem as utf8_problem
from ._enums import NULL, DocumentType, DummyStatus, Sex, TokenType, _Null
from ._rules import Rule as Rule
from ._rules import (
    _enum_value,
    _enum_values,
    _iso_date,
    _json_mapping,
    _lower,
    _risk_profile,
    _tuple,
    _upper,
    _upper_all,
    _uuid_text,
    field_problems,
    model_cell_value,
    rule,
    rules_of,
)
from ._urls import IFRAME_BASE_URL as IFRAME_BASE_URL
from ._urls import session_ui_url

# --------------------------------------------------------------------------- field rules
# One declaration per kind of field, shared by the fields that obey it.
_BOOL: Final = rule("bool", _check_bool)
_NAME: Final = rule("str", _check_name, nullable=True)
_DATE: Final = rule("str", _check_date, nullable=True)
_URL: Final = rule("str", _check_url, nullable=True)
_COUNTRIES: Final = rule("list", _check_country_list, nullable=True)
_JSON_OBJECT: Final = rule("json", _check_mapping, nullable=True)
_DOCUMENT_TYPES: Final = frozenset(d.value for d in DocumentType)
_TOKEN_TYPE_RULE: Final = _one_of(t.value for t in TokenType)
#: The token types of iDenfy's contract (kyc OpenAPI, /api/v2/token tokenType); the
#: VIDEO_CALL* ones of older docs need ``allow_legacy_token_types=True``.
CONTRACT_TOKEN_TYPES: Final = frozenset({TokenType.IDENTIFICATION.value, TokenType.DOCUMENT.value})


@attrs.frozen(kw_only=True, repr=False)
class SessionRequest:
    """The body of ``POST /api/v2/token``: every documented parameter.

    Only ``client_id`` is required. A field left as ``None`` is not sent, so the
    dashboard default applies; use [`NULL`][idenfy_async.NULL] to send an explicit ``null`` for
    any parameter iDenfy documents as nullable
    ([`NULLABLE_FIELDS`][idenfy_async.models.NULLABLE_FIELDS]: personal data, URLs, ``locale``,
    ``country``, ``documents``, ``questionnaire``, ``additional_steps``, ``additional_data``, ...).
    ``locale`` is an ISO 639-1 code (lower-cased); names are letters (any script) with spaces,
    hyphens, apostrophes and periods; an integer ``risk_assessment_profile`` given as
    digits is sent as a JSON integer.
    ``extra`` passes through parameters this model does not know yet. Unlisted
    document types are refused unless ``allow_unlisted_documents=True``; the legacy
    ``VIDEO_CALL*`` token types (not in iDenfy's contract) unless
    ``allow_legacy_token_types=True``. URLs must be RFC 3986 URIs (encode a space
    or a quote yourself); ``theme`` and ``risk_assessment_profile`` UUIDs are sent in
    their canonical form.

    Each field's rule is declared on the field (``metadata``, see ``_rules.Rule``).

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    client_id: str = attrs.field(
        kw_only=False, metadata=rule("str", _check_client_id, required=True)
    )

    # Personal data
    first_name: str | _Null | None = attrs.field(default=None, repr=False, metadata=_NAME)
    last_name: str | _Null | None = attrs.field(default=None, repr=False, metadata=_NAME)
    date_of_birth: str | _dt.date | _Null | None = attrs.field(
        default=None,
        converter=_iso_date,
        repr=False,
        metadata=rule("str", _check_birth_date, nullable=True),
    )
    sex: str | Sex | _Null | None = attrs.field(
        default=None,
        converter=_enum_value,
        repr=False,
        metadata=rule("str", _one_of(s.value for s in Sex), nullable=True),
    )
    nationality: str | _Null | None = attrs.field(
        default=None,
        converter=_upper,
        repr=False,
        metadata=rule("str", _check_nationality, nullable=True),
    )
    address: str | _Null | None = attrs.field(
        default=None,
        repr=False,
        metadata=rule("str", _text(255, allow_empty=True), nullable=True),
    )
    external_ref: str | _Null | None = attrs.field(
        default=None,
        metadata=rule("str", _text(40, ascii_only=True, allow_empty=True), nullable=True),
    )

    # Document data
    country: str | Sequence[str] | _Null | None = attrs.field(
        default=None,
        converter=_upper_all,
        metadata=rule("list_or_str", _check_countries, nullable=True),
    )
    documents: Sequence[str | DocumentType] | _Null | None = attrs.field(
        default=None,
        converter=_enum_values,
        metadata=rule("list", _check_document_list, nullable=True),
    )
    document_number: str | _Null | None = attrs.field(
        default=None, repr=False, metadata=rule("str", _text(50), nullable=True)
    )
    personal_number: str | _Null | None = attrs.field(
        default=None, repr=False, metadata=rule("str", _text(50), nullable=True)
    )
    date_of_expiry: str | _dt.date | _Null | None = attrs.field(
        default=None, converter=_iso_date, repr=False, metadata=_DATE
    )
    date_of_issue: str | _dt.date | _Null | None = attrs.field(
        default=None, converter=_iso_date, repr=False, metadata=_DATE
    )

    # Session settings
    success_url: str | _Null | None = attrs.field(default=None, metadata=_URL)
    error_url: str | _Null | None = attrs.field(default=None, metadata=_URL)
    unverified_url: str | _Null | None = attrs.field(default=None, metadata=_URL)
    callback_url: str | _Null | None = attrs.field(
        default=None, metadata=rule("str", _check_callback_url, nullable=True)
    )
    locale: str | _Null | None = attrs.field(
        default=None, converter=_lower, metadata=rule("str", _check_token_locale, nullable=True)
    )
    expiry_time: int | None = attrs.field(
        default=None, metadata=rule("int", _int_range(0, _MAX_EXPIRY_TIME))
    )
    session_length: int | None = attrs.field(
        default=None, metadata=rule("int", _int_range(60, 3600))
    )
    token_type: str | TokenType | None = attrs.field(
        default=None, converter=_enum_value, metadata=rule("str", _TOKEN_TYPE_RULE)
    )
    show_instructions: bool | None = attrs.field(default=None, metadata=_BOOL)
    generate_digit_string: bool | None = attrs.field(default=None, metadata=_BOOL)

    # Verification features
    verify_email: bool | None = attrs.field(default=None, metadata=_BOOL)
    verify_phone: bool | None = attrs.field(default=None, metadata=_BOOL)
    verify_address: bool | None = attrs.field(default=None, metadata=_BOOL)
    verify_bank: bool | None = attrs.field(default=None, metadata=_BOOL)
    verify_bank_accounts: bool | None = attrs.field(default=None, metadata=_BOOL)
    verify_bank_balances: bool | None = attrs.field(default=None, metadata=_BOOL)
    verify_bank_transactions: bool | None = attrs.field(default=None, metadata=_BOOL)
    bank_card_verification: bool | None = attrs.field(default=None, metadata=_BOOL)
    bank_card_pdf_upload: bool | None = attrs.field(default=None, metadata=_BOOL)
    nfc_required: bool | None = attrs.field(default=None, metadata=_BOOL)
    nfc_optional: bool | None = attrs.field(default=None, metadata=_BOOL)
    age_limit: int | None = attrs.field(default=None, metadata=rule("int", _int_range(0)))
    age_max: int | None = attrs.field(default=None, metadata=rule("int", _int_range(0)))
    driver_license_back: bool | None = attrs.field(default=None, metadata=_BOOL)

    # Security and fraud detection
    check_liveness: bool | None = attrs.field(default=None, metadata=_BOOL)
    id_live_face_validation: bool | None = attrs.field(default=None, metadata=_BOOL)
    id_live_document_validation: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_aml: bool | None = attrs.field(default=None, metadata=_BOOL)
    auto_aml_monitoring: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_criminal: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_ip_proxy: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_face_blacklist: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_doc_face_blacklist: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_person_blacklist: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_duplicate_faces: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_duplicate_doc_faces: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_duplicate_personal_data: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_blur_and_glare: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_driver_license: bool | None = attrs.field(default=None, metadata=_BOOL)
    check_lid: bool | None = attrs.field(default=None, metadata=_BOOL)
    auto_face_matching: bool | None = attrs.field(default=None, metadata=_BOOL)
    allow_bsn_masking: bool | None = attrs.field(default=None, metadata=_BOOL)
    face_matching_threshold_modifier: float | None = attrs.field(
        default=None, metadata=rule("float", _check_number)
    )

    # Customisation
    additional_steps: Mapping[str, Any] | _Null | None = attrs.field(
        default=None, converter=_json_mapping, repr=False, metadata=_JSON_OBJECT
    )
    additional_data: Mapping[str, Any] | _Null | None = attrs.field(
        default=None, converter=_json_mapping, repr=False, metadata=_JSON_OBJECT
    )
    utility_bill: bool | _Null | None = attrs.field(
        default=None, metadata=rule("bool", _check_bool, nullable=True)
    )
    questionnaire: str | _Null | None = attrs.field(
        default=None, metadata=rule("str", _text(None, allow_empty=True), nullable=True)
    )
    questionnaire_required: bool | None = attrs.field(default=None, metadata=_BOOL)
    risk_assessment_profile: int | str | uuid.UUID | _Null | None = attrs.field(
        default=None,
        converter=_risk_profile,
        metadata=rule("str", _check_risk_profile, nullable=True),
    )
    review_failed: bool | None = attrs.field(default=None, metadata=_BOOL)
    review_successful: bool | None = attrs.field(default=None, metadata=_BOOL)
    theme: str | uuid.UUID | _Null | None = attrs.field(
        default=None, converter=_uuid_text, metadata=rule("str", _check_uuid, nullable=True)
    )
    registry_centers_countries: Sequence[str] | _Null | None = attrs.field(
        default=None, converter=_upper_all, metadata=_COUNTRIES
    )
    video_call_questions: Sequence[str] | None = attrs.field(
        default=None, converter=_tuple, metadata=rule("list", _check_str_list)
    )
    dummy_status: str | DummyStatus | None = attrs.field(
        default=None,
        converter=_enum_value,
        metadata=rule("str", _one_of(s.value for s in DummyStatus)),
    )

    # Not sent as such
    extra: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_json_mapping, repr=False, metadata=rule("json", _check_mapping)
    )
    allow_unlisted_documents: bool = attrs.field(
        default=False,
        metadata=rule("bool", _check_bool, wire="allow_unlisted_documents", sent=False),
    )
    allow_legacy_token_types: bool = attrs.field(
        default=False,
        metadata=rule("bool", _check_bool, wire="allow_legacy_token_types", sent=False),
    )

    def __attrs_post_init__(self) -> None:
        problems = field_problems(self) + _cross_field_problems(self)
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


#: Parameters iDenfy documents as nullable: these may be sent as an explicit null
#: (the 2022 full request sends ``"additionalSteps": null``); the rest may not.
NULLABLE_FIELDS: Final = frozenset(
    name for name, _, declared in rules_of(SessionRequest) if declared.nullable
)
_REPR_FIELDS: Final = tuple(
    a
    for a in attrs.fields(SessionRequest)
    if a.name not in ("allow_unlisted_documents", "allow_legacy_token_types")
)
_KNOWN_WIRE_NAMES: Final = frozenset(
    wire for _, wire, declared in rules_of(SessionRequest) if declared.sent
) - {"extra"}


def _cross_field_problems(req: SessionRequest) -> list[FieldProblem]:
    # The rules that read two fields; each field's own rule is on the field.
    problems: list[FieldProblem] = []
    documents = req.documents
    if (
        not req.allow_unlisted_documents
        and documents is not None
        and documents is not NULL
        and not (_check_document_list(documents) or json_problem(documents))
        and not _DOCUMENT_TYPES.issuperset(documents)
    ):
        rule_text = (
            "must contain only known document types (allow_unlisted_documents=True to force)"
        )
        problems.append(FieldProblem("documents", rule_text))
    if (
        not req.allow_legacy_token_types
        and isinstance(req.token_type, str)
        and req.token_type not in CONTRACT_TOKEN_TYPES
        and not _TOKEN_TYPE_RULE(req.token_type)
    ):
        rule_text = (
            "must be IDENTIFICATION or DOCUMENT (the legacy VIDEO_CALL types need"
            " allow_legacy_token_types=True)"
        )
        problems.append(FieldProblem("tokenType", rule_text))
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


# --------------------------------------------------------------------------- responses


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
    #: None when the answer has no clientId or a null one (nullable, not required in
    #: iDenfy's contract): the session exists and is paid for all the same.
    client_id: str | None = None
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
        return session_ui_url(self.auth_token)


def cell_value(attribute_name: str, text: str, model: type | None = None) -> object:
    """The value a text cell (CSV) gives a request field; ``None`` for an empty cell.

    Booleans read true/false, t/f, yes/no, y/n or 1/0 (any case); integers and numbers
    as Python reads them; objects as JSON; lists as ``A|B`` (blank parts dropped) or a
    JSON list, and a field that also takes one string (``country``) keeps text without
    ``|`` as that string; anything else stays text. ``model`` defaults to
    [`SessionRequest`][idenfy_async.SessionRequest].

    Raises:
        RequestValidationError: naming the field's wire name and the rule, never the text.
        KeyError: ``attribute_name`` is not a field with a rule.
    """
    return model_cell_value(SessionRequest if model is None else model, attribute_name, text)
