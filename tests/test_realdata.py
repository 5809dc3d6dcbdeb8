"""Acceptance on LLaMA-Factory's demo data: every file is detected right, decodes with
zero rejects, and converts to every format that carries its kind and back to the same
records; where a target cannot carry something, the loss report says exactly what."""

from __future__ import annotations

from pathlib import Path

import pytest

import sftdata
from sftdata.formats import all_formats
from sftdata.formats.base import LossReport

FILES = {
    "alpaca_zh_demo.json": ("alpaca", "sft", 1000),
    "identity.json": ("alpaca", "sft", 91),
    "glaive_toolcall_en_demo.json": ("sharegpt", "sft", 300),
    "dpo_en_demo.json": ("sharegpt", "preference", 300),
    "kto_en_demo.json": ("openai", "kto", 300),
    "mllm_demo.json": ("openai", "sft", 6),
    "c4_demo.jsonl": ("alpaca", "pretrain", 300),
}
TURNS = "roles and extra turns (a standard row holds one prompt and one answer)"
RICH = "media, tool calls and tools (standard rows are plain text)"
# (file, target) -> records that lose something, by what; every other pair is lossless
LOSSES = {
    ("glaive_toolcall_en_demo.json", "alpaca"): {"tool calls and tool results": 153},
    ("glaive_toolcall_en_demo.json", "trl-standard"): {RICH: 191, TURNS: 261},
    ("dpo_en_demo.json", "trl-standard"): {TURNS: 186},
    ("kto_en_demo.json", "trl-standard"): {TURNS: 77},
    ("mllm_demo.json", "trl-standard"): {RICH: 2, TURNS: 6},
}


def test_every_realdata_file_is_listed(realdata: Path) -> None:
    assert sorted(p.name for p in realdata.glob("*.json*") if p.name != "dataset_info.json") == sorted(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_detect_decode_convert_and_back(realdata: Path, name: str) -> None:
    path = realdata / name
    fmt, kind, count = FILES[name]
    found = sftdata.detect(path)
    assert (found.format, found.kind) == (fmt, kind)
    assert found.evidence.endswith(f"in {min(count, 200)}/{min(count, 200)} sampled rows")
    sink = sftdata.RejectSink()
    records = list(sftdata.read(path, rejects=sink))
    assert (len(records), sink.total) == (count, 0)
    # decoders skip re-validating parsed JSON (model_construct); the records are still valid
    assert [type(r).model_validate(r.model_dump()) for r in records] == records
    for target in all_formats():
        if kind not in target.kinds:
            continue
        losses = LossReport()
        for record in records:
            row, lost = target.encode(record)
            back = target.decode(row)
            if lost:
                losses.add(sorted(set(lost)))
            else:
                assert back == record, (target.name, record.source)
        assert losses.to_dict() == LOSSES.get((name, target.name), {}), target.name
