"""LLaMA-Factory's own loader (`get_dataset` with `tokenized_path`) loads the folder
`tokenize --trainer llamafactory` writes, and it equals the folder LLaMA-Factory saves
from the raw file itself. Runs where LLaMA-Factory is installed beside our versions
(/work/venv-lf, see FACTS.md); skipped elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("datasets")
pytest.importorskip("transformers")

from sftdata.tokenize import TokenizeConfig, tokenize_dataset
from sftdata.tokenize.layouts import convention_applied

LF_PYTHON = Path(os.environ.get("SFTDATA_LF_PYTHON", "/work/venv-lf/bin/python"))
HERE = Path(__file__).parent


def lf_available() -> bool:
    if not LF_PYTHON.exists():
        return False
    probe = subprocess.run([str(LF_PYTHON), "-c", "import importlib.util as u; raise SystemExit(u.find_spec('llamafactory') is None)"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not lf_available(), reason=f"LLaMA-Factory not installed at {LF_PYTHON}")


@pytest.fixture(scope="module")
def hf_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sftdata.tokenizers.export import export_qwen_tokenizer

    return export_qwen_tokenizer(tmp_path_factory.mktemp("qwen25-hf"))


@pytest.mark.parametrize(("name", "stage", "lf_stage"), [("identity", "sft", "sft"), ("dpo_en_demo", "dpo", "rm"), ("kto_en_demo", "kto", "kto")])
def test_llamafactory_loads_our_folder_and_it_equals_its_own(realdata: Path, hf_qwen: Path, tmp_path: Path, name: str, stage: str, lf_stage: str) -> None:
    from sftdata.formats.llamafactory import from_dataset_info

    fmt, path = from_dataset_info(realdata / "dataset_info.json", name)
    cutoff = 100_000  # no cut: ids are the trainers' everywhere; labels need issue 11's convention
    tokenize_dataset([(path, fmt)], tmp_path / "ours", TokenizeConfig(tokenizer=str(hf_qwen), template="qwen", trainer="llamafactory", stage=stage, cutoff_len=cutoff))  # type: ignore[arg-type]
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run(
        [str(LF_PYTHON), str(HERE / "lf_loader.py"), str(hf_qwen), str(realdata), name, lf_stage, str(cutoff), str(tmp_path / "ours"), str(tmp_path / "work")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    loaded, own = out["loaded"], out["own"]
    assert out["loaded_features"] == out["own_features"]
    assert len(loaded) == len(own)
    id_cols = [c for c in out["own_features"] if c.endswith("input_ids") or c.endswith("attention_mask") or c in ("kto_tags", "images", "videos", "audios")]
    assert [{c: r[c] for c in id_cols} for r in loaded] == [{c: r[c] for c in id_cols} for r in own]
    if convention_applied("llamafactory") == "llamafactory":
        assert loaded == own  # labels too, row for row


@pytest.mark.parametrize(("name", "stage", "lf_stage", "val_size"), [("identity", "sft", "sft", 0.2), ("kto_en_demo", "kto", "kto", 50)])
def test_validation_split_equals_llamafactorys_own(realdata: Path, hf_qwen: Path, tmp_path: Path, name: str, stage: str, lf_stage: str, val_size: float) -> None:
    """`--val-size`: both splits equal what LLaMA-Factory saves with the same val_size and
    its default seed (42), and its loader reads ours as train_dataset / eval_dataset."""
    from sftdata.formats.llamafactory import from_dataset_info

    fmt, path = from_dataset_info(realdata / "dataset_info.json", name)
    cutoff = 100_000
    config = TokenizeConfig(tokenizer=str(hf_qwen), template="qwen", trainer="llamafactory", stage=stage, cutoff_len=cutoff, val_size=val_size)  # type: ignore[arg-type]
    tokenize_dataset([(path, fmt)], tmp_path / "ours", config)
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run(
        [str(LF_PYTHON), str(HERE / "lf_loader.py"), str(hf_qwen), str(realdata), name, lf_stage, str(cutoff), str(tmp_path / "ours"), str(tmp_path / "work"), str(val_size)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["own_validation"]) > 0
    if convention_applied("llamafactory") == "llamafactory":
        assert out["loaded"] == out["own"]
        assert out["loaded_validation"] == out["own_validation"]
