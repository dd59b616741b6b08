"""Reconciliation: the rules (a table), the client call, bulk re-runs, the fake's listing lag."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import httpx
import pytest

from idenfy_async import (
    AsyncIdenfy,
    AuthenticationError,
    BulkResult,
    BulkState,
    ConfigurationError,
    IdenfyError,
    OverallStatus,
    ReconcileOutcome,
    ReconcilePolicy,
    ReconcileReason,
    Reconciliation,
    RequestValidationError,
    RetryPolicy,
    Session,
    SessionRequest,
    VerificationSummary,
)
from idenfy_async.bulk import create_sessions
from idenfy_async.bulk.journal import JournalEntry, JournalState, MemoryJournal
from idenfy_async.bulk.reconcile import DEFAULT_EXPIRY_TIME, decide
from idenfy_async.testing import FakeIdenfy, Fault
from tests.conftest import VirtualClock

FOUND, NOT_FOUND, UNKNOWN = (
    ReconcileOutcome.FOUND,
    ReconcileOutcome.NOT_FOUND,
    ReconcileOutcome.UNKNOWN,
)
R = ReconcileReason
SINCE = 1_000_000.0
WINDOW = 60.0
SETTLED = SINCE + WINDOW  # the first instant "not listed" counts


def listed(*items: tuple[str, str | None]) -> list[VerificationSummary]:
    return [VerificationSummary(scan_ref=ref, status=status) for ref, status in items]


# --------------------------------------------------------------------------- the rules

# (listing, arguments, outcome, reason, scan_ref or candidates, status, expires_at)
RULES: list[Any] = [
    # 1. the attempt read its scanRef: found, whatever the listing says
    pytest.param(
        listed(("a", "ACTIVE")),
        {"scan_ref": "a", "now": SINCE + 1},
        FOUND,
        R.SEEN,
        "a",
        "ACTIVE",
        SINCE + DEFAULT_EXPIRY_TIME,
        id="seen-and-listed",
    ),
    pytest.param(
        [], {"scan_ref": "a"}, FOUND, R.SEEN, "a", None, SINCE + DEFAULT_EXPIRY_TIME, id="seen"
    ),
    pytest.param(
        None,
        {"scan_ref": "a"},
        FOUND,
        R.SEEN,
        "a",
        None,
        SINCE + DEFAULT_EXPIRY_TIME,
        id="seen-no-listing",
    ),
    # 2. the listing failed
    pytest.param(None, {}, UNKNOWN, R.LISTING_FAILED, None, None, None, id="listing-failed"),
    # 3+7. nothing that could be this attempt's
    pytest.param([], {}, NOT_FOUND, R.NONE_LISTED, None, None, None, id="none-listed"),
    pytest.param(
        listed(("old", "ACTIVE")),
        {"known_scan_refs": {"old"}},
        NOT_FOUND,
        R.NONE_LISTED,
        None,
        None,
        None,
        id="only-a-known-session",
    ),
    pytest.param(
        listed(("old", "APPROVED"), ("old2", "DENIED"), ("old3", "SUSPECTED")),
        {},
        NOT_FOUND,
        R.NONE_LISTED,
        None,
        None,
        None,
        id="finished-sessions-needed-a-user",
    ),
    pytest.param(
        listed(("old", "REVIEWING")),
        {},
        NOT_FOUND,
        R.NONE_LISTED,
        None,
        None,
        None,
        id="reviewing-needed-a-user",
    ),
    pytest.param(
        listed(("old", "EXPIRED"), ("old2", "EXPIRED-DELETED")),
        {"expiry_time": 3600, "now": SETTLED + 10},
        NOT_FOUND,
        R.NONE_LISTED,
        None,
        None,
        None,
        id="expired-before-ours-could",
    ),
    # 6. one candidate
    pytest.param(
        listed(("a", "ACTIVE")),
        {},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "ACTIVE",
        SINCE + DEFAULT_EXPIRY_TIME,
        id="one-active",
    ),
    pytest.param(
        listed(("a", "ACTIVE")),
        {"expiry_time": 600},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "ACTIVE",
        SINCE + 600,
        id="one-active-with-expiry",
    ),
    pytest.param(
        listed(("old", "APPROVED"), ("known", "ACTIVE"), ("a", "ACTIVE")),
        {"known_scan_refs": ["known"]},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "ACTIVE",
        SINCE + DEFAULT_EXPIRY_TIME,
        id="told-apart-from-older-ones",
    ),
    pytest.param(
        listed(("a", "EXPIRED")),
        {"expiry_time": 3600, "now": SINCE + 4000},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "EXPIRED",
        None,
        id="ours-expired-since",
    ),
    pytest.param(
        listed(("a", "EXPIRED")),
        {},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "EXPIRED",
        None,
        id="expired-and-expiry-unknown",
    ),
    pytest.param(
        listed(("a", "APPROVED")),
        {"dummy": True},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "APPROVED",
        None,
        id="dummy-created-finished",
    ),
    pytest.param(
        listed(("a", "DELETED")), {}, FOUND, R.ONLY_CANDIDATE, "a", "DELETED", None, id="deleted"
    ),
    pytest.param(
        listed(("a", "SOME_NEW_STATUS")),
        {},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        "SOME_NEW_STATUS",
        None,
        id="unknown-status",
    ),
    pytest.param(
        listed(("a", None)),
        {},
        FOUND,
        R.ONLY_CANDIDATE,
        "a",
        None,
        SINCE + DEFAULT_EXPIRY_TIME,
        id="no-status",
    ),
    # 4. several candidates
    pytest.param(
        listed(("a", "ACTIVE"), ("b", "ACTIVE")),
        {},
        UNKNOWN,
        R.AMBIGUOUS,
        ("a", "b"),
        None,
        None,
        id="two-active",
    ),
    pytest.param(
        listed(("a", "ACTIVE"), ("b", "EXPIRED")),
        {"now": SINCE + 1},
        UNKNOWN,
        R.AMBIGUOUS,
        ("a", "b"),
        None,
        None,
        id="ambiguous-even-within-the-window",
    ),
    # 5. within the settle window, or when the attempt's time is not known
    pytest.param(
        [], {"now": SETTLED - 1}, UNKNOWN, R.TOO_SOON, (), None, None, id="nothing-listed-yet"
    ),
    pytest.param(
        listed(("a", "ACTIVE")),
        {"now": SETTLED - 1},
        UNKNOWN,
        R.TOO_SOON,
        ("a",),
        None,
        None,
        id="one-listed-but-ours-may-be-missing",
    ),
    pytest.param([], {"since": None}, UNKNOWN, R.NO_TIMESTAMP, (), None, None, id="no-timestamp"),
    pytest.param(
        listed(("a", "ACTIVE")),
        {"since": None},
        UNKNOWN,
        R.NO_TIMESTAMP,
        (),
        None,
        None,
        id="one-listed-no-timestamp",
    ),
]


@pytest.mark.parametrize(
    ("listing", "arguments", "outcome", "reason", "what", "status", "expires_at"), RULES
)
def test_the_rules(
    listing: list[VerificationSummary] | None,
    arguments: dict[str, Any],
    outcome: ReconcileOutcome,
    reason: ReconcileReason,
    what: str | tuple[str, ...] | None,
    status: str | None,
    expires_at: float | None,
) -> None:
    given: dict[str, Any] = {"since": SINCE, "now": SETTLED, "settle_window": WINDOW}
    result = decide(listing, **{**given, **arguments})
    assert (result.outcome, result.reason) == (outcome, reason)
    if isinstance(what, tuple):
        assert result.candidates == what
        assert result.scan_ref is None
    else:
        assert result.scan_ref == what
    assert result.status == status
    assert result.expires_at == expires_at
    assert result.is_open is (status == "ACTIVE")
    if reason is R.TOO_SOON:
        assert result.retry_at == SETTLED
    else:
        assert result.retry_at is None


def test_listed_statuses_are_the_open_enum() -> None:
    """The listing decodes statuses to OverallStatus members: the rules treat them alike."""
    members = [
        VerificationSummary(scan_ref="old", status=OverallStatus.APPROVED),
        VerificationSummary(scan_ref="a", status=OverallStatus.ACTIVE),
    ]
    result = decide(members, since=SINCE, now=SETTLED, settle_window=WINDOW)
    assert (result.outcome, result.scan_ref, result.is_open) == (FOUND, "a", True)


def test_a_listing_error_is_kept() -> None:
    error = AuthenticationError(status_code=401, identifier=None, message=None)
    result = decide(None, since=SINCE, now=SETTLED, error=error)
    assert result.error is error
    assert str(result) == "still unknown: the listing could not be read: AuthenticationError"


@pytest.mark.parametrize("window", [-1.0, math.nan, math.inf, True])
def test_a_bad_settle_window_is_refused(window: float) -> None:
    with pytest.raises(ConfigurationError, match="settle_window"):
        decide([], since=SINCE, now=SETTLED, settle_window=window)
    with pytest.raises(ConfigurationError, match="settle_window"):
        ReconcilePolicy(settle_window=window)


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (
            Reconciliation(
                outcome=FOUND,
                reason=R.ONLY_CANDIDATE,
                scan_ref="a",
                status=OverallStatus.ACTIVE,
                expires_at=86_400.0,
            ),
            "found session a: ACTIVE (open), expires about 1970-01-02T00:00:00Z;"
            " its authToken cannot be recovered",
        ),
        (
            Reconciliation(outcome=FOUND, reason=R.ONLY_CANDIDATE, scan_ref="a", status="EXPIRED"),
            "found session a: EXPIRED (already finished); its authToken cannot be recovered",
        ),
        (
            Reconciliation(outcome=FOUND, reason=R.SEEN, scan_ref="a"),
            "found session a: not listed yet; its authToken cannot be recovered",
        ),
        (
            Reconciliation(outcome=NOT_FOUND, reason=R.NONE_LISTED),
            "not found: iDenfy lists no session from this attempt; safe to send",
        ),
        (
            Reconciliation(outcome=UNKNOWN, reason=R.AMBIGUOUS, candidates=("a", "b")),
            "still unknown: 2 sessions could be this attempt's and cannot be told apart (a, b)",
        ),
        (
            Reconciliation(outcome=UNKNOWN, reason=R.TOO_SOON, retry_at=60.0),
            "still unknown: sent too recently for the listing to be sure; ask again after"
            " 1970-01-01T00:01:00Z",
        ),
        (
            Reconciliation(outcome=UNKNOWN, reason=R.NO_TIMESTAMP),
            "still unknown: when the request was sent is not recorded",
        ),
        (
            Reconciliation(outcome=UNKNOWN, reason=R.NOT_CHECKED),
            "unknown: not checked with iDenfy (reconciliation off)",
        ),
    ],
)
def test_each_result_says_what_it_means(result: Reconciliation, text: str) -> None:
    assert str(result) == text


# --------------------------------------------------------------------------- the client call


@pytest.fixture
def lagging(clock: VirtualClock) -> FakeIdenfy:
    """A fake whose listing shows a new session 5 s after it was created."""
    return FakeIdenfy(seed=3, sleep=clock.sleep, clock=clock, listing_delay=5.0)


@pytest.fixture
async def lag_client(lagging: FakeIdenfy, policy: RetryPolicy) -> AsyncIterator[AsyncIdenfy]:
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=lagging, retry_policy=policy
    ) as client:
        yield client


async def lose_the_answer(
    client: AsyncIdenfy, fake: FakeIdenfy, clock: VirtualClock, *, created: bool
) -> float:
    """A sign-up handler's create whose answer is lost; returns the time taken before."""
    fake.fail_next(Fault(error=httpx.ReadTimeout, create=created))
    since = clock.now  # the client's wall clock (conftest's policy)
    with pytest.raises(IdenfyError) as caught:
        await client.create_session(client_id="user-1")
    assert caught.value.outcome_unknown
    return since


@pytest.mark.parametrize("created", [True, False])
async def test_a_handler_reconciles_an_ambiguous_create(
    lag_client: AsyncIdenfy, lagging: FakeIdenfy, clock: VirtualClock, created: bool
) -> None:
    """The README's pattern: ambiguous error, reconcile, then send only if not found."""
    since = await lose_the_answer(lag_client, lagging, clock, created=created)
    first = await lag_client.reconcile_session("user-1", since=since, settle_window=10)
    assert (first.outcome, first.reason, first.retry_at) == (UNKNOWN, R.TOO_SOON, since + 10)

    assert first.retry_at is not None
    await clock.sleep(first.retry_at - clock.now)
    again = await lag_client.reconcile_session("user-1", since=since, settle_window=10)
    made = lagging.sessions_for("user-1")
    if created:
        assert (again.outcome, again.scan_ref, again.status) == (FOUND, made[0].scan_ref, "ACTIVE")
        assert again.expires_at == since + DEFAULT_EXPIRY_TIME
        assert made[0].auth_token not in repr(again) + str(again)
    else:
        assert again.outcome is NOT_FOUND
        await lag_client.create_session(client_id="user-1")
    assert len(lagging.sessions_for("user-1")) == 1


async def test_a_window_shorter_than_the_listing_lag_answers_wrongly(
    lag_client: AsyncIdenfy, lagging: FakeIdenfy, clock: VirtualClock
) -> None:
    """Why the window exists: the listing lags 5 s; a 2 s window says "not found"."""
    since = await lose_the_answer(lag_client, lagging, clock, created=True)
    await clock.sleep(3)
    result = await lag_client.reconcile_session("user-1", since=since, settle_window=2)
    assert result.outcome is NOT_FOUND  # wrong: the session exists, not listed yet
    assert lagging.sessions_for("user-1")


async def test_every_page_is_read_and_known_sessions_are_told_apart(
    client: AsyncIdenfy, fake: FakeIdenfy, clock: VirtualClock
) -> None:
    older = [await client.create_session(client_id="user-1") for _ in range(101)]
    since = clock.now
    fake.fail_next(Fault(status=500, create=True))
    with pytest.raises(IdenfyError):
        await client.create_session(client_id="user-1")
    lost = fake.sessions_for("user-1")[-1]
    before = fake.requests
    result = await client.reconcile_session(
        "user-1",
        since=since,
        known_scan_refs=[s.scan_ref for s in older],
        settle_window=0,
    )
    assert fake.requests - before == 2  # two pages of 100
    assert (result.outcome, result.scan_ref) == (FOUND, lost.scan_ref)
    unknown_history = await client.reconcile_session("user-1", since=since, settle_window=0)
    assert (unknown_history.outcome, len(unknown_history.candidates)) == (UNKNOWN, 102)


async def test_a_failed_listing_is_unknown_not_an_exception(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    fake.fail_next(Fault(status=401))
    result = await client.reconcile_session("user-1", since=0.0, settle_window=0)
    assert (result.outcome, result.reason) == (UNKNOWN, R.LISTING_FAILED)
    assert isinstance(result.error, AuthenticationError)


async def test_a_bad_client_id_is_refused_before_anything_is_sent(
    client: AsyncIdenfy, fake: FakeIdenfy
) -> None:
    with pytest.raises(RequestValidationError, match="clientId"):
        await client.reconcile_session("x" * 101, since=0.0)
    assert fake.requests == 0


# --------------------------------------------------------------------------- the fake's lag


async def test_the_fake_lists_a_new_session_only_after_its_listing_delay(
    lag_client: AsyncIdenfy, lagging: FakeIdenfy, clock: VirtualClock
) -> None:
    session = await lag_client.create_session(client_id="user-1")

    async def listing() -> list[tuple[str, str | None]]:
        return [
            (s.scan_ref, s.status) async for s in lag_client.list_verifications(client_id="user-1")
        ]

    assert await listing() == []
    await clock.sleep(4.9)
    assert await listing() == []
    await clock.sleep(0.1)
    assert await listing() == [(session.scan_ref, "ACTIVE")]
    status = await lag_client.get_status(session.scan_ref)  # only the listing lags
    assert status.status == "ACTIVE"


def test_a_negative_listing_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="listing_delay"):
        FakeIdenfy(listing_delay=-1)


# --------------------------------------------------------------------------- bulk re-runs


def rows(n: int) -> list[SessionRequest]:
    return [SessionRequest(f"user-{i}") for i in range(n)]


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]


@attrs.frozen
class Case:
    state: JournalState  #: what an earlier run left
    sessions: int  #: sessions the fake holds for the row (created by that run)
    age: float | None = 100.0  #: seconds since the row went pending (None: not recorded)
    flags: dict[str, Any] = attrs.field(factory=dict)


WINDOW_BULK = 30.0
BULK: list[Any] = [
    # (case, row state, sent, journal state after, reconciled, sessions after)
    pytest.param(
        Case(JournalState.PENDING, 1),
        BulkState.FOUND,
        False,
        JournalState.FOUND,
        R.ONLY_CANDIDATE,
        1,
        id="pending-found",
    ),
    pytest.param(
        Case(JournalState.UNKNOWN, 1),
        BulkState.FOUND,
        False,
        JournalState.FOUND,
        R.ONLY_CANDIDATE,
        1,
        id="unknown-found",
    ),
    pytest.param(
        Case(JournalState.PENDING, 0),
        BulkState.CREATED,
        True,
        JournalState.CREATED,
        None,
        1,
        id="pending-not-found-sent",
    ),
    pytest.param(
        Case(JournalState.UNKNOWN, 2),
        BulkState.UNKNOWN,
        False,
        JournalState.UNKNOWN,
        R.AMBIGUOUS,
        2,
        id="ambiguous-kept",
    ),
    pytest.param(
        Case(JournalState.UNKNOWN, 2, flags={"retry_unknown": True}),
        BulkState.CREATED,
        True,
        JournalState.CREATED,
        None,
        3,
        id="ambiguous-retry-unknown-sent-anyway",
    ),
    pytest.param(
        Case(JournalState.PENDING, 1, flags={"retry_unknown": True}),
        BulkState.FOUND,
        False,
        JournalState.FOUND,
        R.ONLY_CANDIDATE,
        1,
        id="found-never-resent",
    ),
    pytest.param(
        Case(JournalState.PENDING, 0, age=1.0),
        BulkState.CREATED,
        True,
        JournalState.CREATED,
        None,
        1,
        id="too-soon-waits-then-sends",
    ),
    pytest.param(
        Case(JournalState.PENDING, 0, age=1.0, flags={"wait": False}),
        BulkState.UNKNOWN,
        False,
        JournalState.UNKNOWN,
        R.TOO_SOON,
        0,
        id="too-soon-without-waiting",
    ),
    pytest.param(
        Case(JournalState.PENDING, 0, age=None),
        BulkState.UNKNOWN,
        False,
        JournalState.UNKNOWN,
        R.NO_TIMESTAMP,
        0,
        id="no-timestamp",
    ),
    pytest.param(
        Case(JournalState.PENDING, 1, flags={"reconcile": False}),
        BulkState.UNKNOWN,
        False,
        JournalState.UNKNOWN,
        None,
        1,
        id="reconcile-off",
    ),
    pytest.param(
        Case(JournalState.PENDING, 1, flags={"reconcile": False, "retry_unknown": True}),
        BulkState.CREATED,
        True,
        JournalState.CREATED,
        None,
        2,
        id="reconcile-off-retry-unknown",
    ),
]


@pytest.mark.parametrize(("case", "state", "sent", "after", "reconciled", "sessions"), BULK)
async def test_a_rerun_reconciles_open_rows_first(
    fake: FakeIdenfy,
    policy: RetryPolicy,
    clock: VirtualClock,
    case: Case,
    state: BulkState,
    sent: bool,
    after: JournalState,
    reconciled: ReconcileReason | None,
    sessions: int,
) -> None:
    journal = MemoryJournal()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy) as c:
        for _ in range(case.sessions):  # what the earlier run's lost requests created
            await c.create_session(client_id="user-0")
        pending_at = None if case.age is None else clock.now - case.age
        entry = JournalEntry(
            client_id="user-0", state=case.state, attempts=case.sessions, pending_at=pending_at
        )
        await journal.put(entry)
        reconcile: bool | ReconcilePolicy = case.flags.get("reconcile", True)
        if reconcile:
            reconcile = ReconcilePolicy(
                settle_window=WINDOW_BULK,
                wait=case.flags.get("wait", True),
                wall_clock=clock,
                sleep=clock.sleep,
            )
        clock.sleeps.clear()
        [result] = await collect(
            create_sessions(
                c,
                rows(1),
                journal=journal,
                reconcile=reconcile,
                retry_unknown=case.flags.get("retry_unknown", False),
            )
        )
    assert (result.state, result.sent) == (state, sent)
    assert len(fake.sessions_for("user-0")) == sessions
    stored = journal.entries["user-0"]
    assert stored.state is after
    if after is not JournalState.CREATED:
        assert stored.reconciled == reconciled
    checked = result.reconciliation
    if state is BulkState.FOUND:
        assert checked is not None
        [made] = fake.sessions_for("user-0")
        assert (checked.scan_ref, checked.status) == (made.scan_ref, "ACTIVE")
        assert stored.scan_ref == made.scan_ref
        assert stored.verification_status == "ACTIVE"
        assert stored.expires_at == pending_at + DEFAULT_EXPIRY_TIME  # type: ignore[operator]
        assert stored.auth_token is None  # never invented
    waited = case.age is not None and case.age < WINDOW_BULK and case.flags.get("wait", True)
    assert clock.sleeps == ([WINDOW_BULK - case.age] if waited else [])  # type: ignore[operator]
    assert result.may_be_duplicate is (sent and sessions > 1)


async def test_found_rows_are_not_listed_again_on_later_runs(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    journal = MemoryJournal()
    reconcile = ReconcilePolicy(settle_window=0, wall_clock=clock, sleep=clock.sleep)
    async with AsyncIdenfy("test-key", "test-secret", transport=fake, retry_policy=policy) as c:
        made = await c.create_session(client_id="user-0")
        await journal.put(
            JournalEntry(client_id="user-0", state=JournalState.UNKNOWN, pending_at=clock.now)
        )
        first = await collect(create_sessions(c, rows(1), journal=journal, reconcile=reconcile))
        before = fake.requests
        again = await collect(create_sessions(c, rows(1), journal=journal, reconcile=reconcile))
    assert fake.requests == before  # the journal answers
    for [result] in (first, again):
        assert result.state is BulkState.FOUND
        assert result.reconciliation is not None
        assert result.reconciliation.scan_ref == made.scan_ref
        assert result.session is None  # no authToken to hand out


async def test_pending_at_comes_from_the_policy_wall_clock_and_survives_a_lost_answer(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    journal = MemoryJournal()
    seen: list[float | None] = []

    class Watching(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(journal.entries["user-0"].pending_at)
            await clock.sleep(7)  # the request takes a while; the stamp does not move
            return await fake.handle_async_request(request)

    fake.fail_next(Fault(error=httpx.RemoteProtocolError, create=True))
    reconcile = ReconcilePolicy(wall_clock=clock, sleep=clock.sleep)
    sent_at = clock.now
    async with AsyncIdenfy(
        "test-key", "test-secret", transport=Watching(), retry_policy=policy, max_retries=0
    ) as c:
        [result] = await collect(create_sessions(c, rows(1), journal=journal, reconcile=reconcile))
    assert result.state is BulkState.UNKNOWN
    assert seen == [sent_at]
    assert journal.entries["user-0"].pending_at == sent_at


async def test_a_client_that_cannot_list_leaves_open_rows_unknown() -> None:
    class CreateOnly:
        calls = 0

        async def create_session(
            self,
            request: SessionRequest,
            /,
            *,
            retry_unknown: bool,
            before_send: Callable[[], Awaitable[None]] | None = None,
        ) -> Session:
            self.calls += 1
            raise AssertionError("an open row must not be sent")

    journal = MemoryJournal()
    await journal.put(JournalEntry(client_id="user-0", state=JournalState.PENDING, pending_at=0.0))
    client = CreateOnly()
    [result] = await collect(create_sessions(client, rows(1), journal=journal))
    assert (result.state, client.calls) == (BulkState.UNKNOWN, 0)
    assert result.reconciliation is not None
    assert result.reconciliation.reason is R.LISTING_FAILED


async def test_reconciling_after_a_flaky_run_leaves_every_client_id_once(
    fake: FakeIdenfy, policy: RetryPolicy, clock: VirtualClock
) -> None:
    """Lost answers, some after creating; a reconciling re-run settles every row."""
    n = 200
    journal = MemoryJournal()
    reconcile = ReconcilePolicy(settle_window=WINDOW_BULK, wall_clock=clock, sleep=clock.sleep)
    lost = [
        Fault(error=httpx.RemoteProtocolError, create=i % 2 == 0) if i % 7 == 0 else None
        for i in range(n)
    ]

    class Flaky(httpx.AsyncBaseTransport):
        """Loses the first answer of every 7th row; half of them after creating."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            script = None
            if request.method == "POST":
                i = int(json.loads(body)["clientId"].removeprefix("user-"))
                script, lost[i] = lost[i], None
            if script is not None and not script.create:
                raise httpx.RemoteProtocolError("lost", request=request)
            path = request.url.raw_path.decode("ascii")
            status, headers, content = fake.handle(request.method, path, request.headers, body)
            if script is not None:
                raise httpx.RemoteProtocolError("lost after creating", request=request)
            return httpx.Response(status, headers=headers, content=content, request=request)

    async with AsyncIdenfy(
        "test-key", "test-secret", transport=Flaky(), retry_policy=policy, max_retries=0
    ) as c:
        first = await collect(create_sessions(c, rows(n), journal=journal, reconcile=reconcile))
        unknown = sum(r.state is BulkState.UNKNOWN for r in first)
        assert unknown == sum(1 for i in range(n) if i % 7 == 0)
        second = await collect(create_sessions(c, rows(n), journal=journal, reconcile=reconcile))
    states = Counter(r.state for r in second)
    assert states[BulkState.UNKNOWN] == 0
    assert states[BulkState.FOUND] == sum(1 for i in range(n) if i % 14 == 0)
    assert Counter(s.client_id for s in fake.sessions) == {f"user-{i}": 1 for i in range(n)}
    assert asyncio.all_tasks() == {asyncio.current_task()}
