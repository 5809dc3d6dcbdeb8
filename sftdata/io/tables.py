"""Flat tables: ``.csv``, ``.tsv`` (optionally ``.gz``/``.zst``) and ``.xlsx``.

The first row is the header; each later row is one record whose provenance is its
spreadsheet row number (``Source(path, 2, "row")`` for the first data row, as Excel
shows it). Empty cells are absent keys, fully empty rows are not records, and nested
values follow the JSON-cell rule of :mod:`sftdata.io.cells`. Writers store lists and
dicts as JSON text, so a table written here reads back to the same rows.

>>> import tempfile, pathlib
>>> from sftdata.io import read_rows, write_rows
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> write_rows([{"instruction": "Say hi", "history": [["q", "a"]]}], path)
1
>>> [row for row, _ in read_rows(path)]
[{'instruction': 'Say hi', 'history': [['q', 'a']]}]
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import ReadError, WriteError, missing
from ..record import Source
from .cells import JsonCellRule, cell_text, replay, spooled
from .files import Row, open_binary, register_reader, register_writer, suffix_of

csv.field_size_limit(2**31 - 1)  # model answers are long; the default limit is 128 KiB
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CELL = 32_767


def column_letter(index: int) -> str:
    """0 -> ``A``, 25 -> ``Z``, 26 -> ``AA`` (spreadsheet column names).

    >>> [column_letter(i) for i in (0, 25, 26, 701, 702)]
    ['A', 'Z', 'AA', 'ZZ', 'AAA']
    """
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _header(cells: Iterable[Any], path: str) -> list[str]:
    names: list[str] = []
    for i, cell in enumerate(cells):
        name = "" if cell is None else str(cell).strip()
        names.append(name or column_letter(i))
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ReadError(f"the header row repeats column name(s) {', '.join(map(repr, dupes))}.", path=path, line=1, code="duplicate-column", remedy="Give every column a distinct name in the first row.")
    return names


def _cell(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _table_rows(path: Path, raw: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, Row]]:
    """Header + raw value tuples -> (row number, dict without empty cells)."""
    name = str(path)
    try:
        header = _header(next(raw), name)
    except StopIteration:
        return
    width = len(header)
    for number, values in enumerate(raw, 2):
        if len(values) > width and any(_cell(v) is not None for v in values[width:]):
            raise ReadError(f"row has {len(values)} cells but the header names {width} columns.", path=name, line=number, code="extra-cells", remedy="Add a header for every filled column, or check the delimiter and quoting.")
        row = {key: cell for key, value in zip(header, values) if (cell := _cell(value)) is not None}
        if row:
            yield number, row


def read_header(path: str | Path) -> list[str]:
    """The column names of a table (its first row), empty names given their letter."""
    p = Path(path)
    if suffix_of(p)[0] == ".xlsx":
        wb, ws = _open_sheet(p)
        try:
            first = next(ws.iter_rows(max_row=1, values_only=True), ())
        finally:
            wb.close()
        return _header(first, str(p))
    with _open_text(p) as fh:
        first = next(_csv_reader(p, fh), [])
    return _header(first, str(p))


def _with_json_cells(path: Path, scan: Any, json_cells: bool) -> Iterator[tuple[Row, Source]]:
    """Two passes: learn the column kinds over the whole file, then yield converted rows."""
    name = str(path)
    rule = JsonCellRule()
    if json_cells:
        for _, row in scan():
            rule.observe(row)
    for number, row in scan():
        yield rule.apply(row), Source(name, number, "row")


# -- CSV / TSV ---------------------------------------------------------------------------
def _open_text(path: Path) -> IO[str]:
    _, compression = suffix_of(path)
    # utf-8-sig: Excel writes (and needs) a byte-order mark on UTF-8 CSV files.
    return io.TextIOWrapper(open_binary(path, compression), encoding="utf-8-sig", newline="")


def _csv_reader(path: Path, fh: IO[str]) -> Iterator[list[str]]:
    delimiter = "\t" if suffix_of(path)[0] == ".tsv" else ","
    # strict: a quoted cell still open at the end of the file is an error, not one huge cell
    return csv.reader(fh, delimiter=delimiter, strict=True)


def read_csv(path: Path, json_cells: bool = True) -> Iterator[tuple[Row, Source]]:
    def scan() -> Iterator[tuple[int, Row]]:
        last = 1  # the row before the one being read
        with _open_text(path) as fh:
            try:
                for number, row in _table_rows(path, (tuple(r) for r in _csv_reader(path, fh))):
                    last = number
                    yield number, row
            except csv.Error as exc:
                if "end of data" in str(exc):  # EOF inside a quoted cell
                    raise ReadError("a quoted cell opens here and its closing quote never comes, so the rest of the file would be one cell.", path=str(path), line=last + 1, code="invalid-csv", remedy='Close the quote (a quote inside a cell is written "").') from None
                raise ReadError(f"not a readable CSV/TSV file ({exc}).", path=str(path), line=last + 1, code="invalid-csv", remedy="Save it as UTF-8 CSV, or as .xlsx.") from None
            except UnicodeDecodeError as exc:
                raise ReadError(f"not a readable CSV/TSV file ({exc}).", path=str(path), code="invalid-csv", remedy="Save it as UTF-8 CSV, or as .xlsx.") from None

    return _with_json_cells(path, scan, json_cells)


def _writer_for(delimiter: str) -> Any:
    def write(rows: Iterable[Row], fh: IO[bytes]) -> int:
        n = 0
        with spooled(rows) as (columns, batches):
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="", write_through=False)
            out = csv.writer(text, delimiter=delimiter, lineterminator="\n")
            # csv quotes only the line terminator's characters: a lone \r would end the
            # record when read back, so a row holding one is written fully quoted
            quoted = csv.writer(text, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
            out.writerow(columns)
            for row in replay(batches()):
                cells = ["" if (v := row.get(c)) is None else _csv_scalar(cell_text(v)) for c in columns]
                (quoted if any(type(x) is str and "\r" in x for x in cells) else out).writerow(cells)
                n += 1
            text.flush()
            text.detach()
        return n

    return write


def _csv_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


# -- xlsx --------------------------------------------------------------------------------
def _open_sheet(path: Path) -> tuple[Any, Any]:
    try:
        import openpyxl
    except ImportError:
        raise missing("openpyxl", "xlsx", "Reading .xlsx files") from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ReadError(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc}).", path=str(path), code="invalid-xlsx", remedy="Open and re-save it in Excel or LibreOffice as .xlsx.") from None
    return wb, wb.worksheets[0]


def read_xlsx(path: Path, json_cells: bool = True) -> Iterator[tuple[Row, Source]]:
    """Rows of the workbook's first sheet, streamed (openpyxl read-only mode)."""

    def scan() -> Iterator[tuple[int, Row]]:
        wb, ws = _open_sheet(path)
        try:
            yield from _table_rows(path, ws.iter_rows(values_only=True))
        finally:
            wb.close()

    return _with_json_cells(path, scan, json_cells)


def _check_xlsx(columns: list[str], batches: Any, illegal: Any) -> None:
    """Refuse what a sheet cannot hold before writing anything (openpyxl would otherwise
    fail half-way through, or Excel would truncate long cells silently)."""
    n = 0
    for row in replay(batches()):
        n += 1
        if n + 1 > XLSX_MAX_ROWS:
            raise WriteError(f"an .xlsx sheet holds at most {XLSX_MAX_ROWS - 1} records.", code="too-many-rows", remedy="Write .jsonl or .parquet, or split the dataset.")
        for column in columns:
            value = cell_text(row.get(column))
            if not isinstance(value, str):
                continue
            if len(value) > XLSX_MAX_CELL:
                raise WriteError(f"record {n}, column '{column}': {len(value)} characters, but an .xlsx cell holds at most {XLSX_MAX_CELL}.", field=column, code="cell-too-long", remedy="Write .jsonl, .csv or .parquet instead.")
            if illegal.search(value):
                raise WriteError(f"record {n}, column '{column}' holds control characters that .xlsx cannot store.", field=column, code="illegal-character", remedy="Write .jsonl or .parquet, or remove the control characters.")


def write_xlsx(rows: Iterable[Row], fh: IO[bytes]) -> int:
    """One sheet, header in row 1; nested values as JSON text; text is never a formula."""
    try:
        import openpyxl
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    except ImportError:
        raise missing("openpyxl", "xlsx", "Writing .xlsx files") from None
    n = 0
    with spooled(rows) as (columns, batches):
        _check_xlsx(columns, batches, ILLEGAL_CHARACTERS_RE)
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("data")
        ws.append(columns)
        for row in replay(batches()):
            cells = []
            for column in columns:
                cell = WriteOnlyCell(ws, value=cell_text(row.get(column)))
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # "=1+1" is an answer, not a formula
                cells.append(cell)
            ws.append(cells)
            n += 1
        wb.save(fh)
    return n


register_reader(".csv", read_csv)
register_reader(".tsv", read_csv)
register_reader(".xlsx", read_xlsx)
register_writer(".csv", _writer_for(","))
register_writer(".tsv", _writer_for("\t"))
register_writer(".xlsx", write_xlsx)
