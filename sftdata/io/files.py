"""Suffix registry, JSON/JSONL reading and writing, atomic output."""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import ReadError, UsageError, WriteError
from ..record import Source
from .compression import open_binary, suffix_of

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


#: ``position(n)``: ``n`` bytes of the file (uncompressed) have been read so far.
Position = Callable[[int], None]
_EVERY = 1024  # lines (or records) between two position reports


def _metered(lines: Iterable[bytes], position: Position) -> Iterator[bytes]:
    done = 0
    for i, line in enumerate(lines, 1):
        done += len(line)
        if not i % _EVERY:
            position(done)
        yield line
    position(done)


_JSON_REMEDY = "Fix or delete that line; `sftdata validate --rejects FILE` sets every unreadable line aside."
_OBJECT_REMEDY = 'Wrap the value in an object, e.g. {"text": ...}.'


class BadLine(Exception):
    """The first unreadable line of a JSONL byte range (``line`` counts from 1 in the range;
    the caller, which knows where the range starts, turns it into a :class:`ReadError`)."""

    def __init__(self, line: int, code: str, message: str, remedy: str) -> None:
        super().__init__(message)
        self.line, self.code, self.message, self.remedy = line, code, message, remedy

    def __reduce__(self) -> tuple[Any, ...]:  # picklable: worker processes send it back
        return (BadLine, (self.line, self.code, self.message, self.remedy))


def range_rows(data: bytes) -> Iterator[tuple[int, Row]]:
    """``(line, row)`` for each non-blank line of a JSONL byte range, as the parallel
    workers of convert, stats and dedup read their ranges; raises :class:`BadLine` at the
    first line that is not a JSON object, with the messages :func:`read_rows` gives.

    >>> list(range_rows(b'{"a": 1}\\n\\n{"b": 2}\\n'))
    [(1, {'a': 1}), (3, {'b': 2})]
    """
    loads = orjson.loads
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadLine(lineno, "invalid-json", f"line is not valid JSON ({exc}).", _JSON_REMEDY) from None
        if not isinstance(row, dict):
            raise BadLine(lineno, "wrong-type", f"each line must be a JSON object, got {type(row).__name__}.", _OBJECT_REMEDY)
        yield lineno, row


SPAN_BYTES = 4 << 20


def spans(path: Path, chunk: int | None = None) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``chunk`` bytes, each ending just after a newline (or at EOF)."""
    chunk = chunk or SPAN_BYTES
    size = path.stat().st_size
    with open(path, "rb") as fh:
        start = 0
        while start < size:
            fh.seek(min(start + chunk, size))
            fh.readline()
            end = min(fh.tell(), size)
            yield start, end
            start = end


def _read_jsonl(path: Path, compression: str | None = None, position: Position | None = None, opener: Callable[..., IO[bytes]] = open_binary) -> Iterator[tuple[Row, Source]]:
    name = str(path)
    loads = orjson.loads
    with opener(path, compression) as fh:
        # the meter is a generator layer: only when someone watches (a terminal)
        for lineno, line in enumerate(fh if position is None else _metered(fh, position), 1):
            if not line.strip():
                continue
            try:
                row = loads(line)
            except orjson.JSONDecodeError as exc:
                raise ReadError(f"line is not valid JSON ({exc}).", path=name, line=lineno, code="invalid-json", remedy=_JSON_REMEDY) from None
            if not isinstance(row, dict):
                raise ReadError(f"each line must be a JSON object, got {type(row).__name__}.", path=name, line=lineno, code="wrong-type", remedy=_OBJECT_REMEDY)
            yield row, Source(name, lineno, "line")


def load_json_array(path: Path, compression: str | None = None) -> list[Any] | None:
    """The elements of a ``.json`` dataset (an array, or one object as a one-element list).

    Returns ``None`` when the file is really JSON Lines (common under a ``.json`` name),
    so the caller reads it line by line instead; raises :class:`ReadError` with the line
    of a syntax error otherwise.
    """
    name = str(path)
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


#: ``.json`` arrays at least this large (uncompressed; a quarter of it compressed) are
#: streamed a chunk at a time instead of parsed whole (see :mod:`.jsonarray`).
STREAM_BYTES = 256 << 20


def json_elements(path: Path, compression: str | None = None, position: Position | None = None) -> Iterator[Any] | None:
    """The elements of a ``.json`` dataset, in order, or ``None`` when it is really JSON
    Lines. Small files are parsed whole (fastest); large arrays are streamed when numpy is
    installed, so memory stays bounded whatever the file size. Values and errors are the
    same either way."""
    from . import jsonarray

    size = path.stat().st_size
    if size * (4 if compression else 1) >= STREAM_BYTES and jsonarray.available() and jsonarray.starts_array(path, open_binary, compression):
        return jsonarray.stream_elements(path, compression, position=position)
    value = load_json_array(path, compression)
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


def _read_json(path: Path, compression: str | None = None, position: Position | None = None) -> Iterator[tuple[Row, Source]]:
    name = str(path)
    elements = json_elements(path, compression, position)
    if elements is None:
        yield from _read_jsonl(path, compression, position)
        return
    for i, row in enumerate(elements, 1):
        if not isinstance(row, dict):
            raise ReadError(f"record {i} is a {type(row).__name__}, not an object.", path=name, line=i, code="wrong-type", remedy="Every element of the array must be a JSON object.")
        yield row, Source(name, i, "record")


def read_rows(path: str | os.PathLike[str], *, json_cells: bool = True, position: Position | None = None) -> Iterator[tuple[Row, Source]]:
    """Rows of any supported file, each with its provenance.

    ``json_cells=False`` keeps CSV/xlsx cells as written instead of applying the
    JSON-cell rule (the spreadsheet column mapping wants answers verbatim).
    ``position`` (JSON and JSON Lines files only) is called every 1,024 rows and at the
    end with the bytes read so far (uncompressed; for a ``.json`` array, the
    file size times the share of records done), for a progress bar.
    """
    p = Path(path)
    if not p.exists():
        raise UsageError(f"file not found: {p}", remedy="Check the path.")
    suffix, compression = suffix_of(p)
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(p, compression, position)
    if suffix == ".json":
        return _read_json(p, compression, position)
    _load_optional_io()
    reader = _READERS.get(suffix)
    if reader is None:
        raise UsageError(f"cannot read '{p.name}': unknown file type '{suffix or '(none)'}'.", remedy=f"Supported: .json, .jsonl, {', '.join(sorted(_READERS))} (optionally .gz/.zst).")
    return reader(p, json_cells=json_cells)


def _load_optional_io() -> None:
    """Import the modules that register other suffixes (they import heavy packages lazily)."""
    import importlib

    for module in ("tables", "parquet", "hf"):
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{__package__}.{module}")


def _write_jsonl(rows: Iterable[Row], fh: IO[bytes]) -> int:
    dumps = orjson.dumps
    n = 0
    buf: list[bytes] = []
    for row in rows:
        buf.append(dumps(row, option=orjson.OPT_APPEND_NEWLINE))
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
        fh.write(orjson.dumps(row))
        n += 1
    fh.write(b"\n]\n")
    return n


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    On any exception (Ctrl-C included) the temporary file is removed and ``path`` is
    left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_rows(rows: Iterable[Row], path: str | os.PathLike[str]) -> int:
    """Write rows to ``path`` by its suffix, atomically. Returns the number written."""
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
