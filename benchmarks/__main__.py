"""CPU time per call: ``AsyncIdenfy.create_session`` on each transport vs raw aiohttp and httpx.

Four clients send the same JSON request to the same local HTTP/1.1 keep-alive server
(a separate process, pinned to another CPU when there is one, so only the client's
CPU is counted by ``time.process_time``):

* raw aiohttp: ``session.post(json=...)`` + ``.json()`` on a ``TCPConnector(limit=c)``;
* raw httpx: ``client.post(json=...)`` + ``.json()`` on ``Limits(max_connections=c)``;
* the library on the aiohttp transport: ``AsyncIdenfy(http_backend="aiohttp")``;
* the library on httpx's transport: ``AsyncIdenfy()`` (its own pool).

Each client is built for one concurrency ``c`` (``max_concurrency=c`` for the library)
and measured at 1, 8, 64 and 256, with two ways of starting:

* ``ramp``: workers start one per completed call (as traffic grows in a service) and
  only the steady state is timed (see :func:`measure_ramp`);
* ``burst``: ``asyncio.gather`` of every call at once, the whole gather timed. The
  library bounds it with its own ``max_concurrency``, the raw clients with an
  ``asyncio.Semaphore(c)``: what a caller writes. This is where a pool's cost of
  many waiting requests shows.

After a warm-up, rounds rotate which client goes first; medians per call are
reported, and ratios as the median of the rounds' ratios (a slow phase of a shared
machine hits every client of a round alike).

    python -m benchmarks [--quick] [--calls N] [--rounds R] [--concurrency 1,64]
    python -m benchmarks --only cpu|import|bulk|memory|redis|pacing   # one part (repeatable)
    python -m benchmarks --check-aiohttp 2.5 --check 1.10 --check-import 1.5 --check-pacing

``--check-aiohttp`` exits 1 when the aiohttp-transport library costs more than that
factor of raw aiohttp in any cell; ``--check`` the same for the httpx-transport
library against raw httpx; ``--check-import`` when ``import idenfy_async`` takes more
than that factor of ``import httpx``.

After these come the bulk benchmarks of :mod:`benchmarks.bulk`: throughput of
``create_sessions`` against ``asyncio.gather`` (part ``bulk``) and peak memory per
input size (part ``memory``, exit status 1 when over its limits). Part ``redis`` is
:mod:`benchmarks.redis_quota`; part ``pacing`` (:mod:`benchmarks.pacing`, about 2
minutes) measures how much of a rate limit ``idenfy-async bulk`` uses, at a fake
server's request log (``--check-pacing``: exit 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from idenfy_async import AsyncIdenfy, Session

from . import bulk, pacing, redis_quota
from ._payload import (
    API_KEY,
    API_SECRET,
    REQUEST_FIELDS,
    REQUEST_PAYLOAD,
    TOKEN_PATH,
    TOKEN_RESPONSE,
)
from .server import ServerProcess, start_server

PARTS: Final = ("cpu", "import", "bulk", "memory", "redis", "pacing")
CONCURRENCIES: Final = (1, 8, 64, 256)
STARTS: Final = ("ramp", "burst")
RAW_AIOHTTP: Final = "raw aiohttp"
RAW_HTTPX: Final = "raw httpx"
LIB_AIOHTTP: Final = "library, aiohttp transport"
LIB_HTTPX: Final = "library, httpx transport"
CONTENDERS: Final = (RAW_AIOHTTP, RAW_HTTPX, LIB_AIOHTTP, LIB_HTTPX)
DEFAULT_CALLS: Final = 1000
DEFAULT_ROUNDS: Final = 5
QUICK_CALLS: Final = 200
QUICK_ROUNDS: Final = 3
SETTLE_CALLS: Final = 4  # untimed calls per worker before each ramped window
IMPORT_RUNS: Final = 9
DEFAULT_LATENCY_MS: Final = 0.0
_AUTHORIZATION: Final = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()

Call = Callable[[], Awaitable[object]]
Cell = tuple[str, int]  # (start, concurrency)


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
    samples: dict[tuple[str, str, int], list[Sample]] = field(default_factory=dict)

    def add(self, name: str, cell: Cell, sample: Sample) -> None:
        self.samples.setdefault((name, cell[0], cell[1]), []).append(sample)

    def cpu(self, name: str, cell: Cell) -> list[float]:
        return [s.cpu_us for s in self.samples[name, cell[0], cell[1]]]

    def wall(self, name: str, cell: Cell) -> list[float]:
        return [s.wall_us for s in self.samples[name, cell[0], cell[1]]]

    def ratio(self, name: str, base: str, cell: Cell) -> float:
        """Median of the per-round CPU ratios name/base (both ran in each round)."""
        pairs = zip(self.cpu(name, cell), self.cpu(base, cell), strict=True)
        return statistics.median(a / b for a, b in pairs)


# --------------------------------------------------------------------------- measuring


async def measure_ramp(call: Call, calls: int, concurrency: int, settle: int = 0) -> Sample:
    """CPU and wall time per call over ``calls`` calls made ``concurrency`` at a time.

    Workers start one per completed call, not all at once. The clock runs from the
    ``settle``-th completed call to the ``settle + calls``-th, so only the steady
    state is timed; the calls still in flight at either end balance out.
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


async def measure_burst(call: Call, calls: int, slots: asyncio.Semaphore | None) -> Sample:
    """``asyncio.gather`` of ``calls`` calls started at once, bounded by ``slots`` if given."""

    async def bounded() -> object:
        assert slots is not None
        async with slots:
            return await call()

    one = call if slots is None else bounded
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    cpu1, wall1 = time.process_time(), time.perf_counter()
    return Sample((cpu1 - cpu0) / calls * 1e6, (wall1 - wall0) / calls * 1e6)


async def check_same_request() -> None:
    """Fail loudly unless the library and raw httpx send the same body and credentials."""
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
    if not library.headers["authorization"] == raw.headers["authorization"] == _AUTHORIZATION:
        raise SystemExit("benchmark is unfair: the clients send different credentials")
    if library.url != raw.url or library.method != raw.method:
        raise SystemExit(f"benchmark is unfair: {library.url} != {raw.url}")


@dataclass
class Contender:
    name: str
    call: Call
    slots: asyncio.Semaphore | None  # the bound of a burst; None: the client's own


async def contenders_for(
    base_url: str, concurrency: int, stack: contextlib.AsyncExitStack
) -> list[Contender]:
    """The four clients, each with its own pool sized for ``concurrency``."""
    import aiohttp  # here: `--only import` runs in a venv without aiohttp

    url = base_url + TOKEN_PATH
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
    )
    http = await stack.enter_async_context(
        httpx.AsyncClient(
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        )
    )
    libraries = {
        backend: await stack.enter_async_context(
            AsyncIdenfy(
                API_KEY,
                API_SECRET,
                base_url=base_url,
                max_concurrency=concurrency,
                max_retries=0,
                http_backend=backend,
            )
        )
        for backend in ("aiohttp", "httpx")
    }
    headers = {"Authorization": _AUTHORIZATION}

    async def raw_aiohttp() -> Any:
        async with session.post(url, json=REQUEST_PAYLOAD, headers=headers) as response:
            return await response.json()

    async def raw_httpx() -> Any:
        response = await http.post(url, json=REQUEST_PAYLOAD, auth=(API_KEY, API_SECRET))
        return response.json()

    def library(client: AsyncIdenfy) -> Call:
        async def create() -> Session:
            return await client.create_session(**REQUEST_FIELDS)

        return create

    contenders = [
        Contender(RAW_AIOHTTP, raw_aiohttp, asyncio.Semaphore(concurrency)),
        Contender(RAW_HTTPX, raw_httpx, asyncio.Semaphore(concurrency)),
        Contender(LIB_AIOHTTP, library(libraries["aiohttp"]), None),
        Contender(LIB_HTTPX, library(libraries["httpx"]), None),
    ]
    for contender in contenders:
        answer = await contender.call()
        if isinstance(answer, Session):
            scan_ref = answer.scan_ref
        else:
            scan_ref = str(answer.get("scanRef")) if isinstance(answer, dict) else ""
        if scan_ref != TOKEN_RESPONSE["scanRef"]:
            raise SystemExit(f"{contender.name}: the benchmark server gave an unexpected answer")
    return contenders


@dataclass
class Options:
    calls: int
    rounds: int
    warmup: int
    concurrencies: tuple[int, ...]
    starts: tuple[str, ...]
    latency_ms: float


async def run(server: ServerProcess, options: Options) -> Results:
    results = Results()
    server.set_delay(options.latency_ms)
    for concurrency in options.concurrencies:
        async with contextlib.AsyncExitStack() as stack:
            contenders = await contenders_for(server.base_url, concurrency, stack)
            for contender in contenders:
                await measure_ramp(contender.call, options.warmup, concurrency)
            for round_no in range(-1, options.rounds):  # an untimed round first
                shift = round_no % len(contenders)
                order = contenders[shift:] + contenders[:shift]
                label = f"round {round_no + 1}/{options.rounds}" if round_no >= 0 else "untimed"
                line = [f"c={concurrency:<3} {label}:"]
                for start in options.starts:
                    batch: dict[str, Sample] = {}
                    for contender in order:
                        if start == "ramp":
                            settle = SETTLE_CALLS * concurrency
                            sample = await measure_ramp(
                                contender.call, options.calls, concurrency, settle
                            )
                        else:
                            sample = await measure_burst(
                                contender.call, options.calls, contender.slots
                            )
                        batch[contender.name] = sample
                        if round_no >= 0:
                            results.add(contender.name, (start, concurrency), sample)
                    line.append(
                        f"{start} " + "/".join(f"{batch[n].cpu_us:.0f}" for n in CONTENDERS)
                    )
                _out("  ".join(line) + " us")
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
    packages = (
        "idenfy-async",
        "httpx",
        "httpcore",
        "h11",
        "aiohttp",
        "yarl",
        "multidict",
        "anyio",
        "sniffio",
        "attrs",
        "cattrs",
    )
    try:
        load = " load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = ""
    return [
        f"platform: {platform.platform()}",
        f"cpu:      {_cpu_model()} ({os.cpu_count()} logical cores, {usable} usable){load}",
        f"python:   {platform.python_implementation()} {platform.python_version()}",
        "packages: " + ", ".join(f"{name} {_version(name)}" for name in packages),
    ]


def report(results: Results, options: Options) -> list[str]:
    latency = f", server latency {options.latency_ms:g} ms" if options.latency_ms else ""
    head = (
        f"{'start':>5} {'conc':>4} | {'raw aiohttp':>11} | {'raw httpx':>9} |"
        f" {'lib/aiohttp':>11} {'x aiohttp':>9} | {'lib/httpx':>9} {'x aiohttp':>9}"
        f" {'x httpx':>7} | {'wall us lib/aiohttp':>19}"
    )
    lines = [
        "",
        "CPU time of the client process (time.process_time) per call, in microseconds:"
        f" median of {options.rounds} rounds x {options.calls} calls{latency}. 'x aiohttp' /"
        " 'x httpx': the median of the rounds' ratios to raw aiohttp / raw httpx.",
        "",
        head,
        "-" * len(head),
    ]
    for start in options.starts:
        for concurrency in options.concurrencies:
            cell = (start, concurrency)

            def med(name: str, cell: Cell = cell) -> float:
                return statistics.median(results.cpu(name, cell))

            lines.append(
                f"{start:>5} {concurrency:>4} | {med(RAW_AIOHTTP):11.0f} | {med(RAW_HTTPX):9.0f} |"
                f" {med(LIB_AIOHTTP):11.0f} {results.ratio(LIB_AIOHTTP, RAW_AIOHTTP, cell):8.2f}x |"
                f" {med(LIB_HTTPX):9.0f} {results.ratio(LIB_HTTPX, RAW_AIOHTTP, cell):8.2f}x"
                f" {results.ratio(LIB_HTTPX, RAW_HTTPX, cell):6.2f}x |"
                f" {statistics.median(results.wall(LIB_AIOHTTP, cell)):19.0f}"
            )
    return lines


def check(results: Results, options: Options, args: argparse.Namespace) -> int:
    status = 0
    limits = ((args.check_aiohttp, LIB_AIOHTTP, RAW_AIOHTTP), (args.check, LIB_HTTPX, RAW_HTTPX))
    for limit, name, base in limits:
        if limit is None:
            continue
        over = [
            f"{start} c={c} ({results.ratio(name, base, (start, c)):.2f}x)"
            for start in options.starts
            for c in options.concurrencies
            if results.ratio(name, base, (start, c)) > limit
        ]
        if over:
            _out(f"CHECK FAILED: {name} / {base} above {limit:.2f}x at " + ", ".join(over))
            status = 1
        else:
            _out(f"check passed: {name} within {limit:.2f}x of {base} everywhere")
    return status


# --------------------------------------------------------------------------- import time


#: What the import part times, each in a fresh interpreter: the label, the statement.
IMPORTS: Final = (
    ("import httpx", "import httpx"),
    ("import idenfy_async", "import idenfy_async"),
    ("import idenfy_async.cli", "import idenfy_async.cli"),
    ("AsyncIdenfy, SessionRequest", "from idenfy_async import AsyncIdenfy, SessionRequest"),
    ("from ... import webhooks", "from idenfy_async import webhooks"),
)
#: Optional packages that ``import httpx`` loads when installed (its command line's):
#: where they are, ``import httpx`` is slower and every ratio to it flatters.
HTTPX_EXTRAS: Final = ("rich", "click")
#: How to time the imports where those are not installed (the core dependencies only).
CLEAN_VENV: Final = (
    "python -m venv /tmp/idenfy-clean && /tmp/idenfy-clean/bin/pip install httpx attrs"
    " cattrs sniffio h11 platformdirs && PYTHONPATH=$PWD /tmp/idenfy-clean/bin/python"
    " -m benchmarks --only import"
)


def _import_ms(statement: str, pycache: str) -> tuple[float, list[str]]:
    """Milliseconds a fresh interpreter takes to run ``statement``, and which of
    :data:`HTTPX_EXTRAS` it loaded.

    Timed inside the child around the import alone: interpreter start-up, which
    varies more than the import itself on a busy machine, is left out. Bytecode is
    cached in ``pycache`` for every module alike (an installed package has its .pyc
    files; a checkout run with PYTHONDONTWRITEBYTECODE would be compiled each time).
    """
    code = (
        "import sys, time\n"
        "start = time.perf_counter()\n"
        f"{statement}\n"
        "elapsed = time.perf_counter() - start\n"
        f"print(elapsed, *[m for m in {HTTPX_EXTRAS!r} if m in sys.modules])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    elapsed, *extras = done.stdout.split()
    return float(elapsed) * 1000, extras


def import_part(args: argparse.Namespace) -> int:
    """``import idenfy_async`` (and three other entry points) next to ``import httpx``."""
    runs = QUICK_ROUNDS if args.quick else IMPORT_RUNS
    times: dict[str, float] = {}
    httpx_extras: list[str] = []
    with tempfile.TemporaryDirectory(prefix="idenfy-bench-pycache-") as pycache:
        for _, statement in IMPORTS:
            _import_ms(statement, pycache)  # writes the bytecode cache
        for _ in range(runs):  # alternated, so a busy phase of the machine hits all alike
            for label, statement in IMPORTS:
                ms, extras = _import_ms(statement, pycache)
                times[label] = min(times.get(label, float("inf")), ms)
                if label == "import httpx":
                    httpx_extras = extras
    base = times["import httpx"]
    ratio = times["import idenfy_async"] / base
    _out("")
    _out(
        f"Import time, fastest of {runs} fresh interpreters, the import statement alone,"
        " bytecode cached (details: python -X importtime -c 'import idenfy_async'):"
    )
    for label, ms in times.items():
        _out(f"  {label:<28} {ms:6.1f} ms  ({ms / base:.2f}x import httpx)")
    loaded = "/".join(httpx_extras)
    _out(
        f"  httpx loaded {'/'.join(HTTPX_EXTRAS)}: "
        + (f"yes ({loaded}) - ratio flattered" if httpx_extras else "no - a clean environment")
    )
    if httpx_extras:
        _out(f"  a clean environment: {CLEAN_VENV}")
    if args.check_import is not None:
        if ratio > args.check_import:
            _out(f"CHECK FAILED: import idenfy_async is {ratio:.2f}x import httpx")
            return 1
        _out(f"check passed: import idenfy_async within {args.check_import:.2f}x import httpx")
    return 0


# --------------------------------------------------------------------------- command line


def _concurrencies(text: str) -> tuple[int, ...]:
    try:
        values = tuple(bulk.positive_int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of concurrencies: {text!r}") from exc
    if not values:
        raise argparse.ArgumentTypeError("give at least one concurrency")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="CPU per create_session on each transport vs raw aiohttp and raw httpx,"
        " import time, then bulk throughput, memory and the account-wide Redis quota.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this part (repeatable; default: all of %(choices)s, in that order)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"for development: {QUICK_CALLS} calls x {QUICK_ROUNDS} rounds unless given",
    )
    parser.add_argument(
        "--calls", type=bulk.positive_int, default=None, help=f"calls per batch ({DEFAULT_CALLS})"
    )
    parser.add_argument(
        "--rounds", type=bulk.positive_int, default=None, help=f"rounds ({DEFAULT_ROUNDS})"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="warm-up calls per client (default: calls/2)"
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrencies,
        default=CONCURRENCIES,
        metavar="C,C,...",
        help="concurrencies (default: 1,8,64,256)",
    )
    parser.add_argument(
        "--start",
        action="append",
        choices=STARTS,
        help="only this way of starting the calls (repeatable; default: both)",
    )
    parser.add_argument(
        "--check-aiohttp",
        type=float,
        default=None,
        metavar="RATIO",
        help="exit 1 if the aiohttp-transport library / raw aiohttp CPU ratio exceeds RATIO",
    )
    parser.add_argument(
        "--check",
        type=float,
        default=None,
        metavar="RATIO",
        help="exit 1 if the httpx-transport library / raw httpx CPU ratio exceeds RATIO",
    )
    parser.add_argument(
        "--check-import",
        type=float,
        default=None,
        metavar="RATIO",
        help="exit 1 if import idenfy_async takes more than RATIO x import httpx",
    )
    parser.add_argument(
        "--check-pacing",
        action="store_true",
        help="exit 1 if the pacing part misses a target (see benchmarks.pacing)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=DEFAULT_LATENCY_MS,
        help="simulated API latency: server delay per answer (default: %(default)s)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the client and the server to separate CPUs",
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
    _out(f"command:  python -m benchmarks {' '.join(sys.argv[1:] if argv is None else argv)}")
    status = import_part(args) if "import" in parts else 0
    if "redis" in parts:
        # Before pinning: its worker processes would inherit one CPU.
        status = max(status, redis_quota.run_part(args.redis_url, seconds=args.redis_seconds))
    if "pacing" in parts:  # before pinning too: it runs subprocesses
        status = max(status, pacing.run_part(check=args.check_pacing))
    if not set(parts) - {"import", "redis", "pacing"}:
        return status
    pinned = pin(usable_cpus()) if args.pin else None
    if "cpu" in parts:
        status = max(status, cpu_part(args, pinned))
    if "bulk" in parts or "memory" in parts:
        status = max(status, bulk.run_parts(args, parts, pinned, _out))
    return status


def cpu_part(args: argparse.Namespace, pinned: tuple[int, int] | None) -> int:
    calls: int = args.calls or (QUICK_CALLS if args.quick else DEFAULT_CALLS)
    options = Options(
        calls=calls,
        rounds=args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS),
        warmup=args.warmup if args.warmup is not None else max(calls // 2, *args.concurrency),
        concurrencies=args.concurrency,
        starts=tuple(s for s in STARTS if args.start is None or s in args.start),
        latency_ms=args.latency_ms,
    )
    asyncio.run(check_same_request())
    with start_server(cpu=pinned[1] if pinned else None) as server:
        where = f", client on CPU {pinned[0]}, server on CPU {pinned[1]}" if pinned else ""
        _out(f"server:   {server.base_url} (separate process{where})")
        _out("per round: CPU us per call of " + " / ".join(CONTENDERS))
        results = asyncio.run(run(server, options))
    for line in report(results, options):
        _out(line)
    return check(results, options, args)


if __name__ == "__main__":
    raise SystemExit(main())
