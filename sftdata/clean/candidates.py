"""Candidate lookup for pass 2 of dedup: which indexed rows share an LSH band key with a row.

Built once from every row's band keys. A key held by one row only can never produce a
candidate, so only *shared* keys are kept, each mixed with its band (a key means nothing
in another band) and renumbered densely; a row's keys are then a slice of one ``int32``
array, and the rows indexed under a key live in one ``int64`` array (the first row) plus
a dictionary for the rare keys that index several rows. That is a few bytes per shared
key instead of a Python dictionary of lists (about 150 bytes per key: the difference
between ~300 MB and ~30 MB for a million-row file).

>>> import numpy as np
>>> keys = np.array([[1, 5], [1, 6], [2, 6], [3, 7]], dtype=np.uint64)
>>> table = BucketTable(keys)
>>> table.needed.tolist()  # row 3 shares no key with anyone
[0, 1, 2]
>>> table.index(0); table.hits(1)
[0]
>>> table.index(1); sorted(table.hits(2))  # row 2 shares band 1's key 6 with row 1
[1]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._deps import _np
from .sketch import _POS

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def salted_keys(keys: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
    """Each band key mixed with its band (a key means nothing in another band), and which
    of them can index a row (nonzero before and after mixing)."""
    np = _np()
    with np.errstate(over="ignore"):
        salted = keys ^ (np.arange(1, keys.shape[1] + 1, dtype=np.uint64) * np.uint64(_POS[0]))
    return salted, (keys != 0) & (salted != 0)


class BucketTable:
    """Shared band keys of the rows that can have candidates (``needed``), and the
    indexed rows under each key."""

    def __init__(self, keys: "np.ndarray") -> None:
        np = _np()
        shared = np.zeros(keys.shape, dtype=bool)
        for b in range(keys.shape[1]):
            column = keys[:, b]
            _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
            shared[:, b] = (counts[inverse] > 1) & (column != 0)
        self.needed = np.flatnonzero(shared.any(axis=1))
        salted, valid = salted_keys(keys[self.needed])
        mask = shared[self.needed] & valid
        del shared
        # Row-major order of the mask: each needed row's keys are contiguous, band order.
        _, ids = np.unique(salted[mask], return_inverse=True)
        self.ids = ids.astype(np.int32)
        self.ptr = np.zeros(len(self.needed) + 1, dtype=np.int64)
        np.cumsum(mask.sum(axis=1), out=self.ptr[1:])
        width = int(self.ids.max()) + 1 if len(self.ids) else 0
        self.first = np.full(width, -1, dtype=np.int64)
        self.several = np.zeros(width, dtype=bool)
        self.more: dict[int, list[int]] = {}

    def _ids(self, row: int) -> "np.ndarray":
        p = int(self.needed.searchsorted(row))
        return self.ids[self.ptr[p] : self.ptr[p + 1]]

    def hits(self, row: int) -> list[int]:
        """Indexed rows sharing a key with ``row``, once per shared key (so a row sharing
        more bands appears more often)."""
        ids = self._ids(row)
        found = self.first[ids]
        out: list[int] = found[found >= 0].tolist()
        for k in ids[self.several[ids]].tolist():
            out.extend(self.more[k])
        return out

    def index(self, row: int) -> None:
        """Make ``row`` a candidate for the rows that come after it."""
        first, several, more = self.first, self.several, self.more
        for k in self._ids(row).tolist():
            if first[k] < 0:
                first[k] = row
            else:
                several[k] = True
                more.setdefault(k, []).append(row)
