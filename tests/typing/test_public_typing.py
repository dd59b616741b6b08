"""Typed uses of the public API, as a user writes them: mypy --strict and pyright check
this file (``nox -s typing``), pytest runs it against the in-process fake.

``assert_type`` pins what a checker infers: a signature that loses its types (an
``Any`` leaking out, a wrong return type) fails type checking here, not in a user's
code. Covers the client, models, errors, webhooks, bulk and the testing fake.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import pytest
from typing_extensions import assert_type

from idenfy_async import (
    AsyncIdenfy,
    BulkResult,
    BulkState,
    DocumentExpirationEvent,
    ErrorRecord,
    IdenfyError,
    JournalEntry,
    JournalState,
    MemoryJournal,
    RateLimitError,
    RequestValidationError,
    Session,
    SessionRequest,
    SignatureVerificationError,
    WebhookEvent,
    construct_event,
    create_sessions,
    parse_event,
)
from idenfy_async.coordination import MemoryDedupeStore, SessionRegistry
from idenfy_async.testing import FakeIdenfy
from idenfy_async.webhooks import sign

SIGNING_KEY = "typing-signing-key"
EXPIRATION_BODY = {
    "scanRef": "doc-scan-ref",
    "clientId": "user-123",
    "expirationThreshold": "DOCUMENT_EXPIRES_WITHIN_7_DAYS",
    "documentExpiration": "2030-01-31",
}


async def test_client_and_models() -> None:
    fake = FakeIdenfy()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        assert_type(client, AsyncIdenfy)
        request = SessionRequest(client_id="typed-1", first_name="John")
        session = await client.create_session(request)
        assert_type(session, Session)
        assert_type(session.auth_token, str)
        assert_type(session.scan_ref, str)
        assert_type(session.expiry_time, int | None)
        keyword_session = await client.create_session(client_id="typed-2")
        assert_type(keyword_session, Session)
    assert session.client_id == "typed-1"
    assert keyword_session.client_id == "typed-2"


def test_errors() -> None:
    error: IdenfyError = RateLimitError(status_code=429, identifier=None, message=None)
    assert_type(error.outcome_unknown, bool)
    if isinstance(error, RateLimitError):
        assert_type(error.status_code, int)
    with pytest.raises(RequestValidationError) as caught:
        SessionRequest(client_id="")
    problems = caught.value.problems
    assert [p.field for p in problems] == ["clientId"]


def test_webhooks() -> None:
    body = json.dumps(EXPIRATION_BODY).encode()
    event = construct_event(body, sign(body, SIGNING_KEY), SIGNING_KEY)
    assert_type(event, WebhookEvent)
    assert_type(parse_event(body), WebhookEvent)
    assert isinstance(event, DocumentExpirationEvent)
    assert_type(event.scan_ref, str)
    with pytest.raises(SignatureVerificationError):
        construct_event(body, "0" * 64, SIGNING_KEY)


async def test_bulk_and_journal() -> None:
    fake = FakeIdenfy()
    journal = MemoryJournal()
    requests = [SessionRequest(client_id=f"bulk-{i}") for i in range(3)]
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        results = create_sessions(client, requests, journal=journal, concurrency=2)
        assert_type(results, AsyncGenerator[BulkResult, None])
        states: list[BulkState] = [result.state async for result in results]
    assert len(states) == 3
    entry = await journal.get("bulk-0")
    assert_type(entry, JournalEntry | None)
    assert entry is not None
    assert_type(entry.state, JournalState)
    assert_type(entry.error, ErrorRecord | None)


async def test_coordination_in_memory() -> None:
    store = MemoryDedupeStore(ttl=60.0)
    assert_type(await store.claim("event-1"), bool)
    registry = SessionRegistry()
    assert_type(registry.claim_lease, float)
    assert_type(store.ttl, float)
