"""Reading INPUT row by row: the file's encoding and CSV separator, the columns, each
cell's text turned into its field's value (``_sessions.cell_value``, derived from the
rule declared on the field), and each row's [`SessionRequest`][idenfy_async.SessionRequest] or every
problem with it."""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import os
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

from .. import FieldProblem, RequestValidationError, SessionRequest
from ..bulk import request_fingerprint
from ..models import wire_name
from ..models._sessions import cell_value
from ._common import _InputError

#: The longest JSONL line read as a row: a longer one fails alone (CSV cells are bounded
#: by csv's own field limit, 131,072 characters).
MAX_LINE_CHARS: Final = 1_000_000


@attrs.define
class _Survey:
    """What a first pass over INPUT found: its row count, and the rows repeating an
    earlier row's clientId (line -> that earlier line)."""

    rows: int = 0
    duplicates: dict[int, int] = attrs.Factory(dict)  #: same data: one session serves both
    conflicts: dict[int, int] = attrs.Factory(dict)  #: other data: nothing is sent


@attrs.frozen
class _Row:
    line: int  #: where the row starts in INPUT (1-based)
    client_id: str | None
    request: SessionRequest | None
    problems: tuple[FieldProblem, ...] = ()


_ATTRIBUTES: Final = {a.name: a for a in attrs.fields(SessionRequest)}
_COLUMNS: Final = {
    **{name: name for name in _ATTRIBUTES},
    **{wire_name(name): name for name in _ATTRIBUTES},
}


def _build(line: int, values: Mapping[str, Any], problems: list[FieldProblem]) -> _Row:
    """The row's request, or every problem with it: cells that did not parse, then
    the model's rules over the cells that did."""
    client_id = values.get("client_id")
    request: SessionRequest | None = None
    try:
        # A missing clientId is reported by the model ("is required") with the rest.
        request = SessionRequest(**{"client_id": "", **values})
    except RequestValidationError as exc:
        problems = problems + [p for p in exc.problems if p not in problems]
    except Exception as exc:  # the model should say RequestValidationError; never crash
        # Only the class: the exception's text may quote the row's personal data.
        problems = [
            *problems,
            FieldProblem("(row)", f"is not a valid request ({type(exc).__name__})"),
        ]
    return _Row(
        line=line,
        client_id=client_id if isinstance(client_id, str) and client_id else None,
        request=None if problems else request,
        problems=tuple(problems),
    )


#: Byte-order marks and the codec that reads past them (UTF-32 before UTF-16: FF FE 00 00
#: starts both).
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: CSV separators told apart by the header line: its names are known, so the right one
#: is the one that splits it into the most known column names (ties: the first).
CSV_DELIMITERS: Final = (",", ";", "\t")
#: What errors="surrogateescape" turns an undecodable byte into.
_ESCAPED: Final = re.compile("[\udc80-\udcff]")


class _Input:
    """INPUT, read lazily row by row (constant memory whatever its size).

    The encoding is UTF-8 (with or without a byte-order mark), or UTF-16/UTF-32 with
    one, unless ``encoding`` is given. `survey` reads the whole file once before
    anything is sent, so a file that cannot be read halfway is refused up front.
    """

    def __init__(
        self, path: str, encoding: str | None = None, ignore: frozenset[str] = frozenset()
    ) -> None:
        self.path = path
        #: column names (or JSONL keys) read past: a CRM export's extra columns
        self.ignore = ignore
        #: what INPUT was when survey() read it through: a change under the run is an error
        self.stamp: tuple[int, int, int] | None = None
        suffix = Path(path).suffix.lower()
        if suffix not in (".csv", ".jsonl", ".ndjson"):
            raise _InputError(f"{path}: INPUT must end in .csv, .jsonl or .ndjson")
        self.is_csv = suffix == ".csv"
        if os.path.isdir(path):
            raise _InputError(f"{path}: is a directory, not a file")
        if not os.path.exists(path):
            raise _InputError(f"{path}: no such file")
        if not os.path.isfile(path):  # a FIFO or a device cannot be read twice
            raise _InputError(f"{path}: is not a regular file")
        self.encoding = self._encoding(encoding)
        self.encoding_given = encoding is not None
        self.delimiter = ","
        if self.is_csv:
            with self._reading() as stream:
                header_line = stream.readline(MAX_LINE_CHARS + 1)
                if len(header_line) > MAX_LINE_CHARS:
                    raise _InputError(
                        f"{path}: the first line is longer than {MAX_LINE_CHARS:,} characters;"
                        " it must name the columns"
                    )
                if not header_line.strip():
                    empty = not any(text is None or text.strip() for _, text in _lines(stream))
                    raise _InputError(
                        f"{path}: is empty; the first line must name the columns"
                        if empty
                        else f"{path}: the first line is blank; it must name the columns"
                    )
            self.delimiter = _delimiter(header_line)
            header = next(csv.reader([header_line], delimiter=self.delimiter), [])
            self._columns = self._csv_columns(header)

    def _encoding(self, given: str | None) -> str:
        if given is not None:
            try:
                info = codecs.lookup(given)
            except LookupError:
                raise _InputError(f"--encoding: unknown encoding {given!r}") from None
            if not getattr(info, "_is_text_encoding", True):
                raise _InputError(f"--encoding: {given!r} is not a text encoding")
            # A UTF-8 file may still start with a byte-order mark: skip it.
            return "utf-8-sig" if info.name == "utf-8" else info.name
        try:
            with open(self.path, "rb") as f:
                start = f.read(4)
        except OSError as exc:
            raise _InputError(f"{self.path}: {exc.strerror}") from exc
        return next((codec for bom, codec in _BOMS if start.startswith(bom)), "utf-8")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[TextIO]:
        """INPUT open as text; whatever stops it being read becomes one clear _InputError."""
        try:
            with open(self.path, encoding=self.encoding, newline="") as stream:
                yield stream
        except UnicodeDecodeError as exc:
            raise _InputError(self._undecodable(exc)) from None
        except csv.Error as exc:
            raise _InputError(f"{self.path}: {exc}") from None
        except OSError as exc:
            raise _InputError(f"{self.path}: {exc.strerror or exc}") from exc

    def _undecodable(self, exc: UnicodeDecodeError) -> str:
        """Where the first undecodable byte is, and what to do (a second, lenient pass)."""
        byte = exc.object[exc.start : exc.start + 1].hex().upper() or "?"
        where = ""
        with (
            contextlib.suppress(Exception),
            open(self.path, encoding=self.encoding, errors="surrogateescape") as f,
        ):
            for number, text in enumerate(f, start=1):
                if _ESCAPED.search(text):
                    where = f" line {number}:"
                    break
        name = "UTF-8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        if self.encoding_given:
            return f"{self.path}:{where} byte 0x{byte} is not {name} text; check --encoding"
        return (
            f"{self.path}:{where} byte 0x{byte} is not {name} text (a Windows or Excel"
            " export?); save INPUT as UTF-8 (or UTF-16), or name its encoding, e.g."
            " --encoding cp1252"
        )

    def _csv_columns(self, header: list[str]) -> list[str | None]:
        """Each column's field; None for a column in ``ignore``."""
        names = [name.strip().lstrip("\ufeff").strip() for name in header]
        unknown = [name for name in names if name not in _COLUMNS and name not in self.ignore]
        if unknown:
            shown = ", ".join(repr(_clip(name)) for name in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise _InputError(
                f"{self.path}: unknown column(s) {shown}{more}; columns are"
                " token parameters named like the API (clientId) or like the Python fields"
                " (client_id), separated by commas, semicolons or tabs; to read past"
                f" columns that are not, name them: --ignore-columns {','.join(unknown[:5])}"
            )
        fields = [None if name in self.ignore else _COLUMNS[name] for name in names]
        named = [f for f in fields if f is not None]
        repeated = sorted({wire_name(f) for f in named if named.count(f) > 1})
        if repeated:
            raise _InputError(f"{self.path}: column(s) given twice: {', '.join(repeated)}")
        if "client_id" not in named:
            raise _InputError(f"{self.path}: a clientId column is required")
        return fields

    def _csv_error(self, exc: csv.Error, line: int) -> str:
        if "field larger than field limit" in str(exc):
            return (
                f"{self.path} line {line}: a cell is longer than"
                f" {csv.field_size_limit():,} characters (an unclosed quote?)"
            )
        return f"{self.path} line {line}: not readable as CSV ({exc})"

    def _stat(self) -> tuple[int, int, int]:
        try:
            info = os.stat(self.path)
        except OSError as exc:
            raise _InputError(f"{self.path}: {exc.strerror or exc}") from exc
        return info.st_ino, info.st_size, info.st_mtime_ns

    def rows(self) -> Generator[_Row, None, None]:
        """Every row; at the end, an _InputError if INPUT changed since `survey`
        (truncated, rewritten or replaced while the run read it: rows may be missing)."""
        with self._reading() as stream:
            yield from self._csv_rows(stream) if self.is_csv else self._jsonl_rows(stream)
        if self.stamp is not None and self._stat() != self.stamp:
            raise _InputError(
                f"{self.path} changed while it was being read (truncated, rewritten or"
                " replaced): rows after the change were not read"
            )

    def survey(self) -> _Survey:
        """Read every row once, before anything is sent, and find the rows that repeat a
        clientId: the same data again (a *duplicate*: one session serves both) or other
        data (a *conflict*: nothing is sent for it). Keeps a clientId and a 32-character hash
        per valid row.

        Raises _InputError when INPUT cannot be read to the end (encoding, CSV syntax,
        a cell over csv's field limit, I/O): before anything is sent.
        """
        self.stamp = self._stat()
        first: dict[str, tuple[int, str | None]] = {}
        survey = _Survey()
        for row in self.rows():
            survey.rows += 1
            if row.request is None:
                continue
            cid = row.request.client_id
            fingerprint = request_fingerprint(row.request)
            seen = first.setdefault(cid, (row.line, fingerprint))
            if seen[0] == row.line:
                continue
            if seen[1] == fingerprint:
                survey.duplicates[row.line] = seen[0]
            else:
                survey.conflicts[row.line] = seen[0]
        return survey

    def _csv_rows(self, stream: TextIO) -> Iterator[_Row]:
        reader = csv.reader(stream, delimiter=self.delimiter)
        try:
            next(reader, None)
        except csv.Error as exc:
            raise _InputError(self._csv_error(exc, reader.line_num)) from None
        if reader.line_num > 1:  # the header ran on: every row would vanish in it
            raise _InputError(f"{self.path}: the first line has an unclosed quote")
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                raise _InputError(self._csv_error(exc, reader.line_num)) from None
            if cells is None:
                return
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            values: dict[str, Any] = {}
            problems: list[FieldProblem] = []
            if len(cells) > len(self._columns):
                problems.append(FieldProblem("(row)", "has more cells than the header"))
            for name, cell in zip(self._columns, cells, strict=False):
                text = cell.strip()
                if not text or name is None:
                    continue  # empty cell: not set, the dashboard default applies
                try:
                    values[name] = cell_value(name, text)
                except RequestValidationError as exc:
                    problems.extend(exc.problems)
            yield _build(line, values, problems)

    def _jsonl_rows(self, stream: TextIO) -> Iterator[_Row]:
        for line, text in _lines(stream):
            if text is None:
                rule = f"is longer than {MAX_LINE_CHARS:,} characters"
                yield _Row(line, None, None, (FieldProblem("(row)", rule),))
                continue
            if line == 1:
                text = text.lstrip("\ufeff")  # a byte-order mark the codec kept
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                yield _Row(line, None, None, (FieldProblem("(row)", "is not valid JSON"),))
                continue
            if not isinstance(data, dict):
                yield _Row(line, None, None, (FieldProblem("(row)", "must be a JSON object"),))
                continue
            values = {}
            problems = []
            for key, value in data.items():
                name = _COLUMNS.get(key)
                if key in self.ignore:
                    continue
                if name is None:
                    problems.append(FieldProblem(_clip(key), "is not a known parameter"))
                elif value is not None:
                    values[name] = value
            yield _build(line, values, problems)


def _delimiter(header_line: str) -> str:
    """The CSV separator the header line uses (Excel writes ";" in many locales)."""

    def known(delimiter: str) -> int:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        return sum(cell.strip().lstrip("\ufeff").strip() in _COLUMNS for cell in cells)

    return max(CSV_DELIMITERS, key=known)  # max keeps the first of equals: "," by default


def _lines(stream: TextIO) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each line; text None for a line over MAX_LINE_CHARS,
    which is skipped without ever being held whole."""
    number = 0
    while text := stream.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(text) <= MAX_LINE_CHARS or text.endswith(("\n", "\r")):
            yield number, text
            continue
        while (rest := stream.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
            pass
        yield number, None


def _clip(text: str, limit: int = 40) -> str:
    """A name from INPUT, short enough for a one-line message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_problems(problems: Sequence[FieldProblem]) -> str:
    return "; ".join(str(p) for p in problems)
