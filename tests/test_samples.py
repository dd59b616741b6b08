"""Every Python sample in the README and the documentation runs, against the fake.

A fenced ``python`` block runs as written, as a script, with ``IDENFY_API_KEY`` /
``IDENFY_API_SECRET`` / ``IDENFY_BASE_URL`` pointing at a FakeIdenfyServer on 127.0.0.1 and
a temporary directory as the working directory. An HTML comment on the line before the
fence (invisible once rendered) says otherwise:

* ``<!-- sample: context -->``: a fragment; top-level ``await`` allowed, and what the
  surrounding prose assumes is defined (:func:`context_names`): ``client`` (an open
  AsyncIdenfy), ``fake`` (its FakeIdenfy), ``scan_ref`` (an approved verification there),
  ``user`` (its owner), ``customers``, ``selfie_bytes``, ``send_to_user``, and the files
  ``front.jpg``, ``back.jpg`` and ``bill.pdf`` in the working directory.
* ``<!-- sample: pytest -->``: a pytest module, run by pytest with pytest-asyncio in auto
  mode (as the page says) and this package's pytest plugin.
* ``<!-- sample: skip: REASON -->``: cannot run here, for REASON; it is still compiled, and
  a test file REASON names must exist.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import importlib.metadata
import inspect
import pkgutil
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from idenfy_async import AsyncIdenfy, RetryPolicy
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
DIRECTIVE = re.compile(
    r"<!--\s*sample:\s*(?P<mode>context|pytest|skip)(?::\s*(?P<reason>.*?))?\s*-->"
)
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


@attrs.frozen
class Sample:
    path: Path
    line: int  #: of the opening fence
    mode: str  #: run, context, pytest or skip
    reason: str | None
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def samples_of(path: Path) -> list[Sample]:
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```python":
            index += 1
            continue
        start = index
        directive = DIRECTIVE.fullmatch(lines[start - 1].strip()) if start else None
        end = lines.index("```", start + 1)
        found.append(
            Sample(
                path=path,
                line=start + 1,
                mode=directive["mode"] if directive else "run",
                reason=directive["reason"] if directive else None,
                code="\n".join(lines[start + 1 : end]) + "\n",
            )
        )
        index = end + 1
    return found


SAMPLES = [sample for path in DOCUMENTS for sample in samples_of(path)]


class ThreadedFakeServer:
    """A FakeIdenfyServer on its own event loop in a thread: samples run their own loops."""

    def __init__(self) -> None:
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with FakeIdenfyServer() as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedFakeServer:
        self._thread.start()
        assert self._ready.wait(timeout=10), "the fake server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[ThreadedFakeServer]:
    with ThreadedFakeServer() as server:
        yield server


@pytest.fixture
def sample_env(
    fake_server: ThreadedFakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    monkeypatch.setenv("IDENFY_API_KEY", "test-key")
    monkeypatch.setenv("IDENFY_API_SECRET", "test-secret")
    monkeypatch.setenv("IDENFY_BASE_URL", fake_server.url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compiled(sample: Sample) -> Any:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    return compile(sample.code, sample.id, "exec", flags=flags, dont_inherit=True)


JPEG: Final = b"\xff\xd8\xff\xe0" + bytes(64) + b"\xff\xd9"
PDF: Final = b"%PDF-1.4\n%%EOF\n"


@attrs.frozen
class User:
    """The application's user the samples talk about."""

    id: str
    scan_ref: str
    scan_refs: frozenset[str]


@attrs.frozen
class Customer:
    id: str
    first: str


def context_names(client: AsyncIdenfy, fake: FakeIdenfy, scan_ref: str) -> dict[str, Any]:
    Path("front.jpg").write_bytes(JPEG)
    Path("back.jpg").write_bytes(JPEG)
    Path("bill.pdf").write_bytes(PDF)
    return {
        "client": client,
        "fake": fake,
        "scan_ref": scan_ref,
        "User": User,
        "user": User("user-123", scan_ref, frozenset({scan_ref})),
        "customers": [Customer("c-1", "Ann"), Customer("c-2", "Bob"), Customer("c-3", "Cy")],
        "selfie_bytes": JPEG,
        "send_to_user": lambda url: None,
    }


async def with_context(code: Any, namespace: dict[str, Any]) -> None:
    fake = FakeIdenfy(seed=1)
    policy = RetryPolicy(sleep=_no_wait)
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy) as c:
        session = await c.create_session(client_id="user-123")
        fake.complete(session.scan_ref, "APPROVED")
        namespace.update(context_names(c, fake, session.scan_ref))
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def plugin_args() -> list[str]:
    installed = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if PLUGIN in installed else ["-p", PLUGIN]


def test_samples_were_found() -> None:
    """The parser sees the documentation's samples (a broken parser would test nothing)."""
    assert len(SAMPLES) >= 15
    assert {s.mode for s in SAMPLES} == {"run", "context", "pytest", "skip"}


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.id for s in SAMPLES])
def test_sample_runs(sample: Sample, sample_env: Path, pytester: pytest.Pytester) -> None:
    code = compiled(sample)  # every sample, even a skipped one, must at least compile
    if sample.mode == "skip":
        assert sample.reason is not None
        assert len(sample.reason) > 20, "say why it cannot run"
        for named in re.findall(r"tests/\w+\.py", sample.reason):
            assert (ROOT / named).is_file(), f"{named} named in the reason does not exist"
        return
    if sample.mode == "pytest":
        pytester.makepyfile(test_sample=sample.code)
        result = pytester.runpytest(
            *plugin_args(),
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
        )
        assert result.ret == 0, result.stdout.str()
        assert result.parseoutcomes().get("passed", 0) >= 1
        return
    namespace: dict[str, Any] = {"__name__": "__main__"}
    if sample.mode == "context":
        asyncio.run(with_context(code, namespace))
        return
    result = eval(code, namespace)
    if inspect.iscoroutine(result):  # a script with top-level await
        asyncio.run(result)
