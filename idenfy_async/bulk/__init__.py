"""Bulk session creation: many rows, bounded concurrency, never a credit paid twice.

:func:`create_sessions` runs the rows (``_run``: the scheduler, ``_row``: one row's
life, ``_records``: what each row ends as); :mod:`.journal` keeps the account's record
of what was sent, ``pending`` before each request leaves; :mod:`.reconcile` asks
iDenfy about a row an earlier attempt left open.
"""

from ._records import (
    BulkProgress,
    BulkResult,
    BulkState,
    SessionCreator,
    is_retryable,
    request_fingerprint,
)
from ._run import create_sessions

__all__ = [
    "BulkProgress",
    "BulkResult",
    "BulkState",
    "SessionCreator",
    "create_sessions",
    "is_retryable",
    "request_fingerprint",
]
