from __future__ import annotations

from pathlib import Path

import pytest

from sftdata.errors import UsageError
from sftdata.train.config import TrainConfig, apply_overrides, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_plus_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "model_name_or_path: m\ndataset: d.jsonl\noutput_dir: out\nlearning_rate: 1.0e-4\nlora_target: q_proj, v_proj\n")
    cfg = load_config(path, ["--learning-rate", "2e-5", "--bf16", "--max_steps=7", "--resume"])
    expected = TrainConfig(
        model_name_or_path="m", dataset="d.jsonl", output_dir="out", learning_rate=2e-5, bf16=True, max_steps=7,
        resume_from_checkpoint="true", lora_target="q_proj, v_proj",
    )
    assert cfg == expected
    assert cfg.lora_targets == ["q_proj", "v_proj"]
    assert cfg.lora_alpha_value == 16


def test_overrides_keep_strings_for_pydantic() -> None:
    assert apply_overrides({"a": 1}, ["--cutoff_len", "512", "--packing"]) == {"a": 1, "cutoff_len": "512", "packing": "true"}


@pytest.mark.parametrize(
    ("text", "overrides", "field", "words"),
    [
        ("model_name_or_path: m\ndataset: d\noutput_dir: o\nlearning_rat: 1\n", [], "learning_rat", "Did you mean 'learning_rate'?"),
        ("model_name_or_path: m\ndataset: d\noutput_dir: o\n", ["--lora_rnk", "8"], None, "Did you mean 'lora_rank'?"),
        ("model_name_or_path: m\ndataset: d\noutput_dir: o\ncutoff_len: many\n", [], "cutoff_len", "valid integer"),
        ("model_name_or_path: m\ndataset: d\noutput_dir: o\nbf16: true\nfp16: true\n", [], None, "bf16 and fp16"),
        ("model_name_or_path: m\ndataset: d\n", [], "output_dir", "Field required"),
        ("- just\n- a list\n", [], None, "mapping"),
        ("a: [unclosed\n", [], None, "not valid YAML"),
    ],
)
def test_bad_configs_name_the_key_and_a_remedy(tmp_path: Path, text: str, overrides: list[str], field: str | None, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_config(path, overrides)
    err = info.value
    assert words in str(err)
    assert err.field == field
    assert err.remedy
    assert err.exit_code == 2


def test_missing_file() -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config("/nonexistent/cfg.yaml")


def test_docs_describe_every_setting() -> None:
    from _paths import ROOT

    text = (ROOT / "docs" / "train.md").read_text(encoding="utf-8")
    for key in TrainConfig.model_fields:
        assert f"`{key}`" in text, key


def test_example_config_is_valid() -> None:
    from _paths import ROOT

    cfg = load_config(ROOT / "examples" / "train_qwen2.5_7b_lora.yaml")
    assert (cfg.finetuning_type, cfg.lora_targets, cfg.bf16) == ("lora", "all", True)


def test_empty_file_takes_everything_from_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    cfg = load_config(path, ["--model_name_or_path", "m", "--dataset", "d", "--output_dir", "o"])
    assert cfg == TrainConfig(model_name_or_path="m", dataset="d", output_dir="o")
