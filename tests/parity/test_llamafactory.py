"""Parity with LLaMA-Factory: ``trainer="llamafactory"`` gives, row for row, the ids and
labels that LLaMA-Factory 0.9.5's own data code produced for the real demo files (no
cutoff, 1024, 512; sft with and without ``mask_history`` / ``train_on_prompt``,
pairwise, kto, pretrain), and ``stats --trainer llamafactory`` trains exactly its
labels != -100.

LLaMA-Factory's pins do not install beside ours, so its output is kept as fixtures made
by ``make_llamafactory_fixtures.py`` (its docstring says how to run it again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sftdata.api import read
from sftdata.record import KTORecord, PreferenceRecord, PretrainRecord
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.templates import get_template
from sftdata.tokenizers import get_tokenizer
from sftdata.tokens import IGNORE_INDEX, encode_record

from parity.make_llamafactory_fixtures import digest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llamafactory"
CASES = sorted(FIXTURES.glob("*.jsonl"))
TOK = get_tokenizer("qwen2.5")
QWEN = get_template("qwen")
DATA_FILES = {"alpaca_zh_demo": "alpaca_zh_demo.json", "identity": "identity.json", "glaive_toolcall_en_demo": "glaive_toolcall_en_demo.json",
              "dpo_en_demo": "dpo_en_demo.json", "kto_en_demo": "kto_en_demo.json", "c4_demo": "c4_demo.jsonl"}


def load(case: Path) -> tuple[dict[str, Any], list[dict[str, list[Any]]]]:
    lines = case.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(x) for x in lines[1:]]


def settings(header: dict[str, Any]) -> tuple[int | None, str]:
    cutoff = header["cutoff_len"] if header["cutoff_len"] < 100_000 else None  # LLaMA-Factory has no "none"
    train_on = "last" if header.get("mask_history") else "everything" if header.get("train_on_prompt") else "all"
    return cutoff, train_on


def summary(enc: Any) -> list[Any]:
    return [len(enc.input_ids), sum(1 for x in enc.labels if x != IGNORE_INDEX), digest(enc.input_ids), digest(enc.labels)]


def test_fixtures_cover_every_stage() -> None:
    stages = {load(c)[0]["stage"] for c in CASES}
    assert {"sft", "rm", "kto"} <= stages
    assert {c.name.split(".")[0] for c in CASES} <= set(DATA_FILES)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_ids_and_labels_equal_llamafactory(case: Path, realdata: Path) -> None:
    header, rows = load(case)
    cutoff, train_on = settings(header)
    records = list(read(realdata / DATA_FILES[case.name.split(".")[0]]))
    assert len(records) == len(rows)
    for i, (record, row) in enumerate(zip(records, rows)):
        if isinstance(record, PreferenceRecord):
            mine = {side: summary(encode_record(record, TOK, QWEN, cutoff_len=cutoff, branch=side, trainer="llamafactory")) for side in ("chosen", "rejected")}  # type: ignore[arg-type]
        else:
            mine = {"main": summary(encode_record(record, TOK, QWEN, train_on=train_on, cutoff_len=cutoff, trainer="llamafactory"))}  # type: ignore[arg-type]
        assert mine == row, f"{case.name} row {i + 1}"


@pytest.mark.parametrize("case", [c for c in CASES if ".mask_history" not in c.name and ".train_on_prompt" not in c.name], ids=lambda p: p.stem)
def test_stats_trainable_equals_llamafactory_labels(case: Path, realdata: Path) -> None:
    header, rows = load(case)
    cutoff, _ = settings(header)
    report = token_stats(realdata / DATA_FILES[case.name.split(".")[0]], StatsConfig(cutoff_len=cutoff, trainer="llamafactory"), workers=1)
    assert report.trainable_tokens == sum(side[1] for row in rows for side in row.values())
    kinds = {"sft": "sft", "rm": "preference", "kto": "kto", "pt": "pretrain"}
    assert report.kinds == {kinds[header["stage"]]: len(rows)}


def test_kto_and_pretrain_records_are_what_the_fixtures_hold(realdata: Path) -> None:
    assert all(isinstance(r, KTORecord) for r in read(realdata / "kto_en_demo.json"))
    assert all(isinstance(r, PretrainRecord) for r in read(realdata / "c4_demo.jsonl"))
