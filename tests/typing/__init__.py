"""Typed uses of the public API, checked by mypy --strict and pyright (``nox -s typing``)."""
