"""Public typed values: the token request and the session it returns, results, webhook
events, the other KYC products' requests and answers, enums, and the field rules.

Python names are snake_case; the wire uses iDenfy's camelCase (see
[`wire_name`][idenfy_async.models.wire_name]). Requests validate every set field at construction and
report all problems at once; answers keep every field iDenfy sends, known or not. One job per
module: the session request and answer in ``_sessions``, the other KYC products in ``_kyc``, results
in ``_results``, webhook events in ``_events``, enums in ``_enums`` (sent) and
``_open_enums`` (read: unknown values kept), the rule on each field in ``_rules``,
made of the checks in ``_checks``.
"""

from ._checks import json_problem, utf8_problem
from ._countries import COUNTRY_CODES
from ._enums import NULL, DocumentType, DummyStatus, Sex, TokenType
from ._events import (
    DocumentExpirationEvent,
    FacialAuthenticationEvent,
    IdentificationEvent,
    VideoCallAnswer,
    VideoCallEvent,
    WebhookEvent,
)
from ._fields import SessionFields
from ._kyc import (
    ADDITIONAL_STEP_MAX_IMAGE_BYTES,
    POA_MAX_FILE_BYTES,
    PROCESS_MAX_IMAGE_BYTES,
    PROCESS_MAX_REQUEST_BYTES,
    AdditionalStepUpload,
    BlocklistEntry,
    FaceAuthCheck,
    FaceAuthSession,
    FaceAuthToken,
    FaceAuthTokenRequest,
    FileSource,
    InformationRequest,
    InformationRequestToken,
    PoaCheck,
    PoaCheckRequest,
    ProcessingRequest,
)
from ._open_enums import (
    AdditionalStepsStatus,
    AgeEstimate,
    BlocklistSource,
    DocumentExpirationThreshold,
    DocumentSex,
    DocumentStatus,
    EventType,
    FaceAuthCheckType,
    FaceStatus,
    FacialAuthenticationMethod,
    FacialAuthenticationStatus,
    FacialAuthenticationType,
    FraudTag,
    IpProxyRiskLevel,
    MismatchTag,
    OverallStatus,
    Platform,
    PoaOverallStatus,
    ProcessingDocumentType,
)
from ._results import (
    FileUrls,
    ServiceResult,
    ServiceStatus,
    StatusResult,
    VerificationData,
    VerificationStatus,
    VerificationSummary,
)
from ._rules import Rule, wire_name
from ._sessions import NULLABLE_FIELDS, Session, SessionRequest
from ._urls import FACE_AUTH_UI_URL, IFRAME_BASE_URL

__all__ = [
    "ADDITIONAL_STEP_MAX_IMAGE_BYTES",
    "COUNTRY_CODES",
    "FACE_AUTH_UI_URL",
    "IFRAME_BASE_URL",
    "NULL",
    "NULLABLE_FIELDS",
    "POA_MAX_FILE_BYTES",
    "PROCESS_MAX_IMAGE_BYTES",
    "PROCESS_MAX_REQUEST_BYTES",
    "AdditionalStepUpload",
    "AdditionalStepsStatus",
    "AgeEstimate",
    "BlocklistEntry",
    "BlocklistSource",
    "DocumentExpirationEvent",
    "DocumentExpirationThreshold",
    "DocumentSex",
    "DocumentStatus",
    "DocumentType",
    "DummyStatus",
    "EventType",
    "FaceAuthCheck",
    "FaceAuthCheckType",
    "FaceAuthSession",
    "FaceAuthToken",
    "FaceAuthTokenRequest",
    "FaceStatus",
    "FacialAuthenticationEvent",
    "FacialAuthenticationMethod",
    "FacialAuthenticationStatus",
    "FacialAuthenticationType",
    "FileSource",
    "FileUrls",
    "FraudTag",
    "IdentificationEvent",
    "InformationRequest",
    "InformationRequestToken",
    "IpProxyRiskLevel",
    "MismatchTag",
    "OverallStatus",
    "Platform",
    "PoaCheck",
    "PoaCheckRequest",
    "PoaOverallStatus",
    "ProcessingDocumentType",
    "ProcessingRequest",
    "Rule",
    "ServiceResult",
    "ServiceStatus",
    "Session",
    "SessionFields",
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
    "json_problem",
    "utf8_problem",
    "wire_name",
]
