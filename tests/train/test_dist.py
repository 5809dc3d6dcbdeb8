"""Two CPU processes over gloo make the same updates as one process with the same
global batch: the same losses step by step and the same final weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _paths import ROOT
from _trainkit import base_config, make_pairs, make_records, write_jsonl

torch = pytest.importorskip("torch")

import sftdata  # noqa: E402
from sftdata.train.dist import Dist, shard  # noqa: E402


def losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "trainer_log.jsonl").read_text().splitlines() if "loss" in json.loads(line)]


def torchrun(cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sftdata", "train", str(cfg), "--nproc", "2", *extra], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_two_gloo_processes_equal_one_process_with_the_global_batch(tiny_model: Path, tmp_path: Path, stage: str) -> None:
    rows = make_records(20) if stage == "sft" else make_pairs(20)
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    common = {"stage": stage, "max_steps": 3, "learning_rate": 5e-3, "cutoff_len": 64, "gradient_accumulation_steps": 2, "save_steps": 3}
    one = tmp_path / "one"
    sftdata.train(base_config(tiny_model, data, one, per_device_train_batch_size=4, **common))
    two = tmp_path / "two"
    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump(base_config(tiny_model, data, two, per_device_train_batch_size=2, **common)))
    proc = torchrun(cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # tolerance: float32 sums in another order (gradients are all-reduced)
    assert losses(two) == pytest.approx(losses(one), rel=1e-5)
    from safetensors.torch import load_file

    a, b = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    init = load_file(tiny_model / "model.safetensors")
    assert a.keys() == b.keys() <= init.keys() | {"lm_head.weight"}
    # Tolerance: the two runs' weight updates differ by under 0.1% of the update (norm
    # over all weights). Element-wise, Adam divides by sqrt(v): a gradient near zero whose
    # float32 sum flips sign in another summation order moves by up to lr either way.
    diff = sum(float((b[k] - a[k]).double().norm() ** 2) for k in a) ** 0.5
    update = sum(float((a[k] - init[k]).double().norm() ** 2) for k in a) ** 0.5
    assert update > 0.1 and diff <= 1e-3 * update, (diff, update)
    results = json.loads((two / "train_results.json").read_text())
    assert (results["world_size"], results["global_step"]) == (2, 3)
    state = json.loads((two / "checkpoint-3" / "trainer_state.json").read_text())
    assert (state["world_size"], state["gradient_accumulation_steps"]) == (2, 2)


def test_shards_cover_every_row_once() -> None:
    batch = list(range(7))
    parts = [shard(batch, Dist(r, 3, r)) for r in range(3)]
    assert sorted(i for p in parts for i in p) == batch and parts == [[0, 3, 6], [1, 4], [2, 5]]
