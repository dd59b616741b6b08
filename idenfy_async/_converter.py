"""The one cattrs converter: snake_case <-> camelCase, unset fields omitted.

Built once at import with generated hooks (no per-call reflection).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .models import NULL, Session, SessionRequest, wire_name

__all__ = ["converter", "session_request_to_wire", "structure_session"]


def _renames(cls: type, **extra: Any) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cls)
    }
    overrides.update(extra)
    return overrides


def make_converter() -> cattrs.Converter:
    """A converter with every model hook registered."""
    conv = cattrs.Converter()
    conv.register_unstructure_hook(type(NULL), lambda _: None)

    # Request: every None field is omitted (sending null could override the account's
    # dashboard defaults); the NULL sentinel becomes an explicit null.
    request_hook = make_dict_unstructure_fn(
        SessionRequest,
        conv,
        _cattrs_omit_if_default=True,
        **_renames(
            SessionRequest,
            extra=override(omit=True),
            allow_unlisted_documents=override(omit=True),
            country=override(rename="country", unstruct_hook=_passthrough),
            documents=override(rename="documents", unstruct_hook=list),
            registry_centers_countries=override(
                rename="registryCentersCountries", unstruct_hook=list
            ),
            video_call_questions=override(rename="videoCallQuestions", unstruct_hook=list),
            questionnaire=override(rename="questionnaire", unstruct_hook=_null_or_value),
            additional_steps=override(rename="additionalSteps", unstruct_hook=_passthrough),
            additional_data=override(rename="additionalData", unstruct_hook=_passthrough),
        ),
    )

    def unstructure_request(req: SessionRequest) -> dict[str, Any]:
        body: dict[str, Any] = request_hook(req)
        if req.extra:
            body.update(req.extra)
        return body

    conv.register_unstructure_hook(SessionRequest, unstructure_request)

    # Response: unknown keys are ignored here and kept whole in ``raw``.
    conv.register_structure_hook(
        str | list[str] | None, lambda v, _: list(v) if isinstance(v, list) else v
    )
    session_hook = make_dict_structure_fn(
        Session,
        conv,
        **_renames(Session, raw=override(rename="\x00raw", struct_hook=lambda v, _: v)),
    )
    conv.register_structure_hook(Session, session_hook)
    return conv


def _passthrough(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _null_or_value(value: Any) -> Any:
    return None if value is NULL else value


converter = make_converter()


def session_request_to_wire(req: SessionRequest) -> dict[str, Any]:
    """The JSON-ready body of a token request."""
    result: dict[str, Any] = converter.unstructure(req, SessionRequest)
    return result


def structure_session(body: Mapping[str, Any]) -> Session:
    """Structure a token response; raises cattrs errors on a wrong shape."""
    return converter.structure({**body, "\x00raw": body}, Session)
