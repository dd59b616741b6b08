"""Every value put into a URL path stays one segment of its endpoint's path, or is
refused before sending; a listing's ``next`` link never leaves the base path.

Over real TCP (tests/faultserver.py) for the cases reported in issue 19, and a
property over every client and resource method that puts a value into a path, with
arbitrary text, checked on the request line httpx would send (``raw_path``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from idenfy_async import (
    AsyncIdenfy,
    IdenfyError,
    RequestValidationError,
    RetryPolicy,
)
from idenfy_async._wire import aml as aml
from idenfy_async._wire import kyc as kyc
from idenfy_async._wire import results as _results_sansio
from idenfy_async._wire import sessions as _sansio
from idenfy_async.client._resources import _Resource
from idenfy_async.models import BlocklistSource
from tests.models.test_properties import PROPERTY, TEXT
from tests.support.faultserver import FaultServer, Respond

Call = Callable[[AsyncIdenfy, list[str]], Awaitable[Any]]

#: Every method that puts a value into a URL path: (its path template, the wire name of
#: each value in template order, a call given those values).
PATH_TAKING: dict[str, tuple[str, tuple[str, ...], Call]] = {
    "face_auth.check": (
        kyc.FACE_AUTH_CHECK_PATH,
        ("scanRef",),
        lambda c, v: c.face_auth.check(v[0]),
    ),
    "face_auth.get_session": (
        kyc.FACE_AUTH_SESSION_PATH_SHOWN,
        ("tokenString",),
        lambda c, v: c.face_auth.get_session(v[0]),
    ),
    "request_info.create": (
        kyc.REQUEST_INFORMATION_PATH,
        ("scanRef",),
        lambda c, v: c.request_info.create(v[0]),
    ),
    "blocklists.add": (
        kyc.BLOCKLIST_PATH,
        ("scanRef", "blocklistSource"),
        lambda c, v: c.blocklists.add(v[0], v[1]),
    ),
    "blocklists.remove": (
        kyc.BLOCKLIST_PATH,
        ("scanRef", "blocklistSource"),
        lambda c, v: c.blocklists.remove(v[0], v[1]),
    ),
    "aml.check_pdf": (aml.CHECK_PDF_PATH, ("id",), lambda c, v: c.aml.check_pdf(v[0])),
    "aml.get_profile": (
        aml.PROFILE_PATH,
        ("id", "profileId"),
        lambda c, v: c.aml.get_profile(v[0], v[1]),
    ),
    "aml.profile_pdf": (
        aml.PROFILE_PDF_PATH,
        ("id", "profileId"),
        lambda c, v: c.aml.profile_pdf(v[0], v[1]),
    ),
    "aml.get_monitoring": (aml.MONITORING_PATH, ("id",), lambda c, v: c.aml.get_monitoring(v[0])),
    "aml.update_monitoring": (
        aml.MONITORING_PATH,
        ("id",),
        lambda c, v: c.aml.update_monitoring(v[0], is_subscribed=True),
    ),
    "aml.delete_monitoring": (
        aml.MONITORING_PATH,
        ("id",),
        lambda c, v: c.aml.delete_monitoring(v[0]),
    ),
    "aml.start_monitoring": (aml.START_PATH, ("id",), lambda c, v: c.aml.start_monitoring(v[0])),
    "aml.stop_monitoring": (aml.STOP_PATH, ("id",), lambda c, v: c.aml.stop_monitoring(v[0])),
    "aml.monitoring_pdf": (
        aml.MONITORING_PDF_PATH,
        ("id",),
        lambda c, v: c.aml.monitoring_pdf(v[0]),
    ),
    "aml.remove_profile": (
        aml.MONITORING_PROFILE_PATH,
        ("id", "profileId"),
        lambda c, v: c.aml.remove_profile(v[0], v[1]),
    ),
}
#: Every other public method: a fixed path (values go into the body or the query), or
#: no request of its own (downloads take a whole URL iDenfy gave, checked apart).
NO_PATH_VALUES: frozenset[str] = frozenset(
    {
        "aclose",
        "capture_responses",
        "create_session",
        "create_sessions",
        "dedupe_store",
        "delete_verification",
        "download_file",
        "download_files",
        "forget_session",
        "generate_pdf",
        "get_data",
        "get_files",
        "get_status",
        "list_verifications",
        "mark_session_closed",
        "reconcile_session",
        "with_options",
        "with_response_info",
        "aml.create_check",
        "aml.create_monitoring",
        "aml.list_monitorings",
        "face_auth.create_token",
        "face_auth.list_sessions",
        "processing.process",
        "processing.upload_additional_step",
        "proof_of_address.check",
    }
)
_PLACEHOLDER = re.compile(r"\{[a-zA-Z_]+\}")


def _public_methods(client: AsyncIdenfy) -> set[str]:
    names = {n for n, v in inspect.getmembers(type(client)) if callable(v) and n[0] != "_"}
    for attribute in dir(client):
        resource = getattr(client, attribute) if attribute[0] != "_" else None
        if isinstance(resource, _Resource):
            names |= {
                f"{attribute}.{n}"
                for n, v in inspect.getmembers(type(resource))
                if callable(v) and n[0] != "_"
            }
    return names


def test_every_public_method_is_listed() -> None:
    """A new method must say whether it puts values into a path (then the property covers it)."""
    client = AsyncIdenfy("k", "s", transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    assert _public_methods(client) == set(PATH_TAKING) | NO_PATH_VALUES
    assert not set(PATH_TAKING) & NO_PATH_VALUES


def test_every_path_template_is_covered() -> None:
    """Each endpoint path with a placeholder, in every sans-I/O module, has a listed method."""
    templates = {
        value
        for module in (kyc, aml, _results_sansio, _sansio)
        for value in vars(module).values()
        if isinstance(value, str) and value.startswith("/") and _PLACEHOLDER.search(value)
    }
    assert templates == {template for template, _, _ in PATH_TAKING.values()}


# --------------------------------------------------------------------------- the property


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    return re.compile("([^/?#]*)".join(re.escape(part) for part in parts))


#: Text of every kind, weighted towards what a path could be broken with.
PATH_TEXT = st.one_of(
    TEXT,
    st.text(alphabet="./%2eE?#\\\r\n\x00 ", max_size=6),
    st.sampled_from([".", "..", "...", "%2e%2e", "%2E.", "a/..", "../x", "?", "#", "\r\n", "\x00"]),
    st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "S"]), min_size=1),
)
#: About half of them valid, so that requests are sent too.
SOURCES = st.booleans().flatmap(
    lambda valid: st.sampled_from([s.value for s in BlocklistSource]) if valid else PATH_TEXT
)
#: An AML check or monitoring id: a UUID (sent canonical, as drawn), else refused.
UUIDS = st.booleans().flatmap(lambda valid: st.uuids().map(str) if valid else PATH_TEXT)
_DRAWN = {"blocklistSource": SOURCES, "id": UUIDS}


async def _sent_for(
    call: Call, values: list[str]
) -> tuple[list[httpx.Request], IdenfyError | None]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404, json={"identifier": "NOT_FOUND"})

    transport = httpx.MockTransport(answer)
    async with AsyncIdenfy("k", "s", transport=transport, max_retries=0) as client:
        try:
            await call(client, values)
        except IdenfyError as exc:
            return sent, exc
    return sent, None


@pytest.mark.parametrize("name", sorted(PATH_TAKING))
@PROPERTY
@given(data=st.data())
def test_any_text_is_one_segment_or_refused(name: str, data: st.DataObject) -> None:
    """One segment per value (decoding back to it), or a typed refusal and nothing sent."""
    template, fields, call = PATH_TAKING[name]
    values = [data.draw(_DRAWN.get(f, PATH_TEXT), f) for f in fields]
    sent, error = asyncio.run(_sent_for(call, values))
    if isinstance(error, RequestValidationError):
        event("refused")
        assert sent == []
        assert set(error.fields) <= set(fields)
        return
    event("sent")
    [request] = sent
    path = request.url.raw_path.decode("ascii").partition("?")[0]
    match = _pattern(template).fullmatch(path)
    assert match is not None, path
    for segment, value in zip(match.groups(), values, strict=True):
        assert segment not in ("", ".", "..")
        assert urllib.parse.unquote(segment, errors="strict") == value


# --------------------------------------------------------------------------- over TCP

REFUSED: list[tuple[str, Call]] = [
    ("scanRef", lambda c, v: c.request_info.create(v[0])),
    ("scanRef", lambda c, v: c.blocklists.remove(v[0], "SELFIE")),
    ("scanRef", lambda c, v: c.blocklists.add(v[0], "DOCUMENT")),
    ("scanRef", lambda c, v: c.face_auth.check(v[0])),
    ("tokenString", lambda c, v: c.face_auth.get_session(v[0])),
]


@pytest.mark.parametrize("value", [".", "..", "..."])
@pytest.mark.parametrize(("field", "call"), REFUSED)
async def test_dot_values_are_refused_before_sending(
    policy: RetryPolicy, field: str, call: Call, value: str
) -> None:
    """``..`` would reach another endpoint (``POST /kyc/request-information/``): refused."""
    async with FaultServer() as server:
        async with AsyncIdenfy("k", "s", base_url=server.base_url, retry_policy=policy) as client:
            with pytest.raises(RequestValidationError) as excinfo:
                await call(client, [value])
        assert server.requests == []
    [problem] = excinfo.value.problems
    assert (problem.field, problem.rule) == (field, kyc.DOTS_RULE)


def _page(scan_ref: str, next_url: str | None) -> Respond:
    item = {"scanRef": scan_ref, "status": "APPROVED", "suspected": False}
    body = {"count": 2, "next": next_url, "previous": None, "results": [item]}
    return Respond(200, json.dumps(body).encode())


@pytest.mark.parametrize(
    "escape",
    ["/idenfy/../admin", "/idenfy/%2e%2e/admin", "/idenfy/kyc/.%2E/%2e./admin", "/idenfy/./.."],
)
async def test_a_next_link_never_leaves_the_base_path(policy: RetryPolicy, escape: str) -> None:
    """A next link out of the base path is not followed: page 2 is asked for under it."""
    async with FaultServer() as server:
        base_url = f"{server.base_url}/idenfy"
        next_url = f"{server.base_url}{escape}/kyc/identifications/?page=2"
        server.script(_page("a", next_url), _page("b", None))
        async with AsyncIdenfy("k", "s", base_url=base_url, retry_policy=policy) as client:
            found = [s.scan_ref async for s in client.list_verifications(per_page=1)]
    assert found == ["a", "b"]
    paths = [r.path for r in server.requests]
    assert [p.partition("?")[0] for p in paths] == ["/idenfy/kyc/identifications/"] * 2
    assert "page=2" in paths[1]


async def test_a_next_link_with_dot_segments_inside_the_base_path_is_followed(
    policy: RetryPolicy,
) -> None:
    """Resolved, the link is still ours: followed as the resolved path, query kept."""
    async with FaultServer() as server:
        base_url = f"{server.base_url}/idenfy"
        next_url = f"{server.base_url}/idenfy/kyc/x/../identifications/?page=2&cursor=c"
        server.script(_page("a", next_url), _page("b", None))
        async with AsyncIdenfy("k", "s", base_url=base_url, retry_policy=policy) as client:
            found = [s.scan_ref async for s in client.list_verifications(per_page=1)]
    assert found == ["a", "b"]
    assert server.requests[1].path == "/idenfy/kyc/identifications/?page=2&cursor=c"
