"""Read a file as a named file type, whatever its suffix (``--input-type jsonl``).

:func:`~sftdata.io.files.read_rows` picks a reader by suffix; a JSON Lines file saved as
``data.txt`` or ``export.log`` needs the type named instead. The compression suffix
(``.gz``/``.zst``) still applies.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "export.log"
>>> _ = p.write_text('{"text": "hi"}\\n')
>>> [row for row, _ in read_rows_as(p, "jsonl")]
[{'text': 'hi'}]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import files
from .compression import suffix_of

#: Names ``--input-type`` takes, besides every registered suffix without its dot.
BUILTIN_TYPES = ("json", "jsonl", "ndjson")


def input_types() -> list[str]:
    files._load_optional_io()
    return sorted({*BUILTIN_TYPES, *(s.lstrip(".") for s in files._READERS if s.startswith("."))})


def read_rows_as(path: str | os.PathLike[str], input_type: str | None, *, json_cells: bool = True, position: Any = None) -> Iterator[tuple[dict[str, Any], Any]]:
    """Rows of ``path`` read as ``input_type`` (``None``: by its suffix, as ``read_rows``)."""
    if input_type is None:
        return files.read_rows(path, json_cells=json_cells, position=position)
    p = Path(path)
    if not p.exists():
        raise UsageError(f"file not found: {p}", remedy="Check the path.")
    kind = "." + input_type.lower().lstrip(".")
    _, compression = suffix_of(p)
    if kind in (".jsonl", ".ndjson"):
        return files._read_jsonl(p, compression, position)
    if kind == ".json":
        return files._read_json(p, compression, position)
    files._load_optional_io()
    reader = files._READERS.get(kind)
    if reader is None:
        raise UsageError(f"unknown input type '{input_type}'.", remedy=f"Input types: {', '.join(input_types())}.")
    return reader(p, json_cells=json_cells)
