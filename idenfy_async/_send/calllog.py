"""The fields that let you follow one call through the log: on every record it leaves.

A call (its attempts, the retries between them) runs with its `CallLog` as the
current one (a context variable, `running`); each record the package logs
meanwhile passes `fields` as ``extra=``: which operation, which call (a short
random id), which attempt, which session (the scanRef, once known) and which user (a
keyed hash of the clientId, never the clientId: it can be personal data). Never a
body, a secret or personal data. docs/observability.md lists the fields.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import os
from collections.abc import Awaitable
from typing import Final, TypeVar

__all__ = ["CURRENT", "CallLog", "client_ref", "client_ref_key", "fields", "running"]

T = TypeVar("T")

#: Hex digits of the clientId's keyed hash a record shows (48 bits: enough to tell
#: users apart in a log, too few to be worth a guessing attack even with the key).
CLIENT_REF_LENGTH: Final = 12
#: Hex digits of a call's random id.
CALL_ID_LENGTH: Final = 8
_LABEL: Final = b"idenfy-async log client ref"

#: The call running in this task (None outside a call).
CURRENT: contextvars.ContextVar[CallLog | None] = contextvars.ContextVar(
    "idenfy_async_call", default=None
)


def client_ref_key(authorization: str) -> bytes:
    """The key of `client_ref`, derived from a client's credentials (its
    ``Authorization`` header): the same clientId gets the same ref in every process of
    one account, and nobody without the API secret can test a guess against a ref."""
    return hmac.new(authorization.encode(), _LABEL, hashlib.sha256).digest()


def client_ref(key: bytes, client_id: str) -> str:
    """The short keyed hash of ``client_id`` that records carry instead of it."""
    digest = hmac.new(key, client_id.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:CLIENT_REF_LENGTH]


class CallLog:
    """One call's correlating fields; the id and the clientId's hash are made on first use
    (a call nobody logs pays for neither)."""

    __slots__ = (
        "_call_id",
        "_client_id",
        "_client_ref",
        "_key",
        "attempt",
        "operation",
        "scan_ref",
    )

    def __init__(
        self,
        operation: str,
        *,
        scan_ref: str | None = None,
        client_id: str | None = None,
        key: bytes | None = None,
    ) -> None:
        self.operation = operation
        self.attempt = 0  #: the attempt under way (1 = the first), 0 before it
        self.scan_ref = scan_ref  #: the session the call is about, once known
        self._client_id = client_id if key is not None else None
        self._key = key
        self._call_id: str | None = None
        self._client_ref: str | None = None

    @property
    def call_id(self) -> str:
        if self._call_id is None:
            self._call_id = os.urandom(CALL_ID_LENGTH // 2).hex()
        return self._call_id

    @property
    def client_ref(self) -> str | None:
        if self._client_ref is None and self._client_id is not None and self._key is not None:
            self._client_ref = client_ref(self._key, self._client_id)
        return self._client_ref

    def fields(self) -> dict[str, object]:
        return {
            "idenfy_operation": self.operation,
            "idenfy_call_id": self.call_id,
            "idenfy_attempt": self.attempt,
            "idenfy_scan_ref": self.scan_ref,
            "idenfy_client_ref": self.client_ref,
        }


_OUTSIDE: Final[dict[str, object]] = dict.fromkeys(
    (
        "idenfy_operation",
        "idenfy_call_id",
        "idenfy_attempt",
        "idenfy_scan_ref",
        "idenfy_client_ref",
    )
)


def fields(**more: object) -> dict[str, object]:
    """``extra=`` for a record: the current call's fields (every key present, None when
    unknown or outside a call), then ``more`` (e.g. ``idenfy_attempt=2``)."""
    call = CURRENT.get()
    found = dict(_OUTSIDE) if call is None else call.fields()
    found.update(more)
    return found


async def running(call: CallLog, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` with ``call`` as the current call."""
    token = CURRENT.set(call)
    try:
        return await awaitable
    finally:
        CURRENT.reset(token)
