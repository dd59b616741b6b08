"""INPUT of ``idenfy-async screen``: CSV or JSONL rows of people or companies, each
read into an [`AmlCheckRequest`][idenfy_async.AmlCheckRequest] (or the rules it
breaks), the whole file before anything is sent."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

from .. import RequestValidationError
from ..models import COMPANY_DATASETS, PERSON_DATASETS, AmlCheckRequest
from ..models._aml import subject_of
from ._common import _InputError, _say

#: Column names as the Python fields spell them, and other names for the row key.
_ALIASES: Final = {
    "reference": "clientId",
    "client_id": "clientId",
    "user_type": "userType",
    "full_name": "fullName",
    "company_name": "companyName",
    "date_of_birth": "dateOfBirth",
    "sanction_bodies": "sanctionBodies",
    "pep_tiers": "pepTiers",
    "date_of_birth_matching": "dateOfBirthMatching",
}
_SUBJECT: Final = (
    "clientId",
    "userType",
    "fullName",
    "companyName",
    "nationality",
    "country",
    "dateOfBirth",
    "sex",
)
_FILTER: Final = ("datasets", "threshold", "sanctionBodies", "pepTiers", "dateOfBirthMatching")


@attrs.frozen
class _Row:
    """One INPUT row: its line, key, and the check it asks for (or why it cannot)."""

    line: int
    client_id: str | None
    request: AmlCheckRequest | None
    problems: tuple[str, ...] = ()


def _cells(raw: Mapping[str, Any]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for key, value in raw.items():
        if key is None:
            continue
        name = _ALIASES.get(key.strip(), key.strip())
        text = value.strip() if isinstance(value, str) else value
        if text not in (None, ""):
            cells[name] = text
    return cells


def _listed(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return value
    return [part.strip() for part in str(value).split("|") if part.strip()]


def _number(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def _request(cells: Mapping[str, Any], defaults: argparse.Namespace) -> AmlCheckRequest:
    subject = subject_of({k: cells.get(k) for k in _SUBJECT})
    datasets = _listed(cells.get("datasets")) or _listed(defaults.datasets)
    if datasets is None:
        datasets = list(PERSON_DATASETS if subject.user_type == "PERSON" else COMPANY_DATASETS)
    bodies = _listed(cells.get("sanctionBodies"))
    threshold = cells.get("threshold", defaults.threshold)
    return AmlCheckRequest(
        subject=subject,
        datasets=datasets,
        threshold=_number(threshold),
        sanction_bodies=[_number(b) for b in bodies] if bodies is not None else None,
        pep_tiers=_listed(cells.get("pepTiers")),
        date_of_birth_matching=cells.get("dateOfBirthMatching"),
    )


def _raw_rows(path: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    suffix = Path(path).suffix.lower()
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            if suffix in (".jsonl", ".ndjson"):
                yield from _jsonl(stream)
            else:
                reader = csv.DictReader(stream)
                for record in reader:
                    yield reader.line_num, record
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _InputError(f"{path}: cannot be read ({exc})") from exc


def _jsonl(stream: TextIO) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise _InputError(f"line {line} is not JSON") from exc
        if not isinstance(record, dict):
            raise _InputError(f"line {line} is not a JSON object")
        yield line, record


def _read(path: str, defaults: argparse.Namespace) -> list[_Row]:
    """Every row of INPUT, read through before anything is sent."""
    rows = []
    for line, raw in _raw_rows(path):
        cells = _cells(raw)
        key = cells.get("clientId")
        try:
            rows.append(_Row(line, key, _request(cells, defaults)))
        except RequestValidationError as exc:
            rows.append(_Row(line, key, None, tuple(str(p) for p in exc.problems)))
    return rows


def _check_rows(path: str, rows: list[_Row]) -> None:
    """Refuse INPUT, with nothing sent, when a row is invalid or repeats a clientId."""
    problems = [f"{path} row {r.line}: {p}" for r in rows for p in r.problems]
    first: dict[str, int] = {}
    for row in rows:
        if row.client_id is None:
            continue
        if row.client_id in first:
            problems.append(
                f"{path} row {row.line}: clientId repeats row {first[row.client_id]}"
                " (it keys the journal: give each row its own)"
            )
        first.setdefault(row.client_id, row.line)
    for problem in problems:
        _say(problem)
    if problems:
        raise _InputError(f"{len(problems)} problems in {path}; nothing was sent")
