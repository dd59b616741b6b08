"""``idenfy-async fake-server`` (FakeIdenfy over HTTP on 127.0.0.1, or ``--host``, until
told to stop) and ``idenfy-async fake ...`` (drive a running one through its control
endpoints)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import sys
from typing import Final

from .._constants import (
    ENV_ALLOW_INSECURE_HTTP,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_BASE_URL,
    ENV_SIGNING_KEY,
)
from ..client._state import insecure_http_allowed, warn_insecure_http
from ..errors import ConfigurationError
from ..models._urls import is_loopback_host, origin_of, secure_url_problem
from ..testing import (
    DEFAULT_SIGNING_KEY,
    FakeControl,
    FakeControlError,
    FakeIdenfy,
    FakeIdenfyServer,
)
from ..testing._common import outcome_problem
from ._common import DEFAULT_FAKE_SERVER, _InputError, _plural, _print, _say
from ._exits import EXIT_OK, EXIT_ROWS

#: How often fake-server --exit-with-parent checks that its parent is still there.
PARENT_POLL_SECONDS: Final = 0.2


async def _fake_server(args: argparse.Namespace) -> int:
    signing_key = args.signing_key or os.environ.get(ENV_SIGNING_KEY) or DEFAULT_SIGNING_KEY
    server = FakeIdenfyServer(
        FakeIdenfy(seed=args.seed, listing_delay=args.listing_delay, signing_key=signing_key),
        host=args.host,
        port=args.port,
        fail_rate=args.fail_rate,
        latency=args.latency / 1000,
        rate_limit=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst,
        rate_limit_window=args.rate_limit_window,
        retry_after=args.retry_after,
        seed=args.seed,
    )
    parent = os.getppid()  # before anything can orphan us
    try:
        base_url = await server.start()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise _InputError(f"cannot listen on {args.host} port {args.port}: {why}") from exc
    stop = asyncio.Event()
    reason = ["interrupted"]
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    watchers = []
    if args.exit_after is not None:
        watchers.append(asyncio.create_task(_stop_after(args.exit_after, stop, reason)))
    if args.exit_with_parent:
        watchers.append(asyncio.create_task(_stop_without_parent(parent, stop, reason)))
    ready = {"event": "ready", "url": base_url, "port": server.port, "pid": os.getpid()}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    _say(_how_to_use(args.host, base_url, server.port))
    try:
        await stop.wait()
    finally:
        for watcher in watchers:
            watcher.cancel()
        await server.aclose()
        sessions, requests = len(server.fake.sessions), server.fake.requests
        _say(
            f"FakeIdenfy stopped ({reason[0]}): {sessions} {_plural(sessions, 'session')} created,"
            f" {requests} {_plural(requests, 'request')}."
        )
    return EXIT_OK


def _how_to_use(host: str, base_url: str, port: int) -> str:
    """Where the fake listens, and the environment a client needs to reach it."""
    keys = f"{ENV_API_KEY}=test-key {ENV_API_SECRET}=test-secret"
    if is_loopback_host(host):
        return (
            f"FakeIdenfy listening on {base_url} (port {port}); use it with\n"
            f"  export IDENFY_BASE_URL={base_url} {keys}"
        )
    insecure = f"{ENV_ALLOW_INSECURE_HTTP}=1"
    try:
        everywhere = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        everywhere = False
    if not everywhere:
        return (
            f"FakeIdenfy listening on {base_url} (port {port}); use it with\n"
            f"  export IDENFY_BASE_URL={base_url} {insecure} {keys}"
        )
    return (
        f"FakeIdenfy listening on {base_url} (every interface, port {port}); on this machine"
        f" use it with\n  export IDENFY_BASE_URL=http://127.0.0.1:{port} {keys}\n"
        "and from another machine or container by its name (NAME: e.g. the docker-compose"
        f" service)\n  export IDENFY_BASE_URL=http://NAME:{port} {insecure} {keys}"
    )


async def _stop_after(seconds: float, stop: asyncio.Event, reason: list[str]) -> None:
    await asyncio.sleep(seconds)
    reason[0] = f"--exit-after {seconds:g}"
    stop.set()


async def _stop_without_parent(parent: int, stop: asyncio.Event, reason: list[str]) -> None:
    # An orphan is adopted by init (or a subreaper): its parent pid changes. Polling
    # this is portable across POSIX systems, unlike prctl(PR_SET_PDEATHSIG).
    while os.getppid() == parent:  # noqa: ASYNC110 (no event exists to wait on)
        await asyncio.sleep(PARENT_POLL_SECONDS)
    reason[0] = "its parent process is gone"
    stop.set()


# --------------------------------------------------------------------------- fake (control)


def _run_control(args: argparse.Namespace) -> int:
    return asyncio.run(_control(args))


async def _control(args: argparse.Namespace) -> int:
    base_url = args.server or os.environ.get(ENV_BASE_URL) or DEFAULT_FAKE_SERVER
    _check_server_url(base_url)
    async with FakeControl(base_url) as fake:
        try:
            return await _control_action(fake, args)
        except FakeControlError as exc:
            _say(f"idenfy-async fake: error: {exc}")
            return EXIT_ROWS


def _check_server_url(url: str) -> None:
    """Plain http:// to a fake-server off loopback (e.g. a docker-compose service) only
    with IDENFY_ALLOW_INSECURE_HTTP=1: a webhook's signing key crosses in the request."""
    origin = origin_of(url)
    if origin is None or origin.startswith("https://"):
        return  # FakeControl says what is wrong with it, or it is https
    if secure_url_problem(url) is None:
        return  # loopback
    try:
        allowed = insecure_http_allowed(None)
    except ConfigurationError as exc:
        raise _InputError(str(exc)) from None
    if not allowed:
        raise _InputError(
            f"{origin}: plain http:// to a fake-server is allowed on a loopback host"
            f" (127.0.0.1) only, unless {ENV_ALLOW_INSECURE_HTTP}=1 says the network between"
            " is a private test one (e.g. docker-compose)"
        )
    warn_insecure_http(origin, "the control requests (a webhook's signing key among them)")


async def _control_action(fake: FakeControl, args: argparse.Namespace) -> int:
    action = args.run_action
    if action == "complete":
        problem = outcome_problem(
            args.status.upper(),
            allow_unknown=args.allow_unknown_status,
            flag="--allow-unknown-status",
        )
        if problem is not None:  # checked here too, to name the option, not the field
            raise _InputError(problem)
        session = await fake.complete(
            args.scan_ref,
            args.status,
            fraud_tags=args.fraud_tag,
            mismatch_tags=args.mismatch_tag,
            final=not args.not_final,
            allow_unknown_status=args.allow_unknown_status,
        )
        _print(f"{session['scanRef']} {session['status']} (final: {session['final']})")
        return EXIT_OK
    if action == "webhook":
        delivery = await fake.send_webhook(
            args.scan_ref, signing_key=args.signing_key, event_type=args.event_type, url=args.url
        )
        code = int(delivery["statusCode"])
        _print(f"{delivery['eventType']} for {delivery['scanRef']} -> {delivery['url']}: {code}")
        return EXIT_OK if 200 <= code < 300 else EXIT_ROWS
    if action == "sessions":
        for session in await fake.sessions():
            if args.json:
                _print(json.dumps(session))
            else:
                _print(
                    f"{session['scanRef']}  {session['status']:<10}  {session['clientId']}"
                    + (f"  -> {session['callbackUrl']}" if session["callbackUrl"] else "")
                )
        return EXIT_OK
    forgotten = await fake.reset()
    _print(f"reset: {forgotten} {_plural(forgotten, 'session')} forgotten")
    return EXIT_OK
