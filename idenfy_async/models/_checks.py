"""What one request value must be: the checks that field rules are made of.

Each check takes a set (non-None) value and returns the broken rule, or None.
Messages never include the value: it is personal data. Which field obeys which check
is declared on the field itself (see `idenfy_async.models._rules`).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ._countries import COUNTRY_CODES
from ._urls import secure_url_problem, uri_syntax_problem

_Check = Callable[[Any], "str | None"]

_NAME_FORBIDDEN: Final = frozenset('~!@#$%^*()_+={}[]|:;",<>/?')
_DIGIT: Final = re.compile(r"\d")
_NAME_SEPARATORS: Final = frozenset(" -'.\u2019")
_LOCALE_RE: Final = re.compile(r"[a-z]{2}")
#: The token's ``locale``: iDenfy's contract allows text of up to 7 characters (``en``,
#: ``en-GB``); an unsupported one falls back to English.
_MAX_TOKEN_LOCALE: Final = 7
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_EXPIRY_TIME: Final = 2_592_000
_URL_MIN, _URL_MAX = 5, 2048
#: Integers sent must fit in 64 bits: larger ones are not portable JSON (and Python
#: refuses to print ones of over 4,300 digits).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: Deepest nesting accepted inside ``extra``, ``additionalData`` and ``additionalSteps``
#: (also what stops a container that contains itself).
_MAX_JSON_DEPTH: Final = 32
_JSON_RULE: Final = (
    "must contain only JSON values (strings, finite numbers, true/false, null,"
    " lists, and objects with string keys)"
)
_UNENCODABLE_RULE: Final = "text must be valid Unicode (no lone surrogates such as \\ud800)"


def _mask(value: object) -> str:
    # The repr of a token or digit string: whether it is set, never what it is.
    return "'***'" if value else repr(value)


def utf8_problem(value: str) -> str | None:
    """The broken rule when ``value`` cannot be sent as UTF-8 (a lone surrogate), else None."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Returned, not raised: the error's ``.object`` would carry the whole value.
        return _UNENCODABLE_RULE
    return None


class _NotJSON(Exception):
    """A value that strict JSON cannot carry; ``args[0]`` is the rule (no value in it)."""


def _json_copy(value: Any, depth: int = 0) -> Any:
    # A plain dict/list copy of ``value``, or _NotJSON. bool and str subclasses
    # (enum members) are JSON as themselves; bytes, sets, dates, Decimal, UUID and
    # arbitrary objects are not: the caller must say what they mean.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        problem = utf8_problem(value)
        if problem:
            raise _NotJSON(problem)
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise _NotJSON("integers must fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJSON("numbers must be finite (no NaN or Infinity)")
        return value
    if depth >= _MAX_JSON_DEPTH:
        raise _NotJSON(f"must not be nested more than {_MAX_JSON_DEPTH} levels deep")
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJSON(f"{_JSON_RULE}: found a key of type {type(key).__name__}")
            copy[_json_copy(key, depth + 1)] = _json_copy(item, depth + 1)
        return copy
    if isinstance(value, list | tuple):
        return [_json_copy(item, depth + 1) for item in value]
    raise _NotJSON(f"{_JSON_RULE}: found a value of type {type(value).__name__}")


def json_problem(value: Any) -> str | None:
    """The broken rule when ``value`` is not strict, sendable JSON, else None."""
    try:
        _json_copy(value)
    except _NotJSON as exc:
        return str(exc.args[0])
    except RecursionError:
        return f"must not be nested more than {_MAX_JSON_DEPTH} levels deep"
    return None


def _text(max_len: int | None, *, ascii_only: bool = False, allow_empty: bool = False) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if not value and not allow_empty:
            return "must not be empty"
        if max_len is not None and len(value) > max_len:
            return f"must be at most {max_len} characters"
        if ascii_only and not value.isascii():
            return "must contain only ASCII characters"
        return utf8_problem(value)

    return check


_name_length = _text(100)
_client_id_text = _text(100, ascii_only=True)


def _check_client_id(value: Any) -> str | None:
    # An empty clientId is as good as none: iDenfy needs one to name the session.
    return "is required" if value == "" else _client_id_text(value)


def _check_document_list(value: Any) -> str | None:
    # The shape only: which types are allowed depends on allow_unlisted_documents,
    # checked by the model once the shape is right.
    if isinstance(value, str) or not isinstance(value, Iterable):
        return "must be a list of document type names"
    if not all(isinstance(d, str) and d for d in value):
        return "must be a list of document type names"
    if not value:
        return "must name at least one document type"
    return None


def _check_name(value: Any) -> str | None:
    problem = _name_length(value)
    if problem:
        return problem
    if _DIGIT.search(value):
        return "must not contain digits"
    if not _NAME_FORBIDDEN.isdisjoint(value):
        return 'must not contain any of ~!@#$%^*()_+={}[]|:;",<>/?'
    # "Letters only" (the seed), in any script: a letter, a combining mark (a
    # decomposed accent), or what separates the parts of a name. Emoji, symbols and
    # control characters are not part of a name printed on a document.
    if not all(c.isalpha() or c in _NAME_SEPARATORS or _is_mark(c) for c in value):
        return "must contain only letters, spaces, hyphens, apostrophes and periods"
    return None


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _check_locale(value: Any) -> str | None:
    # ISO 639-1 (the seed: "ISO alpha-2"): "english" or "en-GB" would reach iDenfy
    # and silently fall back to English.
    if not isinstance(value, str) or not _LOCALE_RE.fullmatch(value):
        return "must be a two-letter ISO 639-1 language code such as en or lt"
    return None


def _check_token_locale(value: Any) -> str | None:
    # The token's locale (iDenfy's contract: text of at most 7 characters).
    if not isinstance(value, str) or not value:
        return "must be a language code such as en, lt or en-GB"
    if len(value) > _MAX_TOKEN_LOCALE:
        return f"must be at most {_MAX_TOKEN_LOCALE} characters (a language code such as en)"
    return utf8_problem(value)


#: Today's date, as the rules see it: replace it to test a date rule on any day.
today: Callable[[], _dt.date] = _dt.date.today


def _check_date(value: Any) -> str | None:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return "must be a date in YYYY-MM-DD format"
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return "must be a real calendar date (YYYY-MM-DD)"
    return None


def _check_birth_date(value: Any) -> str | None:
    # A birth date after today is a typo (2099 for 1999) that iDenfy would compare
    # against the document and fail the verification on: a credit spent for nothing.
    problem = _check_date(value)
    if problem is None and _dt.date.fromisoformat(value) > today():
        return "must be a real calendar date (YYYY-MM-DD), not after today"
    return problem


def _one_of(allowed: Iterable[str]) -> _Check:
    values = frozenset(allowed)
    listing = ", ".join(sorted(values))

    def check(value: Any) -> str | None:
        # isinstance first: ``in`` would hash the value (TypeError for a list or dict).
        return None if isinstance(value, str) and value in values else f"must be one of {listing}"

    return check


def _check_country(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value in COUNTRY_CODES else "must be an ISO 3166-1 alpha-2 country code"
    return "must be an ISO 3166-1 alpha-2 country code"


def _check_nationality(value: Any) -> str | None:
    # "ALL" clears a nationality set on the account (iDenfy docs).
    return None if value == "ALL" else _check_country(value)


def _check_country_list(value: Any) -> str | None:
    # A list only: a string would be split into its letters when sent ("LT" -> L, T).
    if isinstance(value, str):
        return 'must be a list of ISO 3166-1 alpha-2 country codes (such as ["LT"])'
    return _check_countries(value)


def _check_countries(value: Any) -> str | None:
    if isinstance(value, str):
        return _check_country(value)
    if not isinstance(value, Iterable):
        return "must be an ISO 3166-1 alpha-2 country code or a list of them"
    if not value:
        return "must name at least one country"
    if all(isinstance(v, str) and v in COUNTRY_CODES for v in value):
        return None
    return "must contain only ISO 3166-1 alpha-2 country codes"


def _check_url(value: Any) -> str | None:
    # successUrl, errorUrl, unverifiedUrl: the seed's "HTTPS, max 2048".
    if not isinstance(value, str):
        return "must be a string"
    if not _URL_MIN <= len(value) <= _URL_MAX:
        return f"must be {_URL_MIN} to {_URL_MAX} characters long"
    return secure_url_problem(value) or uri_syntax_problem(value)


def _check_callback_url(value: Any) -> str | None:
    # No length documented for callbackUrl (contract or seed): only its form.
    if not isinstance(value, str):
        return "must be a string"
    return secure_url_problem(value) or uri_syntax_problem(value)


def _int_range(low: int, high: int | None = None) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if value < low or (high is not None and value > high):
            return f"must be between {low:,} and {high:,}" if high else f"must be at least {low}"
        return None

    return check


def _check_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _check_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    # An int is finite (math.isfinite(10**400) would overflow); its size is json_problem's.
    return None if isinstance(value, int) or math.isfinite(value) else "must be a finite number"


def _check_mapping(value: Any) -> str | None:
    return None if isinstance(value, Mapping) else "must be an object (a mapping)"


def _check_str_list(value: Any) -> str | None:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return "must be a list of strings"
    if not all(isinstance(v, str) for v in value):
        return "must be a list of strings"
    return None


def _check_uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a UUID"
    try:
        uuid.UUID(value)
    except ValueError:
        return "must be a UUID"
    return None


def _check_risk_profile(value: Any) -> str | None:
    # The seed types it as an integer id; the OpenAPI file as a UUID. Accept both
    # (a digit string was made an integer by _risk_profile).
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, str):
        if value.isascii() and value.isdigit():  # left as text by _risk_profile: too big
            return "integers must fit in 64 bits"
        return _check_uuid(value)
    return "must be an integer id or a UUID"
