"""The one https-or-loopback rule (``idenfy_async.models._urls``) that every URL check uses, and
the UI URLs built from a token."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from idenfy_async.models._urls import (
    face_auth_ui_url,
    is_loopback_host,
    secure_url_problem,
    session_ui_url,
)

SECURE = [
    "https://ivs.idenfy.com",
    "https://ivs.idenfy.com:8443/api/v2/token?x=1#y",
    "https://[2001:db8::1]/path",
    "http://127.0.0.1:8080/",
    "http://127.9.9.9/",
    "http://localhost:1234/cb",
    "http://[::1]:8080/",
]
INSECURE = [
    "http://kyc.example.com",
    "http://10.0.0.1/",
    "ftp://ivs.idenfy.com/",
    "ivs.idenfy.com",
    "https://",
    "https://[::1",
    "",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", SECURE)
def test_https_or_a_loopback_http_url_passes(url: str) -> None:
    assert secure_url_problem(url) is None


@pytest.mark.parametrize("url", INSECURE)
def test_every_other_url_is_refused_by_the_rule_never_by_repeating_the_url(url: str) -> None:
    problem = secure_url_problem(url)
    assert problem == "must be an https:// URL"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("build", "token", "url"),
    [
        (session_ui_url, "abc", "https://ui.idenfy.com/?authToken=abc"),
        (session_ui_url, "a b&c=d/", "https://ui.idenfy.com/?authToken=a+b%26c%3Dd%2F"),
        (face_auth_ui_url, "t-1", "https://face.authentication.idenfy.com/?token=t-1"),
        (face_auth_ui_url, "x?y#z", "https://face.authentication.idenfy.com/?token=x%3Fy%23z"),
    ],
)
def test_ui_urls_carry_the_token_as_one_query_value(
    build: Callable[[str], str], token: str, url: str
) -> None:
    """The UI URLs percent-encode the token, so it cannot add parameters or a fragment."""
    assert build(token) == url
    assert secure_url_problem(build(token)) is None
