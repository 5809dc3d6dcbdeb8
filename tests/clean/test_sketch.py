from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.clean.sketch import SketchConfig, Sketcher, candidate_probability, choose_bands, jaccard

SK = Sketcher(SketchConfig())


def reference_shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    """Word n-grams as plain tuples (the definition the numpy code implements)."""
    words = text.split()
    if len(words) < n:
        return {(w,) for w in words}
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def reference_jaccard(a: str, b: str) -> float:
    sa, sb = reference_shingles(a), reference_shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


words = st.lists(st.sampled_from(["a", "bb", "ccc", "dd", "e", "ff", "g"]), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(a=words, b=words, sep=st.sampled_from([" ", "  ", "\n", " \t "]))
def test_word_shingle_jaccard_equals_reference(a: list[str], b: list[str], sep: str) -> None:
    ta, tb = sep.join(a), " ".join(b)
    batch = SK.shingle([ta, "unrelated filler text", tb])
    assert jaccard(batch.set(0), batch.set(2)) == reference_jaccard(ta, tb)
    assert len(batch.set(0)) == len(reference_shingles(ta))


@settings(max_examples=100, deadline=None)
@given(a=st.text(alphabet="数据清洗很重要的", min_size=1, max_size=30))
def test_cjk_uses_character_trigrams(a: str) -> None:
    batch = SK.shingle([a])
    chars = a
    expected = {chars[i : i + 3] for i in range(len(chars) - 2)} if len(chars) >= 3 else set(chars)
    assert len(batch.set(0)) == len(expected)


def test_units_and_empty_texts() -> None:
    batch = SK.shingle(["", "one", "数据"])
    assert [batch.size(i) for i in range(3)] == [0, 1, 2]
    keys = SK.band_keys(batch)
    assert keys.shape == (3, 14) and not keys[0].any() and keys[1].all()


def test_band_choice() -> None:
    assert choose_bands(0.8) == (14, 5)
    assert candidate_probability(0.8, 14, 5) > 0.99 > candidate_probability(0.8, 12, 6)


M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def reference_word_hashes(text: str) -> list[int]:
    """The documented word-shingle hashes, one word at a time in plain Python:
    ``mix(sum(code * P**k))`` per word, then ``mix(sum(word_k * POS[k]))`` per 3-gram."""
    from sftdata.clean.sketch import _P, _POS

    words = [_mix(sum(ord(ch) * pow(_P, k, 1 << 64) for k, ch in enumerate(w)) & M64) for w in text.split()]
    if len(words) < 3:
        return words
    return [_mix(sum(words[i + k] * _POS[k] for k in range(3)) & M64) for i in range(len(words) - 2)]


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.lists(st.sampled_from(list("ab é\n\tZ") + ["\U0001F600", "ß", "x" * 40]), max_size=60).map("".join), min_size=1, max_size=6))
def test_word_hashes_equal_a_plain_python_reference(texts: list[str]) -> None:
    # The batch code hashes words from one prefix sum over the whole batch; whatever the
    # neighbours and word lengths, each text's hashes must be its own.
    sk = Sketcher(SketchConfig(unit="word"))
    batch = sk.shingle(texts)
    for i, text in enumerate(texts):
        lo, hi = int(batch.offsets[i]), int(batch.offsets[i + 1])
        assert batch.flat[lo:hi].tolist() == reference_word_hashes(text)
