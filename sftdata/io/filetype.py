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
from typing import Any

from ..errors import UsageError
from . import files
from .lines import BadSink

#: Names ``--input-type`` takes, besides every registered suffix without its dot.
BUILTIN_TYPES = ("json", "jsonl", "ndjson")


def input_types() -> list[str]:
    files._load_optional_io()
    return sorted({*BUILTIN_TYPES, *(s.lstrip(".") for s in files._READERS if s.startswith("."))})


def read_rows_as(
    path: str | os.PathLike[str], input_type: str | None, *, json_cells: bool = True, position: Any = None, bad: BadSink | None = None
) -> Iterator[tuple[dict[str, Any], Any]]:
    """Rows of ``path`` read as ``input_type`` (``None``: by its suffix, as ``read_rows``).

    Every check of :func:`~sftdata.io.files.read_rows` applies (missing file, devices,
    line cap, ``bad`` lines, the error budget); only the reader is chosen by name.
    """
    if input_type is None:
        return files.read_rows(path, json_cells=json_cells, position=position, bad=bad)
    kind = "." + input_type.lower().lstrip(".")
    if kind not in (".json", ".jsonl", ".ndjson"):
        if str(path) == "-":
            raise UsageError(f"standard input is read as JSON Lines or a JSON array, not as '{input_type}'.", remedy="Pass a file path for other input types.")
        files._load_optional_io()
        if kind not in files._READERS:
            raise UsageError(f"unknown input type '{input_type}'.", remedy=f"Input types: {', '.join(input_types())}.")
    return files.read_rows(path, json_cells=json_cells, position=position, bad=bad, suffix=kind)
