"""Every exception idenfy-async raises, rooted at [`IdenfyError`][idenfy_async.IdenfyError].

::

    IdenfyError
    ├── ConfigurationError            (also ValueError)
    ├── ClientStateError              (also RuntimeError)
    │   ├── ClientClosedError
    │   └── EventLoopMismatchError
    ├── RequestValidationError        (also ValueError)
    ├── APIConnectionError            request_sent
    │   └── APITimeoutError
    ├── APIError                      status_code, identifier, message, body
    │   ├── BadRequestError
    │   │   └── TokenNotExpiredError
    │   ├── AuthenticationError
    │   ├── InsufficientFundsError
    │   ├── PermissionDeniedError
    │   ├── NotFoundError
    │   ├── ConflictError
    │   ├── RateLimitError            retry_after
    │   ├── TokenNotValidError
    │   └── ServerError
    ├── ResponseDecodeError           status_code
    ├── SignatureVerificationError    (also ValueError) reason
    ├── WebhookPayloadError           (also ValueError) reason
    ├── JournalError
    │   ├── JournalLockedError
    │   └── JournalMismatchError
    ├── CoordinationError             operation, reason
    └── OpenSessionError              client_id
        ├── SessionAlreadyOpenError   session
        └── SessionOutcomeUnknownError  in_flight (outcome_unknown)

Every error says whether the request may have taken effect on iDenfy's side
([`IdenfyError.outcome_unknown`][idenfy_async.errors.IdenfyError.outcome_unknown]): for session
creation that means a session, and a verification credit, may exist although no answer was read.

No message, ``str()`` or ``repr()`` of these errors contains an API secret or a
request or response body: bodies carry personal data. The parsed response body is
kept on [`APIError.body`][idenfy_async.errors.APIError.body] for code that needs it, and is never
printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol

import attrs

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientStateError",
    "ConfigurationError",
    "ConflictError",
    "CoordinationError",
    "EventLoopMismatchError",
    "FieldProblem",
    "IdenfyError",
    "InsufficientFundsError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "NotFoundError",
    "OpenSessionError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseDecodeError",
    "ServerError",
    "SessionAlreadyOpenError",
    "SessionOutcomeUnknownError",
    "SignatureVerificationError",
    "TokenNotExpiredError",
    "TokenNotValidError",
    "WebhookPayloadError",
]

_AMBIGUOUS_HINT = (
    " The request may have reached iDenfy and taken effect (for create_session: a session,"
    " and a verification credit, may exist). Check before sending it again;"
    " retry_unknown=True makes the client retry such failures."
)


class IdenfyError(Exception):
    """Base class: raised for anything that goes wrong in idenfy-async."""

    #: True when the request may have taken effect although no usable answer was read
    #: (set by the client, which knows whether the call was idempotent).
    outcome_unknown: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own pickling calls cls(*args), which fails for the errors whose
        # __init__ takes other (keyword-only) parameters than their message: rebuild
        # without __init__, then restore the message and every attribute.
        return (_rebuilt, (type(self), self.args), self.__dict__)


def _rebuilt(cls: type[IdenfyError], args: tuple[Any, ...]) -> IdenfyError:
    """An error of ``cls`` without running its ``__init__`` (unpickling; see above)."""
    error = cls.__new__(cls)
    error.args = args
    return error


class ConfigurationError(IdenfyError, ValueError):
    """Raised when the client is constructed with missing or unsafe settings."""


class ClientStateError(IdenfyError, RuntimeError):
    """Raised when a client is used in a state where it cannot send requests."""


class ClientClosedError(ClientStateError):
    """Raised when a call is made on a client after ``aclose()`` or ``async with`` exit."""


class EventLoopMismatchError(ClientStateError):
    """Raised when a client is used from another event loop than the one it started on."""


@attrs.frozen
class FieldProblem:
    """One broken rule: ``field`` is the wire (camelCase) name, ``rule`` says what is wrong."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class RequestValidationError(IdenfyError, ValueError):
    """Raised before any request is sent when a request model breaks one or more rules.

    All problems are reported at once in
    [`problems`][idenfy_async.errors.RequestValidationError.problems]. Values are never echoed: they
    are personal data.
    """

    def __init__(self, model: str, problems: Sequence[FieldProblem]) -> None:
        self.model = model
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        count = len(self.problems)
        lines = "; ".join(str(p) for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun} in {model}: {lines}")

    @property
    def fields(self) -> tuple[str, ...]:
        """The wire names of the fields with problems, in report order."""
        return tuple(p.field for p in self.problems)


class APIConnectionError(IdenfyError):
    """Raised when no HTTP response was received (DNS, connect, TLS, reset, timeout).

    ``request_sent`` is False only when the request provably never reached the
    server (connect failure, pool timeout): then retrying cannot duplicate anything.
    """

    def __init__(
        self,
        reason: str,
        *,
        request_sent: bool,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_sent = request_sent
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        return self.reason + where + (_AMBIGUOUS_HINT if self.outcome_unknown else "")


class APITimeoutError(APIConnectionError):
    """Raised when connecting, sending, waiting for a pool slot or reading timed out."""


class APIError(IdenfyError):
    """Raised when iDenfy answers with an error status or an error ``identifier``.

    ``message`` is iDenfy's own short error text; ``body`` the parsed JSON body (or
    ``None`` when it was not JSON). Neither the body nor the request is printed.
    """

    def __init__(
        self,
        *,
        status_code: int,
        identifier: str | None,
        message: str | None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, identifier)
        #: The server's ``Retry-After`` in seconds, when it sent one (429, 503, ...).
        self.retry_after = retry_after
        self.status_code = status_code
        self.identifier = identifier
        self.message = message
        self.body = body
        self.headers: Mapping[str, str] = headers or {}
        self.method = method
        self.path = path

    def __str__(self) -> str:
        text = f"HTTP {self.status_code}"
        if self.identifier:
            text += f" {self.identifier}"
        if self.method and self.path:
            text += f" from {self.method} {self.path}"
        if self.message:
            text += f": {_shorten(self.message).rstrip('.')}"
        return text + ("." + _AMBIGUOUS_HINT if self.outcome_unknown else "")


class BadRequestError(APIError):
    """Raised on 400/422 answers that no more specific class covers (BAD_VALUE, ...)."""


class TokenNotExpiredError(BadRequestError):
    """Raised when deletion is refused with "Token has not expired yet." (``PARTNER_ERROR``).

    A verification can be deleted only once its session is over: used, or expired.
    """


class AuthenticationError(APIError):
    """Raised on 401 or identifier ``UNAUTHORIZED``: key or secret missing or wrong."""


class InsufficientFundsError(APIError):
    """Raised on 402 or "Partner reached token limit.": no verification credits left."""


class PermissionDeniedError(APIError):
    """Raised on 403, ``PERMISSIONS_ERROR`` or ``PARTNER_CONTRACT_ERROR``."""


class NotFoundError(APIError):
    """Raised on 404: wrong path, or an unknown or deleted resource."""


class ConflictError(APIError):
    """Raised on 409: e.g. the clientId already has an active session."""


class RateLimitError(APIError):
    """Raised on 429 or identifier ``TOO_MANY_REQUESTS`` (any status).

    ``retry_after`` is the server's wait in seconds when it sent one, else ``None``.
    """


class TokenNotValidError(APIError):
    """Raised on identifier ``TOKEN_NOT_VALID``: the authToken is invalid, used or expired."""


class ServerError(APIError):
    """Raised on 5xx or identifier ``INTERNAL_ERROR``."""


class ResponseDecodeError(IdenfyError):
    """Raised when a response body cannot be read: not JSON, truncated, or the wrong shape.

    When a created session's ``scanRef`` and ``authToken`` could be read although the
    rest of the answer could not, they are kept in
    [`scan_ref`][idenfy_async.errors.ResponseDecodeError.scan_ref] and
    [`auth_token`][idenfy_async.errors.ResponseDecodeError.auth_token] (never printed), so the paid
    session is not lost.
    """

    def __init__(
        self,
        reason: str,
        *,
        status_code: int,
        method: str | None = None,
        path: str | None = None,
        scan_ref: str | None = None,
        auth_token: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.method = method
        self.path = path
        self.scan_ref = scan_ref
        self.auth_token = auth_token

    def __str__(self) -> str:
        where = f" from {self.method} {self.path}" if self.method and self.path else ""
        text = f"cannot decode HTTP {self.status_code} response{where}: {self.reason}."
        if self.scan_ref or self.auth_token:
            # Where to find them, never their values (the token opens the session).
            text += " What identifies the session is kept on .scan_ref and .auth_token."
        if self.outcome_unknown:
            text += (
                " The request succeeded on iDenfy's side (for create_session: a session"
                " exists) but its answer could not be read."
            )
        return text


class SignatureVerificationError(IdenfyError, ValueError):
    """Raised when a webhook's ``Idenfy-Signature`` is missing, malformed or wrong.

    ``reason`` is ``"missing"``, ``"malformed"`` or ``"mismatch"``. Neither the
    signing key, the signature nor the body is ever part of the message.
    """

    _MESSAGES: ClassVar[Mapping[str, str]] = {
        "missing": (
            "webhook signature missing: no Idenfy-Signature header (is a signing key set"
            " for this notification in the iDenfy dashboard?)"
        ),
        "malformed": (
            "webhook signature malformed: Idenfy-Signature is not 64 hexadecimal characters"
        ),
        "mismatch": (
            "webhook signature mismatch: the body was not signed with this signing key"
            " (check the key, and verify the raw request bytes, not re-serialised JSON)"
        ),
    }

    def __init__(self, reason: Literal["missing", "malformed", "mismatch"]) -> None:
        self.reason = reason
        super().__init__(self._MESSAGES[reason])


class WebhookPayloadError(IdenfyError, ValueError):
    """Raised when a webhook body is not JSON, not an object, too large or of the wrong shape.

    ``reason`` says which, naming fields by path; body content is never included.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot parse webhook: {reason}")


class JournalError(IdenfyError):
    """Raised when a bulk-run journal cannot be opened, read or written."""


class JournalLockedError(JournalError):
    """Raised when another run (in this or another process) has the journal open."""


class JournalMismatchError(JournalError):
    """Raised when a journal was written for another iDenfy account or server."""


class CoordinationError(IdenfyError):
    """Raised when the state shared by several processes (Redis) cannot be used.

    ``operation`` names what was attempted (``"quota"``, ``"cooldown"``, ``"dedupe"``);
    ``reason`` is the failure's kind (``"ConnectionError"``, ``"timeout"``, ...). The
    Redis URL, which may hold a password, is never part of the message.
    """

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"shared state unavailable for {operation}: {reason}")


class OpenSessionError(IdenfyError):
    """Raised instead of creating a session while the clientId may already have one open.

    Only with one open session per clientId (``AsyncIdenfy(single_session=True)``, or
    bulk runs with ``IDENFY_REDIS_URL``): nothing was sent. ``client_id`` is the
    clientId asked for; it is not part of the message.
    """

    def __init__(self, client_id: str, message: str) -> None:
        self.client_id = client_id
        super().__init__(message)


class OpenSession(Protocol):
    """What [`SessionAlreadyOpenError`][idenfy_async.SessionAlreadyOpenError] tells of the session
    it carries: the fields that identify it and hand it out. The session is a
    [`idenfy_async.models.Session`][idenfy_async.Session] (this module sits below ``models`` and
    does not import it)."""

    @property
    def auth_token(self) -> str: ...
    @property
    def scan_ref(self) -> str: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def redirect_url(self) -> str | None: ...
    @property
    def expiry_time(self) -> int | None: ...


class SessionAlreadyOpenError(OpenSessionError):
    """The clientId has an open session (token not expired, no final webhook yet),
    created for a *different* request; ``session`` is that session, so the caller
    decides (hand it out, or wait for its final webhook). Its authToken is never
    printed."""

    def __init__(self, client_id: str, session: OpenSession) -> None:
        self.session = session
        super().__init__(
            client_id,
            f"this clientId already has an open session (scanRef {session.scan_ref})"
            " created for a different request; it is on .session. A new one is not"
            " created until its final webhook arrives or its token expires.",
        )


class SessionOutcomeUnknownError(OpenSessionError):
    """An earlier ``create_session`` for the clientId may have created a session that
    nobody could read (its answer was lost, or its process died), or one is still in
    flight elsewhere past this call's deadline (``in_flight``). Nothing is sent for
    the clientId until that is settled: ``client.reconcile_session`` tells whether the
    session exists, then ``client.forget_session(client_id)`` lets a new one be created.
    """

    outcome_unknown = True

    def __init__(self, client_id: str, *, in_flight: bool = False) -> None:
        self.in_flight = in_flight
        why = (
            "another create_session for this clientId is still in flight past this call's deadline"
            if in_flight
            else "an earlier create_session for this clientId may have created a session"
            " whose answer was lost"
        )
        super().__init__(
            client_id,
            f"{why}; nothing was sent. Reconcile (client.reconcile_session), then"
            " client.forget_session(client_id) to allow a new one.",
        )


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
