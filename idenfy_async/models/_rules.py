"""Field rules declared on the fields: one [`Rule`][idenfy_async.models.Rule] per request field, and
what is derived from it (validation of a whole request, a CSV cell's value, the nullable set).

A request model declares each field's rule in ``attrs.field(metadata=rule(...))``:
its kind (how text becomes a value), its check (`idenfy_async.models._checks`), whether
iDenfy documents an explicit null for it, and its wire name when that is not the
camelCase of the attribute. Nothing here reads an annotation: ``Optional[bool]`` and
``bool | None`` get the same rule because the rule is not in the annotation.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal, NamedTuple

import attrs

from ..errors import FieldProblem, RequestValidationError
from ._checks import _INT_MAX, _json_copy, _NotJSON, json_problem
from ._enums import NULL

__all__ = [
    "RULE_KEY",
    "Rule",
    "field_problems",
    "model_cell_value",
    "rule",
    "rules_of",
    "wire_name",
]

_CAMEL_RE: Final = re.compile(r"_([a-z0-9])")


def wire_name(attribute: str) -> str:
    """The camelCase wire name of a snake_case attribute: ``client_id`` -> ``clientId``."""
    return _CAMEL_RE.sub(lambda m: m.group(1).upper(), attribute)


#: How a text (a CSV cell) becomes a field's value; "file" is a file given as bytes,
#: a path or an open file (a path as text).
Kind = Literal["str", "bool", "int", "float", "json", "list", "list_or_str", "file"]
#: The one metadata key a field's [`Rule`][idenfy_async.models.Rule] is stored under.
RULE_KEY: Final = "idenfy_async.rule"
NOT_NULLABLE: Final = "must not be null (iDenfy documents no null for it; leave it unset)"


class Rule(NamedTuple):
    """What one request field must be (immutable).

    ``kind``: how a text cell becomes the value. ``check``: the value's own rule
    (returns the broken rule or None); every sent value must also be strict JSON.
    ``nullable``: iDenfy documents an explicit null (``NULL``) for it. ``wire``: the
    name problems are reported under when it is not the attribute's camelCase.
    ``required``: ``None`` (not given) is refused. ``sent``: False for a local
    option that never reaches the body (its check judges every value, ``None`` too;
    no JSON or null rule).
    """

    kind: Kind
    check: Callable[[Any], str | None] | None = None
    nullable: bool = False
    wire: str | None = None
    required: bool = False
    sent: bool = True


def rule(
    kind: Kind,
    check: Callable[[Any], str | None] | None = None,
    *,
    nullable: bool = False,
    wire: str | None = None,
    required: bool = False,
    sent: bool = True,
) -> dict[str, Rule]:
    """``attrs.field`` metadata declaring a field's [`Rule`][idenfy_async.models.Rule]."""
    return {RULE_KEY: Rule(kind, check, nullable, wire, required, sent)}


class _ModelRules(NamedTuple):
    """One model's rules, read from its fields once and kept for every validation."""

    #: ``(attribute, wire name, rule)`` per field that declares one, in field order.
    rules: tuple[tuple[str, str, Rule], ...]
    #: Every rule-bearing value of an instance, read by one attrgetter.
    values: Callable[[object], tuple[Any, ...]]
    #: ``(wire name, rule)`` in the order of ``values``.
    checks: tuple[tuple[str, Rule], ...]
    #: attribute -> (wire name, rule), for reading one cell.
    by_name: dict[str, tuple[str, Rule]]


_MODEL_RULES: dict[type, _ModelRules] = {}


def _model_rules(cls: type) -> _ModelRules:
    found = _MODEL_RULES.get(cls)
    if found is None:
        rules = tuple(
            (a.name, a.metadata[RULE_KEY].wire or wire_name(a.name), a.metadata[RULE_KEY])
            for a in attrs.fields(cls)
            if isinstance(a.metadata.get(RULE_KEY), Rule)
        )
        getter = operator.attrgetter(*(name for name, _, _ in rules))
        values: Callable[[object], tuple[Any, ...]] = (
            getter if len(rules) > 1 else (lambda instance: (getter(instance),))
        )
        found = _MODEL_RULES[cls] = _ModelRules(
            rules,
            values,
            tuple((wire, declared) for _, wire, declared in rules),
            {name: (wire, declared) for name, wire, declared in rules},
        )
    return found


def rules_of(cls: type) -> tuple[tuple[str, str, Rule], ...]:
    """``(attribute, wire name, rule)`` for every field of ``cls`` that declares one."""
    return _model_rules(cls).rules


def field_problems(instance: object, *, takes_null: bool = True) -> list[FieldProblem]:
    """Every broken field rule of an attrs request, in field order (values never quoted).

    ``takes_null``: the model accepts [`NULL`][idenfy_async.NULL] for its
    nullable fields and refuses it, as such, for its other optional sent fields.
    Without it (the KYC workflow's requests), NULL is just a value the checks refuse.
    """
    problems: list[FieldProblem] = []
    model = _model_rules(type(instance))
    for value, (wire, declared) in zip(model.values(instance), model.checks, strict=True):
        if value is None and declared.sent:  # not sent: the dashboard default applies
            if declared.required:
                problems.append(FieldProblem(wire, "is required"))
            continue
        if value is NULL and takes_null and declared.sent and not declared.required:
            if not declared.nullable:
                problems.append(FieldProblem(wire, NOT_NULLABLE))
            continue
        # The field's own rule first, then the one every sent value obeys (a file's
        # bytes are read and encoded, not sent as given: only a path given as text is).
        broken = declared.check(value) if declared.check else None
        if not broken and declared.sent and (declared.kind != "file" or isinstance(value, str)):
            broken = json_problem(value)
        if broken:
            problems.append(FieldProblem(wire, broken))
    return problems


# --------------------------------------------------------------------------- text cells

_TRUE: Final = frozenset({"true", "t", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0"})
_LIST_RULE: Final = 'must be values separated by "|" or a JSON list'


class _CellError(Exception):
    """A cell that cannot become its field's kind; ``args[0]`` is the rule broken."""


def model_cell_value(model: type, attribute_name: str, text: str) -> object:
    """The value a text cell (CSV) gives a field of ``model``; ``None`` for an empty cell.

    Booleans read true/false, t/f, yes/no, y/n or 1/0 (any case); integers and numbers
    as Python reads them; objects as JSON; lists as ``A|B`` (blank parts dropped) or a
    JSON list, and a field that also takes one string (``country``) keeps text without
    ``|`` as that string; anything else stays text. For a token request's fields see
    `idenfy_async.models._sessions.cell_value`.

    Raises:
        RequestValidationError: naming the field's wire name and the rule, never the text.
        KeyError: ``attribute_name`` is not a field with a rule.
    """
    wire, declared = _rule_named(model, attribute_name)
    text = text.strip()
    if not text:
        return None  # an empty cell: not set, the dashboard default applies
    try:
        return _parse_cell(declared.kind, text)
    except _CellError as exc:
        raise RequestValidationError(model.__name__, [FieldProblem(wire, exc.args[0])]) from None


def _rule_named(model: type, attribute_name: str) -> tuple[str, Rule]:
    return _model_rules(model).by_name[attribute_name]  # KeyError: no such ruled field


def _parse_cell(kind: Kind, text: str) -> object:
    if kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise _CellError("must be true or false")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise _CellError("must be an integer") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise _CellError("must be a number") from None
    if kind == "json":
        value = _json_or_none(text)
        if not isinstance(value, dict):
            raise _CellError("must be a JSON object")
        return value
    if kind in ("list", "list_or_str"):
        if text.startswith("["):
            items = _json_or_none(text)
            if not isinstance(items, list):
                raise _CellError(_LIST_RULE)
            return items
        if kind == "list" or "|" in text:
            return [part.strip() for part in text.split("|") if part.strip()]
    return text


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return None


# --------------------------------------------------------------------------- normalising
# Converters run before the checks: they give a value its sent form (upper-cased
# countries, ISO dates, enum values); a value of the wrong type is left for the check.


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _upper_all(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return _upper(value)
    if isinstance(value, Iterable):
        return tuple(_upper(v) for v in value)
    return value


def _tuple(value: Any) -> Any:
    if value is None or isinstance(value, str | Mapping):
        return value
    return tuple(value) if isinstance(value, Iterable) else value


def _iso_date(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value  # a datetime is not a date here; the validator says so
    return value.isoformat() if isinstance(value, _dt.date) else value


def _uuid_text(value: Any) -> Any:
    # The canonical form (iDenfy's contract: format uuid): text uuid.UUID reads in
    # another spelling (no hyphens, braces, urn:uuid:, upper case) is sent canonical.
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return value  # for the check to report
    return str(value) if isinstance(value, uuid.UUID) else value


def _risk_profile(value: Any) -> Any:
    # An integer id given as text (a CSV cell, say) is sent as the integer the seed
    # documents; a UUID stays text. Over 64 bits it stays text, for the rule to report.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
        return number if number <= _INT_MAX else value
    return _uuid_text(value)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value.isascii() else value


def _json_mapping(value: Any) -> Any:
    # A plain copy, so a caller's later change to the mapping cannot slip past the
    # rules; a value that is not JSON stays as given for the validator to report.
    if not isinstance(value, Mapping):
        return value
    try:
        return _json_copy(value)
    except (_NotJSON, RecursionError):
        return value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) and value is not NULL else value


def _enum_values(value: Any) -> Any:
    value = _tuple(value)
    return tuple(_enum_value(v) for v in value) if isinstance(value, tuple) else value
