"""Plain ``.txt`` pretraining files: one record ``{"text": line}`` per line.

LLaMA-Factory reads ``.txt`` data files (``wiki_demo.txt``) with Hugging Face's ``text``
loader, which makes each line a row with a ``text`` column (its ``dataset_info.json``
entry maps that column to ``prompt``: pretraining text). This reader gives the same rows:
lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (universal newlines, as that loader reads
them; other Unicode line breaks stay inside the text), without their line breaks. An empty line is not a record
(Hugging Face's loader keeps it as an empty row, which trains nothing but an end-of-text
token). Provenance is the physical line (``\\n``-separated) of the file.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "wiki.txt"
>>> _ = p.write_bytes(b"First paragraph.\\n\\nSecond one.\\r\\n")
>>> [(row, src.line) for row, src in read_text(p)]
[({'text': 'First paragraph.'}, 1), ({'text': 'Second one.'}, 3)]
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ReadError
from ..record import Source
from .compression import open_binary, suffix_of
from .files import register_reader
from .lines import TOO_LONG_REMEDY, TooLong, bounded_lines, max_line_bytes, too_long_message


def read_text(path: Path, json_cells: bool = True) -> Iterator[tuple[dict[str, Any], Source]]:
    name = str(path)
    _, compression = suffix_of(path)
    limit = max_line_bytes()
    with open_binary(path, compression) as fh:
        # bounded: a line above --max-line-bytes is never held (as for JSON Lines)
        for lineno, raw in enumerate(bounded_lines(fh, limit), 1):
            if isinstance(raw, TooLong):
                raise ReadError(too_long_message(raw.size, limit), path=name, line=lineno, code="too-long", remedy=TOO_LONG_REMEDY)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReadError(
                    f"line is not valid UTF-8 (byte {exc.start + 1}).",
                    path=name,
                    line=lineno,
                    code="invalid-text",
                    remedy="Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).",
                ) from None
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a UTF-8 byte-order mark is not text
            # universal newlines, as the ``text`` loader reads: \n, \r\n and a lone \r
            for piece in line.split("\r"):
                if piece:
                    yield {"text": piece}, Source(name, lineno, "line")


register_reader(".txt", read_text)
