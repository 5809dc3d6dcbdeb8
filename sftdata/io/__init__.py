"""Readers and writers by file suffix.

``read_rows(path)`` yields ``(row, Source)`` pairs; ``write_rows(rows, path)`` writes
atomically (a temporary file in the same folder, renamed over the target at the end).
Each file type lives in its own module and registers itself here.
"""

from __future__ import annotations

from .files import read_rows, register_reader, register_writer, suffix_of, write_rows
from .safety import atomic_path

__all__ = ["atomic_path", "read_rows", "register_reader", "register_writer", "suffix_of", "write_rows"]
