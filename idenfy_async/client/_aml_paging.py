"""The listing of AML monitorings (``client.aml.list_monitorings``) and its pages: the
shape of [`VerificationListing`][idenfy_async.client.VerificationListing], over
``GET /aml/monitorings/``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import attrs

from .._wire import aml as wire
from .._wire.common import RequestSpec
from ..models import AmlMonitoringSummary
from ._paging import Listing, Page

__all__ = ["AmlListingPage", "AmlMonitoringListing", "FetchPage"]

#: Fetches one page of monitorings through the client's request verb.
FetchPage = Callable[[RequestSpec], Awaitable[wire.AmlMonitoringPage]]


@attrs.frozen(kw_only=True)
class AmlListingPage(Page[AmlMonitoringSummary]):
    """One page of ``GET /aml/monitorings/`` (see [`Page`][idenfy_async.client.Page])."""


class AmlMonitoringListing(Listing[AmlMonitoringSummary, AmlListingPage, wire.AmlMonitoringPage]):
    """What ``client.aml.list_monitorings`` returns, with the documented filters (see
    [`Listing`][idenfy_async.client.Listing])."""

    _page_class = AmlListingPage
    _path = wire.AML_MONITORINGS_PATH

    def __init__(
        self, fetch: FetchPage, *, base_url: str, filters: Mapping[str, str], per_page: int
    ) -> None:
        self._filters = dict(filters)
        super().__init__(fetch, base_url=base_url, per_page=per_page)

    def _spec(self, number: int, per_page: int) -> RequestSpec:
        return wire.build_list_monitorings(self._filters, page=number, per_page=per_page)

    def _next_spec(self, answer: wire.AmlMonitoringPage, number: int) -> RequestSpec | None:
        return wire.next_monitoring_page(
            answer,
            base_url=self._base_url,
            filters=self._filters,
            page_number=number + 1,
            per_page=self._per_page,
        )
