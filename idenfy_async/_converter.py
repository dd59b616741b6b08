"""The one cattrs converter: snake_case <-> camelCase, unset fields omitted.

Built once, with generated hooks (no per-call reflection), the first time it is used:
generating them takes longer than importing httpx would, and ``import idenfy_async``
need not pay for it.
"""

from __future__ import annotations

import enum
import functools
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, cast

import attrs

from .models import (
    NULL,
    NULLABLE_FIELDS,
    AdditionalStepsStatus,
    DocumentExpirationEvent,
    FacialAuthenticationEvent,
    FacialAuthenticationStatus,
    FileUrls,
    IdentificationEvent,
    ServiceResult,
    ServiceStatus,
    Session,
    SessionRequest,
    StatusResult,
    VerificationData,
    VerificationStatus,
    VerificationSummary,
    VideoCallAnswer,
    VideoCallEvent,
    wire_name,
)

if typing.TYPE_CHECKING:
    import cattrs

__all__ = [
    "converter",
    "session_request_to_wire",
    "shape_errors",
    "shape_problem",
    "structure_session",
]

#: Wire keys that are not the camelCase of their attribute (iDenfy's upper-case lists).
_UPPER_KEYS: Final = {"aml": "AML", "lid": "LID", "criminal_check": "CRIMINAL_CHECK"}


def _renames(cls: type, **extra: Any) -> dict[str, Any]:
    from cattrs.gen import override

    overrides: dict[str, Any] = {
        a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cls)
    }
    overrides.update(extra)
    return overrides


def make_converter() -> cattrs.Converter:
    """A converter with every model hook registered."""
    # cattrs is imported here, not at module level: `import idenfy_async` need not
    # pay for it (about 15 ms) before the first body is built or read.
    import cattrs
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    conv = cattrs.Converter()
    conv.register_unstructure_hook(type(NULL), lambda _: None)

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
        **_renames(
            SessionRequest,
            extra=override(omit=True),
            allow_unlisted_documents=override(omit=True),
            video_call_questions=override(rename="videoCallQuestions", unstruct_hook=list),
            **nullable,
        ),
    )

    def unstructure_request(req: SessionRequest) -> dict[str, Any]:
        body: dict[str, Any] = request_hook(req)
        if req.extra:
            body.update(_plain(req.extra))
        return body

    conv.register_unstructure_hook(SessionRequest, unstructure_request)

    # Response: unknown keys are ignored here and kept whole in ``raw``. A session is
    # paid for, so only what identifies it is strict (authToken and scanRef, checked
    # by the parser; clientId, which Session requires). Echoed fields are read
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
    session_overrides["digit_string"] = override(rename="digitString", struct_hook=_echo_text)
    session_overrides["country"] = override(rename="country", struct_hook=_echo_countries)
    session_overrides["nationality"] = override(rename="nationality", struct_hook=_echo_country)
    session_hook = make_dict_structure_fn(
        Session,
        conv,
        raw=override(rename="\x00raw", struct_hook=lambda v, _: v),
        **session_overrides,
    )
    conv.register_structure_hook(Session, session_hook)
    _register_results(conv)
    return conv


def _strict_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise TypeError("expected a string")
    return value


def _strict_opt_bool(value: Any, _: Any) -> bool | None:
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


def _echo_client_id(value: Any, _: Any) -> str:
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
    Mapping[str, Any] | None: _echo_mapping,
    Mapping[str, list[str]] | None: _echo_allowed_documents,
    str: _echo_client_id,
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


# --------------------------------------------------------------------------- results
# Results and webhook payloads are decoded leniently but never wrongly: a new enum
# value stays a plain str, a number where a string is expected becomes that string
# (legacy docs typed clientId as an integer), but "false" never becomes True and a
# null never becomes "None". Every model keeps its whole wire object in ``raw``.

_RAW = "\x00raw"

# Older payloads carry these inside ``data``; the current schema has them top-level.
_DATA_FALLBACK_KEYS = (
    "manualAddress",
    "manualAddressMatch",
    "registryCenterCheck",
    "addressVerification",
)


def _register_result(
    conv: cattrs.Converter,
    cls: type[Any],
    *,
    null_is_empty: bool = False,
    prepare: Callable[[Mapping[str, Any]], dict[str, Any]] = dict,
    **extra: Any,
) -> None:
    """Register the lenient structure hook of one answer model (see _RESULT_HOOKS)."""
    from cattrs.gen import make_dict_structure_fn, override

    attrs.resolve_types(cls)
    overrides: dict[str, Any] = {
        a.name: override(rename=wire_name(a.name), struct_hook=_RESULT_HOOKS.get(a.type))
        for a in attrs.fields(cls)
    }
    overrides["raw"] = override(rename=_RAW, struct_hook=lambda v, _: v)
    if "event_type" in overrides:
        overrides["event_type"] = override(omit=True)  # from the header, not the body
    overrides.update(extra)
    generated = make_dict_structure_fn(cls, conv, **overrides)

    def hook(value: Any, _: Any) -> Any:
        if value is None and null_is_empty:
            value = {}
        if not isinstance(value, Mapping):
            raise TypeError("expected an object")
        body = prepare(value)
        body[_RAW] = value
        return generated(body)

    conv.register_structure_hook(cls, hook)


def _register_results(conv: cattrs.Converter) -> None:
    """Structure hooks for statuses, data, file URLs and webhook events."""
    from cattrs.gen import override

    from .kyc_models import BlocklistEntry, FaceAuthCheck, FaceAuthSession, PoaCheck

    conv.register_structure_hook_factory(_is_open_enum_union, _open_enum_hook)
    conv.register_structure_hook_factory(_is_open_enum_tuple, _open_enum_tuple_hook)
    conv.register_structure_hook(FileUrls, _file_urls)

    def register(cls: type[Any], **options: Any) -> None:
        _register_result(conv, cls, **options)

    register(ServiceStatus)
    register(ServiceResult)
    records = _record_tuple(conv.get_structure_hook(ServiceResult))
    register(
        VerificationStatus,
        null_is_empty=True,
        additional_steps=override(rename="additionalSteps", struct_hook=_additional_steps),
    )
    register(VerificationData, null_is_empty=True)
    register(StatusResult)
    register(
        IdentificationEvent,
        prepare=_identification_body,
        aml=override(rename=_UPPER_KEYS["aml"], struct_hook=records),
        lid=override(rename=_UPPER_KEYS["lid"], struct_hook=records),
        criminal_check=override(rename=_UPPER_KEYS["criminal_check"], struct_hook=records),
    )
    register(
        FacialAuthenticationEvent,
        status=override(rename="status", struct_hook=_facial_status),
    )
    register(DocumentExpirationEvent)
    register(VerificationSummary)
    register(VideoCallAnswer)
    answer_hook = conv.get_structure_hook(VideoCallAnswer)

    def answers(value: Any, tp: Any) -> dict[str, VideoCallAnswer]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise TypeError("expected an object of answers")
        return {_text(question): answer_hook(answer, tp) for question, answer in value.items()}

    register(
        VideoCallEvent,
        video_call_answers=override(rename="videoCallAnswers", struct_hook=answers),
    )
    # The rest of the KYC workflow (kyc_models): answers read like results.
    for cls in (FaceAuthCheck, FaceAuthSession, BlocklistEntry, PoaCheck):
        register(cls)


def _identification_body(value: Mapping[str, Any]) -> dict[str, Any]:
    return _lift_data_fields(_legacy_services(value))


def _legacy_services(value: Mapping[str, Any]) -> dict[str, Any]:
    # Older integrations still receive lower-case ``aml`` / ``lid``: 2018-12
    # ``{"suspected": bool, "results": {...}}``, 2019 one result object; from 2021
    # ``AML`` / ``LID`` lists. All become the same typed results (never dropped: a
    # value of any other shape fails decoding, so an AML hit cannot vanish).
    body = dict(value)
    for lower, upper in (("aml", "AML"), ("lid", "LID")):
        if lower not in body:
            continue
        legacy = body.pop(lower)
        if legacy is None:
            continue
        if isinstance(legacy, Mapping) and set(legacy) <= {"suspected", "results"}:
            legacy = [_suspected_results(legacy, upper)]
        elif not isinstance(legacy, list):
            legacy = [legacy]  # one result object (or a bad value, reported by its hook)
        current = body.get(upper)
        if current is None:
            current = []
        elif not isinstance(current, list):
            current = [current]
        body[upper] = [*current, *legacy]
    return body


def _suspected_results(legacy: Mapping[str, Any], group: str) -> dict[str, Any]:
    # The 2018 form as one result: its flag is the service's verdict, its results
    # object (hits, when there are any) the data. The original keys are kept in raw.
    results = legacy.get("results")
    if results is None or results == {} or results == []:
        data: Any = []
    elif isinstance(results, list):
        data = results
    else:
        data = [results]
    return {
        **legacy,
        "serviceGroupType": group,
        "status": {"serviceSuspected": legacy.get("suspected")},
        "data": data,
    }


def _lift_data_fields(value: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(value)
    data = value.get("data")
    if isinstance(data, Mapping):
        for key in _DATA_FALLBACK_KEYS:
            if body.get(key) is None and data.get(key) is not None:
                body[key] = data[key]
    return body


def _open_enum_of(tp: Any) -> type[enum.Enum] | None:
    # ``SomeStrEnum | str`` (optionally ``| None``): the enum, else None.
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) != 2 or str not in args:
        return None
    other = args[0] if args[1] is str else args[1]
    if isinstance(other, type) and issubclass(other, enum.Enum) and issubclass(other, str):
        return other
    return None


def _is_open_enum_union(tp: Any) -> bool:
    return _open_enum_of(tp) is not None


def _is_open_enum_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return (
        typing.get_origin(tp) is tuple
        and len(args) == 2
        and args[1] is Ellipsis
        and _open_enum_of(args[0]) is not None
    )


def _enum_parser(enum_cls: type[enum.Enum]) -> Callable[[Any], Any]:
    members = {m.value: m for m in enum_cls}

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return members.get(value, value)

    return parse


def _open_enum_hook(tp: Any) -> Callable[[Any, Any], Any]:
    enum_cls = _open_enum_of(tp)
    assert enum_cls is not None
    parse = _enum_parser(enum_cls)
    if type(None) not in typing.get_args(tp):
        return lambda value, _: parse(value)

    def optional(value: Any, _: Any) -> Any:
        # iDenfy sends "" as well as null for "not reviewed yet".
        return None if value is None or value == "" else parse(value)

    return optional


def _open_enum_tuple_hook(tp: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
    enum_cls = _open_enum_of(typing.get_args(tp)[0])
    assert enum_cls is not None
    parse = _enum_parser(enum_cls)

    def hook(value: Any, _: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (parse(value),)
        if not isinstance(value, list | tuple):
            raise TypeError("expected a list of strings")
        return _each(value, lambda v, _: parse(v), tp)

    return hook


def _additional_steps(value: Any, _: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value
    return AdditionalStepsStatus.parse(_text(value))


def _facial_status(value: Any, _: Any) -> Any:
    return None if value is None else FacialAuthenticationStatus.parse(_text(value).upper())


def _file_urls(value: Any, _: Any) -> FileUrls:
    if not isinstance(value, Mapping):
        raise TypeError("expected an object of file URLs")
    return FileUrls(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError("expected a string")


def _result_str(value: Any, _: Any) -> str:
    if value is None:
        raise TypeError("expected a string, got null")
    return _text(value)


def _result_opt_str(value: Any, _: Any) -> str | None:
    return None if value is None else _text(value)


def _result_opt_int(value: Any, _: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)  # startTime was a float before 2019
    if type(value) is str and value.strip().isdigit():
        return int(value)
    raise TypeError("expected an integer")


def _result_opt_mapping(value: Any, _: Any) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    raise TypeError("expected an object")


def _result_any_tuple(value: Any, _: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(value)
    raise TypeError("expected a list")


def _result_str_tuple(value: Any, _: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(_text(v) for v in value)
    raise TypeError("expected a list of strings")


def _result_opt_str_tuple(value: Any, _: Any) -> tuple[str, ...] | None:
    return None if value is None else _result_str_tuple(value, _)


def _record_tuple(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], tuple[Any, ...]]:
    def records(value: Any, tp: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, Mapping):  # 2020 docs: one object, not a list
            return (hook(value, tp),)
        if isinstance(value, list | tuple):
            return _each(value, hook, tp)
        raise TypeError("expected a list of objects")

    return records


def _each(values: Any, hook: Callable[[Any, Any], Any], tp: Any) -> tuple[Any, ...]:
    # Like cattrs' own list hook: every bad item is reported, each with its index.
    from cattrs import BaseValidationError
    from cattrs.errors import IterableValidationError, IterableValidationNote

    items: list[Any] = []
    problems: list[Exception] = []
    for index, value in enumerate(values):
        try:
            items.append(hook(value, tp))
        except (BaseValidationError, KeyError, TypeError, ValueError) as exc:
            note = IterableValidationNote(f"Structuring {tp} @ index {index}", index, tp)
            noted: Any = exc  # __notes__ is not in Python 3.10's stubs
            noted.__notes__ = [*getattr(exc, "__notes__", []), note]
            problems.append(exc)
    if problems:
        raise IterableValidationError(f"While structuring {tp}", problems, tp)
    return tuple(items)


_RESULT_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _result_str,
    str | None: _result_opt_str,
    int | None: _result_opt_int,
    bool | None: _strict_opt_bool,  # never bool("false"), for webhooks too
    Mapping[str, Any] | None: _result_opt_mapping,
    tuple[Any, ...]: _result_any_tuple,
    tuple[str, ...]: _result_str_tuple,
    tuple[str, ...] | None: _result_opt_str_tuple,
}


class _LazyConverter:
    """Stands in for the converter; builds it on first use, then forwards to it."""

    def __init__(self, build: Callable[[], cattrs.Converter]) -> None:
        self._build = build
        self._built: cattrs.Converter | None = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._build()
        value = getattr(self._built, name)
        setattr(self, name, value)  # later look-ups find it without __getattr__
        return value


converter: Final = cast("cattrs.Converter", _LazyConverter(make_converter))


def shape_errors() -> tuple[type[BaseException], ...]:
    """What structuring a body can raise: ``except shape_errors() as exc:``.

    A function, so that cattrs is imported only once a body is really read.
    """
    from cattrs import BaseValidationError

    return (BaseValidationError, KeyError, TypeError, ValueError)


def shape_problem(exc: BaseException, model: str | None = None) -> str:
    """What was wrong with a structured body, by wire path: ``$.AML[1].status``.

    Paths only: cattrs' own leaf messages may quote values, which are personal data.
    """
    from cattrs import BaseValidationError

    what = f"unexpected shape for {model}" if model else "unexpected shape"
    if isinstance(exc, BaseValidationError):
        return f"{what} at " + ", ".join(sorted(set(_paths(exc, "$"))))
    if isinstance(exc, KeyError) and exc.args:
        return f"{what} at $.{exc.args[0]} (missing)"
    return what


def _paths(exc: cattrs.BaseValidationError, prefix: str) -> Iterator[str]:
    from cattrs import BaseValidationError

    for sub in exc.exceptions:
        here = prefix + _step(sub)
        if isinstance(sub, BaseValidationError):
            yield from _paths(sub, here)
        else:
            yield here + (" (missing)" if isinstance(sub, KeyError) else "")


def _step(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if isinstance(name, str):
            return "." + _UPPER_KEYS.get(name, wire_name(name))
        index = getattr(note, "index", None)
        if isinstance(index, int):
            return f"[{index}]"
    return ""


def session_request_to_wire(req: SessionRequest) -> dict[str, Any]:
    """The JSON-ready body of a token request."""
    result: dict[str, Any] = converter.unstructure(req, SessionRequest)
    return result


def structure_session(body: Mapping[str, Any], **fill: Any) -> Session:
    """Structure a token response; raises cattrs errors on a wrong shape.

    ``fill`` supplies wire fields the body lacks (``raw`` stays the body as received).
    """
    session: Session = _session_hook()({**body, **fill, "\x00raw": body}, Session)
    return session


@functools.cache
def _session_hook() -> Callable[[Any, Any], Any]:
    return converter.get_structure_hook(Session)
