"""Typed uses of the client's public API, checked by mypy --strict (and pyright).

Each line here must type-check as written: the keywords of ``create_session`` are
``SessionFields``, the per-call options ``ReadOptions``/``CreateOptions``, and a
wrapper can be typed with the exported ``NotGiven``, ``OnRetry`` and
``RequestOptions``. The functions also run, against the fake.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

import httpx

from idenfy_async import (
    NOT_GIVEN,
    AsyncIdenfy,
    DocumentType,
    NotGiven,
    OnRetry,
    Pacer,
    RateLimiter,
    RequestOptions,
    RetryDetails,
    RetryPolicy,
    Session,
    SessionFields,
    StatusResult,
    VerificationSummary,
    to_dict,
    to_wire,
)
from idenfy_async.client import ListingPage
from idenfy_async.testing import FakeIdenfy

if sys.version_info >= (3, 11):
    from typing import Unpack, assert_type
else:
    from typing_extensions import Unpack, assert_type


async def get_status_quickly(
    client: AsyncIdenfy, scan_ref: str, timeout: float | NotGiven = NOT_GIVEN
) -> StatusResult:
    """A wrapper typed with the exported NotGiven, passing an option through."""
    return await client.get_status(scan_ref, timeout=timeout, max_retries=0)


async def create_for(client: AsyncIdenfy, **fields: Unpack[SessionFields]) -> Session:
    """A wrapper forwarding create_session's typed keywords."""
    return await client.create_session(**fields)


async def test_typed_calls() -> None:
    log: OnRetry = print
    pacer: Pacer = RateLimiter("100/s")
    policy = RetryPolicy(retry_unknown=False)
    async with AsyncIdenfy(
        "k",
        "s",
        transport=FakeIdenfy("k", "s"),
        on_retry=log,
        rate_limit=pacer,
        retry_policy=policy,
    ) as client:
        session = await client.create_session(
            client_id="user-1",
            first_name="John",
            date_of_birth=datetime.date(1990, 1, 2),
            documents=[DocumentType.PASSPORT],
            expiry_time=3600,
            retry_unknown=False,
            timeout=httpx.Timeout(10.0),
        )
        assert_type(session, Session)
        quick = client.with_options(timeout=5.0, max_retries=1, retry_unknown=False)
        assert_type(quick, AsyncIdenfy)
        status = await get_status_quickly(quick, session.scan_ref, timeout=2.0)
        assert_type(status, StatusResult)
        again = await create_for(client, client_id="user-2", locale="en")
        assert again.client_id == "user-2"
        options = RequestOptions(timeout=3.0).merged(RequestOptions(max_retries=2))
        assert options.max_retries == 2
        page = await client.list_verifications("user-1", per_page=1).first_page()
        assert_type(page, ListingPage)
        assert_type(page.items, tuple[VerificationSummary, ...])
        assert_type(await page.next_page(), ListingPage | None)
        every = [summary async for summary in client.list_verifications("user-1")]
        assert_type(every, list[VerificationSummary])
        assert_type(to_dict(session), dict[str, Any])
        assert_type(to_wire(status), dict[str, Any])


def test_retry_details_type() -> None:
    seen: list[RetryDetails] = []
    hook: OnRetry = seen.append
    assert callable(hook)
