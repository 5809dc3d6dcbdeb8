"""Shingles kept from pass 1 so that verification need not re-read and re-shingle.

Kept as compact blocks (one flat ``uint32`` array and row bounds per sketched batch),
which worker processes can also send back cheaply. The cache always covers a *prefix*
of the file (rows ``0 .. rows-1``): once a block does not fit the memory budget, caching
stops for good and later rows are re-read when needed.

>>> import numpy as np
>>> cache = ShingleCache(budget=1 << 20)
>>> cache.add(0, np.array([0, 2, 2, 3]), np.array([5, 7, 9], np.uint32))
True
>>> cache.rows, cache.get(0).tolist(), cache.get(1).tolist(), cache.get(3)
(3, [5, 7], [], None)
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class ShingleCache:
    """Shingle hashes (top 32 bits) of the first ``rows`` rows of a file."""

    def __init__(self, budget: int) -> None:
        self.room = budget
        self.rows = 0
        self.starts: list[int] = []  # first row of each block
        self.blocks: list[tuple["np.ndarray", "np.ndarray"]] = []  # (bounds, flat)

    def add(self, first: int, bounds: "np.ndarray", flat: "np.ndarray") -> bool:
        """Append the block of rows ``first .. first+len(bounds)-2`` (row ``k``'s hashes
        are ``flat[bounds[k]:bounds[k+1]]``); False, and caching stops, when it does not
        follow the cached prefix or does not fit."""
        if first != self.rows or flat.nbytes > self.room:
            self.room = 0
            return False
        self.room -= flat.nbytes
        self.starts.append(first)
        self.blocks.append((bounds, flat))
        self.rows += len(bounds) - 1
        return True

    def get(self, row: int) -> "np.ndarray | None":
        if row >= self.rows:
            return None
        b = bisect_right(self.starts, row) - 1
        bounds, flat = self.blocks[b]
        k = row - self.starts[b]
        return flat[int(bounds[k]) : int(bounds[k + 1])]
