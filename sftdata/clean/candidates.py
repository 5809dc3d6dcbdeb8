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

from typing import TYPE_CHECKING, Any

from ._deps import _np
from .sketch import _POS

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class BucketTable:
    """Shared band keys of the rows that can have candidates (``needed``), and the
    indexed rows under each key."""

    def __init__(self, keys: "np.ndarray") -> None:
        np = _np()
        # Peak memory matters here (pass 2 of a million rows): temporaries are a column
        # at a time, or the needed rows only, and updated in place where possible.
        shared = np.zeros(keys.shape, dtype=bool)
        for b in range(keys.shape[1]):
            shared[:, b] = _shared(np, keys[:, b])
        self.needed = np.flatnonzero(shared.any(axis=1))
        mask = shared[self.needed]
        del shared
        salted = keys[self.needed]
        with np.errstate(over="ignore"):
            salted ^= np.arange(1, keys.shape[1] + 1, dtype=np.uint64) * np.uint64(_POS[0])
        mask &= salted != 0
        # Row-major order of the mask: each needed row's keys are contiguous, band order.
        flat = salted[mask]
        del salted
        self.ids = _dense_ids(np, flat)
        del flat
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


def _shared(np: Any, column: "np.ndarray") -> "np.ndarray":
    """Which entries of ``column`` are non-zero and held by another entry too; as
    ``np.unique(return_inverse, return_counts)`` would say, with one sort and no inverse."""
    order = np.argsort(column, kind="stable")
    ordered = column[order]
    same = ordered[1:] == ordered[:-1]
    dup = np.zeros(len(column), dtype=bool)
    dup[1:] = same
    dup[:-1] |= same
    out = np.empty(len(column), dtype=bool)
    out[order] = dup
    out &= column != 0
    return out


def _dense_ids(np: Any, values: "np.ndarray") -> "np.ndarray":
    """Rank of each value among the distinct ``values`` (``np.unique``'s inverse), as int32."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    step = np.empty(len(values), dtype=np.int32)
    if len(values):
        step[0] = 0
        np.not_equal(ordered[1:], ordered[:-1], out=step[1:], casting="unsafe")
        np.add.accumulate(step, out=step)
    del ordered
    ids = np.empty(len(values), dtype=np.int32)
    ids[order] = step
    return ids
