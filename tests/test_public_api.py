"""The public surface: __all__ sorted and complete, __version__, py.typed."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import types
from pathlib import PurePosixPath

import pytest

import idenfy_async

MODULES = [
    "idenfy_async",
    "idenfy_async.errors",
    "idenfy_async.models",
    "idenfy_async.reconcile",
    "idenfy_async.testing",
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
    from idenfy_async import reconcile

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
