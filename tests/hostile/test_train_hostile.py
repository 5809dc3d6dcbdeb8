"""Hostile input to `sftdata train`: a crafted checkpoint never runs code, a bad YAML is a
located error. Each test is named after the case it guards (issue 12)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import ROOT

from sftdata.errors import UsageError
from sftdata.train.config import load_config


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", "train", *args], capture_output=True, text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, timeout=300)


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.write_text, (self.marker, "pwned"))


def test_resume_from_a_crafted_pickle_checkpoint_runs_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    out = tmp_path / "out"
    ckpt = out / "checkpoint-2"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.pt").write_bytes(pickle.dumps({"step": _Payload(marker)}))
    (tmp_path / "model").mkdir()
    data = tmp_path / "d.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model_name_or_path: {tmp_path / 'model'}\ndataset: {data}\noutput_dir: {out}\ntokenizer: qwen2.5\ndevice: cpu\n")
    proc = run_cli(str(cfg), "--resume")
    assert not marker.exists()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "a pickle can run code" in proc.stderr and str(ckpt) in proc.stderr


def test_resume_from_a_checkpoint_with_a_bad_state_json_is_a_located_error(tmp_path: Path) -> None:
    from sftdata.train.state import load_state

    (tmp_path / "trainer_state.json").write_text("{not json")
    (tmp_path / "trainer_state.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(UsageError, match="unreadable"):
        load_state(tmp_path)


def test_non_utf8_train_yaml_is_a_located_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"model_name_or_path: m\ndataset: d.jsonl\noutput_dir: \xff\xfeout\n")
    with pytest.raises(UsageError) as info:
        load_config(cfg)
    assert str(info.value) == f"{cfg}:3: [usage] the config is not UTF-8 text (byte 0xff at offset 51). Save the YAML file as UTF-8."
    proc = run_cli(str(cfg))
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr


def test_train_yaml_that_is_a_folder_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        load_config(tmp_path)
