"""Importing partners, metrics and certifications from CSV or XLSX files (spec §2).

An import is all or nothing: every row is validated first, and a file with any bad
row is rejected whole with :class:`ImportRejected`, which lists each problem by line
and column. A good file is written in one transaction with bulk upserts, so
re-importing a file updates by key instead of duplicating.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import islice, repeat
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Connection, Engine

from ..safe_text import visible
from ..scoring import Period, PeriodError, Program, parse_period, suggest
from ..scoring.natural import natural_sort_key
from ..storage import queries
from . import audit, programs, roles, staleness, timeline
from .errors import ServiceError
from .relevel import relevel
from .unit_of_work import UnitOfWork, using

KINDS = ("partners", "metrics", "certifications")

PARTNER_COLUMNS = (
    "partner_id",
    "name",
    "region",
    "country",
    "partner_type",
    "parent_id",
    "account_manager",
    "tier",
    "tier_since",
    "contact_name",  # (v2 §2) optional: who receives the partner's notifications (tiertui notify)
    "contact_email",
)
# what an import writes: the file's columns and the natural sort keys of id and name (the list's order)
PARTNER_WRITTEN = (*PARTNER_COLUMNS, "id_sort_key", "name_sort_key")
METRIC_KEY_COLUMNS = ("partner_id", "period")
LONG_METRIC_COLUMNS = ("partner_id", "period", "metric", "value")
CERTIFICATION_COLUMNS = ("partner_id", "person", "certification", "track", "earned_on", "expires_on")

REQUIRED = {
    "partners": ("partner_id", "name"),
    "metrics": METRIC_KEY_COLUMNS,
    "certifications": ("partner_id", "person", "certification", "track", "earned_on"),
}
EXPECTED_HEADER = {
    "partners": ",".join(PARTNER_COLUMNS),
    "metrics": "partner_id,period,<metric>,... or partner_id,period,metric,value",
    "certifications": ",".join(CERTIFICATION_COLUMNS),
}

LISTED = 20  # problems spelled out in the message
CYCLE_SHOWN = 10  # partners of a parent cycle named in its problem
KEPT = 1000  # problems kept on the exception; the rest are only counted
PROGRESS_EVERY = 20_000  # rows between progress reports while checking
WRITE_CHUNK = 100_000  # rows per executemany

Progress = Callable[[float, str], None]


def _quiet(_fraction: float, _message: str) -> None:
    pass


# ---------------------------------------------------------------------------- results and errors


@dataclass(frozen=True)
class RowProblem:
    """One bad cell or row: ``line`` is the 1-based file line or sheet row (the header is line 1)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


class ImportRejected(ServiceError):
    """A file with bad rows; nothing of it was written.

    ``problems`` holds the first problems found (up to 1,000, by line); ``total`` counts them all.
    """

    def __init__(self, file_name: str, problems: Iterable[RowProblem], total: int | None = None) -> None:
        self.file_name = file_name
        self.problems = list(problems)
        self.total = max(total or 0, len(self.problems))
        super().__init__(self._message())

    def _message(self) -> str:
        plural = "" if self.total == 1 else "s"
        lines = [f"{self.file_name}: rejected, {self.total:,} problem{plural}:"]
        lines += [f"  {p}" for p in self.problems[:LISTED]]
        if self.total > LISTED:
            lines.append(f"  ... and {self.total - LISTED:,} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportReport:
    """What an import did. For metrics, ``inserted`` and ``updated`` count metric values."""

    kind: str
    path: str
    rows: int
    inserted: int
    updated: int
    detail: str = ""
    touched: tuple[int, ...] = field(default=(), repr=False, compare=False)  # partner keys written
    relevelled: str = ""  # what re-levelling did ("" when none was done)

    def text(self) -> str:
        name = Path(self.path).name
        if self.kind == "metrics":
            line = (
                f"{name}: {self.rows:,} rows, {self.inserted + self.updated:,} values, "
                f"{self.inserted:,} new, {self.updated:,} updated"
            )
        else:
            line = f"{name}: {self.rows:,} rows, {self.inserted:,} new, {self.updated:,} updated"
        line = f"{line} ({self.detail})" if self.detail else line
        return f"{line}; {self.relevelled}" if self.relevelled else line


class _Problems:
    """Collects problems, keeping the first :data:`KEPT` and counting the rest."""

    def __init__(self) -> None:
        self.kept: list[RowProblem] = []
        self.total = 0

    def add(self, line: int, column: str, message: str) -> None:
        self.total += 1
        if len(self.kept) < KEPT:
            self.kept.append(RowProblem(line, column, message))

    def __bool__(self) -> bool:
        return self.total > 0

    def reject_if_any(self, file_name: str) -> None:
        if self.total:
            ordered = sorted(self.kept, key=lambda p: p.line)  # stable: row order within a line
            raise ImportRejected(file_name, ordered, self.total)


# ---------------------------------------------------------------------------- reading files


@dataclass
class _Source:
    """A file's header and its data rows as read (cells not yet stripped), with their line numbers.

    ``exact_width``: every data row must have as many cells as the header (CSV; a spreadsheet's
    rows simply end at their last cell). ``pending`` collects problems the reader finds in cells as
    it goes (an XLSX formula without a saved value); :func:`_cells` moves them to the problems.
    """

    name: str
    header_line: int
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    lines_estimate: int
    exact_width: bool = False
    raw_width: int = 0
    pending: list[RowProblem] = field(default_factory=list)


def _open_source(path: Path, kind: str) -> _Source:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        what = f"a {suffix!r} file" if suffix else "a file without an extension"
        raise ServiceError(f"{path.name}: cannot import {what}: use a .csv or .xlsx file")
    if not path.is_file():
        raise ServiceError(f"cannot read {path}: no such file")
    pending: list[RowProblem] = []
    rows = _csv_rows(path, pending) if suffix == ".csv" else _xlsx_rows(path, pending)
    estimate = next(rows)[0]  # the first item is (line estimate, [])
    for line, cells in rows:
        cells = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
        if any(cells):
            raw_width = len(cells)
            while not cells[-1]:  # spreadsheets often export trailing empty header cells
                cells.pop()
            return _Source(path.name, line, cells, _non_blank(rows), estimate, suffix == ".csv", raw_width, pending)
    raise ImportRejected(
        path.name, [RowProblem(1, "", f"the file is empty: expected a header row {EXPECTED_HEADER[kind]}")]
    )


def _non_blank(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    return ((line, cells) for line, cells in rows if any(cell.strip() for cell in cells))


_SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)'; elsewhere: encoding UTF-8)"


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> ImportRejected:
    line = data[: exc.start].count(b"\n") + 1
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        found = "it is UTF-16 text"
    else:
        found = f"byte 0x{data[exc.start]:02x} is not UTF-8 (perhaps Windows-1252 or Latin-1)"
    return ImportRejected(path.name, [RowProblem(line, "", f"the file is not UTF-8: {found}; {_SAVE_AS_UTF8}")])


def _csv_rows(path: Path, pending: list[RowProblem] | None = None) -> Iterator[tuple[int, list[str]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from None
    del data
    yield text.count("\n") + 1, []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    header: list[str] = []
    line_starts: list[int] = []
    try:
        for row in reader:
            if not header and any(cell.strip() for cell in row):
                header = [cell.strip().lstrip("\ufeff").strip() for cell in row]
            if pending is not None and any('"' in cell for cell in row):  # rare: look at the line as written
                if not line_starts:
                    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
                record = text[line_starts[start - 1] : line_starts[min(reader.line_num, len(line_starts) - 1)]]
                if reader.line_num >= len(line_starts):
                    record = text[line_starts[start - 1] :]
                column = _stray_quote(record)
                if column >= 0:
                    name = header[column] if column < len(header) and header[column] else f"#{column + 1}"
                    pending.append(
                        RowProblem(
                            start,
                            name,
                            "a field with an unbalanced quote: a quote inside a value that is not quoted "
                            '(quote the whole field and double the quote inside it: "12"" screen")',
                        )
                    )
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportRejected(path.name, [_csv_problem(text, start, header, exc)]) from None


def _stray_quote(record: str) -> int:
    """The column of an unquoted field that holds an odd number of quotes (``Acme "EMEA``), or -1."""
    column, index, quoted, at_start, count = 0, 0, False, True, 0
    while index < len(record):
        ch = record[index]
        if quoted:
            if ch == '"':
                if record[index + 1 : index + 2] == '"':
                    index += 1
                else:
                    quoted = False
        elif ch == '"' and at_start:
            quoted, at_start = True, False
        elif ch in ",\r\n":
            if count % 2:
                return column
            column, at_start, count = column + 1, True, 0
        else:
            at_start = False
            count += ch == '"'
        index += 1
    return column if count % 2 else -1


def _csv_problem(text: str, start: int, header: list[str], exc: csv.Error) -> RowProblem:
    """Where the CSV reader gave up: the record's first line, and the column of its unbalanced quote."""
    lines = text.split("\n", start)[start - 1 : start]
    record = lines[0] if lines else ""
    column, quoted, opened, index = 0, False, -1, 0
    while index < len(record):
        ch = record[index]
        if ch == '"':
            if not quoted:
                quoted, opened = True, column
            elif record[index + 1 : index + 2] == '"':
                index += 1  # a doubled quote inside a quoted field
            else:
                quoted = False
        elif ch == "," and not quoted:
            column += 1
        index += 1
    column = opened if opened >= 0 else column
    name = header[column] if column < len(header) and header[column] else f"#{column + 1}"
    if "end of data" in str(exc):
        message = (
            "a quoted field is never closed: its opening quote has no closing quote, so it would run "
            "to the end of the file"
        )
    else:
        message = f"a field with an unbalanced quote ({exc}): quote the whole field and double any quote inside it"
    return RowProblem(start, name, message)


def _xlsx_rows(path: Path, pending: list[RowProblem] | None = None) -> Iterator[tuple[int, list[str]]]:
    import openpyxl  # only needed for spreadsheets

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds; all mean "not a workbook"
        raise ServiceError(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    formulas = None
    try:
        if not book.worksheets:
            raise ServiceError(f"{path.name}: the workbook has no sheets")
        sheet = book.worksheets[0]
        estimate = sheet.max_row or 0
        sheet.reset_dimensions()  # some writers store wrong dimensions; read every cell there is
        if pending is not None and _has_formulas(path):
            formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
            formula_sheet = formulas.worksheets[0]
            formula_sheet.reset_dimensions()
            formula_rows = formula_sheet.iter_rows(min_row=1, values_only=True)
        yield estimate, []
        for line, row in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            if formulas is not None and pending is not None:
                written = next(formula_rows, ())
                for index, value in enumerate(row):
                    source = written[index] if index < len(written) else None
                    if value is None and isinstance(source, str) and source.startswith("="):
                        pending.append(_formula_problem(sheet.title, line, index, source))
            yield line, [_cell_text(value) for value in row]
    finally:
        book.close()
        if formulas is not None:
            formulas.close()


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula (most imports have none: read once)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    with archive.open(name) as member:
                        tail = b""
                        while chunk := member.read(1 << 20):
                            if _FORMULA_TAG.search(tail + chunk):
                                return True
                            tail = chunk[-8:]
    except (OSError, zipfile.BadZipFile):
        return True  # let the lockstep read decide
    return False


def _formula_problem(sheet: str, line: int, index: int, formula: str) -> RowProblem:
    from openpyxl.utils import get_column_letter

    cell = f"{get_column_letter(index + 1)}{line}"
    shown = formula if len(formula) <= 60 else formula[:57] + "..."
    return RowProblem(
        line,
        f"#{index + 1}",
        f"sheet {sheet!r}, cell {cell} holds a formula ({shown}) with no saved value: open the file in a "
        "spreadsheet program and save it, or paste the values instead of the formulas",
    )


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a CSV export would hold (text as it is; stripped later)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# ---------------------------------------------------------------------------- header and cells


def _read_header(
    source: _Source,
    known: tuple[str, ...] | None,
    required: tuple[str, ...],
    problems: _Problems,
    fixed: tuple[str, ...] = (),
) -> dict[str, int]:
    """Column name -> index. ``known`` None: columns other than ``fixed`` are free (metric names).

    Fixed column names match case-insensitively and are stored lower-case.
    """
    names = set(known or ()) | set(fixed)
    columns: dict[str, int] = {}
    line = source.header_line
    for index, raw in enumerate(source.header):
        name = raw.lower() if raw.lower() in names else raw
        if not name:
            problems.add(line, f"#{index + 1}", "the header cell is empty: every column needs a name")
        elif name in columns:
            problems.add(line, name, f"column appears twice (columns {columns[name] + 1} and {index + 1})")
        elif known is not None and name not in known:
            problems.add(line, name, f"unknown column{suggest(name, known)}; expected columns: {', '.join(known)}")
        else:
            columns[name] = index
    for name in required:
        if name not in columns:
            problems.add(line, name, "required column is missing")
    return columns


def _cells(source: _Source, width: int, problems: _Problems, progress: Progress) -> Iterator[tuple[int, list[str]]]:
    """Data rows, stripped and padded to ``width``, with every strict-reading problem reported (§2).

    A CSV row must have as many cells as the header; a spreadsheet row may end early but not hold
    cells past the header. A repeated header row, a NUL, and a partner id with surrounding
    whitespace or invisible characters are problems, never guesses.
    """
    total = max(1, source.lines_estimate)
    header = source.header
    folded = [h.lower() for h in header]
    id_columns = [i for i, h in enumerate(folded) if h in ("partner_id", "parent_id")]
    allowed = {width, len(header), source.raw_width} if source.exact_width else set()
    for count, (line, raw) in enumerate(source.rows, start=1):
        if source.pending:
            _drain(source, problems)
        if count % PROGRESS_EVERY == 0:
            progress(0.6 * min(1.0, line / total), f"checking {source.name}: line {line:,}")
        if allowed and len(raw) not in allowed:
            _width_problem(source, line, len(raw), width, problems)
            continue
        cells = [cell.strip() for cell in raw]
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        elif len(cells) > width and any(cells[width:]):
            _width_problem(source, line, len(cells), width, problems)
            continue
        if (
            cells[0].lstrip("\ufeff").lower() == folded[0]
            and [c.lstrip("\ufeff").strip().lower() for c in cells[: len(folded)]] == folded
        ):
            problems.add(line, "", f"the header row is repeated here (it is line {source.header_line})")
            continue
        bad = False
        for index in id_columns:
            if index < len(raw) and (message := _id_problem(raw[index])):
                problems.add(line, header[index], message)
                bad = True
        if "\x00" in "".join(cells):  # PostgreSQL cannot store it; SQLite would cut text at it
            for index, cell in enumerate(cells):
                if "\x00" in cell:
                    name = header[index] if index < len(header) else f"#{index + 1}"
                    problems.add(line, name, "the cell contains a NUL character (\\x00)")
            continue
        if bad:
            continue
        yield line, cells
    _drain(source, problems)


def _drain(source: _Source, problems: _Problems) -> None:
    for problem in source.pending:
        column = problem.column
        if column.startswith("#") and column[1:].isdigit() and int(column[1:]) <= len(source.header):
            column = source.header[int(column[1:]) - 1] or column
        problems.add(problem.line, column, problem.message)
    source.pending.clear()


def _width_problem(source: _Source, line: int, cells: int, width: int, problems: _Problems) -> None:
    header = source.header
    if cells < width:
        missing = header[cells] if cells < len(header) else f"#{cells + 1}"
        problems.add(
            line,
            missing,
            f"the row has {cells} cells but the header has {width} columns: a cell is missing from "
            f"column {missing!r} on (check for a missing comma or an unbalanced quote)",
        )
    else:
        problems.add(
            line,
            f"#{width + 1}",
            f"the row has {cells} cells but the header has {width} columns (check for an extra comma, "
            "or quote a value that holds one)",
        )


def _id_problem(raw: str) -> str:
    """Why a partner id as written cannot be one (invisible or surrounding characters), or ""."""
    if raw.isascii() and raw.isprintable() and raw == raw.strip():
        return ""
    if not raw.strip():
        return ""  # empty: reported where the id is required
    for position, ch in enumerate(raw, start=1):
        if unicodedata.category(ch) in _INVISIBLE_CATEGORIES or (ch.isspace() and ch != " "):
            return (
                f"the partner id '{visible(raw)}' holds an invisible character ({_escaped(ch)}) at "
                f"position {position}: retype the id"
            )
    return f"the partner id {raw!r} has spaces before or after it: remove them"


def _escaped(ch: str) -> str:
    code = ord(ch)
    return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(ch) or (
        f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    )


_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(text: str) -> date | None:
    """``YYYY-MM-DD`` as a date, or None when it is not one."""
    if not _ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _date_problem(text: str) -> str:
    return f"{text!r} is not a date (use YYYY-MM-DD, e.g. 2026-03-31)"


def _number(text: str) -> float | str:
    """A finite number, or a message saying why ``text`` is not one."""
    try:
        value = float(text)
    except ValueError:
        if "," in text:
            return f"{text!r} is not a number (write it without thousands separators, e.g. 1000000)"
        return f"{text!r} is not a number"
    if not text.isascii() or "_" in text:
        return f"{text!r} is not a number"
    if not math.isfinite(value):
        return f"{text!r} is not a finite number"
    return value


_YEAR_PREFIX = re.compile(r"^(\d{4,})(?:-|$)")


class _Periods:
    """Parses period labels once each and checks them against the program's frequency."""

    def __init__(self, program: Program | None) -> None:
        self.program = program
        self.cache: dict[str, Period | str] = {}

    def parse(self, text: str) -> Period | str:
        found = self.cache.get(text)
        if found is None:
            found = self.cache[text] = self._parse(text)
        return found

    def _parse(self, text: str) -> Period | str:
        if not text:
            return "the period is empty"
        year = _YEAR_PREFIX.match(text.strip())
        if year and not 1900 <= int(year[1]) <= 2999:
            return f"{text!r}: the year {year[1]} is outside 1900 to 2999"
        try:
            period = parse_period(text)
        except PeriodError as exc:
            return str(exc)
        except ValueError:  # a month or quarter the calendar does not have
            return f"{text!r} is not a period (use 2026-Q3, 2026-07 or 2026)"
        if self.program is not None and period.frequency != self.program.frequency:
            return (
                f"{text!r} is a {period.frequency} period, but program {self.program.name!r} is "
                f"{self.program.frequency}"
            )
        return period


# ---------------------------------------------------------------------------- the stored side


@dataclass
class _Stored:
    """The partners already in the database: id -> key, id -> parent id."""

    key: dict[str, int]
    parent: dict[str, str]


def _stored_partners(conn: Connection) -> _Stored:
    rows = queries.fetchall(conn, "SELECT key, partner_id, parent_id FROM partner")
    return _Stored({pid: key for key, pid, _ in rows}, {pid: parent for _, pid, parent in rows if parent})


def _date_param(conn: Connection, value: date | None):
    """Dates as SQLite stores them through SQLAlchemy (ISO text); date objects elsewhere."""
    if value is None or conn.dialect.name != "sqlite":
        return value
    return value.isoformat()


def _count(conn: Connection, table: str) -> int:
    return int(queries.fetchall(conn, f"SELECT COUNT(*) FROM {table}")[0][0])


def _upsert(
    conn: Connection,
    table: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    updated: Iterable[str],
    rows: Iterable[tuple],
    total: int,
    progress: Progress,
    what: str,
) -> None:
    """Insert ``rows``, updating the ``updated`` columns of rows whose ``keys`` already exist.

    SQLite: ``executemany`` in chunks. PostgreSQL: ``COPY`` into a temporary table, then one
    ``INSERT ... SELECT ... ON CONFLICT`` (executemany there is far slower).
    """
    updated = list(updated)
    sets = ", ".join(f"{c} = excluded.{c}" for c in updated)
    conflict = f"ON CONFLICT ({', '.join(keys)}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")
    names = ", ".join(columns)
    cur = queries.raw_cursor(conn)
    rows, done = iter(rows), 0
    if conn.dialect.name == "postgresql":
        staging = f"import_{table}"
        cur.execute(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")
        with cur.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for done, row in enumerate(rows, start=1):
                copy.write_row(row)
                if done % WRITE_CHUNK == 0:
                    progress(0.6 + 0.3 * min(1.0, done / max(1, total)), f"writing {what}: {done:,} of {total:,}")
        progress(0.9, f"writing {what}: storing")
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} {conflict}")
        cur.execute(f"DROP TABLE {staging}")
    else:
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) {conflict}"
        sql = sql.replace("?", queries.placeholder(conn))
        while chunk := list(islice(rows, WRITE_CHUNK)):
            cur.executemany(sql, chunk)
            done += len(chunk)
            progress(0.6 + 0.4 * min(1.0, done / max(1, total)), f"writing {what}: {done:,} of {total:,}")
    cur.close()


# ---------------------------------------------------------------------------- partners


def _import_partners(
    conn: Connection, source: _Source, program: Program | None, stored: _Stored, problems: _Problems, progress: Progress
) -> ImportReport:
    columns = _read_header(source, PARTNER_COLUMNS, REQUIRED["partners"], problems)
    problems.reject_if_any(source.name)
    index = [columns.get(c) for c in PARTNER_COLUMNS]
    tiers = set(program.tiers) if program is not None else None
    seen: dict[str, int] = {}
    rows: list[tuple] = []
    parents: list[tuple[int, str, str]] = []  # (line, partner, parent)
    for line, cells in _cells(source, len(source.header), problems, progress):
        pid, name, region, country, ptype, parent, manager, tier, since_text, contact, email = (
            cells[i] if i is not None else "" for i in index
        )
        if email and not email_ok(email):
            problems.add(line, "contact_email", f"{email!r} is not an e-mail address (name@example.com)")
        if not pid:
            problems.add(line, "partner_id", "partner_id is empty")
        elif pid in seen:
            problems.add(line, "partner_id", f"partner {pid!r} is already on line {seen[pid]}")
        else:
            seen[pid] = line
        if not name:
            problems.add(line, "name", "name is empty")
        if tier and program is not None and tiers is not None and tier not in tiers:
            problems.add(
                line,
                "tier",
                f"{tier!r} is not a tier of program {program.name!r}{suggest(tier, program.tiers)}; "
                f"tiers: {', '.join(program.tiers)}",
            )
        since = None
        if since_text:
            since = _iso_date(since_text)
            if since is None:
                problems.add(line, "tier_since", _date_problem(since_text))
        if parent:
            if parent == pid:
                problems.add(line, "parent_id", f"partner {pid!r} cannot be its own parent")
            else:
                parents.append((line, pid, parent))
        rows.append(
            (
                pid,
                name,
                region,
                country,
                ptype,
                parent or None,
                manager,
                tier or None,
                _date_param(conn, since),
                contact,
                email,
                natural_sort_key(pid),
                natural_sort_key(name),
            )
        )
    for line, _pid, parent in parents:
        if parent not in seen and parent not in stored.key:
            problems.add(line, "parent_id", f"parent {parent!r} is neither in this file nor a stored partner")
    if "parent_id" in columns:
        _check_cycles(source.name, seen, stored, parents, problems)
    problems.reject_if_any(source.name)

    updated = sum(1 for pid in seen if pid in stored.key)
    present = [c for c in PARTNER_COLUMNS[1:] if c in columns] + ["id_sort_key", "name_sort_key"]
    _upsert(conn, "partner", PARTNER_WRITTEN, ("partner_id",), present, rows, len(rows), progress, "partners")
    extra = [c for c in PARTNER_COLUMNS[2:] if c in columns]
    detail = f"columns: name, {', '.join(extra)}" if extra else "columns: name"
    # the re-levelling: these partners, and the groups they leave (their former parents')
    after = _stored_partners(conn)
    touched = [after.key[pid] for pid in seen] + [
        after.key[p] for pid in seen if (p := stored.parent.get(pid)) is not None and p in after.key
    ]
    return ImportReport("partners", "", len(rows), len(rows) - updated, updated, detail, tuple(touched))


def email_ok(text: str) -> bool:
    """One plain address: something@domain.tld, no spaces, no list, nothing invisible (a header
    built from it must stay one header)."""
    local, at, domain = text.rpartition("@")
    return (
        bool(at and local and "." in domain.strip("."))
        and text.isprintable()
        and not any(c.isspace() or c in ',;<>()[]\\"' for c in text)
    )


def _check_cycles(
    file_name: str, seen: dict[str, int], stored: _Stored, parents: list[tuple[int, str, str]], problems: _Problems
) -> None:
    """Report every parent cycle through a partner of this file, stored partners included."""
    parent_of = dict(stored.parent)
    for pid in seen:  # the file's parent_id column replaces the stored parent
        parent_of.pop(pid, None)
    for _, pid, parent in parents:
        parent_of[pid] = parent
    done: set[str] = set()
    for start in seen:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = parent_of.get(node)
        if node is not None and node in on_path:
            cycle = path[on_path[node] :]
            if len(cycle) > 1:  # a self-parent is reported on its own row
                in_file = [p for p in cycle if p in seen]
                first = min(in_file, key=seen.__getitem__)
                ring = cycle[cycle.index(first) :] + cycle[: cycle.index(first)]
                stored_only = [p for p in ring if p not in seen]
                if len(ring) <= CYCLE_SHOWN:
                    shown = " -> ".join([*ring, ring[0]])
                else:  # a cycle through thousands of partners: the first few and the count
                    shown = " -> ".join(ring[:CYCLE_SHOWN]) + f" -> ... ({len(ring) - CYCLE_SHOWN:,} more) -> {ring[0]}"
                note = ""
                if stored_only:
                    names = ", ".join(map(repr, stored_only[:CYCLE_SHOWN]))
                    more = f" and {len(stored_only) - CYCLE_SHOWN:,} more" if len(stored_only) > CYCLE_SHOWN else ""
                    note = f" ({names}{more} stored, not in this file)"
                size = f"parents form a cycle of {len(ring):,} partners: " if len(ring) > CYCLE_SHOWN else ""
                problems.add(seen[first], "parent_id", (size or "parents form a cycle: ") + shown + note)
        done.update(path)


# ---------------------------------------------------------------------------- metrics


def _import_metrics(
    conn: Connection, source: _Source, program: Program | None, stored: _Stored, problems: _Problems, progress: Progress
) -> ImportReport:
    if [h.lower() for h in source.header] == list(LONG_METRIC_COLUMNS):
        return _import_long_metrics(conn, source, program, stored, problems, progress)
    columns = _read_header(source, None, METRIC_KEY_COLUMNS, problems, fixed=METRIC_KEY_COLUMNS)
    metrics = [name for name in columns if name not in METRIC_KEY_COLUMNS]
    if not metrics and not problems:
        problems.add(source.header_line, "", "no metric columns: expected partner_id,period,<metric>,...")
    if program is not None:
        for name in metrics:
            if name not in program.metrics:
                problems.add(source.header_line, name, _unknown_metric(name, program))
    problems.reject_if_any(source.name)

    id_col, period_col = columns["partner_id"], columns["period"]
    metric_cols = [columns[m] for m in metrics]
    flags = _flag_metrics(program, metrics)
    periods = _Periods(program)
    period_code: dict[str, int] = {}
    keys, codes, lines = array("q"), array("q"), array("q")
    values = array("d")
    first_row: dict[tuple[str, str], int] = {}  # (partner, period) -> row number
    nan = math.nan
    for line, cells in _cells(source, len(source.header), problems, progress):
        pid, ptext = cells[id_col], cells[period_col]
        key = _partner_key(pid, stored, line, problems)
        period = periods.parse(ptext)
        if isinstance(period, str):
            problems.add(line, "period", period)
            code = -1
        else:
            code = period_code.setdefault(period.label, len(period_code))
        row = len(lines)
        for name, col in zip(metrics, metric_cols):
            text = cells[col]
            if not text:
                values.append(nan)
                continue
            try:  # the common case inline: this loop runs for every cell of large files
                value = float(text)
            except ValueError:
                value = nan
            if value - value != 0 or "_" in text or not text.isascii():  # NaN, inf, or not plain
                why = _number(text)
                assert isinstance(why, str)  # not a plain finite number: _number says why
                problems.add(line, name, why)
                value = nan
            elif flags and name in flags and value not in (0.0, 1.0):
                problems.add(line, name, _flag_problem(name, text))
                value = nan
            values.append(value)
        if code >= 0 and pid:
            assert not isinstance(period, str)  # code >= 0: the period parsed
            earlier = first_row.setdefault((pid, period.label), row)
            if earlier != row:
                _wide_duplicates(
                    values, len(metrics), earlier, row, metrics, lines[earlier], line, pid, period.label, problems
                )
        keys.append(key)
        codes.append(code)
        lines.append(line)
    problems.reject_if_any(source.name)

    width = len(metrics)
    matrix = np.frombuffer(values, dtype=np.float64).reshape(-1, width) if len(lines) else np.zeros((0, width))
    key_arr = np.frombuffer(keys, dtype=np.int64) if len(keys) else np.zeros(0, np.int64)
    code_arr = np.frombuffer(codes, dtype=np.int64) if len(codes) else np.zeros(0, np.int64)
    labels = sorted(period_code)
    filled = ~np.isnan(matrix)
    total = int(filled.sum())

    def value_rows() -> Iterator[tuple]:
        for label in labels:  # in primary-key order: period, metric, partner
            in_period = np.flatnonzero(code_arr == period_code[label])
            in_period = in_period[np.argsort(key_arr[in_period], kind="stable")]
            for j in sorted(range(width), key=metrics.__getitem__):
                chosen = in_period[filled[in_period, j]]
                yield from zip(repeat(label), repeat(metrics[j]), key_arr[chosen].tolist(), matrix[chosen, j].tolist())

    inserted = _write_values(conn, value_rows(), total, progress, ((label, m) for label in labels for m in metrics))
    touched = tuple(np.unique(key_arr[filled.any(axis=1)]).tolist()) if len(key_arr) else ()
    return ImportReport(
        "metrics", "", len(lines), inserted, total - inserted, f"wide metrics: {', '.join(metrics)}", touched
    )


def _wide_duplicates(
    values: array,
    width: int,
    earlier: int,
    row: int,
    metrics: list[str],
    earlier_line: int,
    line: int,
    pid: str,
    label: str,
    problems: _Problems,
) -> None:
    for j, name in enumerate(metrics):
        if not math.isnan(values[earlier * width + j]) and not math.isnan(values[row * width + j]):
            problems.add(line, name, f"{pid} {label} {name} is already given on line {earlier_line}")


def _import_long_metrics(
    conn: Connection, source: _Source, program: Program | None, stored: _Stored, problems: _Problems, progress: Progress
) -> ImportReport:
    periods = _Periods(program)
    metric_ok: dict[str, str] = {}  # metric name -> "" or the problem with it
    seen: dict[tuple[str, str, str], int] = {}
    rows: list[tuple] = []
    for line, cells in _cells(source, len(LONG_METRIC_COLUMNS), problems, progress):
        pid, ptext, metric, vtext = cells[:4]
        key = _partner_key(pid, stored, line, problems)
        period = periods.parse(ptext)
        if isinstance(period, str):
            problems.add(line, "period", period)
        if metric not in metric_ok:
            if not metric:
                metric_ok[metric] = "the metric is empty"
            elif program is not None and metric not in program.metrics:
                metric_ok[metric] = _unknown_metric(metric, program)
            else:
                metric_ok[metric] = ""
        if metric_ok[metric]:
            problems.add(line, "metric", metric_ok[metric])
        value = _number(vtext) if vtext else "the value is empty (leave the row out for no value)"
        if not isinstance(value, str) and value not in (0.0, 1.0) and _flag_metrics(program, [metric]):
            value = _flag_problem(metric, vtext)
        if isinstance(value, str):
            problems.add(line, "value", value)
        if not isinstance(period, str) and pid and metric:
            earlier = seen.setdefault((pid, period.label, metric), line)
            if earlier != line:
                problems.add(line, "metric", f"{pid} {period.label} {metric} is already given on line {earlier}")
            rows.append((period.label, metric, key, value))
    problems.reject_if_any(source.name)
    rows.sort(key=lambda r: r[:3])
    inserted = _write_values(conn, rows, len(rows), progress, (r[:2] for r in rows))
    names = sorted({r[1] for r in rows})
    touched = tuple(sorted({r[2] for r in rows}))
    return ImportReport(
        "metrics", "", len(rows), inserted, len(rows) - inserted, f"long metrics: {', '.join(names)}", touched
    )


def _flag_metrics(program: Program | None, metrics: Iterable[str]) -> frozenset[str]:
    """The metrics among ``metrics`` that the program declares as flags (``unit = "yes/no"``)."""
    if program is None:
        return frozenset()
    declared = program.metrics
    return frozenset(m for m in metrics if m in declared and declared[m].unit == "yes/no")


def _flag_problem(name: str, text: str) -> str:
    return f"{name!r} is a yes/no flag: its value must be 0 or 1, not {text!r}"


def _unknown_metric(name: str, program: Program) -> str:
    declared = ", ".join(program.metrics) or "none"
    return f"{name!r} is not a metric of program {program.name!r}{suggest(name, program.metrics)}; declared: {declared}"


def _partner_key(pid: str, stored: _Stored, line: int, problems: _Problems) -> int:
    if not pid:
        problems.add(line, "partner_id", "partner_id is empty")
        return -1
    key = stored.key.get(pid)
    if key is None:
        problems.add(line, "partner_id", f"partner {pid!r} is not stored: import it with the partners first")
        return -1
    return key


def _stored_values(conn: Connection, pairs: list[tuple[str, str]]) -> int:
    """How many metric values are stored for these (period, metric) pairs: a count over each pair's
    range of the primary key (period, metric, partner), not over the whole table (4.7 million rows at
    100,000 partners: 80 ms a count, twice per import of a few values)."""
    return sum(
        int(queries.fetchall(conn, "SELECT COUNT(*) FROM metric_value WHERE period = ? AND metric = ?", pair)[0][0])
        for pair in pairs
    )


def _write_values(
    conn: Connection, rows: Iterable[tuple], total: int, progress: Progress, pairs: Iterable[tuple[str, str]]
) -> int:
    """Upsert metric values, all of them in ``pairs`` (period, metric); returns how many were new."""
    distinct = sorted(set(pairs))
    before = _stored_values(conn, distinct)
    _upsert(
        conn,
        "metric_value",
        ("period", "metric", "partner_key", "value"),
        ("period", "metric", "partner_key"),
        ("value",),
        rows,
        total,
        progress,
        "metric values",
    )
    return _stored_values(conn, distinct) - before


# ---------------------------------------------------------------------------- certifications


def _import_certifications(
    conn: Connection, source: _Source, program: Program | None, stored: _Stored, problems: _Problems, progress: Progress
) -> ImportReport:
    columns = _read_header(source, CERTIFICATION_COLUMNS, REQUIRED["certifications"], problems)
    problems.reject_if_any(source.name)
    index = [columns.get(c) for c in CERTIFICATION_COLUMNS]
    seen: dict[tuple[str, str, str, date], int] = {}  # (v2) the key holds earned_on: a renewal is a new row
    rows: list[tuple] = []
    tracks: set[str] = set()
    for line, cells in _cells(source, len(source.header), problems, progress):
        pid, person, cert, track, earned_text, expires_text = (cells[i] if i is not None else "" for i in index)
        key = _partner_key(pid, stored, line, problems)
        for column, text in (("person", person), ("certification", cert), ("track", track)):
            if not text:
                problems.add(line, column, f"{column} is empty")
        earned = expires = None
        if not earned_text:
            problems.add(line, "earned_on", "earned_on is empty")
        elif (earned := _iso_date(earned_text)) is None:
            problems.add(line, "earned_on", _date_problem(earned_text))
        if expires_text:
            if (expires := _iso_date(expires_text)) is None:
                problems.add(line, "expires_on", _date_problem(expires_text))
            elif earned is not None and expires < earned:
                problems.add(line, "expires_on", f"expires_on {expires} is before earned_on {earned}")
        if pid and person and cert and earned is not None:
            earlier = seen.setdefault((pid, person, cert, earned), line)
            if earlier != line:
                problems.add(
                    line,
                    "certification",
                    f"{person!r} of partner {pid!r} already has {cert!r} earned on {earned} on line {earlier}",
                )
        tracks.add(track)
        rows.append((key, person, cert, track, _date_param(conn, earned), _date_param(conn, expires)))
    problems.reject_if_any(source.name)

    updates = ["track"] + (["expires_on"] if "expires_on" in columns else [])
    before = _count(conn, "certification")
    _upsert(
        conn,
        "certification",
        ("partner_key", "person", "certification", "track", "earned_on", "expires_on"),
        ("partner_key", "person", "certification", "earned_on"),
        updates,
        rows,
        len(rows),
        progress,
        "certifications",
    )
    inserted = _count(conn, "certification") - before
    detail = f"tracks: {', '.join(sorted(tracks))}" if tracks else ""
    touched = tuple(sorted({r[0] for r in rows}))
    return ImportReport("certifications", "", len(rows), inserted, len(rows) - inserted, detail, touched)


_IMPORTERS = {
    "partners": _import_partners,
    "metrics": _import_metrics,
    "certifications": _import_certifications,
}


# ---------------------------------------------------------------------------- the entry point


def import_file(
    target: Engine | UnitOfWork,
    kind: str,
    path: str | Path,
    user: str,
    progress: Progress | None = None,
    *,
    level: bool = True,
) -> ImportReport:
    """Validate ``path`` whole, then write it and re-level the partners it affects, in one
    transaction (``target``'s, or its own); :class:`ImportRejected` if any row is bad.

    ``level=False`` (``tiertui import --no-level``, for scripted bulk loads): no re-levelling; the
    stored results are marked stale until the next full ``tiertui level``. Needs the admin role.
    """
    if kind not in KINDS:
        raise ServiceError(f"cannot import {kind!r}{suggest(kind, KINDS)}: use one of {', '.join(KINDS)}")
    progress = progress or _quiet
    path = Path(path)
    with using(target) as uow:
        assert uow.session is not None
        session = uow.session
        roles.require(session, user, "admin", "importing data")
        if not level:
            published = sorted(queries.published_periods(uow.connection), key=parse_period)
            if published:
                raise ServiceError(
                    f"import --no-level is refused while periods are published (up to {published[-1]}): without "
                    "re-levelling, a change to a published result could not be caught; import without --no-level"
                )
        program = timeline.import_view(session) if programs.active_version(session) is not None else None
        progress(0.0, f"reading {path.name}")
        source = _open_source(path, kind)
        conn = uow.connection
        stored = _stored_partners(conn)
        report = _IMPORTERS[kind](conn, source, program, stored, _Problems(), progress)
        report = replace(report, path=str(path))
        if level:
            done = relevel(uow, user, keys=report.touched, why=f"import of {kind} from {path.name}")
            report = replace(report, relevelled=done.text() if done.partners else "")
        else:
            staleness.mark_stale(session, f"import of {kind} from {path.name} by {user}, not re-levelled")
            report = replace(report, relevelled="not re-levelled: results are stale until `tiertui level`")
        audit.record(
            session,
            user,
            f"import.{kind}",
            kind,
            path.name,
            file=path.name,
            rows=report.rows,
            inserted=report.inserted,
            updated=report.updated,
            detail=report.detail,
            **({"relevelled": report.relevelled} if report.relevelled else {}),
        )
    progress(1.0, report.text())
    return report
