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
from typing import Any, Generic, Protocol, TypeVar

import attrs

from .. import errors
from .._wire import sessions as _sansio
from .._wire.common import RequestSpec
from ..models import VerificationSummary

__all__ = ["Listing", "ListingPage", "Page", "VerificationListing", "parse_page"]

ItemT = TypeVar("ItemT")
PageT = TypeVar("PageT", bound="Page[Any]")
AnswerT = TypeVar("AnswerT", bound="PageAnswer[Any]")
ItemT_co = TypeVar("ItemT_co", covariant=True)

#: Fetches one page: the client's request verb, with the listing's options and priority.
FetchPage = Callable[[_sansio.RequestSpec], Awaitable[_sansio.VerificationPage]]


class PageAnswer(Protocol[ItemT_co]):
    """A listing page as the wire reads it: its rows and iDenfy's total."""

    @property
    def results(self) -> tuple[ItemT_co, ...]: ...

    @property
    def count(self) -> int | None: ...


def parse_page(status: int, headers: Mapping[str, str], content: bytes) -> _sansio.VerificationPage:
    """A listing page's answer, as the request verb's parser."""
    return _sansio.parse_list_page(status, content)


@attrs.frozen(kw_only=True)
class Page(Generic[ItemT]):
    """One page of a listing: ``items`` are its rows; ``count`` is the total iDenfy
    reports for the whole listing (None when it sends none); ``number`` is this page's
    number: ``listing.page(number)`` fetches it again, from any process, later."""

    items: tuple[ItemT, ...]
    count: int | None
    number: int
    per_page: int
    _next_spec: RequestSpec | None = attrs.field(alias="next_spec", repr=False, eq=False)
    _listing: Listing[ItemT, Any, Any] = attrs.field(alias="listing", repr=False, eq=False)

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one (iDenfy names one and this page is not empty)."""
        return self._next_spec is not None

    async def next_page(self: PageT) -> PageT | None:
        """The page after this one, or None when this is the last.

        A ``next`` link is followed only on the client's own origin; otherwise the
        next page is asked for by number.

        Raises:
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        if self._next_spec is None:
            return None
        following: PageT = await self._listing._fetch(self._next_spec, self.number + 1)
        return following


class Listing(AsyncIterator[ItemT], Generic[ItemT, PageT, AnswerT]):
    """What a listing endpoint returns: ``async for`` gives every row of every page,
    each page fetched when the previous one is used up (once: iterate a new listing to
    start again). One page at a time: ``page = await listing.first_page()``, then
    ``await page.next_page()`` until it is None; ``await listing.page(n)`` resumes at
    page ``n`` (a ``page.number`` kept from earlier), ``listing.pages(start=n)``
    iterates pages from there. Nothing is sent before one of these is used.

    A subclass says how a page is asked for (``_spec``), how the next one is found
    (``_next_spec``) and which page class it makes (``_page_class``).
    """

    _page_class: type[PageT]
    _path: str  #: the listing's path, for errors

    def __init__(
        self,
        fetch: Callable[[RequestSpec], Awaitable[AnswerT]],
        *,
        base_url: str,
        per_page: int,
    ) -> None:
        self._spec(1, per_page)  # bad arguments raise here, before any request
        self._fetch_spec = fetch
        self._base_url = base_url
        self._per_page = per_page
        self._items: AsyncGenerator[ItemT, None] | None = None

    def _spec(self, number: int, per_page: int) -> RequestSpec:
        raise NotImplementedError

    def _next_spec(self, answer: AnswerT, number: int) -> RequestSpec | None:
        raise NotImplementedError

    @property
    def per_page(self) -> int:
        """How many rows each page holds at most."""
        return self._per_page

    def __repr__(self) -> str:
        # A filter may name a person: not shown.
        return f"{type(self).__name__}(per_page={self._per_page})"

    async def first_page(self) -> PageT:
        """Page 1 (empty, ``count == 0``, when there is nothing to list).

        Raises:
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        return await self.page(1)

    async def page(self, number: int) -> PageT:
        """Page ``number`` (1 is the first).

        Raises:
            RequestValidationError: ``number`` is not an integer of at least 1; nothing
                was sent.
            NotFoundError: there is no such page (iDenfy answers 404 past the last).
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        return await self._fetch(self._spec(number, self._per_page), number)

    async def pages(self, start: int = 1) -> AsyncIterator[PageT]:
        """Every page from page ``start`` on, each fetched when the previous one is used.

        Raises:
            RequestValidationError: a bad ``start``, before any request.
            ResponseDecodeError: a ``next`` link points to a page already read.
            NotFoundError, APIError, APIConnectionError: as ``page``.
        """
        spec: RequestSpec | None = self._spec(start, self._per_page)
        number = start
        fetched: set[str] = set()
        while spec is not None:
            if spec.path in fetched:
                raise errors.ResponseDecodeError(
                    "the next page link points to a page already read",
                    status_code=200,
                    method=spec.method,
                    path=self._path,
                )
            fetched.add(spec.path)
            page = await self._fetch(spec, number)
            yield page
            spec = page._next_spec
            number += 1

    def __aiter__(self) -> Listing[ItemT, PageT, AnswerT]:
        return self

    async def __anext__(self) -> ItemT:
        if self._items is None:
            self._items = self._every_item()
        return await self._items.__anext__()

    async def aclose(self) -> None:
        """Stop iterating: nothing more is fetched (as an async generator's ``aclose``)."""
        if self._items is not None:
            await self._items.aclose()

    async def _every_item(self) -> AsyncGenerator[ItemT, None]:
        async for page in self.pages():
            for row in page.items:
                yield row

    async def _fetch(self, spec: RequestSpec, number: int) -> PageT:
        answer = await self._fetch_spec(spec)
        return self._page_class(
            items=answer.results,
            count=answer.count,
            number=number,
            per_page=self._per_page,
            next_spec=self._next_spec(answer, number),
            listing=self,
        )


@attrs.frozen(kw_only=True)
class ListingPage(Page[VerificationSummary]):
    """One page of ``GET /kyc/identifications/`` (see [`Page`][idenfy_async.client.Page])."""


class VerificationListing(Listing[VerificationSummary, ListingPage, _sansio.VerificationPage]):
    """Every verification, or those of one clientId: what ``list_verifications`` returns
    (see [`Listing`][idenfy_async.client.Listing])."""

    _page_class = ListingPage
    _path = _sansio.LIST_VERIFICATIONS_PATH

    def __init__(
        self,
        fetch: FetchPage,
        *,
        base_url: str,
        client_id: str | None,
        per_page: int,
    ) -> None:
        self._client_id = client_id
        super().__init__(fetch, base_url=base_url, per_page=per_page)

    @property
    def client_id(self) -> str | None:
        """The clientId listed, or None for every verification of the account."""
        return self._client_id

    def _spec(self, number: int, per_page: int) -> RequestSpec:
        return _sansio.build_list_verifications(self._client_id, page=number, per_page=per_page)

    def _next_spec(self, answer: _sansio.VerificationPage, number: int) -> RequestSpec | None:
        return _sansio.next_page_spec(
            answer,
            base_url=self._base_url,
            client_id=self._client_id,
            page_number=number + 1,
            per_page=self._per_page,
        )
