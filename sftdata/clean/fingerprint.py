"""Pass 1 of dedup and split: fingerprint every row of a file, in one process or several.

Decoding and view building are CPU-bound Python, so a big uncompressed ``.jsonl`` is cut
into byte ranges at line boundaries and run on the local engine
(:func:`sftdata.engines.local.ordered_ranges`); each worker reads its own range (no rows
cross a pipe) and returns only the small per-row fingerprints. Ranges come back in file order, so row ordinals, line numbers, the first
unreadable line and every other result are exactly those of the one-process path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engines.base import LOCAL, Engine
from ..engines.local import cpu_count, read_span
from ..engines.run import ordered_ranges, require_ranges
from ..errors import Issue, ReadError, RecordError
from ..formats import Format
from ..io import remote, suffix_of
from ..io.files import BadLine, range_rows
from ..progress import progress
from ..record import Source
from ._stream import PathLike, tolerant_rows
from .index import Fingerprints, KeyBlocks, MatchConfig, _Accumulator, viewer
from .shinglecache import ShingleCache
from .sketch import _np, fork_safe

MIN_BYTES = 16 << 20  # below this, starting processes costs more than it saves
CHUNK_BYTES = 4 << 20


def default_workers() -> int:
    """2 when this machine has a second core to spare right now, else 1: on a busy
    machine the extra processes only add start-up and transfer costs (measured)."""
    n = cpu_count()
    idle = n - (os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0)
    return 2 if n >= 2 and idle >= 1.5 else 1


def worth_it(path: PathLike, workers: int | None) -> bool:
    """Only plain ``.jsonl`` can be cut into byte ranges; small files are not worth it."""
    if workers is not None and workers < 2:
        return False
    p = Path(path)
    if suffix_of(p) not in ((".jsonl", None), (".ndjson", None)) or not p.is_file():
        return False
    return (workers or default_workers()) > 1 and p.stat().st_size >= MIN_BYTES


@dataclass
class _Chunk:
    keys: Any = None
    lengths: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # local, 1-based
    failed: dict[int, tuple[tuple[Issue, ...], str | None]] = field(default_factory=dict)
    labels: list[Any] | None = None
    newlines: int = 0
    error: tuple[str, int, str, str] | None = None  # message, local line, code, remedy
    shingles: list[tuple[int, Any, Any]] = field(default_factory=list)  # (first row, bounds, flat)


_STATE: dict[str, Any] = {}


def _init(path: str, fmt: Format, config: MatchConfig, label: str | None) -> None:
    _STATE.update(path=path, fmt=fmt, config=config, label=label)


def _work(span: tuple[int, int]) -> _Chunk:
    path: str = _STATE["path"]
    text = viewer(_STATE["fmt"], _STATE["config"].view)
    data = read_span(path, span)
    acc = _Accumulator(_STATE["config"], _STATE["label"], spill=False)
    chunk = _Chunk(newlines=data.count(b"\n"))
    for lineno, row in range_rows(data, tolerant=True):
        if type(row) is BadLine:  # recorded as failed: rejected with --rejects, else raised
            acc.add(row.text, lineno, None, RecordError([Issue(row.code, row.message)], line=lineno, remedy=row.remedy))
            continue
        try:
            acc.add(row, lineno, text(row, Source(path, lineno, "line")), None)
        except RecordError as err:
            acc.add(row, lineno, None, err)
    chunk.keys = acc.keys()
    if acc.cache is not None:
        # Sent back so that verification need not re-read and re-shingle these rows.
        chunk.shingles = [(first, bounds, flat) for first, (bounds, flat) in zip(acc.cache.starts, acc.cache.blocks)]
    chunk.lengths, chunk.lines, chunk.labels = acc.lengths, acc.lines, acc.labels
    chunk.failed = {i: (err.issues, err.remedy) for i, err in acc.failed.items()}
    return chunk


def _work_remote(span: tuple[int, int]) -> _Chunk:
    """:func:`_work` on a Ray actor, leaving the keys and shingles in the object store
    (``chunk.keys`` holds their references)."""
    import ray

    chunk = _work(span)
    chunk.keys = (ray.put(chunk.keys), ray.put(chunk.shingles))
    chunk.shingles = []
    return chunk


def fingerprint_parallel(path: PathLike, fmt: Format, config: MatchConfig, label: str | None, workers: int, engine: Engine = LOCAL, *, remote_keys: bool = False) -> Fingerprints:
    np = _np()
    name = str(path)
    # Fork when it is safe: workers start at once and, unlike spawned ones, never re-run
    # the caller's script (a script without an `if __name__ == "__main__"` guard would
    # fail). Once this process has used rensa, a forked child would deadlock (see
    # sketch.fork_safe), so then spawn: fresh interpreters importing sftdata (~0.5 s).
    width = config.sketch.bands if config.mode == "near" else 1
    keys = KeyBlocks(width)
    lengths: list[Any] = []
    lines: list[Any] = []
    labels: list[Any] | None = [] if label is not None else None
    failed: dict[int, RecordError] = {}
    rows = base = 0
    cache = ShingleCache(config.cache_mb << 20, spill=True) if config.mode == "near" and config.cache_mb > 0 and not remote_keys else None
    # The pool first: no progress-bar thread exists yet when the workers fork.
    ranges: list[Any] | None = [] if remote_keys else None
    job = ordered_ranges(path, _work_remote if remote_keys else _work, workers=workers, chunk=CHUNK_BYTES, initializer=_init, initargs=(name, fmt, config, label), fork=fork_safe(), engine=engine)
    total = remote.size(name) if remote.is_uri(name) else Path(path).stat().st_size
    with job as results, progress(f"fingerprinting {path}", total=total, unit="bytes") as advance:
        for (start, end), chunk in results:
            if chunk.error is not None:
                message, lineno, code, remedy = chunk.error
                raise ReadError(message, path=name, line=base + lineno, code=code, remedy=remedy)
            if ranges is not None:
                from .distmatch import RangeRefs

                ranges.append(RangeRefs(rows, len(chunk.lengths), *chunk.keys))
            else:
                keys.append(chunk.keys)
            lengths.append(np.asarray(chunk.lengths, dtype=np.int64))
            lines.append(np.asarray(chunk.lines, dtype=np.int64) + base)
            if labels is not None:
                labels.extend(chunk.labels or [])
            for i, (issues, remedy) in chunk.failed.items():
                failed[rows + i] = RecordError(list(issues), path=name, line=base + chunk.lines[i], remedy=remedy)
            if cache is not None:
                for first, bounds, flat in chunk.shingles:
                    cache.add(rows + first, bounds, flat)
            rows += len(chunk.lengths)
            base += chunk.newlines
            advance(end - start)
    return Fingerprints(
        name,
        fmt,
        keys.join(),
        np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64),
        np.concatenate(lines) if lines else np.zeros(0, dtype=np.int64),
        failed,
        labels,
        cache,
        ranges,
    )


def fingerprint(path: PathLike, fmt: Format, config: MatchConfig, *, label: str | None = None, workers: int | None = None, engine: Engine | None = None, remote_keys: bool = False) -> Fingerprints:
    """Pass 1: stream ``path`` and fingerprint every row (see the module docstring).

    A large uncompressed ``.jsonl`` is fingerprinted by ``workers`` processes (default:
    up to 2 when the machine has them), each reading its own byte range; the result is
    the same as in one process. ``engine=Engine("ray")`` fingerprints the ranges of a
    ``.jsonl`` file or URI on Ray, with the same result; ``remote_keys`` then leaves the
    keys and shingles on the cluster (``Fingerprints.ranges``) for
    :func:`sftdata.clean.distmatch.match_on_ray`.
    """
    if engine is not None and engine.ray:
        require_ranges(path)
        if remote_keys and config.mode == "near" and config.cache_mb <= 0:
            from dataclasses import replace

            config = replace(config, cache_mb=8192)  # the verifiers read pass 1's shingles
        return fingerprint_parallel(path, fmt, config, label, 1, engine, remote_keys=remote_keys)
    if worth_it(path, workers):
        return fingerprint_parallel(path, fmt, config, label, workers or default_workers())
    acc = _Accumulator(config, label)
    text = viewer(fmt, config.view)
    with progress(f"fingerprinting {path}") as advance:
        for row, source, error in tolerant_rows(path):
            if error is not None:
                acc.add(row, source.line, None, error)
                continue
            try:
                acc.add(row, source.line, text(row, source), None)
            except RecordError as err:
                acc.add(row, source.line, None, err)
            advance()
    np = acc.np
    keys = acc.keys()
    return Fingerprints(str(path), fmt, keys, np.asarray(acc.lengths, dtype=np.int64), np.asarray(acc.lines, dtype=np.int64), acc.failed, acc.labels, acc.cache)


def materialize(fp: Fingerprints) -> Fingerprints:
    """``fp`` with the keys and shingles it left on Ray fetched here (matching on the driver)."""
    from .distmatch import materialize as fetch

    return fetch(fp)
