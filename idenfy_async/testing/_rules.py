"""The fake's rules for token requests (``POST /api/v2/token``)."""

from __future__ import annotations

from typing import Any, Final

import attrs

from idenfy_async.errors import RequestValidationError
from idenfy_async.models import SessionRequest, wire_name

from ._common import Answer, error, json_object

__all__ = ["token_request"]

_ATTRIBUTES_BY_WIRE: Final = {
    wire_name(a.name): a.name
    for a in attrs.fields(SessionRequest)
    if a.name not in ("extra", "allow_unlisted_documents")
}


def token_request(body: bytes) -> dict[str, Any] | Answer:
    """The token request's JSON object, or the 400 iDenfy answers for it."""
    payload = json_object(body)
    if not isinstance(payload, dict):
        return payload
    known = {_ATTRIBUTES_BY_WIRE[k]: v for k, v in payload.items() if k in _ATTRIBUTES_BY_WIRE}
    known.setdefault("client_id", "")
    try:
        # The fake knows the documented document types only; the real API may know
        # more, so it lets unlisted ones through.
        SessionRequest(**known, allow_unlisted_documents=True)
    except RequestValidationError as exc:
        problem = exc.problems[0]
        if problem.rule == "is required":
            return error(400, "MISSING_VALUE", f"Missing value: '{problem.field}'.")
        return error(400, "BAD_VALUE", f"Field '{problem.field}' {problem.rule}.")
    except TypeError:
        return error(400, "BAD_VALUE", "Invalid value.")
    return payload
