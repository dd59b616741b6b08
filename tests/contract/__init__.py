"""iDenfy's own OpenAPI contract, written into the project as Python data, and its judge.

The rules below are the facts of iDenfy's published OpenAPI files (field names, types,
formats, required fields, enums, lengths, ranges), written as JSON-Schema dicts in the
OpenAPI 3.0 dialect those files use (``nullable: true``). The files themselves are not
copied in nor read by the tests. Each schema names its source:

* ``kyc.yml``: ``idenfy-kyc-openapi.yml`` (``documentation.idenfy.com/openapi/kyc.yaml``,
  archived in ``api-evangelist/idenfy`` at ``openapi/_original/idenfy-kyc-openapi.yml``,
  commit ``12d2fc6c``, archived 2026-09-16);
* ``face.yml``: its sibling ``idenfy-face-authentication-openapi.yml`` (same archive).

Where iDenfy's own pages contradict the contract, the pages win: each such deviation is
listed once, in :data:`DEVIATIONS`, with its source; :func:`problems` applies them.
:func:`problems` is a small validator for the subset of JSON Schema the contract uses.
"""

from .deviations import DEVIATIONS, Deviation
from .judge import format_problem, instances, problems
from .schemas import FACIAL_AUTHENTICATION_STATUSES, SCHEMAS

__all__ = [
    "DEVIATIONS",
    "FACIAL_AUTHENTICATION_STATUSES",
    "SCHEMAS",
    "Deviation",
    "format_problem",
    "instances",
    "problems",
]
