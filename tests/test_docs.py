"""The documentation agrees with the code where drift is easy: the error tree, the pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idenfy_async import errors

ROOT = Path(__file__).parent.parent
ERROR_NAMES = sorted(
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
)


def drawn_tree(path: Path) -> str:
    """The first fenced block that starts with ``IdenfyError``."""
    match = re.search(r"```\n(IdenfyError\n.*?)```", path.read_text(encoding="utf-8"), re.S)
    assert match is not None, f"{path.name} draws no error tree"
    return match.group(1)


@pytest.mark.parametrize("page", ["README.md", "docs/errors.md"])
def test_the_error_tree_names_every_error(page: str) -> None:
    tree = drawn_tree(ROOT / page)
    missing = [name for name in ERROR_NAMES if not re.search(rf"\b{name}\b", tree)]
    assert missing == []


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").glob("**/*.md")}
    listed = set(re.findall(r":\s*([\w/-]+\.md)\s*$", config, re.M))
    assert pages == listed
