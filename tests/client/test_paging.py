"""list_verifications, item by item and page by page, against the fake's own pages:
in-process (FakeIdenfy as the transport) and over TCP (FakeIdenfyServer)."""

from __future__ import annotations

import pytest

from idenfy_async import AsyncIdenfy, NotFoundError, RequestValidationError
from idenfy_async.client import ListingPage, VerificationListing
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer


async def create(client: AsyncIdenfy, count: int, client_id: str = "user-1") -> list[str]:
    return [(await client.create_session(client_id=client_id)).scan_ref for _ in range(count)]


def refs(page: ListingPage) -> list[str]:
    return [summary.scan_ref for summary in page.items]


async def test_every_item_and_every_page_agree(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Five sessions at two per page: async for gives all five; pages 1, 2, 3 give 2, 2, 1,
    each with iDenfy's total, its number and whether another follows; one request a page."""
    created = await create(client, 5)
    await create(client, 1, client_id="someone-else")
    every = [s.scan_ref async for s in client.list_verifications("user-1", per_page=2)]
    assert every == created

    before = fake.requests
    listing = client.list_verifications("user-1", per_page=2)
    assert fake.requests == before  # nothing is sent before a page is asked for
    first = await listing.first_page()
    assert fake.requests == before + 1
    assert (refs(first), first.count, first.number, first.per_page, first.has_next) == (
        created[:2],
        5,
        1,
        2,
        True,
    )
    second = await first.next_page()
    assert second is not None
    assert (refs(second), second.count, second.number, second.has_next) == (
        created[2:4],
        5,
        2,
        True,
    )
    third = await second.next_page()
    assert third is not None
    assert (refs(third), third.number, third.has_next) == (created[4:], 3, False)
    assert await third.next_page() is None
    assert fake.requests == before + 3


async def test_resume_from_a_page_number(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """A page number kept from one listing resumes in a new one: page(n) and pages(start=n)."""
    created = await create(client, 5)
    kept = (await client.list_verifications("user-1", per_page=2).first_page()).number + 1

    again = await client.list_verifications("user-1", per_page=2).page(kept)
    assert (refs(again), again.number, again.count) == (created[2:4], 2, 5)

    pages = [p async for p in client.list_verifications("user-1", per_page=2).pages(start=kept)]
    assert [p.number for p in pages] == [2, 3]
    assert [ref for p in pages for ref in refs(p)] == created[2:]


async def test_an_empty_listing(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """Nothing to list: page 1 is empty with count 0 and no next; async for gives nothing."""
    await create(client, 2, client_id="someone-else")
    page = await client.list_verifications("user-1").first_page()
    assert (page.items, page.count, page.number, page.has_next) == ((), 0, 1, False)
    assert await page.next_page() is None
    assert [s async for s in client.list_verifications("user-1")] == []
    assert [p.number async for p in client.list_verifications("user-1").pages()] == [1]


async def test_a_page_past_the_end_is_not_found(fake: FakeIdenfy, client: AsyncIdenfy) -> None:
    """iDenfy (Django REST framework) answers 404 past the last page: NotFoundError."""
    await create(client, 3)
    with pytest.raises(NotFoundError):
        await client.list_verifications("user-1", per_page=2).page(3)


@pytest.mark.parametrize("number", [0, -1, True, 1.5])
async def test_a_bad_page_number_is_refused_before_sending(
    fake: FakeIdenfy, client: AsyncIdenfy, number: object
) -> None:
    listing = client.list_verifications("user-1")
    before = fake.requests
    with pytest.raises(RequestValidationError) as excinfo:
        await listing.page(number)  # type: ignore[arg-type]
    assert excinfo.value.fields == ("page",)
    with pytest.raises(RequestValidationError):
        [p async for p in listing.pages(start=number)]  # type: ignore[arg-type]
    assert fake.requests == before


async def test_the_listing_is_an_async_iterator_as_before(
    fake: FakeIdenfy, client: AsyncIdenfy
) -> None:
    """anext() and aclose() work as on the async generator it replaced; aclose stops fetching."""
    created = await create(client, 3)
    listing = client.list_verifications("user-1", per_page=1)
    assert isinstance(listing, VerificationListing)
    assert aiter(listing) is listing
    assert (await anext(listing)).scan_ref == created[0]
    before = fake.requests
    await listing.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(listing)
    assert fake.requests == before
    assert "user-1" not in repr(listing)  # a clientId identifies a person


async def test_both_styles_over_tcp() -> None:
    """FakeIdenfyServer on 127.0.0.1: item by item, page by page, a page number resumes,
    an empty listing."""
    server = FakeIdenfyServer(seed=3)
    async with (
        server as base_url,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url) as client,
    ):
        created = await create(client, 3)
        every = [s.scan_ref async for s in client.list_verifications("user-1", per_page=2)]
        first = await client.list_verifications("user-1", per_page=2).first_page()
        second = await first.next_page()
        resumed = await client.list_verifications("user-1", per_page=2).page(2)
        empty = await client.list_verifications("nobody").first_page()
    assert every == created
    assert (refs(first), first.count, first.has_next) == (created[:2], 3, True)
    assert second is not None
    assert (refs(second), second.number, second.has_next) == (created[2:], 2, False)
    assert resumed == second
    assert (empty.items, empty.count, empty.has_next) == ((), 0, False)
