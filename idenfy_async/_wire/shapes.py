"""What a wrong shape raises and how it is told: the one place that names cattrs'
errors. Below both the converter and its hook modules, which all use it.

`shape_errors` is what structuring a body can raise, `shape_problem` tells
it by wire path, `each` structures a list reporting every bad item. cattrs is
imported in them, not here: see `converter` for why it loads on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..models._rules import wire_name

if TYPE_CHECKING:
    from cattrs import BaseValidationError

__all__ = ["RAW_KEY", "UPPER_KEYS", "each", "infer_user_type", "shape_errors", "shape_problem"]

#: Wire keys that are not the camelCase of their attribute (iDenfy's upper-case lists, and
#: the AML models' ``hits`` and ``check``: both ``amlCheck`` on the wire).
UPPER_KEYS: Final = {
    "aml": "AML",
    "lid": "LID",
    "criminal_check": "CRIMINAL_CHECK",
    "hits": "amlCheck",
    "check": "amlCheck",
}
#: Where a hook keeps the whole received object for the model's ``raw``.
RAW_KEY: Final = "\x00raw"


def shape_errors() -> tuple[type[Exception], ...]:
    """What structuring a body can raise: ``except shape_errors() as exc:`` (evaluated
    only when something was raised)."""
    from cattrs import BaseValidationError

    return (BaseValidationError, KeyError, TypeError, ValueError)


def shape_problem(exc: BaseException, model: str | None = None) -> str:
    """What was wrong with a structured body, by wire path: ``$.AML[1].status``.

    Paths only: cattrs' own leaf messages may quote values, which are personal data.
    """
    from cattrs import BaseValidationError

    what = f"unexpected shape for {model}" if model else "unexpected shape"
    if isinstance(exc, BaseValidationError):
        return f"{what} at " + ", ".join(sorted(set(_paths(exc, "$", BaseValidationError))))
    if isinstance(exc, KeyError) and exc.args:
        return f"{what} at $.{exc.args[0]} (missing)"
    return what


def _paths(
    exc: BaseValidationError, prefix: str, group: type[BaseValidationError]
) -> Iterator[str]:
    for sub in exc.exceptions:
        here = prefix + _step(sub)
        if isinstance(sub, group):
            yield from _paths(sub, here, group)
        else:
            yield here + (" (missing)" if isinstance(sub, KeyError) else "")


def _step(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if isinstance(name, str):
            return "." + UPPER_KEYS.get(name, wire_name(name))
        index = getattr(note, "index", None)
        if isinstance(index, int):
            return f"[{index}]"
    return ""


def each(values: Any, hook: Callable[[Any, Any], Any], tp: Any) -> tuple[Any, ...]:
    """Every item through ``hook``; like cattrs' own list hook, every bad item is
    reported (one IterableValidationError), each with its index for `shape_problem`."""
    from cattrs.errors import IterableValidationError, IterableValidationNote

    items: list[Any] = []
    problems: list[Exception] = []
    for index, value in enumerate(values):
        try:
            items.append(hook(value, tp))
        except shape_errors() as exc:
            note = IterableValidationNote(f"Structuring {tp} @ index {index}", index, tp)
            noted: Any = exc  # __notes__ is not in Python 3.10's stubs
            noted.__notes__ = [*getattr(exc, "__notes__", []), note]
            problems.append(exc)
    if problems:
        raise IterableValidationError(f"While structuring {tp}", problems, tp)
    return tuple(items)


def infer_user_type(body: Mapping[str, Any]) -> str | None:
    """``userType`` of an AML check or profile body: as sent, else from its shape (a
    person's input has ``fullName`` and its hits nationalities and birth dates; a company
    profile has business types), else None."""
    given = body.get("userType")
    if isinstance(given, str) and given:
        return given
    data = body.get("input")
    if isinstance(data, Mapping):
        if "fullName" in data:
            return "PERSON"
        if "companyName" in data:
            return "COMPANY"
    if any(key in body for key in ("lastName", "datesOfBirth", "pepEntries", "ddEntries")):
        return "PERSON"
    if any(key in body for key in ("businessTypes", "activities", "soeEntry")):
        return "COMPANY"
    hits = body.get("amlCheck")
    if isinstance(hits, list) and hits and isinstance(hits[0], Mapping):
        return "PERSON" if "nationalities" in hits[0] or "datesOfBirth" in hits[0] else "COMPANY"
    return None
