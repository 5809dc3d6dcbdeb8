"""One progress bar for every long operation (convert, filter, dedup, split).

A rich bar on stderr when stderr is a terminal; otherwise nothing at all (no rich
import, no thread), so pipes, CI logs and tests see no output and pay nothing.

>>> with progress("converting data.jsonl", total=1 << 20, unit="bytes") as bar:
...     bar(4096)           # advance by 4 KiB
...     bar.update(8192)    # or set the position (e.g. a file offset)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

Unit = Literal["records", "bytes"]
#: ``sftdata -q``: no bar even on a terminal
QUIET = False


class Ticker:
    """Advance (``ticker(n)``) or position (``ticker.update(done)``) a progress bar.

    The base class is the silent one used when stderr is not a terminal.
    """

    def __call__(self, n: int = 1) -> None:
        """Advance by ``n`` units."""

    def update(self, completed: int) -> None:
        """Set the position to ``completed`` units."""


class _RichTicker(Ticker):
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def __call__(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)

    def update(self, completed: int) -> None:
        self._bar.update(self._task, completed=completed)


@contextmanager
def progress(label: str, total: int | None = None, unit: Unit = "records") -> Iterator[Ticker]:
    """A rich progress bar on a terminal; a silent :class:`Ticker` otherwise.

    Args:
        label: What is being done, e.g. ``"converting data.jsonl"``.
        total: The number of units when known (the bar then shows a percentage).
        unit: ``"records"`` shows ``done/total``; ``"bytes"`` shows sizes and a rate.
    """
    if QUIET or not sys.stderr.isatty():
        yield Ticker()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counter: list[Any] = [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
    columns = [TextColumn("{task.description}", markup=False), BarColumn(), *counter, TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield _RichTicker(bar, bar.add_task(label, total=total))


__all__ = ["Ticker", "Unit", "progress"]
