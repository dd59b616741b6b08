"""benchmarks.pacing: its arithmetic on hand-made logs, and one short run so it cannot rot.

The short run asserts only what holds however well the client paces: every request
is logged, the counts of the log, the fake and OUT agree, and the fake's strict
gateway let no two requests through closer than its pace.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pytest

from benchmarks import pacing
from benchmarks.pacing import Entry
from idenfy_async.cli import EXIT_INTERRUPTED

TOKEN = "/api/v2/token"


def created(at: float, key: str = "k") -> Entry:
    return Entry(at, "POST", TOKEN, 201, key)


def refused(at: float) -> Entry:
    return Entry(at, "POST", TOKEN, 429, "k")


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], 0),
        ([0.0], 1),
        ([0.0, 0.5, 0.99, 1.0], 3),  # the window is half-open: 1.0 starts the next
        ([0.0, 0.95, 1.0, 1.05, 1.9, 3.0], 4),  # [0.95, 1.95) holds four
        ([0.1 * i for i in range(30)], 10),
    ],
)
def test_busiest_window(times: Sequence[float], expected: int) -> None:
    assert pacing.busiest_window(times) == expected


def test_parse_log_sorts_and_refuses_a_log_that_dropped_entries() -> None:
    requests = [
        {"time": 2.0, "method": "POST", "path": TOKEN, "status": 429, "clientKey": "b"},
        {"time": 1.0, "method": "GET", "path": "/kyc/identifications/", "status": 200},
    ]
    entries = pacing.parse_log({"requests": requests, "dropped": 0})
    assert entries == [
        Entry(1.0, "GET", "/kyc/identifications/", 200, None),
        Entry(2.0, "POST", TOKEN, 429, "b"),
    ]
    with pytest.raises(ValueError, match="dropped 3"):
        pacing.parse_log({"requests": requests, "dropped": 3})


def test_counts_from_a_log() -> None:
    log = [created(0.0, "a"), refused(0.05), created(0.1, "b"), created(1.0, "a")]
    log += [Entry(1.5, "GET", "/kyc/identifications/", 200), Entry(2.0, "POST", TOKEN, None, "c")]
    assert pacing.creations_per_client(log) == {"a": 2, "b": 1}
    assert pacing.between(log, 0.05, 1.0) == [refused(0.05), created(0.1, "b")]
    assert [e.created for e in log] == [True, False, True, True, False, False]


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], True),
        ([3.0, 5.0], True),  # one gap: nothing to compare
        ([3.0, 5.0, 7.0, 9.0], False),  # a retry every 2 s
        ([3.0, 3.1, 3.3, 3.7, 4.5], True),  # doubling
        ([3.0, 3.1, 3.15], False),
    ],
)
def test_backs_off(times: Sequence[float], expected: bool) -> None:
    assert pacing.backs_off(times) is expected


def test_refusals_by_aligned_window() -> None:
    log = [created(9.0), refused(9.5), refused(12.0), created(20.0), refused(29.99)]
    assert pacing.refusals_by_window(log, 10.0) == {0: [9.5], 1: [12.0], 2: [29.99]}


@pytest.mark.skipif(sys.platform == "win32", reason="stops bulk with SIGINT")
def test_a_short_strict_gateway_run_adds_up() -> None:
    result = pacing.strict_gateway(3.0)
    assert result.exit_code == EXIT_INTERRUPTED  # stopped by its Ctrl-C, not by itself
    assert result.created_total > 0
    # Every request logged: what the fake created, what OUT says, what the log shows.
    assert result.created_total == result.server_sessions == result.out_created
    assert result.requests == result.created_total + result.refused
    assert result.created <= result.created_total
    # The fake's own gateway: admitted requests are at least 1/10 s apart.
    assert result.closest_admitted is not None
    assert result.closest_admitted >= 0.1 - 1e-6
