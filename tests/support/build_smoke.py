"""What ``nox -s build`` checks in a fresh venv holding the built wheel, one part at a time.

``python build_smoke.py base|cli|pytest|redis|aiohttp``, run outside the repository (so that the
installed package is imported, not the source tree), after installing the wheel with
that extra. Not a pytest module: the test suite runs against the source tree.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

PLUGIN_TESTS = """
from idenfy_async.testing import Fault

async def test_fixtures(idenfy_client, idenfy_fake):
    idenfy_fake.fail_next(Fault(status=503))
    session = await idenfy_client.create_session(client_id="user-1")
    assert idenfy_fake.session(session.scan_ref).client_id == "user-1"

async def test_server(idenfy_fake_server):
    assert idenfy_fake_server.startswith("http://127.0.0.1:")  # the base URL
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def base() -> None:
    import idenfy_async
    from idenfy_async import cli

    where = Path(idenfy_async.__file__).resolve()
    assert "site-packages" in where.parts, f"imported from {where}, not the wheel"
    assert (where.parent / "py.typed").is_file(), "py.typed is not shipped"
    rows = [json.loads(line) for line in Path("results.jsonl").read_text().splitlines()]
    assert len(rows) == 25, rows
    assert {row["status"] for row in rows} == {"created"}, rows
    plugins = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert "idenfy_async.pytest_plugin" in plugins, plugins
    assert importlib.util.find_spec("rich") is None, "rich came without the [cli] extra"
    assert isinstance(cli._progress_for(Terminal(), 1), cli._Progress)


def cli_extra() -> None:
    from idenfy_async import cli

    assert isinstance(cli._progress_for(Terminal(), 1), cli._RichProgress)


def pytest_extra() -> None:
    Path("test_plugin_smoke.py").write_text(PLUGIN_TESTS)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"]
    subprocess.run([*command, "test_plugin_smoke.py"], check=True)


def redis_extra() -> None:
    from idenfy_async import coordination

    assert importlib.util.find_spec("redis") is not None
    assert callable(coordination.connect)


def aiohttp_extra() -> None:
    import asyncio

    from idenfy_async import AsyncIdenfy
    from idenfy_async.testing import FakeIdenfyServer

    async def run() -> str | None:
        async with (
            FakeIdenfyServer() as base_url,
            AsyncIdenfy("test-key", "test-secret", base_url=base_url, http_backend="aiohttp") as c,
        ):
            return (await c.create_session(client_id="user-1")).client_id

    assert asyncio.run(run()) == "user-1"


PARTS = {
    "base": base,
    "cli": cli_extra,
    "pytest": pytest_extra,
    "redis": redis_extra,
    "aiohttp": aiohttp_extra,
}

if __name__ == "__main__":
    PARTS[sys.argv[1]]()
    sys.stdout.write(f"build smoke: {sys.argv[1]} ok\n")
