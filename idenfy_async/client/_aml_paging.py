"""The listing of AML monitorings (``client.aml.list_monitorings``) and its pages: the
shape of [`VerificationListing`][idenfy_async.client.VerificationListing], over
``GET /aml/monitorings/``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping

import attrs

from .. import errors
from .._wire import aml as wire
from .._wire.sessions import RequestSpec
from ..models import AmlMonitoringSummary

__all__ = ["AmlListingPage", "AmlMonitoringListing", "FetchPage"]

#: Fetches one page of monitorings through the client's request verb.
FetchPage = Callable[[RequestSpec], Awaitable[wire.AmlMonitoringPage]]


@attrs.frozen(kw_only=True)
class AmlListingPage:
    """One page of ``GET /aml/monitorings/``: ``items`` (this page's rows), ``count``
    (iDenfy's total for the whole listing, None when not sent), ``number`` (fetch it again
    later with ``listing.page(number)``) and ``per_page``."""

    items: tuple[AmlMonitoringSummary, ...]
    count: int | None
    number: int
    per_page: int
    _next_spec: RequestSpec | None = attrs.field(alias="next_spec", repr=False, eq=False)
    _listing: AmlMonitoringListing = attrs.field(alias="listing", repr=False, eq=False)

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self._next_spec is not None

    async def next_page(self) -> AmlListingPage | None:
        """The page after this one, or None when this is the last.

        Raises:
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        if self._next_spec is None:
            return None
        return await self._listing._fetch(self._next_spec, self.number + 1)


class AmlMonitoringListing(AsyncIterator[AmlMonitoringSummary]):
    """What ``client.aml.list_monitorings`` returns: ``async for`` gives every row, page
    after page; [`first_page`][idenfy_async.client.AmlMonitoringListing.first_page],
    [`page`][idenfy_async.client.AmlMonitoringListing.page] and
    [`pages`][idenfy_async.client.AmlMonitoringListing.pages] one
    [`AmlListingPage`][idenfy_async.client.AmlListingPage] at a time. Nothing is sent before
    one of these is used."""

    def __init__(
        self, fetch: FetchPage, *, base_url: str, filters: Mapping[str, str], per_page: int
    ) -> None:
        wire.build_list_monitorings(filters, page=1, per_page=per_page)  # bad per_page: now
        self._fetch_spec = fetch
        self._base_url = base_url
        self._filters = dict(filters)
        self._per_page = per_page
        self._items: AsyncGenerator[AmlMonitoringSummary, None] | None = None

    @property
    def per_page(self) -> int:
        """How many rows each page holds at most."""
        return self._per_page

    def __repr__(self) -> str:
        return f"AmlMonitoringListing(per_page={self._per_page})"

    async def first_page(self) -> AmlListingPage:
        """Page 1 (empty when nothing matches).

        Raises:
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        return await self.page(1)

    async def page(self, number: int) -> AmlListingPage:
        """Page ``number`` (1 is the first).

        Raises:
            RequestValidationError: ``number`` is not an integer of at least 1.
            NotFoundError: no such page. APIError, APIConnectionError, ResponseDecodeError.
        """
        spec = wire.build_list_monitorings(self._filters, page=number, per_page=self._per_page)
        return await self._fetch(spec, number)

    async def pages(self, start: int = 1) -> AsyncIterator[AmlListingPage]:
        """Every page from page ``start`` on, each fetched when the previous one is used.

        Raises:
            ResponseDecodeError: a ``next`` link points to a page already read.
            RequestValidationError, NotFoundError, APIError, APIConnectionError: as
                [`page`][idenfy_async.client.AmlMonitoringListing.page].
        """
        spec: RequestSpec | None = wire.build_list_monitorings(
            self._filters, page=start, per_page=self._per_page
        )
        number = start
        fetched: set[str] = set()
        while spec is not None:
            if spec.path in fetched:
                raise errors.ResponseDecodeError(
                    "the next page link points to a page already read",
                    status_code=200,
                    method=spec.method,
                    path=wire.AML_MONITORINGS_PATH,
                )
            fetched.add(spec.path)
            page = await self._fetch(spec, number)
            yield page
            spec = page._next_spec
            number += 1

    def __aiter__(self) -> AmlMonitoringListing:
        return self

    async def __anext__(self) -> AmlMonitoringSummary:
        if self._items is None:
            self._items = self._every_item()
        return await self._items.__anext__()

    async def aclose(self) -> None:
        """Stop iterating: nothing more is fetched."""
        if self._items is not None:
            await self._items.aclose()

    async def _every_item(self) -> AsyncGenerator[AmlMonitoringSummary, None]:
        async for page in self.pages():
            for row in page.items:
                yield row

    async def _fetch(self, spec: RequestSpec, number: int) -> AmlListingPage:
        answer = await self._fetch_spec(spec)
        return AmlListingPage(
            items=answer.results,
            count=answer.count,
            number=number,
            per_page=self._per_page,
            next_spec=wire.next_monitoring_page(
                answer,
                base_url=self._base_url,
                filters=self._filters,
                page_number=number + 1,
                per_page=self._per_page,
            ),
            listing=self,
        )
