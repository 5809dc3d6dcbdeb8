"""One call for a step to run its per-range function on the chosen engine.

>>> from sftdata.engines.base import Engine
>>> parallel(Engine("ray")), parallel(Engine())
(True, False)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from .base import LOCAL, Engine

T = TypeVar("T")
Span = tuple[int, int]


def parallel(engine: Engine | None) -> bool:
    """Whether ``engine`` must take the range path whatever the input size (Ray does)."""
    return engine is not None and engine.ray


def ordered_ranges(
    path: str | os.PathLike[str],
    work: Callable[[Span], T],
    *,
    workers: int,
    chunk: int | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    fork: bool = True,
    engine: Engine = LOCAL,
) -> AbstractContextManager[Iterator[tuple[Span, T]]]:
    """``(span, work(span))`` in file order, on worker processes (``local``) or on Ray;
    see :func:`sftdata.engines.local.ordered_ranges` for the contract."""
    if engine.ray:
        from . import ray

        return ray.ordered_ranges(path, work, engine=engine, chunk=chunk or (4 << 20), initializer=initializer, initargs=initargs)
    from . import local

    return local.ordered_ranges(Path(path), work, workers=workers, chunk=chunk, initializer=initializer, initargs=initargs, fork=fork)


def require_ranges(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None) -> None:
    """The Ray engine cuts plain JSON Lines into byte ranges: say so for anything else."""
    from ..errors import UsageError
    from ..io import suffix_of
    from ..io.remote import is_uri
    from ..io.shards import is_folder

    jsonl = (".jsonl", ".ndjson")
    if is_uri(src) or not Path(src).is_dir():
        suffix, compression = suffix_of(src)
        ok = suffix in jsonl and compression is None
    else:
        ok = False
    if not ok:
        raise UsageError(
            f"--engine ray reads plain JSON Lines (.jsonl), not '{Path(str(src)).name}'.",
            remedy=f"Convert it first with the local engine: sftdata convert {src} -o {Path(str(src)).stem.split('.')[0]}.jsonl --to <format>.",
        )
    if dst is not None and not is_folder(dst):
        suffix, compression = suffix_of(dst)
        if suffix not in jsonl or compression is not None:
            raise UsageError(f"--engine ray writes JSON Lines (.jsonl) or a folder of shards, not '{Path(str(dst)).name}'.", remedy="Name a .jsonl file, or a folder (out/) for part-00000.jsonl... plus manifest.json.")
