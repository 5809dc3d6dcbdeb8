from __future__ import annotations

import json
from pathlib import Path

import pytest
from _clean_helpers import read_jsonl, sharegpt, write_jsonl

from sftdata.clean.split import SplitConfig, split
from sftdata.errors import UsageError

TOPICS = [
    "rivers and mountains of the northern provinces in early winter",
    "compilers parse source code into trees before generating machine instructions",
    "the orchestra rehearsed the symphony twice before the evening concert began",
    "bees collect nectar from flowers and turn it into honey inside the hive",
    "the committee approved the budget after a long debate about road repairs",
    "photons travel at the speed of light and carry energy without any mass",
]


def rows_with_pairs(n_pairs: int = 30) -> list[dict]:
    """``n_pairs`` near-duplicate pairs (one word changed) and as many singletons."""
    rows = []
    for i in range(n_pairs):
        text = f"record {i} talks about {TOPICS[i % len(TOPICS)]} and then continues with detail number {i * 7} about {TOPICS[(i + 1) % len(TOPICS)]}"
        rows.append(sharegpt(f"question {i}", text, pair=i, category="ab"[i % 2]))
        rows.append(sharegpt(f"question {i}", text.replace("then", "later"), pair=i, category="ab"[i % 2]))
        rows.append(sharegpt(f"single {i}", f"unique {i} " + " ".join(TOPICS[(i + k) % len(TOPICS)].split()[k] for k in range(6)) + f" {i * 13}", pair=-1 - i, category="c"))
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_near_duplicates_never_straddle(tmp_path: Path, seed: int) -> None:
    rows = rows_with_pairs()
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    rep = split(path, tmp_path / "out", SplitConfig(val_size=0.2, seed=seed))
    train, val = read_jsonl(tmp_path / "out" / "train.jsonl"), read_jsonl(tmp_path / "out" / "val.jsonl")
    assert (rep.read, rep.train + rep.val, len(train) + len(val)) == (90, 90, 90)
    assert rep.val == len(val) == 18 and rep.groups == 30 and rep.largest_group == 2
    train_pairs = {r["pair"] for r in train}
    val_pairs = {r["pair"] for r in val}
    assert not (train_pairs & val_pairs)
    assert sorted(map(json.dumps, train + val)) == sorted(map(json.dumps, rows))


def test_without_grouping_pairs_can_straddle(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", rows_with_pairs())
    straddled = 0
    for seed in range(4):
        split(path, tmp_path / f"o{seed}", SplitConfig(val_size=0.2, seed=seed, group="none"))
        val = {r["pair"] for r in read_jsonl(tmp_path / f"o{seed}" / "val.jsonl")}
        train = {r["pair"] for r in read_jsonl(tmp_path / f"o{seed}" / "train.jsonl")}
        straddled += len(train & val)
    assert straddled > 0  # so the grouped test above is not trivially true


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", rows_with_pairs())
    split(path, tmp_path / "a", SplitConfig(val_size=10, seed=42))
    split(path, tmp_path / "b", SplitConfig(val_size=10, seed=42))
    split(path, tmp_path / "c", SplitConfig(val_size=10, seed=7))
    val_a = (tmp_path / "a" / "val.jsonl").read_bytes()
    assert val_a == (tmp_path / "b" / "val.jsonl").read_bytes()
    assert val_a != (tmp_path / "c" / "val.jsonl").read_bytes()
    assert len(read_jsonl(tmp_path / "a" / "val.jsonl")) == 10


def test_stratify(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", rows_with_pairs())
    rep = split(path, tmp_path / "o", SplitConfig(val_size=0.2, seed=3, stratify="category"))
    # strata a/b/c hold 30 records each: 6 of each go to validation (pairs stay whole)
    assert rep.strata == {"a": {"train": 24, "val": 6}, "b": {"train": 24, "val": 6}, "c": {"train": 24, "val": 6}}


def test_bad_val_size(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", rows_with_pairs(2))
    with pytest.raises(UsageError):
        split(path, tmp_path / "o", SplitConfig(val_size=1.5))
