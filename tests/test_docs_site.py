"""The built documentation site shows what a user reads: no raw Sphinx roles, every public
name in the API reference, the models' attributes with their types, the enums' values.

The site is built once for the module (``mkdocs build --strict``, a few seconds) where the
``docs`` dependency group is installed; without it (the ``tests`` and ``coverage`` sessions)
those tests are skipped, and ``nox -s docs`` runs the same checks (``tests/support/site_check.py``)
on the site it builds. The checker itself is tested on small pages everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import site_check

ROOT = Path(__file__).parent.parent
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings_handlers.python", "griffe_sphinx")


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [name for name in DOCS_PACKAGES if not _installed(name)]
    if missing:
        pytest.skip(f"the docs group is not installed ({', '.join(missing)}): nox -s docs checks")
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    return out


def test_no_page_shows_a_raw_sphinx_role(site: Path) -> None:
    assert site_check.raw_roles(site) == []


def test_every_public_name_is_in_the_reference(site: Path) -> None:
    assert site_check.undocumented(site) == []


@pytest.mark.parametrize(
    ("page", "anchor", "shown"),
    [*site_check.EXPECTED, site_check.EXPECTED_COMMENT],
    ids=[
        anchor.removeprefix("idenfy_async.models.")
        for _, anchor, _ in [*site_check.EXPECTED, site_check.EXPECTED_COMMENT]
    ],
)
def test_the_reference_shows_attributes_types_and_values(
    site: Path, page: str, anchor: str, shown: str
) -> None:
    text = site_check.signature_after((site / page).read_text(encoding="utf-8"), anchor)
    assert text is not None, f"{page} has no entry {anchor}"
    assert shown in text


# ------------------------------------------------------------------ the checker, on small pages


def write(site: Path, page: str, body: str) -> None:
    path = site / page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ("<p>Get it with :meth:<code>AsyncIdenfy.with_response_info</code>.</p>", True),
        ("<p>see :class:`Session`</p>", True),
        ("<p>:func:~idenfy_async.webhooks.parse_event</p>", True),
        ("<p>:exc:<code>ValueError</code> and :data:NULL</p>", True),
        ('<p>Get it with <a href="#x"><code>AsyncIdenfy.with_response_info</code></a>.</p>', False),
        ("<p>status: APPROVED; ratio 2:1; at 10:30: done</p>", False),
    ],
)
def test_the_checker_finds_raw_roles(tmp_path: Path, body: str, flagged: bool) -> None:
    write(tmp_path, "reference/x/index.html", body)
    assert bool(site_check.raw_roles(tmp_path)) is flagged


def test_the_checker_reads_an_attribute_and_its_type(tmp_path: Path) -> None:
    anchor = "idenfy_async.models.Session.scan_ref"
    write(
        tmp_path,
        "reference/models/index.html",
        f'<h3 id="{anchor}" class="doc doc-heading">scan_ref</h3>'
        '<div class="doc-signature"><span class="n">scan_ref</span><span class="p">:</span> '
        '<span class="nb">str</span></div>'
        '<h3 id="idenfy_async.models.Session.next" class="doc doc-heading">next</h3>'
        '<span class="n">other</span>: <span class="nb">int</span>',
    )
    page = (tmp_path / "reference/models/index.html").read_text(encoding="utf-8")
    text = site_check.signature_after(page, anchor)
    assert text is not None
    assert "scan_ref: str" in text
    assert "other" not in text  # stops at the next object
    assert site_check.signature_after(page, "idenfy_async.models.Session.missing") is None
    problems = site_check.missing_details(tmp_path)
    assert not any(anchor + " " in problem for problem in problems)
    assert any("Session.auth_token" in problem for problem in problems)


def test_the_public_names_are_read_from_the_source() -> None:
    import idenfy_async
    from idenfy_async import models

    names = site_check.public_names()
    assert {f"idenfy_async.{name}" for name in idenfy_async.__all__} - set(names) == {
        "idenfy_async.__version__"
    }
    assert {f"idenfy_async.models.{name}" for name in models.__all__} <= set(names)
