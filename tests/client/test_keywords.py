"""``create_session(**fields)`` is type-checked: ``SessionFields`` mirrors ``SessionRequest``.

A test keeps the TypedDict equal to the attrs class (names and resolved value types),
and mypy --strict, run on a small snippet, rejects a misspelt field and a wrong type
(the README's main form of the call: issue 8).
"""

from __future__ import annotations

import gc
import textwrap
import typing
from pathlib import Path

import attrs
import pytest

from idenfy_async import SessionFields, SessionRequest


def test_session_fields_equal_session_request_fields() -> None:
    """Same names, same value types (resolved, so spelling differences do not matter)."""
    fields = typing.get_type_hints(SessionFields)
    request = typing.get_type_hints(SessionRequest)
    assert list(fields) == [f.name for f in attrs.fields(SessionRequest)]
    assert fields == request
    assert SessionFields.__total__ is False  # every keyword optional at the type level


SNIPPET = """
from idenfy_async import AsyncIdenfy

async def main(client: AsyncIdenfy) -> None:
    await client.create_session(client_id="x", first_name="J", expiry_time=3600)  # line 5: fine
    await client.create_session(client_id="x", frist_name="J")  # line 6
    await client.create_session(client_id="x", expiry_time="soon")  # line 7
    await client.get_status("ref", max_retry=2)  # line 8
"""


def test_mypy_rejects_a_misspelt_field_and_a_wrong_type(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    thresholds = gc.get_threshold()
    try:
        out, _, status = api.run(
            ["--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache"), str(snippet)]
        )
    finally:
        # mypy raises the collector's first threshold to 200,000 for its own speed and
        # leaves it there: each later collection in this process would then free up to
        # 200,000 objects at once (0.2-0.35 s pauses, longer than the transport tests'
        # 0.3 s read timeout, which then fail at random).
        gc.set_threshold(*thresholds)
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert status == 1
    assert lines == [6, 7, 8], out
    assert any('"frist_name"' in line for line in errors), out
    assert any('"expiry_time"' in line and '"str"' in line for line in errors), out
