"""CSV formula injection: cells a spreadsheet would run as formulas.

A ``.csv``/``.tsv`` cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula to Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``,
``=cmd|' /C calc'!A0``), and sftdata's CSV files carry a BOM aimed at Excel. LLaMA-Factory
and HF ``datasets`` read such cells as data, so they are written unchanged by default and
counted; ``escape=True`` (``--escape-formulas``) prefixes each with a single quote, as
OWASP recommends for files meant for people (the quote is then part of the cell's text).
Plain numbers (``-5``, ``+3.2``) are data to a spreadsheet too, and are left alone.

The CSV/TSV writer passes every row through :func:`guard`; a caller that wants the count
(the CLI warns with it) or the escaping wraps the writing in :func:`formulas`:

>>> with formulas(escape=True) as tally:
...     guard(["=1+1", "plain", "-5", "- a list item", "@SUM(A1)"])
["'=1+1", 'plain', '-5', "'- a list item", "'@SUM(A1)"]
>>> tally.cells
3
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_formula(cell: Any) -> bool:
    """Whether a spreadsheet would run this cell as a formula.

    >>> is_formula("=1+1"), is_formula("-5"), is_formula("hello"), is_formula("\\tx")
    (True, False, False, True)
    """
    return isinstance(cell, str) and cell.startswith(TRIGGERS) and not _NUMBER.fullmatch(cell)


@dataclass
class FormulaTally:
    """How many written cells would run as formulas, and whether they are escaped."""

    escape: bool = False
    cells: int = 0


_TALLY: ContextVar[FormulaTally | None] = ContextVar("sftdata_formula_tally", default=None)


@contextmanager
def formulas(escape: bool = False) -> Iterator[FormulaTally]:
    """Count (and with ``escape``, quote) formula cells written inside the block."""
    tally = FormulaTally(escape)
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)


def current() -> FormulaTally | None:
    """The tally of the enclosing :func:`formulas` block, if any."""
    return _TALLY.get()


def guard(cells: list[Any]) -> list[Any]:
    """One CSV/TSV row's cells: formula cells counted, and quoted when asked."""
    tally = _TALLY.get()
    if tally is None:
        return cells
    hits = [i for i, c in enumerate(cells) if is_formula(c)]
    if not hits:
        return cells
    tally.cells += len(hits)
    if tally.escape:
        cells = list(cells)
        for i in hits:
            cells[i] = "'" + cells[i]
    return cells


__all__ = ["TRIGGERS", "FormulaTally", "current", "formulas", "guard", "is_formula"]
