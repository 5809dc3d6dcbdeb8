from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from _paths import ROOT
from _trainkit import base_config


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", "train", *args], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})


def test_cli_overfits_32_records_to_half_the_loss(tiny_model: Path, sft_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = tmp_path / "full.yaml"
    cfg.write_text(yaml.safe_dump(base_config(tiny_model, sft_file, out, max_steps=50, learning_rate=1e-3)))
    proc = run_cli(str(cfg), "--max_steps", "16", "--learning_rate", "1e-2", "--plot_loss", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "device: cpu (asked for the CPU)" in proc.stderr
    metrics = json.loads(proc.stdout)
    log = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 16
    assert losses[-1] <= losses[0] / 2, losses
    assert metrics["global_step"] == 16
    assert metrics["data"] == {"read": 32, "train": 32, "eval": 0, "dropped": {}, "truncated": 0}
    # 4 epochs of 24 one-turn rows (answer word + <|im_end|>) and 8 two-turn rows
    assert metrics["trained_tokens"] == 4 * (24 * 2 + 8 * 4)
    assert json.loads((out / "train_results.json").read_text()) == metrics
    assert (out / "training_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"config.json", "model.safetensors"} <= {p.name for p in out.iterdir()}


def test_cli_usage_errors_are_one_paragraph_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model_name_or_path: m\ndataset: d.jsonl\noutput_dir: o\n")
    proc = run_cli(str(cfg), "--lora_rnk", "8")
    assert proc.returncode == 2
    assert proc.stderr == "Error: [usage] unknown setting '--lora_rnk'. Did you mean 'lora_rank'?\n"
    assert "Traceback" not in proc.stderr
    proc = run_cli(str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_every_setting() -> None:
    from sftdata.train.config import TrainConfig

    proc = subprocess.run([sys.executable, "-m", "sftdata", "train", "--help"], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for key in TrainConfig.model_fields:
        assert key in text, key


def test_output_dir_tokenizer_reloads_like_the_builtin(tmp_path: Path) -> None:
    """With tokenizer: qwen2.5 and a model folder without tokenizer files, output_dir
    still gets a tokenizer AutoTokenizer loads, equal to the built-in one."""
    from transformers import AutoTokenizer

    from sftdata.tokenizers import get_tokenizer
    from sftdata.train.model import save_tokenizer

    builtin = get_tokenizer("qwen2.5")
    assert save_tokenizer(builtin, tmp_path) == ["tokenizer.json", "tokenizer_config.json"]
    hf = AutoTokenizer.from_pretrained(tmp_path)
    text = "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\n数字123 and emoji 🎉, Café<|im_end|>\n"
    assert hf.encode(text) == builtin.encode(text)
    assert (hf.eos_token_id, hf.pad_token_id, len(hf)) == (151645, 151643, 151665)
