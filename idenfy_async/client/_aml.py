"""``client.aml``: iDenfy's standalone AML API, checks and monitorings
([`AmlScreening`][idenfy_async.client.AmlScreening]), and the listing of monitorings
([`AmlMonitoringListing`][idenfy_async.client.AmlMonitoringListing], one
[`AmlListingPage`][idenfy_async.client.AmlListingPage] at a time).

Retry: creating a check or a monitoring, and starting a monitoring, may cost money and
iDenfy offers no idempotency key, so they are retried like ``create_session``: only
failures that provably did nothing, unless ``retry_unknown=True``; any other failure
carries ``outcome_unknown=True``. Reads, PDFs, updates, stops and deletes retry every
transient failure.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, Protocol, TypeVar, cast

from .. import errors
from .._send.options import CreateOptions, ReadOptions, RequestOptions, options_from
from .._send.retry import CallKind
from .._send.sender import Parse
from .._wire import aml as wire
from .._wire.sessions import RequestSpec
from ..models import (
    AmlCheck,
    AmlCheckRequest,
    AmlMonitoring,
    AmlMonitoringRequest,
    AmlMonitoringStatus,
    AmlProfile,
    AmlUserType,
)
from ._aml_paging import AmlMonitoringListing
from ._resources import Requester, _Resource
from ._state import DEFAULT_BASE_URL

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

__all__ = ["AmlScreening"]

T = TypeVar("T")


def _empty(status: int, content: bytes) -> None:
    """A 204 answer: nothing to read."""


class _BulkRequester(Protocol):
    """The client's request verb with a bulk run's two extra keywords."""

    def _request(
        self,
        operation: str,
        kind: CallKind,
        spec: RequestSpec,
        parse: Parse[T],
        options: RequestOptions,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
        priority: Literal["interactive", "bulk"] = "interactive",
    ) -> Awaitable[T]: ...


class AmlScreening(_Resource):
    """Screen people and companies against sanctions, PEP and adverse-media lists:
    ``client.aml`` (iDenfy's standalone AML API, same host and credentials as KYC).

    1. [`create_check`][idenfy_async.client.AmlScreening.create_check] screens a subject once
       (billable). iDenfy cannot show a check again: keep the answer, or its ``id``.
    2. [`get_profile`][idenfy_async.client.AmlScreening.get_profile] reads the full profile
       behind a hit; [`check_pdf`][idenfy_async.client.AmlScreening.check_pdf] and
       [`profile_pdf`][idenfy_async.client.AmlScreening.profile_pdf] give reports.
    3. [`create_monitoring`][idenfy_async.client.AmlScreening.create_monitoring] screens a
       subject every day until it expires (billable); changes arrive as the
       ``AML_MONITORING`` webhook ([`AmlMonitoringEvent`][idenfy_async.AmlMonitoringEvent]).
    """

    def __init__(self, requester: Requester, base_url: str = DEFAULT_BASE_URL) -> None:
        """``base_url``: the client's, the only origin a listing's ``next`` link is
        followed on."""
        super().__init__(requester)
        self._base_url = base_url

    async def _pdf(self, operation: str, spec: RequestSpec, options: Mapping[str, object]) -> bytes:
        return await self._requester._request(
            operation, CallKind.READ, spec, wire.parse_pdf, options_from(operation, options)
        )

    # ------------------------------------------------------------------ checks

    async def create_check(
        self, request: AmlCheckRequest, /, **options: Unpack[CreateOptions]
    ) -> AmlCheck:
        """Screen a person or a company once (``POST /aml/checks/``): billable.

        Never re-sent when it may have reached iDenfy unless ``retry_unknown=True``:
        such a failure has ``outcome_unknown=True``, and iDenfy offers no way to find
        out whether the check was made (no read or listing of checks; see the AML page
        of the docs). The answer may come before the screening ran (``checked_at`` None).

        Raises:
            RequestValidationError: ``request`` is not an AmlCheckRequest; nothing was sent.
            APIError: iDenfy refused (no credits, AML not enabled, a bad value).
            APIConnectionError, ResponseDecodeError: as ``create_session``.
        """
        if not isinstance(request, AmlCheckRequest):
            raise errors.RequestValidationError(
                "create_check", [errors.FieldProblem("request", "must be an AmlCheckRequest")]
            )
        return await self._send(
            "create_aml_check",
            CallKind.CREATE,
            wire.build_create_check(request),
            wire.parse_check,
            options,
        )

    async def check_pdf(
        self, check_id: str, *, password: str | None = None, **options: Unpack[ReadOptions]
    ) -> bytes:
        """A check's report as PDF bytes (``POST /aml/checks/{id}/pdf/``), protected
        with ``password`` when given.

        Raises:
            RequestValidationError: ``check_id`` is not a UUID, or an empty password.
            NotFoundError: no such check.
            ResponseDecodeError: the answer is not a PDF.
            APIError, APIConnectionError: as ``get_status``.
        """
        return await self._pdf(
            "aml_check_pdf", wire.build_check_pdf(check_id, password=password), options
        )

    async def get_profile(
        self,
        check_id: str,
        profile_id: str,
        *,
        user_type: str | AmlUserType | None = None,
        **options: Unpack[ReadOptions],
    ) -> AmlProfile:
        """The full profile behind a hit (``GET /aml/checks/{id}/profiles/{profileId}/``).

        ``profile_id`` is the hit's ``resource_id``. Pass the check's ``user_type`` when
        known: iDenfy's answer does not say whether it is a person or a company (without
        it, the shape decides).

        Raises:
            RequestValidationError: a bad id; nothing was sent.
            NotFoundError: no such check or profile.
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        kind = user_type.value if isinstance(user_type, AmlUserType) else user_type
        spec = wire.build_get_profile(check_id, profile_id)

        def parse(status: int, content: bytes) -> AmlProfile:
            return wire.parse_profile(status, content, user_type=kind)

        return await self._send("get_aml_profile", CallKind.READ, spec, parse, options)

    async def profile_pdf(
        self,
        check_id: str,
        profile_id: str,
        *,
        password: str | None = None,
        **options: Unpack[ReadOptions],
    ) -> bytes:
        """A profile's report as PDF bytes (``POST /aml/checks/{id}/profiles/{profileId}/pdf/``).

        Raises:
            RequestValidationError, NotFoundError, ResponseDecodeError: as
                [`check_pdf`][idenfy_async.client.AmlScreening.check_pdf].
        """
        spec = wire.build_profile_pdf(check_id, profile_id, password=password)
        return await self._pdf("aml_profile_pdf", spec, options)

    async def _create_check_in_bulk(
        self,
        request: AmlCheckRequest,
        *,
        retry_unknown: bool,
        before_send: Callable[[], Awaitable[None]] | None,
    ) -> AmlCheck:
        """`create_check` as a bulk run sends it: bulk-priority turns, and ``before_send``
        awaited once right before the first attempt leaves (the run records the row
        ``pending`` there). The requester must be the client (its request verb takes
        these two)."""
        requester = cast(_BulkRequester, self._requester)

        def parse(status: int, headers: Mapping[str, str], content: bytes) -> AmlCheck:
            return wire.parse_check(status, content)

        return await requester._request(
            "create_aml_check",
            CallKind.CREATE,
            wire.build_create_check(request),
            parse,
            RequestOptions(retry_unknown=retry_unknown),
            before_send=before_send,
            priority="bulk",
        )

    # ------------------------------------------------------------------ monitorings

    def list_monitorings(
        self,
        *,
        country: str | None = None,
        created: tuple[Any, Any] | None = None,
        expiration: tuple[Any, Any] | None = None,
        is_expired: bool | None = None,
        name: str | None = None,
        order_by: Iterable[str] | None = None,
        status: str | AmlMonitoringStatus | None = None,
        tags: Iterable[str] | None = None,
        user_type: str | AmlUserType | None = None,
        per_page: int = wire.DEFAULT_AML_PAGE_SIZE,
        **options: Unpack[ReadOptions],
    ) -> AmlMonitoringListing:
        """Every monitoring, or those the filters match (``GET /aml/monitorings/``).

        ``created`` and ``expiration`` are ``(from, to)`` pairs of dates or
        timezone-aware datetimes; ``order_by`` any of ``created``, ``-created``,
        ``expiration``, ``-expiration``; ``tags`` match monitorings carrying them.
        ``async for row in client.aml.list_monitorings(status="ALERT")`` gives every row,
        page after page; ``first_page()``, ``page(n)`` and ``pages()`` one page at a time
        (as [`list_verifications`][idenfy_async.AsyncIdenfy.list_verifications]).

        Raises:
            RequestValidationError: at once, naming each bad filter.
            APIError, APIConnectionError, ResponseDecodeError: while iterating.
        """
        filters = wire.monitoring_filters(
            country=country,
            created=created,
            expiration=expiration,
            is_expired=is_expired,
            name=name,
            order_by=order_by,
            status=status,
            tags=tags,
            user_type=user_type,
        )
        requester = self._requester
        read = options_from("list_aml_monitorings", options)

        def fetch(spec: RequestSpec) -> Awaitable[wire.AmlMonitoringPage]:
            def parse(status: int, headers: Mapping[str, str], content: bytes) -> Any:
                return wire.parse_monitoring_page(status, content)

            return requester._request("list_aml_monitorings", CallKind.READ, spec, parse, read)

        return AmlMonitoringListing(
            fetch, base_url=self._base_url, filters=filters, per_page=per_page
        )

    async def create_monitoring(
        self, request: AmlMonitoringRequest, /, **options: Unpack[CreateOptions]
    ) -> AmlMonitoring:
        """Monitor a person or a company (``POST /aml/monitorings/``): billable.

        Keep the answer's ``id``: the ``AML_MONITORING`` webhook names only it. Retried
        as [`create_check`][idenfy_async.client.AmlScreening.create_check]; an ambiguous
        failure has ``outcome_unknown=True``: look for the subject's name with
        ``list_monitorings(name=...)`` before creating it again.

        Raises:
            RequestValidationError: ``request`` is not an AmlMonitoringRequest.
            APIError, APIConnectionError, ResponseDecodeError: as ``create_session``.
        """
        if not isinstance(request, AmlMonitoringRequest):
            raise errors.RequestValidationError(
                "create_monitoring",
                [errors.FieldProblem("request", "must be an AmlMonitoringRequest")],
            )
        return await self._send(
            "create_aml_monitoring",
            CallKind.CREATE,
            wire.build_create_monitoring(request),
            wire.parse_monitoring,
            options,
        )

    async def get_monitoring(
        self, monitoring_id: str, **options: Unpack[ReadOptions]
    ) -> AmlMonitoring:
        """One monitoring with its check and current hits (``GET /aml/monitorings/{id}/``).

        Raises:
            RequestValidationError: not a UUID. NotFoundError: no such monitoring.
            APIError, APIConnectionError, ResponseDecodeError: as ``get_status``.
        """
        spec = wire.build_get_monitoring(monitoring_id)
        return await self._send(
            "get_aml_monitoring", CallKind.READ, spec, wire.parse_monitoring, options
        )

    async def update_monitoring(
        self,
        monitoring_id: str,
        *,
        is_subscribed: bool | None = None,
        tags: Iterable[str] | None = None,
        **options: Unpack[ReadOptions],
    ) -> AmlMonitoring:
        """Change whether a monitoring renews itself, or its tags (``PATCH``); the fields
        not given are left as they are. Subscribing commits to future (paid) renewals.

        Raises:
            RequestValidationError: neither given, or a bad value; nothing was sent.
            NotFoundError, APIError, APIConnectionError, ResponseDecodeError: as
                [`get_monitoring`][idenfy_async.client.AmlScreening.get_monitoring].
        """
        spec = wire.build_update_monitoring(monitoring_id, is_subscribed=is_subscribed, tags=tags)
        return await self._send(
            "update_aml_monitoring", CallKind.READ, spec, wire.parse_monitoring, options
        )

    async def delete_monitoring(self, monitoring_id: str, **options: Unpack[ReadOptions]) -> None:
        """Delete a monitoring (``DELETE /aml/monitorings/{id}/``).

        Raises:
            NotFoundError: no such monitoring (already deleted, say).
            RequestValidationError, APIError, APIConnectionError: as
                [`get_monitoring`][idenfy_async.client.AmlScreening.get_monitoring].
        """
        spec = wire.build_delete_monitoring(monitoring_id)
        await self._send("delete_aml_monitoring", CallKind.READ, spec, _empty, options)

    async def start_monitoring(
        self, monitoring_id: str, *, comment: str | None = None, **options: Unpack[CreateOptions]
    ) -> AmlMonitoring:
        """Start a stopped monitoring again (``POST /aml/monitorings/{id}/start/``), with an
        optional ``comment`` for the audit trail (1-10,000 characters; never read back).

        Restarting may begin a new paid period, so it is retried as
        [`create_check`][idenfy_async.client.AmlScreening.create_check].

        Raises:
            NotFoundError: no such monitoring.
            RequestValidationError, APIError, APIConnectionError, ResponseDecodeError: as
                [`get_monitoring`][idenfy_async.client.AmlScreening.get_monitoring].
        """
        spec = wire.build_monitoring_action(monitoring_id, "start", comment=comment)
        return await self._send(
            "start_aml_monitoring", CallKind.CREATE, spec, wire.parse_monitoring, options
        )

    async def stop_monitoring(
        self, monitoring_id: str, *, comment: str | None = None, **options: Unpack[ReadOptions]
    ) -> AmlMonitoring:
        """Stop a monitoring (``POST /aml/monitorings/{id}/stop/``): no more rescreens.

        Raises:
            NotFoundError: no such monitoring.
            RequestValidationError, APIError, APIConnectionError, ResponseDecodeError: as
                [`get_monitoring`][idenfy_async.client.AmlScreening.get_monitoring].
        """
        spec = wire.build_monitoring_action(monitoring_id, "stop", comment=comment)
        return await self._send(
            "stop_aml_monitoring", CallKind.READ, spec, wire.parse_monitoring, options
        )

    async def monitoring_pdf(
        self, monitoring_id: str, *, password: str | None = None, **options: Unpack[ReadOptions]
    ) -> bytes:
        """A monitoring's report as PDF bytes (``POST /aml/monitorings/{id}/pdf/``).

        Raises:
            RequestValidationError, NotFoundError, ResponseDecodeError: as
                [`check_pdf`][idenfy_async.client.AmlScreening.check_pdf].
        """
        spec = wire.build_monitoring_pdf(monitoring_id, password=password)
        return await self._pdf("aml_monitoring_pdf", spec, options)

    async def remove_profile(
        self, monitoring_id: str, profile_id: str, **options: Unpack[ReadOptions]
    ) -> None:
        """Remove one hit (by its ``resource_id``) from a monitoring
        (``DELETE /aml/monitorings/{id}/profiles/{profileId}/``), e.g. a false positive.

        Raises:
            NotFoundError: no such monitoring or profile.
            RequestValidationError, APIError, APIConnectionError: as
                [`get_monitoring`][idenfy_async.client.AmlScreening.get_monitoring].
        """
        spec = wire.build_remove_profile(monitoring_id, profile_id)
        await self._send("remove_aml_profile", CallKind.READ, spec, _empty, options)
