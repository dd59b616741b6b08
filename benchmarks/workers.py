"""Workers splitting one input, measured from outside: one PostgreSQL ledger, one Redis.

    python -m benchmarks.workers [--rows 300] [--rate 20] [--kill-after 100] [--lease 5]
                                 [--settle-window 3] [--latency MS] [--check]

As a user would run them: ``idenfy-async fake-server`` and three ``idenfy-async bulk``
subprocesses on the same INPUT, each with ``--journal postgresql://...`` (one
database, a PostgreSQL server of its own on a free loopback port,
``tests/support/pgserver.py``), ``IDENFY_REDIS_URL`` (one ``redis-server``) and
``--rate 20/s``. Once the fake server has created ``--kill-after`` sessions, the first
worker is SIGKILLed; the two others run to the end. The verdict comes from the fake
server (its sessions per clientId and its request log) and the ledger, not from what
the workers say:

* every clientId is created exactly once at the server, none missing;
* the rows the dead worker had claimed and never sent (a claim, no entry) are created
  by the survivors, after the lease (``--claim-lease``);
* while all three were alive (from the last start to the kill), the requests that
  reached the server are >= 90 % of 20/s;
* each survivor created some rows (they split the work).

Also reported, not a target: the most requests in any 1-second window at the server
(a request leaving late, its ``pending`` write slow on a loaded machine, lands closer
to the next one: the average pace is what the quota keeps).

``--latency MS`` makes the fake hold each answer, so the killed worker leaves rows
``pending`` (maybe sent): the survivors reconcile them against the fake's listing.

``--check`` exits 1 when a target is missed. Takes about ``rows / rate`` seconds plus
the lease.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .pacing import (
    Bulk,
    FakeServer,
    _env,
    between,
    busiest_window,
    fake_server,
    wait_all,
    write_input,
)

WORKERS: Final = 3
ROWS: Final = 300
RATE: Final = 20.0
SHARE: Final = 0.90
#: Requests in any 1-second window at the server that 20/s allows (one of slack).
MAX_PER_SECOND: Final = 21
#: Sessions created at the server before the first worker is killed.
KILL_AFTER: Final = 100
#: --claim-lease and --settle-window of the workers: short, so the survivors take the
#: dead worker's rows over within the run.
LEASE: Final = 5.0
SETTLE_WINDOW: Final = 3.0
_POLL: Final = 0.02
_LEFT_BEHIND: Final = (
    "SELECT c.client_id, e.state, c.lease_until FROM idenfy_async.claims c"
    " LEFT JOIN idenfy_async.entries e USING (account, client_id)"
    " WHERE c.owner LIKE %s"
)
_FINISHED: Final = (
    "SELECT client_id, state, updated_at FROM idenfy_async.entries WHERE client_id = ANY(%s)"
)


def _query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def start_worker(
    env: Mapping[str, str],
    directory: Path,
    name: str,
    input_path: Path,
    *,
    journal: str,
    rate: float,
    lease: float,
    settle_window: float,
) -> Bulk:
    """One ``idenfy-async bulk`` on the shared ledger."""
    out, stderr = directory / f"{name}.jsonl", directory / f"{name}.err"
    argv = [sys.executable, "-m", "idenfy_async", "bulk", str(input_path), "--out", str(out)]
    argv += ["--journal", journal, "--rate", f"{rate:g}/s", "--claim-lease", f"{lease:g}"]
    argv += ["--settle-window", f"{settle_window:g}"]
    with stderr.open("wb") as err:
        process = subprocess.Popen(argv, env=dict(env), stdout=subprocess.DEVNULL, stderr=err)
    return Bulk(process, out, stderr, time.monotonic())


def _created_ids(run: Bulk) -> set[str]:
    """clientIds OUT of ``run`` says it created."""
    if not run.out.exists():
        return set()
    ids = set()
    for line in run.out.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # the dead worker's last line may be cut
            continue
        if record.get("status") == "created":
            ids.add(record["clientId"])
    return ids


@dataclass
class WorkersResult:
    rows: int
    rate: float
    lease: float
    sessions: Counter[str]  #: sessions per clientId at the server
    missing: int  #: input clientIds without a session
    requests_together: int  #: API requests while all workers were alive
    together: float  #: seconds all were alive (the last start to the kill)
    left_claimed: list[str]  #: rows the dead worker had claimed, never sent
    left_pending: list[str]  #: rows it left pending (maybe sent)
    taken_over: dict[str, tuple[str, float]]  #: left row -> (its state, seconds after kill)
    early: int  #: left rows whose outcome was written before their lease ended
    busiest: int  #: most requests in any 1-second window at the server
    created_by: list[int]  #: sessions each worker's OUT says it created
    survivors_created_left: int  #: left claimed rows the survivors' OUT says they created
    elapsed: float
    exit_codes: list[int | None] = field(default_factory=list)

    @property
    def once(self) -> bool:
        return self.missing == 0 and max(self.sessions.values(), default=0) == 1

    @property
    def share(self) -> float:
        if self.together <= 0:
            return 0.0
        return self.requests_together / self.together / self.rate

    @property
    def finished_left(self) -> bool:
        """The dead worker's never-sent rows were created by the survivors, after the lease."""
        claimed = [self.taken_over.get(cid) for cid in self.left_claimed]
        return (
            all(t is not None and t[0] == "created" for t in claimed)
            and self.survivors_created_left == len(self.left_claimed)
            and self.early == 0
        )

    @property
    def split(self) -> bool:
        return all(n > 0 for n in self.created_by[1:])  # the dead one's OUT is cut

    @property
    def ok(self) -> bool:
        return self.once and self.finished_left and self.split and self.share >= SHARE


def run_workers(
    pg_url: str,
    redis_url: str,
    *,
    workers: int = WORKERS,
    rows: int = ROWS,
    rate: float = RATE,
    kill_after: int = KILL_AFTER,
    lease: float = LEASE,
    settle_window: float = SETTLE_WINDOW,
    latency_ms: float = 0.0,
    timeout: float = 300.0,
) -> WorkersResult:
    """``workers`` bulk runs of one input on one ledger and one Redis; the first is
    SIGKILLed once the server created ``kill_after`` sessions."""
    with (
        tempfile.TemporaryDirectory(prefix="idenfy-workers-") as tmp,
        fake_server("--latency", f"{latency_ms:g}") as server,
    ):
        directory = Path(tmp)
        ids = write_input(directory / "in.csv", rows)
        env = _env(server.base_url, directory, redis_url)
        runs = [
            start_worker(
                env,
                directory,
                f"w{i}",
                directory / "in.csv",
                journal=pg_url,
                rate=rate,
                lease=lease,
                settle_window=settle_window,
            )
            for i in range(workers)
        ]
        try:
            killed_at, wall_killed = _kill_after(server, runs[0], kill_after, timeout)
            left = _query(pg_url, _LEFT_BEHIND, f"%:{runs[0].process.pid}:%")
            wait_all(runs[1:], timeout)
        finally:
            for run in runs:
                if run.process.poll() is None:
                    run.process.kill()
                    run.process.wait()
        entries = server.log()
        sessions = server.client_ids()
        created_by = [len(_created_ids(run)) for run in runs]
        survivors = set().union(*(_created_ids(run) for run in runs[1:]))
    left_claimed = sorted(cid for cid, state, _ in left if state is None)
    left_pending = sorted(cid for cid, state, _ in left if state is not None)
    until = {cid: lease_until for cid, _, lease_until in left}
    finished = _query(pg_url, _FINISHED, list(until))
    # All three run from their start; the window opens at the first request after the
    # last start (the processes' start-up, imports and connections, is not sending).
    last_start = max(run.started for run in runs)
    start = min((e.time for e in entries if e.time >= last_start), default=last_start)
    return WorkersResult(
        rows=rows,
        rate=rate,
        lease=lease,
        sessions=sessions,
        missing=len(set(ids) - set(sessions)),
        requests_together=len(between(entries, start, killed_at)),
        together=max(0.0, killed_at - start),
        left_claimed=left_claimed,
        left_pending=left_pending,
        taken_over={cid: (state, at - wall_killed) for cid, state, at in finished},
        early=sum(at < until[cid] for cid, _, at in finished),
        busiest=busiest_window([e.time for e in entries]),
        created_by=created_by,
        survivors_created_left=len(survivors & set(left_claimed)),
        elapsed=max(run.ended or math.inf for run in runs[1:]) - min(r.started for r in runs),
        exit_codes=[run.process.returncode for run in runs],
    )


def _kill_after(server: FakeServer, run: Bulk, created: int, timeout: float) -> tuple[float, float]:
    """SIGKILL ``run`` once the server created ``created`` sessions; when (monotonic,
    wall clock)."""
    deadline = time.monotonic() + timeout
    while sum(e.created for e in server.log()) < created:
        if time.monotonic() > deadline or run.process.poll() is not None:
            raise RuntimeError("the workers did not get far enough to kill one mid-run")
        time.sleep(_POLL)
    run.process.send_signal(signal.SIGKILL)
    at, wall = time.monotonic(), time.time()
    run.process.wait()
    run.ended = at
    return at, wall


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(r: WorkersResult) -> None:
    _out(
        f"{WORKERS} x idenfy-async bulk --rate {r.rate:g}/s --claim-lease {r.lease:g}, the same"
        f" {r.rows}-row input, one PostgreSQL ledger, one Redis; worker 1 SIGKILLed mid-run"
    )
    most = max(r.sessions.values(), default=0)
    _out(
        f"  sessions: {sum(r.sessions.values())} for {len(r.sessions)} clientIds, at most"
        f" {most} per clientId, {r.missing} missing -> {_verdict(r.once)} (each exactly once)"
    )
    _out(
        f"  while all {WORKERS} ran (first request to the kill): {r.requests_together} requests"
        f" in {r.together:.1f} s ="
        f" {r.share:.0%} of {r.rate:g}/s -> {_verdict(r.share >= SHARE)} (>= {SHARE:.0%})"
    )
    _out(
        f"  busiest 1-s window: {r.busiest} requests (20/s allows {MAX_PER_SECOND}; reported,"
        " not a target)"
    )
    delays = [r.taken_over[c][1] for c in r.left_claimed if c in r.taken_over]
    when = f"{min(delays):.1f}-{max(delays):.1f} s after the kill" if delays else "-"
    _out(
        f"  the dead worker left {len(r.left_claimed)} claimed never-sent rows and"
        f" {len(r.left_pending)} pending; the survivors created"
        f" {r.survivors_created_left} of the never-sent ones, {when}"
        f" -> {_verdict(r.finished_left)} (all, none before its lease ended: {r.early} early)"
    )
    pending = ", ".join(f"{r.taken_over[c][0]}" for c in r.left_pending if c in r.taken_over)
    if r.left_pending:
        _out(f"  its pending rows ended: {pending} (reconciled against the server's listing)")
    _out(
        f"  created per survivor (OUT): {r.created_by[1:]} -> {_verdict(r.split)} (they"
        f" split the work); {r.elapsed:.1f} s in all; exit codes {r.exit_codes}"
    )


def run(args: argparse.Namespace) -> int:
    from tests.support.pgserver import PostgresServer

    from .redis_quota import redis_server

    if shutil.which("redis-server") is None:
        _out("workers: skipped (redis-server is not installed)")
        return 0
    _out(f"Workers benchmark ({os.cpu_count()} CPUs), from outside: the fake server and the ledger")
    with PostgresServer() as pg, redis_server() as redis_url:
        result = run_workers(
            pg.create_database(),
            redis_url,
            rows=args.rows,
            rate=args.rate,
            kill_after=args.kill_after,
            lease=args.lease,
            settle_window=args.settle_window,
            latency_ms=args.latency,
        )
    report(result)
    if args.check and not result.ok:
        _out("CHECK FAILED: a workers target was missed")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workers",
        description="Three bulk workers on one PostgreSQL ledger and one Redis, one killed.",
    )
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--rate", type=float, default=RATE, help="per second")
    parser.add_argument("--kill-after", type=int, default=KILL_AFTER, help="sessions created")
    parser.add_argument("--lease", type=float, default=LEASE, help="--claim-lease of the workers")
    parser.add_argument("--settle-window", type=float, default=SETTLE_WINDOW)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="ms the fake holds each answer (rows in flight)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
