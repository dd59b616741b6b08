"""Project tasks. A bare ``nox`` runs tests, lint and typing; ``nox -s bench`` measures."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
LINT_PATHS = ["idenfy_async", "tests", "benchmarks", "examples", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against the installed package, with the aiohttp transport."""
    session.install(".[aiohttp]", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on the package, the tests and the examples."""
    session.install(".[aiohttp]", *nox.project.dependency_groups(PYPROJECT, "typing"))
    session.run("mypy", "--strict", "idenfy_async", "tests")
    # Apart: examples/ is no package (its files run as scripts), tests import it as one.
    session.run("mypy", "--strict", "examples")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by default): CPU per call on each transport vs raw aiohttp and
    httpx, import time, bulk throughput, bulk memory, the Redis quota. ``nox -s bench --
    --quick`` for a short run."""
    session.install(".[aiohttp,redis]", *nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)
