"""Readers and writers by file suffix, local or remote.

``read_rows(path)`` yields ``(row, Source)`` pairs; ``write_rows(rows, path)`` writes
atomically (a temporary file in the same folder, renamed over the target at the end).
Each file type lives in its own module and registers itself here. A ``path`` may also be
an fsspec URI (``s3://``, ``gs://``, ``hf://``...): see :mod:`.remote`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from ..record import Source
from . import files, remote
from .files import Position, Row, register_reader, register_writer, suffix_of
from .lines import BadSink
from .safety import atomic_path


def read_rows(path: str | os.PathLike[str], *, json_cells: bool = True, position: Position | None = None, bad: BadSink | None = None) -> Iterator[tuple[Row, Source]]:
    """Rows of any supported file or URI, each with its provenance (see
    :func:`sftdata.io.files.read_rows`); JSON Lines at a URI are streamed."""
    if remote.is_uri(path):
        from .safety import active_budget

        b = active_budget()
        rows = remote.read_rows(str(path), json_cells=json_cells, position=position, bad=bad)
        return rows if b is None else files._counted(rows, str(path), b)
    return files.read_rows(path, json_cells=json_cells, position=position, bad=bad)


def write_rows(rows: Iterable[Row], path: str | os.PathLike[str]) -> int:
    """Write rows to ``path`` (a file or a URI) by its suffix, atomically; returns the number written."""
    if remote.is_uri(path):
        return remote.write_rows(rows, str(path))
    return files.write_rows(rows, path)


__all__ = ["atomic_path", "read_rows", "register_reader", "register_writer", "suffix_of", "write_rows"]
