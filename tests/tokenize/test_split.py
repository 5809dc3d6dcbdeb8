"""`tokenize --val-size`: the validation split LLaMA-Factory's `split_dataset` makes
(`train_test_split(test_size, seed)` on the merged raw rows, before preprocessing), each
split preprocessed on its own, in its own order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("datasets")

from _trainkit import make_records, write_jsonl
from datasets import Dataset, load_from_disk

import sftdata
from sftdata.errors import UsageError
from sftdata.record import KTORecord
from sftdata.templates import get_template
from sftdata.tokenize import TokenizeConfig, tokenize_dataset
from sftdata.tokenize.layouts import Encoder, kl_records
from sftdata.tokenize.packing import PackStats
from sftdata.tokenizers import get_tokenizer

TOK = get_tokenizer("qwen2.5")
TPL = get_template("qwen", tokenizer=TOK)


def split_like_datasets(n: int, val_size: float, seed: int) -> tuple[list[int], list[int]]:
    parts = Dataset.from_dict({"i": list(range(n))}).train_test_split(test_size=int(val_size) if val_size > 1 else val_size, seed=seed)
    return parts["train"]["i"], parts["test"]["i"]


@pytest.mark.parametrize(("val_size", "seed", "workers"), [(0.1, 42, 1), (7, 3, 2), (0.5, 0, 2)])
def test_splits_are_the_unsplit_rows_in_train_test_split_order(tmp_path: Path, val_size: float, seed: int, workers: int) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", make_records(53))
    whole = tokenize_dataset([src], tmp_path / "whole", TokenizeConfig(trainer="llamafactory", cutoff_len=64))
    report = tokenize_dataset([src], tmp_path / "split", TokenizeConfig(trainer="llamafactory", cutoff_len=64, val_size=val_size, seed=seed), workers=workers)
    rows = load_from_disk(str(tmp_path / "whole"))["train"].to_list()
    split = load_from_disk(str(tmp_path / "split"))
    train, val = split_like_datasets(53, val_size, seed)
    assert list(split) == ["train", "validation"]
    assert split["train"].to_list() == [rows[i] for i in train]
    assert split["validation"].to_list() == [rows[i] for i in val]
    assert report.splits == {"train": len(train), "validation": len(val)} and report.rows == whole.rows == 53
    assert report.tokens == whole.tokens and report.key != whole.key


def test_two_inputs_are_merged_before_the_split(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", make_records(20, seed=1))
    b = write_jsonl(tmp_path / "b.jsonl", make_records(15, seed=2))
    tokenize_dataset([a, b], tmp_path / "whole", TokenizeConfig(trainer="sftdata"))
    tokenize_dataset([a, b], tmp_path / "split", TokenizeConfig(trainer="sftdata", val_size=0.2))
    rows = load_from_disk(str(tmp_path / "whole"))["train"].to_list()
    split = load_from_disk(str(tmp_path / "split"))
    train, val = split_like_datasets(35, 0.2, 42)
    assert split["validation"].to_list() == [rows[i] for i in val]  # source and line kept per row
    assert {r["source"] for r in split["train"].to_list()} == {str(a), str(b)}
    assert split["train"].to_list() == [rows[i] for i in train]


def test_kto_pairs_are_shifted_within_each_split_in_its_own_order(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}], "label": i % 3 != 0} for i in range(40)]
    src = tmp_path / "kto.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", stage="kto", val_size=0.25, seed=7))
    split = load_from_disk(str(tmp_path / "tok"))
    records: list[KTORecord] = list(sftdata.read(src))  # type: ignore[arg-type]
    enc = Encoder(TOK, TPL, "llamafactory", None, None)
    for name, order in zip(("train", "validation"), split_like_datasets(40, 0.25, 7)):
        ordered = [records[i] for i in order]
        kls = kl_records(ordered)  # one preprocessing batch per split (< 1000 rows)
        got = split[name].to_list()
        assert [r["input_ids"] for r in got] == [enc(r).input_ids for r in ordered]
        assert [r["kl_input_ids"] for r in got] == [enc(k).input_ids for k in kls]


def test_trl_text_layout_writes_both_splits(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "human", "value": f"q{i}"}], "chosen": {"from": "gpt", "value": f"good {i}"}, "rejected": {"from": "gpt", "value": f"bad {i}"}} for i in range(12)]
    src = tmp_path / "pref.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="trl", stage="dpo", val_size=4))
    encode = sftdata.get_format("trl").encode
    every = [encode(r)[0] for r in sftdata.read(src)]
    train, val = split_like_datasets(12, 4, 42)
    for name, order in (("train", train), ("validation", val)):
        written = [json.loads(x) for x in (tmp_path / "tok" / f"{name}.jsonl").read_text().splitlines()]
        assert written == [every[i] for i in order]
    assert report.splits == {"train": 8, "validation": 4} and report.read == 12
    assert any("train.jsonl and validation.jsonl" in n for n in report.notes)


def test_a_split_that_leaves_a_side_empty_is_a_usage_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", make_records(5))
    with pytest.raises(UsageError, match="--val-size 9 cannot split 5 rows"):
        tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", val_size=9))
    assert not (tmp_path / "tok").exists()


def test_cli_val_size(tmp_path: Path) -> None:
    from hostile._run import sftdata as cli

    src = write_jsonl(tmp_path / "a.jsonl", make_records(30))
    done = cli("tokenize", src, "-o", tmp_path / "tok", "--trainer", "llamafactory", "--val-size", "0.2", "--seed", "1")
    assert done.code == 0, done.err
    assert "splits: train 24, validation 6" in done.out
    bad = cli("tokenize", src, "-o", tmp_path / "tok2", "--trainer", "llamafactory", "--val-size", "31")
    assert bad.code == 2 and "cannot split 30 rows" in bad.err


def test_pack_forecast_over_batches_of_different_lengths_never_has_negative_padding() -> None:
    stats = PackStats()
    stats.add([200, 10], 20, 200)  # a batch packed to its own longest row
    stats.add([30, 15], 5, 30)
    out = stats.to_dict()
    assert out["padding_tokens"] == (200 + 200 + 30 + 30) - 255 and out["capacity"] == 200
    assert 0 <= out["padding_share"] < 1
