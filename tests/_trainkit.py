"""Helpers for the trainer tests (importable as ``_trainkit``)."""

from __future__ import annotations

import json
import random
from pathlib import Path


def make_records(n: int, seed: int = 0) -> list[dict]:
    """Short sharegpt conversations: arithmetic questions with one-word answers, some with
    two assistant turns (so train_on: last differs from all)."""
    rng = random.Random(seed)
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    rows = []
    for i in range(n):
        a, b = rng.randrange(5), rng.randrange(5)
        conv = [{"from": "human", "value": f"{a} plus {b}?"}, {"from": "gpt", "value": words[a + b]}]
        if i % 4 == 3:
            conv += [{"from": "human", "value": "Double it?"}, {"from": "gpt", "value": words[min(9, 2 * (a + b))]}]
        rows.append({"conversations": conv, "system": "Answer in one word."})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def base_config(model: Path, data: Path, out: Path, **kw: object) -> dict:
    cfg = {
        "model_name_or_path": str(model),
        "dataset": str(data),
        "output_dir": str(out),
        "tokenizer": "qwen2.5",
        "template": "qwen",
        "cutoff_len": 128,
        "per_device_train_batch_size": 8,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "finetuning_type": "full",
        "device": "cpu",
        "seed": 0,
    }
    cfg.update(kw)
    return cfg


WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def make_pairs(n: int, seed: int = 0) -> list[dict]:
    """sharegpt preference rows: the right sum is chosen, a wrong one rejected."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randrange(5), rng.randrange(5)
        wrong = (a + b + 1 + rng.randrange(8)) % 10
        rows.append({"conversations": [{"from": "human", "value": f"{a} plus {b}?"}], "chosen": {"from": "gpt", "value": WORDS[a + b]}, "rejected": {"from": "gpt", "value": WORDS[wrong] + " maybe"}})
    return rows


def make_kto(n: int, seed: int = 0) -> list[dict]:
    """TRL unpaired rows: the right sum is desirable, a wrong one undesirable."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randrange(5), rng.randrange(5)
        good = i % 2 == 0
        answer = WORDS[a + b] if good else WORDS[(a + b + 1 + rng.randrange(8)) % 10] + " maybe"
        rows.append({"prompt": [{"role": "user", "content": f"{a} plus {b}?"}], "completion": [{"role": "assistant", "content": answer}], "label": good})
    return rows
