"""Shingles kept from pass 1 so that verification need not re-read and re-shingle.

Kept as compact blocks (one flat ``uint32`` array of each row's sorted unique hashes, and
row bounds, per sketched batch), which worker processes can also send back cheaply. The
cache always covers a *prefix* of the file (rows ``0 .. rows-1``): once a block does not
fit the budget, caching stops for good and later rows are re-read when needed.

The parent's cache *spills* (``spill=True``): each block's hashes go to an unlinked
temporary file as they arrive and only the bounds (8 bytes a row) stay in memory, so a
1M-row file costs ~1 GB of temporary disk instead of that much RAM; verification reads a
row back with one ``pread``. A worker's cache stays in memory (one byte range's worth)
until it is sent to the parent. A write that fails (disk full) stops caching, as the
budget does.

>>> import numpy as np
>>> cache = ShingleCache(budget=1 << 20)
>>> cache.add(0, np.array([0, 2, 2, 3]), np.array([5, 7, 9], np.uint32))
True
>>> cache.rows, cache.get(0).tolist(), cache.get(1).tolist(), cache.get(3)
(3, [5, 7], [], None)
>>> disk = ShingleCache(budget=1 << 20, spill=True)
>>> disk.add(0, np.array([0, 2, 2, 3]), np.array([5, 7, 9], np.uint32)), disk.get(2).tolist()
(True, [9])
>>> disk.close()
"""

from __future__ import annotations

import os
import tempfile
from bisect import bisect_right
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class ShingleCache:
    """Shingle hashes (top 32 bits, sorted and unique per row) of the first ``rows`` rows."""

    def __init__(self, budget: int, *, spill: bool = False) -> None:
        self.room = budget
        self.rows = 0
        self.starts: list[int] = []  # first row of each block
        #: (bounds, flat) per block; when spilled, ``flat`` is the block's byte offset in the file
        self.blocks: list[tuple["np.ndarray", Any]] = []
        self._file: IO[bytes] | None = None
        self._spill = spill
        self._end = 0
        self._dirty = False

    def add(self, first: int, bounds: "np.ndarray", flat: "np.ndarray") -> bool:
        """Append the block of rows ``first .. first+len(bounds)-2`` (row ``k``'s hashes
        are ``flat[bounds[k]:bounds[k+1]]``); False, and caching stops, when it does not
        follow the cached prefix, does not fit, or cannot be written."""
        if first != self.rows or flat.nbytes > self.room:
            self.room = 0
            return False
        stored: Any = flat
        if self._spill:
            try:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="sftdata-shingles-")
                self._file.write(flat.tobytes())
            except OSError:
                self.room = 0
                return False
            stored, self._end, self._dirty = self._end, self._end + flat.nbytes, True
        self.room -= flat.nbytes
        self.starts.append(first)
        self.blocks.append((bounds, stored))
        self.rows += len(bounds) - 1
        return True

    def get(self, row: int) -> "np.ndarray | None":
        if row >= self.rows:
            return None
        b = bisect_right(self.starts, row) - 1
        bounds, flat = self.blocks[b]
        k = row - self.starts[b]
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if not isinstance(flat, int):
            return flat[lo:hi]  # type: ignore[no-any-return]
        import numpy as np

        assert self._file is not None
        if self._dirty:
            self._file.flush()
            self._dirty = False
        return np.frombuffer(os.pread(self._file.fileno(), (hi - lo) * 4, flat + lo * 4), dtype=np.uint32)

    def close(self) -> None:
        """Drop the spilled file (also done when the cache is garbage-collected)."""
        if self._file is not None:
            self._file.close()
            self._file = None
