"""``SessionFields``: the keywords of ``create_session(**fields)``, typed.

A ``TypedDict`` with one key per [`SessionRequest`][idenfy_async.SessionRequest] field (same
snake_case names, same value types; a test keeps them equal), so a type checker
rejects ``create_session(client_id="x", frist_name="J")`` or
``expiry_time="soon"`` before anything runs. At run time ``SessionRequest`` still
validates (a [`RequestValidationError`][idenfy_async.RequestValidationError] naming the wire field).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ._enums import DocumentType, DummyStatus, Sex, TokenType, _NullType

__all__ = ["SessionFields"]


class SessionFields(TypedDict, total=False):
    """The fields of [`SessionRequest`][idenfy_async.SessionRequest] as keywords (all optional here:
    a missing ``client_id`` is reported by ``SessionRequest`` as "clientId: is required")."""

    client_id: str
    first_name: str | _NullType | None
    last_name: str | _NullType | None
    date_of_birth: str | datetime.date | _NullType | None
    sex: str | Sex | _NullType | None
    nationality: str | _NullType | None
    address: str | _NullType | None
    external_ref: str | _NullType | None
    country: str | Sequence[str] | _NullType | None
    documents: Sequence[str | DocumentType] | _NullType | None
    document_number: str | _NullType | None
    personal_number: str | _NullType | None
    date_of_expiry: str | datetime.date | _NullType | None
    date_of_issue: str | datetime.date | _NullType | None
    success_url: str | _NullType | None
    error_url: str | _NullType | None
    unverified_url: str | _NullType | None
    callback_url: str | _NullType | None
    locale: str | _NullType | None
    expiry_time: int | None
    session_length: int | None
    token_type: str | TokenType | None
    show_instructions: bool | None
    generate_digit_string: bool | None
    verify_email: bool | None
    verify_phone: bool | None
    verify_address: bool | None
    verify_bank: bool | None
    verify_bank_accounts: bool | None
    verify_bank_balances: bool | None
    verify_bank_transactions: bool | None
    bank_card_verification: bool | None
    bank_card_pdf_upload: bool | None
    nfc_required: bool | None
    nfc_optional: bool | None
    age_limit: int | None
    age_max: int | None
    driver_license_back: bool | None
    check_liveness: bool | None
    id_live_face_validation: bool | None
    id_live_document_validation: bool | None
    check_aml: bool | None
    auto_aml_monitoring: bool | None
    check_criminal: bool | None
    check_ip_proxy: bool | None
    check_face_blacklist: bool | None
    check_doc_face_blacklist: bool | None
    check_person_blacklist: bool | None
    check_duplicate_faces: bool | None
    check_duplicate_doc_faces: bool | None
    check_duplicate_personal_data: bool | None
    check_blur_and_glare: bool | None
    check_driver_license: bool | None
    check_lid: bool | None
    auto_face_matching: bool | None
    allow_bsn_masking: bool | None
    face_matching_threshold_modifier: float | None
    additional_steps: Mapping[str, Any] | _NullType | None
    additional_data: Mapping[str, Any] | _NullType | None
    utility_bill: bool | _NullType | None
    questionnaire: str | _NullType | None
    questionnaire_required: bool | None
    risk_assessment_profile: int | str | uuid.UUID | _NullType | None
    review_failed: bool | None
    review_successful: bool | None
    theme: str | uuid.UUID | _NullType | None
    registry_centers_countries: Sequence[str] | _NullType | None
    video_call_questions: Sequence[str] | None
    dummy_status: str | DummyStatus | None
    extra: Mapping[str, Any] | None
    allow_unlisted_documents: bool
    allow_legacy_token_types: bool
