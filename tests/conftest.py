"""Shared fixtures: sample payloads, a virtual clock, a client bound to FakeIdenfy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from idenfy_async import AsyncIdenfy, RetryPolicy
from idenfy_async.testing import FakeIdenfy
from tests.support.pgserver import own_postgres_server, pg_database, postgres_server
from tests.support.redisserver import own_redis_server, redis_server

# Real redis-server and PostgreSQL fixtures, for every module.
__all__ = [
    "own_postgres_server",
    "own_redis_server",
    "pg_database",
    "postgres_server",
    "redis_server",
]

SAMPLES = Path(__file__).parent / "samples"


def sample_bytes(name: str) -> bytes:
    """The exact bytes of a documented payload in tests/samples/."""
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> Any:
    """A documented payload from tests/samples/, decoded."""
    return json.loads(sample_bytes(name))


class VirtualClock:
    """A monotonic clock that only moves when someone sleeps on it.

    ``sleep`` records each requested delay and advances time by it, then yields to
    the loop once, so nothing really waits and ordering stays realistic.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def _no_shared_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's IDENFY_REDIS_URL, IDENFY_JOURNAL_URL or IDENFY_ALLOW_INSECURE_HTTP
    must not reach tests (nor the CLI they start): tests that share state through Redis
    or PostgreSQL say so."""
    monkeypatch.delenv("IDENFY_REDIS_URL", raising=False)
    monkeypatch.delenv("IDENFY_JOURNAL_URL", raising=False)
    monkeypatch.delenv("IDENFY_ALLOW_INSECURE_HTTP", raising=False)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def policy(clock: VirtualClock) -> RetryPolicy:
    """A retry policy on the virtual clock, with deterministic jitter (random() == 1.0)."""
    return RetryPolicy(clock=clock, sleep=clock.sleep, random=lambda: 1.0, wall_clock=clock)


@pytest.fixture
def fake(clock: VirtualClock) -> FakeIdenfy:
    return FakeIdenfy(seed=7, sleep=clock.sleep)


@pytest.fixture
async def client(fake: FakeIdenfy, policy: RetryPolicy) -> AsyncIterator[AsyncIdenfy]:
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy) as c:
        yield c
