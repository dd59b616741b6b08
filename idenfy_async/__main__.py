"""``python -m idenfy_async``: the same as the ``idenfy-async`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
