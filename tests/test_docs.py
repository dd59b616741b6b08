"""The documentation agrees with the code where drift is easy: the error tree, the pages."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from idenfy_async import AsyncIdenfy, errors
from idenfy_async._constants import ENV_REDIS_URL
from idenfy_async.cli._args import _parser

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


@pytest.mark.parametrize("page", ["docs/errors.md"])
def test_the_error_tree_names_every_error(page: str) -> None:
    tree = drawn_tree(ROOT / page)
    missing = [name for name in ERROR_NAMES if not re.search(rf"\b{name}\b", tree)]
    assert missing == []


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").glob("**/*.md")}
    listed = set(re.findall(r":\s*([\w/-]+\.md)\s*$", config, re.M))
    assert pages == listed


def contributing_table() -> list[tuple[str, str]]:
    """(the "it lives in" cell, the "test in" cell) of each row of CONTRIBUTING's table."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Where does a change go", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ")]
    return [(cells[1], cells[2]) for cells in rows[2:]]  # after the header and its rule


def test_contributing_names_only_modules_and_tests_that_exist() -> None:
    """The "where does a change go" table stays true of the layout: every module and test
    file it names exists (a module split or renamed without updating the table fails)."""
    table = contributing_table()
    assert len(table) >= 20
    missing = []
    for lives_in, tested_in in table:
        for name in re.findall(r"`([\w/.*]+\.py|[\w]+/)`", lives_in):
            if not list((ROOT / "idenfy_async").glob(name.rstrip("/"))):
                missing.append(name)
        for name in re.findall(r"`(tests/[\w/.*]+)`", tested_in):
            if not list(ROOT.glob(name)):
                missing.append(name)
    assert missing == []


def test_the_workers_page_describes_what_the_client_and_cli_do() -> None:
    """docs/workers.md once said the client and CLI read no Redis URL and one session per
    clientId was not enforced: it names what the code has (read from the code), and not
    the old denials."""
    page = (ROOT / "docs" / "workers.md").read_text(encoding="utf-8")
    keywords = inspect.signature(AsyncIdenfy).parameters
    for keyword in ("redis_url", "single_session"):
        assert keyword in keywords
        assert f"{keyword}=" in page
    args = _parser().parse_args(["bulk", "in.csv", "--redis-url", "redis://h:6379/0"])
    assert args.redis_url == "redis://h:6379/0"
    assert "--redis-url" in page
    assert ENV_REDIS_URL in page
    for denial in ("do not read a Redis URL", "not enforced", "Not built yet", "does not use it"):
        assert denial not in page
