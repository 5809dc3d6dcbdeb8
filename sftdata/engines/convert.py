"""Order-preserving multi-process conversion of large JSONL files.

Decoding into canonical records is CPU-bound Python; on a big ``.jsonl`` input the file
is cut into byte ranges at line boundaries, worker processes decode and encode one range
each (reading it themselves, so no input crosses a pipe) and the parent writes their
output in file order. Everything the single-process path guarantees holds here too:

* provenance is exact: workers number lines within their range and the parent adds the
  range's first line number to every reject and error;
* the first error in *file order* stops the conversion (ranges are consumed in order);
* rejects, loss counts and ``read == written + rejected`` are the same as in one process.

It is used by :func:`sftdata.convert` for uncompressed ``.jsonl`` to ``.jsonl`` when the
input is at least :data:`MIN_BYTES` and more than one CPU is available.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ContextManager

import orjson

from ..errors import Issue, LossError, ReadError, RecordError, SftdataError
from ..formats import Format
from ..formats.rewrite import Steps
from ..io.files import BadLine, range_rows
from ..record import Source
from .base import LOCAL, Engine
from .local import cpu_count, line_count, read_span
from .run import ordered_ranges

MIN_BYTES = 32 << 20  # below this, starting processes costs more than it saves
CHUNK_BYTES = 4 << 20


@dataclass
class ChunkResult:
    """What one worker sends back for one byte range (all line numbers are local, 1-based)."""

    output: bytes = b""
    size: int = 0  #: bytes of input in the range (for the progress bar)
    lines: int = 0
    written: int = 0
    rejects: list[tuple[int, Any, tuple[Issue, ...]]] = field(default_factory=list)
    losses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    columns: set[str] = field(default_factory=set)
    #: (error class name, message, local line, code, field, remedy) of a stopping error
    error: tuple[str, str, int, str, str | None, str | None] | None = None


_STATE: dict[str, Any] = {}


def _init(path: str, source_fmt: Format, target: Format, strict: bool, keep_rejects: bool, steps: Steps) -> None:
    from ..formats.fastpath import fast_path

    _STATE.update(path=path, source=source_fmt, target=target, strict=strict, keep=keep_rejects, fast=fast_path(source_fmt, target), steps=steps)


def _convert_range(span: tuple[int, int]) -> ChunkResult:
    start, end = span
    path: str = _STATE["path"]
    decode = _STATE["source"].decode
    encode = _STATE["target"].encode
    strict: bool = _STATE["strict"]
    keep: bool = _STATE["keep"]
    fast = _STATE["fast"]
    steps: Steps = _STATE["steps"]
    wire = steps.wire if steps.tool_ids else None
    step = steps if steps else None
    data = read_span(path, span)
    result = ChunkResult(size=end - start, lines=line_count(data))
    dumps, nl = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    out: list[bytes] = []
    losses, kinds, columns = result.losses, result.kinds, result.columns
    try:
        for lineno, row in range_rows(data, tolerant=keep):
            if type(row) is BadLine:
                result.rejects.append((lineno, row.text, (Issue(row.code, row.message),)))
                continue
            if fast is not None and (encoded := fast(row)) is not None:
                if wire is not None:
                    encoded = wire(encoded)
                kinds["sft"] += 1
                columns.update(encoded)
                out.append(dumps(encoded, option=nl))
                continue
            try:
                # No Source: the record lives only until it is encoded below, and every
                # error is located with this range's own line numbers by the parent.
                record = decode(row, None)
                if step is not None:
                    record = step(record)
            except RecordError as err:
                if not keep:
                    result.error = ("RecordError", err.message, lineno, err.code, err.field, err.remedy)
                    result.rejects.append((lineno, None, err.issues))
                    break
                result.rejects.append((lineno, row, err.issues))
                continue
            try:
                encoded, lost = encode(record)
            except SftdataError as err:
                result.error = (type(err).__name__, err.message, lineno, err.code, err.field, err.remedy)
                break
            if lost:
                names = sorted(set(lost))
                if strict:
                    result.error = ("LossError", f"format '{_STATE['target'].name}' cannot carry: {', '.join(names)}.", lineno, "lossy-conversion", None, "Drop --strict to convert anyway (the loss is reported), or pick a richer target format.")
                    break
                losses.update(names)
            kinds[record.kind] += 1
            columns.update(encoded)
            out.append(dumps(encoded, option=nl))
    except BadLine as bad:
        result.error = ("ReadError", bad.message, bad.line, bad.code, None, bad.remedy)
    result.output = b"".join(out)
    result.written = len(out)
    return result


def _revive(result: ChunkResult, path: str, base: int) -> SftdataError:
    assert result.error is not None
    kind, message, lineno, code, fld, remedy = result.error
    line = base + lineno
    if kind == "RecordError":
        return RecordError(list(result.rejects[-1][2]), path=path, line=line, remedy=remedy)
    cls = {"ReadError": ReadError, "LossError": LossError}.get(kind)
    if cls is None:
        from .. import errors

        cls = getattr(errors, kind, SftdataError)
    err = cls.__new__(cls)
    SftdataError.__init__(err, message, path=path, line=line, field=fld, remedy=remedy, code=code)
    return err


@dataclass
class ParallelCounts:
    read: int = 0
    written: int = 0
    losses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    columns: set[str] = field(default_factory=set)


def convert_jsonl_parallel(
    src: str | Path,
    out: IO[bytes] | Any,
    source_fmt: Format,
    target: Format,
    *,
    strict: bool,
    rejects: Any,
    workers: int,
    steps: Steps | None = None,
    progress: Callable[[], ContextManager[Callable[[int], None]]] | None = None,
    engine: Engine = LOCAL,
) -> ParallelCounts:
    """Convert ``src`` (JSONL) into ``out`` with ``workers`` processes, in file order.

    ``rejects`` is a :class:`~sftdata.api.RejectSink` or ``None`` (then the first record
    that does not decode raises, as in one process). ``steps`` are the record rewrites
    (:mod:`sftdata.formats.rewrite`). ``progress()`` opens a progress bar, entered only once
    the workers exist (forking while its drawing thread holds a lock could hang a
    worker), and advanced by the input bytes of each range done.
    """
    path = str(src)
    counts = ParallelCounts()
    base = 0
    initargs = (path, source_fmt, target, strict, rejects is not None, steps or Steps())
    with ordered_ranges(src, _convert_range, workers=workers, chunk=CHUNK_BYTES, initializer=_init, initargs=initargs, engine=engine) as results, (progress or _no_bar)() as advance:
        for _, result in results:
            if result.error is not None:
                raise _revive(result, path, base)
            for lineno, row, issues in result.rejects:
                rejects.add(row, Source(path, base + lineno, "line"), RecordError(list(issues), path=path, line=base + lineno))
            out.write(result.output)
            counts.read += result.written + len(result.rejects)
            counts.written += result.written
            counts.losses.update(result.losses)
            counts.kinds.update(result.kinds)
            counts.columns |= result.columns
            base += result.lines
            advance(result.size)
    from ..io.safety import active_budget

    if (budget := active_budget()) is not None:  # --max-rejects FRACTION: what was read here
        budget.note_read(path, counts.read)
    return counts


@contextmanager
def _no_bar() -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def default_workers() -> int:
    return max(1, min(cpu_count(), 8))
