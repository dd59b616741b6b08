"""The fault server itself: each scripted action does to a real client what it says."""

from __future__ import annotations

import httpx
import pytest

from idenfy_async import APIConnectionError, AsyncIdenfy, RetryPolicy
from tests.support.faultserver import (
    CloseAfterRead,
    CloseBeforeRead,
    FaultServer,
    Partial,
    ResetAfterRead,
    Respond,
    Trickle,
    refused_base_url,
    token_body,
)


async def test_default_answer_is_a_token_and_keeps_the_connection() -> None:
    async with FaultServer() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        for n in range(3):
            response = await http.post("/api/v2/token", json={"clientId": f"u{n}"})
            assert response.status_code == 201
            assert response.json()["scanRef"] == f"scan-u{n}"
    assert (server.count("POST", "/api/v2/token"), server.connections) == (3, 1)


async def test_scripted_answers_are_used_in_order_then_the_default() -> None:
    async with FaultServer() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        server.script(Respond(503, b"{}"), Trickle(201, token_body("x"), interval=0.001, chunk=7))
        statuses = [(await http.post("/api/v2/token", json={})).status_code for _ in range(3)]
        assert statuses == [503, 201, 201]


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (CloseAfterRead(), httpx.RemoteProtocolError),
        (ResetAfterRead(), httpx.ReadError),
        (Partial(201, token_body("x"), sent=10), httpx.RemoteProtocolError),
    ],
)
async def test_faults_after_the_request_was_read(action: object, error: type[Exception]) -> None:
    async with FaultServer() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        server.script(action)  # type: ignore[arg-type]
        with pytest.raises(error):
            await http.post("/api/v2/token", json={"clientId": "x"})
        assert server.count() == 1  # the request was read whole before the fault


async def test_close_before_read_leaves_the_request_unread() -> None:
    async with FaultServer() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        server.script(CloseBeforeRead())
        with pytest.raises(httpx.TransportError):
            await http.post("/api/v2/token", json={"clientId": "x"})
        assert server.count() == 0


async def test_refused_url_is_never_sent() -> None:
    policy = RetryPolicy(max_retries=0)
    async with AsyncIdenfy("k", "s", base_url=refused_base_url(), retry_policy=policy) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_session(client_id="user-1")
    assert caught.value.request_sent is False
    assert caught.value.outcome_unknown is False
