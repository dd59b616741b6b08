"""Bulk session creation: throughput against a fake server, and memory per input size.

Run by ``python -m benchmarks`` after the CPU-per-call benchmark, or alone with
``python -m benchmarks --only bulk`` / ``--only memory``.

**Throughput** (``bulk``): rows per second of ``client.create_sessions(rows, ...)``
with a ``SqliteJournal`` (a new file per run in a temporary directory, default
``durable=True`` as the CLI uses it) and without a journal, next to a plain
``asyncio.gather`` over ``client.create_session`` bounded by an
``asyncio.Semaphore`` of the same concurrency. Each run gets a new ``AsyncIdenfy``
with the same settings (``max_concurrency`` = that concurrency, a rate limit far above
what is reached), opened before the clock starts: httpcore's pool (1.0.x) hands one
idle connection to several waiting requests and retries the losers (encode/httpcore
#822), and how often depends on the connections a previous run left in a shared pool
(from 32 down to ~10), which made runs alternate between ~450 and ~1,000 rows/s;
a new pool per run makes every run start alike. The server is the library's
``FakeIdenfyServer`` over TCP on 127.0.0.1 in a separate process (on its own CPU when
there is one; see :mod:`benchmarks.fake_server`); ``--bulk-server-latency MS`` makes it
hold each answer that long, as a real API does (iDenfy answers in hundreds of ms),
where with none only the client's CPU bounds a run. After an untimed warm-up run of
each, rounds rotate which contender goes first; medians are reported, with the
median of the per-round bulk/gather ratios. Requests are built before the clock
starts, the journal opened before and closed after it. Every run is checked: every
row created, as counted by the client's results, by the journal and by the fake.

**Memory** (``memory``): each input size runs in a fresh process
(:mod:`benchmarks._memory_child`): rows streamed from a generator through
``create_sessions`` with a ``SqliteJournal``, results counted and dropped. Peak RSS is
that process's ``ru_maxrss`` when the last result is in (it is started through a small
fork-then-exec launcher: a process exec'ed straight from this one would inherit this
one's peak in its ``ru_maxrss``), next to its RSS along the run and its peak at exit,
after the check of the journal's counts. Limits: peak RSS under ``--max-rss-mib``,
growth from the smallest to the largest size under ``--max-growth-mib``. By default
the client talks to an in-process ``FakeIdenfy`` transport that forgets each session
once counted (``fake.sessions`` would otherwise grow with the rows: the fake's memory,
not the library's); with ``--memory-server tcp`` to a ``FakeIdenfyServer`` in another
process, so the measured process holds only the client and the journal (slower:
550-700 rows/s on a 2-core machine against ~4,000 in-process, so about 4 minutes for
the default sizes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from idenfy_async import (
    AsyncIdenfy,
    BulkState,
    JournalState,
    SessionRequest,
    SqliteJournal,
)
from idenfy_async.transports import HttpBackend

from ._payload import REQUEST_FIELDS
from .fake_server import FakeServerProcess, start_fake_server

FAKE_KEY: Final = "test-key"
FAKE_SECRET: Final = "test-secret"

BULK_JOURNAL: Final = "create_sessions + SqliteJournal"
BULK_PLAIN: Final = "create_sessions, no journal"
GATHER: Final = "gather + Semaphore"
CONTENDERS: Final = (BULK_JOURNAL, BULK_PLAIN, GATHER)

DEFAULT_ROWS: Final = 2000
DEFAULT_ROUNDS: Final = 5
DEFAULT_WARMUP_ROWS: Final = 500
DEFAULT_CONCURRENCY: Final = 32
#: gather's 'CPU busy' at or above which a run counts as bound by the client's CPU
CPU_BOUND_BUSY: Final = 90.0
DEFAULT_RATE_LIMIT: Final = "1000000/s"
DEFAULT_MEMORY_ROWS: Final = (10_000, 50_000, 100_000)
DEFAULT_MAX_RSS_MIB: Final = 150.0
DEFAULT_MAX_GROWTH_MIB: Final = 10.0

Out = Callable[[str], None]
_ROOT: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Runs ``python ARGS`` in a grandchild: forked from this small process, then exec'ed.
# Linux keeps a process's peak RSS across exec (signal->maxrss takes the old image's
# high-water mark), so a child exec'ed straight from this benchmark would report at
# least this benchmark's own peak RSS as its ru_maxrss (measured: 210 MiB for a child
# using 9 MiB, after the parent had touched 200 MiB).
_LAUNCHER: Final = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
    "_, status = os.waitpid(pid, 0)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


# --------------------------------------------------------------------------- options


@dataclass
class BulkOptions:
    rows: int = DEFAULT_ROWS
    rounds: int = DEFAULT_ROUNDS
    warmup_rows: int = DEFAULT_WARMUP_ROWS
    concurrency: int = DEFAULT_CONCURRENCY
    rate_limit: str | None = DEFAULT_RATE_LIMIT
    http_backend: HttpBackend = "httpx"
    server_latency_ms: float = 0.0
    memory_rows: tuple[int, ...] = DEFAULT_MEMORY_ROWS
    memory_server: str = "inprocess"
    max_rss_mib: float = DEFAULT_MAX_RSS_MIB
    max_growth_mib: float = DEFAULT_MAX_GROWTH_MIB


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (``10_000`` allowed)."""
    value = int(text.replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({positive_int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of row counts: {text!r}") from exc
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one row count")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bulk and memory options, for ``python -m benchmarks``."""
    group = parser.add_argument_group("bulk throughput (--only bulk)")
    group.add_argument(
        "--bulk-rows", type=positive_int, default=DEFAULT_ROWS, help="rows per run (%(default)s)"
    )
    group.add_argument(
        "--bulk-rounds", type=positive_int, default=DEFAULT_ROUNDS, help="rounds (%(default)s)"
    )
    group.add_argument(
        "--bulk-warmup",
        type=int,
        default=DEFAULT_WARMUP_ROWS,
        help="untimed rows per contender first (%(default)s)",
    )
    group.add_argument(
        "--bulk-concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        help="rows in flight, and the client's max_concurrency (%(default)s)",
    )
    group.add_argument(
        "--bulk-rate-limit",
        default=DEFAULT_RATE_LIMIT,
        help='the client\'s rate_limit= (%(default)s, far above reach); "none" for none',
    )
    group.add_argument(
        "--bulk-http-backend",
        choices=("httpx", "aiohttp"),
        default="httpx",
        help="the client's http_backend= for every contender (%(default)s)",
    )
    group.add_argument(
        "--bulk-server-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="the fake server holds each answer this many milliseconds (%(default)s: the"
        " client's CPU is the bound; a real API answers in hundreds)",
    )
    group = parser.add_argument_group("bulk memory (--only memory)")
    group.add_argument(
        "--memory-rows",
        type=_sizes,
        default=DEFAULT_MEMORY_ROWS,
        metavar="N,N,...",
        help="input sizes, one fresh process each (default: 10000,50000,100000)",
    )
    group.add_argument(
        "--memory-server",
        choices=("inprocess", "tcp"),
        default="inprocess",
        help="in-process FakeIdenfy transport (default; forgets each session once"
        " counted) or FakeIdenfyServer in another process (about 6x slower)",
    )
    group.add_argument(
        "--max-rss-mib",
        type=float,
        default=DEFAULT_MAX_RSS_MIB,
        help="fail if a run's peak RSS exceeds this (%(default)s MiB)",
    )
    group.add_argument(
        "--max-growth-mib",
        type=float,
        default=DEFAULT_MAX_GROWTH_MIB,
        help="fail if peak RSS grows more than this from the smallest to the largest"
        " input (%(default)s MiB)",
    )


def options_from(args: argparse.Namespace) -> BulkOptions:
    rate_limit: str | None = args.bulk_rate_limit
    if rate_limit is not None and rate_limit.strip().lower() in ("", "none"):
        rate_limit = None
    return BulkOptions(
        rows=args.bulk_rows,
        rounds=args.bulk_rounds,
        warmup_rows=max(0, args.bulk_warmup),
        concurrency=args.bulk_concurrency,
        rate_limit=rate_limit,
        http_backend=args.bulk_http_backend,
        server_latency_ms=max(0.0, args.bulk_server_latency),
        memory_rows=args.memory_rows,
        memory_server=args.memory_server,
        max_rss_mib=args.max_rss_mib,
        max_growth_mib=args.max_growth_mib,
    )


# --------------------------------------------------------------------------- throughput


@dataclass
class Sample:
    rows_per_s: float
    cpu_us: float  # client process CPU (all threads: the journal's too) per row
    #: journal transactions (each a durable commit) per row; None without a journal.
    #: Less at the mercy of a busy machine than rows/s: how well writes group.
    commits_per_row: float | None = None
    #: the journal's worker thread's share of ``cpu_us``; None without a journal
    journal_cpu_us: float | None = None


@dataclass
class ThroughputResults:
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, sample: Sample, created: int) -> None:
        self.samples.setdefault(name, []).append(sample)
        self.created[name] = self.created.get(name, 0) + created

    def rates(self, name: str) -> list[float]:
        return [s.rows_per_s for s in self.samples[name]]

    def cpu(self, name: str) -> list[float]:
        return [s.cpu_us for s in self.samples[name]]

    def busy(self, name: str) -> float:
        """Median share of the wall time the client's CPU was busy, in %."""
        return statistics.median(s.cpu_us * s.rows_per_s / 1e4 for s in self.samples[name])

    def paired(self, name: str) -> list[float]:
        """rows/s of ``name`` over gather's, per round (both ran in it)."""
        pairs = zip(self.rates(name), self.rates(GATHER), strict=True)
        return [bulk / gather for bulk, gather in pairs]


def _requests(tag: str, count: int) -> list[SessionRequest]:
    fields = dict(REQUEST_FIELDS)
    requests = []
    for index in range(count):
        fields["client_id"] = f"{tag}-{index:06d}"
        requests.append(SessionRequest(**fields))
    return requests


async def _bulk(
    client: AsyncIdenfy,
    requests: list[SessionRequest],
    concurrency: int,
    journal: SqliteJournal | None,
) -> int:
    created = 0
    async with contextlib.aclosing(
        client.create_sessions(requests, concurrency=concurrency, journal=journal)
    ) as results:
        async for result in results:
            created += result.state is BulkState.CREATED
    return created


async def _gather(client: AsyncIdenfy, requests: list[SessionRequest], concurrency: int) -> int:
    slots = asyncio.Semaphore(concurrency)

    async def one(request: SessionRequest) -> bool:
        async with slots:
            session = await client.create_session(request)
        return bool(session.scan_ref)

    return sum(await asyncio.gather(*(one(request) for request in requests)))


def _client(base_url: str, options: BulkOptions) -> AsyncIdenfy:
    return AsyncIdenfy(
        FAKE_KEY,
        FAKE_SECRET,
        base_url=base_url,
        max_concurrency=options.concurrency,
        rate_limit=options.rate_limit,
        http_backend=options.http_backend,
    )


async def _one_run(
    server: FakeServerProcess,
    name: str,
    requests: list[SessionRequest],
    options: BulkOptions,
    journal_path: str,
) -> tuple[Sample, int]:
    """Time one contender over ``requests``; fail unless every row was created.

    Each run gets a new client (same settings): httpcore's pool behaves differently
    with the connections a previous run left in it (see the module docstring).
    """
    count, concurrency = len(requests), options.concurrency
    journal_created: int | None = None
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(_client(server.base_url, options))
        journal = None
        if name == BULK_JOURNAL:
            journal = await stack.enter_async_context(SqliteJournal(journal_path))
        gc.collect()
        worker = journal._worker if journal is not None else None  # read by benches
        journal_cpu0 = worker.cpu if worker is not None else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if name == GATHER:
            created = await _gather(client, requests, concurrency)
        else:
            created = await _bulk(client, requests, concurrency, journal)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        commits = journal_cpu = None
        if journal is not None and worker is not None:
            commits = worker.batches / count
            journal_created = (await journal.counts())[JournalState.CREATED]
            # Up to date once an outcome is handed back: the count's includes every row's.
            journal_cpu = (worker.cpu - journal_cpu0) / count * 1e6
    fake_created = await asyncio.to_thread(server.take_created)
    problems = []
    if created != count:
        problems.append(f"the client got {created} sessions")
    if journal_created is not None and journal_created != count:
        problems.append(f"the journal records {journal_created} created")
    if fake_created != count:
        problems.append(f"the fake server created {fake_created}")
    if problems:
        raise SystemExit(f"{name}: {count} rows, but " + ", ".join(problems))
    rate, cpu = count / (wall1 - wall0), (cpu1 - cpu0) / count * 1e6
    return Sample(rate, cpu, commits, journal_cpu), created


async def run_throughput(
    server: FakeServerProcess, options: BulkOptions, out: Out
) -> ThroughputResults:
    results = ThroughputResults()
    await asyncio.to_thread(server.take_created)  # start counting from zero
    with tempfile.TemporaryDirectory(prefix="idenfy-bench-") as tmp:

        async def run(name: str, tag: str, count: int) -> tuple[Sample, int]:
            requests = _requests(tag, count)
            path = os.path.join(tmp, f"{tag}.sqlite")
            return await _one_run(server, name, requests, options, path)

        if options.warmup_rows:
            out(f"warm-up: {options.warmup_rows} rows per contender ...")
            for number, name in enumerate(CONTENDERS):
                await run(name, f"warm-{number}", options.warmup_rows)
        for round_no in range(options.rounds):
            shift = round_no % len(CONTENDERS)
            order = CONTENDERS[shift:] + CONTENDERS[:shift]
            line = [f"round {round_no + 1}/{options.rounds}:"]
            for name in order:
                tag = f"r{round_no}-{CONTENDERS.index(name)}"
                sample, created = await run(name, tag, options.rows)
                results.add(name, sample, created)
                line.append(f"{_short(name)} {sample.rows_per_s:6.0f} rows/s")
            out("  ".join(line))
    return results


def _short(name: str) -> str:
    return {BULK_JOURNAL: "bulk+journal", BULK_PLAIN: "bulk", GATHER: "gather"}[name]


def throughput_report(results: ThroughputResults, options: BulkOptions) -> list[str]:
    limit = options.rate_limit or "none"
    rule = f"{'-' * 40}-+-{'-' * 9}-+-{'-' * 13}-+-{'-' * 12}-+-{'-' * 8}-+-{'-' * 10}"
    lines = [
        "",
        f"Bulk throughput, rows/s (wall clock): median of {options.rounds} rounds x"
        f" {options.rows} rows, concurrency {options.concurrency}, AsyncIdenfy("
        f"max_concurrency={options.concurrency}, rate_limit={limit!r},"
        f" http_backend={options.http_backend!r}), FakeIdenfyServer"
        f" over TCP on 127.0.0.1 in a separate process, answering after"
        f" {options.server_latency_ms:g} ms. CPU is the client process's"
        " (time.process_time, journal thread included) per row; 'CPU busy' = that CPU"
        " time over the wall time (100%: the client's CPU is the bound). Ratios: median of the"
        " rounds' bulk/gather rows/s (> 1: bulk faster).",
        "",
        f"{'contender':<40} | {'rows/s':>9} | {'min-max':>13} | {'CPU us/row':>12}"
        f" | {'CPU busy':>8} | {'created':>10}",
        rule,
    ]
    for name in CONTENDERS:
        rates = results.rates(name)
        label = name if name != GATHER else f"{name}({options.concurrency})"
        cpu = statistics.median(results.cpu(name))
        busy = results.busy(name)
        lines.append(
            f"{label:<40} | {statistics.median(rates):9.0f} |"
            f" {f'{min(rates):.0f}-{max(rates):.0f}':>13} | {cpu:12.0f} | {busy:7.0f}% |"
            f" {results.created[name]:>10}"
        )
    lines.append(rule)
    for name in (BULK_JOURNAL, BULK_PLAIN):
        paired = results.paired(name)
        of_medians = statistics.median(results.rates(name)) / statistics.median(
            results.rates(GATHER)
        )
        lines.append(
            f"{'ratio ' + _short(name) + '/gather, per round':<40} |"
            f" {statistics.median(paired):8.3f}x |"
            f" {f'{min(paired):.3f}-{max(paired):.3f}':>13} |"
            f" of medians {of_medians:.3f}x"
        )
    gather_busy = results.busy(GATHER)
    if gather_busy >= CPU_BOUND_BUSY:
        lines.append(
            f"regime: the client's CPU was the bound (gather {gather_busy:.0f}% busy): the"
            " ratios compare CPU per row, the journal's included"
        )
    else:
        lines.append(
            f"regime: the client's CPU was not the bound (gather {gather_busy:.0f}% busy):"
            " the ratios compare time per row, in which the journal adds its durable"
            " commit before each send"
        )
    journaled = results.samples[BULK_JOURNAL]
    commits = statistics.median(
        s.commits_per_row for s in journaled if s.commits_per_row is not None
    )
    thread = statistics.median(s.journal_cpu_us for s in journaled if s.journal_cpu_us is not None)
    lines.append(
        f"journal commits per row (durable transactions; 2 writes a row: pending, outcome):"
        f" median {commits:.3f}; the journal thread's CPU per row (in bulk+journal's):"
        f" median {thread:.0f} us"
    )
    lines.append(rule)
    expected = options.rounds * options.rows
    lines.append(
        f"every row created: {expected} per contender (+ warm-up), checked per run against"
        " the client's results, the journal's counts and the fake server's sessions;"
        " a new client per run"
    )
    return lines


# --------------------------------------------------------------------------- memory


@dataclass
class MemoryRun:
    rows: int
    run_peak_kib: int  # ru_maxrss when the last result was in
    run_hwm_kib: int
    peak_kib: int  # ru_maxrss at the end of the process (journal count and close too)
    peak_before_kib: int
    rss_before_kib: int
    rss_at_kib: dict[str, int]
    seconds: float
    created: int


def _memory_child(
    rows: int, journal: str, options: BulkOptions, server: FakeServerProcess | None
) -> MemoryRun:
    # Bounded, at 100 rows/s: a quarter of the slowest seen (TCP, on a 2-core machine).
    timeout = 60 + rows // 100
    command = [sys.executable, "-S", "-c", _LAUNCHER]
    command += ["-m", "benchmarks._memory_child", "--rows", str(rows), "--journal", journal]
    command += ["--concurrency", str(options.concurrency), "--prefix", f"mem{rows}"]
    command += ["--timeout", str(timeout)]
    if options.rate_limit is not None:
        command += ["--rate-limit", options.rate_limit]
    if server is not None:
        command += ["--base-url", server.base_url]
    done = subprocess.run(
        command, cwd=_ROOT, capture_output=True, text=True, timeout=timeout + 10, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"memory run of {rows} rows failed:\n{done.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    counts = [data["created"], data["journal_created"]]
    counts.append(server.take_created() if server is not None else data["fake_created"])
    if data["done"] != rows or any(count != rows for count in counts):
        raise SystemExit(
            f"memory run of {rows} rows: {data['done']} results; created per client,"
            f" journal, fake: {counts}"
        )
    return MemoryRun(
        rows=rows,
        run_peak_kib=data["run_peak_kib"],
        run_hwm_kib=data["run_hwm_kib"],
        peak_kib=data["peak_kib"],
        peak_before_kib=data["peak_before_kib"],
        rss_before_kib=data["rss_before_kib"],
        rss_at_kib=data["rss_at_kib"],
        seconds=data["seconds"],
        created=data["created"],
    )


def run_memory(options: BulkOptions, server_cpu: int | None, out: Out) -> list[MemoryRun]:
    runs: list[MemoryRun] = []
    tcp = options.memory_server == "tcp"
    lifetime = 120 + sum(options.memory_rows) / 100
    with contextlib.ExitStack() as stack:
        server = (
            stack.enter_context(start_fake_server(timeout=lifetime, cpu=server_cpu))
            if tcp
            else None
        )
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="idenfy-bench-mem-"))
        for rows in options.memory_rows:
            run = _memory_child(rows, os.path.join(tmp, f"mem-{rows}.sqlite"), options, server)
            runs.append(run)
            out(
                f"memory: {rows} rows in {run.seconds:.1f} s"
                f" ({rows / run.seconds:.0f} rows/s), peak RSS {_mib(run.run_peak_kib):.1f} MiB"
            )
    return runs


def _mib(kib: float) -> float:
    return kib / 1024


def memory_report(runs: list[MemoryRun], options: BulkOptions) -> tuple[list[str], bool]:
    where = (
        "FakeIdenfyServer over TCP in a separate process (the measured process holds only"
        " the client and the journal)"
        if options.memory_server == "tcp"
        else "an in-process FakeIdenfy transport that forgets each session once counted"
        " (the measured process holds the client, the journal and the fake's per-request"
        " work, not the growing fake.sessions)"
    )
    widths = (9, 14, 9, 13, 11, 26, 8, 8)
    rule = "-+-".join("-" * width for width in widths)
    lines = [
        "",
        "Bulk memory: one fresh process per input size; rows streamed from a generator"
        f" through create_sessions with a SqliteJournal, concurrency {options.concurrency},"
        f" against {where}. The process is started by fork+exec from a small launcher, so"
        " its ru_maxrss is its own (not inherited from this benchmark). 'peak RSS' ="
        " ru_maxrss when the last result is in (VmHWM from /proc as a cross-check);"
        " 'whole process' = ru_maxrss at exit, after the check of the journal's counts (a"
        " GROUP BY over the table) and its close; 'before rows' = current RSS with the"
        " client and the journal open (interpreter and imports); RSS at 10/50/100% ="
        " current RSS (VmRSS) at that point of the run. MiB throughout.",
        "",
        f"{'rows':>9} | {'peak RSS (run)':>14} | {'VmHWM':>9} | {'whole process':>13} |"
        f" {'before rows':>11} | {'RSS at 10% / 50% / 100%':>26} | {'rows/s':>8} |"
        f" {'created':>8}",
        rule,
    ]
    for run in runs:
        at = " / ".join(f"{_mib(run.rss_at_kib.get(k, 0)):.1f}" for k in ("10%", "50%", "100%"))
        lines.append(
            f"{run.rows:>9} | {_mib(run.run_peak_kib):14.1f} | {_mib(run.run_hwm_kib):9.1f} |"
            f" {_mib(run.peak_kib):13.1f} | {_mib(run.rss_before_kib):11.1f} |"
            f" {at:>26} | {run.rows / run.seconds:8.0f} | {run.created:>8}"
        )
    lines.append(rule)
    worst = max(runs, key=lambda run: run.peak_kib)
    ok = _mib(worst.peak_kib) <= options.max_rss_mib
    lines.append(
        f"{'OK' if ok else 'FAILED'}: highest peak RSS {_mib(worst.peak_kib):.1f} MiB"
        f" (whole process, {worst.rows} rows), limit {options.max_rss_mib:g} MiB"
    )
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        extra_rows = large.rows - small.rows

        def growth(kib: int) -> str:
            return f"{kib:+d} KiB ({_mib(kib):+.2f} MiB, {kib * 1024 / extra_rows:+.1f} B/row)"

        run_growth = large.run_peak_kib - small.run_peak_kib
        within = _mib(run_growth) <= options.max_growth_mib
        ok = ok and within
        end = large.rss_at_kib.get("100%", 0) - small.rss_at_kib.get("100%", 0)
        lines.append(
            f"{'OK' if within else 'FAILED'}: peak RSS growth {small.rows} -> {large.rows}"
            f" rows: {growth(run_growth)}, limit {options.max_growth_mib:g} MiB;"
            f" whole process {growth(large.peak_kib - small.peak_kib)};"
            f" current RSS at the end of the run {growth(end)}"
        )
    return lines, ok


# --------------------------------------------------------------------------- entry


def run_parts(
    args: argparse.Namespace, parts: Sequence[str], pinned: tuple[int, int] | None, out: Out
) -> int:
    """Run the ``bulk`` and/or ``memory`` parts; 1 when a memory limit is exceeded."""
    options = options_from(args)
    server_cpu = pinned[1] if pinned else None
    lines: list[str] = []
    status = 0
    if "bulk" in parts:
        out("")
        out(
            f"bulk throughput: {options.rounds} rounds x {options.rows} rows per contender,"
            f" concurrency {options.concurrency}"
        )
        latency = options.server_latency_ms / 1000
        rows = options.rounds * options.rows + options.warmup_rows
        lifetime = 120 + 3 * rows / 100 + 3 * rows * latency / options.concurrency
        with start_fake_server(timeout=lifetime, cpu=server_cpu, latency=latency) as server:
            where = f", client on CPU {pinned[0]}, server on CPU {pinned[1]}" if pinned else ""
            out(f"server:   {server.base_url} (FakeIdenfyServer, separate process{where})")
            results = asyncio.run(run_throughput(server, options, out))
        lines += throughput_report(results, options)
    if "memory" in parts:
        out("")
        sizes = ", ".join(str(rows) for rows in options.memory_rows)
        out(f"bulk memory: {sizes} rows, one fresh process each ({options.memory_server})")
        runs = run_memory(options, server_cpu, out)
        memory_lines, ok = memory_report(runs, options)
        lines += memory_lines
        if not ok:
            status = 1
    for line in lines:
        out(line)
    return status
