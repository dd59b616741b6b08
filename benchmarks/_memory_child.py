"""One bulk run in a fresh process, reporting its memory: run by ``benchmarks.bulk``.

    python -m benchmarks._memory_child --rows N --journal PATH [--base-url URL] [...]

Start it through ``benchmarks.bulk``'s launcher (fork, then exec): on Linux a process
started by exec keeps, in ``ru_maxrss``, the peak RSS of the image it replaced, i.e.
of the process that spawned it; a fork of a small launcher starts it clean.

Streams ``N`` rows from a generator through ``AsyncIdenfy.create_sessions`` with a
``SqliteJournal``, counting results without keeping them, and prints one JSON object:
peak RSS (``ru_maxrss``, and ``VmHWM`` to cross-check) when the last result is in, and
for the whole process (with the journal's count and close), RSS before the first row
and at 10/50/100% of the rows, the rows created as counted by the client, the journal
and the fake.

Without ``--base-url`` the client talks to an in-process ``FakeIdenfy`` transport that
forgets each session once counted (``fake.sessions`` would grow by one entry per row:
the fake's memory, not the library's); with it, to a ``FakeIdenfyServer`` in another
process, so this process holds only the client and the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any, Final

import httpx

from idenfy_async import (
    AsyncIdenfy,
    BulkState,
    JournalState,
    SessionRequest,
    SqliteJournal,
)
from idenfy_async.testing import FakeIdenfy

from ._payload import REQUEST_FIELDS

FAKE_KEY: Final = "test-key"
FAKE_SECRET: Final = "test-secret"


class ForgetfulFake(FakeIdenfy):
    """``FakeIdenfy`` doing all its usual work per request, but keeping no session."""

    created = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.created += len(self.sessions)
        self.sessions.clear()
        return response


def rows(count: int, prefix: str) -> Iterator[SessionRequest]:
    """``count`` distinct requests, built one at a time as the runner asks for them."""
    fields = dict(REQUEST_FIELDS)
    for index in range(count):
        fields["client_id"] = f"{prefix}-{index:07d}"
        yield SessionRequest(**fields)


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib() -> int:
    """The current resident set size (Linux ``/proc``), in KiB."""
    return _status_kib("VmRSS")


def hwm_kib() -> int:
    """The peak RSS of this process image (``VmHWM``, reset by exec), in KiB."""
    return _status_kib("VmHWM")


def peak_kib() -> int:
    """The peak resident set size of this process so far (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def run(args: argparse.Namespace) -> dict[str, Any]:
    total: int = args.rows
    fake = ForgetfulFake(FAKE_KEY, FAKE_SECRET) if args.base_url is None else None
    async with (
        AsyncIdenfy(
            FAKE_KEY,
            FAKE_SECRET,
            base_url=args.base_url,
            transport=fake,
            max_concurrency=args.concurrency,
            rate_limit=args.rate_limit,
        ) as client,
        SqliteJournal(args.journal) as journal,
    ):
        gc.collect()
        before = rss_kib()
        peak_before = peak_kib()
        marks = {max(1, total * share // 100): share for share in (10, 50, 100)}
        rss_at: dict[str, int] = {}
        created = done = 0
        started = time.perf_counter()
        async for result in client.create_sessions(
            rows(total, args.prefix), concurrency=args.concurrency, journal=journal
        ):
            done += 1
            created += result.state is BulkState.CREATED
            if done in marks:
                rss_at[f"{marks[done]}%"] = rss_kib()
        seconds = time.perf_counter() - started
        run_peak, run_hwm = peak_kib(), hwm_kib()
        # Verification, after the peak of the run was read: a GROUP BY over the whole
        # table, which takes ~2 MiB more at 100,000 rows (SQLite's, not the run's).
        journal_created = (await journal.counts())[JournalState.CREATED]
    return {
        "rows": total,
        "done": done,
        "created": created,
        "journal_created": journal_created,
        "fake_created": fake.created if fake is not None else None,
        "seconds": seconds,
        "rss_before_kib": before,
        "peak_before_kib": peak_before,
        "rss_at_kib": rss_at,
        "run_peak_kib": run_peak,
        "run_hwm_kib": run_hwm,
        "peak_kib": peak_kib(),  # the whole process: with the count and the close
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--journal", required=True, help="SqliteJournal file to create")
    parser.add_argument("--base-url", default=None, help="a fake server; default in-process")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate-limit", default=None)
    parser.add_argument("--prefix", default="mem")
    parser.add_argument("--timeout", type=int, default=900, help="die after this many seconds")
    args = parser.parse_args(argv)
    signal.alarm(args.timeout)  # bounded lifetime, even if the parent is gone
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
