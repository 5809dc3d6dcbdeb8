"""Shingles and MinHash band keys for near-duplicate detection, a batch at a time.

Shingling runs in numpy over a whole batch of texts (one ``str.encode`` and a few array
operations instead of a Python loop per word): words are maximal runs of non-space
characters, each hashed as a polynomial of its characters; a shingle is ``ngram`` consecutive
words, or ``char_ngram`` consecutive characters for CJK text (Chinese, Japanese, Korean
have no spaces between words, so word shingles would be whole sentences). A text with
fewer units than one shingle is a single shingle. Hashes are 64-bit and deterministic
(no Python ``hash()``, which changes between runs).

MinHash signatures come from rensa's Rust ``RMinHash`` over these pre-hashed shingles;
a band key is a 64-bit mix of ``rows`` consecutive signature values. Two texts become
candidates when they share a band key; candidates are then verified with the exact
Jaccard similarity of their shingle sets, so band collisions never cause a false drop.

>>> sk = Sketcher(SketchConfig())
>>> batch = sk.shingle(["the cat sat on the mat today", "the cat sat on the mat today", "数据清洗很重要"])
>>> jaccard(batch.set(0), batch.set(1)), len(batch.set(2))
(1.0, 5)
>>> len(sk.shingle(["数据 清洗"]).set(0)), len(sk.shingle(["a  b\t c d"]).set(0)) == len(sk.shingle(["a b c d"]).set(0))
(2, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._deps import _np, _rensa
from .views import Norm, normalize

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

Unit = Literal["auto", "word", "char"]
UNITS: tuple[Unit, ...] = ("auto", "word", "char")

_P = 0x100000001B3  # odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 1 << 64)
# Mixing constants (splitmix64 finalizer) and per-position n-gram multipliers.
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_POS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63)
_SPACES = (9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_CJK = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))


_SIGNED = False  # whether this process has computed a signature (see fork_safe)


def fork_safe() -> bool:
    """Whether a forked child of this process can still compute signatures: not once this
    process has, because rensa's native thread pool does not survive a fork and the child
    deadlocks (measured; importing rensa alone is harmless)."""
    return not _SIGNED


@dataclass(frozen=True)
class SketchConfig:
    """Shingling and LSH parameters.

    ``bands * rows`` signature values are used. The defaults (14 bands of 5 rows, what
    :func:`choose_bands` picks for 0.8 from 72 values) make a pair at Jaccard 0.8 a
    candidate with probability 1 - (1 - 0.8**5)**14 = 0.996, and a pair at 0.3 with
    probability 0.034 (candidates are verified exactly, so this only costs time).
    Fewer permutations matter: turning signatures into Python values is the slowest
    step of sketching.
    """

    ngram: int = 3
    char_ngram: int = 3
    unit: Unit = "auto"
    cjk_share: float = 0.3
    bands: int = 14
    rows: int = 5
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two texts with this Jaccard similarity share a band.

    >>> round(candidate_probability(0.8, 14, 5), 4)
    0.9961
    """
    return 1.0 - (1.0 - similarity**rows) ** bands


def choose_bands(threshold: float, num_perm: int = 72, target: float = 0.99) -> tuple[int, int]:
    """The ``(bands, rows)`` with the most rows per band (fewest false candidates) that
    still finds a pair exactly at ``threshold`` with probability >= ``target``.

    >>> choose_bands(0.8)
    (14, 5)
    >>> choose_bands(0.5, num_perm=128)
    (42, 3)
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) >= target:
            return bands, rows
    return num_perm, 1


def jaccard(a: "np.ndarray", b: "np.ndarray") -> float:
    """Exact Jaccard similarity of two sorted unique shingle-hash arrays.

    Millions of calls on arrays of a few hundred values: the few numpy calls below cost
    a third less than ``np.intersect1d`` (measured), whose wrapper dominates at this size.

    >>> np = _np()
    >>> jaccard(np.array([1, 2, 3], np.uint32), np.array([2, 3, 4], np.uint32))
    0.5
    """
    np = _np()
    if not len(a) or not len(b):
        return 0.0
    both = np.concatenate((a, b))
    both.sort()
    inter = int(np.count_nonzero(both[1:] == both[:-1]))
    return inter / (len(a) + len(b) - inter)


def unique_sorted(values: "np.ndarray") -> "np.ndarray":
    """``np.unique`` for one small array, at a quarter of its cost (measured: its wrapper,
    not the sort, is what a few hundred values pay for).

    >>> unique_sorted(_np().array([3, 1, 3, 2], _np().uint32)).tolist()
    [1, 2, 3]
    """
    np = _np()
    out = np.sort(values)
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


@dataclass
class ShingleBatch:
    """Shingle hashes of a batch: ``flat[offsets[i]:offsets[i+1]]`` are text ``i``'s."""

    flat: "np.ndarray"
    offsets: "np.ndarray"

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def set(self, i: int) -> "np.ndarray":
        """Sorted unique shingle hashes of text ``i`` (top 32 bits: half the memory, and
        a collision inside one pair of texts is a one-in-millions event)."""
        np = _np()
        return unique_sorted((self.flat[int(self.offsets[i]) : int(self.offsets[i + 1])] >> np.uint64(32)).astype(np.uint32))

    def size(self, i: int) -> int:
        return int(self.offsets[i + 1] - self.offsets[i])


class Sketcher:
    """Shingles texts and computes band keys."""

    def __init__(self, config: SketchConfig) -> None:
        self.config = config
        np = _np()
        self._np = np
        self._pow = np.ones(1, dtype=np.uint64)
        self._inv = np.ones(1, dtype=np.uint64)
        # Lookups in these tables use ``take``: 2-3x faster than fancy indexing (measured).
        # Character classes of every code point: bit 0 space, bit 1 CJK (supplementary
        # planes are letters: one byte each, so a lookup needs no clamping pass).
        classes = np.zeros(0x110000, dtype=np.uint8)
        classes[list(_SPACES)] = 1
        classes[0x2000:0x200B] = 1
        for lo, hi in _CJK:
            if hi < 0x10000:
                classes[lo : hi + 1] = 2
        self._classes = classes

    def _powers(self, n: int) -> tuple["np.ndarray", "np.ndarray"]:
        """``P**k`` and ``P**-k`` (mod 2**64) for k < n, grown on demand."""
        np = self._np
        if len(self._pow) < n:
            size = max(n, 2 * len(self._pow))
            with np.errstate(over="ignore"):
                for attr, base in (("_pow", _P), ("_inv", _P_INV)):
                    steps = np.full(size, base, dtype=np.uint64)
                    steps[0] = 1
                    setattr(self, attr, np.cumprod(steps, dtype=np.uint64))
        return self._pow, self._inv

    def _mix(self, x: "np.ndarray") -> "np.ndarray":
        np = self._np
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(_M1)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(_M2)
        return x ^ (x >> np.uint64(31))

    def _codes(self, texts: list[str]) -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
        """Code points of the texts, each followed by a line break so that no word
        crosses two texts; and each text's length and start offset."""
        np = self._np
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        codes = np.frombuffer(("\n".join(texts) + "\n").encode("utf-32-le"), dtype=np.uint32)
        starts = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=starts[1:])
        return codes, lengths, starts

    def _normalized_codes(self, texts: list[str], norms: frozenset[Norm]) -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
        """Code points of ``normalize(text, norms)`` for every text: a table lookup for
        texts of simple characters, ``normalize`` itself for the others (see :mod:`.fold`)."""
        from .fold import SLOW, folding

        np = self._np
        fold = folding(norms)
        codes, lengths, starts = self._codes(texts)
        mapped = fold.table.take(codes)
        # Slow characters map to themselves with the top bit set (see fold.py).
        slow = np.flatnonzero(np.add.reduceat(mapped >= np.uint32(SLOW), starts[:-1], dtype=np.int64))
        if not len(slow):
            return mapped, lengths, starts
        # Splice those texts, normalised in Python, between the table-mapped stretches.
        pieces, pos, lengths = [], 0, lengths.copy()
        for i in slow.tolist():
            text = normalize(texts[i], norms)
            lengths[i] = len(text)
            pieces += [mapped[pos : starts[i]], np.frombuffer((text + "\n").encode("utf-32-le"), dtype=np.uint32)]
            pos = starts[i + 1]
        pieces.append(mapped[pos:])
        np.cumsum(lengths + 1, out=starts[1:])
        return np.concatenate(pieces), lengths, starts

    def shingle(self, texts: list[str], norms: frozenset[Norm] = frozenset()) -> ShingleBatch:
        """Shingle hashes of every text, after ``normalize(text, norms)`` (see the module
        docstring for the rules).

        Whitespace only separates words (word shingles) and is skipped by character
        shingles, so runs of spaces or line breaks never change a text's shingles.
        """
        np = self._np
        cfg = self.config
        n_texts = len(texts)
        codes, lengths, starts = self._normalized_codes(texts, norms) if norms else self._codes(texts)
        cls = self._classes.take(codes)
        solid = (cls & 1) == 0
        if cfg.unit == "auto":
            # CJK and non-space characters per text (every segment holds at least its
            # separator, so reduceat never sees an empty one).
            cjk = np.add.reduceat(cls >> 1, starts[:-1], dtype=np.int64)
            letters = np.add.reduceat(solid, starts[:-1], dtype=np.int64)
            char_mode = cjk > cfg.cjk_share * np.maximum(letters, 1)
        else:
            char_mode = np.full(n_texts, cfg.unit == "char")
        pieces: list[tuple["np.ndarray", "np.ndarray"]] = []
        with np.errstate(over="ignore"):
            if char_mode.all():
                char_mask = solid
            elif char_mode.any():
                in_char = np.repeat(char_mode, lengths + 1)
                char_mask = solid & in_char
                pieces.append(self._word_shingles(codes, solid & ~in_char, starts, n_texts))
            else:
                char_mask = None
                pieces.append(self._word_shingles(codes, solid, starts, n_texts))
            if char_mask is not None:
                pieces.append(self._char_shingles(codes, char_mask, starts, n_texts))
        if len(pieces) == 1:
            flat, rec = pieces[0]
        else:
            flat = np.concatenate([p[0] for p in pieces])
            rec = np.concatenate([p[1] for p in pieces])
            order = np.argsort(rec, kind="stable")
            flat, rec = flat[order], rec[order]
        offsets = np.searchsorted(rec, np.arange(n_texts + 1)).astype(np.uint64)
        return ShingleBatch(flat, offsets)

    def _grams(self, units: "np.ndarray", unit_rec: "np.ndarray", n: int, n_texts: int) -> tuple["np.ndarray", "np.ndarray"]:
        """n-grams of consecutive unit hashes within one text; a text with fewer than n
        units keeps its units as shingles."""
        np = self._np
        count = len(units)
        per_text = np.bincount(unit_rec, minlength=n_texts)
        short = per_text.take(unit_rec) < n
        gram = np.zeros(count, dtype=np.uint64)
        valid = np.zeros(count, dtype=bool)
        if count >= n:
            m = count - n + 1
            acc = units[:m] * np.uint64(_POS[0])
            for k in range(1, n):
                acc += units[k : k + m] * np.uint64(_POS[k % len(_POS)])
            gram[:m] = self._mix(acc)
            valid[:m] = unit_rec[:m] == unit_rec[n - 1 :]
        use = valid | short
        return np.where(short, units, gram)[use], unit_rec[use]

    def _word_shingles(self, codes: "np.ndarray", mask: "np.ndarray", starts: "np.ndarray", n_texts: int) -> tuple["np.ndarray", "np.ndarray"]:
        """A word's hash is ``mix(sum(code[s + k] * P**k))`` over its characters, taken
        from one prefix sum over the whole batch: ``(S[e] - S[s]) * P**-s`` (P is odd,
        so invertible modulo 2**64). No per-character gathers, whatever the word lengths."""
        np = self._np
        n = len(codes)
        pw, inv = self._powers(n)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.multiply(codes, pw[:n], out=prefix[1:])
        np.cumsum(prefix[1:], out=prefix[1:])
        edge = np.zeros(n + 1, dtype=bool)
        edge[0] = mask[0]
        np.not_equal(mask[1:], mask[:-1], out=edge[1:n])
        edge[n] = mask[-1]
        bounds = np.flatnonzero(edge)
        first, end = bounds[0::2], bounds[1::2]
        if not len(first):
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        words = self._mix((prefix.take(end) - prefix.take(first)) * inv.take(first))
        owner = np.searchsorted(starts, first, side="right") - 1
        return self._grams(words, owner, self.config.ngram, n_texts)

    def _char_shingles(self, codes: "np.ndarray", mask: "np.ndarray", starts: "np.ndarray", n_texts: int) -> tuple["np.ndarray", "np.ndarray"]:
        np = self._np
        idx = np.flatnonzero(mask)
        chars = self._mix(codes.take(idx).astype(np.uint64) + np.uint64(0x51ED27))
        # idx is sorted: text i owns the next (its masked characters) of them
        owner = np.repeat(np.arange(n_texts), np.add.reduceat(mask, starts[:-1], dtype=np.int64))
        return self._grams(chars, owner, self.config.char_ngram, n_texts)

    def band_keys(self, batch: ShingleBatch) -> "np.ndarray":
        """``(len(batch), bands)`` uint64 band keys; rows of empty texts are all zero."""
        np = self._np
        cfg = self.config
        global _SIGNED
        _SIGNED = True
        matrix = _rensa().RMinHash.digest_matrix_from_flat_token_hashes(batch.flat, batch.offsets, cfg.num_perm, cfg.seed)
        sig = np.array(matrix.to_rows(), dtype=np.uint64).reshape(len(batch), cfg.bands, cfg.rows)
        with np.errstate(over="ignore"):
            acc = np.zeros((len(batch), cfg.bands), dtype=np.uint64)
            for r in range(cfg.rows):
                acc = (acc + sig[:, :, r]) * np.uint64(_POS[r % len(_POS)])
            keys = self._mix(acc)
        empty = batch.offsets[1:] == batch.offsets[:-1]
        keys[empty] = 0
        return keys
