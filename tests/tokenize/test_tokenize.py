"""sftdata tokenize: every layout holds exactly what encode_record gives, row for row;
nothing is lost (read == rows + rejected); parallel == serial; LLaMA-Factory's KTO pairs
and packing as its processors build them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("datasets")

from _paths import ROOT
from _trainkit import make_records, write_jsonl
from datasets import load_from_disk

import sftdata
from sftdata.api import RejectSink
from sftdata.record import KTORecord
from sftdata.templates import get_template
from sftdata.tokenize import MANIFEST, TokenizeConfig, tokenize_dataset
from sftdata.tokenize.layouts import Encoder, kl_records
from sftdata.tokenize.packing import greedy_packs
from sftdata.tokenizers import get_tokenizer

FIX = ROOT / "fixtures"
TOK = get_tokenizer("qwen2.5")
TPL = get_template("qwen", tokenizer=TOK)


def rows_of(folder: Path, split: str = "train") -> list[dict[str, Any]]:
    return load_from_disk(str(folder))[split].to_list()


def encoder(trainer: str, cutoff: int | None) -> Encoder:
    return Encoder(TOK, TPL, trainer, None, cutoff)


def test_sftdata_layout_equals_encode_record_row_for_row(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", make_records(40))
    report = tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="sftdata", cutoff_len=128))
    enc = encoder("sftdata", 128)
    expected = []
    for rec in sftdata.read(src):
        e = enc(rec)
        expected.append({"input_ids": e.input_ids, "labels": e.labels, "source": str(src), "line": rec.source.line})
    assert rows_of(tmp_path / "tok") == expected
    assert (report.read, report.rows, report.rejected) == (40, 40, {})
    assert report.tokens == sum(len(r["input_ids"]) for r in expected)
    assert report.trained == sum(1 for r in expected for x in r["labels"] if x != -100)
    manifest = json.loads((tmp_path / "tok" / MANIFEST).read_text())
    assert manifest["key"] == report.key and manifest["parts"]["trainer"] == "sftdata"


def test_trl_layout_columns_and_max_length(tmp_path: Path) -> None:
    report = tokenize_dataset([FIX / "sharegpt" / "sft.jsonl"], tmp_path / "tok", TokenizeConfig(trainer="trl", cutoff_len=512))
    ds = load_from_disk(str(tmp_path / "tok"))
    assert list(ds) == ["train"]
    assert {k: str(v) for k, v in ds["train"].features.items()} == {"input_ids": "List(Value('int32'))", "labels": "List(Value('int64'))"}
    enc = encoder("trl", 512)
    assert ds["train"].to_list() == [{"input_ids": enc(r).input_ids, "labels": enc(r).labels} for r in sftdata.read(FIX / "sharegpt" / "sft.jsonl")]
    assert report.max_length == 512
    assert any("max_length=512" in n for n in report.notes)


def test_nothing_lost_rows_plus_rejected_equal_read(tmp_path: Path) -> None:
    good = make_records(6)
    lines = [json.dumps(r) for r in good]
    lines.insert(2, json.dumps({"conversations": [{"from": "human", "value": "only a question"}]}))
    lines.insert(5, json.dumps({"conversations": "not a list"}))
    src = tmp_path / "mixed.jsonl"
    src.write_text("\n".join(lines) + "\n")
    with RejectSink(tmp_path / "rejects.jsonl") as sink:
        report = tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="sftdata", format="sharegpt"), rejects=sink)
    rejected = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert report.read == 8 == report.rows + sum(report.rejected.values())
    assert sorted(r["line"] for r in rejected) == [3, 6]
    assert [r["line"] for r in rows_of(tmp_path / "tok")] == [1, 2, 4, 5, 7, 8]


def test_bad_row_without_rejects_stops_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps(make_records(1)[0]) + "\n" + json.dumps({"conversations": "x"}) + "\n")
    with pytest.raises(sftdata.RecordError) as info:
        tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="sftdata", format="sharegpt"))
    assert info.value.line == 2
    assert not (tmp_path / "tok").exists()  # nothing half-written


@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_lines_go_to_rejects_in_file_order_and_stop_the_run_without(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """`--rejects` means set aside and go on for lines that are not JSON objects too, in
    file order whatever the batch or range size; without it the run stops at the line."""
    from sftdata.tokenize import run as tokenize_run

    monkeypatch.setattr(tokenize_run, "RANGE_BYTES", 512)  # with 2 workers: many ranges
    lines = [json.dumps(r) for r in make_records(30)]
    lines[4], lines[17], lines[25] = "not json", "[1, 2]", json.dumps({"conversations": "x"})
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join(lines) + "\n")
    with RejectSink(tmp_path / "rejects.jsonl") as sink:
        report = tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="sftdata", format="sharegpt", cutoff_len=512), rejects=sink, workers=workers)
    rejected = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["codes"][0]) for r in rejected] == [(5, "invalid-json"), (18, "wrong-type"), (26, "wrong-type")]
    assert rejected[0]["record"] == "not json"  # the line as it was
    assert report.read == 30 == report.rows + sum(report.rejected.values())
    from sftdata.errors import ReadError

    with pytest.raises(ReadError) as info:
        tokenize_dataset([src], tmp_path / "tok2", TokenizeConfig(trainer="sftdata", format="sharegpt"), workers=workers)
    assert info.value.line == 5 and info.value.code == "invalid-json"
    assert not (tmp_path / "tok2").exists()


def test_wrong_kind_for_the_stage_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(sftdata.RecordError, match="wrong-kind"):
        tokenize_dataset([FIX / "sharegpt" / "sft.jsonl"], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", stage="dpo"))


def test_parallel_byte_ranges_equal_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdata.tokenize import run

    monkeypatch.setattr(run, "RANGE_BYTES", 4096)  # many ranges from a small file
    src = write_jsonl(tmp_path / "a.jsonl", make_records(600))
    one = tokenize_dataset([src], tmp_path / "one", TokenizeConfig(trainer="sftdata", cutoff_len=64), workers=1)
    two = tokenize_dataset([src], tmp_path / "two", TokenizeConfig(trainer="sftdata", cutoff_len=64), workers=2)
    assert rows_of(tmp_path / "one") == rows_of(tmp_path / "two")
    assert (one.rows, one.tokens, one.trained, one.packing) == (two.rows, two.tokens, two.trained, two.packing)


def test_llamafactory_sft_columns_and_types(tmp_path: Path) -> None:
    src = FIX / "sharegpt" / "sft.jsonl"
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", cutoff_len=1024))
    ds = load_from_disk(str(tmp_path / "tok"))["train"]
    assert list(ds.features) == ["input_ids", "attention_mask", "labels", "images", "videos", "audios"]
    assert (str(ds.features["input_ids"]), str(ds.features["attention_mask"]), str(ds.features["labels"])) == ("List(Value('int32'))", "List(Value('int8'))", "List(Value('int64'))")
    enc = encoder("llamafactory", 1024)
    records = list(sftdata.read(src))
    for row, rec in zip(ds.to_list(), records, strict=True):
        e = enc(rec)
        images = [p.url for m in rec.messages for p in m.media("image")]
        assert row == {
            "input_ids": e.input_ids, "attention_mask": [1] * len(e.input_ids), "labels": e.labels,
            "images": [str((src.parent / u).resolve()) for u in images] or None, "videos": None, "audios": None,
        }  # fmt: skip


def kto_file(path: Path, n: int) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i} " * (1 + i % 3)}], "label": i % 2 == 0} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_llamafactory_kto_kl_pairs_shift_within_each_batch_of_1000(tmp_path: Path) -> None:
    src = kto_file(tmp_path / "kto.jsonl", 2100)
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", stage="kto"), workers=2)
    rows = rows_of(tmp_path / "tok")
    records: list[KTORecord] = list(sftdata.read(src))  # type: ignore[arg-type]
    assert len(rows) == 2100
    enc = encoder("llamafactory", None)
    kls = kl_records(records[:1000]) + kl_records(records[1000:2000]) + kl_records(records[2000:])
    for i in (0, 1, 999, 1000, 1001, 1999, 2000, 2099):
        e, k = enc(records[i]), enc(kls[i])
        assert rows[i] == {
            "input_ids": e.input_ids, "attention_mask": [1] * len(e.input_ids), "labels": e.labels,
            "kl_input_ids": k.input_ids, "kl_attention_mask": [1] * len(k.input_ids), "kl_labels": k.labels,
            "kto_tags": i % 2 == 0, "images": None, "videos": None, "audios": None,
        }  # fmt: skip
    # the batch's first row takes the batch's last completion
    assert kls[1000].completion == records[1999].completion and kls[1000].prompt == records[1000].prompt
    assert kls[2000].completion == records[2099].completion


def test_llamafactory_packing_keeps_every_row_and_pads_to_cutoff_plus_one(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", make_records(50))
    report = tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", cutoff_len=128, packing=True))
    packed = rows_of(tmp_path / "tok")
    enc = encoder("llamafactory", 128)
    singles = [enc(r) for r in sftdata.read(src)]
    assert all(len(p["input_ids"]) == 129 for p in packed)
    assert len(packed) == len(greedy_packs([len(e.input_ids) for e in singles], 128)) == report.packing["packs"]
    # each pack is whole rows (position ids restart at 0), then padding
    got = []
    for p in packed:
        starts = [i for i, x in enumerate(p["position_ids"]) if x == 0]
        bounds = starts + [len(p["input_ids"])]
        for a, b in zip(bounds, bounds[1:]):
            got.append((tuple(p["input_ids"][a:b]), tuple(p["labels"][a:b])))
    pad = TOK.pad_token_id if isinstance(TOK.pad_token_id, int) else 0
    real = sorted(g for g in got if not all(x == pad for x in g[0]))
    assert real == sorted((tuple(e.input_ids), tuple(e.labels)) for e in singles)
    assert report.packing["rows"] == 50 and report.packing["packed"] is True


def test_llamafactory_dpo_columns(tmp_path: Path) -> None:
    src = FIX / "sharegpt" / "preference.jsonl"
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="llamafactory", stage="dpo"))
    rows = rows_of(tmp_path / "tok")
    enc = encoder("llamafactory", None)
    recs = list(sftdata.read(src))
    assert len(rows) == len(recs)
    for row, rec in zip(rows, recs):
        c, r = enc(rec, "chosen"), enc(rec, "rejected")
        assert (row["chosen_input_ids"], row["chosen_labels"], row["rejected_input_ids"], row["rejected_labels"]) == (c.input_ids, c.labels, r.input_ids, r.labels)
        assert row["chosen_attention_mask"] == [1] * len(c.input_ids)


def test_trl_dpo_writes_trl_conversational_text_and_says_so(tmp_path: Path) -> None:
    src = FIX / "sharegpt" / "preference.jsonl"
    report = tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="trl", stage="dpo", cutoff_len=256))
    written = [json.loads(x) for x in (tmp_path / "tok" / "train.jsonl").read_text().splitlines()]
    assert written == [sftdata.get_format("trl").encode(r)[0] for r in sftdata.read(src)]
    assert report.layout == "text" and report.rows == len(written)
    assert any("always tokenizes from text" in n for n in report.notes)
