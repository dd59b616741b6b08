"""Which public model names load on first use, and from where: a table with no
imports, so that the package (which must not load :mod:`.models` on import) and
:mod:`.models` itself serve the same names from one list."""

from __future__ import annotations

from typing import Final

# The names each module loaded on first use serves (tests hold them to __all__).
_OPEN_ENUMS: Final = (
    "AdditionalStepsStatus AgeEstimate DocumentExpirationThreshold DocumentSex DocumentStatus"
    " EventType FaceStatus FacialAuthenticationMethod FacialAuthenticationStatus"
    " FacialAuthenticationType FraudTag IpProxyRiskLevel MismatchTag OverallStatus Platform"
)
_RESULTS: Final = (
    "FileUrls ServiceResult ServiceStatus StatusResult VerificationData VerificationStatus"
    " VerificationSummary"
)
_EVENTS: Final = (
    "DocumentExpirationEvent FacialAuthenticationEvent IdentificationEvent VideoCallAnswer"
    " VideoCallEvent WebhookEvent"
)
#: Served by :mod:`.models` on first use (PEP 562): results, webhook events and the
#: open enums they hold are built by the first call that reads one, not by
#: ``import idenfy_async``.
LAZY: Final = {
    **dict.fromkeys(_OPEN_ENUMS.split(), "_open_enums"),
    **dict.fromkeys(_RESULTS.split(), "_results"),
    **dict.fromkeys(_EVENTS.split(), "_events"),
}
#: What :mod:`.models` defines itself, that the package exports.
SESSION_NAMES: Final = "NULL DocumentType DummyStatus Session SessionRequest Sex TokenType"
