"""JSON Lines at the byte level: bounded line splitting, exact row parsing, row dumping.

* :func:`bounded_lines` splits a binary stream into lines without ever holding more than
  ``limit`` bytes of one line: a longer line (a gzip bomb, one 700 MB record) is read
  through and discarded, and stands in the sequence as a :class:`TooLong` marker, so line
  numbers stay right and memory stays bounded whatever the input.
* :func:`loads` is ``orjson.loads`` that keeps integers above 64 bits exact (orjson turns
  them into floats): a row with a top-level float and a run of 19+ digits is parsed again
  by the standard library, whose integers have no size limit.
* :func:`dumps_line` writes such integers back (orjson refuses them).

>>> import io
>>> [x if isinstance(x, bytes) else repr(x) for x in bounded_lines(io.BytesIO(b'{"a": 1}\\n' + b"x" * 50 + b'\\n{}'), 20)]
[b'{"a": 1}', 'TooLong(50)', b'{}']
>>> loads(b'{"id": 18446744073709551616}')
{'id': 18446744073709551616}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from ..errors import ReadError
from ..record import Source

Row = dict[str, Any]
#: ``position(n)``: ``n`` bytes of the file (uncompressed) have been read so far.
Position = Callable[[int], None]
_EVERY = 1024  # lines (or records) between two position reports

#: Default cap on one line (or one ``.json`` element): far above any real record, far
#: below what takes a machine down. ``--max-line-bytes`` changes it.
MAX_LINE_BYTES = 64 << 20
_READ = 1 << 20
_BIG_INT = re.compile(rb"\d{19}")


class TooLong:
    """A line longer than the cap; ``size`` is its length in bytes (newline excluded)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"TooLong({self.size})"


def too_long_message(size: int, limit: int) -> str:
    return f"line is {size:,} bytes long, above the {limit:,}-byte limit; it was not parsed."


TOO_LONG_REMEDY = "Raise the limit with --max-line-bytes N if the record is real, or remove the line (a corrupt or hostile file?)."


def bounded_lines(fh: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes | TooLong]:
    """Lines of ``fh`` without their ``\\n``; a line above ``limit`` bytes is a :class:`TooLong`."""
    carry = b""
    skipping = 0  # > 0: inside an over-long line, this many bytes seen so far
    read = fh.read
    while True:
        chunk = read(_READ)
        if not chunk:
            break
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                skipping += len(chunk)
                continue
            yield TooLong(skipping + cut)
            skipping, chunk = 0, chunk[cut + 1 :]
        parts = (carry + chunk if carry else chunk).split(b"\n")
        carry = parts.pop()
        if len(carry) > limit:
            skipping, carry = len(carry), b""
        if parts and max(map(len, parts)) > limit:
            yield from (TooLong(len(p)) if len(p) > limit else p for p in parts)
        else:
            yield from parts
    if skipping:
        yield TooLong(skipping)
    elif carry:
        yield carry


def _exact(line: bytes) -> Any:
    def constant(name: str) -> Any:
        raise orjson.JSONDecodeError(f"{name} is not valid JSON", line.decode("utf-8", "replace"), 0)

    return json.loads(line, parse_constant=constant)


def loads(line: bytes) -> Any:
    """``orjson.loads``, with integers beyond 64 bits kept exact (see the module doc)."""
    value = orjson.loads(line)
    if type(value) is dict and float in map(type, value.values()) and _BIG_INT.search(line):
        return _exact(line)
    return value


def dumps_line(row: Any) -> bytes:
    """One JSONL line; integers beyond 64 bits (which orjson refuses) written exactly."""
    try:
        return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def dumps(row: Any) -> bytes:
    """:func:`dumps_line` without the newline."""
    return dumps_line(row)[:-1]


def _metered(lines: Iterable[Any], position: Position) -> Iterator[Any]:
    done = 0
    for i, line in enumerate(lines, 1):
        done += (len(line) if type(line) is bytes else line.size) + 1
        if not i % _EVERY:
            position(done)
        yield line
    position(done)


_LIMIT = {"line": int(os.environ.get("SFTDATA_MAX_LINE_BYTES") or MAX_LINE_BYTES)}


def max_line_bytes() -> int:
    """The cap on one line (or ``.json`` element), in bytes: ``--max-line-bytes``, the
    ``SFTDATA_MAX_LINE_BYTES`` environment variable (which worker processes inherit), or
    64 MiB."""
    return _LIMIT["line"]


def set_max_line_bytes(limit: int) -> None:
    """Set the cap for this process and the worker processes it starts."""
    _LIMIT["line"] = limit
    os.environ["SFTDATA_MAX_LINE_BYTES"] = str(limit)


#: ``bad(text, source, code, message, remedy)``: an unreadable line, set aside instead of
#: stopping the read (``--rejects``). ``text`` is the line (``None`` when too long).
BadSink = Callable[[Any, Source, str, str, str], None]


_JSON_REMEDY = "Fix or delete that line; `sftdata validate --rejects FILE` sets every unreadable line aside."
_OBJECT_REMEDY = 'Wrap the value in an object, e.g. {"text": ...}.'


class BadLine(Exception):
    """An unreadable line of a JSONL byte range (``line`` counts from 1 in the range;
    the caller, which knows where the range starts, turns it into a :class:`ReadError`
    or a reject). ``text`` is the line as text (``None`` when too long)."""

    def __init__(self, line: int, code: str, message: str, remedy: str, text: str | None = None) -> None:
        super().__init__(message)
        self.line, self.code, self.message, self.remedy, self.text = line, code, message, remedy, text

    def __reduce__(self) -> tuple[Any, ...]:  # picklable: worker processes send it back
        return (BadLine, (self.line, self.code, self.message, self.remedy, self.text))


#: A too-long line inside a byte range read by :func:`read_span_bounded` (never valid JSON).
TOO_LONG_MARK = b"\x00sftdata-too-long "


def _bad_line(line: bytes, exc: Exception | None, limit: int) -> tuple[str, str, str]:
    """(code, message, remedy) of a line that is not a JSON object."""
    if line.startswith(TOO_LONG_MARK):
        return "too-long", too_long_message(int(line[len(TOO_LONG_MARK) :]), limit), TOO_LONG_REMEDY
    if exc is None:
        return "wrong-type", f"each line must be a JSON object, got {type(_safe_loads(line)).__name__}.", _OBJECT_REMEDY
    return "invalid-json", f"line is not valid JSON ({exc}).", _JSON_REMEDY


def _safe_loads(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def range_rows(data: bytes, tolerant: bool = False) -> Iterator[tuple[int, Row | BadLine]]:
    """``(line, row)`` for each non-blank line of a JSONL byte range, as the parallel
    workers of convert, stats and dedup read their ranges; raises :class:`BadLine` at the
    first line that is not a JSON object, with the messages :func:`read_rows` gives
    (``tolerant=True``: yields the :class:`BadLine` in the row's place and goes on).

    >>> list(range_rows(b'{"a": 1}\\n\\n{"b": 2}\\n'))
    [(1, {'a': 1}), (3, {'b': 2})]
    """
    limit = max_line_bytes()
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = loads(line)
            if type(row) is dict:
                yield lineno, row
                continue
            exc = None
        except orjson.JSONDecodeError as err:
            exc = err
        code, message, remedy = _bad_line(line, exc, limit)
        bad = BadLine(lineno, code, message, remedy, None if code == "too-long" else line.decode("utf-8", "replace"))
        if not tolerant:
            raise bad
        yield lineno, bad


def jsonl_rows(fh: IO[bytes], name: str, position: Position | None = None, bad: BadSink | None = None) -> Iterator[tuple[Row, Source]]:
    """Rows of a JSON Lines stream; lines above :func:`max_line_bytes` are never held."""
    limit = max_line_bytes()
    lines: Iterable[bytes | TooLong] = bounded_lines(fh, limit)
    # the meter is a generator layer: only when someone watches (a terminal)
    for lineno, line in enumerate(lines if position is None else _metered(lines, position), 1):
        if type(line) is bytes:
            if not line.strip():
                continue
            try:
                row = loads(line)
                if type(row) is dict:
                    yield row, Source(name, lineno, "line")
                    continue
                exc = None
            except orjson.JSONDecodeError as err:
                exc = err
            code, message, remedy = _bad_line(line, exc, limit)
            text: Any = line.decode("utf-8", "replace")
        else:
            code, message, remedy = "too-long", too_long_message(line.size, limit), TOO_LONG_REMEDY  # type: ignore[union-attr]
            text = None
        if bad is None:
            raise ReadError(message, path=name, line=lineno, code=code, remedy=remedy)
        bad(text, Source(name, lineno, "line"), code, message, remedy)


