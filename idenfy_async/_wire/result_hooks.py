"""Structure hooks of everything decoded from iDenfy after a session is created:
statuses, verification data, file URLs, third-party checks, webhook events, listings
and the KYC workflow's answers (lenient, never wrong; the whole object kept in ``raw``).
"""

from __future__ import annotations

import enum
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from ..models import (
    AdditionalStepsStatus,
    AmlAdverseMedia,
    AmlCheck,
    AmlCheckFilter,
    AmlCheckInput,
    AmlCheckMonitoring,
    AmlHit,
    AmlHitAddress,
    AmlMonitoring,
    AmlMonitoringEvent,
    AmlMonitoringExpirationEvent,
    AmlMonitoringSummary,
    AmlProfile,
    AmlWebhookCheck,
    BlocklistEntry,
    DocumentExpirationEvent,
    FaceAuthCheck,
    FaceAuthSession,
    FacialAuthenticationEvent,
    FacialAuthenticationStatus,
    FileUrls,
    IdentificationEvent,
    PoaCheck,
    ServiceResult,
    ServiceStatus,
    StatusResult,
    VerificationData,
    VerificationStatus,
    VerificationSummary,
    VideoCallAnswer,
    VideoCallEvent,
    wire_name,
)
from .session_hooks import strict_opt_bool
from .shapes import RAW_KEY, UPPER_KEYS, each, infer_user_type

__all__ = ["register_result_hooks"]

# --------------------------------------------------------------------------- results
# Results and webhook payloads are decoded leniently but never wrongly: a new enum
# value stays a plain str, a number where a string is expected becomes that string
# (legacy docs typed clientId as an integer), but "false" never becomes True and a
# null never becomes "None". Every model keeps its whole wire object in ``raw``.

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
    """Register the lenient structure hook of one answer model (see _RESULT_HOOKS); cattrs
    generates it the first time the model is read (a factory for exactly ``cls``)."""

    def factory(_: Any) -> Callable[[Any, Any], Any]:
        attrs.resolve_types(cls)
        overrides: dict[str, Any] = {
            a.name: override(rename=wire_name(a.name), struct_hook=_RESULT_HOOKS.get(a.type))
            for a in attrs.fields(cls)
        }
        overrides["raw"] = override(rename=RAW_KEY, struct_hook=lambda v, _: v)
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
            body[RAW_KEY] = value
            return generated(body)

        return hook

    conv.register_structure_hook_factory(lambda tp: tp is cls, factory)


def register_result_hooks(conv: cattrs.Converter) -> None:
    """Structure hooks for statuses, data, file URLs and webhook events."""
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
        aml=override(rename=UPPER_KEYS["aml"], struct_hook=records),
        lid=override(rename=UPPER_KEYS["lid"], struct_hook=records),
        criminal_check=override(rename=UPPER_KEYS["criminal_check"], struct_hook=records),
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
    # The rest of the KYC workflow: answers read like results.
    for cls in (FaceAuthCheck, FaceAuthSession, BlocklistEntry, PoaCheck):
        register(cls)
    _register_aml(conv, register, records)


def _register_aml(
    conv: cattrs.Converter,
    register: Callable[..., None],
    service_results: Callable[[Any, Any], tuple[Any, ...]],
) -> None:
    """The standalone AML API's answers and webhooks: lists sent as null are empty, the
    ``userType`` union is read by what is present, the three ``amlCheck``s renamed."""
    conv.register_structure_hook_factory(lambda tp: tp == tuple[int, ...], lambda _: _int_tuple)
    conv.register_structure_hook_factory(
        lambda tp: tp == tuple[Mapping[str, Any], ...], lambda _: _mapping_tuple
    )
    for cls in (AmlHitAddress, AmlCheckInput, AmlCheckFilter, AmlCheckMonitoring):
        register(cls)
    register(AmlHit)
    register(AmlAdverseMedia, score=override(rename="score", struct_hook=_lenient_score))
    hits = _record_tuple(conv.get_structure_hook(AmlHit))
    conv.register_structure_hook_factory(lambda tp: tp == tuple[AmlHit, ...], lambda _: hits)
    _register_tuple(conv, tuple[AmlHitAddress, ...], AmlHitAddress)
    _register_tuple(conv, tuple[AmlAdverseMedia, ...], AmlAdverseMedia)
    typed = functools.partial(_with_user_type, infer=infer_user_type)
    renamed_hits = override(rename="amlCheck", struct_hook=hits)
    register(AmlCheck, prepare=typed, hits=renamed_hits)
    register(AmlWebhookCheck, prepare=typed, hits=renamed_hits)
    register(AmlMonitoring, check=override(rename="amlCheck"))
    register(AmlMonitoringSummary)
    register(AmlProfile, prepare=typed)
    register(
        AmlMonitoringEvent,
        check=override(rename="amlCheck"),
        results=override(rename="results", struct_hook=service_results),
    )
    register(AmlMonitoringExpirationEvent)


def _register_tuple(conv: cattrs.Converter, tp: Any, item: type[Any]) -> None:
    # A list of ``item`` objects; null is empty.
    hook = _record_tuple(conv.get_structure_hook(item))
    conv.register_structure_hook_factory(lambda given: given == tp, lambda _: hook)


def _with_user_type(
    value: Mapping[str, Any], *, infer: Callable[[Mapping[str, Any]], str | None]
) -> dict[str, Any]:
    body = dict(value)
    if not isinstance(body.get("userType"), str) or not body.get("userType"):
        body["userType"] = infer(value)
    return body


def _lenient_score(value: Any, _: Any) -> int | None:
    # An integer in checks, text in webhooks: text that is a number is read as one.
    if value is None or type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)
    if type(value) is str:
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) else None
    raise TypeError("expected a number")


def _int_tuple(value: Any, _: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise TypeError("expected a list of integers")
    if not all(type(v) is int for v in value):
        raise TypeError("expected a list of integers")
    return tuple(value)


def _mapping_tuple(value: Any, _: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
        raise TypeError("expected a list of objects")
    return tuple(value)


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
        return each(value, lambda v, _: parse(v), tp)

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
            return each(value, hook, tp)
        raise TypeError("expected a list of objects")

    return records


_RESULT_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _result_str,
    str | None: _result_opt_str,
    int | None: _result_opt_int,
    bool | None: strict_opt_bool,  # never bool("false"), for webhooks too
    Mapping[str, Any] | None: _result_opt_mapping,
    tuple[Any, ...]: _result_any_tuple,
    tuple[str, ...]: _result_str_tuple,
    tuple[str, ...] | None: _result_opt_str_tuple,
}
