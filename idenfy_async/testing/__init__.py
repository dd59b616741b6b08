"""``FakeIdenfy``: an in-process fake of iDenfy's API for your tests and rehearsals.

Plug it in as a transport, no network and no credentials needed::

    fake = FakeIdenfy()
    async with AsyncIdenfy("test-key", "test-secret", transport=fake) as client:
        session = await client.create_session(client_id="user-1")
    assert fake.sessions[0].scan_ref == session.scan_ref

It checks Basic auth, validates token requests with its own rules written from
iDenfy's reference (same error shapes and identifiers as the API), answers with
realistic 201 bodies, records what it created, and can be scripted to fail:
``fake.fail_next(Fault(status=503))``, in-process and over TCP alike.

The listing (``GET /kyc/identifications/?clientId=...``) shows every session of a
clientId, ``ACTIVE`` while nobody finished it, as iDenfy's does; give
``listing_delay=`` to make a new session show up there only that many seconds
later (iDenfy does not document how soon it does), to test reconciliation's settle
window. Each session then lives through the whole flow: ``fake.complete(scan_ref,
"APPROVED")`` plays the user's verification, after which status, data, files, the
PDF report and the listing all agree; ``await fake.send_webhook(scan_ref,
signing_key=...)`` delivers the signed result webhook to the session's callbackUrl.

Served over HTTP ([`FakeIdenfyServer`][idenfy_async.testing.FakeIdenfyServer],
``idenfy-async fake-server``), the same flow is driven from outside Python through control endpoints
under the reserved prefix ``/__fake__/`` (no credentials; the fake listens on loopback unless told
otherwise, e.g. ``--host 0.0.0.0`` in a container on a private network)::

    GET  /__fake__/sessions                      every session: scanRef, clientId, status, ...
    GET  /__fake__/sessions/SCANREF              one of them
    POST /__fake__/sessions/SCANREF/complete     {"status": "APPROVED", "fraudTags": [...],
                                                  "mismatchTags": [...], "final": true,
                                                  "allowUnknownStatus": false}
                                                 (400 for a status iDenfy does not
                                                 document, unless allowUnknownStatus)
    POST /__fake__/sessions/SCANREF/webhook      {"signingKey": ..., "eventType": ..., "url": ...}
                                                 (all optional): answers the app's status code
    POST /__fake__/reset                         forget every session, webhook and request
    GET  /__fake__/requests                      the request log (server only): each API
                                                 request's arrival time, method, path,
                                                 status and a keyed hash of its clientId
    DELETE /__fake__/requests                    clear the log (reset clears it too)
    POST /__fake__/aml/script                    {"name": ..., "hits": [...],
                                                  "adverseMedia": [...]}: every later AML
                                                 screening of that name finds them
    POST /__fake__/aml/monitorings/ID/rescreen   {"hits": [...]}: a rescreen finds them (ALERT)
    POST /__fake__/aml/monitorings/ID/webhook    {"url": ..., "signingKey": ...}: the signed
                                                 AML_MONITORING webhook; answers the app's
                                                 status
    POST /__fake__/aml/expiration-webhook        {"url": ..., "usersToExtend": N,
                                                  "usersToExpire": N}

[`FakeControl`][idenfy_async.testing.FakeControl] calls them from Python,
``idenfy-async fake complete|webhook|sessions|reset`` from a shell.

The package's modules, one job each: ``_fake`` (the stateful fake and its
sessions), ``_results`` (the result endpoints), ``_kyc`` and ``_kyc_face`` (the rest
of the workflow), ``_aml`` (AML checks and monitorings, with their own rules),
``_faults`` (scripted faults, and the one place that plays them),
``_rules`` (the fake's own rules for token requests, written from iDenfy's
reference), ``_gateway`` (the server's own rate limits and its request log),
``_server`` (the TCP server, on h11) and ``_control`` (the control
endpoints and their client); ``_common`` holds what they share.
"""

from __future__ import annotations

from typing import Final

from . import _common
from ._aml import FakeAml, company_hit, person_hit
from ._common import (
    CONTROL_PREFIX,
    DEFAULT_SIGNING_KEY,
    FakeSession,
    WebhookDelivery,
)
from ._control import FakeControl, FakeControlError
from ._fake import FakeIdenfy
from ._faults import FAILURE_MIX, Fault, random_failure
from ._server import FakeIdenfyServer

# Defaults that were module attributes of testing.py: still importable from here.
DEFAULT_API_KEY: Final = _common.DEFAULT_API_KEY
DEFAULT_API_SECRET: Final = _common.DEFAULT_API_SECRET
DEFAULT_EXPIRY_TIME: Final = _common.DEFAULT_EXPIRY_TIME
DEFAULT_PAGE_SIZE: Final = _common.DEFAULT_PAGE_SIZE
DEFAULT_SESSION_LENGTH: Final = _common.DEFAULT_SESSION_LENGTH
FAKE_BASE_URL: Final = _common.FAKE_BASE_URL
FAKE_FILES_BASE_URL: Final = _common.FAKE_FILES_BASE_URL
FAKE_FILES_PREFIX: Final = _common.FAKE_FILES_PREFIX
MAX_PAGE_SIZE: Final = _common.MAX_PAGE_SIZE
WEBHOOK_TIMEOUT: Final = _common.WEBHOOK_TIMEOUT

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_SIGNING_KEY",
    "FAILURE_MIX",
    "FakeAml",
    "Fault",
    "FakeControl",
    "FakeControlError",
    "FakeIdenfy",
    "FakeIdenfyServer",
    "FakeSession",
    "WebhookDelivery",
    "company_hit",
    "person_hit",
    "random_failure",
]
