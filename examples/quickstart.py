"""Create one verification session and print where to send the user.

Uses IDENFY_API_KEY / IDENFY_API_SECRET when set; otherwise the built-in FakeIdenfy,
so it runs on a fresh machine with nothing configured.
"""

from __future__ import annotations

import asyncio
import os
import sys

from idenfy_async import AsyncIdenfy, IdenfyError, RequestValidationError
from idenfy_async.testing import FakeIdenfy


async def main() -> int:
    if os.environ.get("IDENFY_API_KEY") and os.environ.get("IDENFY_API_SECRET"):
        client = AsyncIdenfy()
    else:
        print("No IDENFY_API_KEY/IDENFY_API_SECRET set: using the built-in FakeIdenfy.")
        client = AsyncIdenfy("test-key", "test-secret", transport=FakeIdenfy())
    async with client:
        try:
            session = await client.create_session(
                client_id="user-123",
                first_name="John",
                last_name="Doe",
                documents=["PASSPORT", "ID_CARD"],
                expiry_time=3600,
            )
        except RequestValidationError as exc:
            print(f"invalid input, nothing sent: {exc}", file=sys.stderr)
            return 2
        except IdenfyError as exc:
            print(f"iDenfy call failed: {exc}", file=sys.stderr)
            return 1
    print(f"scanRef:     {session.scan_ref}")
    print(f"redirectUrl: {session.redirect_url}")
    print(f"iframeUrl:   {session.iframe_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
