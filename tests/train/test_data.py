from __future__ import annotations

import json
from pathlib import Path

import pytest
from _trainkit import make_records, write_jsonl

from sftdata.errors import UsageError
from sftdata.train import _tokenization, get_stage
from sftdata.train.config import TrainConfig
from sftdata.train.data import IGNORE, DataReport, Example, batch_order, collate, load_examples, make_units, pack_rows, resolve_dataset, split


def cfg(data: Path, **kw: object) -> TrainConfig:
    return TrainConfig(model_name_or_path="unused", dataset=str(data), output_dir="unused", tokenizer="qwen2.5", **kw)


def load(config: TrainConfig) -> tuple[list[Example], DataReport]:
    _tok, _tpl, encode = _tokenization(config)
    report = DataReport()
    examples = load_examples(resolve_dataset(config.dataset, config.dataset_dir), encode, max_samples=config.max_samples, report=report, stage=get_stage(config))
    return examples, report


@pytest.mark.parametrize("train_on", ["all", "last"])
def test_labels_are_ignore_exactly_outside_trainable_spans(tmp_path: Path, train_on: str) -> None:
    from sftdata.api import read
    from sftdata.templates import get_template
    from sftdata.tokenizers import get_tokenizer

    data = write_jsonl(tmp_path / "d.jsonl", make_records(8))
    examples, report = load(cfg(data, train_on=train_on))
    tok, tpl = get_tokenizer("qwen2.5"), get_template("qwen")
    assert len(examples) == 8 and report.read == 8
    for record, ex in zip(read(data), examples):
        rendered = tpl.render(record, train_on=train_on)
        # expected labels, token by token: each run of equally-trained spans tokenized alone
        want_ids: list[int] = []
        want_labels: list[int] = []
        runs: list[tuple[str, bool]] = []
        for text, span in rendered.pieces():
            if runs and runs[-1][1] == span.trainable:
                runs[-1] = (runs[-1][0] + text, span.trainable)
            else:
                runs.append((text, span.trainable))
        for text, trainable in runs:
            ids = tok.encode(text)
            want_ids += ids
            want_labels += ids if trainable else [IGNORE] * len(ids)
        assert list(ex.input_ids) == want_ids
        assert list(ex.labels) == want_labels
        assert tok.decode([t for t in ex.labels if t != IGNORE]) == rendered.trainable_text()
        # the end-of-turn token of every trained assistant turn is trained
        im_end = tok.token_id("<|im_end|>")
        trained_ends = sum(1 for i, lab in zip(ex.input_ids, ex.labels) if i == im_end and lab == im_end)
        assert trained_ends == rendered.trainable_text().count("<|im_end|>") >= 1


def test_train_on_last_trains_fewer_tokens(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_records(4))
    all_ex, _ = load(cfg(data, train_on="all"))
    last_ex, _ = load(cfg(data, train_on="last"))
    assert [e.input_ids for e in all_ex] == [e.input_ids for e in last_ex]
    assert [e.n_trained for e in all_ex] == [2, 2, 2, 4]  # the answer word + <|im_end|>, per trained turn
    assert [e.n_trained for e in last_ex] == [2, 2, 2, 2]


def test_rows_without_trained_tokens_and_bad_rows_are_counted(tmp_path: Path) -> None:
    rows = make_records(3)
    lines = [json.dumps(r) for r in rows] + ['{"conversations": [{"from": "human", "value": "only a question"}]}', '{"conversations": "not a list"}']
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(lines) + "\n")
    config = cfg(data)
    _tok, _tpl, encode = _tokenization(config)
    report = DataReport()
    examples = load_examples([(data, "sharegpt")], encode, max_samples=None, report=report, stage=get_stage(config))
    assert len(examples) + sum(report.dropped.values()) == report.read == 5
    assert len(examples) == 3
    # invalid rows are reported by the validator's rules with their line, not trained
    assert report.dropped == {"no-assistant": 1, "wrong-type": 1}
    assert [d.split(" [")[0] for d in report.first_drops] == [f"{data}:4: conversations[0]", f"{data}:5: conversations"]
    # everything cut away by a tiny cutoff_len: dropped and counted, not trained
    short = cfg(data, cutoff_len=8)
    _tok, _tpl, encode = _tokenization(short)
    report2 = DataReport()
    kept = load_examples([(write_jsonl(tmp_path / "ok.jsonl", rows), "sharegpt")], encode, max_samples=None, report=report2, stage=get_stage(short))
    assert (kept, dict(report2.dropped), report2.truncated) == ([], {"no-trained-token": 3}, 3)


def test_a_line_that_is_not_json_stops_with_its_location(tmp_path: Path) -> None:
    from sftdata.errors import ReadError

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(make_records(1)[0]) + "\n{not json\n")
    with pytest.raises(ReadError, match=f"{data}:2"):
        load(cfg(data))


def test_preference_data_under_stage_sft_names_the_stage_to_use(tmp_path: Path) -> None:
    row = {"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}
    data = write_jsonl(tmp_path / "dpo.jsonl", [row])
    with pytest.raises(UsageError) as info:
        load(cfg(data))
    assert str(info.value) == f"[usage] {data}:1: holds preference records, and stage sft trains sft records. Set stage: dpo for this data (sft: conversations, dpo: preference pairs, kto: labelled completions), or pass a sft dataset."


def test_multimodal_rows_are_refused_not_trained_as_text(tmp_path: Path) -> None:
    """Issue 11: the trainer would train an image row as text with one pad token, unlike
    what stats counts; it refuses with the row's location instead."""
    from PIL import Image

    Image.new("RGB", (4, 3)).save(tmp_path / "cat.png")
    rows = make_records(2) + [{"conversations": [{"from": "human", "value": "<image>What is it?"}, {"from": "gpt", "value": "A cat."}], "images": ["cat.png"]}]
    data = write_jsonl(tmp_path / "mm.jsonl", rows)
    with pytest.raises(UsageError) as info:
        load(cfg(data))
    text = str(info.value)
    assert text.startswith(f"[usage] {data}:3: the row has 1 image/video/audio part(s); the bundled trainer trains text models only")
    assert "sftdata filter" in text


def test_dataset_info_names(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", make_records(2))
    (tmp_path / "dataset_info.json").write_text(json.dumps({"arith": {"file_name": "a.jsonl", "formatting": "sharegpt"}}))
    [(path, fmt)] = resolve_dataset("arith", str(tmp_path))
    assert (path, fmt.name) == (tmp_path / "a.jsonl", "sharegpt")
    [_, second] = resolve_dataset(f"arith,{tmp_path / 'a.jsonl'}", str(tmp_path))
    assert second == (tmp_path / "a.jsonl", "auto")
    with pytest.raises(UsageError, match="Did you mean 'arith'"):
        resolve_dataset("arithm", str(tmp_path))


def test_split_is_disjoint_and_seeded() -> None:
    examples = [Example((i, i), (IGNORE, i)) for i in range(20)]
    train, val = split(examples, 0.25, seed=3)
    assert len(val) == 5 and len(train) == 15
    assert sorted(e.input_ids[0] for e in train + val) == list(range(20))
    assert split(examples, 0.25, seed=3) == (train, val)
    assert len(split(examples, 4, seed=3)[1]) == 4


def test_length_grouped_batches_cover_every_unit_once_and_pad_little() -> None:
    import random

    rng = random.Random(0)
    lengths = [rng.randint(10, 500) for _ in range(1000)]
    grouped = batch_order(lengths, 8, group_by_length=True, seed=1, epoch=0)
    plain = batch_order(lengths, 8, group_by_length=False, seed=1, epoch=0)
    assert sorted(i for b in grouped for i in b) == list(range(1000))
    assert grouped == batch_order(lengths, 8, group_by_length=True, seed=1, epoch=0)
    assert grouped != batch_order(lengths, 8, group_by_length=True, seed=1, epoch=1)

    def padding(batches: list[list[int]]) -> float:
        width = sum(max(lengths[i] for i in b) * len(b) for b in batches)
        return 1 - sum(lengths) / width

    assert padding(grouped) < 0.05 < 0.3 < padding(plain)


def test_pack_rows_first_fit_decreasing() -> None:
    assert pack_rows([5, 3, 4, 2, 6], cutoff_len=8) == [[4, 3], [0, 1], [2]]
    packs = pack_rows([3] * 7, cutoff_len=10)
    assert sorted(i for p in packs for i in p) == list(range(7)) and max(len(p) for p in packs) == 3


def test_collate_pads_right_and_restarts_positions_in_packs() -> None:
    a = Example((1, 2, 3), (IGNORE, 2, 3))
    b = Example((4, 5), (IGNORE, 5))
    c = Example((6, 7, 8, 9), (IGNORE, IGNORE, 8, 9))
    units = make_units([a, b, c], packing=True, cutoff_len=5)
    assert units == [[c], [a, b]]
    batch = collate(units, pad_id=0)
    assert batch.input_ids == [[6, 7, 8, 9, 0], [1, 2, 3, 4, 5]]
    assert batch.targets == [[IGNORE, 8, 9, IGNORE, IGNORE], [2, 3, IGNORE, 5, IGNORE]]
    assert batch.position_ids == [[0, 1, 2, 3, 0], [0, 1, 2, 0, 1]]
    assert (batch.n_rows, batch.n_tokens, batch.n_trained) == (3, 9, 5)
    plain = collate([[a], [b]], pad_id=0)
    assert (plain.input_ids, plain.targets, plain.position_ids) == ([[1, 2, 3], [4, 5, 0]], [[2, 3, IGNORE], [5, IGNORE, IGNORE]], None)


def test_shape_buckets_pad_batches_to_the_bucket_that_fits() -> None:
    from sftdata.train.sft import SFTStage
    from sftdata.train.stage import pad_width

    stage = SFTStage(TrainConfig(model_name_or_path="-", dataset="-", output_dir="-", shape_buckets="16,64"))
    units = [[Example((1,) * 20, (IGNORE,) + (1,) * 19)], [Example((2,) * 5, (IGNORE,) + (2,) * 4)]]
    batch = stage.collate(units, 0, lambda n: pad_width(n, multiple=None, buckets=stage.cfg.buckets))
    assert batch.width == 64 and [len(r) for r in batch.input_ids] == [64, 64]
    assert batch.input_ids[1] == [2] * 5 + [0] * 59 and batch.targets[1] == [2] * 4 + [IGNORE] * 60
    assert (batch.n_tokens, batch.n_trained) == (25, 23)
    with pytest.raises(ValueError, match="shape_buckets"):
        TrainConfig(model_name_or_path="-", dataset="-", output_dir="-", shape_buckets="a")
