"""iDenfy's OpenAPI contract as Python data: JSON-Schema dicts (the OpenAPI 3.0 dialect
of the files, ``nullable: true``), each naming its source file and path (see the package's
docstring for the files)."""

from __future__ import annotations

from typing import Any, Final

Schema = dict[str, Any]

# --------------------------------------------------------------------------- building blocks


def _s(kind: str | None = None, **rules: Any) -> Schema:
    return {"type": kind, **rules} if kind else dict(rules)


def _obj(required: tuple[str, ...] | list[str] = (), **properties: Schema) -> Schema:
    return {"type": "object", "required": list(required), "properties": properties}


_STR: Final = _s("string")
_NSTR: Final = _s("string", nullable=True)
_BOOL: Final = _s("boolean")
_INT: Final = _s("integer")


def _enum(*values: str, nullable: bool = False) -> Schema:
    return _s("string", enum=list(values), nullable=nullable)


# --------------------------------------------------------------------------- enums (kyc.yml)

#: kyc.yml components/schemas/KycDocumentTypeEnum
KYC_DOCUMENT_TYPES: Final = (
    "ID_CARD PASSPORT RESIDENCE_PERMIT DRIVER_LICENSE PAN_CARD AADHAAR VISA NATIONAL_PASSPORT"
    " PROVISIONAL_DRIVER_LICENSE OLD_ID_CARD MILITARY_CARD ADDRESS_CARD SMART_ID CLEAR ONE_ID"
    " BANK_ID_SE BANK_ID_NO BANK_ID_CZ FTN MIT_ID VERIMI LA_WALLET SAMSUNG_WALLET MOJE_ID_CZ"
    " YOTI_ID OTHER BORDER_CROSSING ASYLUM PHOTO_CARD PROOF_OF_AGE_CARD TRAVEL_CARD"
    " SOCIAL_SECURITY_CARD VOTER_CARD DIPLOMATIC_ID WORK_PERMIT"
).split()
#: kyc.yml components/schemas/IdentificationStatusEnum
IDENTIFICATION_STATUSES: Final = (
    "APPROVED DENIED SUSPECTED REVIEWING EXPIRED ACTIVE DELETED ARCHIVED".split()
)
#: kyc.yml components/schemas/DeviceTypeEnum
DEVICE_TYPES: Final = "PC MOBILE TABLET MOBILE_APP MOBILE_SDK OTHER".split()
#: kyc.yml components/schemas/DocumentStatusEnum
DOCUMENT_STATUSES: Final = (
    "DOC_VALIDATED DOC_INFO_MISMATCH DOC_NOT_FOUND DOC_NOT_FULLY_VISIBLE DOC_FACE_NOT_FOUND"
    " DOC_TOO_BLURRY DOC_GLARED DOC_FACE_GLARED MRZ_NOT_FOUND MRZ_OCR_READING_ERROR"
    " BARCODE_NOT_FOUND DOC_EXPIRED DOC_NOT_SUPPORTED COUNTRY_NOT_SUPPORTED COUNTRY_MISMATCH"
    " DOC_TYPE_MISMATCH DOC_SUBTYPE_MISMATCH DOC_SIDE_MISMATCH DOC_DAMAGED DOC_FAKE"
    " DOC_PERSONAL_CODE_INVALID DOC_NOT_ALLOWED DOC_NAME_ERROR DOC_SURNAME_ERROR DOC_EXPIRY_ERROR"
    " DOC_DOB_ERROR DOC_PERSONAL_NUMBER_ERROR DOC_NUMBER_ERROR DOC_DATE_OF_ISSUE_ERROR"
    " DOC_SEX_ERROR DOC_NATIONALITY_ERROR DOC_NOT_ANALYSED DOC_ERROR AUTO_UNVERIFIABLE"
    " DOC_SPOOF_DETECTED MRZ_INVALID EID_FAILED NFC_INIT_FAILED NFC_FAILED NFC_TIMEOUT"
).split()
#: kyc.yml components/schemas/FaceStatusEnum
FACE_STATUSES: Final = (
    "FACE_MATCH FACE_NOT_CHECKED FACE_MISMATCH NO_FACE_FOUND TOO_MANY_FACES FACE_TOO_BLURRY"
    " FACE_GLARED FACE_UNCERTAIN FACE_NOT_ANALYSED FACE_ERROR AUTO_UNVERIFIABLE FAKE_FACE"
).split()
#: kyc.yml components/schemas/FraudTagsEnum
FRAUD_TAGS: Final = (
    "FACE_IN_BLACKLIST DOC_FACE_IN_BLACKLIST DATA_BLACKLISTED DATA_IN_BLACKLIST DUPLICATE_FACE"
    " DUPLICATE_DOC_FACE DUPLICATE_PERSONAL_DATA VIRTUAL_CAMERA ADDRESS_UNVERIFIED"
    " PORTRAIT_SUBSTITUTION FACE_SUSPECTED FACE_BLACKLISTED DOC_FACE_BLACKLISTED DOC_MOBILE_PHOTO"
    " DEV_TOOLS_OPENED DOC_PRINT_SPOOFED FAKE_PHOTO AML_SUSPECTION AML_FAILED LID_SUSPECTION"
    " LID_FAILED SANCTIONS_SUSPECTION SANCTIONS_FAILED CRIMINAL_SUSPECTED CRIMINAL_CHECK_FAILED"
    " RC_FAILED DL_FAILED AUTO_UNVERIFIABLE"
).split()
#: kyc.yml components/schemas/InfoMismatchEnum
MISMATCH_TAGS: Final = (
    "NAME SURNAME DOCUMENT_NUMBER PERSONAL_CODE EXPIRY_DATE DATE_OF_BIRTH DATE_OF_ISSUE"
    " NATIONALITY SEX FULL_NAME DOC_INFO_MISMATCH UNDER_AGE OVER_AGE UNKNOWN_AGE UTILITY_ADDRESS"
    " UTILITY_NAME EXPIRED_UTILITY_BILL INVALID_ADDITIONAL_STEP ADDITIONAL_STEP_NOT_FOUND"
    " ADDITIONAL_STEP_INFORMATION_MISMATCH EXPIRED_ADDITIONAL_STEP_INFORMATION"
    " REGISTRY_CENTER_INFO_MISMATCH DRIVER_LICENSE_INFO_MISMATCH NOT_SUPPORTED_POA_DOCUMENT_TYPE"
    " NOT_SUPPORTED_POA_DOCUMENT_COUNTRY POA_COUNTRIES_MISMATCH POA_SCREENSHOT_DETECTED"
).split()
#: kyc.yml components/schemas/AgeGroupEnum, RiskLevelEnum, SexEnum, AdditionalStepStatusEnum
AGE_GROUPS: Final = (
    "UNDER_13 UNDER_8 OVER_8 OVER_13 OVER_16 OVER_18 OVER_21 OVER_22 OVER_25 OVER_30".split()
)
RISK_LEVELS: Final = "VERY_LOW LOW MEDIUM HIGH VERY_HIGH NOT_CHECKED".split()
DOCUMENT_SEXES: Final = "MALE FEMALE UNDEFINED".split()
ADDITIONAL_STEP_STATUSES: Final = "VALID INVALID NOT_FOUND".split()
#: kyc.yml /api/v2/token requestBody and 201: tokenType
TOKEN_TYPES: Final = ("IDENTIFICATION", "DOCUMENT")
#: kyc.yml components/schemas/PoaCheckStatusEnum
POA_STATUSES: Final = ("MATCH", "NO_MATCH", "NOT_COMPARED")

# --------------------------------------------------------------------------- token (kyc.yml)

_TOGGLES: Final = (
    "showInstructions reviewSuccessful reviewFailed verifyEmail verifyPhone verifyBank"
    " verifyBankAccounts verifyBankBalances verifyBankTransactions bankCardVerification"
    " bankCardPdfUpload verifyAddress checkAml checkCriminal checkLiveness checkFaceBlacklist"
    " checkDocFaceBlacklist checkPersonBlacklist checkDuplicateFaces checkDuplicateDocFaces"
    " checkDuplicatePersonalData checkDriverLicense checkLid checkIpProxy allowBsnMasking"
    " nfcRequired autoAmlMonitoring driverLicenseBack nfcOptional generateDigitString"
    " questionnaireRequired"
).split()
_URI: Final = _s("string", format="uri", nullable=True)
_UUID: Final = _s("string", format="uuid", nullable=True)

#: kyc.yml paths./api/v2/token.post.requestBody (required: clientId, tokenType).
TOKEN_REQUEST: Final = _obj(
    ("clientId", "tokenType"),
    clientId=_s("string", maxLength=100),
    tokenType=_enum(*TOKEN_TYPES),
    externalRef=_s("string", nullable=True, maxLength=40),
    expiryTime=_s("integer", minimum=0, maximum=2_592_000),
    locale=_s("string", nullable=True, maxLength=7),
    country=_NSTR,
    sessionLength=_s("integer", minimum=60, maximum=3600),
    documents=_s("array", nullable=True, items=_STR),
    firstName=_s("string", nullable=True, maxLength=100),
    lastName=_s("string", nullable=True, maxLength=100),
    dateOfBirth=_s("string", format="date", nullable=True),
    nationality=_NSTR,
    documentNumber=_s("string", nullable=True, maxLength=50),
    personalNumber=_s("string", nullable=True, maxLength=50),
    sex=_enum("M", "F", nullable=True),
    dateOfExpiry=_s("string", format="date", nullable=True),
    dateOfIssue=_NSTR,
    address=_NSTR,
    successUrl=_URI,
    errorUrl=_URI,
    unverifiedUrl=_URI,
    callbackUrl=_URI,
    questionnaire=_NSTR,
    riskAssessmentProfile=_UUID,
    theme=_UUID,
    registryCentersCountries=_s("array", nullable=True, items=_STR),
    faceMatchingThresholdModifier=_s("number"),
    additionalSteps=_s("object"),
    additionalData=_s("object"),
    utilityBill=_s("boolean", nullable=True),
    ageLimit=_INT,
    ageMax=_INT,
    **dict.fromkeys(_TOGGLES, _BOOL),
)

#: kyc.yml paths./api/v2/token.post.responses.201 (required: authToken, scanRef, tokenType).
TOKEN_ANSWER: Final = _obj(
    ("authToken", "scanRef", "tokenType"),
    message=_STR,
    authToken=_STR,
    redirectUrl=_NSTR,
    scanRef=_STR,
    clientId=_NSTR,
    personScanRef=_NSTR,
    tokenType=_enum(*TOKEN_TYPES),
    expiryTime=_INT,
    sessionLength=_INT,
    documents=_s("array", items=_STR),
    allowedDocuments=_s("object", additionalProperties=_s("array", items=_STR)),
    registryCentersCountries=_s("array", items=_STR),
    riskAssessmentProfile=_UUID,
    theme=_UUID,
    additionalSteps=_s("object"),
    additionalData=_s("object"),
    externalRef=_NSTR,
    questionnaire=_NSTR,
    digitString=_NSTR,
    faceMatchingThresholdModifier=_s("number"),
    **dict.fromkeys(
        (
            "firstName lastName successUrl errorUrl unverifiedUrl callbackUrl locale country"
            " dateOfBirth dateOfExpiry dateOfIssue nationality personalNumber documentNumber"
            " sex address"
        ).split(),
        _NSTR,
    ),
    **{name: _BOOL for name in _TOGGLES if name not in ("generateDigitString", "nfcOptional")},
)

# --------------------------------------------------------------------------- webhooks

#: kyc.yml components/schemas/IdentificationStatusWebhook
IDENTIFICATION_STATUS: Final = _obj(
    (
        "additionalSteps autoDocument autoFace fraudTags manualDocument manualFace"
        " mismatchTags overall"
    ).split(),
    overall=_enum(*IDENTIFICATION_STATUSES),
    fraudTags=_s("array", items=_enum(*FRAUD_TAGS)),
    mismatchTags=_s("array", items=_enum(*MISMATCH_TAGS)),
    autoFace=_enum(*FACE_STATUSES),
    manualFace=_enum(*FACE_STATUSES),
    autoDocument=_enum(*DOCUMENT_STATUSES),
    manualDocument=_enum(*DOCUMENT_STATUSES),
    additionalSteps=_enum(*ADDITIONAL_STEP_STATUSES, nullable=True),
)
_DATA_TEXT: Final = {
    # name: maxLength (every one nullable)
    "docFirstName": 100, "docLastName": 100, "docNumber": 100, "docPersonalCode": 30,
    "docExpiry": 100, "docDob": 100, "docDateOfIssue": 100, "docNationality": 2,
    "docIssuingCountry": 2, "birthPlace": 60, "authority": 60, "address": 100,
    "docTemporaryAddress": 100, "mothersMaidenName": 80, "docBirthName": 100,
    "docPatronymic": 100, "driverLicenseCategory": 30, "fullName": 201, "selectedCountry": 2,
    "orgFirstName": 255, "orgLastName": 255, "orgNationality": 255, "orgBirthPlace": 500,
    "orgAuthority": 500, "orgAddress": 500, "orgTemporaryAddress": 500,
    "orgMothersMaidenName": 500, "orgPatronymic": 500, "orgBirthName": 500,
}  # fmt: skip
#: kyc.yml components/schemas/IdentificationDataWebhook
IDENTIFICATION_DATA: Final = _obj(
    (
        "ageEstimate clientIpProxyRiskLevel docDateOfIssue docDob docExpiry docFirstName"
        " docIssuingCountry docLastName docNationality docNumber docPersonalCode docSex docType"
        " duplicateDocFaces duplicateFaces fullName manuallyDataChanged orgAddress orgAuthority"
        " orgBirthName orgBirthPlace orgFirstName orgLastName orgMothersMaidenName"
        " orgNationality orgPatronymic orgTemporaryAddress selectedCountry"
    ).split(),
    **{name: _s("string", nullable=True, maxLength=n) for name, n in _DATA_TEXT.items()},
    docType=_enum(*KYC_DOCUMENT_TYPES, nullable=True),
    docSex=_enum(*DOCUMENT_SEXES, nullable=True),
    ageEstimate=_enum(*AGE_GROUPS, nullable=True),
    clientIpProxyRiskLevel=_enum(*RISK_LEVELS, nullable=True),
    manuallyDataChanged=_s("boolean", nullable=True),
    duplicateFaces=_s("array", nullable=True, items=_s("string", maxLength=36)),
    duplicateDocFaces=_s("array", nullable=True, items=_s("string", maxLength=36)),
    additionalData=_s("object", nullable=True),
)
#: kyc.yml components/schemas/IdentificationWebhook (the IDENTIFICATION webhook body).
IDENTIFICATION_WEBHOOK: Final = _obj(
    (
        "beneficiaryId clientId clientIp clientIpCountry clientLocation companyId data"
        " fileUrls final finishTime platform scanRef startTime status"
    ).split(),
    final=_BOOL,
    platform=_enum(*DEVICE_TYPES),
    status=IDENTIFICATION_STATUS,
    data=IDENTIFICATION_DATA,
    fileUrls=_s("object", nullable=True),
    additionalStepPdfUrls=_s("object", nullable=True),
    AML=_s("array", nullable=True, items=_s("object")),  # items: AmlResults
    LID=_s("array", nullable=True, items=_s("object")),  # items: LidResults
    scanRef=_s("string", maxLength=36),
    externalRef=_s("string", nullable=True, maxLength=40),
    clientId=_s("string", maxLength=100),
    companyId=_s("string", maxLength=36),
    beneficiaryId=_s("string", maxLength=36),
    startTime=_INT,
    finishTime=_INT,
    clientIp=_s("string", nullable=True, maxLength=39),
    clientIpCountry=_s("string", nullable=True, maxLength=2),
    clientLocation=_s("string", nullable=True, maxLength=100),
    gdcMatch=_s("boolean", nullable=True),
    manualAddress=_s("string", nullable=True, maxLength=255),
    manualAddressMatch=_BOOL,
    additionalSteps=_s(
        "object",
        nullable=True,
        additionalProperties=_enum("UPLOAD", "COMPARE", "EXTRACT", nullable=True),
    ),
)
#: face.yml components/schemas/FacialAuthenticationWebhookStatusEnum (this case exactly).
FACIAL_AUTHENTICATION_STATUSES: Final = ("Success", "Failed", "Expired", "Canceled", "Pending")
#: face.yml components/schemas/FacialAuthenticationWebhook
FACIAL_AUTHENTICATION_WEBHOOK: Final = _obj(
    ("clientId", "id", "scanRef", "status"),
    id=_s("string", format="uuid"),
    scanRef=_NSTR,
    clientId=_NSTR,
    token=_s("string", maxLength=40),
    status=_enum(*FACIAL_AUTHENTICATION_STATUSES),
    type=_enum("ENROLLMENT", "AUTHENTICATION"),
    method=_enum("ACTIVE_LIVENESS", "FACE_MATCHING"),
    facePhoto=_s("string", format="uri", nullable=True),
    ipAddress=_NSTR,
    failReason=_s("string", maxLength=255, nullable=True),
    riskTags=_s("array", nullable=True, items=_enum("UNTRUSTED_ENVIRONMENT")),
)
#: face.yml components/schemas/FacialAuthenticationSession
FACE_AUTH_SESSION: Final = _obj(
    ("givenScanRef", "id"),
    id=_s("string", format="uuid"),
    tokenString=_s("string", maxLength=40),
    approved=_s("boolean", nullable=True),
    givenScanRef=_s("string", maxLength=40),
    type=_enum("ENROLLMENT", "AUTHENTICATION"),
    authenticationMethod=_enum("ACTIVE_LIVENESS", "FACE_MATCHING"),
    facePhoto=_s("string", format="uri", nullable=True),
)

# --------------------------------------------------------------------------- other KYC endpoints

#: kyc.yml components/schemas/IdentificationRequestInformationRequest
REQUEST_INFORMATION_REQUEST: Final = _obj(
    (),
    lifetime=_s("integer", minimum=0, maximum=2_592_000),
    questionnaire=_s("string", minLength=1),
    riskAssessmentProfile=_s("string", format="uuid"),
    additionalStepUploadRequired=_BOOL,
    bankCardVerification=_BOOL,
    bankCardExpectedLastFour=_s("string", nullable=True, minLength=4, maxLength=4),
)
#: kyc.yml components/schemas/IdentificationRequestInformation
REQUEST_INFORMATION_ANSWER: Final = _obj(
    ("sessionUrl", "tokenString"), sessionUrl=_s("string", format="uri"), tokenString=_STR
)
#: kyc.yml components/schemas/IdentificationBlacklistRequest
BLOCKLIST_REQUEST: Final = _obj((), reason=_NSTR)
#: kyc.yml components/schemas/IdentificationBlacklist (DOCUMENT and SELFIE entries)
BLOCKLIST_FACE_ANSWER: Final = _obj(
    ("created", "faceImageUrl", "id"),
    id=_STR,
    reason=_NSTR,
    created=_s("string", format="date-time"),
    faceImageUrl=_NSTR,
)
#: kyc.yml components/schemas/IdentificationDataBlacklistResponse (DOCUMENT_INFO entries)
BLOCKLIST_DATA_ANSWER: Final = _obj(
    ("created dateOfBirth documentNumber fullName id nationality personalNumber reason").split(),
    id=_STR,
    fullName=_STR,
    dateOfBirth=_s("string", format="date"),
    personalNumber=_STR,
    documentNumber=_STR,
    nationality=_STR,
    reason=_STR,
    created=_s("string", format="date-time"),
)
#: kyc.yml components/schemas/PoaCheckDetailRequest (only file is required)
POA_REQUEST: Final = _obj(
    ("file",),
    file=_s("string", format="byte"),
    providedName=_s("string", nullable=True, maxLength=255),
    providedAddress=_s("string", nullable=True, maxLength=255),
)
_NBOOL: Final = _s("boolean", nullable=True)
#: kyc.yml components/schemas/PoaCheckDetail
POA_ANSWER: Final = _obj(
    (
        "address addressMatch country countrySupported created dateValid documentType"
        " documentTypeSupported file hasLogo id isScreenshot issueDate name nameMatch"
        " orgAddress orgName overallStatus"
    ).split(),
    file=_s("string", format="uri"),
    providedName=_s("string", nullable=True, maxLength=255),
    providedAddress=_s("string", nullable=True, maxLength=255),
    id=_s("string", format="uuid"),
    created=_s("string", format="date-time"),
    issueDate=_s("string", format="date", nullable=True),
    documentType=_NSTR,
    country=_NSTR,
    hasLogo=_NBOOL,
    isScreenshot=_NBOOL,
    nameMatch=_NBOOL,
    addressMatch=_NBOOL,
    dateValid=_NBOOL,
    overallStatus=_enum(*POA_STATUSES),
    name=_NSTR,
    address=_NSTR,
    orgName=_NSTR,
    orgAddress=_NSTR,
    documentTypeSupported=_NBOOL,
    countrySupported=_NBOOL,
)
#: kyc.yml components/schemas/PaginatedPartnerIdentificationListList
IDENTIFICATION_LIST: Final = _obj(
    ("count", "results"),
    count=_INT,
    next=_s("string", nullable=True, format="uri"),
    previous=_s("string", nullable=True, format="uri"),
    results=_s(
        "array",
        items=_obj(
            ("scanRef", "status", "suspected"),
            scanRef=_STR,
            status=_enum(*IDENTIFICATION_STATUSES),
            suspected=_BOOL,
        ),
    ),
)

#: Every schema of this module by name (what :func:`tests.contract.problems` judges with).
SCHEMAS: Final[dict[str, Schema]] = {
    "TOKEN_REQUEST": TOKEN_REQUEST,
    "TOKEN_ANSWER": TOKEN_ANSWER,
    "IDENTIFICATION_STATUS": IDENTIFICATION_STATUS,
    "IDENTIFICATION_DATA": IDENTIFICATION_DATA,
    "IDENTIFICATION_WEBHOOK": IDENTIFICATION_WEBHOOK,
    "FACIAL_AUTHENTICATION_WEBHOOK": FACIAL_AUTHENTICATION_WEBHOOK,
    "FACE_AUTH_SESSION": FACE_AUTH_SESSION,
    "REQUEST_INFORMATION_REQUEST": REQUEST_INFORMATION_REQUEST,
    "REQUEST_INFORMATION_ANSWER": REQUEST_INFORMATION_ANSWER,
    "BLOCKLIST_REQUEST": BLOCKLIST_REQUEST,
    "BLOCKLIST_FACE_ANSWER": BLOCKLIST_FACE_ANSWER,
    "BLOCKLIST_DATA_ANSWER": BLOCKLIST_DATA_ANSWER,
    "POA_REQUEST": POA_REQUEST,
    "POA_ANSWER": POA_ANSWER,
    "IDENTIFICATION_LIST": IDENTIFICATION_LIST,
}
