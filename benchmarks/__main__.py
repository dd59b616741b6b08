"""CPU time per call: ``AsyncIdenfy.create_session`` vs raw ``httpx`` post + ``.json()``.

Both send the same JSON request to the same local HTTP/1.1 keep-alive server (a
separate process, pinned to another CPU when there is one, so only the client's CPU
is counted by ``time.process_time``), sequentially (concurrency 1) and from 64
concurrent workers. After a warm-up and one untimed round, rounds alternate which
client goes first; medians per call are reported, with the library/raw ratio.

    python -m benchmarks [--calls N] [--rounds R] [--warmup W] [--check 1.10]
    python -m benchmarks --only cpu|bulk|memory   # one part (repeatable)

``--check`` exits with status 1 when a library/raw ratio exceeds the given factor.

After this CPU benchmark (part ``cpu``) come the bulk benchmarks of
:mod:`benchmarks.bulk`: throughput of ``create_sessions`` against ``asyncio.gather``
(part ``bulk``) and peak memory per input size (part ``memory``, exit status 1 when
over its limits).

Set-up, and why:

* Concurrency 1: each client has its own pool (the library its own ``AsyncClient``,
  built by ``AsyncIdenfy(max_concurrency=64)``); sequential calls keep one connection.
* Concurrency 64: ``AsyncIdenfy(max_concurrency=64, http_client=http)`` and raw calls
  share one ``httpx.AsyncClient(limits=Limits(max_connections=64, ...))``. At 64 at
  once, httpcore's per-request pool bookkeeping grows with the connections the pool
  holds (roughly quadratically with idle ones), and how many it holds depends on
  bursts and stalls of the moment: with separate pools that, not the library, made
  the two clients differ by up to 50% from one batch to the next. One pool gives
  both the same state; ``--own-pools`` measures with separate pools anyway.
* Workers start one per completed call, and only the steady state is timed (see
  :func:`measure`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from idenfy_async import AsyncIdenfy, Session

from . import bulk, redis_quota
from ._payload import (
    API_KEY,
    API_SECRET,
    REQUEST_FIELDS,
    REQUEST_PAYLOAD,
    TOKEN_PATH,
    TOKEN_RESPONSE,
)
from .server import ServerProcess, start_server

PARTS: Final = ("cpu", "bulk", "memory", "redis")
CONCURRENCIES: Final = (1, 64)
LIBRARY: Final = "idenfy-async create_session"
RAW: Final = "raw httpx post + .json()"
DEFAULT_CALLS: Final = 1500
DEFAULT_ROUNDS: Final = 9
SETTLE_CALLS: Final = 8  # untimed calls per worker before each timed window
DEFAULT_LATENCY_MS: Final = 0.0

Call = Callable[[], Awaitable[object]]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass
class Sample:
    """Per-call CPU and wall time of one measured batch, in microseconds."""

    cpu_us: float
    wall_us: float


@dataclass
class Results:
    samples: dict[tuple[str, int], list[Sample]] = field(default_factory=dict)

    def add(self, name: str, concurrency: int, sample: Sample) -> None:
        self.samples.setdefault((name, concurrency), []).append(sample)

    def cpu(self, name: str, concurrency: int) -> list[float]:
        return [s.cpu_us for s in self.samples[name, concurrency]]

    def wall(self, name: str, concurrency: int) -> list[float]:
        return [s.wall_us for s in self.samples[name, concurrency]]

    def paired(self, concurrency: int) -> list[float]:
        """library/raw CPU per call of each round: both ran back to back in it."""
        pairs = zip(self.cpu(LIBRARY, concurrency), self.cpu(RAW, concurrency), strict=True)
        return [lib / raw for lib, raw in pairs]

    def ratio(self, concurrency: int) -> float:
        """The median of the per-round ratios (a slow phase of the machine hits both)."""
        return statistics.median(self.paired(concurrency))

    def ratio_of_medians(self, concurrency: int) -> float:
        return statistics.median(self.cpu(LIBRARY, concurrency)) / statistics.median(
            self.cpu(RAW, concurrency)
        )


# --------------------------------------------------------------------------- measuring


async def measure(call: Call, calls: int, concurrency: int, settle: int = 0) -> Sample:
    """CPU and wall time per call over ``calls`` calls made ``concurrency`` at a time.

    Workers start one per completed call (a ramp, as traffic grows in a service),
    not all at once: a burst of 64 simultaneous first requests would make httpx open
    64 connections, and its pool's per-request work grows with the connections it
    holds until idle ones expire (5 s later). The clock runs from the ``settle``-th
    completed call to the ``settle + calls``-th, so only the steady state is timed;
    the calls still in flight at either end balance out.
    """
    total = settle + calls
    issued = done = started = 0
    marks: list[tuple[float, float]] = []
    workers: list[asyncio.Task[None]] = []

    def mark() -> None:
        marks.append((time.process_time(), time.perf_counter()))

    def start_worker() -> None:
        nonlocal started
        started += 1
        workers.append(asyncio.create_task(worker()))

    async def worker() -> None:
        nonlocal issued, done
        while issued < total:
            issued += 1
            await call()
            done += 1
            if done == settle:
                gc.collect()
                mark()
            elif done == total:
                mark()
            if started < concurrency and issued < total:
                start_worker()

    if settle == 0:
        gc.collect()
        mark()
    start_worker()
    try:
        while workers:
            # Awaited one by one: new workers may be appended meanwhile.
            await workers[0]
            workers.pop(0)
    except BaseException:
        for task in workers:
            task.cancel()
        raise
    (cpu0, wall0), (cpu1, wall1) = marks
    return Sample((cpu1 - cpu0) / calls * 1e6, (wall1 - wall0) / calls * 1e6)


async def check_same_request() -> None:
    """Fail loudly unless both clients send the same JSON body and the same credentials."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=TOKEN_RESPONSE)

    base = "http://127.0.0.1:9"
    async with AsyncIdenfy(
        API_KEY, API_SECRET, base_url=base, transport=httpx.MockTransport(handler)
    ) as client:
        await client.create_session(**REQUEST_FIELDS)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await http.post(base + TOKEN_PATH, json=REQUEST_PAYLOAD, auth=(API_KEY, API_SECRET))
    library, raw = seen
    if json.loads(library.content) != REQUEST_PAYLOAD:
        raise SystemExit(
            "benchmark is unfair: the library sends a different body than REQUEST_PAYLOAD:\n"
            f"{library.content.decode()}"
        )
    if json.loads(raw.content) != REQUEST_PAYLOAD:
        raise SystemExit("benchmark is unfair: httpx sends a different body")
    if library.headers["authorization"] != raw.headers["authorization"]:
        raise SystemExit("benchmark is unfair: the clients send different credentials")
    if library.url != raw.url or library.method != raw.method:
        raise SystemExit(f"benchmark is unfair: {library.url} != {raw.url}")


def _pool_size(http: httpx.AsyncClient | None) -> int | None:
    """Connections in an httpx client's pool (diagnostics only; private httpcore API)."""
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    connections = getattr(pool, "connections", None)
    return len(connections) if connections is not None else None


@dataclass
class Contender:
    name: str
    call: Call
    http: httpx.AsyncClient | None  # for diagnostics only


async def contenders_for(
    base_url: str, stack: contextlib.AsyncExitStack, *, shared_pool: bool
) -> list[Contender]:
    """A library client and a raw httpx client, both bounded to 64 at once.

    With ``shared_pool`` the library is given the raw client (``http_client=``), so
    both drive the very same httpx connection pool.
    """
    url = base_url + TOKEN_PATH
    limit = max(CONCURRENCIES)
    http = await stack.enter_async_context(
        httpx.AsyncClient(
            # The library's own default: the library reads the read value as the bound
            # of a whole attempt, and a cold burst of 64 connections on a loaded
            # machine can take longer than httpx's default 5 s.
            timeout=httpx.Timeout(30.0, connect=5.0, pool=10.0),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
    )
    client = await stack.enter_async_context(
        AsyncIdenfy(
            API_KEY,
            API_SECRET,
            base_url=base_url,
            max_concurrency=limit,
            max_retries=0,
            http_client=http if shared_pool else None,
        )
    )

    async def library_call() -> Session:
        return await client.create_session(**REQUEST_FIELDS)

    async def raw_call() -> Any:
        response = await http.post(url, json=REQUEST_PAYLOAD, auth=(API_KEY, API_SECRET))
        return response.json()

    session = await library_call()
    answer = await raw_call()
    if session.scan_ref != TOKEN_RESPONSE["scanRef"] or answer != TOKEN_RESPONSE:
        raise SystemExit("the benchmark server gave an unexpected answer")
    return [
        Contender(LIBRARY, library_call, getattr(client, "_http", None)),
        Contender(RAW, raw_call, http),
    ]


@dataclass
class Options:
    calls: int
    rounds: int
    warmup: int
    latency_ms: float
    own_pools: bool
    verbose: bool


async def run(server: ServerProcess, options: Options) -> Results:
    base_url, calls, rounds = server.base_url, options.calls, options.rounds
    latency_ms, warmup = options.latency_ms, options.warmup
    results = Results()
    async with contextlib.AsyncExitStack() as stack:
        # One pair of clients per concurrency: httpx's pool does work per idle
        # connection on every request, so a pool left with 64 connections by the
        # concurrent runs would slow the sequential ones down.
        pairs = {
            c: await contenders_for(base_url, stack, shared_pool=c > 1 and not options.own_pools)
            for c in CONCURRENCIES
        }
        _out(f"warm-up: {warmup} calls per client and concurrency ...")
        for concurrency, pair in pairs.items():
            server.set_delay(latency_ms if concurrency > 1 else 0)
            for contender in pair:
                await measure(contender.call, warmup, concurrency)

        # Then one untimed round exactly like the timed ones: the first batch after
        # the warm-up was consistently slower (pool left by the warm-up, caches).
        for round_no in range(-1, rounds):
            line = [f"round {round_no + 1}/{rounds}:" if round_no >= 0 else "untimed round:"]
            for concurrency, pair in pairs.items():
                server.set_delay(latency_ms if concurrency > 1 else 0)
                order = pair if round_no % 2 == 0 else pair[::-1]
                batch = {}
                for contender in order:
                    batch[contender.name] = await measure(
                        contender.call, calls, concurrency, settle=SETTLE_CALLS * concurrency
                    )
                    if round_no >= 0:
                        results.add(contender.name, concurrency, batch[contender.name])
                line.append(
                    f"c={concurrency}"
                    f" lib {batch[LIBRARY].cpu_us:6.1f}"
                    f" raw {batch[RAW].cpu_us:6.1f} us"
                )
                if options.verbose:
                    line.append("(pools " + "/".join(str(_pool_size(c.http)) for c in pair) + ")")
            _out("  ".join(line))
    return results


# --------------------------------------------------------------------------- reporting


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def usable_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def pin(cpus: list[int]) -> tuple[int, int] | None:
    """Put this process on one CPU and keep another for the server, when possible."""
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    client_cpu, server_cpu = cpus[0], cpus[1]
    os.sched_setaffinity(0, {client_cpu})
    return client_cpu, server_cpu


def machine_lines() -> list[str]:
    usable = len(usable_cpus())
    packages = ("idenfy-async", "httpx", "httpcore", "h11", "anyio", "sniffio", "attrs", "cattrs")
    return [
        f"platform: {platform.platform()}",
        f"cpu:      {_cpu_model()} ({os.cpu_count()} logical cores, {usable} usable)",
        f"python:   {platform.python_implementation()} {platform.python_version()}",
        "packages: " + ", ".join(f"{name} {_version(name)}" for name in packages),
    ]


def report(results: Results, options: Options) -> list[str]:
    rule = f"{'-' * 11}-+-{'-' * 28}-+-{'-' * 9}-+-{'-' * 22}-+-{'-' * 12}"
    pools = "separate pools" if options.own_pools else "one shared httpx pool"
    latency = f", server latency {options.latency_ms:g} ms" if options.latency_ms else ""
    lines = [
        "",
        "CPU time of the client process (time.process_time) per call, in microseconds:"
        f" median of {options.rounds} rounds x {options.calls} calls, with the rounds'"
        f" min-max. The ratio is the median of the rounds' library/raw ratios."
        f" Concurrency 64: {pools}{latency}.",
        "",
        f"{'concurrency':>11} | {'client':<28} | {'median':>9} | {'min-max over rounds':>22}"
        f" | {'wall us/call':>12}",
        rule,
    ]
    for concurrency in CONCURRENCIES:
        for name in (LIBRARY, RAW):
            cpu = results.cpu(name, concurrency)
            wall = statistics.median(results.wall(name, concurrency))
            spread = f"{min(cpu):.1f}-{max(cpu):.1f}"
            lines.append(
                f"{concurrency:>11} | {name:<28} | {statistics.median(cpu):9.1f} |"
                f" {spread:>22} | {wall:12.1f}"
            )
        paired = results.paired(concurrency)
        spread = f"{min(paired):.3f}-{max(paired):.3f}"
        lines.append(
            f"{concurrency:>11} | {'ratio library/raw, per round':<28} |"
            f" {results.ratio(concurrency):8.3f}x | {spread:>22} |"
            f" of medians {results.ratio_of_medians(concurrency):.3f}x"
        )
        lines.append(rule)
    return lines


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="CPU per call of AsyncIdenfy.create_session vs raw httpx, then bulk"
        " throughput, memory and the account-wide Redis quota.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this part (repeatable; default: all of %(choices)s, in that order)",
    )
    parser.add_argument(
        "--calls", type=bulk.positive_int, default=DEFAULT_CALLS, help="calls per measured batch"
    )
    parser.add_argument(
        "--rounds",
        type=bulk.positive_int,
        default=DEFAULT_ROUNDS,
        help="measured rounds (interleaved)",
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="warm-up calls per client (default: calls/4)"
    )
    parser.add_argument(
        "--check",
        type=float,
        default=None,
        metavar="RATIO",
        help="exit 1 if a library/raw CPU ratio (median of the rounds') exceeds RATIO, e.g. 1.10",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=DEFAULT_LATENCY_MS,
        help="simulated API latency: server delay per answer in the concurrent runs"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--own-pools",
        action="store_true",
        help="concurrency 64: the library on its own httpx client, not the raw one's"
        " (noisier: the two pools drift apart)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the client and the server to separate CPUs",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show httpx pool sizes per round"
    )
    parser.add_argument(
        "--redis-url",
        help="redis part: an existing Redis (default: start a redis-server on a free port)",
    )
    parser.add_argument(
        "--redis-seconds",
        type=float,
        default=redis_quota.DEFAULT_SECONDS,
        help="redis part: seconds each multi-process measurement runs (default: %(default)s)",
    )
    bulk.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = [part for part in PARTS if args.only is None or part in args.only]
    for line in machine_lines():
        _out(line)
    redis_status = 0
    if "redis" in parts:
        # First, before pinning: its worker processes would inherit one CPU.
        redis_status = redis_quota.run_part(args.redis_url, seconds=args.redis_seconds)
    if parts == ["redis"]:
        return redis_status
    pinned = pin(usable_cpus()) if args.pin else None
    status = cpu_part(args, pinned) if "cpu" in parts else 0
    if "bulk" in parts or "memory" in parts:
        status = max(status, bulk.run_parts(args, parts, pinned, _out))
    return max(status, redis_status)


def cpu_part(args: argparse.Namespace, pinned: tuple[int, int] | None) -> int:
    calls: int = args.calls
    options = Options(
        calls=calls,
        rounds=args.rounds,
        warmup=args.warmup if args.warmup is not None else max(calls // 4, max(CONCURRENCIES)),
        latency_ms=args.latency_ms,
        own_pools=args.own_pools,
        verbose=args.verbose,
    )

    asyncio.run(check_same_request())
    with start_server(cpu=pinned[1] if pinned else None) as server:
        where = f", client on CPU {pinned[0]}, server on CPU {pinned[1]}" if pinned else ""
        _out(f"server:   {server.base_url} (separate process{where})")
        results = asyncio.run(run(server, options))
    for line in report(results, options):
        _out(line)

    if args.check is not None:
        over = [c for c in CONCURRENCIES if results.ratio(c) > args.check]
        if over:
            _out(
                f"CHECK FAILED: library/raw CPU ratio above {args.check:.2f}x at concurrency "
                + ", ".join(f"{c} ({results.ratio(c):.3f}x)" for c in over)
            )
            return 1
        _out(f"check passed: every library/raw CPU ratio is within {args.check:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
