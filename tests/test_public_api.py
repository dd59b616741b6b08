"""The public surface: __all__ sorted and complete, __version__, py.typed."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import os
import subprocess
import sys
import types
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

import idenfy_async

MODULES = [
    "idenfy_async",
    "idenfy_async.errors",
    "idenfy_async.models",
    "idenfy_async.bulk.reconcile",
    "idenfy_async.testing",
    "idenfy_async.transports",
]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a module defines that do not start with an underscore (submodules excluded)."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if name == "annotations":  # from __future__ import annotations
            continue
        home = getattr(value, "__module__", None)
        # Only names defined in the package (not typing helpers imported for annotations).
        if home is not None and not str(home).startswith("idenfy_async"):
            continue
        names.add(name)
    return names


def test_all_is_sorted() -> None:
    """The package's __all__ is in plain (case-sensitive) sorted order, without duplicates."""
    exported = list(idenfy_async.__all__)
    assert exported == sorted(exported)
    assert len(exported) == len(set(exported))


@pytest.mark.parametrize("module_name", MODULES)
def test_all_names_exist(module_name: str) -> None:
    """Every name in __all__ is an attribute of the module."""
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_package_exports_every_public_name() -> None:
    """Every public class/function/constant of the package namespace is in __all__."""
    assert _public_names(idenfy_async) - set(idenfy_async.__all__) == set()


def test_package_exports_every_error() -> None:
    """Every exception in idenfy_async.errors is importable from the package itself."""
    from idenfy_async import errors

    missing = [name for name in errors.__all__ if name not in idenfy_async.__all__]
    assert missing == []
    for name in errors.__all__:
        assert getattr(idenfy_async, name) is getattr(errors, name)


def test_version_matches_installed_metadata() -> None:
    """__version__ equals the installed distribution's version."""
    assert idenfy_async.__version__ == importlib.metadata.version("idenfy-async")
    assert "__version__" in idenfy_async.__all__


def test_py_typed_is_shipped() -> None:
    """py.typed sits next to the package, and in the installed file list when one exists."""
    assert importlib.resources.files("idenfy_async").joinpath("py.typed").is_file()
    files = importlib.metadata.files("idenfy-async") or []
    package_files = [PurePosixPath(str(f)) for f in files if str(f).startswith("idenfy_async/")]
    if package_files:  # a regular (non-editable) install lists the package's files
        assert PurePosixPath("idenfy_async/py.typed") in package_files


def test_reconciliation_is_exported() -> None:
    """The reconcile module's types are importable from the package itself."""
    from idenfy_async.bulk import reconcile

    exported = {
        "ReconcileOutcome",
        "ReconcilePolicy",
        "ReconcileReason",
        "Reconciliation",
        "VerificationLister",
    }
    assert exported <= set(idenfy_async.__all__)
    for name in exported:
        assert getattr(idenfy_async, name) is getattr(reconcile, name)
    assert callable(idenfy_async.AsyncIdenfy.reconcile_session)


#: Optional dependencies and the parts built on them: loaded only by the call that needs
#: them (the one kind of lazy import the package keeps).
OPTIONAL = [
    "aiohttp",
    "redis",
    "rich",
    "idenfy_async.cli",
    "idenfy_async.testing",
    "idenfy_async.transports._aiohttp",
    "idenfy_async.coordination",
]


def _run(code: str) -> str:
    """What a fresh interpreter (this checkout first on its path) prints running ``code``."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_loads_no_optional_dependency() -> None:
    """``import idenfy_async`` loads none of them (beyond what ``import httpx`` loads:
    httpx's own command line may bring rich)."""
    code = (
        "import sys, httpx\nbefore = set(sys.modules)\nimport idenfy_async\n"
        f"print([m for m in {OPTIONAL!r} if m in sys.modules and m not in before])"
    )
    assert _run(code) == "[]"


def test_cattrs_loads_on_the_first_conversion_not_at_import() -> None:
    """cattrs and the converter's hooks are a sixth of the import (the import-time
    floor); they load when a body is first converted, and then convert."""
    code = (
        "import sys\nimport idenfy_async\nfrom idenfy_async._wire import converter\n"
        "print('cattrs' in sys.modules, converter.converter.cache_info().currsize)\n"
        "body = converter.session_request_to_wire(idenfy_async.SessionRequest('c1'))\n"
        "print('cattrs' in sys.modules, body)"
    )
    assert _run(code).splitlines() == ["False 0", "True {'clientId': 'c1'}"]


def test_default_sleep_is_asyncio_sleep_resolved_when_built() -> None:
    """``sleep=None`` (the default) still means asyncio.sleep, for the policy and limiter."""
    import asyncio

    from idenfy_async import RateLimiter, RetryPolicy

    assert RetryPolicy().sleep is asyncio.sleep
    assert RetryPolicy(sleep=None).sleep is asyncio.sleep
    assert RetryPolicy(sleep=None) == RetryPolicy()

    async def sleep(seconds: float) -> None:
        return None

    assert RetryPolicy(sleep=sleep).sleep is sleep
    limiter = RateLimiter("1/s", sleep=None)
    assert limiter._sleep is asyncio.sleep
    assert RateLimiter("1/s", sleep=sleep)._sleep is sleep


def test_type_hints_of_every_exported_class_resolve() -> None:
    """Annotations are read in the module that wrote them (``__module__`` is the defining
    module): ``typing.get_type_hints`` resolves every exported class, as cattrs needs."""
    import typing

    import attrs

    checked = 0
    for name in idenfy_async.__all__:
        value = getattr(idenfy_async, name)
        if isinstance(value, type) and attrs.has(value):
            assert typing.get_type_hints(value), name
            checked += 1
    assert checked > 30


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(
            lambda: idenfy_async.Session(auth_token="t", scan_ref="s", client_id="c"), id="model"
        ),
        pytest.param(lambda: idenfy_async.DocumentType.PASSPORT, id="enum"),
        pytest.param(
            lambda: idenfy_async.JournalEntry(
                client_id="c", state=idenfy_async.JournalState.PENDING
            ),
            id="lazy-model",
        ),
        pytest.param(lambda: idenfy_async.ConfigurationError("no API key"), id="error"),
        pytest.param(
            lambda: idenfy_async.models.FileUrls({"FRONT": "https://example.com/f"}),
            id="lazy-result",
        ),
    ],
)
def test_pickling_still_round_trips(value: Any) -> None:
    import pickle

    original = value()
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is type(original)
    assert (
        (copy == original) if not isinstance(original, Exception) else (str(copy) == str(original))
    )
