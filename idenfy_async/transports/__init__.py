"""HTTP backends under the client's ``httpx.AsyncClient``: httpx's own, or aiohttp.

``AsyncIdenfy(http_backend="aiohttp")`` puts
[`AiohttpTransport`][idenfy_async.transports.AiohttpTransport] under the client
(``pip install 'idenfy-async[aiohttp]'``); everything above the transport (retries, limits, errors)
stays the same. Pass ``transport=AiohttpTransport(...)`` to tune it yourself. This package imports
aiohttp only when that class is used, so the core install never needs it.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

__all__ = [
    "HTTP_BACKENDS",
    "AiohttpTransport",
    "DirectClient",
    "HttpBackend",
    "build_transport",
]

_httpx_logger: Final = logging.getLogger("httpx")

#: ``"httpx"``: httpx's default transport (httpcore); ``"aiohttp"``:
#: [`AiohttpTransport`][idenfy_async.transports.AiohttpTransport].
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


class DirectClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` that ``AsyncIdenfy`` builds for itself.

    It keeps no cookies (iDenfy's API needs none; a load balancer's ``Set-Cookie`` is
    not sent back). A streamed request with no auth, event hook or redirect to follow
    goes straight to the transport, past ``AsyncClient.send``'s auth flow, redirect
    loop and stream wrapping; anything else takes httpx's own path.

    Kept, with the pieces that name this class, for the aiohttp backend's CPU floor
    (``create_session`` <= 3x raw aiohttp at concurrency 64: 3.5-4.5x without them).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _IgnoredCookies()

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        hooks = self.event_hooks
        if (
            not stream
            or self.is_closed
            or not (auth is None or (auth is httpx.USE_CLIENT_DEFAULT and self.auth is None))
            or follow_redirects is True
            or self.follow_redirects
            or hooks["request"]
            or hooks["response"]
            or "timeout" not in request.extensions
            or request.url.userinfo
        ):
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        transport = self._transport_for_url(request.url)
        response = await transport.handle_async_request(request)
        response.request = request
        if _httpx_logger.isEnabledFor(logging.INFO):  # as httpx logs each request
            _httpx_logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response


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
