"""Where ``bulk`` sends: credentials (else the in-process fake), the client with its
pacing (``--rate``, ``--redis-url``), and the checks on INPUT, OUT and journal paths,
all before anything is sent."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final

import attrs

from .. import AsyncIdenfy, IdenfyError, RateLimiter
from .._constants import ENV_API_KEY, ENV_API_SECRET
from .._send.limits import parse_rate
from ..bulk.journal import account_scope
from ..testing import FakeIdenfy
from ._common import DEFAULT_RATE, _InputError, _say
from ._ledger import FAKE_JOURNAL_NAME, account_journal_name

FAKE_KEY, FAKE_SECRET = "fake-key", "fake-secret"
_NO_RATE: Final = frozenset({"none", "off", "0"})


@attrs.frozen
class _Target:
    """The client rows go to, the scope its journal is bound to, whether it is the
    fake, and the file name of the account's journal (`_ledger`)."""

    client: AsyncIdenfy
    scope: str
    fake: bool
    journal_name: str


def _credentials(args: argparse.Namespace) -> tuple[str, str] | None:
    """The API key and secret from the environment; None: use the fake."""
    key, secret = os.environ.get(ENV_API_KEY), os.environ.get(ENV_API_SECRET)
    if args.fake:
        return None
    if bool(key) != bool(secret):
        missing = ENV_API_SECRET if key else ENV_API_KEY
        raise _InputError(f"{missing} is not set (set both {ENV_API_KEY} and {ENV_API_SECRET})")
    return (key, secret) if key and secret else None


def _target(
    args: argparse.Namespace,
    credentials: tuple[str, str] | None,
    rate: RateLimiter | str | None,
) -> _Target:
    """The client: the in-process fake without credentials, else iDenfy (shared pacing
    through Redis with --redis-url, failing closed)."""
    concurrency = args.concurrency
    if credentials is None:
        fake = FakeIdenfy(FAKE_KEY, FAKE_SECRET)
        client = AsyncIdenfy(
            FAKE_KEY,
            FAKE_SECRET,
            transport=fake,
            base_url="https://ivs.idenfy.com",
            max_concurrency=concurrency,
            rate_limit=rate if not isinstance(rate, str) else None,
            redis_url=None,  # each fake is its own account: nothing to share
        )
        return _Target(client, "fake", fake=True, journal_name=FAKE_JOURNAL_NAME)
    key, secret = credentials
    try:
        if args.redis_url:
            # Fail closed: without Redis this run cannot know what the others send.
            client = AsyncIdenfy(
                key,
                secret,
                max_concurrency=concurrency,
                rate_limit=rate,
                redis_url=args.redis_url,
                fallback_share=None,
            )
        else:
            client = AsyncIdenfy(
                key, secret, max_concurrency=concurrency, rate_limit=rate, redis_url=None
            )
    except IdenfyError as exc:
        raise _InputError(str(exc)) from exc
    # The journal is bound to one account on one server; the key is hashed, not stored.
    return _Target(
        client,
        account_scope(str(client.base_url), key),
        fake=False,
        journal_name=account_journal_name(str(client.base_url), key),
    )


def _check_paths(input_path: str, out: str | None, journal: str | None) -> None:
    """OUT is given, has a known suffix, and INPUT, OUT and the journal are three files."""
    if not out:
        raise _InputError("--out OUT is required (or use --dry-run)")
    if Path(out).suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        raise _InputError(f"{out}: OUT must end in .jsonl, .ndjson or .csv")
    paths = [os.path.abspath(p) for p in (input_path, out, journal) if p is not None]
    if len(set(paths)) < len(paths):
        raise _InputError("INPUT, OUT and the journal must be three different files")


def _announce(args: argparse.Namespace, target: _Target) -> None:
    """Say, before anything is sent, when rows go to the built-in fake."""
    if target.fake:
        why = "--fake" if args.fake else f"no {ENV_API_KEY}/{ENV_API_SECRET} set"
        _say(
            f"idenfy-async: {why}: using the built-in FakeIdenfy; nothing is sent to iDenfy"
            " and no credit is spent (OUT marks every line fake)."
        )
        if args.redis_url:
            _say("idenfy-async: --redis-url is ignored with the built-in FakeIdenfy.")


def _rate_limit(args: argparse.Namespace, fake: bool) -> RateLimiter | str | None:
    """--rate as the client takes it: a limiter, the account's spec for Redis, or None."""
    spec = args.rate if args.rate is not None else (None if fake else DEFAULT_RATE)
    shared = bool(args.redis_url) and not fake
    if spec is None or spec.strip().lower() in _NO_RATE:
        if shared:
            raise _InputError("--rate none cannot be used with Redis: --rate is the account's")
        return None
    if shared:
        return spec  # the account's rate, paced in Redis (checked by the client)
    try:
        if args.burst == 1:  # a steady pace: the client's own, which adapts after a 429
            parse_rate(spec)
            return spec
        return RateLimiter(spec, burst=args.burst)
    except IdenfyError as exc:
        raise _InputError(f"--rate: {exc}") from exc
