"""HTTP backends under the client's ``httpx.AsyncClient``: httpx's own, or aiohttp.

``AsyncIdenfy(http_backend="aiohttp")`` puts :class:`AiohttpTransport` under the
client (``pip install 'idenfy-async[aiohttp]'``); everything above the transport
(retries, limits, errors) stays the same. Pass ``transport=AiohttpTransport(...)``
to tune it yourself. This package imports aiohttp only when that class is used, so
the core install never needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__all__ = [
    "HTTP_BACKENDS",
    "AiohttpTransport",
    "CookielessClient",
    "DirectClient",
    "HttpBackend",
    "build_transport",
]

#: ``"httpx"``: httpx's default transport (httpcore); ``"aiohttp"``: :class:`AiohttpTransport`.
HttpBackend = Literal["httpx", "aiohttp"]
HTTP_BACKENDS: Final[tuple[HttpBackend, ...]] = ("httpx", "aiohttp")


def build_transport(backend: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """The transport for ``backend`` with these pool ``limits``; None means httpx's own."""
    if backend == "httpx":
        return None
    if backend == "aiohttp":
        transport: httpx.AsyncBaseTransport = _aiohttp_module().AiohttpTransport(limits=limits)
        return transport
    raise ConfigurationError(
        f"http_backend must be one of {', '.join(map(repr, HTTP_BACKENDS))}, not {backend!r}"
    )


class CookielessClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` that ``AsyncIdenfy`` builds for itself: it keeps no
    cookies (iDenfy's API needs none; a load balancer's ``Set-Cookie`` is not sent back)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _IgnoredCookies()


#: The name ``client/`` imports (to be replaced there by :class:`CookielessClient`).
DirectClient = CookielessClient


class _IgnoredCookies(httpx.Cookies):
    """An always-empty cookie store: responses' ``Set-Cookie`` headers are not kept."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


def _aiohttp_module() -> Any:
    try:
        return importlib.import_module(f"{__name__}._aiohttp")
    except ImportError as exc:
        if exc.name is None or exc.name.partition(".")[0] not in ("aiohttp", "yarl", "multidict"):
            raise
        raise ConfigurationError(
            "http_backend='aiohttp' needs aiohttp: pip install 'idenfy-async[aiohttp]'"
        ) from exc


def __getattr__(name: str) -> Any:
    if name == "AiohttpTransport":
        return _aiohttp_module().AiohttpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
