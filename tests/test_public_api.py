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


HEAVY = [
    "aiohttp",
    "sqlite3",
    "idenfy_async.bulk",
    "idenfy_async.bulk.journal",
    "idenfy_async.webhooks",
]
HEAVY += ["idenfy_async.cli", "idenfy_async.testing", "idenfy_async.transports._aiohttp"]
HEAVY += ["idenfy_async.coordination", "redis"]  # only with redis_url or single_session
HEAVY += ["cattrs", "idenfy_async.models", "idenfy_async.client"]  # on first use
HEAVY += [
    "idenfy_async.models._results",
    "idenfy_async.models._events",
    "idenfy_async.models._open_enums",
]  # results
HEAVY += ["idenfy_async.bulk.reconcile"]  # after an ambiguous create
# asyncio (with concurrent.futures, subprocess, signal): imported where a call runs, in
# a loop that loaded it already; a sync webhook receiver never needs it.
HEAVY += ["asyncio", "concurrent.futures", "subprocess"]
HEAVY += ["idenfy_async._send.downloads", "idenfy_async._wire.results"]  # first download/result
# The session models, their field rules and enums: the first request built or answer read.
HEAVY += ["idenfy_async.models", "idenfy_async.models._rules", "idenfy_async.models._checks"]
HEAVY += ["idenfy_async.models._enums", "idenfy_async._wire.session_hooks"]


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


def test_import_loads_nothing_a_call_path_does_not_need() -> None:
    """``import idenfy_async`` (and the client) stay light: optional parts load on first use."""
    code = (
        "import sys, idenfy_async\n"
        "from idenfy_async import AsyncIdenfy\n"
        "from idenfy_async._wire.converter import converter\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], converter._built is None)\n"
    )
    assert _run(code) == "[] True"


def test_a_webhook_receiver_never_loads_asyncio() -> None:
    """A sync Django/Flask view: import webhooks, verify a signature, parse the event."""
    sample = Path(__file__).parent / "samples" / "webhook_approved_go_idenfy_testdata.json"
    code = (
        "import sys\n"
        "from idenfy_async import webhooks\n"
        f"body = open({str(sample)!r}, 'rb').read()\n"
        "webhooks.verify_signature(body, webhooks.sign(body, 'key'), 'key')\n"
        "verified = 'asyncio' in sys.modules\n"
        "event = webhooks.construct_event(body, webhooks.sign(body, 'key'), 'key')\n"
        "print(verified, 'asyncio' in sys.modules, type(event).__name__)\n"
    )
    assert _run(code) == "False False IdentificationEvent"


def test_the_first_create_loads_the_session_models_it_needs() -> None:
    """What ``import idenfy_async`` leaves out, the first create loads (fresh interpreter)."""
    code = (
        "import asyncio, sys, httpx, idenfy_async\n"
        "from idenfy_async import AsyncIdenfy\n"
        "def answer(request):\n"
        "    return httpx.Response(201, json={'authToken': 't', 'scanRef': 's', 'clientId': 'c'})\n"
        "async def main():\n"
        "    async with AsyncIdenfy('k', 's', transport=httpx.MockTransport(answer)) as client:\n"
        "        return await client.create_session(client_id='c')\n"
        "session = asyncio.run(main())\n"
        "from idenfy_async._wire.converter import converter\n"
        "print(type(session) is idenfy_async.Session, repr(idenfy_async.SessionRequest),"
        " [m for m in sys.modules if m.startswith('idenfy_async._result')],"
        " converter._built is None)\n"
    )
    # Neither the results' sans-I/O code nor their converter hooks: a create needs neither.
    assert _run(code) == "True <class 'idenfy_async.SessionRequest'> [] True"


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


def test_lazy_names_load_on_first_use() -> None:
    from idenfy_async import SqliteJournal, create_sessions, verify_signature
    from idenfy_async.bulk import create_sessions as bulk_create_sessions
    from idenfy_async.bulk.journal import SqliteJournal as journal_class
    from idenfy_async.webhooks import verify_signature as webhooks_verify

    assert (SqliteJournal, create_sessions, verify_signature) == (
        journal_class,
        bulk_create_sessions,
        webhooks_verify,
    )
    assert {"SqliteJournal", "create_sessions", "verify_signature"} <= set(dir(idenfy_async))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = idenfy_async.nope


def test_models_serve_results_and_events_on_first_use() -> None:
    """``idenfy_async.models`` serves the result, event and open-enum classes it does not
    load, the same objects as their modules' and the package's."""
    from idenfy_async import models

    assert set(models.LAZY) <= set(models.__all__)
    for name, home in models.LAZY.items():
        value = getattr(models, name)
        assert value is getattr(importlib.import_module(f"idenfy_async.{home}"), name)
        assert value is getattr(idenfy_async, name)
        assert name in dir(models)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = models.nope


# --------------------------------------------------------------------------- __module__


def _exported_values() -> list[tuple[str, object]]:
    """Every name of ``__all__`` and its value (loading the lazy ones)."""
    return [(name, getattr(idenfy_async, name)) for name in idenfy_async.__all__]


def test_exported_classes_and_functions_live_in_the_package() -> None:
    """``idenfy_async.X`` in reprs and tracebacks, as httpx does, lazy names included."""
    elsewhere = [
        (name, value.__module__)
        for name, value in _exported_values()
        if isinstance(value, type | types.FunctionType) and value.__module__ != "idenfy_async"
    ]
    assert elsewhere == []
    assert repr(idenfy_async.Session) == "<class 'idenfy_async.Session'>"
    assert repr(idenfy_async.JournalEntry) == "<class 'idenfy_async.JournalEntry'>"


def test_names_imported_from_their_modules_first_live_in_their_public_home() -> None:
    """Imported straight from their module (the package's lazy name never touched), the
    journal's, webhooks', results', events', open enums', reconciliation's and
    coordination's names still say where they are public."""
    code = (
        "from idenfy_async.bulk.journal import JournalEntry, SqliteJournal\n"
        "from idenfy_async.webhooks import parse_event\n"
        "from idenfy_async.coordination import RedisQuota, SessionRegistry\n"
        "from idenfy_async.models._results import StatusResult\n"
        "from idenfy_async.models import VideoCallEvent\n"
        "from idenfy_async.bulk.reconcile import Reconciliation\n"
        "from idenfy_async.models._open_enums import OverallStatus\n"
        "print(JournalEntry.__module__, SqliteJournal.__module__, parse_event.__module__,"
        " StatusResult.__module__, VideoCallEvent.__module__, Reconciliation.__module__,"
        " OverallStatus.__module__,"
        " RedisQuota.__module__, SessionRegistry.__module__)\n"
    )
    assert _run(code).split() == ["idenfy_async"] * 7 + ["idenfy_async.coordination"] * 2


@pytest.mark.parametrize("module_name", ["idenfy_async.models", "idenfy_async.errors"])
def test_public_classes_of_models_and_errors_name_a_public_module(module_name: str) -> None:
    module = importlib.import_module(module_name)
    homes = {
        getattr(module, name).__module__
        for name in module.__all__
        if isinstance(getattr(module, name), type)
    }
    assert homes <= {"idenfy_async", module_name}


def test_type_hints_resolve_as_in_the_defining_module() -> None:
    """get_type_hints reads string annotations in ``__module__``: every claimed class's
    hints are still the objects its own module means (cattrs and attrs depend on it)."""
    import typing

    import attrs

    from idenfy_async import _public

    for module in ("coordination", "journal", "webhooks"):  # each claims its names
        importlib.import_module(f"idenfy_async.{module}")
    _exported_values()  # and the package's lazy ones
    checked = 0
    for public_name, home in sorted(_public.HOMES.items()):
        public, name = public_name.rsplit(".", 1)
        value = getattr(sys.modules[public], name)
        if not isinstance(value, type):
            continue
        try:
            expected = typing.get_type_hints(value, vars(sys.modules[home]))
        except NameError:  # names imported only for type checkers: as unresolvable as before
            assert not attrs.has(value), public_name  # cattrs must resolve every model
            continue
        assert typing.get_type_hints(value) == expected, public_name
        checked += 1
    assert checked > 60


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
