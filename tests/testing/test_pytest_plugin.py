"""The pytest plugin: its entry point, and its fixtures used by a test suite (pytester)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parent.parent.parent
PLUGIN = "idenfy_async.pytest_plugin"


def _import_every_module() -> None:
    """pytester's in-process runs forget modules first imported inside them: import them
    all now, so that classes keep one identity for the whole session."""
    import idenfy_async

    for module in pkgutil.walk_packages(idenfy_async.__path__, "idenfy_async."):
        if module.name.endswith("__main__"):
            continue  # runs the command line
        with contextlib.suppress(ImportError):  # an optional dependency not installed
            importlib.import_module(module.name)


_import_every_module()


ASYNCIO = ("-o", "asyncio_default_fixture_loop_scope=function", "-p", "no:cacheprovider")


def plugin_args() -> list[str]:
    """``-p`` the plugin unless the installed package already registers it."""
    installed = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if PLUGIN in installed else ["-p", PLUGIN]


def test_the_entry_point_names_the_plugin() -> None:
    # (tomllib is 3.11+; the table is small enough to read as text)
    text = (ROOT / "pyproject.toml").read_text()
    assert f'[project.entry-points.pytest11]\nidenfy_async = "{PLUGIN}"\n' in text


USER_TESTS = """
import time

import pytest
from idenfy_async import AsyncIdenfy
from idenfy_async.testing import Fault


@pytest.fixture
def client():  # the user's own fixture of the same short name is left alone
    return "mine"


def test_own_fixture_untouched(client):
    assert client == "mine"


async def test_create(idenfy_client, idenfy_fake):
    session = await idenfy_client.create_session(client_id="user-1")
    assert idenfy_fake.session(session.scan_ref).client_id == "user-1"


async def test_retries_wait_on_a_virtual_clock(idenfy_client, idenfy_fake):
    idenfy_fake.fail_next(Fault(status=503), Fault(status=503))
    started = time.monotonic()
    await idenfy_client.create_session(client_id="user-2")
    assert time.monotonic() - started < 0.5  # two backoffs of 0.25-1 s each, not waited
    assert idenfy_fake.requests == 3


async def test_each_test_gets_a_new_fake(idenfy_fake):
    assert idenfy_fake.sessions == []


async def test_fake_server(idenfy_fake_server, idenfy_fake):
    assert isinstance(idenfy_fake_server, str)  # as `async with FakeIdenfyServer() as base_url`
    assert idenfy_fake_server.startswith("http://127.0.0.1:")
    async with AsyncIdenfy("test-key", "test-secret", base_url=idenfy_fake_server) as c:
        await c.create_session(client_id="user-3")
    assert [s.client_id for s in idenfy_fake.sessions] == ["user-3"]
"""


def test_the_fixtures_in_a_user_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*plugin_args(), *ASYNCIO, "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=5)


def test_the_fixtures_run_on_the_tests_loop_whatever_the_projects_default(
    pytester: pytest.Pytester,
) -> None:
    """They declare their loop scope: a project whose async fixtures default to the session's
    loop still gets them on the test's own (else the server would never answer)."""
    pytester.makepyfile(
        test_user="""
import asyncio
from idenfy_async import AsyncIdenfy

async def test_server_answers(idenfy_fake_server, idenfy_client):
    options = {"base_url": idenfy_fake_server, "timeout": 5, "max_retries": 0}
    async with AsyncIdenfy("test-key", "test-secret", **options) as client:
        await client.create_session(client_id="user-1")
    await idenfy_client.create_session(client_id="user-2")
"""
    )
    result = pytester.runpytest(
        *plugin_args(),
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=session",
    )
    result.assert_outcomes(passed=1)


def fixture_section() -> str:
    """docs/testing.md's pytest fixtures section (up to the next heading)."""
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    return text.split("\n## pytest fixtures\n", 1)[1].split("\n## ", 1)[0]


def fenced(section: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", section, re.M | re.S)


def test_the_documented_sample_passes_in_a_fresh_project(tmp_path: Path) -> None:
    """The fixtures page's configuration and test module, copied into a new project and run
    by pytest in its own process (the package importable, as once installed): it passes,
    and nothing warns about the event loop scope."""
    section = fixture_section()
    [config] = fenced(section, "toml")
    [module] = fenced(section, "python")
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    (tmp_path / "test_sample.py").write_text(module, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "IDENFY_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "configfile: pyproject.toml" in output, output  # the doc's configuration, alone
    assert re.search(r"\b2 passed\b", output), output
    assert "warnings summary" not in output, output
    assert "PytestDeprecationWarning" not in output, output
    assert "Traceback" not in output, output  # -rA shows what each test logged, teardown too


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*plugin_args(), *ASYNCIO, "--fixtures")
    text = result.stdout.str()
    for name in ("idenfy_fake", "idenfy_client", "idenfy_fake_server"):
        assert name in text
    assert "bound to ``idenfy_fake``" in text


def test_without_pytest_asyncio_only_the_async_fixtures_fail_and_say_why(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a fresh process, with pytest_asyncio shadowed by a module that cannot be
    # imported, and no other plugin (pytest-aiohttp would need pytest_asyncio too).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(pytest_asyncio="raise ImportError('not installed')")
    pytester.makepyfile(
        test_user="""
def test_sync_fixture(idenfy_fake):
    assert idenfy_fake.sessions == []

def test_async_fixture(idenfy_client):
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)  # at set-up, saying what to install
    result.stdout.fnmatch_lines(["*idenfy_client is an async fixture: it needs pytest-asyncio*"])


def test_loading_the_plugin_does_not_import_the_fake() -> None:
    """Every pytest run of a project with the package loads the plugin: it imports no more
    than ``import idenfy_async`` does until a test asks for a fixture."""
    code = (
        "import sys, idenfy_async.pytest_plugin\n"
        "print([m for m in ('idenfy_async.testing',) if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.stdout.strip() == "[]", done.stderr
