"""``client.aml``: every operation through the client (method, path, body on the wire,
the answer decoded), the money rule of the creates (in-process and over TCP), the
listing's pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from idenfy_async import (
    AmlCheck,
    AmlCheckRequest,
    AmlCompany,
    AmlMonitoring,
    AmlMonitoringRequest,
    AmlMonitoringStatus,
    AmlPerson,
    AmlProfile,
    AsyncIdenfy,
    RetryPolicy,
    errors,
)
from idenfy_async.client import AmlListingPage, AmlScreening
from idenfy_async.testing import FakeIdenfy, person_hit
from tests.support.faultserver import CloseAfterRead, FaultServer, ResetAfterRead, Respond
from tests.wire.test_aml import CHECK_ID, COMPANY_PROFILE, MON_ID, monitoring, person_check

API = "https://ivs.idenfy.com"
PDF = b"%PDF-1.4 fake"
PERSON = AmlPerson(client_id="user-1", full_name="John Doe")
CHECK = AmlCheckRequest(subject=PERSON, datasets=["PEP_CURRENT"])
WATCH = AmlMonitoringRequest(subject=PERSON, is_subscribed=True)

Call = Callable[[AsyncIdenfy], Awaitable[Any]]


def _pdf_answer() -> httpx.Response:
    return httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"})


#: (name, method, path, body sent, call, answer, what it returns)
OPERATIONS: list[tuple[str, str, str, Any, Call, httpx.Response, Any]] = [
    (
        "create_check",
        "POST",
        "/aml/checks/",
        {
            "clientId": "user-1",
            "userType": "PERSON",
            "input": {"fullName": "John Doe"},
            "filter": {"datasets": ["PEP_CURRENT"]},
        },
        lambda c: c.aml.create_check(CHECK),
        httpx.Response(201, json=person_check()),
        AmlCheck,
    ),
    (
        "check_pdf",
        "POST",
        f"/aml/checks/{CHECK_ID}/pdf/",
        {"password": "pw"},
        lambda c: c.aml.check_pdf(CHECK_ID, password="pw"),
        _pdf_answer(),
        bytes,
    ),
    (
        "get_profile",
        "GET",
        f"/aml/checks/{CHECK_ID}/profiles/b-1/",
        None,
        lambda c: c.aml.get_profile(CHECK_ID, "b-1", user_type="COMPANY"),
        httpx.Response(200, json=COMPANY_PROFILE),
        AmlProfile,
    ),
    (
        "profile_pdf",
        "POST",
        f"/aml/checks/{CHECK_ID}/profiles/b-1/pdf/",
        None,
        lambda c: c.aml.profile_pdf(CHECK_ID, "b-1"),
        _pdf_answer(),
        bytes,
    ),
    (
        "list_monitorings",
        "GET",
        "/aml/monitorings/?status=ALERT&page=1&perPage=50",
        None,
        lambda c: c.aml.list_monitorings(status="ALERT").first_page(),
        httpx.Response(200, json={"count": 0, "next": None, "previous": None, "results": []}),
        AmlListingPage,
    ),
    (
        "create_monitoring",
        "POST",
        "/aml/monitorings/",
        {
            "isSubscribed": True,
            "amlCheck": {
                "clientId": "user-1",
                "userType": "PERSON",
                "input": {"fullName": "John Doe"},
            },
        },
        lambda c: c.aml.create_monitoring(WATCH),
        httpx.Response(201, json=monitoring()),
        AmlMonitoring,
    ),
    (
        "get_monitoring",
        "GET",
        f"/aml/monitorings/{MON_ID}/",
        None,
        lambda c: c.aml.get_monitoring(MON_ID),
        httpx.Response(200, json=monitoring()),
        AmlMonitoring,
    ),
    (
        "update_monitoring",
        "PATCH",
        f"/aml/monitorings/{MON_ID}/",
        {"isSubscribed": False},
        lambda c: c.aml.update_monitoring(MON_ID, is_subscribed=False),
        httpx.Response(200, json=monitoring(isSubscribed=False)),
        AmlMonitoring,
    ),
    (
        "delete_monitoring",
        "DELETE",
        f"/aml/monitorings/{MON_ID}/",
        None,
        lambda c: c.aml.delete_monitoring(MON_ID),
        httpx.Response(204),
        type(None),
    ),
    (
        "start_monitoring",
        "POST",
        f"/aml/monitorings/{MON_ID}/start/",
        {"comment": "resume"},
        lambda c: c.aml.start_monitoring(MON_ID, comment="resume"),
        httpx.Response(200, json=monitoring(status="ACTIVE")),
        AmlMonitoring,
    ),
    (
        "stop_monitoring",
        "POST",
        f"/aml/monitorings/{MON_ID}/stop/",
        None,
        lambda c: c.aml.stop_monitoring(MON_ID),
        httpx.Response(200, json=monitoring(status="STOPPED")),
        AmlMonitoring,
    ),
    (
        "monitoring_pdf",
        "POST",
        f"/aml/monitorings/{MON_ID}/pdf/",
        None,
        lambda c: c.aml.monitoring_pdf(MON_ID),
        _pdf_answer(),
        bytes,
    ),
    (
        "remove_profile",
        "DELETE",
        f"/aml/monitorings/{MON_ID}/profiles/r-1/",
        None,
        lambda c: c.aml.remove_profile(MON_ID, "r-1"),
        httpx.Response(204),
        type(None),
    ),
]


@pytest.fixture
async def client(policy: RetryPolicy) -> Any:
    async with AsyncIdenfy("test-key", "test-secret", retry_policy=policy) as made:
        yield made


@pytest.mark.parametrize(
    ("method", "path", "body", "call", "answer", "returns"),
    [pytest.param(*op[1:], id=op[0]) for op in OPERATIONS],
)
async def test_operation_on_the_wire(
    client: AsyncIdenfy,
    method: str,
    path: str,
    body: Any,
    call: Call,
    answer: httpx.Response,
    returns: type[Any],
) -> None:
    with respx.mock() as router:
        route = router.route(method=method).mock(return_value=answer)
        result = await call(client)
    request = route.calls.last.request
    assert request.method == method
    assert request.url.raw_path.decode() == path
    assert (json.loads(request.content) if request.content else None) == body
    assert request.headers["authorization"].startswith("Basic ")
    assert isinstance(result, returns)


def test_every_digest_operation_has_a_method() -> None:
    # 12 operations on 9 paths (start and stop are one operation; both are methods here).
    assert {op[0] for op in OPERATIONS} == {
        name for name in vars(AmlScreening) if not name.startswith("_")
    }
    assert len({(op[1], op[2].partition("?")[0]) for op in OPERATIONS}) == 13


CREATES = [
    pytest.param(lambda c: c.aml.create_check(CHECK), "/aml/checks/", id="check"),
    pytest.param(lambda c: c.aml.create_monitoring(WATCH), "/aml/monitorings/", id="monitoring"),
    pytest.param(
        lambda c: c.aml.start_monitoring(MON_ID), f"/aml/monitorings/{MON_ID}/start/", id="start"
    ),
]


@pytest.mark.parametrize(("call", "path"), CREATES)
async def test_an_ambiguous_create_is_sent_once(client: AsyncIdenfy, call: Call, path: str) -> None:
    with respx.mock() as router:
        route = router.post(API + path).mock(side_effect=httpx.ReadTimeout("lost"))
        with pytest.raises(errors.APIConnectionError) as caught:
            await call(client)
    assert route.call_count == 1
    assert caught.value.outcome_unknown


@pytest.mark.parametrize(("call", "path"), CREATES)
async def test_a_create_that_never_left_is_retried(
    client: AsyncIdenfy, call: Call, path: str
) -> None:
    answer = person_check() if path == "/aml/checks/" else monitoring()
    with respx.mock() as router:
        route = router.post(API + path).mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=answer)]
        )
        await call(client)
    assert route.call_count == 2


async def test_retry_unknown_opts_in(client: AsyncIdenfy) -> None:
    with respx.mock() as router:
        route = router.post(API + "/aml/checks/").mock(
            side_effect=[httpx.ReadTimeout("lost"), httpx.Response(201, json=person_check())]
        )
        check = await client.aml.create_check(CHECK, retry_unknown=True)
    assert route.call_count == 2
    assert check.id == CHECK_ID


async def test_reads_retry_transient_failures(client: AsyncIdenfy) -> None:
    with respx.mock() as router:
        route = router.get(API + f"/aml/monitorings/{MON_ID}/").mock(
            side_effect=[
                httpx.ReadTimeout("slow"),
                httpx.Response(502),
                httpx.Response(200, json=monitoring()),
            ]
        )
        await client.aml.get_monitoring(MON_ID)
    assert route.call_count == 3


async def test_bad_input_sends_nothing(client: AsyncIdenfy) -> None:
    with respx.mock() as router:
        with pytest.raises(errors.RequestValidationError):
            await client.aml.create_check("John Doe")  # type: ignore[arg-type]
        with pytest.raises(errors.RequestValidationError):
            await client.aml.create_monitoring(CHECK)  # type: ignore[arg-type]
        with pytest.raises(errors.RequestValidationError):
            client.aml.list_monitorings(status="OPEN")
        with pytest.raises(errors.RequestValidationError):
            await client.aml.get_monitoring("../token")
        assert not router.calls


@pytest.mark.parametrize(
    "action", [CloseAfterRead(), ResetAfterRead()], ids=["close-after-read", "reset-after-read"]
)
async def test_ambiguous_check_create_over_tcp_is_sent_once(action: Any) -> None:
    fast = RetryPolicy(initial_delay=0.01, max_delay=0.02, jitter=0.0)
    async with FaultServer() as server:
        server.script(action)
        async with AsyncIdenfy(
            "test-key", "test-secret", base_url=server.base_url, retry_policy=fast
        ) as client:
            with pytest.raises(errors.APIConnectionError) as caught:
                await client.aml.create_check(CHECK)
            assert caught.value.outcome_unknown
            assert server.count("POST", "/aml/checks/") == 1
            # Opting in sends it again, once.
            server.script(action, Respond(201, json.dumps(person_check()).encode()))
            check = await client.aml.create_check(CHECK, retry_unknown=True)
    assert check.id == CHECK_ID
    assert server.count("POST", "/aml/checks/") == 3


async def test_listing_pages_through_the_fake() -> None:
    fake = FakeIdenfy(seed=3)
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        for i in range(5):
            subject = AmlCompany(client_id=f"co-{i}", company_name=f"Company {i}")
            await client.aml.create_monitoring(
                AmlMonitoringRequest(subject=subject, is_subscribed=False, tags=[f"t{i % 2}"])
            )
        listing = client.aml.list_monitorings(per_page=2)
        first = await listing.first_page()
        assert (first.count, first.number, len(first.items), first.has_next) == (5, 1, 2, True)
        second = await first.next_page()
        assert second is not None
        assert second.number == 2
        assert len([row async for row in client.aml.list_monitorings(per_page=2)]) == 5
        tagged = [row async for row in client.aml.list_monitorings(tags=["t1"])]
        assert len(tagged) == 2
        third = await listing.page(3)
        assert len(third.items) == 1
        assert not third.has_next
        assert await third.next_page() is None


async def test_monitoring_life_against_the_fake() -> None:
    fake = FakeIdenfy(seed=4)
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        made = await client.aml.create_monitoring(WATCH)
        assert made.status is AmlMonitoringStatus.ACTIVE
        assert made.check is not None
        fake.aml.rescreen(made.id, hits=[person_hit("new-1", "John Doe")])
        alert = await client.aml.get_monitoring(made.id)
        assert alert.status is AmlMonitoringStatus.ALERT
        assert alert.check is not None
        assert [h.resource_id for h in alert.check.hits] == ["new-1"]
        profile = await client.aml.get_profile(alert.check.id, "new-1")
        assert profile.user_type == "PERSON"
        await client.aml.remove_profile(made.id, "new-1")
        stopped = await client.aml.stop_monitoring(made.id, comment="false positive")
        assert stopped.status is AmlMonitoringStatus.STOPPED
        assert (await client.aml.monitoring_pdf(made.id)).startswith(b"%PDF")
        await client.aml.delete_monitoring(made.id)
        with pytest.raises(errors.NotFoundError):
            await client.aml.get_monitoring(made.id)
