"""Listing verifications page after page (``list_verifications``): a plain async
generator over a function that fetches one page, so the client keeps one thin method.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from .. import errors
from .._wire import sessions as _sansio

if TYPE_CHECKING:
    from ..models._results import VerificationSummary


def parse_page(status: int, headers: Mapping[str, str], content: bytes) -> _sansio.VerificationPage:
    """A listing page's answer, as the request verb's parser."""
    return _sansio.parse_list_page(status, content)


async def verification_pages(
    fetch: Callable[[_sansio.RequestSpec], Awaitable[_sansio.VerificationPage]],
    first: _sansio.RequestSpec,
    *,
    base_url: str,
    client_id: str | None,
    per_page: int,
) -> AsyncIterator[VerificationSummary]:
    """Every summary of every page from ``first`` on, each page fetched when the previous
    one is used up; a ``next`` link is followed only on ``base_url``'s origin.

    Raises:
        ResponseDecodeError: a ``next`` link points to a page already read.
    """
    spec: _sansio.RequestSpec | None = first
    number = 1
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
        page = await fetch(spec)
        for summary in page.results:
            yield summary
        number += 1
        spec = _sansio.next_page_spec(
            page,
            base_url=base_url,
            client_id=client_id,
            page_number=number,
            per_page=per_page,
        )
