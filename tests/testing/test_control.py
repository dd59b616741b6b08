"""The fake as a service: /__fake__/ control endpoints, FakeControl, `idenfy-async fake ...`.

In-process through the transport for the rules; over real TCP on 127.0.0.1 for the
flow a web app in any language would rehearse (create, complete, webhook, list, reset).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from idenfy_async import AsyncIdenfy, IdentificationEvent, construct_event
from idenfy_async.cli import EXIT_OK, EXIT_ROWS, EXIT_USAGE, main
from idenfy_async.testing import (
    CONTROL_PREFIX,
    DEFAULT_SIGNING_KEY,
    FakeControl,
    FakeControlError,
    FakeIdenfy,
    FakeIdenfyServer,
)


class Receiver:
    """A minimal HTTP server on 127.0.0.1 that records each POST and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/idenfy/webhook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.strip().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((request_line.split(" ")[1], headers, body))
        writer.write(
            f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def served() -> AsyncIterator[FakeIdenfyServer]:
    server = FakeIdenfyServer(seed=3)
    async with server:
        yield server


async def create(base_url: str, client_id: str, callback_url: str | None = None) -> str:
    async with AsyncIdenfy("test-key", "test-secret", base_url=base_url) as client:
        session = await client.create_session(client_id=client_id, callback_url=callback_url)
    return session.scan_ref


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "sessions/nope", b"", 404, "no session with scanRef 'nope'"),
        ("POST", "sessions/nope/complete", b"{}", 404, "no session with scanRef 'nope'"),
        ("GET", "elsewhere", b"", 404, "no control endpoint /__fake__/elsewhere"),
        ("GET", "sessions/{ref}/frobnicate", b"", 404, "no control endpoint"),
        ("GET", "", b"", 404, "no control endpoint"),
        ("POST", "sessions", b"", 405, "use GET"),
        ("GET", "reset", b"", 405, "use POST"),
        ("GET", "sessions/{ref}/complete", b"", 405, "use POST"),
        ("POST", "sessions/{ref}", b"", 405, "use GET"),
        ("POST", "sessions/{ref}/complete", b"[1]", 400, "the body must be a JSON object"),
        ("POST", "sessions/{ref}/complete", b"{not json", 400, "the body must be a JSON"),
        ("POST", "sessions/{ref}/complete", b'{"status": ""}', 400, "status must be"),
        ("POST", "sessions/{ref}/complete", b'{"status": "ACTIVE"}', 400, "ACTIVE is not an"),
        ("POST", "sessions/{ref}/complete", b'{"status": "bogus"}', 400, "unknown status"),
        (
            "POST",
            "sessions/{ref}/complete",
            b'{"allowUnknownStatus": "yes"}',
            400,
            "allowUnknownStatus must be true or false",
        ),
        ("POST", "sessions/{ref}/complete", b'{"fraudTags": "X"}', 400, "fraudTags must be"),
        ("POST", "sessions/{ref}/complete", b'{"mismatchTags": [1]}', 400, "mismatchTags must"),
        ("POST", "sessions/{ref}/complete", b'{"final": "yes"}', 400, "final must be"),
        ("POST", "sessions/{ref}/webhook", b'{"signingKey": ""}', 400, "signingKey must be"),
        ("POST", "sessions/{ref}/webhook", b'{"url": 5}', 400, "url must be a string"),
        ("POST", "sessions/{ref}/webhook", b"{}", 400, "has no callbackUrl"),
        (
            "POST",
            "sessions/{ref}/webhook",
            b'{"url": "http://example.com/hook"}',
            400,
            "must be https://",
        ),
    ],
)
async def test_control_requests_are_checked(
    fake: FakeIdenfy, method: str, path: str, body: bytes, status: int, error: str
) -> None:
    async with (
        AsyncIdenfy("test-key", "test-secret", transport=fake) as client,
        httpx.AsyncClient(transport=fake, base_url="https://ivs.idenfy.com") as http,
    ):
        ref = (await client.create_session(client_id="u-1")).scan_ref
        answer = await http.request(
            method, CONTROL_PREFIX + path.format(ref=ref), content=body or None
        )
    assert answer.status_code == status
    assert error in answer.json()["error"]
    # A refused control request changes nothing and is no API request.
    assert [s.status for s in fake.sessions] == ["ACTIVE"]
    assert fake.requests == 1


async def test_control_needs_no_credentials_and_consumes_no_scripted_failure(
    fake: FakeIdenfy,
) -> None:
    """The control plane is not the API: no Basic auth, no scripted failure used up."""
    from idenfy_async.testing import Fault

    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        ref = (await client.create_session(client_id="u-1")).scan_ref
        fake.fail_next(Fault(status=503))
        async with httpx.AsyncClient(transport=fake, base_url="https://x.invalid") as http:
            answer = await http.post(
                f"{CONTROL_PREFIX}sessions/{ref}/complete", json={"status": "SUSPECTED"}
            )
        assert answer.status_code == 200
        assert fake.pending_failures == 1
        assert answer.json() == {
            "scanRef": ref,
            "clientId": "u-1",
            "status": "SUSPECTED",
            "final": True,
            "callbackUrl": None,
        }


# --------------------------------------------------------------------------- over TCP


async def test_a_whole_flow_over_tcp_with_fake_control(served: FakeIdenfyServer) -> None:
    async with Receiver() as receiver, FakeControl(served.base_url) as control:
        ref = await create(served.base_url, "user-7", callback_url=receiver.url)
        other = await create(served.base_url, "user-8")
        listed = await control.sessions()
        assert [(s["scanRef"], s["status"]) for s in listed] == [
            (ref, "ACTIVE"),
            (other, "ACTIVE"),
        ]
        assert listed[0]["callbackUrl"] == receiver.url
        assert "authToken" not in json.dumps(listed)  # a token is no one's business here

        after = await control.complete(ref, "DENIED", mismatch_tags=["NAME"], final=False)
        assert (after["status"], after["final"]) == ("DENIED", False)
        assert await control.session(ref) == after

        delivery = await control.send_webhook(ref)
        assert delivery == {
            "scanRef": ref,
            "url": receiver.url,
            "eventType": "IDENTIFICATION_AUTO_FINISHED",
            "statusCode": 200,
        }
        path, headers, body = receiver.requests[-1]
        assert path == "/idenfy/webhook"
        event = construct_event(
            body,
            headers["idenfy-signature"],
            DEFAULT_SIGNING_KEY,
            event_type=headers["idenfy-event-type"],
        )
        assert isinstance(event, IdentificationEvent)
        assert (event.scan_ref, event.status.overall, event.final) == (ref, "DENIED", False)

        # The API agrees with what the control plane did.
        async with AsyncIdenfy("test-key", "test-secret", base_url=served.base_url) as client:
            assert (await client.get_status(ref)).status == "DENIED"

        assert await control.reset() == 2
        assert await control.sessions() == []
        assert served.fake.requests == 0


async def test_webhook_signing_key_event_type_url_and_the_apps_answer(
    served: FakeIdenfyServer,
) -> None:
    async with Receiver(status=401) as receiver, FakeControl(served.base_url) as control:
        ref = await create(served.base_url, "user-1")
        delivery = await control.send_webhook(
            ref, signing_key="my-key", event_type="IDENTIFICATION_MANUAL_FINISHED", url=receiver.url
        )
        assert delivery["statusCode"] == 401
        _, headers, body = receiver.requests[-1]
        event = construct_event(body, headers["idenfy-signature"], "my-key")
        assert isinstance(event, IdentificationEvent)
        assert headers["idenfy-event-type"] == "IDENTIFICATION_MANUAL_FINISHED"


async def test_fake_control_errors_say_what_went_wrong(served: FakeIdenfyServer) -> None:
    async with FakeControl(served.base_url) as control:
        with pytest.raises(FakeControlError, match="no session with scanRef 'nope'") as info:
            await control.complete("nope")
        assert info.value.status == 404
        ref = await create(served.base_url, "user-1", callback_url="http://127.0.0.1:9/hook")
        with pytest.raises(FakeControlError, match=r"the webhook got no answer \(ConnectError\)"):
            await control.send_webhook(ref)
    async with FakeControl("http://127.0.0.1:9") as nowhere:
        with pytest.raises(
            FakeControlError, match=r"cannot reach the fake at http://127\.0\.0\.1:9"
        ):
            await nowhere.sessions()


# --------------------------------------------------------------------------- the command line


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``idenfy-async ARGV`` in a thread (it has its own event loop)."""
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_the_fake_commands_drive_a_running_server(
    served: FakeIdenfyServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = served.base_url
    async with Receiver() as receiver:
        ref = await create(url, "user-1", callback_url=receiver.url)

        code, out, _ = await cli(capsys, "fake", "sessions", "--server", url)
        assert (code, out) == (EXIT_OK, f"{ref}  ACTIVE      user-1  -> {receiver.url}\n")

        argv = ("fake", "complete", ref, "suspected", "--fraud-tag", "FACE_SUSPECTED")
        code, out, _ = await cli(capsys, *argv, "--not-final", "--server", url)
        assert (code, out) == (EXIT_OK, f"{ref} SUSPECTED (final: False)\n")
        assert served.fake.session(ref).result["fraudTags"] == ["FACE_SUSPECTED"]

        # IDENFY_BASE_URL names the server when --server does not.
        monkeypatch.setenv("IDENFY_BASE_URL", url)
        code, out, _ = await cli(capsys, "fake", "webhook", ref)
        expected = f"IDENTIFICATION_AUTO_FINISHED for {ref} -> {receiver.url}: 200\n"
        assert (code, out) == (EXIT_OK, expected)
        assert len(receiver.requests) == 1

        receiver.status = 500  # the app failed: the command says so in its exit code
        code, out, _ = await cli(capsys, "fake", "webhook", ref)
        assert code == EXIT_ROWS
        assert out.endswith(": 500\n")

        code, out, _ = await cli(capsys, "fake", "sessions", "--json")
        sessions: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
        assert [(s["scanRef"], s["status"]) for s in sessions] == [(ref, "SUSPECTED")]

        code, out, _ = await cli(capsys, "fake", "reset")
        assert (code, out) == (EXIT_OK, "reset: 1 session forgotten\n")
        assert served.fake.sessions == []

        code, out, err = await cli(capsys, "fake", "complete", ref)
        assert (code, out) == (EXIT_ROWS, "")
        assert err == f"idenfy-async fake: error: no session with scanRef {ref!r}\n"


async def test_the_fake_commands_without_a_server_fail_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = await cli(capsys, "fake", "sessions", "--server", "http://127.0.0.1:9")
    assert (code, out) == (EXIT_ROWS, "")
    assert err.count("\n") == 1
    assert "cannot reach the fake at http://127.0.0.1:9" in err


# --------------------------------------------------------------------------- statuses

VALID = "use APPROVED, DENIED, SUSPECTED, REVIEWING or EXPIRED"
#: (status given, allowed unknown, the status it ends with or None: refused, in the refusal)
STATUSES = [
    pytest.param("APPROVED", False, "APPROVED", None, id="approved"),
    pytest.param("denied", False, "DENIED", None, id="lower-case"),
    pytest.param("EXPIRED", False, "EXPIRED", None, id="expired"),
    pytest.param("REVIEWING", True, "REVIEWING", None, id="known-with-the-flag"),
    pytest.param("BOGUS", False, None, VALID, id="unknown"),
    pytest.param("bogus", False, None, VALID, id="unknown-lower-case"),
    pytest.param("ARCHIVED", False, None, VALID, id="archived-is-no-outcome"),
    pytest.param("BOGUS", True, "BOGUS", None, id="unknown-with-the-flag"),
    pytest.param("ACTIVE", True, None, "ACTIVE is not an outcome", id="active-never"),
    pytest.param("DELETED", True, None, "DELETED is not an outcome", id="deleted-never"),
]


@pytest.mark.parametrize(("status", "allow", "ends", "refusal"), STATUSES)
async def test_complete_refuses_an_unknown_status_in_process(
    fake: FakeIdenfy, status: str, allow: bool, ends: str | None, refusal: str | None
) -> None:
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        ref = (await client.create_session(client_id="u-1")).scan_ref
    if ends is None:
        assert refusal is not None
        with pytest.raises(ValueError, match=refusal) as info:
            fake.complete(ref, status, allow_unknown_status=allow)
        if refusal == VALID:
            assert "allow_unknown_status=True" in str(info.value)
        assert fake.session(ref).status == "ACTIVE"
    else:
        assert fake.complete(ref, status, allow_unknown_status=allow).status == ends


@pytest.mark.parametrize(("status", "allow", "ends", "refusal"), STATUSES)
async def test_the_complete_endpoint_refuses_an_unknown_status(
    fake: FakeIdenfy, status: str, allow: bool, ends: str | None, refusal: str | None
) -> None:
    async with (
        AsyncIdenfy("test-key", "test-secret", transport=fake) as client,
        httpx.AsyncClient(transport=fake, base_url="https://ivs.idenfy.com") as http,
    ):
        ref = (await client.create_session(client_id="u-1")).scan_ref
        answer = await http.post(
            f"{CONTROL_PREFIX}sessions/{ref}/complete",
            json={"status": status, "allowUnknownStatus": allow},
        )
    if ends is None:
        assert refusal is not None
        assert answer.status_code == 400
        assert refusal in answer.json()["error"]
        if refusal == VALID:
            assert '"allowUnknownStatus": true' in answer.json()["error"]
        assert fake.session(ref).status == "ACTIVE"
    else:
        assert answer.status_code == 200
        assert answer.json()["status"] == fake.session(ref).status == ends


@pytest.mark.parametrize(("status", "allow", "ends", "refusal"), STATUSES)
async def test_fake_complete_refuses_an_unknown_status(
    served: FakeIdenfyServer,
    capsys: pytest.CaptureFixture[str],
    status: str,
    allow: bool,
    ends: str | None,
    refusal: str | None,
) -> None:
    ref = await create(served.base_url, "user-1")
    flags = ["--allow-unknown-status"] if allow else []
    code, out, err = await cli(
        capsys, "fake", "complete", ref, status, *flags, "--server", served.base_url
    )
    if ends is None:
        assert refusal is not None
        assert (code, out) == (EXIT_USAGE, "")
        assert refusal in err
        if refusal == VALID:
            assert "--allow-unknown-status" in err
        assert served.fake.session(ref).status == "ACTIVE"
    else:
        assert (code, out) == (EXIT_OK, f"{ref} {ends} (final: True)\n")
        assert served.fake.session(ref).status == ends


async def test_fake_control_refuses_an_unknown_status_unless_allowed(
    served: FakeIdenfyServer,
) -> None:
    ref = await create(served.base_url, "user-1")
    async with FakeControl(served.base_url) as control:
        with pytest.raises(FakeControlError, match=VALID) as info:
            await control.complete(ref, "BOGUS")
        assert info.value.status == 400
        assert (await control.complete(ref, "BOGUS", allow_unknown_status=True))["status"] == (
            "BOGUS"
        )


# --------------------------------------------------------------------------- a named server


async def test_fake_commands_reach_a_named_http_server_only_with_the_opt_in(
    served: FakeIdenfyServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``--server http://idenfy-fake:8080`` (docker-compose) needs IDENFY_ALLOW_INSECURE_HTTP=1."""
    ref = await create(served.base_url, "user-1")
    opened: list[str] = []

    def control(base_url: str) -> FakeControl:
        # The name resolves nowhere here: the served fake answers in-process instead.
        opened.append(base_url)
        return FakeControl(base_url, transport=served.fake)

    monkeypatch.setattr("idenfy_async.cli._fake.FakeControl", control)
    argv = ("fake", "sessions", "--server", "http://idenfy-fake:8080")
    code, out, err = await cli(capsys, *argv)
    assert (code, out, opened) == (EXIT_USAGE, "", [])
    assert "http://idenfy-fake:8080: plain http://" in err
    assert "IDENFY_ALLOW_INSECURE_HTTP=1" in err

    monkeypatch.setenv("IDENFY_ALLOW_INSECURE_HTTP", "1")
    with caplog.at_level("WARNING", logger="idenfy_async"):
        code, out, _ = await cli(capsys, *argv)
    assert (code, opened) == (EXIT_OK, ["http://idenfy-fake:8080"])
    assert out.startswith(ref)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "plain http:// to http://idenfy-fake:8080" in warning

    monkeypatch.setenv("IDENFY_ALLOW_INSECURE_HTTP", "perhaps")
    code, _, err = await cli(capsys, *argv)
    assert code == EXIT_USAGE
    assert "IDENFY_ALLOW_INSECURE_HTTP must be 1" in err
