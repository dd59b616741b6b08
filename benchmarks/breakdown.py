"""Where the library's extra CPU per call goes, compared with raw httpx.

    python -m benchmarks.breakdown [--calls N] [--top K]

Three views, all CPU time of this process (``time.process_time``):

1. **In-process transport**: both clients call a transport that answers at once
   with the same 201 body: no sockets, no server, so the difference is the
   library's own work, with far less noise than over the network.
2. **Steps**: each piece of pure work the library adds around the HTTP call,
   timed alone (best of 5), next to what raw httpx does instead.
3. **Ablation in context**: over loopback to the benchmark server, the library with
   one piece at a time replaced by a precomputed result or a no-op (monkeypatched,
   restored after): what each piece really costs inside a call, where caches are
   colder than in a tight loop (typically 2-3x the figures of 2.).
4. **Profile**: ``cProfile`` of calls over loopback to the benchmark server, own
   time summed by package for the library and for raw httpx, and the library's
   costliest functions. cProfile inflates every function call, so read these as
   shares, not as absolute microseconds.

Uses private modules of ``idenfy_async`` (``_sansio``, ``_converter``): a tool for
the library's developers, not an API example.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import json
import pstats
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Final

import httpx

from idenfy_async import AsyncIdenfy, SessionRequest
from idenfy_async._send import sender as _http_module
from idenfy_async._wire import common as _wire
from idenfy_async._wire import converter as _converter
from idenfy_async._wire import sessions as _sansio

from .__main__ import Call, measure_ramp
from ._payload import (
    API_KEY,
    API_SECRET,
    REQUEST_FIELDS,
    REQUEST_PAYLOAD,
    TOKEN_PATH,
    TOKEN_RESPONSE_BODY,
)
from .server import start_server

LOOPBACK_BASE: Final = "http://127.0.0.1:9"  # never dialled: the transport answers
_RESPONSE_HEADERS: Final = {
    "content-type": "application/json",
    "content-length": str(len(TOKEN_RESPONSE_BODY)),
}


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class InstantTransport(httpx.AsyncBaseTransport):
    """Reads the request body and answers the fixed 201 token response at once."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return httpx.Response(201, headers=_RESPONSE_HEADERS, content=TOKEN_RESPONSE_BODY)


def best_of(fn: Callable[[], object], calls: int, repeat: int = 5) -> float:
    """Microseconds per call of ``fn()``: the best of ``repeat`` timed loops."""
    for _ in range(max(1, calls // 10)):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


async def abest_of(fn: Callable[[], Awaitable[object]], calls: int, repeat: int = 5) -> float:
    """Microseconds per awaited call of ``fn()``: the best of ``repeat`` timed loops."""
    for _ in range(max(1, calls // 10)):
        await fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            await fn()
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


# --------------------------------------------------------------------------- 1. in-process


async def in_process(calls: int) -> list[tuple[str, float]]:
    async with (
        AsyncIdenfy(
            API_KEY,
            API_SECRET,
            base_url=LOOPBACK_BASE,
            transport=InstantTransport(),
            max_retries=0,
            max_concurrency=64,
        ) as client,
        httpx.AsyncClient(transport=InstantTransport()) as http,
    ):
        url = LOOPBACK_BASE + TOKEN_PATH
        request = SessionRequest(**REQUEST_FIELDS)
        body = _sansio.build_create_session(request).body
        token = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

        async def library_fields() -> object:
            return await client.create_session(**REQUEST_FIELDS)

        async def library_request() -> object:
            return await client.create_session(request)

        async def raw() -> object:
            response = await http.post(url, json=REQUEST_PAYLOAD, auth=(API_KEY, API_SECRET))
            return response.json()

        async def raw_bytes() -> object:
            # The HTTP part of the library's call, without the library around it.
            response = await http.post(url, content=body, headers=headers)
            return response.content

        rows = [
            ("library: create_session(**fields)", library_fields),
            ("library: create_session(SessionRequest)", library_request),
            ("raw httpx: post(json=, auth=) + .json()", raw),
            ("raw httpx: post(content=bytes, headers=) only", raw_bytes),
        ]
        results: dict[str, list[float]] = defaultdict(list)
        for _ in range(2):  # interleaved, best of both passes
            for name, fn in rows:
                results[name].append(await abest_of(fn, calls))
        return [(name, min(results[name])) for name, _ in rows]


# --------------------------------------------------------------------------- 2. steps


def steps(calls: int) -> list[tuple[str, float]]:
    request = SessionRequest(**REQUEST_FIELDS)
    decoded = json.loads(TOKEN_RESPONSE_BODY)
    body = TOKEN_RESPONSE_BODY
    work: list[tuple[str, Callable[[], object]]] = [
        (
            "SessionRequest(**fields) (validation)",
            lambda: SessionRequest(**REQUEST_FIELDS),
        ),
        (
            "session_request_to_wire (cattrs unstructure)",
            lambda: _converter.session_request_to_wire(request),
        ),
        (
            "build_create_session (unstructure + dumps)",
            lambda: _sansio.build_create_session(request),
        ),
        ("is_error_body", lambda: _sansio.is_error_body(201, body)),
        (
            "parse_create_session (loads + structure + redirect)",
            lambda: _sansio.parse_create_session(201, body, base_url=LOOPBACK_BASE),
        ),
        (
            "  of which structure_session (cattrs structure)",
            lambda: _converter.structure_session(decoded),
        ),
        (
            "raw: json.dumps(payload), as httpx does",
            lambda: json.dumps(
                REQUEST_PAYLOAD, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode(),
        ),
        ("raw: json.loads(body), as response.json() does", lambda: json.loads(body)),
        (
            "raw: httpx.BasicAuth(key, secret), auth= per call",
            lambda: httpx.BasicAuth(API_KEY, API_SECRET),
        ),
    ]
    return [(name, best_of(fn, calls)) for name, fn in work]


# --------------------------------------------------------------------------- 3. ablation


class _NoLimit:
    async def acquire(self) -> None:
        return None

    def release(self) -> None:
        return None

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _direct(send: Callable[[], Awaitable[Any]], **_: Any) -> Any:
    return await send()


@contextlib.contextmanager
def _patched(client: AsyncIdenfy, removed: Sequence[str], base_url: str) -> Iterator[None]:
    """Swap library pieces for precomputed results or no-ops; restore them after."""
    request = SessionRequest(**REQUEST_FIELDS)
    spec = _sansio.build_create_session(request)
    session = _sansio.parse_create_session(201, TOKEN_RESPONSE_BODY, base_url=base_url)
    swaps: list[tuple[object, str, object]] = []
    if "validation" in removed:
        swaps.append((SessionRequest, "__attrs_post_init__", lambda self: None))
    if "build" in removed:
        swaps.append((_sansio, "build_create_session", lambda req: spec))
    if "parse" in removed:
        swaps.append((_sansio, "parse_create_session", lambda *a, **k: session))
    if "is_error_body" in removed:
        swaps.append((_wire, "is_error_body", lambda *a: False))
    if "retry/limiter" in removed:
        swaps.append((_http_module, "retry_call", _direct))
        swaps.append((client._sender.admission, "limiter", _NoLimit()))
    saved = [(target, name, getattr(target, name)) for target, name, _ in swaps]
    try:
        for target, name, value in swaps:
            setattr(target, name, value)
        yield
    finally:
        for target, name, value in reversed(saved):
            setattr(target, name, value)


async def ablation(base_url: str, calls: int, rounds: int) -> list[tuple[str, float]]:
    """Over loopback, sequential: the library with one piece at a time taken out."""
    url = base_url + TOKEN_PATH
    async with (
        AsyncIdenfy(API_KEY, API_SECRET, base_url=base_url, max_retries=0) as client,
        httpx.AsyncClient() as http,
    ):
        prebuilt = SessionRequest(**REQUEST_FIELDS)

        async def raw() -> object:
            response = await http.post(url, json=REQUEST_PAYLOAD, auth=(API_KEY, API_SECRET))
            return response.json()

        async def fields() -> object:
            return await client.create_session(**REQUEST_FIELDS)

        async def request() -> object:
            return await client.create_session(prebuilt)

        everything = ("build", "parse", "is_error_body", "retry/limiter")
        variants: list[tuple[str, Call, tuple[str, ...]]] = [
            ("raw httpx post(json=, auth=) + .json()", raw, ()),
            ("library create_session(**fields)", fields, ()),
            ("  without SessionRequest validation", fields, ("validation",)),
            ("library create_session(SessionRequest)", request, ()),
            ("  without build_create_session", request, ("build",)),
            ("  without parse_create_session", request, ("parse",)),
            ("  without is_error_body", request, ("is_error_body",)),
            ("  without retry_call and the limiter", request, ("retry/limiter",)),
            ("  without all four: httpx part only", request, everything),
        ]
        samples: dict[str, list[float]] = defaultdict(list)
        for _, call, removed in variants:
            with _patched(client, removed, base_url):
                await measure_ramp(call, max(100, calls // 4), 1)
        for round_no in range(rounds):
            for name, call, removed in variants if round_no % 2 == 0 else variants[::-1]:
                with _patched(client, removed, base_url):
                    sample = await measure_ramp(call, calls, 1, settle=50)
                samples[name].append(sample.cpu_us)
        return [(name, statistics.median(samples[name])) for name, _, _ in variants]


# --------------------------------------------------------------------------- 4. profile

_GROUPS: Final = (
    ("idenfy_async", "/idenfy_async/"),
    ("attrs/cattrs generated", "<attrs generated"),
    ("attrs/cattrs generated", "<cattrs generated"),
    ("cattrs", "/cattrs/"),
    ("attrs", "/attr/"),
    ("httpx", "/httpx/"),
    ("httpcore", "/httpcore/"),
    ("h11", "/h11/"),
    ("anyio", "/anyio/"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
    ("benchmark harness", "/benchmarks/"),
)


def _group(filename: str) -> str:
    for name, marker in _GROUPS:
        if marker in filename:
            return name
    if filename == "~":
        return "builtins (C)"
    return "other stdlib"


def grouped(stats: pstats.Stats, calls: int) -> dict[str, float]:
    raw_stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw_stats = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in raw_stats.items():
        totals[_group(filename)] += tottime / calls * 1e6
    return dict(totals)


def top_functions(stats: pstats.Stats, calls: int, count: int) -> list[tuple[str, float, float]]:
    """The library's own and attrs/cattrs-generated functions, costliest own time first."""
    raw_stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw_stats = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_, _, tottime, cumtime, _) in raw_stats.items():
        if "/idenfy_async/" in filename:
            where = "idenfy_async/" + filename.rsplit("/idenfy_async/", 1)[1]
        elif filename.startswith(("<attrs generated", "<cattrs generated")):
            where = re.sub(r" generated (\w+ )?idenfy_async\.models\.", r" \1", filename)
        else:
            continue
        label = f"{where}:{line}({function})"[-64:]
        rows.append((label, tottime / calls * 1e6, cumtime / calls * 1e6))
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:count]


async def profile(base_url: str, calls: int) -> tuple[pstats.Stats, pstats.Stats]:
    url = base_url + TOKEN_PATH
    async with (
        AsyncIdenfy(API_KEY, API_SECRET, base_url=base_url, max_retries=0) as client,
        httpx.AsyncClient() as http,
    ):

        async def library() -> object:
            return await client.create_session(**REQUEST_FIELDS)

        async def raw() -> object:
            response = await http.post(url, json=REQUEST_PAYLOAD, auth=(API_KEY, API_SECRET))
            return response.json()

        profiles = []
        for fn in (library, raw):
            for _ in range(max(1, calls // 10)):
                await fn()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(calls):
                await fn()
            profiler.disable()
            profiles.append(pstats.Stats(profiler))
        return profiles[0], profiles[1]


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.breakdown",
        description="Where the library's extra CPU per call goes.",
    )
    parser.add_argument("--calls", type=int, default=1000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the ablation (3.)")
    parser.add_argument("--top", type=int, default=20, help="library functions to list")
    args = parser.parse_args(argv)
    calls: int = args.calls

    _out("1. In-process transport (no sockets): CPU us per call, best of 5 x 2")
    rows = asyncio.run(in_process(calls))
    raw_cost = dict(rows)["raw httpx: post(json=, auth=) + .json()"]
    for name, cost in rows:
        _out(f"   {name:<48} {cost:7.1f}   ({cost - raw_cost:+6.1f} vs raw)")

    _out()
    _out("2. Steps alone: CPU us per call, best of 5")
    for name, cost in steps(calls * 3):
        _out(f"   {name:<56} {cost:7.2f}")

    _out()
    _out(
        f"3. In context, over loopback, sequential: CPU us per call, median of {args.rounds}"
        f" interleaved rounds x {calls} calls, pieces taken out (replaced by precomputed"
        " results or no-ops)"
    )
    with start_server() as server:
        ablated = asyncio.run(ablation(server.base_url, calls, args.rounds))
        raw_cost = parent = ablated[0][1]
        for name, cost in ablated:
            if name.startswith(" "):
                _out(f"   {name:<48} {cost:7.1f}   (so it costs {parent - cost:5.1f})")
            else:
                parent = cost
                _out(f"   {name:<48} {cost:7.1f}   ({cost - raw_cost:+6.1f} vs raw)")

        _out()
        _out(f"4. cProfile over loopback, {calls} sequential calls each: own time, us per call")
        library, raw = asyncio.run(profile(server.base_url, calls))
    lib_groups, raw_groups = grouped(library, calls), grouped(raw, calls)
    names = sorted(set(lib_groups) | set(raw_groups), key=lambda n: -lib_groups.get(n, 0.0))
    _out(f"   {'package':<26} {'library':>9} {'raw':>9} {'extra':>9}")
    for name in names:
        lib, rw = lib_groups.get(name, 0.0), raw_groups.get(name, 0.0)
        _out(f"   {name:<26} {lib:9.1f} {rw:9.1f} {lib - rw:+9.1f}")
    lib_total, raw_total = sum(lib_groups.values()), sum(raw_groups.values())
    extra = lib_total - raw_total
    _out(f"   {'total (profiled)':<26} {lib_total:9.1f} {raw_total:9.1f} {extra:+9.1f}")

    _out()
    _out(f"   library's own and generated functions, top {args.top} by own time (us per call):")
    _out(f"   {'function':<64} {'own':>7} {'cumul.':>8}")
    for function, own, cumulative in top_functions(library, calls, args.top):
        _out(f"   {function:<64} {own:7.2f} {cumulative:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
