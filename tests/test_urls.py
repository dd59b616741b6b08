"""The one https-or-loopback rule (``idenfy_async._urls``) that every URL check uses."""

from __future__ import annotations

import pytest

from idenfy_async._urls import is_loopback_host, secure_url_problem

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
