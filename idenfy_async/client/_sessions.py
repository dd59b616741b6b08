"""The client's session calls: creating sessions (one, or one per clientId with the
open-session registry), the registry's webhook and dedupe helpers, and reconciling
an ambiguous create.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import (
    Awaitable,
    Callable,
    Mapping,
)
from typing import TYPE_CHECKING, TypeVar

import httpx

from .._send.options import NOT_GIVEN, NotGiven, RequestOptions, given_options
from .._send.retry import CallKind
from .._wire import sessions as _sansio
from ._base import ClientBase

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

if TYPE_CHECKING:
    from .. import coordination
    from ..models import Session, SessionRequest  # loaded by the first create (see _converter)
    from ..models._events import WebhookEvent  # loaded on first use (models.LAZY)
    from ..models._fields import SessionFields

T = TypeVar("T")


class SessionCalls(ClientBase):
    """``create_session`` and the open-session registry (of :class:`~idenfy_async.AsyncIdenfy`)."""

    async def create_session(
        self,
        request: SessionRequest | None = None,
        /,
        *,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry_deadline: float | NotGiven | None = NOT_GIVEN,
        retry_unknown: bool | NotGiven = NOT_GIVEN,
        timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN,
        before_send: Callable[[], Awaitable[None]] | None = None,
        **fields: Unpack[SessionFields],
    ) -> Session:
        """Create a verification session (``POST /api/v2/token``).

        Pass a :class:`SessionRequest`, or its fields as keywords
        (``create_session(client_id="user-123", first_name="John")``; typed by
        ``SessionFields``: a type checker catches a misspelt field or a wrong type).

        Only failures that provably created no session are retried unless
        ``retry_unknown=True``; an error that may hide a created session has
        ``ambiguous=True``. ``before_send`` is awaited once, right before the first
        attempt leaves: after its rate-limit token and concurrency slot are taken and
        any shared cooldown has passed (bulk runs record a row ``pending`` there). If it
        raises, nothing is sent and its exception propagates.

        With ``single_session=True`` (or in a bulk run with ``redis_url``) the
        clientId's open session is returned instead of creating another, for the
        same request (see :class:`~idenfy_async.coordination.SessionRegistry`).

        Raises:
            RequestValidationError: invalid input; nothing was sent.
            APIError: iDenfy refused (a subclass per cause).
            APIConnectionError: no answer (``request_sent`` says whether it left).
            ResponseDecodeError: the answer could not be read.
            SessionAlreadyOpenError: (single session) the clientId has an open session
                for another request, on ``.session``; nothing was sent.
            SessionOutcomeUnknownError: (single session) an earlier create for the
                clientId may have made a session: reconcile, then :meth:`forget_session`.
            CoordinationError: (single session with Redis) the clientId could not be
                claimed in Redis; nothing was sent.
        """
        if request is None:
            from ..models import SessionRequest

            fields.setdefault("client_id", "")  # reported as "clientId: is required"
            request = SessionRequest(**fields)
        elif fields:
            raise TypeError("pass a SessionRequest or keyword fields, not both")
        options = given_options(
            timeout=timeout,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            retry_unknown=retry_unknown,
        )
        return await self._create_session(
            request,
            options,
            before_send=before_send,
            priority="interactive",
            single=self._single_session,
        )

    def _create_session(
        self,
        request: SessionRequest,
        options: RequestOptions,
        *,
        before_send: Callable[[], Awaitable[None]] | None,
        priority: coordination.Priority,
        single: bool,
    ) -> Awaitable[Session]:
        # A plain function handing back the call's coroutine: one coroutine layer
        # fewer per create (both callers await it at once, so its checks and
        # validation still raise where they did). No closures here: a closure's
        # variables become cells for the whole call, objects the garbage collector
        # walks while hundreds of creates queue (the registry's path has its own).
        spec = _sansio.build_create_session(request)
        parse = self._parse_session
        if single:
            return self._create_single(request, spec, parse, options, before_send, priority)
        return self._call(
            "create_session",
            CallKind.CREATE,
            spec,
            parse,
            options,
            before_send=before_send,
            priority=priority,
        )

    @functools.cached_property
    def _parse_session(self) -> Callable[[int, Mapping[str, str], bytes], Session]:
        """The token answer's reader, built once per client (not per call: a closure is
        three objects for the garbage collector on the create path); it holds only the
        base URL, so a client from :meth:`with_options` may share it."""
        base_url = self._base_url

        def parse(status: int, headers: Mapping[str, str], content: bytes) -> Session:
            return _sansio.parse_create_session(status, content, base_url=base_url)

        return parse

    def _create_single(
        self,
        request: SessionRequest,
        spec: _sansio.RequestSpec,
        parse: Callable[[int, Mapping[str, str], bytes], Session],
        options: RequestOptions,
        before_send: Callable[[], Awaitable[None]] | None,
        priority: coordination.Priority,
    ) -> Awaitable[Session]:
        """A create through the open-session registry (``single_session``)."""

        def send(hook: Callable[[], Awaitable[None]] | None) -> Awaitable[Session]:
            return self._call(
                "create_session",
                CallKind.CREATE,
                spec,
                parse,
                options,
                before_send=hook,
                priority=priority,
            )

        self._check_usable()
        deadline = options.retry_deadline
        return self._sessions().create(
            request.client_id,
            spec.body,
            send,
            expiry_time=request.expiry_time,
            deadline=self._policy.deadline if deadline is NOT_GIVEN else deadline,
            before_send=before_send,
        )

    async def mark_session_closed(self, event: WebhookEvent) -> bool:
        """Tell the open-session registry a webhook arrived; True if it closed a session.

        Call it from the webhook handler with the parsed event: an identification
        event with its final result (``final`` not False) closes the clientId's open
        session with that scanRef, so the next ``create_session`` for the clientId
        creates a new one. Other events change nothing. Shared through Redis with
        ``redis_url`` (raises :class:`CoordinationError` when Redis fails: answer the
        webhook 503 so iDenfy redelivers it).
        """
        from ..models._events import IdentificationEvent  # loaded on first use (models.LAZY)

        if not isinstance(event, IdentificationEvent) or event.final is False:
            return False
        if not event.client_id:
            return False
        return await self._sessions().close(event.client_id, event.scan_ref)

    def dedupe_store(
        self, *, ttl: float | None = None, lease: float | None = None
    ) -> coordination.DedupeStore:
        """A webhook dedupe store for this account: shared through Redis with ``redis_url``
        (:class:`~idenfy_async.coordination.RedisDedupeStore`, on this client's
        connections), else one process's (:class:`~idenfy_async.coordination.MemoryDedupeStore`).

        Make one per application; for each webhook ``claim(event.dedupe_key)``, then
        ``complete`` it once processed (or ``release`` it when processing failed).
        ``ttl``: seconds a processed key is kept (default a day: ``DEFAULT_DEDUPE_TTL``);
        ``lease``: seconds a claim holds its key while processing
        (``DEFAULT_DEDUPE_LEASE``).
        """
        from .. import coordination

        kept = coordination.DEFAULT_DEDUPE_TTL if ttl is None else ttl
        held = coordination.DEFAULT_DEDUPE_LEASE if lease is None else lease
        if self._redis is None:
            return coordination.MemoryDedupeStore(ttl=kept, lease=held)
        return coordination.RedisDedupeStore(self._redis, self._api_key, ttl=kept, lease=held)

    async def forget_session(self, client_id: str) -> None:
        """Let the next ``create_session`` for ``client_id`` be sent, whatever was known.

        For a :class:`SessionOutcomeUnknownError`: once :meth:`reconcile_session` says
        ``NOT_FOUND`` (or you handled the session it found). Raises
        :class:`CoordinationError` when Redis fails.
        """
        await self._sessions().forget(client_id)

    def _sessions(self) -> coordination.SessionRegistry:
        """The open-session registry (in Redis with ``redis_url``), made on first use;
        one for a client and every client :meth:`with_options` derives from it."""
        root = self._root
        if root._registry is None:
            from .. import coordination

            policy = root._policy
            root._registry = coordination.SessionRegistry(
                root._redis, root._api_key, clock=policy.clock, sleep=policy.sleep
            )
        return root._registry
