"""File suffixes and transparent decompression: the lowest floor of ``io``, shared by
the row readers (:mod:`.files`) and the streaming ``.json`` parser (:mod:`.jsonarray`)."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO

_COMPRESSIONS = (".gz", ".zst")


def suffix_of(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``data.jsonl.gz`` -> ``(".jsonl", ".gz")``; a folder -> ``("<dir>", None)``."""
    p = Path(path)
    if p.is_dir():
        return "<dir>", None
    suffixes = [s.lower() for s in p.suffixes]
    compression = suffixes[-1] if suffixes and suffixes[-1] in _COMPRESSIONS else None
    if compression:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), compression


def open_binary(path: Path, compression: str | None) -> IO[bytes]:
    """Open for reading, decompressing ``.gz``/``.zst`` transparently, with a 1 MiB buffer."""
    if compression == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == ".zst":
        try:
            import zstandard
        except ImportError:
            from ..errors import missing

            raise missing("zstandard", "zst", "Reading .zst files") from None
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")), buffer_size=1 << 20)  # type: ignore[arg-type]
    return open(path, "rb", buffering=1 << 20)
