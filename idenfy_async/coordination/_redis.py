"""The connection to Redis and the one boundary every call to it crosses.

[`connect`][idenfy_async.coordination.connect] builds a client with bounded timeouts; ``_run``
bounds each call in time and turns Redis and socket failures into
[`CoordinationError`][idenfy_async.CoordinationError];
[`account_namespace`][idenfy_async.coordination.account_namespace] names an account's keys without
ever storing its API key. Everything else in the package builds on these.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigurationError, CoordinationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("idenfy_async")

#: Seconds one Redis call may take, connection included, before it counts as failed.
DEFAULT_OP_TIMEOUT: Final = 0.5
#: Seconds to open a connection to Redis (redis-py 8's default is 5 s, with retries).
DEFAULT_CONNECT_TIMEOUT: Final = 0.5
#: Connections [`connect`][idenfy_async.coordination.connect] opens at most; more calls wait for
#: one.
DEFAULT_MAX_CONNECTIONS: Final = 50
#: Seconds between attempts to reach Redis again while the quota is degraded.
DEFAULT_PROBE_INTERVAL: Final = 5.0
#: First part of every Redis key (then the hash of the API key).
KEY_PREFIX: Final = "idenfy"


def account_namespace(api_key: str, *, prefix: str = KEY_PREFIX) -> str:
    """The hash-tagged key prefix of one account: ``{idenfy:<hash of the key>}``.

    Processes with the same API key share state; the key itself never reaches Redis.
    """
    if not api_key:
        raise ConfigurationError("an API key is needed to name the account's shared state")
    if not prefix or "{" in prefix or "}" in prefix:
        raise ConfigurationError("key_prefix must be non-empty, without braces (the hash tag)")
    digest = hashlib.sha256(b"idenfy-async account\0" + api_key.encode()).hexdigest()
    return "{" + prefix + ":" + digest[:32] + "}"


def connect(
    url: str,
    *,
    op_timeout: float = DEFAULT_OP_TIMEOUT,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> Redis:
    """A ``redis.asyncio.Redis`` for ``url`` with bounded timeouts; ``aclose()`` it.

    Socket and connect timeouts are explicit (redis-py's defaults retry a hung server
    for about a minute); one immediate retry, because ``from_url`` clients get none and
    would fail the first command after the server closed an idle connection. Beyond
    ``max_connections`` calls wait for a free connection (at most ``op_timeout``)
    instead of failing at once. The objects here also bound each call themselves, so
    a client built elsewhere is safe too.
    """
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "Redis support needs the redis package: pip install 'idenfy-async[redis]'"
        ) from exc
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=op_timeout,
            socket_timeout=op_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 1),
        )
    except ValueError:  # never echoed: the URL may hold a password
        raise ConfigurationError(
            "the Redis URL cannot be used: it must look like redis://[:password@]host:port/db"
            " (or rediss://, unix://)"
        ) from None
    client: Redis = Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
    return client


async def _run(operation: str, call: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """The one boundary to Redis: bounded in time, failures as CoordinationError."""
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(timeout):
                return await call()
        return await asyncio.wait_for(call(), timeout)
    except asyncio.TimeoutError as exc:  # builtin TimeoutError from 3.11 on
        raise CoordinationError(operation, "timeout") from exc
    except Exception as exc:
        from redis.exceptions import RedisError

        if isinstance(exc, RedisError | OSError):
            raise CoordinationError(operation, type(exc).__name__) from exc
        raise


def _check_timeout(name: str, value: float) -> float:
    if not value > 0 or value == math.inf:
        raise ConfigurationError(f"{name} must be a positive number of seconds")
    return float(value)
