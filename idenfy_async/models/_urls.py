"""Where this library sends or points anything: the https-or-loopback rule, and the
UI URLs built from a token (the verification UI and the face-authentication UI).

Every URL the library sends to (``base_url``, a file download, a fake's webhook) or
puts into a request (``successUrl`` and the other redirect URLs) passes
`secure_url_problem`. Plain ``http://`` is allowed only for loopback hosts, so
that local development and [`FakeIdenfy`][idenfy_async.testing.FakeIdenfy] work while no
secret, token or personal data ever crosses a network in clear. The client's
``allow_insecure_http`` opt-in (or ``IDENFY_ALLOW_INSECURE_HTTP=1``) is the one
exception: plain ``http://`` to its base URL's own origin, e.g. a fake iDenfy in
docker-compose.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Final

__all__ = [
    "FACE_AUTH_UI_URL",
    "IFRAME_BASE_URL",
    "face_auth_ui_url",
    "is_loopback_host",
    "origin_of",
    "secure_url_problem",
    "session_ui_url",
    "uri_syntax_problem",
]

#: iDenfy's verification UI: a session's auth token opens it (redirect or iframe).
IFRAME_BASE_URL: Final = "https://ui.idenfy.com/"
#: iDenfy's face-authentication UI: a face-auth token opens it.
FACE_AUTH_UI_URL: Final = "https://face.authentication.idenfy.com/"

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: The common case, accepted without parsing.
_PLAIN_HTTPS_URL: Final = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][^\s]*)?")
#: What every refusal says: the rule, never the URL (it may carry a token).
HTTPS_RULE: Final = "must be an https:// URL"
URI_RULE: Final = (
    "must be a URI as RFC 3986 writes it (no spaces, quotes, braces or other characters"
    " that must be percent-encoded)"
)

_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"[A-Za-z0-9\-._~]"
_SUB_DELIMS = r"[!$&'()*+,;=]"
_PCHAR = rf"(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|[:@])"
#: An absolute URI with an authority (RFC 3986 section 3, ``scheme://authority
#: path-abempty [?query] [#fragment]``): what ``format: uri`` means in iDenfy's contract.
_RFC3986_URL: Final = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*://"
    rf"(?:(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS}|:)*@)?"
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:{_UNRESERVED}|{_PCT}|{_SUB_DELIMS})*)(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an absolute URL (scheme and host lower-cased, the port
    written out even when it is the scheme's default), or None if it has no host."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a bad port or an unclosed IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    if not host or scheme not in _DEFAULT_PORTS:
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port or _DEFAULT_PORTS[scheme]}"


def secure_url_problem(url: str) -> str | None:
    """None when ``url`` is absolute ``https://``, or ``http://`` on a loopback host.

    Otherwise the broken rule, for a [`FieldProblem`][idenfy_async.FieldProblem] or a
    [`ConfigurationError`][idenfy_async.ConfigurationError]; the URL itself is never repeated.
    """
    if _PLAIN_HTTPS_URL.fullmatch(url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return HTTPS_RULE
    if not host:
        return HTTPS_RULE
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback_host(host):
        return None  # local development and FakeIdenfy only; iDenfy itself needs https
    return HTTPS_RULE


def uri_syntax_problem(url: str) -> str | None:
    """None when ``url`` is an absolute URI as RFC 3986 writes it, else the broken rule.

    A URL with a character RFC 3986 does not allow unencoded (a space, ``"``, ``{``,
    ``<``, a non-ASCII letter, a ``%`` not followed by two hex digits) is refused, not
    percent-encoded here: encoding could change what the caller meant (is ``%41`` an
    ``A`` or the text ``%41``?), so the caller encodes it.
    """
    return None if _RFC3986_URL.fullmatch(url) else URI_RULE


def session_ui_url(auth_token: str) -> str:
    """The verification UI URL for a session: ``https://ui.idenfy.com/?authToken=...``."""
    return IFRAME_BASE_URL + "?" + urllib.parse.urlencode({"authToken": auth_token})


def face_auth_ui_url(token: str) -> str:
    """The face-authentication UI URL for a token (``...?token=...``)."""
    return FACE_AUTH_UI_URL + "?" + urllib.parse.urlencode({"token": token})
