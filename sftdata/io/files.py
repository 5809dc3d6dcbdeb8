"""Suffix registry, JSON/JSONL reading and writing, atomic output."""

from __future__ import annotations

import contextlib
import gzip
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import InputNotFoundError, ReadError, UsageError, WriteError
from ..record import Source
from .compression import BOM, open_binary, suffix_of
from .lines import (
    _EVERY,
    TOO_LONG_MARK,
    BadLine,
    BadSink,
    Position,
    TooLong,
    bounded_lines,
    dumps_line,
    jsonl_rows,
    max_line_bytes,
    range_rows,
    set_max_line_bytes,
)

__all__ = ["BadLine", "BadSink", "Position", "jsonl_rows", "max_line_bytes", "range_rows", "read_rows", "read_span", "set_max_line_bytes", "spans", "write_rows"]
from .safety import atomic_path

Row = dict[str, Any]
# ``reader(path, json_cells=True)``: ``json_cells`` matters only to flat tables (see cells.py).
RowReader = Callable[..., Iterator[tuple[Row, Source]]]
RowWriter = Callable[[Iterable[Row], IO[bytes]], int]

_READERS: dict[str, RowReader] = {}
_WRITERS: dict[str, RowWriter] = {}


def register_reader(suffix: str, reader: RowReader) -> None:
    _READERS[suffix] = reader


def register_writer(suffix: str, writer: RowWriter) -> None:
    _WRITERS[suffix] = writer


SPAN_BYTES = 4 << 20


def spans(path: Path, chunk: int | None = None) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``chunk`` bytes, each ending just after a newline (or at EOF).
    The newline is searched a megabyte at a time, so one huge line costs no memory."""
    chunk = chunk or SPAN_BYTES
    size = path.stat().st_size
    with open(path, "rb") as fh:
        start = 0
        while start < size:
            end = min(start + chunk, size)
            fh.seek(end)
            while end < size:
                block = fh.read(1 << 20)
                cut = block.find(b"\n")
                if cut >= 0:
                    end += cut + 1
                    break
                end += len(block)
            yield start, min(end, size)
            start = min(end, size)


def read_span(path: str | os.PathLike[str], span: tuple[int, int], opener: Callable[[], IO[bytes]] | None = None) -> bytes:
    """The bytes of one range, read by a worker itself. A UTF-8 byte-order mark at the
    start of the file is dropped; a range holding a line above the line cap (see
    :func:`max_line_bytes`) is read a line at a time and that line replaced by a marker
    that :func:`range_rows` reports as ``too-long`` (memory stays bounded). ``opener``
    opens the file some other way (:func:`sftdata.io.remote.read_span`: a URI)."""
    start, end = span
    limit = max_line_bytes()
    with opener() if opener is not None else open(path, "rb") as fh:
        fh.seek(start)
        if end - start <= limit:
            data = fh.read(end - start)
        else:
            parts: list[bytes] = []
            for line in bounded_lines(_Window(fh, end - start), limit):
                parts.append(TOO_LONG_MARK + str(line.size).encode() if isinstance(line, TooLong) else line)
            data = b"\n".join(parts) + b"\n"
    return data[3:] if start == 0 and data.startswith(BOM) else data


class _Window:
    """At most ``n`` more bytes of ``fh``."""

    def __init__(self, fh: IO[bytes], n: int) -> None:
        self._fh, self._left = fh, n

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._fh.read(size)
        self._left -= len(data)
        return data


def _read_jsonl(path: Path, compression: str | None = None, position: Position | None = None, bad: BadSink | None = None) -> Iterator[tuple[Row, Source]]:
    with open_binary(path, compression) as fh:
        yield from jsonl_rows(fh, str(path), position, bad)


def load_json_array(path: Path, compression: str | None = None, data: bytes | None = None) -> list[Any] | None:
    """The elements of a ``.json`` dataset (an array, or one object as a one-element list).

    Returns ``None`` when the file is really JSON Lines (common under a ``.json`` name),
    so the caller reads it line by line instead; raises :class:`ReadError` with the line
    of a syntax error otherwise.
    """
    name = str(path)
    if data is None:
        with open_binary(path, compression) as fh:
            data = fh.read()
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if data.lstrip()[:1] == b"{" and b"\n{" in data:
            return None
        line = data[: exc.pos].count(b"\n") + 1
        raise ReadError(f"file is not valid JSON ({exc.msg}).", path=name, line=line, code="invalid-json", remedy="Check the file around that line (a missing comma or quote?).") from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise ReadError("a .json dataset must hold an array of objects or one object.", path=name, code="wrong-type", remedy="Wrap the records in [ ... ].")
    return value


#: ``.json`` arrays larger than this (uncompressed) are streamed a chunk at a time
#: instead of parsed whole (see :mod:`.jsonarray`).
STREAM_BYTES = 256 << 20


def json_elements(path: Path, compression: str | None = None, position: Position | None = None) -> Iterator[Any] | None:
    """The elements of a ``.json`` dataset, in order, or ``None`` when it is really JSON
    Lines. Small files are parsed whole (fastest); large arrays are streamed when numpy is
    installed, so memory stays bounded whatever the file size (a decompression bomb
    included: at most :data:`STREAM_BYTES` are read before deciding). Values and errors
    are the same either way."""
    from . import jsonarray

    size = path.stat().st_size
    whole = STREAM_BYTES if jsonarray.available() else max(STREAM_BYTES, max_line_bytes())
    with open_binary(path, compression) as fh:
        data = fh.read(whole + 1)
    if len(data) > whole:
        head = data[:4096].lstrip()
        del data
        if head[:1] == b"[" and jsonarray.available():
            return jsonarray.stream_elements(path, compression, position=position)
        if head[:1] == b"{":
            return None  # JSON Lines under a .json name: read line by line
        raise ReadError(
            f"is larger than {whole:,} bytes and not a JSON array that can be streamed.",
            path=str(path),
            code="too-long",
            remedy="Store the records as a JSON array or as JSON Lines (install numpy to stream large arrays).",
        )
    value = load_json_array(path, compression, data)
    if value is None:
        return None
    if position is None:
        return iter(value)
    return _metered_list(value, size, position)


def _metered_list(value: list[Any], size: int, position: Position) -> Iterator[Any]:
    # The array was parsed at once: report the share of records done, in bytes.
    n = max(len(value), 1)
    for i, item in enumerate(value, 1):
        if not i % _EVERY or i == n:
            position(size * i // n)
        yield item


def _read_json(path: Path, compression: str | None = None, position: Position | None = None, bad: BadSink | None = None) -> Iterator[tuple[Row, Source]]:
    name = str(path)
    elements = json_elements(path, compression, position)
    if elements is None:
        yield from _read_jsonl(path, compression, position, bad)
        return
    for i, row in enumerate(elements, 1):
        if not isinstance(row, dict):
            message, remedy = f"record {i} is a {type(row).__name__}, not an object.", "Every element of the array must be a JSON object."
            if bad is None:
                raise ReadError(message, path=name, line=i, code="wrong-type", remedy=remedy)
            bad(row, Source(name, i, "record"), "wrong-type", message, remedy)
            continue
        yield row, Source(name, i, "record")


def read_rows(path: str | os.PathLike[str], *, json_cells: bool = True, position: Position | None = None, bad: BadSink | None = None, suffix: str | None = None) -> Iterator[tuple[Row, Source]]:
    """Rows of any supported file, each with its provenance.

    ``json_cells=False`` keeps CSV/xlsx cells as written instead of applying the
    JSON-cell rule (the spreadsheet column mapping wants answers verbatim).
    ``position`` (JSON and JSON Lines files only) is called every 1,024 rows and at the
    end with the bytes read so far (uncompressed; for a ``.json`` array, the
    file size times the share of records done), for a progress bar.
    ``bad`` (see :data:`BadSink`) receives each line that is not a JSON object (invalid
    JSON, a scalar, a line above the cap) instead of the read stopping at it.
    ``suffix`` (e.g. ``".jsonl"``) picks the reader instead of the file's own suffix
    (``--input-type``, see :mod:`.filetype`); a ``.gz``/``.zst`` suffix still decompresses.
    """
    from .safety import active_budget

    b = active_budget()
    rows = _read_rows(path, json_cells, position, bad, suffix)
    return rows if b is None else _counted(rows, str(path), b)


def _counted(rows: Iterator[tuple[Row, Source]], path: str, budget: Any) -> Iterator[tuple[Row, Source]]:
    n = 0
    for item in rows:
        n += 1
        yield item
    budget.note_read(path, n)


def _read_rows(path: str | os.PathLike[str], json_cells: bool, position: Position | None, bad: BadSink | None, as_suffix: str | None = None) -> Iterator[tuple[Row, Source]]:
    p = Path(path)
    if str(path) == "-":
        from .stdio import stdin_rows

        return stdin_rows(bad)
    if not p.exists():
        raise InputNotFoundError(f"file not found: {p}", path=str(p), code="not-found", remedy="Check the path (and the current folder).")
    from .compression import check_regular

    if not p.is_dir():
        check_regular(p)
    suffix, compression = suffix_of(p)
    suffix = as_suffix or suffix
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(p, compression, position, bad)
    if suffix == ".json":
        return _read_json(p, compression, position, bad)
    _load_optional_io()
    reader = _READERS.get(suffix)
    if reader is None:
        raise UsageError(f"cannot read '{p.name}': unknown file type '{suffix or '(none)'}'.", remedy=f"Supported: .json, .jsonl, {', '.join(sorted(_READERS))} (optionally .gz/.zst).")
    return reader(p, json_cells=json_cells)


def _load_optional_io() -> None:
    """Import the modules that register other suffixes (they import heavy packages lazily)."""
    import importlib

    for module in ("tables", "parquet", "hf", "text"):
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{__package__}.{module}")


def _write_jsonl(rows: Iterable[Row], fh: IO[bytes]) -> int:
    dumps, nl, line = orjson.dumps, orjson.OPT_APPEND_NEWLINE, dumps_line
    n = 0
    buf: list[bytes] = []
    for row in rows:
        try:
            buf.append(dumps(row, option=nl))
        except TypeError:  # an integer beyond 64 bits: written exactly
            buf.append(line(row))
        n += 1
        if len(buf) >= 4096:
            fh.write(b"".join(buf))
            buf.clear()
    fh.write(b"".join(buf))
    return n


def _write_json(rows: Iterable[Row], fh: IO[bytes]) -> int:
    """A JSON array, one record per line (streams; readable and diff-friendly)."""
    n = 0
    fh.write(b"[")
    for row in rows:
        fh.write(b"\n" if n == 0 else b",\n")
        fh.write(dumps_line(row)[:-1])
        n += 1
    fh.write(b"\n]\n")
    return n


def write_rows(rows: Iterable[Row], path: str | os.PathLike[str]) -> int:
    """Write rows to ``path`` by its suffix, atomically. Returns the number written.
    ``-`` writes JSON Lines to standard output (not atomic: see docs/reliability.md)."""
    if str(path) == "-":
        from .stdio import write_stdout

        return write_stdout(rows, _write_jsonl)
    suffix, compression = suffix_of(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        writer: RowWriter = _write_json if suffix == ".json" else _write_jsonl
    else:
        _load_optional_io()
        if suffix not in _WRITERS:
            raise UsageError(f"cannot write '{Path(path).name}': unknown file type '{suffix or '(none)'}'.", remedy=f"Supported: .json, .jsonl, {', '.join(sorted(_WRITERS))}.")
        writer = _WRITERS[suffix]
    try:
        return _write_atomic(rows, Path(path), writer, compression)
    except WriteError as err:
        if err.path is None:  # writers know the record, not the file
            err.path = str(path)
        raise


def _write_atomic(rows: Iterable[Row], path: Path, writer: RowWriter, compression: str | None) -> int:
    with atomic_path(path) as tmp:
        if compression == ".gz":
            with gzip.open(tmp, "wb") as fh:
                return writer(rows, fh)  # type: ignore[arg-type]
        if compression == ".zst":
            import zstandard

            with open(tmp, "wb") as raw, zstandard.ZstdCompressor().stream_writer(raw) as fh:
                return writer(rows, fh)  # type: ignore[arg-type]
        with open(tmp, "wb", buffering=1 << 20) as fh:
            return writer(rows, fh)
