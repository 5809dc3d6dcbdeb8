"""Training from a tokenized folder: sftdata train reads `tokenize --trainer sftdata`
folders (and refuses one made with another config); TRL's SFTTrainer trains a step on a
`--trainer trl` folder without tokenizing, with the ids it makes itself from the raw file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _trainkit import base_config, make_records, write_jsonl

pytest.importorskip("datasets")

import sftdata
from sftdata.errors import UsageError
from sftdata.tokenize import TokenizeConfig, tokenize_dataset

HERE = Path(__file__).parent


def test_sftdata_train_reads_a_tokenized_folder_like_the_raw_file(tiny_model: Path, tmp_path: Path) -> None:
    from sftdata.train.data import DataReport
    from sftdata.train.pretokenized import load_tokenized, tokenized_folder

    src = write_jsonl(tmp_path / "sft.jsonl", make_records(16))
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(tokenizer="qwen2.5", template="qwen", trainer="sftdata", cutoff_len=128))
    from sftdata.train import _tokenization, load_config

    cfg = load_config(base_config(tiny_model, tmp_path / "tok", tmp_path / "out", max_steps=2))
    from sftdata.train.data import load_examples

    tok, tpl, encode = _tokenization(cfg)
    folder = tokenized_folder(cfg.dataset, cfg.dataset_dir)
    assert folder == tmp_path / "tok"
    from_folder = load_tokenized(folder, cfg, tok, tpl, DataReport())
    from sftdata.train import get_stage

    from_raw = load_examples([(src, "auto")], encode, max_samples=None, report=DataReport(), stage=get_stage(cfg))
    assert [(e.input_ids, e.labels, str(e.source)) for e in from_folder] == [(e.input_ids, e.labels, str(e.source)) for e in from_raw]
    metrics = sftdata.train(base_config(tiny_model, tmp_path / "tok", tmp_path / "out", max_steps=2))
    assert metrics["global_step"] == 2 and metrics["data"]["train"] == 16


@pytest.mark.parametrize(("change", "named"), [({"cutoff_len": 64}, "options.cutoff_len"), ({"template": "chatml"}, "template"), ({"train_on": "last"}, "options.train_on")])
def test_sftdata_train_refuses_a_folder_made_with_another_config(tiny_model: Path, tmp_path: Path, change: dict[str, Any], named: str) -> None:
    src = write_jsonl(tmp_path / "sft.jsonl", make_records(8))
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(tokenizer="qwen2.5", template="qwen", trainer="sftdata", cutoff_len=128))
    with pytest.raises(UsageError, match=f"does not match this config: .*{named}"):
        sftdata.train(base_config(tiny_model, tmp_path / "tok", tmp_path / "out", max_steps=1, **change))
    assert not (tmp_path / "out").exists()


def test_sftdata_train_refuses_another_trainers_folder(tiny_model: Path, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "sft.jsonl", make_records(8))
    tokenize_dataset([src], tmp_path / "tok", TokenizeConfig(trainer="trl", cutoff_len=128))
    with pytest.raises(UsageError, match="trainer"):
        sftdata.train(base_config(tiny_model, tmp_path / "tok", tmp_path / "out", max_steps=1))


@pytest.fixture(scope="module")
def hf_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline Qwen2.5 tokenizer as a Hugging Face folder, with Qwen2.5's chat template."""
    pytest.importorskip("transformers")
    from sftdata.tokenizers.export import export_qwen_tokenizer

    folder = export_qwen_tokenizer(tmp_path_factory.mktemp("qwen25-hf"))
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg["chat_template"] = (HERE.parent / "templates" / "qwen25_chat_template.jinja").read_text()
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    return folder


def _trl_trainer(model_dir: Path, tokenizer: Any, dataset: Any, out: Path, max_length: int) -> Any:
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(out), max_steps=1, per_device_train_batch_size=4, max_length=max_length, report_to=[], use_cpu=True, logging_steps=1, save_strategy="no", dataset_num_proc=None)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)


def test_trl_trains_a_step_on_the_folder_without_tokenizing(tiny_model: Path, hf_qwen: Path, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from datasets import load_dataset, load_from_disk
    from transformers import AutoTokenizer

    from sftdata.tokenize.layouts import convention_applied

    records = make_records(12)
    raw = tmp_path / "raw.jsonl"  # the same rows in TRL's conversational format
    trl_fmt = sftdata.get_format("trl")
    sharegpt = write_jsonl(tmp_path / "sharegpt.jsonl", records)
    raw.write_text("".join(json.dumps(trl_fmt.encode(r)[0]) + "\n" for r in sftdata.read(sharegpt)))
    report = tokenize_dataset([raw], tmp_path / "tok", TokenizeConfig(tokenizer=str(hf_qwen), template="qwen", trainer="trl", cutoff_len=256))
    assert report.max_length == 256

    tokenizer = AutoTokenizer.from_pretrained(str(hf_qwen))
    theirs = _trl_trainer(tiny_model, tokenizer, load_dataset("json", data_files=str(raw), split="train"), tmp_path / "trl-raw", 256).train_dataset

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("TRL tokenized a pre-tokenized dataset")

    ours = load_from_disk(str(tmp_path / "tok"))["train"]
    tokenizer.apply_chat_template = refuse  # type: ignore[method-assign]
    trainer = _trl_trainer(tiny_model, tokenizer, ours, tmp_path / "trl-tok", 256)
    assert trainer.train_dataset.to_list() == ours.to_list()  # used as is
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0

    # TRL's own tokenization of the raw file gives the same ids
    assert [r["input_ids"] for r in ours] == [r["input_ids"] for r in theirs]
    if convention_applied("trl") == "trl":  # labels: TRL's default trains what its collator trains
        expected = [r.get("labels", r["input_ids"]) for r in theirs]
        assert [r["labels"] for r in ours] == expected
