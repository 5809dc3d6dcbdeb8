"""A tolerant reader: a bad line is an issue with its location, never the end of validation.

:func:`read_tolerant` yields :class:`RawRow` items: a parsed row, or ``row=None`` with the
line's text and the issue that made it unusable (``invalid-json``, ``wrong-type``).
JSONL streams line by line; a ``.json`` array is parsed whole (a broken array cannot be
split into records, so it is one file-level issue); other file types go through
:func:`sftdata.io.read_rows`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import Issue
from ..io import read_rows, suffix_of
from ..io.files import json_elements, open_binary
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
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return RawRow(None, source, line, Issue("invalid-json", f"not valid JSON ({exc})"))
    if type(row) is not dict:
        return RawRow(None, source, line, _type_issue(row))
    return RawRow(row, source, line)


def read_jsonl(path: Path, compression: str | None = None) -> Iterator[RawRow]:
    name = str(path)
    with open_binary(path, compression) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.isspace() or not line:
                continue
            yield parse_line(line, Source(name, lineno, "line"))


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
