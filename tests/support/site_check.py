"""What the built documentation site must show a user, checked on its HTML.

``python tests/support/site_check.py SITE_DIR`` (``nox -s docs`` runs it after ``mkdocs build``)
prints each problem and exits 1 if there is one; ``tests/test_docs_site.py`` runs the same checks.
Only the standard library: the docs session installs MkDocs, not the package or pytest.

- No docstring shows a raw Sphinx role (``:class:`Session```): MkDocs does not render them.
- Every public name of the package's public modules (their ``__all__``, read from the source)
  has an entry in the site's inventory (``objects.inv``), so it has a place in the reference.
- The attributes of the models are listed with their types, and enums with their values
  (``EXPECTED``).
"""

from __future__ import annotations

import ast
import html
import re
import sys
import zlib
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent.parent
PACKAGE: Final = ROOT / "idenfy_async"

# The public modules whose every name the reference documents (the pytest plugin's fixtures
# are described in prose on the testing page).
PUBLIC_MODULES: Final = (
    "idenfy_async",
    "idenfy_async.models",
    "idenfy_async.errors",
    "idenfy_async.webhooks",
    "idenfy_async.client",
    "idenfy_async.bulk",
    "idenfy_async.bulk.journal",
    "idenfy_async.bulk.reconcile",
    "idenfy_async.testing",
    "idenfy_async.coordination",
    "idenfy_async.transports",
)
NOT_DOCUMENTED: Final = frozenset({"idenfy_async.__version__"})

ROLE: Final = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):(?=[`~\w<])")

# (page, the object's anchor, text its signature must show): the attributes with their types,
# the enum members with their values.
EXPECTED: Final = (
    ("reference/models/index.html", "idenfy_async.models.Session.scan_ref", "scan_ref: str"),
    ("reference/models/index.html", "idenfy_async.models.Session.auth_token", "auth_token: str"),
    (
        "reference/models/index.html",
        "idenfy_async.models.Session.redirect_url",
        "redirect_url: str | None",
    ),
    (
        "reference/models/index.html",
        "idenfy_async.models.SessionRequest.client_id",
        "client_id: str",
    ),
    (
        "reference/models/index.html",
        "idenfy_async.models.StatusResult.status",
        "status: OverallStatus | str",
    ),
    (
        "reference/models/index.html",
        "idenfy_async.models.VerificationData.doc_type",
        "doc_type: DocumentType | str | None",
    ),
    (
        "reference/models/index.html",
        "idenfy_async.models.IdentificationEvent.final",
        "final: bool | None",
    ),
    (
        "reference/models/index.html",
        "idenfy_async.models.OverallStatus.EXPIRED_DELETED",
        "EXPIRED_DELETED = 'EXPIRED-DELETED'",
    ),
    (
        "reference/models/index.html",
        "idenfy_async.models.DocumentType.PASSPORT",
        "PASSPORT = 'PASSPORT'",
    ),
    (
        "reference/session-fields/index.html",
        "idenfy_async.models.SessionFields.expiry_time",
        "expiry_time: int | None",
    ),
)
# A `#:` comment shown as the attribute's docstring.
EXPECTED_COMMENT: Final = (
    "reference/models/index.html",
    "idenfy_async.models.Session.client_id",
    "None when the answer has no clientId",
)


def text_of(markup: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def raw_roles(site: Path) -> list[str]:
    """``page: ...text...`` for every Sphinx role left as text on a page of the site."""
    found = []
    for page in sorted(site.glob("**/*.html")):
        text = text_of(page.read_text(encoding="utf-8"))
        for match in ROLE.finditer(text):
            snippet = text[max(0, match.start() - 40) : match.end() + 40]
            found.append(f"{page.relative_to(site).as_posix()}: ...{snippet}...")
    return found


def public_names() -> list[str]:
    """Every name in the ``__all__`` of ``PUBLIC_MODULES``, as ``module.name``."""
    names = []
    for module in PUBLIC_MODULES:
        path = PACKAGE.parent / module.replace(".", "/")
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.parse(source.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            ) or (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == "__all__"
            ):
                assert node.value is not None
                names += [f"{module}.{name}" for name in ast.literal_eval(node.value)]
    return [name for name in names if name not in NOT_DOCUMENTED]


def inventory(site: Path) -> set[str]:
    """The identifiers of the site's ``objects.inv`` (each documented object and its aliases)."""
    data = (site / "objects.inv").read_bytes()
    _, _, compressed = data.partition(b"zlib.\n")
    lines = zlib.decompress(compressed).decode("utf-8").splitlines()
    return {line.split(" ", 1)[0] for line in lines if line.strip()}


def undocumented(site: Path) -> list[str]:
    """The public names the reference has no entry for."""
    known = inventory(site)
    return [name for name in public_names() if name not in known]


def signature_after(markup: str, anchor: str) -> str | None:
    """The text of the heading and signature of the object whose heading is ``anchor``, up to
    the next object's heading; None when the page has no such object."""
    start = markup.find(f'id="{anchor}"')
    if start < 0:
        return None
    start = markup.index(">", start) + 1  # after the heading's own tag
    end = markup.find("doc-heading", start)
    return text_of(markup[start : end if end > 0 else len(markup)])


def missing_details(site: Path) -> list[str]:
    """Each expected attribute, type, value or comment the pages do not show."""
    problems = []
    for page, anchor, shown in (*EXPECTED, EXPECTED_COMMENT):
        path = site / page
        if not path.is_file():
            problems.append(f"{page}: no such page")
            continue
        text = signature_after(path.read_text(encoding="utf-8"), anchor)
        if text is None:
            problems.append(f"{page}: no entry {anchor}")
        elif shown not in text:
            problems.append(f"{page}: {anchor} does not show {shown!r} (it shows {text[:120]!r})")
    return problems


def problems(site: Path) -> list[str]:
    """Every problem of the built site, as lines to print."""
    return (
        [f"raw Sphinx role: {found}" for found in raw_roles(site)]
        + [f"not in the API reference: {name}" for name in undocumented(site)]
        + missing_details(site)
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python tests/support/site_check.py SITE_DIR\n")
        return 2
    found = problems(Path(argv[0]))
    for line in found:
        sys.stderr.write(line + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
