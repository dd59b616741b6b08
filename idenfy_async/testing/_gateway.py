"""The fake's own rate limits, and the log of what reached the fake server.

A gateway refuses with 429 ``TOO_MANY_REQUESTS`` what goes beyond its limit, in one
of two shapes:

* `TokenBucket`: ``rate`` requests a second, at most ``capacity`` at once (a
  strict per-second gateway in front of an account has capacity 1: two requests
  closer than ``1/rate`` seconds, and the second is refused);
* `FixedWindow`: at most ``limit`` requests in each window of ``length``
  seconds, the windows aligned to multiples of ``length`` on the clock: iDenfy's
  documented hourly limit (10,000 an hour by default), answered without
  ``Retry-After``.

These are written apart from the client's own pacing on purpose: a fake that judged
the client with the client's limiter would hide that limiter's mistakes.

`RequestLog` keeps, for each API request the fake server received, its
arrival time, method, path (without the query), the status answered and, for a
session creation, a keyed hash of its clientId: the log is served over HTTP
(``GET /__fake__/requests``), so it holds no clientId and no other request data.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, Final

from ._common import Answer, answer, error

__all__ = [
    "FixedWindow",
    "Gateway",
    "RequestLog",
    "TokenBucket",
    "parse_limit",
]

#: Seconds per unit in a limit such as ``"10/s"``, ``"30/10s"`` or ``"10000/hour"``.
UNITS: Final = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
_LIMIT: Final = re.compile(r"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)?([a-z]+)")
#: Clock readings closer than this count as equal (float sums of token intervals).
_EPSILON: Final = 1e-9
#: The path whose requests create sessions (and carry a clientId).
TOKEN_PATH: Final = "/api/v2/token"
#: Entries the request log keeps; older ones are dropped (and counted).
MAX_LOG_ENTRIES: Final = 100_000


def parse_limit(spec: str, *, whole: bool = False) -> tuple[float, float]:
    """``(requests, seconds)`` from ``"10/s"``, ``"30/10s"``, ``"10000/hour"`` and alike.

    Raises:
        ValueError: the spec is not ``COUNT/[LENGTH]UNIT`` with a positive count and
            length and a unit among s, min, hour, day (and their spellings in
            `UNITS`), or (``whole=True``, a window's) the count is not whole.
    """
    match = _LIMIT.fullmatch(spec.strip().lower().replace(" ", ""))
    unit = UNITS.get(match.group(3)) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"rate limit {spec!r} is not understood: write it like"
            ' "10/s", "30/10s", "600/min" or "10000/hour"'
        )
    count, length = float(match.group(1)), float(match.group(2) or 1) * unit
    if not count > 0 or not length > 0:
        raise ValueError(f"rate limit {spec!r} must allow a positive number of requests")
    if whole and not count.is_integer():
        raise ValueError(f"window {spec!r} must allow a whole number of requests")
    return count, length


class TokenBucket:
    """``rate`` requests a second on average, at most ``capacity`` back to back.

    The bucket starts full; a refused request takes no token. Args: ``rate`` in
    requests per second; ``capacity`` (1: every two requests must be at least
    ``1/rate`` seconds apart); ``clock``: seconds, monotonic (injectable).
    """

    def __init__(
        self, rate: float, capacity: int = 1, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError("rate must be a positive, finite number of requests a second")
        if capacity < 1:
            raise ValueError("capacity must be at least 1 request")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._interval = 1.0 / rate
        # When the bucket is next full (a virtual scheduling time): each admitted
        # request pushes it one interval later; it may lead "now" by capacity - 1
        # intervals before a request is refused.
        self._full_at = -math.inf

    def __repr__(self) -> str:
        return f"TokenBucket({self.rate:g}/s, capacity={self.capacity})"

    def admit(self) -> float | None:
        """None when a request may pass now (and it takes a token), else the seconds
        until one may."""
        now = self._clock()
        earliest = self._full_at - (self.capacity - 1) * self._interval
        if now + _EPSILON < earliest:
            return earliest - now
        self._full_at = max(self._full_at, now) + self._interval
        return None


class FixedWindow:
    """At most ``limit`` requests in each window of ``length`` seconds.

    Window ``k`` is ``[k * length, (k + 1) * length)`` on ``clock`` (seconds,
    injectable): aligned, so a window starts afresh whenever its time comes, however
    its requests were spread. A refused request does not count.
    """

    def __init__(
        self, limit: int, length: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1:
            raise ValueError("a window must allow at least 1 request")
        if not length > 0 or math.isinf(length):
            raise ValueError("a window must last a positive, finite number of seconds")
        self.limit = limit
        self.length = length
        self._clock = clock
        self._window: int | None = None
        self._count = 0

    def __repr__(self) -> str:
        return f"FixedWindow({self.limit}/{self.length:g}s)"

    def admit(self) -> float | None:
        """None when a request may pass now (and it is counted), else the seconds until
        the window ends."""
        now = self._clock()
        window = math.floor(now / self.length)
        if window != self._window:
            self._window, self._count = window, 0
        if self._count >= self.limit:
            return (window + 1) * self.length - now
        self._count += 1
        return None


class Gateway:
    """What stands before the fake: a token bucket, a fixed window, or both.

    A request passes the bucket first (a per-second gateway in front of the account),
    then the window (the account's own limit). Beyond either, the answer is 429
    ``TOO_MANY_REQUESTS``: the bucket's with ``Retry-After`` (whole seconds until
    the next token, at least 1) unless ``retry_after=False``; the window's never
    with one, as iDenfy documents none.
    """

    def __init__(
        self,
        bucket: TokenBucket | None = None,
        window: FixedWindow | None = None,
        *,
        retry_after: bool = True,
    ) -> None:
        self.bucket = bucket
        self.window = window
        self.retry_after = retry_after

    @classmethod
    def from_specs(
        cls,
        rate_limit: str | None = None,
        *,
        burst: int = 1,
        window: str | None = None,
        retry_after: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> Gateway | None:
        """The gateway of ``rate_limit`` (a token bucket of capacity ``burst``) and
        ``window`` (a fixed window such as ``"10000/hour"``); None when neither is given.

        Raises:
            ValueError: a spec is not understood, or the window's count is not whole.
        """
        bucket = None
        if rate_limit is not None:
            count, seconds = parse_limit(rate_limit)
            bucket = TokenBucket(count / seconds, burst, clock=clock)
        fixed = None
        if window is not None:
            count, seconds = parse_limit(window, whole=True)
            fixed = FixedWindow(int(count), seconds, clock=clock)
        if bucket is None and fixed is None:
            return None
        return cls(bucket, fixed, retry_after=retry_after)

    def refuse(self) -> Answer | None:
        """The 429 for a request beyond a limit, or None when it passes (and counts)."""
        if self.bucket is not None and (wait := self.bucket.admit()) is not None:
            status, headers, body = error(429, "TOO_MANY_REQUESTS", "Too many requests.")
            if self.retry_after:
                headers = {**headers, "Retry-After": str(max(1, math.ceil(wait)))}
            return status, headers, body
        if self.window is not None and self.window.admit() is not None:
            return error(429, "TOO_MANY_REQUESTS", "Requests per hour limit has been reached.")
        return None


class RequestLog:
    """What reached the fake server: one entry per API request, oldest first.

    Each entry: ``time`` (the server's monotonic seconds at arrival, comparable with
    ``time.monotonic()`` of other processes on the same machine), ``method``,
    ``path`` (without the query), ``status`` (None when the answer was scripted to
    be lost) and, for ``POST /api/v2/token`` with a clientId, ``clientKey``: an HMAC
    of the clientId under a key drawn per log, equal for equal clientIds and telling
    nothing of them. At most ``limit`` entries are kept; ``dropped`` counts older
    ones let go.
    """

    def __init__(self, limit: int = MAX_LOG_ENTRIES, *, key: bytes | None = None) -> None:
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)
        self._key = key if key is not None else secrets.token_bytes(16)
        self.dropped: int = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self, arrived: float, method: str, path: str, body: bytes, status: int | None
    ) -> None:
        """Add one request (its body is only read for the clientId, never kept)."""
        path = path.partition("?")[0]
        entry: dict[str, Any] = {
            "time": arrived,
            "method": method,
            "path": path,
            "status": status,
        }
        if method == "POST" and path == TOKEN_PATH:
            entry["clientKey"] = self._client_key(body)
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """The entries kept, oldest first (copies)."""
        return [dict(entry) for entry in self._entries]

    def clear(self) -> int:
        """Forget every entry; the number forgotten."""
        forgotten = len(self._entries)
        self._entries.clear()
        self.dropped = 0
        return forgotten

    def control(self, method: str) -> Answer:
        """``GET /__fake__/requests``: the log; ``DELETE``: clear it."""
        if method == "GET":
            return answer(200, {"requests": self.entries(), "dropped": self.dropped})
        if method == "DELETE":
            return answer(200, {"forgottenRequests": self.clear()})
        return answer(405, {"error": "use GET or DELETE"})

    def _client_key(self, body: bytes) -> str | None:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        client_id = payload.get("clientId") if isinstance(payload, dict) else None
        if not isinstance(client_id, str):
            return None
        return hmac.new(self._key, client_id.encode(), hashlib.sha256).hexdigest()[:24]
