"""The listing of verifications (``list_verifications``) and its pages.

[`VerificationListing`][idenfy_async.client.VerificationListing] is what
``client.list_verifications(...)`` returns: ``async for`` gives every verification, page after page;
[`first_page`][idenfy_async.client.VerificationListing.first_page],
[`page`][idenfy_async.client.VerificationListing.page] and
[`pages`][idenfy_async.client.VerificationListing.pages] give one
[`ListingPage`][idenfy_async.client.ListingPage] at a time, with iDenfy's total ``count`` and the
page ``number`` to resume from later.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping

import attrs

from .. import errors
from .._wire import sessions as _sansio
from ..models import VerificationSummary

__all__ = ["ListingPage", "VerificationListing", "parse_page"]

#: Fetches one page: the client's request verb, with the listing's options and priority.
FetchPage = Callable[[_sansio.RequestSpec], Awaitable[_sansio.VerificationPage]]


def parse_page(status: int, headers: Mapping[str, str], content: bytes) -> _sansio.VerificationPage:
    """A listing page's answer, as the request verb's parser."""
    return _sansio.parse_list_page(status, content)


@attrs.frozen(kw_only=True)
class ListingPage:
    """One page of ``GET /kyc/identifications/``.

    ``items`` are this page's verifications; ``count`` is the total number of
    verifications iDenfy reports for the whole listing (None when it sends none);
    ``number`` is this page's number: ``listing.page(number)`` fetches it again,
    from any process, later.
    """

    items: tuple[VerificationSummary, ...]
    count: int | None
    number: int
    per_page: int
    _next_spec: _sansio.RequestSpec | None = attrs.field(alias="next_spec", repr=False, eq=False)
    _listing: VerificationListing = attrs.field(alias="listing", repr=False, eq=False)

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one (iDenfy names one and this page is not empty)."""
        return self._next_spec is not None

    async def next_page(self) -> ListingPage | None:
        """The page after this one, or None when this is the last.

        A ``next`` link is followed only on the client's own origin; otherwise the
        next page is asked for by number.

        Raises:
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        if self._next_spec is None:
            return None
        return await self._listing._fetch(self._next_spec, self.number + 1)


class VerificationListing(AsyncIterator[VerificationSummary]):
    """Every verification, or those of one clientId: what ``list_verifications`` returns.

    ``async for summary in listing`` gives every verification of every page, each page
    fetched when the previous one is used up (once: iterate a new listing to start
    again). One page at a time: ``page = await listing.first_page()``, then
    ``await page.next_page()`` until it is None; ``await listing.page(n)`` resumes at
    page ``n`` (a ``page.number`` kept from earlier), ``listing.pages(start=n)``
    iterates pages from there. Nothing is sent before one of these is used.
    """

    def __init__(
        self,
        fetch: FetchPage,
        *,
        base_url: str,
        client_id: str | None,
        per_page: int,
    ) -> None:
        # Bad arguments raise here, before any request.
        _sansio.build_list_verifications(client_id, page=1, per_page=per_page)
        self._fetch_spec = fetch
        self._base_url = base_url
        self._client_id = client_id
        self._per_page = per_page
        self._items: AsyncGenerator[VerificationSummary, None] | None = None

    @property
    def client_id(self) -> str | None:
        """The clientId listed, or None for every verification of the account."""
        return self._client_id

    @property
    def per_page(self) -> int:
        """How many verifications each page holds at most."""
        return self._per_page

    def __repr__(self) -> str:
        # The clientId is the caller's identifier of a person: not shown.
        return f"VerificationListing(per_page={self._per_page})"

    async def first_page(self) -> ListingPage:
        """Page 1 (empty, ``count == 0``, when there is nothing to list).

        Raises:
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        return await self.page(1)

    async def page(self, number: int) -> ListingPage:
        """Page ``number`` (1 is the first).

        Raises:
            RequestValidationError: ``number`` is not an integer of at least 1; nothing
                was sent.
            NotFoundError: there is no such page (iDenfy answers 404 past the last).
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        spec = _sansio.build_list_verifications(
            self._client_id, page=number, per_page=self._per_page
        )
        return await self._fetch(spec, number)

    async def pages(self, start: int = 1) -> AsyncIterator[ListingPage]:
        """Every page from page ``start`` on, each fetched when the previous one is used.

        Raises:
            RequestValidationError: a bad ``start``, before any request.
            ResponseDecodeError: a ``next`` link points to a page already read.
            NotFoundError, APIError, APIConnectionError: as
                [`page`][idenfy_async.client.VerificationListing.page].
        """
        spec: _sansio.RequestSpec | None = _sansio.build_list_verifications(
            self._client_id, page=start, per_page=self._per_page
        )
        number = start
        fetched: set[str] = set()
        while spec is not None:
            if spec.path in fetched:
                raise errors.ResponseDecodeError(
                    "the next page link points to a page already read",
                    status_code=200,
                    method=spec.method,
                    path=_sansio.LIST_VERIFICATIONS_PATH,
                )
            fetched.add(spec.path)
            page = await self._fetch(spec, number)
            yield page
            spec = page._next_spec
            number += 1

    def __aiter__(self) -> VerificationListing:
        return self

    async def __anext__(self) -> VerificationSummary:
        if self._items is None:
            self._items = self._every_item()
        return await self._items.__anext__()

    async def aclose(self) -> None:
        """Stop iterating: nothing more is fetched (as an async generator's ``aclose``)."""
        if self._items is not None:
            await self._items.aclose()

    async def _every_item(self) -> AsyncGenerator[VerificationSummary, None]:
        async for page in self.pages():
            for summary in page.items:
                yield summary

    async def _fetch(self, spec: _sansio.RequestSpec, number: int) -> ListingPage:
        answer = await self._fetch_spec(spec)
        return ListingPage(
            items=answer.results,
            count=answer.count,
            number=number,
            per_page=self._per_page,
            next_spec=_sansio.next_page_spec(
                answer,
                base_url=self._base_url,
                client_id=self._client_id,
                page_number=number + 1,
                per_page=self._per_page,
            ),
            listing=self,
        )
