"""Bulk session creation: many rows, bounded concurrency, never a credit paid twice.

What a run promises is written once, in [`create_sessions`][idenfy_async.create_sessions].
[`journal`][idenfy_async.bulk.journal] holds the account's record of what was sent;
[`reconcile`][idenfy_async.bulk.reconcile] asks iDenfy about a row an earlier attempt left open.
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
