"""Text normalisation as one table lookup per character, for whole batches in numpy.

:func:`sftdata.clean.views.normalize` (NFKC, then case folding, then whitespace collapsed)
costs more than shingling itself on non-ASCII text: ``unicodedata.normalize`` runs at
~40 us per Chinese record. Most characters normalise on their own, independently of
their neighbours, to exactly one character (full-width ``，`` to ``,``, ``A`` to ``a``); for
a text made only of such *simple* characters, normalising the text is mapping each
character through a table, which numpy does for a whole batch at once.

A character is *not* simple (and its text is normalised by ``normalize`` instead) when:

- NFKC could combine it with the character before it: its compatibility decomposition
  starts with a combining mark, or with the second character of a canonical pair (Hangul
  vowel and final jamo, some Indic vowel signs). A decomposition that *starts* with a
  plain starter (``é`` is ``e`` + acute) composes back on its own and never reaches
  across: the starter blocks composition with anything before it;
- it normalises to zero or several characters (``ß`` folds to ``ss``, ``…`` to ``...``);
- it lies outside the planes the table covers (the Basic Multilingual Plane and the
  emoji block U+1F000-U+1FFFF; rarer supplementary characters take the slow path).

Whitespace collapsing maps every whitespace character to a space: shingles never see
runs of spaces (see :mod:`.sketch`), so this equals ``" ".join(text.split())`` for them.
Tests check the table against ``normalize`` on every covered character and on random text.

>>> fold = folding(frozenset({"nfkc", "case"}))
>>> chr(int(fold.table[ord("Ａ")])), chr(int(fold.table[ord("，")])), bool(fold.slow[ord("ß")]), int(fold.table[ord("ß")]) == ord("ß") | SLOW
('a', ',', True, True)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ._deps import _np
from .views import Norm

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: code points the table decides; all others are normalised in Python
COVERED = (range(0x10000), range(0x1F000, 0x20000))
# Canonical pairs whose second character is implicit in unicodedata (Hangul is algorithmic).
_HANGUL_SECONDS = (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))


#: flag set in ``table`` for slow characters, so one lookup both maps and flags
SLOW = 1 << 31


@dataclass(frozen=True)
class Folding:
    """``table[c]``: what code point ``c`` normalises to (``c | SLOW`` for a slow one);
    ``slow[c]``: 1 when a text holding ``c`` must be normalised as a whole instead."""

    norms: frozenset[Norm]
    table: "np.ndarray"  # uint32, one entry per code point
    slow: "np.ndarray"  # uint8, one entry per code point


def _composition_seconds() -> frozenset[int]:
    """Second characters of canonical two-character decompositions in the covered planes
    (the characters NFC may merge into the character before them)."""
    seconds = set(_HANGUL_SECONDS)
    for block in COVERED:
        for cp in block:
            d = unicodedata.decomposition(chr(cp))
            if d and not d.startswith("<"):
                parts = d.split()
                if len(parts) == 2:
                    seconds.add(int(parts[1], 16))
    return frozenset(seconds)


@lru_cache(maxsize=8)
def folding(norms: frozenset[Norm]) -> Folding:
    """The lookup tables for one set of normalisations (built once per process, ~0.1 s)."""
    np = _np()
    table = np.arange(0x110000, dtype=np.uint32)
    slow = np.ones(0x110000, dtype=np.uint8)
    nfkc, case, space = "nfkc" in norms, "case" in norms, "whitespace" in norms
    seconds = _composition_seconds() if nfkc else frozenset()
    combining, normalize = unicodedata.combining, unicodedata.normalize
    for block in COVERED:
        for cp in block:
            c = chr(cp)
            if nfkc:
                head = normalize("NFKD", c)[0]
                if combining(head) or ord(head) in seconds:
                    continue
                c = normalize("NFKC", c)
            if case:
                c = c.casefold()
            if len(c) != 1:
                continue
            if space and c.isspace():
                c = " "
            table[cp] = ord(c)
            slow[cp] = 0
    table[slow == 1] |= SLOW
    return Folding(norms, table, slow)
