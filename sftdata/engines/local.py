"""The local engine: worker processes over byte ranges of one JSONL file, in file order.

A step that can run on ranges (convert, stats, the fingerprint pass of dedup and split)
supplies a picklable ``work(span) -> result`` function; :func:`ordered_ranges` cuts the
file at line boundaries (:func:`sftdata.io.files.spans`), lets each worker read its own
range (no rows cross a pipe) and yields the results in file order, so line numbers,
the first error and every count are those of the one-process path. The caller rebases
local line numbers with :func:`line_count` of each range.

A distributed engine sits beside this one behind the same idea: map a step over blocks,
gather in source order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from ..io import remote
from ..io.files import read_span as _read_span
from ..io.files import spans

T = TypeVar("T")
Span = tuple[int, int]


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def read_span(path: str | os.PathLike[str], span: Span) -> bytes:
    """The bytes of one range, read by the worker itself (bounded: see
    :func:`sftdata.io.files.read_span`); from a URI on the Ray engine."""
    if remote.is_uri(path):
        return remote.read_span(str(path), span)
    return _read_span(path, span)


def _die_with_parent(parent: int) -> None:
    """Make this worker exit when the process that started it dies (killed with
    SIGKILL, it cannot terminate its pool): Linux's parent-death signal, and a watcher
    thread elsewhere."""
    import signal
    import sys
    import threading
    import time

    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, signal.SIGTERM) == 0  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)
    if armed:
        # No watcher thread: a second thread could receive the pool's SIGTERM while the
        # main thread waits on the task queue's lock, and never wake it (a hung pool).
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="sftdata-orphan-watch").start()


def _worker_init(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    import signal

    # The default action: the kernel ends the worker at once, whichever thread the signal
    # lands on, with no traceback. (A Python-level handler runs only in the main thread,
    # so a worker blocked in a lock while another thread took the signal never exits and
    # ``Pool.terminate`` waits for it forever.) The parent may have installed its own
    # handler, which a forked worker inherits: reset it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def line_count(data: bytes) -> int:
    """Lines in a range: its newlines, plus one for a last line without one."""
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def worker_pool(workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (), method: str = "fork") -> Any:
    """A ``multiprocessing`` pool whose workers exit quietly when this process dies."""
    return mp.get_context(method).Pool(workers, initializer=_worker_init, initargs=(os.getpid(), initializer, initargs))


@contextmanager
def ordered_ranges(
    path: Path,
    work: Callable[[Span], T],
    *,
    workers: int,
    chunk: int | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    fork: bool = True,
) -> Iterator[Iterator[tuple[Span, T]]]:
    """Open a pool of ``workers`` processes and yield an iterator of ``(span, work(span))``
    in file order.

    The pool exists once the ``with`` is entered, so a caller that opens a progress bar
    after it (``with ordered_ranges(...) as results, progress(...) as advance:``) never
    forks while the bar's drawing thread holds a lock. ``fork=False`` spawns fresh
    interpreters instead (for state that must not be forked). At most ``2 x workers``
    ranges are submitted and not yet consumed, so memory stays near ``2 x workers x
    chunk`` however slow the consumer (``Pool.imap`` would queue every range and keep
    every finished result), and the task pipe never fills (a full one can hang
    ``Pool.terminate``). The pool is terminated on exit, also on an error or Ctrl-C.
    """
    method = "fork" if fork and "fork" in mp.get_all_start_methods() else "spawn"
    with worker_pool(workers, initializer, initargs, method) as pool:
        try:
            yield _in_order(pool, work, spans(path, chunk), 2 * workers)
        finally:
            pool.terminate()


def _in_order(pool: Any, work: Callable[[Span], T], ranges: Iterator[Span], window: int) -> Iterator[tuple[Span, T]]:
    pending: deque[tuple[Span, Any]] = deque((span, pool.apply_async(work, (span,))) for span in islice(ranges, window))
    while pending:
        span, result = pending.popleft()
        following = next(ranges, None)
        if following is not None:
            pending.append((following, pool.apply_async(work, (following,))))
        yield span, result.get()
