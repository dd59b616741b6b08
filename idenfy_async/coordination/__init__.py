"""State shared by every process on one iDenfy account: quota (with its pace after
429s), open sessions, webhook dedupe.

One process needs none of this (the client paces and adapts by itself). Several
workers, machines or a bulk job next to a web service share one account, so they
share its rate limit too. ``AsyncIdenfy(redis_url=...)`` (or ``IDENFY_REDIS_URL``)
wires everything here into the client; the objects are usable alone too. Here that
state lives in Redis (``pip install 'idenfy-async[redis]'``), under keys derived from
a hash of the API key (never the key itself), hash-tagged so one account's keys sit
on one cluster node::

    redis = coordination.connect(os.environ["IDENFY_REDIS_URL"])
    quota = coordination.RedisQuota(redis, api_key, "10000/hour", bulk_share=0.8)
    await quota.interactive.acquire()  # or quota.bulk; both are Pacers
    await quota.rate_limited(slot=None, retry_after=None)  # a 429: every process slows down
    dedupe = coordination.RedisDedupeStore(redis, api_key)  # or MemoryDedupeStore()
    sessions = coordination.SessionRegistry(redis, api_key)  # or SessionRegistry() in memory

**Quota.** GCRA (generic cell rate algorithm) in one Lua script: one ``EVALSHA``
per acquisition (a bulk one that must wait longer than its horizon asks again when
it is due), time read from the Redis server (``TIME``), so machines' clocks
never enter the decision. A rate of ``N`` per ``period`` means: in no window of one
``period`` do all processes together get more than ``N`` grants. To give interactive
calls one token of head start over bulk ones inside that promise, the pace is
``period / (N - 1)`` (98 % of the rate at 50/s, 99.99 % at 10,000/hour; for N
under 34 the head start shrinks to 3 % of N, so the pace stays at 97 %).

**After a 429.** [`RedisQuota.rate_limited`][idenfy_async.coordination.RedisQuota.rate_limited] runs
the client's rules (additive increase, multiplicative decrease: ``_send.limits.Adaptive``) in a
second script: the account's pace drops to 70 % and climbs back by 10 % of the rate a second, and
every process pauses one interval (a ``Retry-After`` when longer; doubled for each 429 that
follows a pause at once, up to 5 minutes). So all processes slow down together.

**Priority.** Interactive acquisitions reserve their slot at once (first come, first
served) and are admitted one token interval ahead of the pace; bulk ones only half an
interval ahead, and reserve at most half an interval in advance (the slack that keeps
a bulk job at the full rate although its waiters wake late). So a bulk job saturating
the quota delays an interactive call by at most one interval. ``bulk_share`` caps
bulk at a share of the rate with a second GCRA key in the same script.

**When Redis fails** (refused, reset, hung, slow). Every call is bounded by
``op_timeout`` whatever the Redis client's own settings (redis-py's defaults can hang
about 60 s), and failures are [`CoordinationError`][idenfy_async.CoordinationError]:

* the quota degrades: it logs a warning and paces this process alone at
  ``fallback_share`` of the rate, asking Redis again every ``probe_interval``
  (``fallback_share=None`` raises instead);
* a rate-limit answer then lowers and pauses that fallback pace alone;
* the Redis dedupe store refuses (raises): a webhook handler should answer 503 so
  iDenfy redelivers, rather than process an event twice;
* the session registry refuses (raises before anything is sent): a second session
  would be a second credit. After the request left, a failure to record its outcome
  is logged and the clientId turns unknown at its claim's lease end, never free.

**Open sessions.** One per clientId
([`SessionRegistry`][idenfy_async.coordination.SessionRegistry]), one hash per clientId, in steps
before anything is sent:

1. *claim*, before the rate turn is taken: one script writes ``pending`` with the
   claimer's random token, **unconfirmed**, lapsing after ``claim_hold`` (a clientId
   another process holds costs no turn; a process that dies waiting sent nothing);
2. right before the request leaves, the holder *claims again* (renewing its own
   unconfirmed claim with a short window: half the ``op_timeout``) and *confirms*:
   a second script, only by the token's holder and only within that window, marks it
   confirmed with the full lease (``claim_lease``). The request leaves only after the
   confirm answered in time.

A claim or confirm command that timed out (the caller was told
[`CoordinationError`][idenfy_async.CoordinationError], nothing sent) may still run when a
hung Redis wakes up. It then leaves an unconfirmed claim, which others see as "held,
ask again" and which lapses within its window: the clientId is free again, never
unknown. A confirm that ran within its window answered well inside the caller's
``op_timeout`` (the other half is for its reply to travel). A confirmed claim whose
lease ends without an outcome turns ``unknown`` (its holder may have sent). After
the answer the claim becomes ``open`` with the session's shareable fields for the
token's life, or ``unknown`` when the outcome is unknown. A Redis lock cannot
fence iDenfy: the claim only keeps well-behaved processes from sending twice, so
whatever could hide a session is ``unknown``.

**What Redis must keep.** The claims are the only record of a create in flight. A
Redis that restarts empty (no persistence, a failover to a replica that had not
caught up) forgets them, so the registry writes an **epoch** (``{ns}:epoch``: a
random id, when it was made, and a quarantine end) with the first claim, and every
registry remembers the epoch it last saw. A registry that finds the epoch missing
or changed knows Redis lost state; every clientId without a record in the new
epoch is then *unknown* for one ``claim_lease`` from the new epoch's birth
([`SessionOutcomeUnknownError`][idenfy_async.SessionOutcomeUnknownError], nothing sent), and the
quarantine is written into the epoch, so processes started since learn it too.
``forget`` (after reconciling) lifts it for one clientId.
Limit: a process that never saw the old epoch and reaches the empty Redis before
any process that did cannot tell a restart from a first start. For a guarantee, run
Redis with persistence of every write (``appendonly yes``, ``appendfsync always``;
``everysec`` may lose the last second) and do not fail over to lagging replicas. The
quota, pace and dedupe keys may be lost: a lost quota lets one burst through
(iDenfy answers 429), a lost dedupe key at worst processes a webhook twice.

The package's rooms: ``_redis`` (connection, the one boundary to Redis), ``_quota``
(the GCRA and rate-limit scripts, the schedule), ``_dedupe``, ``_session_stores``
(where claims live) and ``_sessions`` (the registry's rules). Import from here.
"""

from __future__ import annotations

from ._dedupe import (
    DEFAULT_DEDUPE_LEASE,
    DEFAULT_DEDUPE_TTL,
    DEFAULT_MAX_DEDUPE_KEYS,
    DedupeStore,
    MemoryDedupeStore,
    RedisDedupeStore,
)
from ._quota import (
    DEFAULT_BULK_SHARE,
    DEFAULT_FALLBACK_SHARE,
    Grant,
    Priority,
    QuotaSchedule,
    QuotaView,
    RedisQuota,
)
from ._redis import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_OP_TIMEOUT,
    DEFAULT_PROBE_INTERVAL,
    KEY_PREFIX,
    account_namespace,
    connect,
)
from ._session_stores import request_digest
from ._sessions import (
    DEFAULT_CLAIM_LEASE,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_SESSION_TTL,
    SessionRegistry,
)

__all__ = [
    "DEFAULT_BULK_SHARE",
    "DEFAULT_CLAIM_LEASE",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_DEDUPE_LEASE",
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_FALLBACK_SHARE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_DEDUPE_KEYS",
    "DEFAULT_OP_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PROBE_INTERVAL",
    "DEFAULT_SESSION_TTL",
    "KEY_PREFIX",
    "DedupeStore",
    "Grant",
    "MemoryDedupeStore",
    "Priority",
    "QuotaSchedule",
    "QuotaView",
    "RedisDedupeStore",
    "RedisQuota",
    "SessionRegistry",
    "account_namespace",
    "connect",
    "request_digest",
]
