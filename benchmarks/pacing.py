"""Pacing measured from outside: how much of a rate limit ``idenfy-async bulk`` uses.

    python -m benchmarks.pacing [--only strict|redis|window] [--runs N] [--seconds S] [--check]
    python -m benchmarks --only pacing [--check-pacing]

Everything runs as a user would run it: ``idenfy-async fake-server`` and
``idenfy-async bulk`` as subprocesses (credentials and ``IDENFY_BASE_URL`` in their
environment, so the TCP fake is hit, not the built-in one), a fresh journal per run,
and the verdict taken from the fake server's request log (``GET /__fake__/requests``:
arrival time, method, path, status, a keyed hash of the clientId), not from what the
client says of itself. The fake's limits are its own (:mod:`idenfy_async.testing`'s
gateway), not the client's limiter.

* **strict** (``--runs`` times): a strict gateway, a token bucket of 10 requests a
  second and capacity 1 (``--rate-limit 10/s --no-retry-after``); one ``bulk
  --rate 36000/hour`` with more rows than it can send, stopped with SIGINT (a
  user's Ctrl-C) ``--seconds`` after its first request reached the server. Targets:
  sessions created in those seconds >= 90 % of 10/s, fewer than 5 answers 429.
* **redis**: three ``bulk --rate 20/s`` processes with one ``IDENFY_REDIS_URL`` (a
  ``redis-server`` started on a free loopback port), the same 300-row input,
  separate journals and OUT files, against a fake without limits. Targets: every
  clientId created exactly once, at most 21 requests in any 1-second window at the
  server, >= 90 % of 20/s used while all three processes were alive (from the last
  start to the first exit: the quota is the account's, any of them may fill it).
* **window**: iDenfy's documented shape, a fixed window (``--rate-limit-window
  30/10s``, 429 without ``Retry-After``), one ``bulk --rate 10/s`` for
  ``WINDOW_SECONDS``: the times of the 429s within each window the client used up,
  and the gaps between them. Target: the client backs off (each used-up window's
  gaps between 429s grow to at least twice the first), rather than retrying at a
  fixed interval.

``--check`` exits 1 when a target is missed. The default run takes about 2 minutes.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import csv
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

import idenfy_async

PARTS: Final = ("strict", "redis", "window")
DEFAULT_RUNS: Final = 3
#: How long a strict-gateway run sends before its Ctrl-C.
STRICT_SECONDS: Final = 15.0
STRICT_GATEWAY: Final = "10/s"  #: the gateway's rate; capacity 1
STRICT_CLIENT_RATE: Final = "36000/hour"  #: what the user configures: the same 10/s
STRICT_RATE: Final = 10.0
STRICT_SHARE: Final = 0.90
STRICT_MAX_429: Final = 4  #: "fewer than 5"
REDIS_PROCESSES: Final = 3
REDIS_ROWS: Final = 300
REDIS_CLIENT_RATE: Final = "20/s"
REDIS_RATE: Final = 20.0
REDIS_SHARE: Final = 0.90
REDIS_MAX_PER_SECOND: Final = 21
WINDOW_LIMIT: Final = "30/10s"
WINDOW_LENGTH: Final = 10.0
WINDOW_CLIENT_RATE: Final = "10/s"
WINDOW_SECONDS: Final = 25.0
#: Backoff: in a used-up window, the last gap between 429s at least this times the first.
WINDOW_GROWTH: Final = 2.0
TOKEN_PATH: Final = "/api/v2/token"
#: How long to wait for a process that should end by itself.
PROCESS_TIMEOUT: Final = 120.0
_POLL: Final = 0.02
_CREDENTIALS: Final = {"IDENFY_API_KEY": "test-key", "IDENFY_API_SECRET": "test-secret"}


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True)
class Entry:
    """One API request as the fake server logged it."""

    time: float  #: the server's monotonic seconds at arrival
    method: str
    path: str
    status: int | None  #: None: no answer was sent
    client_key: str | None = None  #: keyed hash of the clientId (session creations)

    @property
    def creation(self) -> bool:
        return self.method == "POST" and self.path == TOKEN_PATH

    @property
    def created(self) -> bool:
        return self.creation and self.status == 201

    @property
    def refused(self) -> bool:
        return self.status == 429


def parse_log(payload: Mapping[str, Any]) -> list[Entry]:
    """The entries of a ``GET /__fake__/requests`` answer, oldest first.

    Raises:
        ValueError: the log dropped entries (it holds the newest only), so counts
            taken from it would be short.
    """
    if payload.get("dropped"):
        raise ValueError(f"the fake's request log dropped {payload['dropped']} entries")
    entries = [
        Entry(e["time"], e["method"], e["path"], e["status"], e.get("clientKey"))
        for e in payload["requests"]
    ]
    return sorted(entries, key=lambda e: e.time)


def busiest_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most of ``times`` (sorted) inside any half-open window ``width`` long."""
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + width, lo=i) - i)
    return best


def between(entries: Sequence[Entry], start: float, end: float) -> list[Entry]:
    """The entries that arrived in ``[start, end)``."""
    return [e for e in entries if start <= e.time < end]


def creations_per_client(entries: Sequence[Entry]) -> Counter[str]:
    """Sessions created (201) per clientId's key."""
    return Counter(e.client_key for e in entries if e.created and e.client_key is not None)


def gaps(times: Sequence[float]) -> list[float]:
    """Seconds between consecutive ``times``."""
    return [b - a for a, b in itertools.pairwise(times)]


def refusals_by_window(entries: Sequence[Entry], length: float) -> dict[int, list[float]]:
    """The 429s' arrival times, per aligned window (the fake's: ``floor(time / length)``)."""
    windows: dict[int, list[float]] = {}
    for entry in entries:
        if entry.refused:
            windows.setdefault(math.floor(entry.time / length), []).append(entry.time)
    return windows


def backs_off(times: Sequence[float], growth: float = WINDOW_GROWTH) -> bool:
    """Whether 429s in one window were retried with a growing wait: fewer than 3
    (nothing to compare), or the last gap at least ``growth`` times the first."""
    steps = gaps(times)
    return len(steps) < 2 or steps[-1] >= growth * steps[0]


# --------------------------------------------------------------------------- processes


def _env(base_url: str, directory: Path, redis_url: str | None = None) -> dict[str, str]:
    """The bulk command's environment: the fake's credentials and URL, nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENFY_")}
    root = str(Path(idenfy_async.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env.update(_CREDENTIALS, IDENFY_BASE_URL=base_url, IDENFY_JOURNAL_DIR=str(directory))
    if redis_url is not None:
        env["IDENFY_REDIS_URL"] = redis_url
    return env


class FakeServer:
    """``idenfy-async fake-server --port 0 ARGS`` in a subprocess, and its request log."""

    def __init__(self, *args: str) -> None:
        env = _env("", Path(tempfile.gettempdir()))
        self._process = subprocess.Popen(
            [
                *(sys.executable, "-m", "idenfy_async", "fake-server", "--port", "0"),
                *("--exit-with-parent", "--exit-after", "900", *args),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        try:
            self.base_url: str = json.loads(line)["url"]
        except (ValueError, KeyError):
            self.stop()
            raise RuntimeError(f"fake-server did not start (said {line!r})") from None
        self._http = httpx.Client(base_url=self.base_url + "/__fake__", timeout=30)

    def log(self) -> list[Entry]:
        """Every API request it received so far."""
        answer = self._http.get("/requests")
        answer.raise_for_status()
        return parse_log(answer.json())

    def client_ids(self) -> Counter[str]:
        """Sessions it holds per clientId (its control endpoint, local use only)."""
        answer = self._http.get("/sessions")
        answer.raise_for_status()
        return Counter(s["clientId"] for s in answer.json()["sessions"])

    def first_request(self, timeout: float = 60.0) -> float:
        """The arrival time of the first API request, once there is one."""
        deadline = time.monotonic() + timeout
        while not (entries := self.log()):
            if time.monotonic() > deadline:
                raise RuntimeError("no request reached the fake server")
            time.sleep(_POLL)
        return entries[0].time

    def stop(self) -> None:
        with contextlib.suppress(AttributeError):
            self._http.close()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


@contextlib.contextmanager
def fake_server(*args: str) -> Iterator[FakeServer]:
    server = FakeServer(*args)
    try:
        yield server
    finally:
        server.stop()


def write_input(path: Path, rows: int, prefix: str = "c") -> list[str]:
    """A CSV of ``rows`` customers; their clientIds."""
    ids = [f"{prefix}-{i:05d}" for i in range(rows)]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["clientId", "firstName", "lastName"])
        writer.writerows([cid, "Ann", "Lee"] for cid in ids)
    return ids


@dataclass
class Bulk:
    """One ``idenfy-async bulk`` subprocess: when it started and ended, its OUT."""

    process: subprocess.Popen[bytes]
    out: Path
    stderr: Path
    started: float
    ended: float | None = None

    def created(self) -> int:
        """Lines of OUT with status created."""
        if not self.out.exists():
            return 0
        lines = self.out.read_text(encoding="utf-8").splitlines()
        return sum(json.loads(line).get("status") == "created" for line in lines if line)

    def diagnosis(self) -> str:
        tail = self.stderr.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return " | ".join(tail[-3:])


def start_bulk(
    env: Mapping[str, str], directory: Path, name: str, input_path: Path, rate: str
) -> Bulk:
    out, journal, stderr = (directory / f"{name}{s}" for s in (".jsonl", ".db", ".err"))
    argv = [sys.executable, "-m", "idenfy_async", "bulk", str(input_path), "--out", str(out)]
    argv += ["--journal", str(journal), "--rate", rate]
    with stderr.open("wb") as err:
        process = subprocess.Popen(argv, env=dict(env), stdout=subprocess.DEVNULL, stderr=err)
    return Bulk(process, out, stderr, time.monotonic())


def wait_all(runs: Sequence[Bulk], timeout: float = PROCESS_TIMEOUT) -> None:
    """Wait for every run to end, noting when each did (to ``_POLL`` seconds)."""
    deadline = time.monotonic() + timeout
    while any(run.ended is None for run in runs):
        for run in runs:
            if run.ended is None and run.process.poll() is not None:
                run.ended = time.monotonic()
        if time.monotonic() > deadline:
            for run in runs:
                if run.ended is None:
                    run.process.kill()
            raise RuntimeError(f"bulk did not finish within {timeout:g} s")
        time.sleep(_POLL)


def interrupt(run: Bulk) -> None:
    """Ctrl-C, as a user would; then wait for the run to end."""
    run.process.send_signal(signal.SIGINT)
    wait_all([run])


# --------------------------------------------------------------------------- strict gateway


@dataclass
class StrictResult:
    seconds: float
    created: int  #: sessions created (201) that arrived in the measured seconds
    refused: int  #: 429 answers, the whole run
    requests: int  #: API requests, the whole run
    created_total: int  #: 201 creations in the log, the whole run
    server_sessions: int  #: sessions the fake holds
    out_created: int  #: OUT lines with status created
    first_gap: float | None  #: seconds between the first two requests
    closest_admitted: float | None  #: the least seconds between two requests let through
    longest_gap: float | None  #: the most seconds between two requests (a pause)
    exit_code: int | None

    @property
    def share(self) -> float:
        return self.created / (self.seconds * STRICT_RATE)

    @property
    def ok(self) -> bool:
        return self.share >= STRICT_SHARE and self.refused <= STRICT_MAX_429


def strict_gateway(
    seconds: float = STRICT_SECONDS,
    *,
    gateway: str = STRICT_GATEWAY,
    client_rate: str = STRICT_CLIENT_RATE,
    rows: int | None = None,
) -> StrictResult:
    """One run against a capacity-1 token bucket, stopped ``seconds`` after its first
    request arrived (the rate in the result assumes ``gateway`` is 10/s)."""
    rows = rows or int(seconds * STRICT_RATE * 2) + 20
    with (
        tempfile.TemporaryDirectory(prefix="idenfy-pacing-") as tmp,
        fake_server("--rate-limit", gateway, "--no-retry-after") as server,
    ):
        directory = Path(tmp)
        write_input(directory / "in.csv", rows)
        run = start_bulk(
            _env(server.base_url, directory), directory, "strict", directory / "in.csv", client_rate
        )
        try:
            first = server.first_request()
            time.sleep(max(0.0, first + seconds - time.monotonic()))
        finally:
            interrupt(run)
        entries = server.log()
        times = [e.time for e in entries]
        admitted = gaps([e.time for e in entries if not e.refused])
        return StrictResult(
            seconds=seconds,
            created=sum(e.created for e in between(entries, first, first + seconds)),
            refused=sum(e.refused for e in entries),
            requests=len(entries),
            created_total=sum(e.created for e in entries),
            server_sessions=sum(server.client_ids().values()),
            out_created=run.created(),
            first_gap=gaps(times)[0] if len(times) > 1 else None,
            closest_admitted=min(admitted, default=None),
            longest_gap=max(gaps(times), default=None),
            exit_code=run.process.returncode,
        )


# --------------------------------------------------------------------------- three processes


@dataclass
class RedisResult:
    rows: int
    sessions: Counter[str]  #: sessions per clientId at the server
    missing: int  #: input clientIds without a session
    busiest: int  #: most requests in any 1-second window
    requests_together: int  #: API requests while every process was alive
    together: float  #: seconds every process was alive
    elapsed: float  #: from the first start to the last exit
    requests: int
    exit_codes: list[int | None] = field(default_factory=list)

    @property
    def once(self) -> bool:
        return self.missing == 0 and max(self.sessions.values(), default=0) == 1

    @property
    def share(self) -> float:
        return self.requests_together / self.together / REDIS_RATE if self.together > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.once and self.busiest <= REDIS_MAX_PER_SECOND and self.share >= REDIS_SHARE


def three_processes(
    redis_url: str,
    *,
    processes: int = REDIS_PROCESSES,
    rows: int = REDIS_ROWS,
    client_rate: str = REDIS_CLIENT_RATE,
) -> RedisResult:
    """``processes`` bulk runs of one input sharing ``redis_url``, to the end."""
    with tempfile.TemporaryDirectory(prefix="idenfy-pacing-") as tmp, fake_server() as server:
        directory = Path(tmp)
        ids = write_input(directory / "in.csv", rows)
        env = _env(server.base_url, directory, redis_url)
        runs = [
            start_bulk(env, directory, f"p{i}", directory / "in.csv", client_rate)
            for i in range(processes)
        ]
        wait_all(runs)
        entries = server.log()
        sessions = server.client_ids()
    start = max(run.started for run in runs)
    end = min(run.ended or math.inf for run in runs)
    return RedisResult(
        rows=rows,
        sessions=sessions,
        missing=len(set(ids) - set(sessions)),
        busiest=busiest_window([e.time for e in entries]),
        requests_together=len(between(entries, start, end)),
        together=max(0.0, end - start),
        elapsed=max(run.ended or math.inf for run in runs) - min(run.started for run in runs),
        requests=len(entries),
        exit_codes=[run.process.returncode for run in runs],
    )


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` (the Redis benchmark's)."""
    from .redis_quota import redis_server as start

    with start() as url:
        yield url


# --------------------------------------------------------------------------- hourly window


@dataclass
class WindowResult:
    seconds: float
    created: int
    refused: dict[int, list[float]]  #: 429 arrival times per aligned window
    window_starts: dict[int, float]
    exit_code: int | None

    @property
    def ok(self) -> bool:
        return all(backs_off(times) for times in self.refused.values())


def hourly_window(
    seconds: float = WINDOW_SECONDS,
    *,
    window: str = WINDOW_LIMIT,
    length: float = WINDOW_LENGTH,
    client_rate: str = WINDOW_CLIENT_RATE,
) -> WindowResult:
    """One run against a fixed window (``window``, ``length`` seconds long), stopped
    ``seconds`` after its first request."""
    with (
        tempfile.TemporaryDirectory(prefix="idenfy-pacing-") as tmp,
        fake_server("--rate-limit-window", window) as server,
    ):
        directory = Path(tmp)
        write_input(directory / "in.csv", 2000)
        run = start_bulk(
            _env(server.base_url, directory), directory, "window", directory / "in.csv", client_rate
        )
        try:
            first = server.first_request()
            time.sleep(max(0.0, first + seconds - time.monotonic()))
        finally:
            if run.process.poll() is None:
                interrupt(run)
            else:
                wait_all([run])
        entries = server.log()
    refused = refusals_by_window(entries, length)
    return WindowResult(
        seconds=seconds,
        created=sum(e.created for e in entries),
        refused=refused,
        window_starts={k: k * length for k in refused},
        exit_code=run.process.returncode,
    )


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_strict(results: Sequence[StrictResult]) -> None:
    _out(
        f"strict gateway: token bucket {STRICT_GATEWAY}, capacity 1, 429 without Retry-After;"
        f" bulk --rate {STRICT_CLIENT_RATE}, Ctrl-C after {results[0].seconds:g} s"
    )
    _out(
        f"  {'run':>3} {'created':>7} {'% of 10/s':>9} {'429s':>5} {'requests':>8}"
        f" {'1st gap ms':>10} {'max gap ms':>10} {'exit':>4}"
        f"  target >= {STRICT_SHARE:.0%} and < 5 429s"
    )
    for number, r in enumerate(results, 1):
        first, longest = (
            f"{g * 1000:10.0f}" if g is not None else f"{'-':>10}"
            for g in (r.first_gap, r.longest_gap)
        )
        _out(
            f"  {number:>3} {r.created:>7} {r.share:>9.0%} {r.refused:>5} {r.requests:>8}"
            f" {first} {longest} {r.exit_code!s:>4}  {_verdict(r.ok)}"
        )


def report_redis(r: RedisResult) -> None:
    _out(
        f"three processes, one Redis: {REDIS_PROCESSES} x bulk --rate {REDIS_CLIENT_RATE},"
        f" the same {r.rows}-row input, separate journals"
    )
    most = max(r.sessions.values(), default=0)
    _out(
        f"  sessions: {sum(r.sessions.values())} for {len(r.sessions)} clientIds, at most"
        f" {most} per clientId, {r.missing} missing -> {_verdict(r.once)} (each exactly once)"
    )
    _out(
        f"  busiest 1-s window: {r.busiest} requests -> "
        f"{_verdict(r.busiest <= REDIS_MAX_PER_SECOND)} (<= {REDIS_MAX_PER_SECOND})"
    )
    _out(
        f"  while all {REDIS_PROCESSES} ran: {r.requests_together} requests in {r.together:.1f} s"
        f" = {r.share:.0%} of 20/s -> {_verdict(r.share >= REDIS_SHARE)} (>= {REDIS_SHARE:.0%})"
    )
    _out(
        f"  total: {r.requests} requests, {r.elapsed:.1f} s from the first start to the last"
        f" exit; exit codes {r.exit_codes}"
    )


def report_window(r: WindowResult) -> None:
    _out(
        f"hourly-window shape: fixed window {WINDOW_LIMIT}, 429 without Retry-After;"
        f" bulk --rate {WINDOW_CLIENT_RATE} for {r.seconds:g} s: {r.created} created,"
        f" exit {r.exit_code}"
    )
    if not r.refused:
        _out("  no 429 (the window was never used up)")
    for key, times in sorted(r.refused.items()):
        start = r.window_starts[key]
        at = ", ".join(f"{t - start:.2f}" for t in times[:12]) + (" ..." if len(times) > 12 else "")
        steps = ", ".join(f"{g:.2f}" for g in gaps(times)[:11])
        _out(
            f"  window +{start - min(r.window_starts.values()):.0f} s: {len(times)} x 429 at"
            f" [{at}] s into it; gaps [{steps}] -> {_verdict(backs_off(times))}"
            f" (gaps grow >= {WINDOW_GROWTH:g}x)"
        )


def run_part(
    parts: Sequence[str] = PARTS,
    *,
    runs: int = DEFAULT_RUNS,
    seconds: float = STRICT_SECONDS,
    check: bool = False,
) -> int:
    """Run and print the chosen measurements; 1 with ``check`` when a target is missed."""
    _out(f"Pacing benchmark ({os.cpu_count()} CPUs), from outside: the fake server's request log")
    ok = True
    if "strict" in parts:
        strict = [strict_gateway(seconds) for _ in range(runs)]
        report_strict(strict)
        ok = ok and all(r.ok for r in strict)
    if "redis" in parts:
        if shutil.which("redis-server") is None:
            _out("three processes, one Redis: skipped (redis-server is not installed)")
        else:
            with redis_server() as url:
                result = three_processes(url)
            report_redis(result)
            ok = ok and result.ok
    if "window" in parts:
        window = hourly_window()
        report_window(window)
        ok = ok and window.ok
    if check and not ok:
        _out("CHECK FAILED: a pacing target was missed")
        return 1
    if check:
        _out("check passed: every pacing target met")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pacing",
        description="How much of a rate limit idenfy-async bulk uses, measured at a fake server.",
    )
    parser.add_argument("--only", action="append", choices=PARTS, help="repeatable")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="strict-gateway runs")
    parser.add_argument(
        "--seconds", type=float, default=STRICT_SECONDS, help="seconds of a strict-gateway run"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    parts = [p for p in PARTS if args.only is None or p in args.only]
    return run_part(parts, runs=args.runs, seconds=args.seconds, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
