"""idenfy-async: the asyncio client for iDenfy's identity verification (KYC) API."""

import typing

from . import _model_names, _public, errors
from ._client import AsyncIdenfy
from ._limiter import Pacer, RateLimiter
from ._observe import ResponseInfo
from ._options import NOT_GIVEN, NotGiven, RequestOptions
from ._retry import Failure, OnRetry, RetryDetails, RetryPolicy
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
    CoordinationError,
    EventLoopMismatchError,
    FieldProblem,
    IdenfyError,
    InsufficientFundsError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    NotFoundError,
    OpenSessionError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    ServerError,
    SessionAlreadyOpenError,
    SessionOutcomeUnknownError,
    SignatureVerificationError,
    TokenNotExpiredError,
    TokenNotValidError,
    WebhookPayloadError,
)

if typing.TYPE_CHECKING:
    from . import models as models
    from ._events import (
        DocumentExpirationEvent,
        FacialAuthenticationEvent,
        IdentificationEvent,
        VideoCallAnswer,
        VideoCallEvent,
        WebhookEvent,
    )
    from ._limiter import RateLimit as RateLimit  # deprecated: Pacer (see _RENAMED)
    from ._open_enums import (
        AdditionalStepsStatus,
        AgeEstimate,
        DocumentExpirationThreshold,
        DocumentSex,
        DocumentStatus,
        EventType,
        FaceStatus,
        FacialAuthenticationMethod,
        FacialAuthenticationStatus,
        FacialAuthenticationType,
        FraudTag,
        IpProxyRiskLevel,
        MismatchTag,
        OverallStatus,
        Platform,
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
    from ._retry import CallKind as CallKind  # importable, not in __all__: in no public signature
    from ._session_fields import SessionFields
    from .bulk import BulkProgress, BulkResult, BulkState, create_sessions
    from .journal import (
        ErrorKind as ErrorKind,  # deprecated: ErrorRecord
    )
    from .journal import (
        ErrorRecord,
        Journal,
        JournalEntry,
        JournalState,
        MemoryJournal,
        SqliteJournal,
    )
    from .kyc_models import (
        AdditionalStepUpload,
        BlocklistEntry,
        BlocklistSource,
        FaceAuthCheck,
        FaceAuthCheckType,
        FaceAuthSession,
        FaceAuthToken,
        FaceAuthTokenRequest,
        FileSource,
        InformationRequest,
        InformationRequestToken,
        PoaCheck,
        PoaCheckRequest,
        PoaOverallStatus,
        ProcessingDocumentType,
        ProcessingRequest,
    )
    from .models import (
        NULL,
        DocumentType,
        DummyStatus,
        Session,
        SessionRequest,
        Sex,
        TokenType,
    )
    from .reconcile import (
        ReconcileOutcome,
        ReconcilePolicy,
        ReconcileReason,
        Reconciliation,
        VerificationLister,
    )
    from .webhooks import construct_event, parse_event, verify_signature

# Imported on first use (PEP 562): the session models (and their field rules) only
# serve the first request built or answer read, bulk and the journal (sqlite3) only
# bulk runs, webhooks only webhook handlers, decoded results and webhook events only
# the calls that read them (``models`` serves them: see models.LAZY), reconciliation
# only an ambiguous create; `import idenfy_async` need not load them.
_LAZY = {
    # models serves its own names and the results', events' and open enums' (models.LAZY)
    **dict.fromkeys([*_model_names.SESSION_NAMES.split(), *_model_names.LAZY], "models"),
    "SessionFields": "_session_fields",  # a type for typed wrappers only
    "BulkProgress": "bulk",
    "BulkResult": "bulk",
    "BulkState": "bulk",
    "create_sessions": "bulk",
    "ErrorRecord": "journal",
    "Journal": "journal",
    "JournalEntry": "journal",
    "JournalState": "journal",
    "MemoryJournal": "journal",
    "SqliteJournal": "journal",
    "construct_event": "webhooks",
    "parse_event": "webhooks",
    "verify_signature": "webhooks",
    "ReconcileOutcome": "reconcile",
    "ReconcilePolicy": "reconcile",
    "ReconcileReason": "reconcile",
    "Reconciliation": "reconcile",
    "VerificationLister": "reconcile",
    "AdditionalStepUpload": "kyc_models",
    "BlocklistEntry": "kyc_models",
    "BlocklistSource": "_open_enums",
    "FaceAuthCheck": "kyc_models",
    "FaceAuthCheckType": "_open_enums",
    "FaceAuthSession": "kyc_models",
    "FaceAuthToken": "kyc_models",
    "FaceAuthTokenRequest": "kyc_models",
    "FileSource": "kyc_models",
    "InformationRequest": "kyc_models",
    "InformationRequestToken": "kyc_models",
    "PoaCheck": "kyc_models",
    "PoaCheckRequest": "kyc_models",
    "PoaOverallStatus": "_open_enums",
    "ProcessingDocumentType": "_open_enums",
    "ProcessingRequest": "kyc_models",
}


#: Old names still importable for one release, each use with a DeprecationWarning
#: (served here, never cached in globals(), so every use warns).
_RENAMED = {"RateLimit": "Pacer", "ErrorKind": "ErrorRecord"}
#: Importable but not public API (in no public signature): served, never cached here.
_UNLISTED = {"CallKind": "_retry"}


def __getattr__(name: str) -> typing.Any:
    new_name = _RENAMED.get(name)
    if new_name is not None:
        import warnings

        warnings.warn(
            f"idenfy_async.{name} is deprecated and will be removed in the next release;"
            f" use idenfy_async.{new_name} (the same object)",
            DeprecationWarning,
            stacklevel=2,
        )
        if new_name in globals():
            return globals()[new_name]
        name = new_name
    if name in _UNLISTED:
        from importlib import import_module

        return getattr(import_module(f".{_UNLISTED[name]}", __name__), name)
    if name == "models":  # a submodule: importing it binds it here
        from importlib import import_module

        return import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    loaded = import_module(f".{module}", __name__)
    namespace = vars(loaded)
    for lazy_name, home in _LAZY.items():  # all of the module's loaded names at once
        # (not the ones models serves on first use: each loads its own module)
        if home == module and (lazy_name == name or lazy_name in namespace):
            value = getattr(loaded, lazy_name)
            _public.claim(value)
            globals()[lazy_name] = value
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_UNLISTED, "models"})


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AdditionalStepUpload",
    "AdditionalStepsStatus",
    "AgeEstimate",
    "AsyncIdenfy",
    "AuthenticationError",
    "BadRequestError",
    "BlocklistEntry",
    "BlocklistSource",
    "BulkProgress",
    "BulkResult",
    "BulkState",
    "ClientClosedError",
    "ClientStateError",
    "ConfigurationError",
    "ConflictError",
    "CoordinationError",
    "DocumentExpirationEvent",
    "DocumentExpirationThreshold",
    "DocumentSex",
    "DocumentStatus",
    "DocumentType",
    "DummyStatus",
    "ErrorRecord",
    "EventLoopMismatchError",
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
    "Failure",
    "FieldProblem",
    "FileSource",
    "FileUrls",
    "FraudTag",
    "IdenfyError",
    "IdentificationEvent",
    "InformationRequest",
    "InformationRequestToken",
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
    "NotGiven",
    "OnRetry",
    "OpenSessionError",
    "OverallStatus",
    "Pacer",
    "PermissionDeniedError",
    "Platform",
    "PoaCheck",
    "PoaCheckRequest",
    "PoaOverallStatus",
    "ProcessingDocumentType",
    "ProcessingRequest",
    "RateLimitError",
    "RateLimiter",
    "ReconcileOutcome",
    "ReconcilePolicy",
    "ReconcileReason",
    "Reconciliation",
    "RequestOptions",
    "RequestValidationError",
    "ResponseDecodeError",
    "ResponseInfo",
    "RetryDetails",
    "RetryPolicy",
    "ServerError",
    "ServiceResult",
    "ServiceStatus",
    "Session",
    "SessionAlreadyOpenError",
    "SessionFields",
    "SessionOutcomeUnknownError",
    "SessionRequest",
    "Sex",
    "SignatureVerificationError",
    "SqliteJournal",
    "StatusResult",
    "TokenNotExpiredError",
    "TokenNotValidError",
    "TokenType",
    "VerificationData",
    "VerificationLister",
    "VerificationStatus",
    "VerificationSummary",
    "VideoCallAnswer",
    "VideoCallEvent",
    "WebhookEvent",
    "WebhookPayloadError",
    "__version__",
    "construct_event",
    "create_sessions",
    "parse_event",
    "verify_signature",
]


def _claim_public_names() -> None:
    """``idenfy_async.X`` in reprs and pickles for what is loaded now (lazy names: when
    loaded, in ``__getattr__``); the public classes of errors that the package does
    not export say ``idenfy_async.errors`` (models claims its own when loaded)."""
    for name in __all__:
        if name in globals():
            _public.claim(globals()[name])
    _public.claim_module(errors.__name__)


_claim_public_names()
