"""A tolerant reader: a bad line is an issue with its location, never the end of validation.

:func:`read_tolerant` yields :class:`RawRow` items: a parsed row, or ``row=None`` with the
line's text and the issue that made it unusable (``invalid-json``, ``wrong-type``).
JSONL streams line by line; a ``.json`` array is parsed whole (a broken array cannot be
split into records, so it is one file-level issue); other file types go through
:func:`sftdata.io.read_rows`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import Issue
from ..io import read_rows, suffix_of
from ..io.files import json_elements, open_binary
from ..io.lines import TOO_LONG_MARK, TooLong, bounded_lines, loads, max_line_bytes, too_long_message
from ..record import Source


@dataclass(frozen=True, slots=True)
class RawRow:
    """One unit of input: ``row`` parsed, or ``None`` with ``issue`` saying why not.

    ``line`` holds the raw bytes of a JSONL line (duplicate detection hashes them)."""

    row: dict[str, Any] | None
    source: Source
    line: bytes | None = None
    issue: Issue | None = None

    @property
    def verbatim(self) -> Any:
        """What a rejects file should show: the row, or the undecodable line as text."""
        if self.row is not None:
            return self.row
        return self.line.decode("utf-8", "replace").rstrip("\r\n") if self.line is not None else None


def _type_issue(value: Any) -> Issue:
    return Issue("wrong-type", f"a record must be a JSON object, got {type(value).__name__}")


def parse_line(line: bytes, source: Source) -> RawRow:
    """One JSONL line: a row, or the issue that makes it unusable."""
    if len(line) > max_line_bytes():
        return RawRow(None, source, None, Issue("too-long", too_long_message(len(line), max_line_bytes())))
    try:
        row = loads(line)
    except orjson.JSONDecodeError as exc:
        if line.startswith(TOO_LONG_MARK):
            size = int(line[len(TOO_LONG_MARK) :])
            return RawRow(None, source, None, Issue("too-long", too_long_message(size, max_line_bytes())))
        return RawRow(None, source, line, Issue("invalid-json", f"not valid JSON ({exc})"))
    if type(row) is not dict:
        return RawRow(None, source, line, _type_issue(row))
    return RawRow(row, source, line)


def read_jsonl(path: Path, compression: str | None = None) -> Iterator[RawRow]:
    name = str(path)
    limit = max_line_bytes()
    with open_binary(path, compression) as fh:
        for lineno, line in enumerate(bounded_lines(fh, limit), 1):
            if type(line) is TooLong:
                yield RawRow(None, Source(name, lineno, "line"), None, Issue("too-long", too_long_message(line.size, limit)))
                continue
            if line.isspace() or not line:  # type: ignore[union-attr]
                continue
            yield parse_line(line, Source(name, lineno, "line"))  # type: ignore[arg-type]


def read_json(path: Path, compression: str | None = None) -> Iterator[RawRow]:
    name = str(path)
    elements = json_elements(path, compression)
    if elements is None:  # JSON Lines in a .json file
        yield from read_jsonl(path, compression)
        return
    for i, row in enumerate(elements, 1):
        src = Source(name, i, "record")
        yield RawRow(row, src) if type(row) is dict else RawRow(None, src, orjson.dumps(row), _type_issue(row))


def read_tolerant(path: str | os.PathLike[str]) -> Iterator[RawRow]:
    """Every record of a file, readable or not, in order."""
    p = Path(path)
    suffix, compression = suffix_of(p)
    if p.is_file() and suffix in (".jsonl", ".ndjson"):
        return read_jsonl(p, compression)
    if p.is_file() and suffix == ".json":
        return read_json(p, compression)
    return (RawRow(row, src) for row, src in read_rows(p))


def _key_ends(data: bytes) -> int:
    # '":' ends every key; inside strings a quote is always escaped, so '\\":' there
    return data.count(b'":') - data.count(b'\\":')


def duplicate_keys(line: bytes, row: dict[str, Any]) -> list[Issue]:
    """``duplicate-key`` issues of one JSONL line (orjson, like every JSON reader here,
    keeps the last value of a repeated key silently).

    A cheap count first: the key ends in the line against those in the parsed row
    written back; only a line where they differ is parsed again, pair by pair, to name
    the repeated keys.

    >>> duplicate_keys(b'{"a": 1, "b": [{"c": 1, "c": 2}], "a": 3}', {"a": 3, "b": [{"c": 2}]})[0].field
    'a'
    """
    if _key_ends(line) == _key_ends(orjson.dumps(row)) and b'" :' not in line:
        return []
    found: list[tuple[str, str]] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for key, item in value.pairs:
                field = f"{where}.{key}" if where else key
                if key in seen:
                    found.append((field, key))
                seen.add(key)
                walk(item, field)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    try:
        walk(json.loads(line, object_pairs_hook=_Pairs), "")
    except ValueError:
        return []
    return [Issue("duplicate-key", f"key '{key}' appears more than once in one object; readers keep the last value", field, "warning") for field, key in dict(found).items()]


class _Pairs:
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs
