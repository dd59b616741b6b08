"""Benchmarks: CPU per call of ``AsyncIdenfy.create_session`` vs raw ``httpx``.

Run ``python -m benchmarks`` (or ``nox -s bench``) from the repository root; see
``python -m benchmarks --help``. ``python -m benchmarks.breakdown`` shows where the
library's extra CPU goes.
"""
