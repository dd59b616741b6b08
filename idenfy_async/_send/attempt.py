"""One attempt on the wire: send one request and read its answer, within its time.

It knows httpx, the aiohttp transport's direct path and asyncio, not retries or
pacing (:mod:`._http` runs it inside the attempt's :class:`~._http.WireErrors`).
``asyncio`` is imported inside the functions that run in a loop (where it is loaded
already, so that costs a dict lookup), not with the module: ``import idenfy_async``
does not load asyncio.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import httpx

from .. import errors
from .._wire.common import shown_path

if TYPE_CHECKING:
    from .sender import WireErrors

__all__ = ["AttemptExpired", "check_framing", "exchange"]


class AttemptExpired(Exception):
    """An attempt outlived its bound (raised by :class:`_AttemptTimer`, never escapes)."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


class _AttemptTimer:
    """Cancels the current task when the attempt outlives ``limit`` seconds.

    What ``asyncio.timeout`` does on 3.11+, written out so it also runs on 3.10: a
    timer on the loop (no extra task) that cancels us; :meth:`expired` then tells our
    cancellation from a caller's. On 3.11+ a caller's cancellation arriving in the
    same instant is kept (``Task.uncancel``); 3.10 cannot tell them apart.
    """

    __slots__ = ("_cancelling", "_fired", "_handle", "_task")

    def __init__(self, limit: float) -> None:
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._fired = False
        self._cancelling = task.cancelling() if hasattr(task, "cancelling") else 0
        self._handle = task.get_loop().call_later(limit, self._fire)

    def _fire(self) -> None:
        self._fired = True
        self._task.cancel()

    def stop(self) -> None:
        self._handle.cancel()

    def expired(self) -> bool:
        """Whether the CancelledError being handled is ours alone (call once, in except)."""
        if not self._fired:
            return False
        uncancel = getattr(self._task, "uncancel", None)
        return uncancel is None or uncancel() <= self._cancelling


def check_framing(headers: httpx.Headers) -> None:
    """Refuse an answer framed by both ``Transfer-Encoding`` and ``Content-Length``.

    RFC 9112 §6.3: Transfer-Encoding overrides, but such a message "ought to be
    handled as an error" (a sign of response splitting or smuggling). httpx's parser
    reads it by Transfer-Encoding, aiohttp's refuses it; both backends now refuse
    it, as the protocol error aiohttp raises: a create stays ambiguous (reconciled,
    never retried blindly) instead of trusting a body of doubtful framing.

    Raises:
        httpx.RemoteProtocolError: translated by :class:`~._http.WireErrors`.
    """
    if "transfer-encoding" in headers and "content-length" in headers:
        raise httpx.RemoteProtocolError(
            "the answer has both Transfer-Encoding and Content-Length (RFC 9112 §6.3)"
        )


async def exchange(
    sending: Awaitable[httpx.Response | tuple[int, httpx.Headers, bytes | None]],
    limit: float | None,
    cap: int,
    seen: WireErrors,
) -> tuple[int, httpx.Headers, bytes]:
    """Await ``sending`` (a streamed ``http.send``, or the aiohttp transport's
    :meth:`~idenfy_async.transports.AiohttpTransport.exchange`) and read its answer,
    at most ``cap`` bytes, within ``limit`` s.

    A success larger than ``cap`` is a :class:`ResponseDecodeError`; an error answer
    that large keeps its status and loses its body.
    """
    import asyncio

    timer = None if limit is None else _AttemptTimer(limit)
    response: httpx.Response | None = None
    content: bytes | None = None
    try:
        got = await sending
        if isinstance(got, tuple):  # read whole already, the cap applied
            status, headers, content = got
            seen.status, seen.headers = status, headers
        else:
            response = got
            status, headers = got.status_code, got.headers
            seen.status, seen.headers = status, headers
            check_framing(headers)
            content = await _read_response(response, cap)
    except asyncio.CancelledError:
        if timer is not None and timer.expired():
            raise AttemptExpired(limit or 0.0) from None
        raise
    finally:
        if timer is not None:
            timer.stop()  # first: a body read whole is not lost to a timer during close
        if response is not None:
            await response.aclose()
    if content is None:
        if 200 <= status < 300:
            raise errors.ResponseDecodeError(
                f"the answer is larger than {cap:,} bytes",
                status_code=status,
                method=seen.spec.method,
                path=shown_path(seen.spec),
            )
        content = b""  # an error status still says what happened; its body is not needed
    return status, headers, content


async def _read_response(response: httpx.Response, cap: int) -> bytes | None:
    """``response``'s body, or None when it is over ``cap`` bytes."""
    try:
        # A transport that read the body already (the aiohttp one, a mock): no
        # stream to walk, no header to look up; the cap applies all the same.
        content = response.content
    except httpx.ResponseNotRead:
        # Read in chunks, up to the cap (a declared length over it is not read at all).
        declared = response.headers.get("content-length")
        if declared is None or not declared.isdigit() or int(declared) <= cap:
            return await _read_capped(response, cap)
        return None
    return None if len(content) > cap else content


async def _read_capped(response: httpx.Response, cap: int) -> bytes | None:
    """The streamed body, or None once it passes ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
