"""Finding duplicates: fingerprint every record (pass 1), then match them (pass 2).

Pass 1 streams a file and keeps, per record, only a few integers: the band keys of its
MinHash signature (near mode) or a 64-bit hash of its normalised view (exact mode), the
length of its view and its line. Records that share no band key with any other record
cannot be near-duplicates, so pass 2 re-reads only the others, shingles them again and
verifies each candidate pair with the exact Jaccard similarity of the shingle sets.
Memory is bounded by the fingerprints (21 integers per record) plus the shingle sets of
the candidate records still needed; it does not grow with the text.

Two matching policies:

- ``"kept"`` (dedup): in file order, a record is a duplicate of the first earlier *kept*
  record it matches; duplicates are not indexed, so every drop names a kept record that
  it really matches (Jaccard >= threshold, verified).
- ``"all"`` (split): every verified pair is linked (union-find), giving groups that are
  closed under near-duplication, so a group never straddles train and validation.
"""

from __future__ import annotations

import hashlib
import tempfile
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import RecordError
from ..formats import Format
from ..progress import progress
from ..record import Record, Source
from ._stream import lines
from .rawview import raw_view
from .candidates import BucketTable
from .shinglecache import ShingleCache
from .sketch import SketchConfig, Sketcher, _np, jaccard
from .views import Norm, View, normalize, view_text

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

Mode = Literal["exact", "near"]
MODES: tuple[Mode, ...] = ("exact", "near")
Policy = Literal["kept", "all"]

_DEFAULT_NORMS: dict[Mode, frozenset[Norm]] = {
    "exact": frozenset({"whitespace", "nfkc"}),
    # Near mode ignores whitespace by construction (see sketch.py): no need to collapse it.
    "near": frozenset({"nfkc", "case"}),
}


@dataclass(frozen=True)
class MatchConfig:
    """What makes two records duplicates.

    ``normalize=None`` picks the mode's default: exact collapses whitespace and applies
    NFKC; near applies NFKC and folds case (its shingles ignore whitespace anyway). ``sketch`` holds the shingle and LSH parameters.
    """

    mode: Mode = "near"
    view: View = "record"
    threshold: float = 0.8
    normalize: frozenset[Norm] | None = None
    sketch: SketchConfig = field(default_factory=SketchConfig)
    batch_size: int = 1024
    #: candidates verified per record at most (those sharing the most bands first):
    #: a guard against quadratic work when thousands of records share boilerplate.
    max_candidates: int = 100
    #: pass 1 keeps the shingles (4 bytes each) of the first rows up to this budget, in a
    #: temporary file (``TMPDIR``), so that pass 2 need not re-read, decode and re-shingle
    #: them; rows past it are re-read. 0 turns the cache off.
    cache_mb: int = 8192

    @property
    def norms(self) -> frozenset[Norm]:
        return self.normalize if self.normalize is not None else _DEFAULT_NORMS[self.mode]

    def text(self, record: Record) -> str:
        return normalize(view_text(record, self.view), self.norms)


def viewer(fmt: Format, view: View) -> Callable[[dict[str, Any], Source], str]:
    """``row, source -> view text``: read off plain rows directly (:mod:`.rawview`),
    decoded otherwise; raises :class:`RecordError` for a row that does not decode."""
    fast, decode = raw_view(fmt, view), fmt.decode

    def text(row: dict[str, Any], source: Source) -> str:
        if fast is not None:
            found = fast(row)
            if found is not None:
                return found
        return view_text(decode(row, source), view)

    return text


@dataclass
class Fingerprints:
    """Pass-1 result for one file: row ``i`` describes the file's ``i``-th row."""

    path: str
    fmt: Format
    keys: "np.ndarray"  # (n, bands) uint64; all zero = never a duplicate (empty view, undecodable)
    lengths: "np.ndarray"  # view length before normalisation (for keep=longest)
    lines: "np.ndarray"
    failed: dict[int, RecordError]
    labels: list[Any] | None = None  # per-row values of a field (split --stratify)
    #: shingles kept from pass 1 for a prefix of the rows (see ``MatchConfig.cache_mb``)
    shingles: ShingleCache | None = None
    #: ``--engine ray``: keys and shingles left in the Ray object store, per range
    #: (:class:`~sftdata.clean.distmatch.RangeRefs`); ``keys`` is then empty
    ranges: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.lengths)


def _exact_key(text: str) -> int:
    key = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    return key or 1


class _Accumulator:
    """Fingerprints rows one at a time, sketching a batch of texts at once."""

    def __init__(self, config: MatchConfig, label: str | None, *, spill: bool = True) -> None:
        self.np = _np()
        self.config = config
        self.sketcher = Sketcher(config.sketch) if config.mode == "near" else None
        self.width = config.sketch.bands if self.sketcher else 1
        self.label = label
        self.blocks = KeyBlocks(self.width, spill=spill)
        # 8 bytes a row (a list of Python ints costs 36)
        self.lengths: array[int] = array("q")
        self.lines: array[int] = array("q")
        self.failed: dict[int, RecordError] = {}
        self.labels: list[Any] | None = [] if label is not None else None
        self.texts: list[str] = []
        self.slots: list[int] = []  # row index of each batched text
        self.done = 0  # rows already turned into key blocks
        self.cache = ShingleCache(config.cache_mb << 20, spill=spill) if config.mode == "near" and config.cache_mb > 0 else None

    def add(self, row: dict[str, Any], line: int, raw: str | None, error: RecordError | None) -> None:
        """One row: its view text ``raw``, or the ``error`` that kept it from decoding."""
        idx = len(self.lengths)
        self.lines.append(line)
        if self.labels is not None:
            self.labels.append(row.get(self.label))  # type: ignore[arg-type]
        if raw is None:
            self.failed[idx] = error  # type: ignore[assignment]
            self.lengths.append(0)
        else:
            self.lengths.append(len(raw))
            # Near mode normalises a whole batch at once while shingling (see fold.py).
            text = raw if self.sketcher is not None else normalize(raw, self.config.norms)
            if text:  # an empty view is never a duplicate: its keys stay zero
                self.texts.append(text)
                self.slots.append(idx)
        if len(self.lengths) - self.done >= self.config.batch_size:
            self.flush()

    def flush(self) -> None:
        np = self.np
        size = len(self.lengths) - self.done
        block = np.zeros((size, self.width), dtype=np.uint64)
        rel = np.asarray(self.slots, dtype=np.int64) - self.done
        if self.sketcher is not None:
            batch = self.sketcher.shingle(self.texts, self.config.norms)
            if self.texts:
                block[rel] = self.sketcher.band_keys(batch)
            self._keep(batch, rel, size)
        elif self.texts:
            block[rel, 0] = [_exact_key(t) for t in self.texts]
        self.texts.clear()
        self.slots.clear()
        self.blocks.append(block)
        self.done += size

    def _keep(self, batch: Any, rel: "np.ndarray", size: int) -> None:
        """Offer this batch's shingles to the cache (see :mod:`.shinglecache`)."""
        np = self.np
        if self.cache is None or self.cache.room <= 0:
            return
        # Each row's hashes sorted and unique, for the whole batch in one sort of
        # (row, hash) keys, so verification uses them as they are (see jaccard).
        per_text = np.diff(batch.offsets.astype(np.int64))
        owner = np.repeat(rel.astype(np.uint64), per_text)
        keyed = np.sort((owner << np.uint64(32)) | (batch.flat >> np.uint64(32)))
        if len(keyed):
            keyed = keyed[np.concatenate(([True], keyed[1:] != keyed[:-1]))]
        counts = np.bincount((keyed >> np.uint64(32)).astype(np.int64), minlength=size)
        bounds = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(counts, out=bounds[1:])
        self.cache.add(self.done, bounds, keyed.astype(np.uint32))

    def keys(self) -> "np.ndarray":
        self.flush()
        return self.blocks.join()


class KeyBlocks:
    """Key blocks of a pass, appended as they come and joined into one array at the end.

    They go to an unlinked temporary file (``TMPDIR``) and are read back once into the
    final array, so the peak is that array alone. Kept in memory, a million rows' small
    blocks (112 MB) stay in the allocator's heap after they are copied and freed, and the
    process's peak is twice the keys (measured). A failed write (disk full) keeps the
    blocks in memory instead.

    >>> import numpy as np
    >>> kb = KeyBlocks(2)
    >>> kb.append(np.array([[1, 2]], np.uint64)); kb.append(np.array([[3, 4], [5, 6]], np.uint64))
    >>> kb.join().tolist()
    [[1, 2], [3, 4], [5, 6]]
    """

    def __init__(self, width: int, *, spill: bool = True) -> None:
        self.width = width
        self.rows = 0
        self.written = 0  # rows in the file: always the first ones
        self.blocks: list["np.ndarray"] = []  # rows after those
        self._file: Any = None
        self._spill = spill

    def append(self, block: "np.ndarray") -> None:
        self.rows += len(block)
        if self._spill and not self.blocks:
            try:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="sftdata-keys-")
                self._file.write(_np().ascontiguousarray(block, dtype=_np().uint64).reshape(-1).view(_np().uint8))
                self.written += len(block)
                return
            except OSError:
                self._spill = False
        self.blocks.append(block)

    def join(self) -> "np.ndarray":
        """All rows in order (the blocks are released)."""
        np = _np()
        out = np.empty((self.rows, self.width), dtype=np.uint64)
        at = self.written
        if self._file is not None:
            f, self._file = self._file, None
            with f:
                f.seek(0)
                view = memoryview(out.reshape(-1).view(np.uint8)[: at * self.width * 8])
                got = 0
                while got < len(view):
                    n = f.readinto(view[got:])
                    if not n:
                        raise OSError(f"temporary key file ended at {got} of {len(view)} bytes")
                    got += n
        self.blocks.reverse()
        while self.blocks:
            block = self.blocks.pop()
            out[at : at + len(block)] = block
            at += len(block)
        return out


@dataclass
class Matches:
    """Pass-2 result over the concatenation of the fingerprinted files (references first).

    ``dup_of[i]`` is the global index of the kept record that row ``i`` duplicates
    (-1: none) and ``score[i]`` the verified Jaccard similarity (1.0 for exact matches);
    ``group[i]`` (policy ``"all"``) is the smallest index of row ``i``'s group.
    """

    dup_of: "np.ndarray"
    score: "np.ndarray"
    group: "np.ndarray | None" = None


class _UnionFind:
    def __init__(self, n: int) -> None:
        # 8 bytes a row; a list of Python ints costs ~36 (36 MB per million rows).
        self.parent = array("q", range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller index is the root, so a group is named by its first record.
            self.parent[max(ra, rb)] = min(ra, rb)


def match(files: list[Fingerprints], config: MatchConfig, *, references: int = 0, policy: Policy = "kept", within: bool = True) -> Matches:
    """Pass 2: decide duplicates over ``files`` taken as one sequence.

    The first ``references`` files (an eval set) are indexed but never dropped; with
    ``within=False`` the others are matched only against them.
    """
    np = _np()
    # One file (the usual case) is used as it is: a copy would double the largest array
    # of pass 2 (112 MB per million rows).
    if len(files) == 1:
        keys = files[0].keys
    else:
        keys = np.concatenate([f.keys for f in files]) if files else np.zeros((0, 1), dtype=np.uint64)
    n = len(keys)
    n_ref = sum(len(f) for f in files[:references])
    dup_of = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float32)
    uf = _UnionFind(n) if policy == "all" else None
    table = BucketTable(keys)
    del keys  # the table holds what matching needs from them
    needed = table.needed
    exact = config.mode == "exact"
    store = _Shingles(files)

    def decide(i: int, shingles: Any) -> bool:
        """Match row ``i``; returns whether to index it."""
        is_ref = i < n_ref
        if not is_ref:
            hits = table.hits(i)
            if len(hits) > config.max_candidates:
                top = Counter(hits).most_common()
                top.sort(key=lambda jc: (-jc[1], jc[0]))
                hits = [j for j, _ in top[: config.max_candidates]]
            candidates = sorted(set(hits))
            for j in candidates:
                if not within and j >= n_ref:
                    continue
                if uf is not None and uf.find(j) == uf.find(i):
                    continue
                sim = 1.0 if exact else jaccard(shingles, store.get(j))
                if sim >= config.threshold:
                    if uf is not None:
                        uf.union(i, j)
                        if dup_of[i] < 0:
                            dup_of[i], score[i] = j, sim
                        continue
                    dup_of[i], score[i] = j, sim
                    return False
        if uf is None and not is_ref and not within:
            return False
        table.index(i)
        return True

    if exact:
        for i in needed.tolist():
            decide(i, None)
    else:
        for i, shingles in _reshingle(files, needed, config):
            if decide(i, shingles) and not store.cached(i):
                store.keep(i, shingles)
    store.close()
    group = None
    if uf is not None:
        group = np.fromiter((uf.find(i) for i in range(n)), dtype=np.int64, count=n)
    return Matches(dup_of, score, group)


class _Shingles:
    """The shingles of indexed rows, for verifying later rows against them: read back
    from pass 1's cache (on disk) when it holds the row, else kept here."""

    def __init__(self, files: list[Fingerprints]) -> None:
        self.starts: list[int] = []
        self.caches: list[ShingleCache | None] = []
        start = 0
        for fp in files:
            self.starts.append(start)
            self.caches.append(fp.shingles)
            start += len(fp)
        self.kept: dict[int, Any] = {}

    def _where(self, i: int) -> tuple[ShingleCache | None, int]:
        f = bisect_right(self.starts, i) - 1
        return self.caches[f], i - self.starts[f]

    def cached(self, i: int) -> bool:
        cache, local = self._where(i)
        return cache is not None and local < cache.rows

    def keep(self, i: int, shingles: Any) -> None:
        self.kept[i] = shingles

    def get(self, i: int) -> Any:
        hit = self.kept.get(i)
        if hit is not None:
            return hit
        cache, local = self._where(i)
        return cache.get(local)  # type: ignore[union-attr]

    def close(self) -> None:
        for cache in self.caches:
            if cache is not None:
                cache.close()


def _reshingle(files: list[Fingerprints], needed: "np.ndarray", config: MatchConfig) -> Iterator[tuple[int, Any]]:
    """Shingle sets of the ``needed`` rows, in index order: from pass 1's cache for the
    cached prefix of each file, else re-read and re-shingled a batch at a time."""
    sketcher = Sketcher(config.sketch)
    offset = 0
    for fp in files:
        local = needed[(needed >= offset) & (needed < offset + len(fp))] - offset
        cached = fp.shingles or ShingleCache(0)
        for i in local[local < cached.rows].tolist():
            yield offset + i, cached.get(i)  # sorted and unique already
        rest = set(local[local >= cached.rows].tolist())
        if rest:
            batch: list[tuple[int, str]] = []

            def emit() -> Iterator[tuple[int, Any]]:
                shingled = sketcher.shingle([t for _, t in batch], config.norms)
                for pos, (gi, _) in enumerate(batch):
                    yield gi, shingled.set(pos)
                batch.clear()

            with progress(f"verifying candidates in {fp.path}", total=len(rest)) as advance:
                text = viewer(fp.fmt, config.view)
                for line in lines(fp.path):
                    if line.idx in rest and line.idx not in fp.failed:
                        batch.append((offset + line.idx, text(line.row, line.source)))
                        advance()
                        if len(batch) >= config.batch_size:
                            yield from emit()
                if batch:
                    yield from emit()
        offset += len(fp)
