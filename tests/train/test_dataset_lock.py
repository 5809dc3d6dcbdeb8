"""`dataset_lock:` in a training config: data that does not match the lock is refused before
a model loads, and every run writes the lock of the data it trained on into
train_results.json under `dataset_lock`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _trainkit import base_config, make_records, write_jsonl

import sftdata
from sftdata.lock import LockMismatch, hash_file, lock


def test_data_that_does_not_match_the_lock_is_refused_before_the_model_loads(sft_file: Path, tmp_path: Path) -> None:
    lock_path = tmp_path / "sftdata.lock.json"
    lock([sft_file], cutoff_len=128, base=tmp_path).write(lock_path)
    write_jsonl(sft_file, make_records(32, seed=1))  # re-exported under the same name
    cfg = base_config(tmp_path / "no-model-needed", sft_file, tmp_path / "out", dataset_lock=str(lock_path))
    with pytest.raises(LockMismatch, match=r"sft\.jsonl is not the locked data"):
        sftdata.train(cfg)
    assert not (tmp_path / "out").exists()
    # another cutoff_len than the one locked
    lock([sft_file], cutoff_len=128, base=tmp_path).write(lock_path)
    with pytest.raises(LockMismatch, match="cutoff_len 128 -> 64"):
        sftdata.train({**cfg, "cutoff_len": 64})


def test_a_run_writes_the_lock_of_its_data(tiny_model: Path, sft_file: Path, tmp_path: Path) -> None:
    lock_path = tmp_path / "sftdata.lock.json"
    locked = lock([sft_file], cutoff_len=128, base=tmp_path)
    locked.write(lock_path)
    out = tmp_path / "out"
    results = sftdata.train(base_config(tiny_model, sft_file, out, dataset_lock=str(lock_path), max_steps=1))
    written = json.loads((out / "train_results.json").read_text())
    assert written["dataset_lock"] == results["dataset_lock"] == json.loads(lock_path.read_text())
    # without a lock: the files hashed, with the run's tokenizer and template named
    out2 = tmp_path / "out2"
    sftdata.train(base_config(tiny_model, sft_file, out2, max_steps=1))
    light = json.loads((out2 / "train_results.json").read_text())["dataset_lock"]
    sha, size, lines = hash_file(sft_file)
    assert [(f["sha256"], f["size"], f["lines_digest"], f["format"], f["records"]) for f in light["files"]] == [(sha, size, lines, "sharegpt", None)]
    assert light["settings"] == {**json.loads(lock_path.read_text())["settings"]}
    assert light["digest"] == locked.digest  # same data, same settings: same digest


def test_runs_compare_shows_which_data_each_run_trained_on(tiny_model: Path, sft_file: Path, tmp_path: Path) -> None:
    from sftdata.train.runs import compare

    other = tmp_path / "other.jsonl"
    other.write_bytes(sft_file.read_bytes().replace(b"\n", b"\n", 1) + sft_file.read_bytes().splitlines(keepends=True)[0])
    runs = []
    for name, data in (("a", sft_file), ("b", sft_file), ("c", other)):
        sftdata.train(base_config(tiny_model, data, tmp_path / name, max_steps=1))
        runs.append(tmp_path / name)
    table = compare(runs)
    digests = [r.setup["data_digest"] for r in table.runs]
    files = [r.setup["data_files"] for r in table.runs]
    assert digests[0] == digests[1] != digests[2] and all(isinstance(d, str) and len(d) == 16 for d in digests)
    assert files[0] == f"{sft_file.name}@{hash_file(sft_file)[0][:12]}"
    assert files[2] == f"other.jsonl@{hash_file(other)[0][:12]}"
    assert any(key == "data_digest" and differs for _section, key, _values, differs in table.rows())
