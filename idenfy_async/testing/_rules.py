"""The fake's own rules for request bodies (the token, request-information, POA,
blocklists, face-authentication tokens), from iDenfy's contract and reference.

Written from the API reference (field names in camelCase as on the wire, types,
lengths, enumerations, ranges, which fields may be ``null``), not from the library's
[`SessionRequest`][idenfy_async.SessionRequest]: the fake checks the raw JSON body it receives,
so a test that the library's requests pass here checks the library against iDenfy's
documentation, not against itself. The first broken rule is answered with iDenfy's
documented 400 shape, ``{"identifier": "BAD_VALUE", "message": "Field 'country' ..."}``
(``MISSING_VALUE`` for a missing ``clientId``). Fields the reference does not list
pass: the API keeps adding parameters.

Where the reference's sources disagree, the rule below says which one it follows.
"""

from __future__ import annotations

import datetime as _dt
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._common import Answer, error, json_object

__all__ = [
    "BLOCKLIST_RULES",
    "FACE_AUTH_TOKEN_RULES",
    "POA_RULES",
    "REQUEST_INFORMATION_RULES",
    "TOKEN_RULES",
    "refused_body",
    "token_request",
]

_Check = Callable[[Any], "str | None"]

#: ISO 3166-1 alpha-2 (the public-domain ``iso3166.tab`` of the tz database), plus
#: ``XK`` (Kosovo), which iDenfy's CountryEnum adds.
ISO_COUNTRIES: Final = frozenset(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN "
        "BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
        "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL "
        "GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM "
        "JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
        "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
        "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD "
        "SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
        "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
        "XK"
    ).split()
)
#: Characters iDenfy refuses in names (the older list; the newer page drops ``<>``).
NAME_FORBIDDEN: Final = frozenset('~!@#$%^*()_+={}[]|:;",<>/?')
MAX_EXPIRY_TIME: Final = 2_592_000  # 30 days
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
#: JSON Schema's ``format: uuid`` (the contract's theme, riskAssessmentProfile): the
#: RFC 4122 string form, hyphenated, no braces or ``urn:uuid:``.
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"[A-Za-z0-9\-._~]"
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:@])"
#: The contract's ``format: uri`` for the URLs: RFC 3986, ``scheme://authority
#: path-abempty [?query] [#fragment]`` (no space, quote, brace or raw non-ASCII).
_URI: Final = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*://"
    rf"(?:(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|:)*@)?"
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS})*)(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)
_DOCUMENT_TYPE: Final = re.compile(r"[A-Z][A-Z0-9_]*")


# --------------------------------------------------------------------------- checks
# Each takes a value that is present and not null; it returns the broken rule or None.


def _string(low: int = 0, high: int | None = None, *, ascii_only: bool = False) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if ascii_only and not value.isascii():
            return "must contain only ASCII characters"
        if len(value) < low:
            return "must not be empty" if low == 1 else f"must be at least {low} characters"
        if high is not None and len(value) > high:
            return f"must be at most {high} characters"
        return None

    return check


def _name(value: Any) -> str | None:
    problem = _string(1, 100)(value)
    if problem:
        return problem
    if any(c.isdigit() for c in value):
        return "must not contain digits"
    if not NAME_FORBIDDEN.isdisjoint(value):
        return "must not contain special characters"
    return None


def _integer(low: int | None = None, high: int | None = None) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if (low is not None and value < low) or (high is not None and value > high):
            return f"must be between {low:,} and {high:,}"
        return None

    return check


def _number(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return None if ok else "must be a number"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be a boolean"


def _choice(*allowed: str) -> _Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return "must be a date in YYYY-MM-DD format"
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return "must be a valid date"
    return None


def _country(value: Any) -> str | None:
    ok = isinstance(value, str) and value in ISO_COUNTRIES
    return None if ok else "must be a valid ISO 3166-1 alpha-2 code"  # iDenfy's own words


def _countries(value: Any) -> str | None:
    # S1 types it as one code, the seed shows a list too: both are accepted.
    if isinstance(value, list):
        if value and all(isinstance(v, str) and v in ISO_COUNTRIES for v in value):
            return None
        return "must be a list of valid ISO 3166-1 alpha-2 codes"
    return _country(value)


def _nationality(value: Any) -> str | None:
    # "ALL" clears it; iDenfy upper-cases what it gets.
    if value == "ALL":
        return None
    return _country(value.upper() if isinstance(value, str) else value)


def _documents(value: Any) -> str | None:
    # Types only: the reference's 35 are a floor (the API knows legacy ones too).
    if isinstance(value, list) and all(
        isinstance(v, str) and _DOCUMENT_TYPE.fullmatch(v) for v in value
    ):
        return None
    return "must be a list of document types"


def _url(high: int | None) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if len(value) < 5 or (high is not None and len(value) > high):
            return f"must be 5 to {high} characters long" if high else "is too short"
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "must be an absolute http(s) URL"
        return None if _URI.fullmatch(value) else "must be a valid URI (RFC 3986)"

    return check


def _uuid(value: Any) -> str | None:
    if isinstance(value, str) and _UUID.fullmatch(value):
        return None
    return "must be a valid UUID"


def _risk_profile(value: Any) -> str | None:
    # S1: a UUID; the seed: an integer id.
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    return None if not _uuid(value) else "must be an id or a valid UUID"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _strings(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if ok else "must be a list of strings"


# --------------------------------------------------------------------------- the table

_TOGGLES: Final = (
    # Feature toggles (S1), then the seed's newer ones, then the session switches.
    "verifyEmail verifyPhone verifyBank verifyBankAccounts verifyBankBalances"
    " verifyBankTransactions bankCardVerification bankCardPdfUpload verifyAddress checkAml"
    " checkCriminal checkLiveness checkFaceBlacklist checkDocFaceBlacklist checkPersonBlacklist"
    " checkDuplicateFaces checkDuplicateDocFaces checkDuplicatePersonalData checkDriverLicense"
    " checkLid checkIpProxy allowBsnMasking nfcRequired nfcOptional autoAmlMonitoring"
    " driverLicenseBack"
    " idLiveFaceValidation idLiveDocumentValidation checkBlurAndGlare autoFaceMatching"
    " showInstructions reviewSuccessful reviewFailed questionnaireRequired generateDigitString"
).split()

#: wire name -> (check, may be null). ``clientId`` is checked first, apart.
TOKEN_RULES: Final[Mapping[str, tuple[_Check, bool]]] = {
    # S1 (the contract) knows these two; the legacy VIDEO_CALL* of older pages are not
    # in it, and the seed agrees.
    "tokenType": (_choice("IDENTIFICATION", "DOCUMENT"), False),
    "externalRef": (_string(0, 40, ascii_only=True), True),
    # S1: 0 to 30 days (older docs said "more than 0"; neither the contract nor the
    # seed refuses 0).
    "expiryTime": (_integer(0, MAX_EXPIRY_TIME), False),
    "sessionLength": (_integer(60, 3600), False),
    "locale": (_string(1, 7), True),  # S1: at most 7 characters
    "country": (_countries, True),
    "documents": (_documents, True),
    "firstName": (_name, True),
    "lastName": (_name, True),
    "dateOfBirth": (_date, True),
    "dateOfExpiry": (_date, True),
    "dateOfIssue": (_date, True),
    "nationality": (_nationality, True),
    "personalNumber": (_string(1, 50), True),
    "documentNumber": (_string(1, 50), True),
    "sex": (_choice("M", "F"), True),
    "address": (_string(0, 255), True),
    "successUrl": (_url(2048), True),
    "errorUrl": (_url(2048), True),
    "unverifiedUrl": (_url(2048), True),
    "callbackUrl": (_url(None), True),  # no length documented
    "questionnaire": (_string(), True),
    "riskAssessmentProfile": (_risk_profile, True),
    "theme": (_uuid, True),
    "registryCentersCountries": (_strings, True),  # a list: never a bare string
    "utilityBill": (_boolean, True),
    # Objects; null too: the 2022 full token request sends both as null (reference §10).
    "additionalSteps": (_object, True),
    "additionalData": (_object, True),
    "ageLimit": (_integer(), False),
    "ageMax": (_integer(), False),
    "faceMatchingThresholdModifier": (_number, False),
    "videoCallQuestions": (_strings, False),
    "dummyStatus": (_choice("APPROVED", "DENIED", "SUSPECTED", "EXPIRED", "ACTIVE"), False),
    **dict.fromkeys(_TOGGLES, (_boolean, False)),
}
_CLIENT_ID: Final = _string(1, 100, ascii_only=True)
#: Known names by their letters alone: ``first_name`` or ``FirstName`` is a known
#: parameter misspelt. The API would ignore it silently (the user's data unused); the
#: fake refuses it, so that a wrong wire name cannot pass a test.
_SPELLINGS: Final = {name.lower(): name for name in (*TOKEN_RULES, "clientId", "personScanRef")}


def token_request(body: bytes) -> dict[str, Any] | Answer:
    """The token request's JSON object (``clientId`` filled from ``personScanRef``,
    its legacy alias), or the 400 iDenfy answers for it."""
    payload = json_object(body)
    if not isinstance(payload, dict):
        return payload
    if payload.get("clientId") in (None, "") and payload.get("personScanRef") not in (None, ""):
        payload = {**payload, "clientId": payload["personScanRef"]}
    problem = _problem(payload)
    if problem is None:
        return payload
    name, rule = problem
    if rule is None:
        return error(400, "MISSING_VALUE", f"Missing value: '{name}'.")
    return error(400, "BAD_VALUE", f"Field '{name}' {rule}.")


def _problem(payload: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The first (field, broken rule) of ``payload``; rule None: the field is missing."""
    client_id = payload.get("clientId")
    if client_id is None or client_id == "":
        return "clientId", None
    rule = _CLIENT_ID(client_id)
    if rule:
        return "clientId", rule
    for name, value in payload.items():
        known = TOKEN_RULES.get(name)
        if known is None:
            wire = _SPELLINGS.get(name.replace("_", "").lower())
            if wire is not None and wire != name:
                return name, f"is not a parameter: the wire name is {wire}"
            continue  # not in the reference: the API's newer parameters pass
        check, nullable = known
        if value is None:
            if not nullable:
                return name, "may not be null"
            continue
        rule = check(value)
        if rule:
            return name, rule
    return None


# --------------------------------------------------------------------------- other KYC bodies
# The rest of the workflow's request bodies, from iDenfy's contract (kyc OpenAPI) where it
# has them, else from the reference: not from the library's request models.

_Rules = Mapping[str, tuple[_Check, bool]]
MAX_LIFETIME: Final = 2_592_000

#: kyc OpenAPI components/schemas/IdentificationRequestInformationRequest (riskAssessmentProfile
#: an integer too: the seed's id).
REQUEST_INFORMATION_RULES: Final[_Rules] = {
    "lifetime": (_integer(0, MAX_LIFETIME), False),
    "questionnaire": (_string(1), False),
    "riskAssessmentProfile": (_risk_profile, False),
    "additionalStepUploadRequired": (_boolean, False),
    "bankCardVerification": (_boolean, False),
    "bankCardExpectedLastFour": (_string(4, 4), True),
}
#: kyc OpenAPI components/schemas/PoaCheckDetailRequest: only ``file`` is required (its
#: base64 and kind are the endpoint's to check).
POA_RULES: Final[_Rules] = {
    "providedName": (_string(0, 255), True),
    "providedAddress": (_string(0, 255), True),
}
#: kyc OpenAPI components/schemas/IdentificationBlacklistRequest
BLOCKLIST_RULES: Final[_Rules] = {"reason": (_string(), True)}
#: Reference §3.12 (not in the face-authentication OpenAPI file): ``scanRef`` required.
FACE_AUTH_TOKEN_RULES: Final[_Rules] = {
    "scanRef": (_string(1, 40), False),
    "type": (_choice("AUTHENTICATION"), False),
    "method": (_choice("FACE_MATCHING", "ACTIVE_LIVENESS"), False),
    "lifetime": (_integer(1, MAX_LIFETIME), False),
    "locale": (_string(1, 7), True),
    "generateDigitString": (_boolean, False),
}


def refused_body(
    payload: Mapping[str, Any], rules: _Rules, required: tuple[str, ...] = ()
) -> Answer | None:
    """iDenfy's 400 for the first rule ``payload`` breaks (``rules``: wire name ->
    (check, may be null); ``required``: must be present, not null or empty), else None.
    Names not in ``rules`` pass, as in the token request."""
    for name in required:
        if payload.get(name) in (None, ""):
            return error(400, "MISSING_VALUE", f"Missing value: '{name}'.")
    for name, value in payload.items():
        known = rules.get(name)
        if known is None:
            continue
        check, nullable = known
        rule = (None if nullable else "may not be null") if value is None else check(value)
        if rule:
            return error(400, "BAD_VALUE", f"Field '{name}' {rule}.")
    return None
