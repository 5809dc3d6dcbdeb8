"""Normalisation by table lookup (sftdata/clean/fold.py) must equal views.normalize."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.clean.fold import COVERED, folding
from sftdata.clean.sketch import SketchConfig, Sketcher
from sftdata.clean.views import normalize

NORM_SETS = [frozenset(s) for s in ({"nfkc", "case"}, {"nfkc"}, {"case"}, {"whitespace"}, {"nfkc", "case", "whitespace"})]


@pytest.mark.parametrize("norms", NORM_SETS, ids=lambda n: "+".join(sorted(n)))
def test_every_simple_character_maps_like_normalize(norms: frozenset) -> None:
    fold = folding(norms)
    checked = 0
    for block in COVERED:
        for cp in block:
            if fold.slow[cp] or 0xD800 <= cp < 0xE000:
                continue
            c, mapped = chr(cp), chr(int(fold.table[cp]))
            # between two plain letters, as in running text
            expected = normalize(f"q{c}q", norms - {"whitespace"})
            if "whitespace" in norms and mapped == " ":
                assert (f"q{c}q").split() == ["q", "q"] or c == " ", hex(cp)
            else:
                assert expected == f"q{mapped}q", hex(cp)
            checked += 1
    assert checked > 60_000  # nearly all of the BMP is simple


def test_characters_that_need_their_neighbours_are_slow() -> None:
    fold = folding(frozenset({"nfkc", "case"}))
    for c in ["\u0301", "\u1161", "\u11a8", "\u3150", "ß", "…", "™", "\U0001d400", "\U0002f800"]:
        assert fold.slow[ord(c)], repr(c)
    for c in "aZé，Ａ데数\u3000\U0001f600":
        assert not fold.slow[ord(c)], repr(c)
    assert chr(int(fold.table[ord("Ａ")])) == "a" and chr(int(fold.table[ord("，")])) == ","


# Letters, precomposed and combining marks, Hangul syllables and jamo (which compose),
# full-width forms, Devanagari, compatibility characters, supplementary planes, spaces.
ALPHABET = st.sampled_from(
    list("aAzZ éÉñ\n\t\u3000\xa0\u2003")
    + ["\u0301", "\u0323", "\u0308", "\u094d", "\u093c", "\u0915", "\u0b47", "\u0b3e"]
    + ["\u1100", "\u1161", "\u11a8", "\uac00", "\u3131", "\u314f", "\ud55c"]
    + ["Ａ", "，", "ß", "ẞ", "…", "™", "Å", "ﬁ", "①", "数", "据", "İ", "\x1c"]
    + ["\U0001f600", "\U0001d400", "\U0001f100", "\U0002f800", "\U00020000"]
)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(alphabet=ALPHABET, max_size=30), min_size=1, max_size=5), norms=st.sampled_from(NORM_SETS), unit=st.sampled_from(["auto", "word", "char"]))
def test_shingling_with_norms_equals_shingling_normalized_text(texts: list[str], norms: frozenset, unit: str) -> None:
    sk = Sketcher(SketchConfig(unit=unit))  # type: ignore[arg-type]
    fast = sk.shingle(texts, norms)
    slow = sk.shingle([normalize(t, norms) for t in texts])
    assert fast.offsets.tolist() == slow.offsets.tolist()
    assert fast.flat.tolist() == slow.flat.tolist()
