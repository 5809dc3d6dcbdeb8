"""``-`` as a path: rows from standard input, rows to standard output.

Standard input is read as JSON Lines, or as one JSON array when its first non-blank byte
is ``[``; line numbers name ``<stdin>``. Standard output gets JSON Lines as they are
produced: it cannot be written atomically (a reader downstream sees rows before the run
ends), so a failure mid-stream leaves the rows already written and the command exits
non-zero (see docs/reliability.md). ``| head`` closing the pipe early is not a failure.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from ..errors import ReadError
from ..record import Source

STDIN_NAME = "<stdin>"
#: Where ``-o -`` rows go when the CLI has pointed ``sys.stdout`` at stderr for its messages.
ROWS_OUT: Any = None


def _stdin() -> IO[bytes]:
    return sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(sys.stdin.read().encode())


def stdin_rows(bad: Any = None) -> Iterator[tuple[dict[str, Any], Source]]:
    """Rows of standard input (JSON Lines, or a JSON array)."""
    from .compression import BOM
    from .lines import jsonl_rows, max_line_bytes

    fh = _stdin()
    limit = max_line_bytes()
    head = fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""
    if head.startswith(BOM):
        fh.read(3)
        head = head[3:]
    if head.lstrip()[:1] == b"[":
        data = fh.read(limit + 1)
        if len(data) > limit:
            raise ReadError(f"the JSON array on standard input is above the {limit:,}-byte limit.", path=STDIN_NAME, code="too-long", remedy="Pipe JSON Lines instead, or raise --max-line-bytes.")
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ReadError(f"is not valid JSON ({exc.msg}).", path=STDIN_NAME, line=data[: exc.pos].count(b"\n") + 1, code="invalid-json", remedy="Check the input around that line.") from None
        for i, row in enumerate(value, 1):
            if type(row) is dict:
                yield row, Source(STDIN_NAME, i, "record")
            elif bad is None:
                raise ReadError(f"record {i} is a {type(row).__name__}, not an object.", path=STDIN_NAME, line=i, code="wrong-type", remedy="Every element of the array must be a JSON object.")
            else:
                bad(row, Source(STDIN_NAME, i, "record"), "wrong-type", f"record {i} is a {type(row).__name__}, not an object.", "Every element of the array must be a JSON object.")
        return
    yield from jsonl_rows(fh, STDIN_NAME, None, bad)


def write_stdout(rows: Iterable[dict[str, Any]], writer: Callable[[Iterable[dict[str, Any]], IO[bytes]], int]) -> int:
    """Write rows as JSON Lines to standard output, flushing at the end."""
    stream = ROWS_OUT if ROWS_OUT is not None else sys.stdout
    out = getattr(stream, "buffer", None)
    if out is None:  # a text-only stream (tests): collect, then write text
        buf = io.BytesIO()
        n = writer(rows, buf)
        stream.write(buf.getvalue().decode())
        return n
    n = writer(rows, out)
    out.flush()
    return n
