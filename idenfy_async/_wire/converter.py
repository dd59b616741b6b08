"""The one cattrs converter: snake_case <-> camelCase, unset fields omitted.

Built once, at import, with generated hooks (no per-call reflection; cattrs generates
each hook's code the first time that type is used). The hooks live by what they read
or write: the token request and the created session in :mod:`.session_hooks`,
results, webhooks and the KYC answers in :mod:`.result_hooks`. What a wrong shape
raises and how it is told lives in :mod:`.shapes` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cattrs

from ..models import Session, SessionRequest
from .result_hooks import register_result_hooks
from .session_hooks import RAW_KEY, register_session_hooks
from .shapes import UPPER_KEYS, each, shape_errors, shape_problem

__all__ = [
    "UPPER_KEYS",
    "converter",
    "each",
    "make_converter",
    "session_request_to_wire",
    "shape_errors",
    "shape_problem",
    "structure_session",
]


def make_converter() -> cattrs.Converter:
    """A converter with every model hook registered: the token request's and the
    created session's, and those of results, webhooks and KYC answers."""
    conv = cattrs.Converter()
    register_session_hooks(conv)
    register_result_hooks(conv)
    return conv


converter: Final = make_converter()


def session_request_to_wire(req: SessionRequest) -> dict[str, Any]:
    """The JSON-ready body of a token request."""
    result: dict[str, Any] = converter.unstructure(req, SessionRequest)
    return result


def structure_session(body: Mapping[str, Any], **fill: Any) -> Session:
    """Structure a token response; raises cattrs errors on a wrong shape.

    ``fill`` supplies wire fields the body lacks (``raw`` stays the body as received).
    """
    session: Session = converter.structure({**body, **fill, RAW_KEY: body}, Session)
    return session
