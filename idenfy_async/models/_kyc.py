"""Public models of the rest of the KYC workflow (iDenfy reference §3.7-§3.12).

Face authentication, request-information, blocklists, direct processing, the
additional-step upload and the standalone proof-of-address check. Requests are
validated at construction with the rules [`SessionRequest`][idenfy_async.SessionRequest]
uses (every problem at once, by wire name, never quoting a value); answers keep
every field iDenfy sends in ``raw`` and decode unknown enum values as plain ``str``.

Images and documents are given as ``bytes``, a file path, or an open binary file;
they are read off the event loop when the call is made, base64-encoded on the
wire, and never shown in a ``repr()`` or an error.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from typing import IO, Any, Final, TypeAlias

import attrs

from ..errors import FieldProblem, RequestValidationError
from ._checks import (
    _check_bool,
    _check_country,
    _check_locale,
    _check_mapping,
    _check_risk_profile,
    _int_range,
    _text,
)
from ._open_enums import (
    BlocklistSource,
    FaceAuthCheckType,
    FacialAuthenticationMethod,
    FacialAuthenticationType,
    PoaOverallStatus,
    ProcessingDocumentType,
)
from ._results import _mask
from ._rules import (
    _enum_value,
    _json_mapping,
    _lower,
    _risk_profile,
    field_problems,
    rule,
)
from ._urls import FACE_AUTH_UI_URL as FACE_AUTH_UI_URL
from ._urls import face_auth_ui_url

__all__ = [
    "ADDITIONAL_STEP_MAX_IMAGE_BYTES",
    "FACE_AUTH_UI_URL",
    "POA_MAX_FILE_BYTES",
    "PROCESS_MAX_IMAGE_BYTES",
    "PROCESS_MAX_REQUEST_BYTES",
    "AdditionalStepUpload",
    "BlocklistEntry",
    "BlocklistSource",
    "FaceAuthCheck",
    "FaceAuthCheckType",
    "FaceAuthSession",
    "FaceAuthToken",
    "FaceAuthTokenRequest",
    "FileSource",
    "InformationRequest",
    "InformationRequestToken",
    "PoaCheck",
    "PoaCheckRequest",
    "PoaOverallStatus",
    "ProcessingDocumentType",
    "ProcessingRequest",
]

#: ``/api/v2/process``: each image at most 6 MB (iDenfy: "Max size of 6MB") and the
#: request at most 20 MB. Counted on the base64 text sent, in decimal megabytes: the
#: stricter reading, so a request that passes here is never refused for size there.
PROCESS_MAX_IMAGE_BYTES: Final = 6_000_000
PROCESS_MAX_REQUEST_BYTES: Final = 20_000_000
#: The additional-step upload documents no limit; the direct-processing image limit applies.
ADDITIONAL_STEP_MAX_IMAGE_BYTES: Final = PROCESS_MAX_IMAGE_BYTES
#: The POA check documents no limit; a request over iDenfy's 20 MB bound is refused here.
POA_MAX_FILE_BYTES: Final = PROCESS_MAX_REQUEST_BYTES
#: The longest lifetime iDenfy accepts for a face-auth or request-information token (30 days).
MAX_LIFETIME: Final = 2_592_000
MAX_SCAN_REF_LENGTH: Final = 40
MAX_TOKEN_LENGTH: Final = 255
MAX_REASON_LENGTH: Final = 255
MAX_POA_TEXT: Final = 255
_STEP_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,100}")
_LAST_FOUR: Final = re.compile(r"[0-9]{4}")

#: An image or document: its bytes, a path to it, or a binary file open for reading.
#: Never base64 text (a ``str`` is a path).
FileSource: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


# --------------------------------------------------------------------------- rules


def scan_ref_problem(value: Any) -> str | None:
    """The broken rule for a scanRef (text of 1-40 characters), else None."""
    if value is None:
        return "is required"
    return _text(MAX_SCAN_REF_LENGTH)(value) or (None if value.strip() else "must not be blank")


def _token_problem(value: Any) -> str | None:
    # A token is used in URLs and bodies as given: printable ASCII, no spaces.
    problem = _text(MAX_TOKEN_LENGTH, ascii_only=True)(value)
    if problem:
        return problem
    return None if value.isprintable() and " " not in value else "must be printable, no spaces"


def _one_of(*allowed: str) -> Any:
    listing = ", ".join(allowed)

    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in allowed else f"must be one of {listing}"

    return check


def _check_last_four(value: Any) -> str | None:
    if isinstance(value, str) and _LAST_FOUR.fullmatch(value):
        return None
    return "must be exactly 4 digits"


def _check_step_name(value: Any) -> str | None:
    if isinstance(value, str) and _STEP_NAME.fullmatch(value):
        return None
    return "must be a step name of letters, digits and _ (such as UTILITY_BILL)"


def _check_source(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray | memoryview):
        return None if len(value) else "must not be empty"
    if isinstance(value, str | os.PathLike):
        return None if str(value) else "must be a file path, not empty"
    if callable(getattr(value, "read", None)):
        return None
    return "must be bytes, a file path or a binary file open for reading"


# Field rules shared by several fields (declared on each field, see _rules.Rule).
_SCAN_REF: Final = rule("str", scan_ref_problem, required=True)
_BOOL: Final = rule("bool", _check_bool)
_FILE: Final = rule("file", _check_source, required=True)
#: Optional and nullable in iDenfy's contract (kyc OpenAPI, PoaCheckDetailRequest: only
#: ``file`` is required): without them iDenfy reads the name and address off the document.
_POA_TEXT: Final = rule("str", _text(MAX_POA_TEXT))


def _raise(model: str, problems: list[FieldProblem]) -> None:
    if problems:
        raise RequestValidationError(model, problems)


def _source_repr(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, str | os.PathLike):
        return "<file path>"
    return "<file>"


# --------------------------------------------------------------------------- face authentication


@attrs.frozen(kw_only=True)
class FaceAuthTokenRequest:
    """The body of ``POST /partner/authentication-info``: a face-auth token for a scanRef.

    ``method`` is ``FACE_MATCHING`` (a selfie compared with the approved one) or
    ``ACTIVE_LIVENESS``; ``lifetime`` is seconds (iDenfy's default 1,800, at most
    2,592,000); ``locale`` an ISO 639-1 code. ``type`` is always ``AUTHENTICATION``
    (the only documented value).

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    scan_ref: str = attrs.field(kw_only=False, metadata=_SCAN_REF)
    method: str | FacialAuthenticationMethod = attrs.field(
        default=FacialAuthenticationMethod.FACE_MATCHING,
        converter=_enum_value,
        metadata=rule("str", _one_of(*(m.value for m in FacialAuthenticationMethod))),
    )
    lifetime: int | None = attrs.field(
        default=None, metadata=rule("int", _int_range(1, MAX_LIFETIME))
    )
    locale: str | None = attrs.field(
        default=None, converter=_lower, metadata=rule("str", _check_locale)
    )
    generate_digit_string: bool | None = attrs.field(default=None, metadata=_BOOL)

    def __attrs_post_init__(self) -> None:
        _raise("FaceAuthTokenRequest", field_problems(self, takes_null=False))


@attrs.frozen(kw_only=True)
class FaceAuthCheck:
    """The ``check-status`` answer: whether the scanRef can be re-verified by face.

    ``AUTHENTICATION``: create a face-auth token. ``IDENTIFICATION``: the user must
    go through a full verification again (``create_session``).
    """

    type: FaceAuthCheckType | str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def can_authenticate(self) -> bool:
        """True when a face-authentication token can be created for this scanRef."""
        return self.type == FaceAuthCheckType.AUTHENTICATION


@attrs.frozen(kw_only=True)
class FaceAuthToken:
    """A created face-authentication token (``/partner/authentication-info`` answer).

    Send the user to [`redirect_url`][idenfy_async.models.FaceAuthToken.redirect_url] (or embed it
    in an iframe), or pass [`token`][idenfy_async.models.FaceAuthToken.token] to the mobile SDK.
    ``repr()`` hides the token and digit string.
    """

    token: str = attrs.field(repr=_mask)
    max_attempt_count: int | None = None
    digit_string: str | None = attrs.field(default=None, repr=_mask)
    #: The scanRef the token authenticates against (from the request).
    scan_ref: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def redirect_url(self) -> str:
        """``https://face.authentication.idenfy.com/?token=...`` (redirect or iframe ``src``)."""
        return face_auth_ui_url(self.token)

    @property
    def iframe_url(self) -> str:
        """The same URL as [`redirect_url`][idenfy_async.models.FaceAuthToken.redirect_url]: the
        face-auth UI serves both."""
        return self.redirect_url


@attrs.frozen(kw_only=True)
class FaceAuthSession:
    """One face-authentication session (``/api/v2/facial-authentication-sessions/``).

    ``approved`` is None until the user finished. ``given_scan_ref`` is deprecated
    by iDenfy but still sent.
    """

    id: str | None = None
    token_string: str | None = attrs.field(default=None, repr=_mask)
    approved: bool | None = None
    type: FacialAuthenticationType | str | None = None
    authentication_method: FacialAuthenticationMethod | str | None = None
    given_scan_ref: str | None = None
    face_photo: str | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


# --------------------------------------------------------------------------- request information


@attrs.frozen(kw_only=True)
class InformationRequest:
    """Body of ``POST /kyc/identifications/{scanRef}/request-information/``.

    Asks the user of an existing verification for more: a questionnaire, an
    additional-step upload, a bank card. ``lifetime`` is seconds (0-2,592,000;
    iDenfy's default 86,400); ``bank_card_expected_last_four`` exactly four digits.
    ``risk_assessment_profile`` is a UUID in iDenfy's OpenAPI file, an integer id
    elsewhere: both are accepted (digits are sent as an integer).

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    scan_ref: str = attrs.field(kw_only=False, metadata=_SCAN_REF)
    lifetime: int | None = attrs.field(
        default=None, metadata=rule("int", _int_range(0, MAX_LIFETIME))
    )
    # kyc OpenAPI IdentificationRequestInformationRequest: minLength 1, no maximum.
    questionnaire: str | None = attrs.field(default=None, metadata=rule("str", _text(None)))
    risk_assessment_profile: int | str | uuid.UUID | None = attrs.field(
        default=None, converter=_risk_profile, metadata=rule("str", _check_risk_profile)
    )
    additional_step_upload_required: bool | None = attrs.field(default=None, metadata=_BOOL)
    bank_card_verification: bool | None = attrs.field(default=None, metadata=_BOOL)
    bank_card_expected_last_four: str | None = attrs.field(
        default=None, repr=False, metadata=rule("str", _check_last_four)
    )

    def __attrs_post_init__(self) -> None:
        _raise("InformationRequest", field_problems(self, takes_null=False))


@attrs.frozen(kw_only=True)
class InformationRequestToken:
    """The request-information answer: where the user gives what was asked for.

    Send the user to [`session_url`][idenfy_async.models.InformationRequestToken.session_url];
    ``IDENTIFICATION_RESUBMITTED`` arrives when they are done. ``repr()`` hides the token (the URL
    carries it too).
    """

    session_url: str = attrs.field(repr=False)
    token_string: str | None = attrs.field(default=None, repr=_mask)
    scan_ref: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


# --------------------------------------------------------------------------- blocklists


@attrs.frozen(kw_only=True)
class BlocklistEntry:
    """An entry added to a blocklist (the 201 answer).

    A ``SELFIE`` or ``DOCUMENT`` entry has ``face_image_url``; a ``DOCUMENT_INFO``
    entry has the personal data (never in ``repr()``). ``id`` is the entry's id
    (for face images, iDenfy documents it as the image's scanRef).
    """

    id: str | None = None
    reason: str | None = None
    created: str | None = None
    face_image_url: str | None = attrs.field(default=None, repr=False)
    full_name: str | None = attrs.field(default=None, repr=False)
    date_of_birth: str | None = attrs.field(default=None, repr=False)
    personal_number: str | None = attrs.field(default=None, repr=False)
    document_number: str | None = attrs.field(default=None, repr=False)
    nationality: str | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


# --------------------------------------------------------------------------- direct processing


def _upper_text(value: Any) -> Any:
    return value.upper() if isinstance(value, str) and value.isascii() else value


def _images(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True, repr=False)
class ProcessingRequest:
    """Body of ``POST /api/v2/process``: your own images for a session's ``authToken``.

    ``images`` maps a step to an image: ``FRONT``, ``BACK``, ``FACE``, and
    ``UTILITY_BILL`` or a custom additional step's name. Each image must be JPEG or
    PNG and at most [`PROCESS_MAX_IMAGE_BYTES`][idenfy_async.models.PROCESS_MAX_IMAGE_BYTES] as
    base64 (about 4.5 MB of image); the whole request at most
    [`PROCESS_MAX_REQUEST_BYTES`][idenfy_async.models.PROCESS_MAX_REQUEST_BYTES]. Sizes and formats
    are checked when the images are read, before anything is sent. ``skip_analysis=True`` skips
    document detection (for photos iDenfy's checks refuse). Processing deactivates the token; 3D
    liveness is not available.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    auth_token: str = attrs.field(
        kw_only=False, metadata=rule("str", _token_problem, required=True)
    )
    country: str = attrs.field(
        converter=_upper_text, metadata=rule("str", _check_country, required=True)
    )
    document_type: str | ProcessingDocumentType = attrs.field(
        converter=_enum_value,
        metadata=rule("str", _one_of(*(d.value for d in ProcessingDocumentType)), required=True),
    )
    # No Rule: each image is its own problem, by step name (_image_problems).
    images: Mapping[str, FileSource] = attrs.field(converter=_images)
    skip_analysis: bool | None = attrs.field(default=None, metadata=_BOOL)

    def __attrs_post_init__(self) -> None:
        _raise(
            "ProcessingRequest",
            field_problems(self, takes_null=False) + _image_problems(self.images),
        )

    def __repr__(self) -> str:
        return (
            f"ProcessingRequest(auth_token='***', country={self.country!r},"
            f" document_type={self.document_type!r}, images=<{', '.join(self._names())}>)"
        )

    def _names(self) -> list[str]:
        return [str(name) for name in self.images] if isinstance(self.images, Mapping) else []


def _image_problems(images: Any) -> list[FieldProblem]:
    if not isinstance(images, Mapping) or not images:
        return [FieldProblem("images", "must map at least one step (FRONT, FACE, ...) to an image")]
    problems = []
    for name, source in images.items():
        rule = _check_step_name(name)
        if rule:
            problems.append(FieldProblem("images", f"keys {rule.removeprefix('must be ')}"))
            continue
        rule = _check_source(source)
        if rule:
            problems.append(FieldProblem(f"images.{name}", rule))
    return problems


@attrs.frozen(kw_only=True, repr=False)
class AdditionalStepUpload:
    """Body of ``POST /api/v2/upload-additional-step``: upload or re-upload one step's file.

    For a verification whose additional step (a utility bill older than three
    months, say) must be replaced without a new verification. iDenfy's current
    reference does not show this body; its white-label copy does:
    ``{scanRef, image (base64), step, additionalData}``, which is what is sent.
    ``additional_data`` (e.g. ``{"address": "..."}``) replaces the values manual
    review compares with. The image limits of direct processing apply.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    scan_ref: str = attrs.field(kw_only=False, metadata=_SCAN_REF)
    step: str = attrs.field(metadata=rule("str", _check_step_name, required=True))
    image: FileSource = attrs.field(metadata=_FILE)
    additional_data: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_json_mapping, metadata=rule("json", _check_mapping)
    )

    def __attrs_post_init__(self) -> None:
        _raise("AdditionalStepUpload", field_problems(self, takes_null=False))

    def __repr__(self) -> str:
        return (
            f"AdditionalStepUpload(scan_ref={self.scan_ref!r}, step={self.step!r},"
            f" image={_source_repr(self.image)})"
        )


# --------------------------------------------------------------------------- proof of address


@attrs.frozen(kw_only=True, repr=False)
class PoaCheckRequest:
    """Body of ``POST /api/v2/poa-checks/``: a document checked against a name and address.

    ``file`` is a JPEG, PNG, WebP, HEIC/HEIF image or a PDF (checked from its first
    bytes when read); ``provided_name`` and ``provided_address`` are optional (at most
    255 characters each): one left out is not sent, and iDenfy reads it off the
    document without comparing it.

    Raises:
        RequestValidationError: listing every broken rule, by wire name.
    """

    file: FileSource = attrs.field(kw_only=False, metadata=_FILE)
    provided_name: str | None = attrs.field(default=None, metadata=_POA_TEXT)
    provided_address: str | None = attrs.field(default=None, metadata=_POA_TEXT)

    def __attrs_post_init__(self) -> None:
        _raise("PoaCheckRequest", field_problems(self, takes_null=False))

    def __repr__(self) -> str:
        return f"PoaCheckRequest(file={_source_repr(self.file)}, provided_name=<redacted>, ...)"


@attrs.frozen(kw_only=True)
class PoaCheck:
    """A proof-of-address check result (the 201 answer).

    ``overall_status`` is the verdict (MATCH, NO_MATCH, NOT_COMPARED); the ``*_match``
    and ``*_supported`` flags say why. Names and addresses are personal data: not
    in ``repr()``.
    """

    id: str | None = None
    created: str | None = None
    overall_status: PoaOverallStatus | str | None = None
    name_match: bool | None = None
    address_match: bool | None = None
    date_valid: bool | None = None
    document_type_supported: bool | None = None
    country_supported: bool | None = None
    has_logo: bool | None = None
    is_screenshot: bool | None = None
    issue_date: str | None = None
    document_type: str | None = None
    country: str | None = None
    name: str | None = attrs.field(default=None, repr=False)
    address: str | None = attrs.field(default=None, repr=False)
    org_name: str | None = attrs.field(default=None, repr=False)
    org_address: str | None = attrs.field(default=None, repr=False)
    file: str | None = attrs.field(default=None, repr=False)
    provided_name: str | None = attrs.field(default=None, repr=False)
    provided_address: str | None = attrs.field(default=None, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
