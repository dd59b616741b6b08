"""The token request's and the token response's hooks: request -> JSON body (unset
fields omitted, NULL as null, ``extra`` merged), and the lenient echo of a created
session (coerced when unambiguous, else None, never guessed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ..models import NULL, NULLABLE_FIELDS, Session, SessionRequest, wire_name
from .shapes import RAW_KEY

__all__ = ["register_session_hooks", "strict_opt_bool"]


def renames(cls: type, **extra: Any) -> dict[str, Any]:
    """cattrs overrides naming every field of ``cls`` by its camelCase wire name."""
    overrides: dict[str, Any] = {
        a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cls)
    }
    overrides.update(extra)
    return overrides


def register_session_hooks(conv: cattrs.Converter) -> None:
    """The request's unstructure hook and the created session's structure hook."""
    conv.register_unstructure_hook(type(NULL), lambda _: None)
    _register_request(conv)
    _register_session(conv)


def _register_request(conv: cattrs.Converter) -> None:
    # Generated the first time a request is sent (a factory for exactly SessionRequest).
    def factory(_: Any) -> Callable[[SessionRequest], dict[str, Any]]:
        # Request: every None field is omitted (sending null could override the account's
        # dashboard defaults); the NULL sentinel becomes an explicit null.
        # Any nullable parameter may be NULL (models.NULLABLE_FIELDS): each one's hook
        # turns it into null, then handles a real value as its type needs.
        value_hooks: dict[str, Callable[[Any], Any]] = {
            "country": _passthrough,
            "documents": list,
            "registry_centers_countries": list,
            "additional_steps": _plain,
            "additional_data": _plain,
        }
        nullable = {
            name: override(
                rename=wire_name(name), unstruct_hook=_null_or(value_hooks.get(name, _identity))
            )
            for name in NULLABLE_FIELDS
        }
        request_hook = make_dict_unstructure_fn(
            SessionRequest,
            conv,
            _cattrs_omit_if_default=True,
            **renames(
                SessionRequest,
                extra=override(omit=True),
                allow_unlisted_documents=override(omit=True),
                allow_legacy_token_types=override(omit=True),
                video_call_questions=override(rename="videoCallQuestions", unstruct_hook=list),
                **nullable,
            ),
        )

        def unstructure_request(req: SessionRequest) -> dict[str, Any]:
            body: dict[str, Any] = request_hook(req)
            if req.extra:
                body.update(_plain(req.extra))
            return body

        return unstructure_request

    conv.register_unstructure_hook_factory(lambda tp: tp is SessionRequest, factory)


def _register_session(conv: cattrs.Converter) -> None:
    def factory(_: Any) -> Callable[[Any, Any], Session]:
        # Response: unknown keys are ignored here and kept whole in ``raw``. A session is
        # paid for, so only what identifies it is strict (authToken and scanRef, checked
        # by the parser; clientId, when sent, must be text or an integer). Echoed fields are read
        # leniently (_ECHO): coerced when unambiguous, else None, never guessed: cattrs'
        # default str()/bool() would turn a null into "None" and "false" into True.
        attrs.resolve_types(Session)
        session_overrides: dict[str, Any] = {
            a.name: override(rename=wire_name(a.name), struct_hook=_ECHO[a.type])
            for a in attrs.fields(Session)
            if a.name != "raw"
        }
        session_overrides["auth_token"] = override(rename="authToken", struct_hook=_strict_str)
        session_overrides["scan_ref"] = override(rename="scanRef", struct_hook=_strict_str)
        session_overrides["client_id"] = override(rename="clientId", struct_hook=_echo_client_id)
        session_overrides["digit_string"] = override(rename="digitString", struct_hook=_echo_text)
        session_overrides["country"] = override(rename="country", struct_hook=_echo_countries)
        session_overrides["nationality"] = override(rename="nationality", struct_hook=_echo_country)
        return make_dict_structure_fn(
            Session,
            conv,
            raw=override(rename=RAW_KEY, struct_hook=lambda v, _: v),
            **session_overrides,
        )

    conv.register_structure_hook_factory(lambda tp: tp is Session, factory)


def _strict_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise TypeError("expected a string")
    return value


def strict_opt_bool(value: Any, _: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise TypeError("expected true or false")


# Echoed token-response fields: the value when its type is right or the coercion is
# unambiguous, else None (the raw value stays in Session.raw). Never raise.

_BOOL_WORDS: Final = {"true": True, "false": False}


def _echo_text(value: Any, _: Any) -> str | None:
    return value if type(value) is str else None


def _echo_str(value: Any, _: Any) -> str | None:
    # An integer where text is expected (legacy docs typed clientId as one).
    if type(value) is int:
        return str(value)
    return _echo_text(value, _)


def _echo_client_id(value: Any, _: Any) -> str | None:
    # Absent or null is allowed (iDenfy's contract: nullable, not required); another
    # type is not a clientId at all.
    if value is None:
        return None
    text = _echo_str(value, _)
    if text is None:
        raise TypeError("expected a string")
    return text


def _echo_int(value: Any, _: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.strip().isascii() and value.strip().isdigit():
        try:
            return int(value)
        except ValueError:  # over Python's 4,300-digit conversion limit
            return None
    return None


def _echo_bool(value: Any, _: Any) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is str:
        return _BOOL_WORDS.get(value.strip().lower())
    return None


def _echo_str_list(value: Any, _: Any) -> list[str] | None:
    if type(value) is str:
        return [value]  # one document type sent bare
    if type(value) is list and all(type(v) is str for v in value):
        return list(value)
    return None


def _echo_str_or_list(value: Any, _: Any) -> str | list[str] | None:
    return value if type(value) is str else _echo_str_list(value, _)


def _echo_country(value: Any, _: Any) -> str | None:
    # Every documented answer 2019-2022 echoes the code lower-case ("lt").
    text = _echo_text(value, _)
    return text.upper() if text is not None and text.isascii() else text


def _echo_countries(value: Any, _: Any) -> str | list[str] | None:
    codes = _echo_str_or_list(value, _)
    if isinstance(codes, list):
        return [code.upper() if code.isascii() else code for code in codes]
    return _echo_country(codes, _)


def _echo_mapping(value: Any, _: Any) -> Mapping[str, Any] | None:
    return value if type(value) is dict else None


def _echo_allowed_documents(value: Any, _: Any) -> Mapping[str, list[str]] | None:
    # {"ALL": ["ID_CARD", ...]}: entries of another shape are left out (raw has them).
    if type(value) is not dict:
        return None
    return {
        country: list(types)
        for country, types in value.items()
        if type(types) is list and all(type(t) is str for t in types)
    }


_ECHO: dict[Any, Callable[[Any, Any], Any]] = {
    str: _strict_str,  # authToken, scanRef (checked by the parser first)
    Mapping[str, Any] | None: _echo_mapping,
    Mapping[str, list[str]] | None: _echo_allowed_documents,
    str | None: _echo_str,
    int | None: _echo_int,
    bool | None: _echo_bool,
    list[str] | None: _echo_str_list,
    str | list[str] | None: _echo_str_or_list,
}


def _passthrough(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _plain(value: Any) -> Any:
    # Plain dicts and lists for json.dumps, which refuses other Mappings.
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _identity(value: Any) -> Any:
    return value


def _null_or(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def unstructure(value: Any) -> Any:
        return None if value is NULL else hook(value)

    return unstructure
