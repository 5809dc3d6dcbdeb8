"""Shared plumbing of dedup, filter and split: numbered decoded rows, progress, output.

Every cleaning step reads its input more than once when it must (a global decision such
as "is this record's near-duplicate earlier in the file?"), so rows are addressed by
their ordinal ``idx`` in :func:`sftdata.io.read_rows` order, which is stable between passes.
Kept rows are written verbatim: the output is in the input's format and nothing the
step did not decide to drop can be lost by a round trip through another format.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Issue, RecordError
from ..formats import Format, get_format
from ..io import atomic_path, read_rows, remote, suffix_of, write_rows
from ..io.shards import ShardWriter, is_folder
from ..record import Record, Source

Row = dict[str, Any]
PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Item:
    """One input row: its ordinal, the raw row, where it came from, and its record or
    the error that kept it from decoding."""

    idx: int
    row: Row
    source: Source
    record: Record | None
    error: RecordError | None


def resolve_format(path: PathLike, format: str | Format, majority: bool = False) -> Format:
    """``format`` as a :class:`Format`; ``"auto"`` detects it (by the majority of rows
    when ``majority``: odd rows are then rejected, see :func:`sftdata.detect.detect_rows`)."""
    if isinstance(format, Format):
        return format
    if format == "auto":
        from ..detect import detect

        return get_format(detect(path, majority=majority).format)
    return get_format(format)


def unreadable(source: Source, code: str, message: str, remedy: str) -> RecordError:
    """The error of a line that is not a JSON object, as a row that does not decode."""
    return RecordError([Issue(code, message)], path=source.path, line=source.line, remedy=remedy)


def tolerant_rows(path: PathLike) -> Iterator[tuple[Any, Source, RecordError | None]]:
    """Every non-blank row of ``path`` in order, unreadable lines included (as their
    text, with the error that makes them unusable), so ordinals match :func:`lines`."""
    pending: list[tuple[Any, Source, RecordError]] = []

    def bad(text: Any, source: Source, code: str, message: str, remedy: str) -> None:
        pending.append((text, source, unreadable(source, code, message, remedy)))

    for row, source in read_rows(path, bad=bad):
        if pending:
            yield from pending
            pending.clear()
        yield row, source, None
    yield from pending


def items(path: PathLike, fmt: Format, wanted: "set[int] | None" = None) -> Iterator[Item]:
    """Decoded rows of ``path``; with ``wanted``, rows outside it are not decoded. A line
    that is not a JSON object is an item with its text as ``row`` and its error."""
    decode = fmt.decode
    for idx, (row, source, error) in enumerate(tolerant_rows(path)):
        if error is not None:
            yield Item(idx, row, source, None, error)
            continue
        if wanted is not None and idx not in wanted:
            yield Item(idx, row, source, None, None)
            continue
        try:
            yield Item(idx, row, source, decode(row, source), None)
        except RecordError as err:
            yield Item(idx, row, source, None, err)


def require_sink(error: RecordError, has_sink: bool) -> None:
    """Without a rejects file an undecodable row stops the step (as in ``convert``)."""
    if not has_sink:
        raise error


def counted(rows: Iterable[Row], counter: list[int]) -> Iterator[Row]:
    """Pass rows through, counting them in ``counter[0]``."""
    for row in rows:
        counter[0] += 1
        yield row


def _plain_jsonl(path: PathLike) -> bool:
    return suffix_of(path) in ((".jsonl", None), (".ndjson", None))


@dataclass(frozen=True, slots=True)
class Line:
    """A row addressed by ordinal, with its raw bytes when the input is plain JSONL."""

    idx: int
    source: Source
    raw: bytes | None
    _row: Row | None

    @property
    def row(self) -> Any:
        """The parsed row (the line's text when it is not JSON; ``None`` when too long)."""
        if self._row is not None or self.raw is None:
            return self._row
        from ..io.lines import loads

        try:
            return loads(self.raw)
        except ValueError:
            return self.raw.decode("utf-8", "replace").rstrip("\n")


def lines(path: PathLike) -> Iterator[Line]:
    """Rows without decoding; for plain JSONL without even parsing (same ordinals and
    blank-line skipping as :func:`tolerant_rows`; unreadable lines are included, as the
    earlier pass recorded them as failed). Lines above the line cap are never held."""
    if not _plain_jsonl(path):
        for idx, (row, source, _) in enumerate(tolerant_rows(path)):
            yield Line(idx, source, None, row)
        return
    from ..io.compression import open_binary
    from ..io.lines import TooLong, bounded_lines, max_line_bytes

    name = str(path)
    idx = 0
    with remote.open_jsonl(name, None) if remote.is_uri(name) else open_binary(Path(path), None) as fh:
        for lineno, raw in enumerate(bounded_lines(fh, max_line_bytes()), 1):
            if type(raw) is TooLong:
                yield Line(idx, Source(name, lineno, "line"), None, None)
            elif not raw.strip():  # type: ignore[union-attr]
                continue
            else:
                yield Line(idx, Source(name, lineno, "line"), raw + b"\n", None)  # type: ignore[operator]
            idx += 1


def verbatim(line: Line) -> Any:
    """The row for a rejects file: its raw JSON bytes as they are (an ``orjson.Fragment``,
    embedded without parsing and re-serialising) when the input is plain JSONL, else the
    parsed row. Pass 1 has already parsed every line, so the bytes are one JSON object."""
    if line.raw is not None:
        raw = line.raw.strip()
        if raw[:1] == b"{":
            import orjson

            return orjson.Fragment(raw)
    return line.row


def write_kept(kept: Iterable[Line], output: PathLike, summary: Callable[[int], dict[str, Any]] | None = None) -> int:
    """Write rows atomically: raw bytes copied when both sides are plain JSONL (no
    parse, no re-serialisation), otherwise rows through the suffix's writer. A folder
    (``out/``) gets shards and a manifest holding ``summary(rows written)``."""
    if is_folder(output):
        return _write_shards(kept, output, summary)
    if not _plain_jsonl(output):
        return write_rows((line.row for line in kept), output)
    n = 0
    with atomic_path(output) as tmp, open(tmp, "wb", buffering=1 << 20) as fh:
        for line in kept:
            fh.write(line.raw if line.raw is not None else orjson_line(line.row))
            n += 1
    return n


def _write_shards(kept: Iterable[Line], output: PathLike, summary: Callable[[int], dict[str, Any]] | None) -> int:
    n = 0
    with ShardWriter(output) as out:
        block: list[bytes] = []
        for line in kept:
            block.append(line.raw if line.raw is not None else orjson_line(line.row))
            n += 1
            if len(block) >= 4096:
                out.write(b"".join(block))
                block.clear()
        out.write(b"".join(block))
        out.summary = summary(n) if summary is not None else {"kept": n}
    return n


def orjson_line(row: Row) -> bytes:
    from ..io.lines import dumps_line

    return dumps_line(row)
