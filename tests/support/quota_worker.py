"""A separate OS process sharing one Redis quota or dedupe store (multi-process tests).

    python -m tests.support.quota_worker quota URL API_KEY RATE PRIORITY SECONDS CONCURRENCY [GAP]
    python -m tests.support.quota_worker dedupe URL API_KEY FIRST COUNT
    python -m tests.support.quota_worker session CLIENT_ID START_AT

``session`` (credentials, base URL and ``IDENFY_REDIS_URL`` from the environment)
waits until the wall-clock instant START_AT, calls ``create_session`` once with
``single_session=True`` and prints ``[scanRef]``: a user's double click on two workers.

It prints ``ready``, waits for a line on stdin (so every process starts at once),
runs, and prints one JSON line: for ``quota`` each grant as ``[slot, at, took,
waited]`` (the server's slot, this machine's ``time.time()`` when it returned, the
seconds the call took, the seconds the server said to wait); for ``dedupe`` the keys
it claimed. With ``GAP``, each task pauses that many seconds between acquisitions
(an interactive user, not a saturating job).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from idenfy_async import coordination
from idenfy_async.errors import CoordinationError


async def _quota(args: list[str]) -> list[Any]:
    url, api_key, rate, priority, seconds, concurrency = args[:6]
    gap = float(args[6]) if len(args) > 6 else 0.0
    assert priority in ("interactive", "bulk")
    redis = coordination.connect(url)
    quota = coordination.RedisQuota(redis, api_key, rate, fallback_share=None)
    grants: list[Any] = []
    _go()
    stop = time.monotonic() + float(seconds)

    async def work() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            grant = await quota.take("bulk" if priority == "bulk" else "interactive")
            grants.append([grant.slot, time.time(), time.monotonic() - started, grant.waited])
            if gap:
                await asyncio.sleep(gap)

    try:
        await asyncio.gather(*(work() for _ in range(int(concurrency))))
    finally:
        await redis.aclose()
    return grants


async def _dedupe(args: list[str]) -> list[Any]:
    url, api_key, first, count = args[:4]
    redis = coordination.connect(url)
    store = coordination.RedisDedupeStore(redis, api_key)
    keys = [f"scan-{i}|IDENTIFICATION|1|APPROVED" for i in range(int(first), int(count))]
    slots = asyncio.Semaphore(8)  # like a few webhook handlers at once, per process

    async def claim(key: str) -> bool:
        async with slots:
            try:
                return await store.claim(key)
            except CoordinationError as exc:
                if exc.reason != "in progress elsewhere":
                    raise
                return False  # the other process holds it

    _go()
    try:
        results = await asyncio.gather(*(claim(k) for k in keys))
    finally:
        await redis.aclose()
    return [k for k, mine in zip(keys, results, strict=True) if mine]


async def _session(args: list[str]) -> list[Any]:
    from idenfy_async import AsyncIdenfy

    client_id, start_at = args[0], float(args[1])
    async with AsyncIdenfy(single_session=True) as client:
        await asyncio.sleep(max(0.0, start_at - time.time()))  # both at the same instant
        session = await client.create_session(client_id=client_id)
    return [session.scan_ref]


def _go() -> None:
    print("ready", flush=True)  # noqa: T201 - the protocol with the parent
    sys.stdin.readline()


def main() -> None:
    mode, *args = sys.argv[1:]
    run = {"quota": _quota, "dedupe": _dedupe, "session": _session}[mode]
    result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
