"""Parity with TRL, live: ``trainer="trl"`` gives the ids and labels that TRL's own
SFTTrainer, DPOTrainer and KTOTrainer (the installed version, >= 1.1) prepare from the
same rows, written by ``sftdata convert --to trl``: every token by default, the training
template's spans with ``assistant_only_loss=True``, the completion of DPO/KTO rows; rows
cut from the right at ``max_length`` and the rows TRL drops. The Qwen2.5 tokenizer is
the built-in one exported to a Hugging Face folder, with Qwen2.5's real chat template.

The repository's fixtures run always; LLaMA-Factory's demo files when present (no
cutoff, 1024, 512).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sftdata.api import read
from sftdata.formats import get_format
from sftdata.record import KTORecord, PreferenceRecord, Record, conversation
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.templates import get_template
from sftdata.tokenizers import get_tokenizer
from sftdata.tokenizers.export import export_qwen_tokenizer
from sftdata.tokens import IGNORE_INDEX, encode_record

pytest.importorskip("trl")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TOK = get_tokenizer("qwen2.5")
QWEN = get_template("qwen")
CHAT_TEMPLATE = ROOT / "tests" / "templates" / "qwen25_chat_template.jinja"  # Qwen2.5's, as on the hub
REAL = ["alpaca_zh_demo.json", "identity.json", "glaive_toolcall_en_demo.json", "dpo_en_demo.json", "kto_en_demo.json", "c4_demo.jsonl"]
LOCAL = ["sharegpt/sft.jsonl", "trl/preference.jsonl", "trl/kto.jsonl"]


@pytest.fixture(scope="module")
def hf(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(export_qwen_tokenizer(tmp_path_factory.mktemp("qwen25"))))
    tok.chat_template = CHAT_TEMPLATE.read_text()
    return tok


def _tiny() -> Any:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return Qwen2ForCausalLM(Qwen2Config(vocab_size=151936, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1))


@pytest.fixture(scope="module")
def model() -> tuple[Any, Any]:
    """A tiny Qwen2 with the full vocabulary, and a reference model for DPO/KTO (data
    preparation needs both; nothing is trained)."""
    return _tiny(), _tiny()


def _rows(records: list[Record]) -> Any:
    from datasets import IterableDataset

    rows = [get_format("trl").encode(r)[0] for r in records]

    def gen() -> Iterator[dict[str, Any]]:
        yield from rows

    # an IterableDataset keeps each row's Python values (Arrow would unify tool schemas)
    return IterableDataset.from_generator(gen)


def _args(config: Any, tmp: Path, **kw: Any) -> Any:
    return config(output_dir=str(tmp), report_to="none", max_steps=1, use_cpu=True, bf16=False, per_device_train_batch_size=2, **kw)


def trl_prepared(kind: str, records: list[Record], hf: Any, model: Any, tmp: Path, max_length: int | None, assistant_only: bool = False) -> list[list[tuple[list[int], list[int]]]]:
    """Per kept row, (ids, labels) per side, as TRL's trainer prepares and collates them."""
    import trl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "preference":
            trainer: Any = trl.DPOTrainer(model=model[0], ref_model=model[1], args=_args(trl.DPOConfig, tmp, max_length=max_length), train_dataset=_rows(records), processing_class=hf)
        elif kind == "kto":
            trainer = trl.KTOTrainer(model=model[0], ref_model=model[1], args=_args(trl.KTOConfig, tmp, max_length=max_length), train_dataset=_rows(records), processing_class=hf)
        else:
            trainer = trl.SFTTrainer(model=model[0], args=_args(trl.SFTConfig, tmp, max_length=max_length, assistant_only_loss=assistant_only),
                                     train_dataset=_rows(records), processing_class=hf)
    out = []
    for example in trainer.train_dataset:
        if kind == "sft":
            out.append([(list(example["input_ids"]), list(example["labels"]))])
            continue
        batch = trainer.data_collator([{k: v for k, v in example.items() if k.endswith("_ids") or k == "label"}])
        sides = []
        for ids, mask in zip(batch["input_ids"].tolist(), batch["completion_mask"].tolist()):
            n = len(ids) if kind == "kto" else int(sum(batch["attention_mask"][len(sides)].tolist()))
            sides.append((ids[:n], [t if m else IGNORE_INDEX for t, m in zip(ids[:n], mask[:n])]))
        out.append(sides)
    return out


def mine(records: list[Record], max_length: int | None, train_on: str | None) -> list[list[tuple[list[int], list[int]]]]:
    """Ours: rows with nothing trained after the cut are the ones TRL drops."""
    out = []
    for r in records:
        sides = [encode_record(r, TOK, QWEN, train_on=train_on, cutoff_len=max_length, branch=b, trainer="trl") for b in (("chosen", "rejected") if isinstance(r, PreferenceRecord) else ("chosen",))]  # type: ignore[arg-type]
        if sides[0].trainable:
            out.append([(e.input_ids, e.labels) for e in sides])
    return out


def kind_of(records: list[Record]) -> str:
    return "preference" if isinstance(records[0], PreferenceRecord) else "kto" if isinstance(records[0], KTORecord) else "sft"


def check(path: Path, hf: Any, model: Any, tmp: Path, cutoffs: tuple[int | None, ...]) -> None:
    # TRL's text path: rows with images go through a processor (not modelled here)
    records = [r for r in read(path) if r.kind == "pretrain" or not any(m.media() for m in conversation(r))]  # type: ignore[arg-type]
    kind = kind_of(records)
    modes = [(False, None), (True, "all")] if kind == "sft" and not records[0].kind == "pretrain" else [(False, None)]
    for cutoff in cutoffs:
        for assistant_only, train_on in modes:
            theirs = trl_prepared(kind, records, hf, model, tmp, cutoff, assistant_only)
            ours = mine(records, cutoff, train_on)
            assert len(ours) == len(theirs), f"{path.name} max_length={cutoff} assistant_only={assistant_only}: kept rows"
            for i, (a, b) in enumerate(zip(ours, theirs)):
                assert a == b, f"{path.name} max_length={cutoff} assistant_only={assistant_only}: kept row {i + 1}"
            trained = sum(1 for row in theirs for _, labels in row for x in labels if x != IGNORE_INDEX)
            if len(records) < sum(1 for _ in read(path)):
                continue  # the file's totals include the rows left out
            report = token_stats(path, StatsConfig(cutoff_len=cutoff, trainer="trl", train_on=train_on), workers=1)  # type: ignore[arg-type]
            assert report.trainable_tokens == trained


@pytest.mark.parametrize("name", LOCAL)
def test_fixtures_equal_trl(name: str, hf: Any, model: Any, tmp_path: Path) -> None:
    check(ROOT / "fixtures" / name, hf, model, tmp_path, (None, 40))


@pytest.mark.parametrize("name", REAL)
def test_real_files_equal_trl(name: str, realdata: Path, hf: Any, model: Any, tmp_path: Path) -> None:
    check(realdata / name, hf, model, tmp_path, (None, 1024, 512))
