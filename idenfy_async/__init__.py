"""idenfy-async: the asyncio client for iDenfy's identity verification (KYC) API."""

import typing

from ._client import NOT_GIVEN, AsyncIdenfy
from ._limiter import RateLimit, RateLimiter
from ._retry import CallKind, Failure, RetryDetails, RetryPolicy
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ClientStateError,
    ConfigurationError,
    ConflictError,
    EventLoopMismatchError,
    FieldProblem,
    IdenfyError,
    InsufficientFundsError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    ServerError,
    SignatureVerificationError,
    TokenNotExpiredError,
    TokenNotValidError,
    WebhookPayloadError,
)
from .models import (
    NULL,
    AdditionalStepsStatus,
    AgeEstimate,
    DocumentExpirationEvent,
    DocumentExpirationThreshold,
    DocumentSex,
    DocumentStatus,
    DocumentType,
    DummyStatus,
    EventType,
    FaceStatus,
    FacialAuthenticationEvent,
    FacialAuthenticationMethod,
    FacialAuthenticationStatus,
    FacialAuthenticationType,
    FileUrls,
    FraudTag,
    IdentificationEvent,
    IpProxyRiskLevel,
    MismatchTag,
    OverallStatus,
    Platform,
    ServiceResult,
    ServiceStatus,
    Session,
    SessionRequest,
    Sex,
    StatusResult,
    TokenType,
    VerificationData,
    VerificationStatus,
    VerificationSummary,
    WebhookEvent,
)

if typing.TYPE_CHECKING:
    from .bulk import BulkProgress, BulkResult, BulkState, create_sessions
    from .journal import (
        ErrorKind,
        Journal,
        JournalEntry,
        JournalState,
        MemoryJournal,
        SqliteJournal,
    )
    from .webhooks import construct_event, parse_event, verify_signature

# Imported on first use (PEP 562): bulk and the journal (sqlite3) only serve bulk
# runs, webhooks only webhook handlers; `import idenfy_async` need not load them.
_LAZY = {
    "BulkProgress": "bulk",
    "BulkResult": "bulk",
    "BulkState": "bulk",
    "create_sessions": "bulk",
    "ErrorKind": "journal",
    "Journal": "journal",
    "JournalEntry": "journal",
    "JournalState": "journal",
    "MemoryJournal": "journal",
    "SqliteJournal": "journal",
    "construct_event": "webhooks",
    "parse_event": "webhooks",
    "verify_signature": "webhooks",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AdditionalStepsStatus",
    "AgeEstimate",
    "AsyncIdenfy",
    "AuthenticationError",
    "BadRequestError",
    "BulkProgress",
    "BulkResult",
    "BulkState",
    "CallKind",
    "ClientClosedError",
    "ClientStateError",
    "ConfigurationError",
    "ConflictError",
    "DocumentExpirationEvent",
    "DocumentExpirationThreshold",
    "DocumentSex",
    "DocumentStatus",
    "DocumentType",
    "DummyStatus",
    "ErrorKind",
    "EventLoopMismatchError",
    "EventType",
    "FaceStatus",
    "FacialAuthenticationEvent",
    "FacialAuthenticationMethod",
    "FacialAuthenticationStatus",
    "FacialAuthenticationType",
    "Failure",
    "FieldProblem",
    "FileUrls",
    "FraudTag",
    "IdenfyError",
    "IdentificationEvent",
    "InsufficientFundsError",
    "IpProxyRiskLevel",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalState",
    "MemoryJournal",
    "MismatchTag",
    "NOT_GIVEN",
    "NULL",
    "NotFoundError",
    "OverallStatus",
    "PermissionDeniedError",
    "Platform",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "RequestValidationError",
    "ResponseDecodeError",
    "RetryDetails",
    "RetryPolicy",
    "ServerError",
    "ServiceResult",
    "ServiceStatus",
    "Session",
    "SessionRequest",
    "Sex",
    "SignatureVerificationError",
    "SqliteJournal",
    "StatusResult",
    "TokenNotExpiredError",
    "TokenNotValidError",
    "TokenType",
    "VerificationData",
    "VerificationStatus",
    "VerificationSummary",
    "WebhookEvent",
    "WebhookPayloadError",
    "__version__",
    "construct_event",
    "create_sessions",
    "parse_event",
    "verify_signature",
]
