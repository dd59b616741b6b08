"""Public names show their public home: ``idenfy_async.Session``, not the module that
happens to define it, in reprs, tracebacks, pickles and ``help()`` (httpx does the same).

Setting ``__module__`` has one trap: ``typing.get_type_hints`` (and through it
``attrs.resolve_types`` and cattrs) resolves a class's string annotations in the module
``__module__`` names, where ``Mapping`` or a private type may not exist, or may be
another object. So each annotation that would not resolve to the same objects in the
public module becomes a ``typing.ForwardRef`` bound to the defining module: hints
resolve exactly as before. The check is a few dict lookups per distinct annotation
text; only the texts that need it pay for a ``ForwardRef`` (it compiles its text).
"""

from __future__ import annotations

import builtins
import inspect
import re
import sys
import types
import typing
from typing import Any, Final

PACKAGE: Final = "idenfy_async"
_IDENTIFIER: Final = re.compile(r"[A-Za-z_]\w*")
_MISSING: Final = object()
#: Where each claimed name is defined: ``"idenfy_async.Session"`` -> its module's name.
HOMES: Final[dict[str, str]] = {}
_BOUND: Final[dict[tuple[str, str, str], str | typing.ForwardRef]] = {}


def claim(value: Any, public: str = PACKAGE) -> None:
    """Make ``value`` (a class or function of the package) say it lives in ``public``.

    Anything else (an instance, a value from another package, a name already at
    home) is left alone.
    """
    if not isinstance(value, type | types.FunctionType):
        return
    home = value.__module__
    if home == public or not home.startswith(PACKAGE + "."):
        return
    if isinstance(value, type):
        _bind_annotations(value, home, public)
    value.__module__ = public
    HOMES[f"{public}.{value.__qualname__}"] = home


def claim_module(module_name: str) -> None:
    """Claim each class and function of ``module_name.__all__``: for the package when
    it exports the name, else for the module itself (its public home). A module whose
    names are defined in private modules calls this once, at its end. A name the
    module serves on first use (PEP 562) is not loaded here: the private module that
    defines it claims its names when it is loaded."""
    namespace = vars(sys.modules[module_name])
    exported = set(getattr(sys.modules.get(PACKAGE), "__all__", ()))
    for name in namespace["__all__"]:
        value = namespace.get(name, _MISSING)
        if value is not _MISSING:
            claim(value, PACKAGE if name in exported else module_name)


def _bind_annotations(cls: type, home: str, public: str) -> None:
    """Rebind the class's own string annotations that ``public`` would read otherwise."""
    annotations = inspect.get_annotations(cls)  # the class's own, unevaluated
    if not annotations:
        return
    bound = {
        name: _bound(text, home, public) if isinstance(text, str) else text
        for name, text in annotations.items()
    }
    if bound != annotations:
        cls.__annotations__ = bound


def _bound(text: str, home: str, public: str) -> str | typing.ForwardRef:
    """``text`` itself when ``public`` reads it alike, else a ForwardRef bound to ``home``.

    Remembered per (text, home, public): the same few dozen texts recur across the
    classes, and a ForwardRef (immutable once made) can be shared by them.
    """
    key = (text, home, public)
    known = _BOUND.get(key)
    if known is None:
        if _reads_alike(text, vars(sys.modules[home]), vars(sys.modules[public])):
            known = text
        else:
            known = typing.ForwardRef(text, is_argument=False, module=home, is_class=True)
        _BOUND[key] = known
    return known


def _reads_alike(text: str, home: dict[str, Any], public: dict[str, Any]) -> bool:
    """True when every name in ``text`` is the same object in both namespaces."""
    for name in _IDENTIFIER.findall(text):
        here, there = home.get(name, _MISSING), public.get(name, _MISSING)
        if here is _MISSING and there is _MISSING and hasattr(builtins, name):
            continue
        if here is _MISSING or here is not there:
            return False
    return True
