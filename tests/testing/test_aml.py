"""The fake's AML side: its rules (from iDenfy's AML OpenAPI file), scripted hits, PDFs
and webhooks, in-process and over TCP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from idenfy_async import (
    AmlCheckRequest,
    AmlCheckStatus,
    AmlCompany,
    AmlMonitoringEvent,
    AmlMonitoringExpirationEvent,
    AmlMonitoringRequest,
    AmlPerson,
    AsyncIdenfy,
    webhooks,
)
from idenfy_async.testing import FakeIdenfy, FakeIdenfyServer, company_hit, person_hit

AUTH = {"authorization": "Basic dGVzdC1rZXk6dGVzdC1zZWNyZXQ="}


def _post(fake: FakeIdenfy, path: str, body: Any) -> tuple[int, Any]:
    status, _, content = fake.handle("POST", path, AUTH, json.dumps(body).encode())
    return status, json.loads(content) if content else None


def _check(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clientId": "u1",
        "userType": "PERSON",
        "input": {"fullName": "John Doe"},
        "filter": {"datasets": ["PEP_CURRENT"]},
    }
    body.update(changes)
    return body


FAKE_RULES = [
    (_check(clientId=""), "clientId"),
    (_check(clientId="x" * 101), "clientId"),
    (_check(userType="TRUST"), "userType"),
    (_check(input={"companyName": "X"}), "input.fullName"),
    (_check(userType="COMPANY"), "input.companyName"),
    (_check(input={"fullName": "A", "nationality": "XX"}), "input.nationality"),
    (_check(input={"fullName": "A", "dateOfBirth": "1990-13-01"}), "input.dateOfBirth"),
    (_check(input={"fullName": "A", "sex": "M"}), "input.sex"),
    (_check(filter=None), "filter"),
    (_check(filter={"datasets": []}), "filter.datasets"),
    (_check(filter={"datasets": ["SOE_CURRENT"]}), "filter.datasets"),
    (_check(filter={"datasets": ["INS"], "threshold": 74}), "filter.threshold"),
    (_check(filter={"datasets": ["INS"], "threshold": 101}), "filter.threshold"),
    (_check(filter={"datasets": ["INS"], "sanctionBodies": [0]}), "filter.sanctionBodies"),
    (_check(filter={"datasets": ["INS"], "pepTiers": ["PEP"]}), "filter.pepTiers"),
    (
        _check(filter={"datasets": ["INS"], "dateOfBirthMatching": "X"}),
        "filter.dateOfBirthMatching",
    ),
    (
        _check(
            userType="COMPANY",
            input={"companyName": "X"},
            filter={"datasets": ["INS"], "pepTiers": ["PEP_TIER_1"]},
        ),
        "filter",
    ),
]


@pytest.mark.parametrize(("body", "field"), FAKE_RULES)
def test_fake_refuses_a_bad_check(body: dict[str, Any], field: str) -> None:
    fake = FakeIdenfy()
    status, answer = _post(fake, "/aml/checks/", body)
    assert status == 400
    assert answer["identifier"] == "VALIDATION_ERROR"
    assert answer["message"].startswith(field + ":")
    assert fake.aml.checks == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amlCheck": _check()}, "isSubscribed"),
        ({"isSubscribed": True}, "amlCheck"),
        ({"isSubscribed": True, "amlCheck": _check(), "tags": ["a,b"]}, "tags"),
        ({"isSubscribed": True, "amlCheck": _check(), "tags": ["t"] * 6}, "tags"),
    ],
)
def test_fake_refuses_a_bad_monitoring(body: dict[str, Any], field: str) -> None:
    fake = FakeIdenfy()
    status, answer = _post(fake, "/aml/monitorings/", body)
    assert status == 400
    assert answer["message"].startswith(field + ":")


@pytest.mark.parametrize(
    ("name", "user_type", "datasets", "threshold", "status", "hits", "articles"),
    [
        ("Manfred Weber", "PERSON", ["PEP_CURRENT"], None, "FLAGS_FOUND", 1, 0),
        ("manfred weber", "PERSON", ["PEP_CURRENT"], None, "FLAGS_FOUND", 1, 0),
        ("Manfred Weber", "PERSON", ["INS"], None, "NO_FLAGS", 0, 0),  # not asked for
        ("Manfred Weber", "PERSON", ["PEP_CURRENT"], 100, "NO_FLAGS", 0, 0),  # under threshold
        ("GoPayments", "COMPANY", ["SAN_CURRENT"], None, "FLAGS_FOUND", 1, 0),
        ("Cliff Hazard", "PERSON", ["PEP_CURRENT"], None, "FLAGS_FOUND", 0, 1),
        ("Jane Roe", "PERSON", ["PEP_CURRENT"], None, "NO_FLAGS", 0, 0),
    ],
)
def test_watchlist_decides_the_hits(
    name: str,
    user_type: str,
    datasets: list[str],
    threshold: int | None,
    status: str,
    hits: int,
    articles: int,
) -> None:
    fake = FakeIdenfy()
    field = "fullName" if user_type == "PERSON" else "companyName"
    filt: dict[str, Any] = {"datasets": datasets}
    if threshold is not None:
        filt["threshold"] = threshold
    code, answer = _post(
        fake, "/aml/checks/", _check(userType=user_type, input={field: name}, filter=filt)
    )
    assert code == 201
    assert (answer["overallStatus"], len(answer["amlCheck"]), len(answer["adverseMedia"])) == (
        status,
        hits,
        articles,
    )


async def test_scripted_hits_over_tcp() -> None:
    server = FakeIdenfyServer(seed=2)
    server.fake.aml.script("Acme Shell", hits=[company_hit("co-9", "ACME SHELL LTD", score=99)])
    async with server as base_url, AsyncIdenfy("test-key", "test-secret", base_url=base_url) as c:
        check = await c.aml.create_check(
            AmlCheckRequest(
                subject=AmlCompany(client_id="c-9", company_name="Acme Shell"),
                datasets=["SAN_CURRENT"],
            )
        )
        assert check.overall_status is AmlCheckStatus.FLAGS_FOUND
        assert [h.resource_id for h in check.hits] == ["co-9"]
        profile = await c.aml.get_profile(check.id, "co-9")
        assert profile.user_type == "COMPANY"
        assert profile.name == "ACME SHELL LTD"
        assert (await c.aml.check_pdf(check.id, password="pw")).startswith(b"%PDF")
        assert (await c.aml.profile_pdf(check.id, "co-9")).startswith(b"%PDF")
        watched = await c.aml.create_monitoring(
            AmlMonitoringRequest(subject=check_subject(), is_subscribed=False)
        )
        rows = [row async for row in c.aml.list_monitorings(per_page=1)]
        assert [row.id for row in rows] == [watched.id]
    assert server.fake.aml.check_requests == ["c-9"]


def check_subject() -> AmlPerson:
    return AmlPerson(client_id="p-1", full_name="Jane Roe")


async def test_monitoring_webhooks_are_signed_and_parse() -> None:
    fake = FakeIdenfy(seed=5)
    received: list[tuple[bytes, dict[str, str]]] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append((request.content, dict(request.headers)))
        return httpx.Response(200)

    hook = httpx.MockTransport(receiver)
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        made = await client.aml.create_monitoring(
            AmlMonitoringRequest(subject=check_subject(), is_subscribed=True)
        )
    fake.aml.rescreen(made.id, hits=[person_hit("p-77", "Jane Roe")])
    url = "https://hooks.example/aml"
    assert (
        await fake.aml.send_monitoring_webhook(made.id, url=url, signing_key="k", transport=hook)
        == 200
    )
    assert (
        await fake.aml.send_expiration_webhook(
            url=url, signing_key="k", users_to_extend=3, users_to_expire=1, transport=hook
        )
        == 200
    )
    events = [
        webhooks.construct_event(
            body, headers["idenfy-signature"], "k", headers["idenfy-event-type"]
        )
        for body, headers in received
    ]
    first, second = events
    assert isinstance(first, AmlMonitoringEvent)
    assert first.monitoring_id == made.id
    assert first.status == "ALERT"
    assert first.check is not None
    assert [h.resource_id for h in first.check.hits] == ["p-77"]
    assert isinstance(second, AmlMonitoringExpirationEvent)
    assert (second.users_to_extend, second.users_to_expire) == (3, 1)
    assert [d.event_type for d in fake.webhooks] == ["AML_MONITORING", "AML_MONITORING_EXPIRATION"]


async def test_control_endpoints_drive_a_served_fake() -> None:
    """Scripted hits, a rescreen and both webhooks, from outside Python (over TCP)."""
    from tests.testing.test_control import Receiver

    hit = company_hit("co-1", "SHELL CO", score=97)
    async with (
        FakeIdenfyServer() as base_url,
        Receiver() as receiver,
        httpx.AsyncClient(base_url=base_url) as http,
        AsyncIdenfy("test-key", "test-secret", base_url=base_url) as client,
    ):
        scripted = await http.post("/__fake__/aml/script", json={"name": "Shell Co", "hits": [hit]})
        assert scripted.status_code == 200
        made = await client.aml.create_monitoring(
            AmlMonitoringRequest(
                subject=AmlCompany(client_id="c-1", company_name="SHELL CO"), is_subscribed=False
            )
        )
        assert made.status == "ALERT"
        extra = person_hit("p-2", "x")  # a person hit on a company: the shape is the caller's
        rescreened = await http.post(
            f"/__fake__/aml/monitorings/{made.id}/rescreen", json={"hits": [extra]}
        )
        assert len(rescreened.json()["amlCheck"]["amlCheck"]) == 2
        sent = await http.post(
            f"/__fake__/aml/monitorings/{made.id}/webhook",
            json={"url": receiver.url, "signingKey": "k"},
        )
        assert sent.json() == {"status": 200}
        expiring = await http.post(
            "/__fake__/aml/expiration-webhook",
            json={"url": receiver.url, "signingKey": "k", "usersToExpire": 2},
        )
        assert expiring.json() == {"status": 200}
        missing = await http.post("/__fake__/aml/monitorings/nope/webhook", json={"url": "x"})
        assert missing.status_code == 404
        bad = await http.post("/__fake__/aml/script", json={"hits": []})
        assert bad.status_code == 400
        assert (await http.get("/__fake__/aml/script")).status_code == 405
    events = [
        webhooks.construct_event(
            body, headers["idenfy-signature"], "k", headers["idenfy-event-type"]
        )
        for _, headers, body in receiver.requests
    ]
    assert isinstance(events[0], AmlMonitoringEvent)
    assert events[0].monitoring_id == made.id
    assert isinstance(events[1], AmlMonitoringExpirationEvent)
    assert events[1].users_to_expire == 2


def test_reset_forgets_checks_and_monitorings() -> None:
    fake = FakeIdenfy()
    assert _post(fake, "/aml/checks/", _check())[0] == 201
    fake.reset()
    assert (fake.aml.checks, fake.aml.check_requests) == ({}, [])
