"""The one cattrs converter: snake_case <-> camelCase, unset fields omitted.

Built once, with generated hooks (no per-call reflection), the first time it is used:
generating them takes longer than importing httpx would, and ``import idenfy_async``
need not pay for it. The hooks live by what they read or write: the token request and
the created session in ``_session_hooks``, results, webhooks and the KYC answers in
``_result_hooks``. A create uses the session hooks alone (built first, on their own);
:data:`converter` adds the result hooks the first time a result is read. This module
also owns what a wrong shape raises and how it is told (:func:`shape_errors`,
:func:`shape_problem`, :func:`each`): the one place that names cattrs' errors.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, cast

if typing.TYPE_CHECKING:
    import cattrs

    from ..models import Session, SessionRequest

__all__ = [
    "converter",
    "session_request_to_wire",
    "shape_errors",
    "shape_problem",
    "structure_session",
]

#: Wire keys that are not the camelCase of their attribute (iDenfy's upper-case lists).
UPPER_KEYS: Final = {"aml": "AML", "lid": "LID", "criminal_check": "CRIMINAL_CHECK"}


def make_session_converter() -> cattrs.Converter:
    """A converter with the token request's and the created session's hooks: all that
    ``create_session`` needs (used through :func:`session_request_to_wire` and
    :func:`structure_session`)."""
    # cattrs is imported here, not at module level: `import idenfy_async` need not
    # pay for it (about 15 ms) before the first body is built or read. So are the
    # hook modules, which import it too.
    import cattrs

    from .session_hooks import register_session_hooks

    conv = cattrs.Converter()
    register_session_hooks(conv)
    return conv


def make_converter() -> cattrs.Converter:
    """A converter with every model hook registered: the session converter's hooks
    (copied, not generated again) and those of results, webhooks and KYC answers.

    Built apart from the session converter because the result hooks (their models
    and generated code) cost more than the rest of a first ``create_session``
    together: a service's first create does not wait for them.
    """
    from .result_hooks import register_result_hooks

    conv = _session_converter().copy()
    register_result_hooks(conv)
    return conv


@functools.cache
def _session_converter() -> cattrs.Converter:
    return make_session_converter()


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
    from ..models._rules import wire_name

    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if isinstance(name, str):
            return "." + UPPER_KEYS.get(name, wire_name(name))
        index = getattr(note, "index", None)
        if isinstance(index, int):
            return f"[{index}]"
    return ""


def session_request_to_wire(req: SessionRequest) -> dict[str, Any]:
    """The JSON-ready body of a token request."""
    result: dict[str, Any] = _request_hook()(req)
    return result


def structure_session(body: Mapping[str, Any], **fill: Any) -> Session:
    """Structure a token response; raises cattrs errors on a wrong shape.

    ``fill`` supplies wire fields the body lacks (``raw`` stays the body as received).
    """
    hook, session_class = _session_hook()
    session: Session = hook({**body, **fill, "\x00raw": body}, session_class)
    return session


# The session models are imported by the first call that uses them, with the hooks:
# `import idenfy_async` does not load them (see the package's _LAZY); nor does a
# create load the result hooks (see make_converter).
@functools.cache
def _request_hook() -> Callable[[Any], Any]:
    from ..models import SessionRequest

    return _session_converter().get_unstructure_hook(SessionRequest)


@functools.cache
def _session_hook() -> tuple[Callable[[Any, Any], Any], type[Session]]:
    from ..models import Session

    return _session_converter().get_structure_hook(Session), Session


def each(values: Any, hook: Callable[[Any, Any], Any], tp: Any) -> tuple[Any, ...]:
    """Every item through ``hook``; like cattrs' own list hook, every bad item is
    reported (one IterableValidationError), each with its index for :func:`shape_problem`."""
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
