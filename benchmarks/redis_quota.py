"""The account-wide Redis quota (:mod:`idenfy_async.coordination`): cost, rate used, priority.

    python -m benchmarks.redis_quota [--redis-url URL] [--seconds S] [--rate N/s]

Against a ``redis-server`` it starts on a free 127.0.0.1 port (``--save ''``, killed at
the end; ``redis-server`` must be installed) or the one at ``--redis-url`` (keys go
under a random API key's namespace, and are left to expire).

* **overhead**: one process, sequential interactive acquisitions at a rate far above
  what is reached, so none waits: wall and CPU microseconds per call (one
  ``EVALSHA`` round trip), next to a bare ``PING`` on the same connection; and
  what one open session per clientId adds to a create (a claim, its confirm and
  a commit: three round trips).
* **rate**: 1 and 3 processes (4 bulk tasks each) saturating ``--rate`` for
  ``--seconds``: the rate used as a share of the configured one (the promise:
  97-100 %) and the busiest one-second window (at most the rate), from the
  Redis server's slot times.
* **priority**: 2 bulk processes saturate the quota while a third acquires
  interactively every 70 ms: that call's wait, p50/p99/max, as the server decided
  it and as measured around ``acquire`` (round trip and wake-up included), in token
  intervals.

Processes are released together (each prints ``ready`` and waits for a line on stdin).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Final

from idenfy_async import Session, coordination

DEFAULT_SECONDS: Final = 3.0
DEFAULT_RATE: Final = "50/s"
OVERHEAD_CALLS: Final = 1000
OVERHEAD_ROUNDS: Final = 5
INTERACTIVE_GAP: Final = 0.07


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- redis-server


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` on a free loopback port; yields its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("redis-server is not installed (or pass --redis-url)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="idenfy-bench-redis-") as directory:
        process = subprocess.Popen(
            [
                *(executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", directory, "--loglevel", "warning"),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn,
                ):
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()


# --------------------------------------------------------------------------- child


async def _child(args: Sequence[str]) -> None:
    url, api_key, rate, priority, seconds, concurrency, gap = args
    redis = coordination.connect(url)
    quota = coordination.RedisQuota(redis, api_key, rate, fallback_share=None)
    grants: list[list[Any]] = []
    print("ready", flush=True)  # noqa: T201 - the protocol with the parent
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stop = time.monotonic() + float(seconds)

    async def work() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            grant = await quota.take("bulk" if priority == "bulk" else "interactive")
            grants.append([grant.slot, time.monotonic() - started, grant.waited])
            if float(gap):
                await asyncio.sleep(float(gap))

    try:
        await asyncio.gather(*(work() for _ in range(int(concurrency))))
    finally:
        await redis.aclose()
    print(json.dumps(grants), flush=True)  # noqa: T201


def run_processes(commands: Sequence[Sequence[str]], timeout: float) -> list[list[list[Any]]]:
    """One child per command, released together; their grants."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.redis_quota", "--child", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for command in commands
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline() != b"ready\n":
                raise SystemExit("a child did not start")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            process.stdin.flush()
        return [json.loads(process.communicate(timeout=timeout)[0]) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()


# --------------------------------------------------------------------------- parts


async def overhead(url: str) -> None:
    redis = coordination.connect(url)
    api_key = "bench-" + secrets.token_hex(8)
    quota = coordination.RedisQuota(redis, api_key, 1e9)
    sessions = coordination.SessionRegistry(redis, api_key)
    created = Session(auth_token="t" * 40, scan_ref="scan", client_id="c")
    numbers = iter(range(10**9))

    async def send(hook: Callable[[], Awaitable[None]]) -> Session:
        await hook()  # the claim and its confirm, where the request would leave
        return created

    async def claim() -> None:
        # A new clientId each time: claim, confirm and commit (three EVALSHAs).
        await sessions.create(f"c{next(numbers)}", b"{}", send, expiry_time=60)

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "acquire": quota.acquire,
        "session": claim,
        "PING": redis.ping,
    }
    try:
        await redis.ping()
        await quota.acquire()  # loads the script
        await claim()
        rows: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
        for _ in range(OVERHEAD_ROUNDS):
            for name in rows:
                call = calls[name]
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(OVERHEAD_CALLS):
                    await call()
                wall = (time.perf_counter() - wall) / OVERHEAD_CALLS * 1e6
                cpu = (time.process_time() - cpu) / OVERHEAD_CALLS * 1e6
                rows[name].append((wall, cpu))
    finally:
        await redis.aclose()
    _out(
        f"overhead ({OVERHEAD_CALLS} sequential calls x {OVERHEAD_ROUNDS} rounds, medians;"
        " session: single_session's claim, confirm and commit around a create):"
    )
    for name, samples in rows.items():
        wall_us = statistics.median(s[0] for s in samples)
        cpu_us = statistics.median(s[1] for s in samples)
        _out(f"  {name:<8} {wall_us:7.1f} us wall   {cpu_us:7.1f} us CPU per call")


def _busiest(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def rate_used(url: str, rate: str, seconds: float) -> None:
    per_second = coordination.QuotaSchedule.for_rate(rate).rate
    _out(f"rate used ({rate}, {seconds:g} s, 4 bulk tasks per process, server slot times):")
    for processes in (1, 3):
        api_key = "bench-" + secrets.token_hex(8)
        command = [url, api_key, rate, "bulk", str(seconds), "4", "0"]
        results = run_processes([command] * processes, timeout=seconds + 30)
        slots = sorted(g[0] for result in results for g in result)
        used = (len(slots) - 1) / (slots[-1] - slots[0]) / per_second
        _out(
            f"  {processes} process{'es' if processes > 1 else '  '}: {used:6.1%} of the rate,"
            f" busiest 1-s window {_busiest(slots)} (limit {per_second:g})"
        )


def priority(url: str, rate: str, seconds: float) -> None:
    api_key = "bench-" + secrets.token_hex(8)
    bulk = [url, api_key, rate, "bulk", str(seconds), "4", "0"]
    interactive = [url, api_key, rate, "interactive", str(seconds), "1", str(INTERACTIVE_GAP)]
    *_, users = run_processes([bulk, bulk, interactive], timeout=seconds + 30)
    interval = coordination.QuotaSchedule.for_rate(rate).interval_us / 1e6

    def quantiles(values: list[float]) -> str:
        values = sorted(values)
        p50 = values[len(values) // 2]
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        return (
            f"p50 {p50 * 1e3:5.1f} ms ({p50 / interval:4.2f} intervals)  "
            f"p99 {p99 * 1e3:5.1f} ms ({p99 / interval:4.2f})  "
            f"max {values[-1] * 1e3:5.1f} ms ({values[-1] / interval:4.2f})"
        )

    _out(
        f"interactive wait under a saturating bulk job ({rate}: interval"
        f" {interval * 1e3:.1f} ms; 2 bulk processes, 1 interactive every"
        f" {INTERACTIVE_GAP * 1e3:.0f} ms, {len(users)} calls):"
    )
    _out(f"  decided by the server: {quantiles([g[2] for g in users])}")
    _out(f"  measured in the caller: {quantiles([g[1] for g in users])}")


def run_part(
    redis_url: str | None = None, *, rate: str = DEFAULT_RATE, seconds: float = DEFAULT_SECONDS
) -> int:
    """Every measurement above; 0 (skipped with a note when nothing can run it)."""
    try:
        import redis  # noqa: F401 - the extra this part needs
    except ImportError:
        _out("Redis quota benchmark skipped: pip install 'idenfy-async[redis]'")
        return 0
    if redis_url is None and shutil.which("redis-server") is None:
        _out("Redis quota benchmark skipped: redis-server is not installed")
        return 0
    env_note = f"redis-server {shutil.which('redis-server') or '?'}; {os.cpu_count()} CPUs"
    with contextlib.ExitStack() as stack:
        url = redis_url or stack.enter_context(redis_server())
        _out(f"Redis quota benchmark ({env_note})")
        asyncio.run(overhead(url))
        rate_used(url, rate, seconds)
        priority(url, rate, seconds)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        asyncio.run(_child(argv[1:]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_quota")
    parser.add_argument("--redis-url", help="an existing Redis (default: start one)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--rate", default=DEFAULT_RATE)
    args = parser.parse_args(argv)
    return run_part(args.redis_url, rate=args.rate, seconds=args.seconds)


if __name__ == "__main__":
    sys.exit(main())
