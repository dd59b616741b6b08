"""The bulk ledger's throughput: rows per second, PostgreSQL beside SQLite, 1 and 3 writers.

    python -m benchmarks.ledger [--rows N] [--concurrency C] [--postgres-url URL]

Run from a checkout with the test dependencies and the ``[postgres]`` extra: it starts
a PostgreSQL server of its own (``tests/support/pgserver.py``, on a free 127.0.0.1
port, fsync on: commits are as durable as a real server's) unless ``--postgres-url``
names one (its ``idenfy_async`` schema is used, under a random account).

A row costs the ledger what a bulk row costs it: a lookup, ``pending`` before the
send, the outcome after (``get`` + 2 ``put``, each committed before it returns); for
PostgreSQL also the claiming a worker does (``claim``, ``put_claimed`` in place of the
pending ``put``, ``unclaim``). Each writer keeps ``--concurrency`` rows in flight.
Writers are processes, each with its own journal (PostgreSQL: its own connections);
an SQLite file is locked to one process, so its 3 writers are 3 groups of tasks on
the one journal. Rows/s are over all writers, from the first start to the last end.
Any iDenfy quota is a few rows per second (the default is 10,000 an hour).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any, Final

from idenfy_async.bulk.journal import (
    Claimed,
    JournalEntry,
    JournalState,
    PostgresJournal,
    SqliteJournal,
)

DEFAULT_ROWS: Final = 2_000
DEFAULT_CONCURRENCY: Final = 10
LEASE: Final = 60.0


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def _row(journal: SqliteJournal | PostgresJournal, cid: str, owner: str | None) -> None:
    pending = JournalEntry(
        client_id=cid, state=JournalState.PENDING, attempts=1, pending_at=time.time()
    )
    if owner is not None:
        claimed = await journal.claim(cid, owner, LEASE)
        if claimed != Claimed(None) or not await journal.put_claimed(pending, owner):
            raise RuntimeError(f"{cid}: a fresh row was not this writer's: {claimed}")
    else:
        if await journal.get(cid) is not None:
            raise RuntimeError(f"{cid}: a fresh row has an entry")
        await journal.put(pending)
    created = JournalEntry(
        client_id=cid,
        state=JournalState.CREATED,
        scan_ref=f"scan-{cid}",
        auth_token=secrets.token_hex(16),
        redirect_url=f"https://ivs.idenfy.com/api/v2/redirect?authToken={cid}",
        attempts=1,
    )
    await journal.put(created)
    if owner is not None:
        await journal.unclaim(cid, owner)


async def _write(
    journal: SqliteJournal | PostgresJournal,
    ids: Sequence[str],
    concurrency: int,
    owner: str | None,
) -> None:
    rows = iter(ids)

    async def worker() -> None:
        for cid in rows:
            await _row(journal, cid, owner)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _open(where: str, scope: str) -> SqliteJournal | PostgresJournal:
    if where.startswith("postgresql://"):
        return PostgresJournal(where, scope=scope)
    return SqliteJournal(where, scope=scope)


async def _writer(
    where: str, scope: str, groups: list[list[str]], concurrency: int, claims: bool
) -> tuple[float, float]:
    """One process's writing: (start, end) on the wall clock."""
    async with _open(where, scope) as journal:
        start = time.time()
        await asyncio.gather(
            *(
                _write(journal, ids, concurrency, f"{os.getpid()}-{n}" if claims else None)
                for n, ids in enumerate(groups)
            )
        )
        return start, time.time()


def _child(
    where: str,
    scope: str,
    groups: list[list[str]],
    concurrency: int,
    claims: bool,
    barrier: Any,
    results: Any,
) -> None:
    barrier.wait()
    results.put(asyncio.run(_writer(where, scope, groups, concurrency, claims)))


def measure(
    where: str, *, writers: int, processes: int, rows: int, concurrency: int, claims: bool
) -> float:
    """Rows per second of ``writers`` writing ``rows`` rows in all, in ``processes``."""
    scope = f"bench-{secrets.token_hex(4)}"
    ids = [f"{scope}-{i}" for i in range(rows)]
    groups = [ids[n::writers] for n in range(writers)]
    per_process = [groups[n::processes] for n in range(processes)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    children = [
        context.Process(
            target=_child, args=(where, scope, mine, concurrency, claims, barrier, results)
        )
        for mine in per_process
    ]
    for child in children:
        child.start()
    spans = [results.get(timeout=600) for _ in children]
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"a writer failed (exit {child.exitcode})")
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    return rows / (end - start)


def run(postgres_url: str | None, *, rows: int, concurrency: int) -> None:
    _out(f"ledger throughput: {rows} rows, {concurrency} in flight per writer, durable commits")
    _out(f"{'backend':<28}{'1 writer':>14}{'3 writers':>14}")
    with tempfile.TemporaryDirectory(prefix="idenfy-ledger-") as tmp:
        for label, claims in (("SQLite", False),):
            cells = []
            for writers in (1, 3):
                path = os.path.join(tmp, f"{writers}.sqlite")
                cells.append(
                    measure(
                        path,
                        writers=writers,
                        processes=1,
                        rows=rows,
                        concurrency=concurrency,
                        claims=claims,
                    )
                )
            _out(f"{label:<28}{cells[0]:>10.0f} r/s{cells[1]:>10.0f} r/s")
        if postgres_url is None:
            from tests.support.pgserver import PostgresServer  # a checkout's test helper

            with PostgresServer(fsync=True) as server:
                _postgres_rows(server.create_database(), rows, concurrency)
        else:
            _postgres_rows(postgres_url, rows, concurrency)


def _postgres_rows(url: str, rows: int, concurrency: int) -> None:
    for label, claims in (("PostgreSQL", False), ("PostgreSQL, claiming rows", True)):
        cells = [
            measure(
                url,
                writers=writers,
                processes=writers,
                rows=rows,
                concurrency=concurrency,
                claims=claims,
            )
            for writers in (1, 3)
        ]
        _out(f"{label:<28}{cells[0]:>10.0f} r/s{cells[1]:>10.0f} r/s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger", description=__doc__)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--postgres-url", metavar="URL")
    args = parser.parse_args(argv)
    run(args.postgres_url, rows=args.rows, concurrency=args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
