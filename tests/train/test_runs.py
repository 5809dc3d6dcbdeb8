"""`sftdata runs compare` on run folders made here: one of `sftdata train`, one shaped
like LLaMA-Factory's LoRA output (HF Trainer files + its YAML)."""

from __future__ import annotations

import hashlib

import json
import struct
from pathlib import Path

import pytest
import yaml
from _trainkit import base_config, make_records, write_jsonl
from click.testing import CliRunner

import sftdata
from sftdata.cli import cli
from sftdata.train.runs import compare, read_run


def safetensors_header(path: Path, shapes: dict[str, list[int]]) -> None:
    header = json.dumps({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]} for name, shape in shapes.items()}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


def lf_run(root: Path, base: Path) -> tuple[Path, Path]:
    run = root / "lf-lora"
    run.mkdir()
    (run / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base), "r": 16, "lora_alpha": 32, "target_modules": ["v_proj", "q_proj"]}))
    safetensors_header(run / "adapter_model.safetensors", {"a": [16, 64], "b": [64, 16]})
    (run / "all_results.json").write_text(json.dumps({"epoch": 3.0, "train_runtime": 120.5, "train_samples_per_second": 4.2, "train_steps_per_second": 0.5, "train_loss": 1.25, "eval_loss": 1.4, "total_flos": 123456789.0}))
    (run / "trainer_state.json").write_text(json.dumps({"global_step": 60, "train_batch_size": 2, "num_train_epochs": 3, "total_flos": 123456789.0, "log_history": [{"step": 10, "loss": 2.0}, {"step": 20, "loss": 1.5}, {"step": 20, "eval_loss": 1.6}]}))
    (run / "training_args.bin").write_bytes(b"\x80\x04 not to be unpickled")
    cfg = root / "lf.yaml"
    cfg.write_text(yaml.safe_dump({"stage": "sft", "model_name_or_path": str(base), "finetuning_type": "lora", "lora_rank": 16, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 4, "bf16": True, "num_train_epochs": 3.0, "learning_rate": 1e-4}))
    return run, cfg


def test_runs_compare_reads_sftdata_and_llamafactory_runs(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_records(8))
    mine = tmp_path / "sftdata-full"
    metrics = sftdata.train(base_config(tiny_model, data, mine, max_steps=2, per_device_train_batch_size=4, gradient_accumulation_steps=2))
    theirs, lf_yaml = lf_run(tmp_path, tiny_model)
    result = compare([mine, theirs], {"lf-lora": str(lf_yaml)})
    a, b = result.runs
    n_params = 151936 * 64 * 2 + 2 * (64 * 64 * 2 + 2 * 64 * 32 + 64 + 2 * 32 + 3 * 64 * 128 + 2 * 64) + 64
    assert a.model == b.model == {"name": str(tiny_model), "architecture": "Qwen2ForCausalLM", "parameters": n_params, "hidden_size": 64, "layers": 2, "attention_heads": 4, "kv_heads": 2, "vocab_size": 151936, "tie_word_embeddings": False, "sliding_window": None}
    data_files = f"d.jsonl@{hashlib.sha256(data.read_bytes()).hexdigest()[:12]}"
    assert a.setup == {"stage": "sft", "finetuning_type": "full", "lora_rank": None, "lora_alpha": None, "lora_target": None, "dtype": "fp32", "gradient_checkpointing": False, "learning_rate": 1e-3, "cutoff_len": 128, "samples": 8, "epochs": 3.0, "per_device_batch": 4, "gradient_accumulation": 2, "devices": 1, "total_batch": 8, "steps": 2, "trainable_parameters": n_params,
                       "data_digest": metrics["dataset_lock"]["digest"].removeprefix("sha256:")[:16], "data_files": data_files}  # fmt: skip
    assert b.setup == {"stage": "sft", "finetuning_type": "lora", "lora_rank": 16, "lora_alpha": 32, "lora_target": "q_proj,v_proj", "dtype": "bf16", "gradient_checkpointing": None, "learning_rate": 1e-4, "cutoff_len": None, "samples": None, "epochs": 3.0, "per_device_batch": 2, "gradient_accumulation": 4, "devices": None, "total_batch": 8, "steps": 60, "trainable_parameters": 2048, "data_digest": None, "data_files": None}
    assert a.results == {"runtime_s": metrics["train_runtime"], "samples_per_second": metrics["train_samples_per_second"], "steps_per_second": metrics["train_steps_per_second"], "train_loss": metrics["train_loss"], "final_logged_loss": a.curve[-1][1], "eval_loss": None, "flos": None}
    assert b.results == {"runtime_s": 120.5, "samples_per_second": 4.2, "steps_per_second": 0.5, "train_loss": 1.25, "final_logged_loss": 1.5, "eval_loss": 1.4, "flos": 123456789.0}
    assert (b.curve, b.eval_curve) == ([(10, 2.0), (20, 1.5)], [(20, 1.6)])
    # known on both sides and different (unknown is not a difference)
    assert result.to_dict()["differences"] == ["setup.finetuning_type", "setup.dtype", "setup.learning_rate", "setup.per_device_batch", "setup.gradient_accumulation", "setup.steps", "setup.trainable_parameters"]

    runner = CliRunner()
    md = runner.invoke(cli, ["runs", "compare", str(mine), str(theirs), "--config", f"lf-lora={lf_yaml}", "--markdown"])
    assert md.exit_code == 0, md.output
    assert "| setup | **finetuning_type** | **full** | **lora** |" in md.output and "| model | layers | 2 | 2 |" in md.output
    js = runner.invoke(cli, ["runs", "compare", str(mine), str(theirs), "--json", "--plot", str(tmp_path / "curves.png")])
    assert json.loads(js.output)["runs"][1]["setup"]["dtype"] is None  # no launch config named: unknown
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    table = runner.invoke(cli, ["runs", "compare", str(mine), str(theirs)])
    assert table.exit_code == 0 and "finetuning_type" in table.output


def test_runs_compare_never_unpickles(tmp_path: Path) -> None:
    import pickle

    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (Path.write_text, (marker, "pwned"))

    for name in ("training_args.bin", "optimizer.pt", "trainer_state.pt", "rng_state.pth"):
        (run / name).write_bytes(pickle.dumps(Payload()))
    result = read_run(run)
    assert not marker.exists()
    assert result.setup["finetuning_type"] is None and result.results["train_loss"] is None


def test_runs_compare_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    from sftdata.errors import UsageError

    with pytest.raises(UsageError, match="does not exist"):
        read_run(tmp_path / "nope")
