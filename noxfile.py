"""Project tasks. A bare ``nox`` runs the tests under branch coverage (``coverage``), lint,
typing and docs; ``nox -s tests`` runs the tests alone (quicker, takes pytest arguments),
``nox -s bench`` measures, ``nox -s build`` builds and checks the distributions."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nox

# One test run in the default (and CI) run: the coverage session is the test suite.
nox.options.sessions = ["coverage", "lint", "typing", "docs"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
LINT_PATHS = ["idenfy_async", "tests", "benchmarks", "examples", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against the installed package, with the aiohttp transport and
    the PostgreSQL journal's driver."""
    session.install(".[aiohttp,postgres]", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", *session.posargs)


@nox.session
def coverage(session: nox.Session) -> None:
    """The test suite under branch coverage; fails below ``fail_under`` in pyproject.toml."""
    session.install(".[aiohttp,postgres]", *nox.project.dependency_groups(PYPROJECT, "coverage"))
    # `coverage run`, not pytest-cov: the package's own pytest plugin (a pytest11 entry
    # point) imports idenfy_async before pytest-cov would start measuring, and every
    # module-level line would count as never run. Settings: [tool.coverage] in pyproject.
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and lint-imports: the rooms of the package import
    only the rooms below them (the contracts: [tool.importlinter] in pyproject.toml)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)
    # Reads the source from the working directory (static, not installed); no cache folder
    # left in the checkout.
    session.run("lint-imports", "--no-cache")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the package, the tests and the examples; pyright on the typed uses
    of the public API (tests/typing) and on the package's type completeness (100 %)."""
    session.install(".[aiohttp,postgres]", *nox.project.dependency_groups(PYPROJECT, "typing"))
    session.run("mypy", "--strict", "idenfy_async", "tests")
    # Apart: examples/ is no package (its files run as scripts), tests import it as one.
    session.run("mypy", "--strict", "examples")
    # A second checker: what users of pyright/Pylance see must agree with mypy.
    session.run("pyright", "tests/typing")
    # Every public symbol of the installed package has a declared type.
    session.run("pyright", "--verifytypes", "idenfy_async", "--ignoreexternal")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by default): CPU per call on each transport vs raw aiohttp and
    httpx, import time, bulk throughput, bulk memory, the Redis quota. ``nox -s bench --
    --quick`` for a short run."""
    session.install(".[aiohttp,redis]", *nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (MkDocs) with warnings as errors, then check what the
    built pages show (tests/support/site_check.py): no raw Sphinx role, every public name
    in the API reference, the models' attributes with their types, the enums' values."""
    # The API pages are read from the source (griffe, static): no need to install it.
    session.install(*nox.project.dependency_groups(PYPROJECT, "docs"))
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about its successor
    site = session.create_tmp() + "/site"
    session.run("mkdocs", "build", "--strict", "--site-dir", site)
    # Standard library only; the test suite runs the same checks where MkDocs is installed.
    session.run("python", "tests/support/site_check.py", site)


@nox.session
def build(session: nox.Session) -> None:
    """Build sdist and wheel, twine check them, install the wheel into a fresh venv (then
    each extra) and run what each brings: the CLI, rich's progress, the pytest fixtures."""
    session.install("build>=1.2", "twine>=5")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    session.run("twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
    (wheel,) = dist.glob("*.whl")
    venv = tmp / "wheel-venv"
    session.run("python", "-m", "venv", "--clear", str(venv))
    bin_ = venv / ("Scripts" if sys.platform == "win32" else "bin")
    python, cli = str(bin_ / "python"), str(bin_ / "idenfy-async")
    work = tmp / "work"  # never the repository: it would shadow the installed package
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copy("examples/customers.csv", work)
    shutil.copy("tests/support/build_smoke.py", work)

    def pip_install(extra: str = "") -> None:
        session.run(python, "-m", "pip", "install", "-q", f"{wheel}{extra}", external=True)

    def smoke(part: str) -> None:
        session.run(python, "build_smoke.py", part, external=True)

    with session.chdir(work):
        pip_install()
        session.run(cli, "--version", external=True)
        session.run(cli, "bulk", "customers.csv", "--out", "results.jsonl", external=True)
        smoke("base")
        for extra in ("cli", "pytest", "redis", "aiohttp"):
            pip_install(f"[{extra}]")
            smoke(extra)
