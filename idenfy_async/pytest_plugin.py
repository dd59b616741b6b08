"""pytest fixtures for code that uses idenfy-async: a fake iDenfy and a client bound to it.

Installed with the package (entry point ``pytest11``), so the fixtures are there in any
test suite; the async ones need pytest-asyncio (``pip install "idenfy-async[pytest]"``)::

    async def test_signup(idenfy_client, idenfy_fake):
        session = await idenfy_client.create_session(client_id="user-1")
        assert idenfy_fake.session(session.scan_ref).client_id == "user-1"

* ``idenfy_fake``: a new [`FakeIdenfy`][idenfy_async.testing.FakeIdenfy] per test.
* ``idenfy_client``: an open [`AsyncIdenfy`][idenfy_async.AsyncIdenfy] whose transport is
  ``idenfy_fake``; its retries wait on a virtual clock, so a scripted 503 costs no time.
* ``idenfy_fake_server``: the base URL (a ``str``, ``http://127.0.0.1:PORT``) where
  ``idenfy_fake`` is served over HTTP, as ``async with FakeIdenfyServer() as base_url``
  gives it, for code that cannot take a transport: ``base_url=``, a subprocess,
  another language, ``IDENFY_BASE_URL``.

The async fixtures declare their event loop scope (``function``, each test's own loop,
pytest-asyncio's default for tests): they do not depend on the project's
``asyncio_default_fixture_loop_scope``. The tests themselves need pytest-asyncio's
``asyncio_mode = "auto"`` or a ``@pytest.mark.asyncio`` each.

The names start with ``idenfy_`` so that they do not shadow your own ``client`` or
``fake`` fixtures. Disable the plugin with ``-p no:idenfy_async``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Final

import pytest

# The plugin loads with every pytest run of a project that installed the package: the
# fake (and what it needs) is imported only when a test asks for a fixture.
if TYPE_CHECKING:
    from . import AsyncIdenfy
    from .testing import FakeIdenfy

__all__ = ["VirtualClock", "idenfy_client", "idenfy_fake", "idenfy_fake_server"]

#: The event loop the async fixtures run on: each test's own (pytest-asyncio's default for
#: tests), whatever ``asyncio_default_fixture_loop_scope`` the project sets.
LOOP_SCOPE: Final = "function"
_NEEDS_ASYNCIO: Final = (
    '{name} is an async fixture: it needs pytest-asyncio (pip install "idenfy-async[pytest]")'
)


class VirtualClock:
    """Monotonic seconds that pass only when someone sleeps on them (no real waiting)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now: float = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.fixture
def idenfy_fake() -> FakeIdenfy:
    """A new FakeIdenfy, accepting ``test-key`` / ``test-secret``."""
    from .testing import FakeIdenfy

    return FakeIdenfy()


def _async_fixture(name: str, function: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
    """``function`` as a pytest-asyncio fixture, or, without pytest-asyncio, a fixture
    that fails the test with what to install (never an error for every other test)."""
    try:
        import pytest_asyncio
    except ImportError:

        def missing() -> None:
            pytest.fail(_NEEDS_ASYNCIO.format(name=name), pytrace=False)

        missing.__doc__ = function.__doc__
        return pytest.fixture(name=name)(missing)
    return pytest_asyncio.fixture(name=name, loop_scope=LOOP_SCOPE)(function)


async def _client(idenfy_fake: FakeIdenfy) -> AsyncIterator[AsyncIdenfy]:
    """An open AsyncIdenfy bound to ``idenfy_fake``; retries wait on a virtual clock."""
    from . import AsyncIdenfy, RetryPolicy
    from .testing import DEFAULT_API_KEY, DEFAULT_API_SECRET

    clock = VirtualClock()
    policy = RetryPolicy(clock=clock, sleep=clock.sleep)
    async with AsyncIdenfy(
        DEFAULT_API_KEY, DEFAULT_API_SECRET, transport=idenfy_fake, retry_policy=policy
    ) as client:
        yield client


async def _server(idenfy_fake: FakeIdenfy) -> AsyncIterator[str]:
    """The base URL (``http://127.0.0.1:PORT``, a free port) where ``idenfy_fake`` is served."""
    from .testing import FakeIdenfyServer

    async with FakeIdenfyServer(idenfy_fake) as base_url:
        yield base_url


idenfy_client: Callable[..., Any] = _async_fixture("idenfy_client", _client)
idenfy_fake_server: Callable[..., Any] = _async_fixture("idenfy_fake_server", _server)
