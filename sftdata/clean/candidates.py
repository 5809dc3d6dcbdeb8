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


def salted_keys(keys: "np.ndarray", *, in_place: bool = False) -> tuple["np.ndarray", "np.ndarray"]:
    """Each band key mixed with its band (a key means nothing in another band), and which
    of them can index a row (nonzero before and after mixing). ``in_place`` mixes into
    ``keys`` itself (a copy the caller owns), sparing one array of keys."""
    np = _np()
    valid = keys != 0
    with np.errstate(over="ignore"):
        salt = np.arange(1, keys.shape[1] + 1, dtype=np.uint64) * np.uint64(_POS[0])
    if in_place:
        keys ^= salt
        salted = keys
    else:
        salted = keys ^ salt
    valid &= salted != 0
    return salted, valid


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
        salted, valid = salted_keys(keys[self.needed], in_place=True)  # fancy indexing: a copy
        mask &= valid
        del valid
        # Row-major order of the mask: each needed row's keys are contiguous, band order.
        flat = salted[mask]
        del salted
        self.ids = _dense_ids(np, flat)
        del flat
        self.ptr = np.zeros(len(self.needed) + 1, dtype=np.int64)
        np.cumsum(mask.sum(axis=1), out=self.ptr[1:])
        width = int(self.ids.max()) + 1 if len(self.ids) else 0
        # Every row that can ever be indexed under a key is known now, so each key gets
        # its slots in one array (CSR): ``slots[start[k] : start[k] + count[k]]`` are the
        # rows indexed under key ``k`` so far, in indexing order. A dictionary of lists
        # for keys indexing several rows cost ~170 MB per million rows in split, where
        # every row is indexed.
        self.start = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.ids, minlength=width), out=self.start[1:])
        self.count = np.zeros(width, dtype=np.int32)
        self.slots = np.empty(len(self.ids), dtype=np.int64)

    def _ids(self, row: int) -> "np.ndarray":
        p = int(self.needed.searchsorted(row))
        return self.ids[self.ptr[p] : self.ptr[p + 1]]

    def hits(self, row: int) -> list[int]:
        """Indexed rows sharing a key with ``row``, once per shared key (so a row sharing
        more bands appears more often)."""
        ids = self._ids(row)
        count = self.count[ids]
        at = self.start[ids]
        out: list[int] = self.slots[at[count > 0]].tolist()
        several = count > 1
        if several.any():
            slots = self.slots
            for a, c in zip(at[several].tolist(), count[several].tolist()):
                out.extend(slots[a + 1 : a + c].tolist())
        return out

    def index(self, row: int) -> None:
        """Make ``row`` a candidate for the rows that come after it."""
        start, count, slots = self.start, self.count, self.slots
        for k in self._ids(row).tolist():
            slots[start[k] + count[k]] = row
            count[k] += 1

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
