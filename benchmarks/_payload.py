"""The request both clients send and the answer the local server gives to each.

``REQUEST_FIELDS`` (snake_case, for ``create_session(**fields)``) and
``REQUEST_PAYLOAD`` (camelCase, for ``httpx.post(json=...)``) describe the same
request; ``benchmarks.__main__`` checks the library really sends ``REQUEST_PAYLOAD``
before it measures anything.
"""

from __future__ import annotations

import json
from typing import Any, Final

API_KEY: Final = "bench-api-key-0123456789"
API_SECRET: Final = "bench-api-secret-0123456789abcdef"
TOKEN_PATH: Final = "/api/v2/token"

REQUEST_FIELDS: Final[dict[str, Any]] = {
    "client_id": "user-5f3c2a91-7d4e-4b8a-9c1f-0e6b2d8a4c17",
    "first_name": "Jonas",
    "last_name": "Petraitis",
    "date_of_birth": "1990-12-20",
    "country": "LT",
    "documents": ["ID_CARD", "PASSPORT", "DRIVER_LICENSE"],
    "expiry_time": 3600,
    "session_length": 900,
    "success_url": "https://app.example.com/kyc/success",
    "error_url": "https://app.example.com/kyc/error",
    "callback_url": "https://api.example.com/webhooks/idenfy",
    "locale": "en",
    "show_instructions": True,
    "generate_digit_string": False,
    "check_liveness": True,
    "check_aml": False,
}

REQUEST_PAYLOAD: Final[dict[str, Any]] = {
    "clientId": "user-5f3c2a91-7d4e-4b8a-9c1f-0e6b2d8a4c17",
    "firstName": "Jonas",
    "lastName": "Petraitis",
    "dateOfBirth": "1990-12-20",
    "country": "LT",
    "documents": ["ID_CARD", "PASSPORT", "DRIVER_LICENSE"],
    "expiryTime": 3600,
    "sessionLength": 900,
    "successUrl": "https://app.example.com/kyc/success",
    "errorUrl": "https://app.example.com/kyc/error",
    "callbackUrl": "https://api.example.com/webhooks/idenfy",
    "locale": "en",
    "showInstructions": True,
    "generateDigitString": False,
    "checkLiveness": True,
    "checkAml": False,
}

# Shaped like iDenfy's documented 201 answer to POST /api/v2/token (about 1 KB).
TOKEN_RESPONSE: Final[dict[str, Any]] = {
    "message": "Token created successfully",
    "authToken": "pgYQX0z2T8mtcpNj9I20uWVCLKNuG0vgr12f0wAC",
    "scanRef": "ec6a7108-8c26-11e9-9758-309c231b1bac",
    "clientId": "user-5f3c2a91-7d4e-4b8a-9c1f-0e6b2d8a4c17",
    "personScanRef": "0f6c4b0a-2c1e-4a57-9d3b-5e2f8f1c9a44",
    "firstName": "JONAS",
    "lastName": "PETRAITIS",
    "successUrl": "https://app.example.com/kyc/success",
    "errorUrl": "https://app.example.com/kyc/error",
    "unverifiedUrl": None,
    "callbackUrl": "https://api.example.com/webhooks/idenfy",
    "locale": "en",
    "showInstructions": True,
    "country": "LT",
    "expiryTime": 3600,
    "sessionLength": 900,
    "documents": ["ID_CARD", "PASSPORT", "DRIVER_LICENSE"],
    "allowedDocuments": {"LT": ["ID_CARD", "PASSPORT", "DRIVER_LICENSE"]},
    "dateOfBirth": "1990-12-20",
    "dateOfExpiry": None,
    "dateOfIssue": None,
    "nationality": None,
    "personalNumber": None,
    "documentNumber": None,
    "sex": None,
    "digitString": None,
    "address": None,
    "tokenType": "IDENTIFICATION",
    "externalRef": None,
    "utilityBill": False,
    "additionalSteps": None,
    "additionalData": None,
    "questionnaire": None,
}

TOKEN_RESPONSE_BODY: Final = json.dumps(TOKEN_RESPONSE, separators=(",", ":")).encode()
