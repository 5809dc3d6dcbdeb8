"""The cache key: the same inputs and settings are a no-op; a changed input byte, tokenizer
file, template or option forces a rebuild; a folder tokenize did not write is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("datasets")

from _trainkit import make_records, write_jsonl

from sftdata.errors import UsageError
from sftdata.tokenize import MANIFEST, TokenizeConfig, load_manifest, tokenize_dataset


def run(src: Path, out: Path, **kw: object) -> tuple[bool, str, float]:
    report = tokenize_dataset([src], out, TokenizeConfig(**{"trainer": "sftdata", "cutoff_len": 64, **kw}))  # type: ignore[arg-type]
    return report.reused, report.key, (out / MANIFEST).stat().st_mtime_ns


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "a.jsonl", make_records(8))


def test_same_key_is_a_no_op(src: Path, tmp_path: Path) -> None:
    first = run(src, tmp_path / "tok")
    again = run(src, tmp_path / "tok")
    assert (first[0], again[0]) == (False, True)
    assert again[1:] == first[1:]  # same key, manifest untouched


def test_changed_input_byte_rebuilds(src: Path, tmp_path: Path) -> None:
    before = run(src, tmp_path / "tok")
    data = src.read_bytes()
    src.write_bytes(data.replace(b"one", b"One", 1))
    after = run(src, tmp_path / "tok")
    assert after[0] is False and after[1] != before[1]
    assert load_manifest(tmp_path / "tok")[0].key == after[1]  # type: ignore[index]


def test_changed_template_or_option_rebuilds(src: Path, tmp_path: Path) -> None:
    keys = {run(src, tmp_path / "tok")[1]}
    for change in ({"template": "chatml"}, {"cutoff_len": 32}, {"train_on": "last"}, {"trainer": "trl"}):
        reused, key, _ = run(src, tmp_path / "tok", **change)
        assert not reused and key not in keys
        keys.add(key)


def test_changed_tokenizer_file_rebuilds(src: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from sftdata.tokenizers import get_tokenizer
    from sftdata.tokenizers.export import export_qwen_tokenizer

    folder = export_qwen_tokenizer(tmp_path / "qwen-tok")
    first = run(src, tmp_path / "tok", tokenizer=str(folder))
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg["model_max_length"] = 4096  # one changed byte of one tokenizer file
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    from sftdata.tokenizers import registry

    registry._CACHE.pop(str(folder), None)  # a new process would load it afresh
    second = run(src, tmp_path / "tok", tokenizer=str(folder))
    assert second[0] is False and second[1] != first[1]
    assert get_tokenizer(str(folder)) is not None


def test_a_folder_not_written_by_tokenize_is_refused(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a folder written by `sftdata tokenize`"):
        run(src, out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_rebuild_leaves_no_temporary_folders(src: Path, tmp_path: Path) -> None:
    run(src, tmp_path / "tok")
    run(src, tmp_path / "tok", cutoff_len=32)
    assert sorted(os.listdir(tmp_path)) == ["a.jsonl", "tok"]
