"""What the fake's endpoint handlers read and write: `FakeState`.

[`FakeIdenfy`][idenfy_async.testing.FakeIdenfy] owns one and hands it to its handler
modules (`_results`, `_kyc`, `_kyc_face`), which therefore sit
below the fake: the sessions, the webhooks and file downloads recorded, the random
source, the clock, the URLs it names, the file URLs it signs and how it delivers a
webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx

from .. import webhooks
from ..models._urls import secure_url_problem
from ._common import FAKE_FILES_PREFIX, FakeSession, WebhookDelivery

__all__ = ["FakeState", "PdfFormat"]

PdfFormat = Literal["base64", "base64-text", "raw"]


class FakeState:
    """The sessions and records of one fake, and what its handlers share."""

    def __init__(
        self,
        *,
        rng: random.Random,
        clock: Callable[[], float],
        base_url: str,
        files_base_url: str,
        pdf_format: PdfFormat,
        listing_delay: float,
        file_key: bytes,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.base_url = base_url
        self.files_base_url = files_base_url
        self.pdf_format: PdfFormat = pdf_format
        self.listing_delay = listing_delay
        self._file_key = file_key
        self.sessions: list[FakeSession] = []
        #: Every webhook sent, in order.
        self.webhooks: list[WebhookDelivery] = []
        #: (path, lower-cased headers) of every file download asked for.
        self.file_requests: list[tuple[str, dict[str, str]]] = []

    def session(self, scan_ref: str) -> FakeSession:
        """The session with this scanRef.

        Raises:
            KeyError: no such session.
        """
        for candidate in self.sessions:
            if candidate.scan_ref == scan_ref:
                return candidate
        raise KeyError(scan_ref)

    # ------------------------------------------------------------------ files

    def file_url(self, scan_ref: str, name: str, origin: str | None = None) -> str:
        """A pre-signed URL of one of the session's files (the URL is the credential),
        on ``origin`` (where a served fake was reached), else on ``files_base_url``."""
        path = f"{FAKE_FILES_PREFIX}{scan_ref}/{name}.jpg"
        query = urllib.parse.urlencode(
            {"X-Amz-Expires": "3600", "X-Amz-Signature": self.file_signature(path)}
        )
        return f"{origin or self.files_base_url}{path}?{query}"

    def files_at(self, urls: Mapping[str, str | None], origin: str | None) -> dict[str, str | None]:
        """``urls`` (file URLs as `file_url` keeps them) moved onto ``origin``, where a
        served fake was reached, so that they lead back to it; as they are without one."""
        if origin is None:
            return dict(urls)
        prefix = self.files_base_url + FAKE_FILES_PREFIX
        return {
            name: origin + url[len(self.files_base_url) :]
            if url is not None and url.startswith(prefix)
            else url
            for name, url in urls.items()
        }

    def file_signature(self, path: str) -> str:
        """The ``X-Amz-Signature`` a file path must carry."""
        return hmac.new(self._file_key, path.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ webhooks

    async def deliver(
        self,
        scan_ref: str,
        event_type: str,
        url: str,
        payload: Mapping[str, Any],
        signing_key: str | bytes,
        *,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float | None,
    ) -> int:
        """Sign ``payload`` and POST it as iDenfy does; record the delivery (every webhook)."""
        if secure_url_problem(url):
            raise ValueError("webhook URLs must be https:// (http:// only on a loopback host)")
        body = json.dumps(payload).encode()
        signature = webhooks.sign(body, signing_key)
        headers = {
            "Content-Type": "application/json",
            webhooks.SIGNATURE_HEADER: signature,
            webhooks.EVENT_TYPE_HEADER: event_type,
            "User-Agent": "FakeIdenfy-Webhooks",
        }
        if http_client is not None:
            response = await http_client.post(url, content=body, headers=headers, timeout=timeout)
        else:
            async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                response = await client.post(url, content=body, headers=headers)
        self.webhooks.append(
            WebhookDelivery(scan_ref, event_type, url, body, signature, response.status_code)
        )
        return response.status_code
