"""What a queued call keeps alive: with hundreds of calls gathered, every object each
waiting call holds is walked by the garbage collector, again and again (at 256 calls
in flight that was the largest cost of a ``create_session``; issue 10)."""

from __future__ import annotations

import asyncio
import gc

import httpx

from idenfy_async import AsyncIdenfy
from tests.faultserver import token_body

QUEUED = 200
#: Objects the garbage collector tracks per queued create_session, its task and the
#: caller's coroutine included: 37 now; 53 while a call's state lived in closures
#: (a cell per shared variable) and two more coroutine layers waited with it.
MAX_TRACKED_PER_QUEUED_CALL = 40


async def test_a_queued_create_holds_few_objects() -> None:
    gate = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(201, content=token_body("u"))

    async with AsyncIdenfy(
        "k", "s", max_concurrency=1, transport=httpx.MockTransport(answer)
    ) as client:
        gc.collect()
        before = len(gc.get_objects())
        tasks = [asyncio.create_task(client.create_session(client_id="u")) for _ in range(QUEUED)]
        for _ in range(5):
            await asyncio.sleep(0)  # every call has reached its queue
        per_call = (len(gc.get_objects()) - before) / QUEUED
        gate.set()
        sessions = await asyncio.gather(*tasks)
    assert {s.scan_ref for s in sessions} == {"scan-u"}
    assert per_call <= MAX_TRACKED_PER_QUEUED_CALL, per_call
