"""Values that more than one module needs, declared once.

The environment variable names are part of the public contract (the README and the
CLI's help name them); the defaults are iDenfy's documented account limits.
"""

from __future__ import annotations

from typing import Final

ENV_API_KEY: Final = "IDENFY_API_KEY"
ENV_API_SECRET: Final = "IDENFY_API_SECRET"
ENV_BASE_URL: Final = "IDENFY_BASE_URL"
#: ``1`` lets the client send to a plain ``http://`` base URL on a host that is not
#: loopback (e.g. a fake iDenfy in docker-compose): the secret then crosses in clear.
ENV_ALLOW_INSECURE_HTTP: Final = "IDENFY_ALLOW_INSECURE_HTTP"
#: ``info`` or ``debug``: one log line per attempt (see ``configure_logging``).
ENV_LOG: Final = "IDENFY_LOG"
#: Turns on the state shared by every process on the account (see ``redis_url``).
ENV_REDIS_URL: Final = "IDENFY_REDIS_URL"
#: Where ``idenfy-async bulk`` keeps each account's journal (default: the user's state
#: directory).
ENV_JOURNAL_DIR: Final = "IDENFY_JOURNAL_DIR"
#: A ``postgresql://`` URL (or a file) that ``idenfy-async bulk`` keeps its journal in
#: when ``--journal`` is not given: one ledger shared by workers on many machines.
ENV_JOURNAL_URL: Final = "IDENFY_JOURNAL_URL"
#: The webhook signing key the CLI's ``fake webhook`` signs with.
ENV_SIGNING_KEY: Final = "IDENFY_SIGNING_KEY"

#: Seconds after an attempt went pending before "not listed" may mean "not created":
#: four times the default per-attempt timeout (30 s), for a request iDenfy processes
#: late and for the listing to catch up. Undocumented by iDenfy; see rule 5 of
#: [`idenfy_async.bulk.reconcile`][idenfy_async.bulk.reconcile] (public there).
DEFAULT_SETTLE_WINDOW: Final = 120.0
#: Requests one client has in flight, and rows a bulk run has in flight, by default.
DEFAULT_CONCURRENCY: Final = 10
#: iDenfy's default account rate limit.
DEFAULT_ACCOUNT_RATE: Final = "10000/hour"
#: Bytes read from a file download before each write (never the whole file in memory).
DOWNLOAD_CHUNK_SIZE: Final = 64 * 1024
#: Verifications per page of a listing by default (``list_verifications``).
DEFAULT_PAGE_SIZE: Final = 100
