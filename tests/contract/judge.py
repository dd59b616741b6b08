"""The judge: a small validator for the subset of JSON Schema the contract uses, and
Hypothesis strategies of contract-shaped instances."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any, Final

from .deviations import deviations_of
from .schemas import SCHEMAS, Schema

# --------------------------------------------------------------------------- the validator

_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"[A-Za-z0-9\-._~]"
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:@])"
#: RFC 3986 section 3: scheme ":" [ "//" authority ] path [ "?" query ] [ "#" fragment ]
_RFC3986_URI: Final = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*:"
    rf"(?://(?:(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|:)*@)?"
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS})*)(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*|/?(?:{_PCHAR}+(?:/{_PCHAR}*)*)?)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)
#: RFC 4122 / RFC 9562 string form (JSON Schema's "uuid" format).
_UUID_FORM: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DATE_FORM: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def format_problem(fmt: str, value: str) -> str | None:
    """The broken format rule of a string value, else None (JSON Schema formats)."""
    if fmt == "uri":
        return None if _RFC3986_URI.fullmatch(value) else "is not an RFC 3986 URI"
    if fmt == "uuid":
        return None if _UUID_FORM.fullmatch(value) else "is not a UUID in its RFC 4122 form"
    if fmt == "date":
        if not _DATE_FORM.fullmatch(value):
            return "is not a YYYY-MM-DD date"
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            return "is not a calendar date"
        return None
    if fmt == "date-time":
        try:
            _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "is not an RFC 3339 date-time"
        return None
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "is not base64"
        return None
    return None


_TYPES: Final = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def problems(schema_name: str, instance: Any, *, deviations: bool = True) -> list[str]:
    """Every way ``instance`` breaks the named schema of this module, as ``path: rule``.

    With ``deviations`` (the default) the documented :data:`DEVIATIONS` are allowed.
    """
    schema = SCHEMAS[schema_name]
    allowed = deviations_of(schema_name) if deviations else {}
    found: list[str] = []
    _check(schema, instance, "", allowed, found)
    return found


def _check(
    schema: Schema, value: Any, path: str, allowed: Mapping[str, set[str]], out: list[str]
) -> None:
    here = allowed.get(path, set())
    where = path or "(body)"
    if value is None:
        if not (schema.get("nullable") or "null" in here or "type" not in schema):
            out.append(f"{where}: must not be null")
        return
    kind = schema.get("type")
    if kind is not None and not _TYPES[kind](value):
        other = next((a[5:] for a in here if a.startswith("type:")), None)
        if other is None or not _TYPES[other](value):
            out.append(f"{where}: must be of type {kind}")
        return
    if "enum" in schema and value not in schema["enum"]:
        extra = {v for a in here if a.startswith("values:") for v in a[7:].split("|")}
        if value not in extra:
            out.append(f"{where}: must be one of the contract's values")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            out.append(f"{where}: must be at most {schema['maxLength']} characters")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{where}: must be at least {schema['minLength']} characters")
        fmt = schema.get("format")
        broken = format_problem(fmt, value) if fmt else None
        if broken:
            out.append(f"{where}: {broken}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: must be at most {schema['maximum']}")
    if isinstance(value, list) and "items" in schema:
        for item in value:
            _check(schema["items"], item, path, allowed, out)
    if isinstance(value, dict):
        _check_object(schema, value, path, allowed, out)


def _check_object(
    schema: Schema,
    value: dict[str, Any],
    path: str,
    allowed: Mapping[str, set[str]],
    out: list[str],
) -> None:
    prefix = f"{path}." if path else ""
    for name in schema.get("required", ()):
        if name not in value and "absent" not in allowed.get(prefix + name, set()):
            out.append(f"{prefix}{name}: is required")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        if name in properties:
            _check(properties[name], item, prefix + name, allowed, out)
        elif isinstance(extra, dict):
            _check(extra, item, prefix + name, allowed, out)


# --------------------------------------------------------------------------- instances


def instances(schema_name: str) -> Any:
    """A Hypothesis strategy of contract-shaped instances of the named schema: every
    required field, any optional one, each value of its type, format, length, enum."""
    return _strategy(SCHEMAS[schema_name])


def _strategy(schema: Schema) -> Any:
    from hypothesis import strategies as st

    kind = schema.get("type")
    base: Any
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {name: _strategy(properties.get(name, {})) for name in required}
        optional = {
            name: _strategy(item) for name, item in properties.items() if name not in required
        }
        base = st.fixed_dictionaries(fixed, optional=optional)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not properties:
            base = st.dictionaries(st.text(max_size=8), _strategy(extra), max_size=3)
    elif kind == "array":
        base = st.lists(_strategy(schema.get("items", {})), max_size=3)
    elif kind == "string":
        base = _string_strategy(schema)
    elif kind == "integer":
        base = st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    elif kind == "number":
        base = st.floats(allow_nan=False, allow_infinity=False, width=32)
    elif kind == "boolean":
        base = st.booleans()
    else:
        base = st.one_of(st.none(), st.booleans(), st.text(max_size=5))
    return st.one_of(st.none(), base) if schema.get("nullable") else base


def _string_strategy(schema: Schema) -> Any:
    from hypothesis import strategies as st

    if "enum" in schema:
        return st.sampled_from([v for v in schema["enum"] if v is not None])
    fmt = schema.get("format")
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "uri":
        return st.sampled_from(
            ["https://example.com/", "https://ui.idenfy.com/?authToken=a%20b", "http://x.io/a#b"]
        )
    if fmt == "date":
        return st.dates().map(lambda d: d.isoformat())
    if fmt == "date-time":
        return st.datetimes().map(lambda d: d.isoformat() + "Z")
    if fmt == "byte":
        return st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    # Any script, punctuation and symbols; no control characters (nothing iDenfy's
    # text fields are documented to carry).
    printable = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))
    return st.text(printable, min_size=low, max_size=min(high, 40))
