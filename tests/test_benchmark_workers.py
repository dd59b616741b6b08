"""benchmarks.workers, short: three ``idenfy-async bulk`` workers on one PostgreSQL
ledger and one Redis, one SIGKILLed mid-run, measured at the fake server.

Asserts what holds however loaded the machine is: every clientId created exactly
once, the dead worker's claimed never-sent rows created by the survivors and none of
them before its lease ended, its rows in flight (the fake holds each answer) found or
created once by reconciliation, and both survivors did work. The share of the rate is
the benchmark's (``python -m benchmarks.workers --check``): over the second or so
this short run has with all three alive, it says little.
"""

from __future__ import annotations

import sys

import pytest

from benchmarks import workers
from idenfy_async.cli._exits import EXIT_OK, EXIT_ROWS
from tests.support.pgserver import PostgresServer
from tests.support.redisserver import RedisServer


@pytest.mark.skipif(sys.platform == "win32", reason="kills a worker with SIGKILL")
def test_three_workers_one_killed_create_every_row_once(
    postgres_server: PostgresServer, own_redis_server: RedisServer
) -> None:
    result = workers.run_workers(
        postgres_server.create_database(),
        own_redis_server.url,
        rows=60,
        kill_after=20,
        lease=2.0,
        settle_window=1.0,
        latency_ms=200.0,  # answers held: the killed worker leaves rows in flight
        timeout=120.0,
    )
    assert result.missing == 0
    assert set(result.sessions.values()) == {1}  # every clientId created exactly once
    assert result.exit_codes[0] == -9
    # 1: rows reconciled "found" (the dead worker's, maybe) have lost their authToken
    assert set(result.exit_codes[1:]) <= {EXIT_OK, EXIT_ROWS}
    # The rows the dead worker had claimed and not sent: created by the survivors,
    # never before the dead worker's lease ended.
    assert result.survivors_created_left == len(result.left_claimed)
    assert result.early == 0
    assert result.finished_left
    # The rows it left pending (maybe sent) were reconciled: found or created once.
    assert {result.taken_over[cid][0] for cid in result.left_pending} <= {"created", "found"}
    assert result.split
