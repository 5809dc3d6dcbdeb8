"""The memory-lean building blocks of matching give exactly what the plain numpy calls give."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sftdata.clean import index as _index
from sftdata.clean.candidates import BucketTable, _dense_ids, _shared
from sftdata.clean.index import KeyBlocks

columns = arrays(np.uint64, st.integers(0, 200), elements=st.integers(0, 12))


@given(columns)
@settings(max_examples=200, deadline=None)
def test_shared_and_dense_ids_equal_np_unique(column: np.ndarray) -> None:
    _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
    assert _shared(np, column).tolist() == ((counts[inverse] > 1) & (column != 0)).tolist()
    ids = _dense_ids(np, column)
    assert ids.dtype == np.int32
    assert ids.tolist() == inverse.tolist()


@given(arrays(np.uint64, st.tuples(st.integers(0, 60), st.integers(1, 4)), elements=st.integers(0, 6)))
@settings(max_examples=100, deadline=None)
def test_bucket_table_matches_a_dictionary_of_keys(keys: np.ndarray) -> None:
    table = BucketTable(keys)
    holders: dict[tuple[int, int], list[int]] = {}
    for i, row in enumerate(keys.tolist()):
        for b, k in enumerate(row):
            if k:
                holders.setdefault((b, k), []).append(i)
    shared = {key for key, rows in holders.items() if len(rows) > 1}
    assert table.needed.tolist() == [i for i, row in enumerate(keys.tolist()) if any((b, k) in shared for b, k in enumerate(row))]
    for i in table.needed.tolist():  # index every needed row in order; hits = earlier holders of each shared key
        want = sorted(j for b, k in enumerate(keys[i].tolist()) if (b, k) in shared for j in holders[(b, k)] if j < i)
        assert sorted(table.hits(i)) == want
        table.index(i)


@pytest.mark.parametrize("spill", [True, False])
def test_key_blocks_join_in_order(spill: bool) -> None:
    blocks = [np.arange(k * 3, dtype=np.uint64).reshape(k, 3) + 100 * k for k in (1, 0, 5, 1024, 7)]
    kb = KeyBlocks(3, spill=spill)
    for b in blocks:
        kb.append(b)
    assert np.array_equal(kb.join(), np.concatenate(blocks))


def test_key_blocks_keep_the_rest_in_memory_when_a_write_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _index.tempfile.TemporaryFile

    def full(*a: object, **k: object):  # type: ignore[no-untyped-def]
        f = real(*a, **k)
        write = f.write

        def fail(data: object) -> int:
            write(bytes(memoryview(data))[:5])  # part of the block made it to disk
            raise OSError(28, "No space left on device")

        def once(data: object) -> int:  # the first block fits, then the disk is full
            f.write = fail
            return write(data)

        f.write = once
        return f

    monkeypatch.setattr(_index.tempfile, "TemporaryFile", full)
    kb = KeyBlocks(2)
    kb.append(np.ones((2, 2), np.uint64))
    kb.append(np.zeros((1, 2), np.uint64))
    kb.append(np.full((1, 2), 7, np.uint64))
    assert kb.join().tolist() == [[1, 1], [1, 1], [0, 0], [7, 7]]
