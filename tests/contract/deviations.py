"""Where iDenfy's own pages overrule its contract: every justified deviation, in one place."""

from __future__ import annotations

from typing import Final, NamedTuple

# --------------------------------------------------------------------------- deviations


class Deviation(NamedTuple):
    """Where iDenfy's pages (or the seed) overrule the contract, and how."""

    schema: str  #: the schema's name in this module
    path: str  #: dotted path of the field
    allows: str  #: "null", "absent", "values:A|B" (more enum values), "type:T" (another type)
    source: str


#: Every justified deviation from the contract, in one place, with its source. Where the
#: contract contradicts iDenfy's own pages (or the seed, this product's primary spec),
#: the pages win: the library and the fake may follow them.
DEVIATIONS: Final = (
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "status.manualDocument",
        "null",
        "docs /kyc/webhooks, /kyc/data-retrieval: manual results are empty until reviewed",
    ),
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "status.manualFace",
        "null",
        "docs /kyc/webhooks, /kyc/data-retrieval: manual results are empty until reviewed",
    ),
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "companyId",
        "null",
        "docs /kyc/webhooks: companyId only for KYB (null or absent otherwise)",
    ),
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "companyId",
        "absent",
        "docs /kyc/webhooks: companyId only for KYB (null or absent otherwise)",
    ),
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "beneficiaryId",
        "null",
        "docs /kyc/webhooks: beneficiaryId only for KYB (null or absent otherwise)",
    ),
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "beneficiaryId",
        "absent",
        "docs /kyc/webhooks: beneficiaryId only for KYB (null or absent otherwise)",
    ),
    Deviation(
        "IDENTIFICATION_WEBHOOK",
        "status.overall",
        "values:EXPIRED-DELETED",
        "docs /kyc/data-retrieval, /kyc/status-handling: EXPIRED-DELETED overall status",
    ),
    Deviation(
        "IDENTIFICATION_LIST",
        "results.status",
        "values:EXPIRED-DELETED",
        "docs /kyc/data-retrieval, /kyc/status-handling: EXPIRED-DELETED overall status",
    ),
    Deviation(
        "TOKEN_REQUEST",
        "tokenType",
        "absent",
        "seed (Create Verification Session): only clientId is required; tokenType"
        " defaults to IDENTIFICATION",
    ),
    Deviation(
        "TOKEN_REQUEST",
        "country",
        "type:array",
        "seed (Create Verification Session): country is a string or a list of strings",
    ),
    Deviation(
        "TOKEN_REQUEST",
        "riskAssessmentProfile",
        "type:integer",
        "seed (Create Verification Session): riskAssessmentProfile is an integer id",
    ),
    Deviation(
        "TOKEN_ANSWER",
        "country",
        "type:array",
        "seed: country is echoed as the request gave it (a string or a list)",
    ),
    Deviation(
        "TOKEN_ANSWER",
        "riskAssessmentProfile",
        "type:integer",
        "seed (Create Verification Session): riskAssessmentProfile is an integer id",
    ),
    *(
        Deviation(
            schema,
            name,
            "null",
            "docs (2022 full token request and responses, idenfy/Documentation):"
            f" {name} sent and echoed as null",
        )
        for schema in ("TOKEN_REQUEST", "TOKEN_ANSWER")
        for name in ("additionalSteps", "additionalData")
    ),
    Deviation(
        "REQUEST_INFORMATION_REQUEST",
        "riskAssessmentProfile",
        "type:integer",
        "seed (Create Verification Session): riskAssessmentProfile is an integer id",
    ),
)


def deviations_of(schema: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for deviation in DEVIATIONS:
        if deviation.schema == schema:
            found.setdefault(deviation.path, set()).add(deviation.allows)
    return found
