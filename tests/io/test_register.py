"""--register: add or update the output's entry in a LLaMA-Factory dataset_info.json."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

import sftdata
from sftdata.engines import convert as parallel
from sftdata.errors import DataError, ReadError, UsageError
from sftdata.formats import Format
from sftdata.io.register import register_dataset


def info_copy(realdata: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(realdata / "dataset_info.json", folder / "dataset_info.json")
    return folder / "dataset_info.json"


def test_adds_entry_and_keeps_every_other_one(realdata: Path, tmp_path: Path) -> None:
    info = info_copy(realdata, tmp_path)
    before = orjson.loads(info.read_bytes())
    out = tmp_path / "data" / "dpo_alpaca.json"
    result = sftdata.convert(realdata / "dpo_en_demo.json", out, to="alpaca", register=info, name="dpo_alpaca")
    after = orjson.loads(info.read_bytes())
    assert list(after) == [*before, "dpo_alpaca"]
    assert {k: v for k, v in after.items() if k != "dpo_alpaca"} == before
    columns = {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected", "history": "history", "system": "system"}
    expected = {"file_name": "dpo_alpaca.json", "ranking": True, "columns": columns}
    assert after["dpo_alpaca"] == expected == result.registered
    assert result.to_dict()["registered"] == expected


def test_update_in_place_keeps_unmanaged_keys(realdata: Path, tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    info.write_bytes(orjson.dumps({"a": {"file_name": "a.json"}, "mine": {"hf_hub_url": "x/y", "formatting": "sharegpt", "num_samples": 10}, "z": {"file_name": "z.json"}}))
    out = tmp_path / "sub" / "glaive.jsonl"
    sftdata.convert(realdata / "glaive_toolcall_en_demo.json", out, to="openai", register=tmp_path, name="mine")
    data = orjson.loads(info.read_bytes())
    assert list(data) == ["a", "mine", "z"]
    assert data["mine"]["file_name"] == "sub/glaive.jsonl" and "hf_hub_url" not in data["mine"]
    assert data["mine"]["num_samples"] == 10 and data["mine"]["columns"] == {"messages": "messages", "tools": "tools"}


def test_parallel_path_registers_the_same_entry(realdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 50_000)
    src = tmp_path / "g.jsonl"
    sftdata.convert(realdata / "glaive_toolcall_en_demo.json", src, to="sharegpt")
    entries = []
    for workers in (1, 2):
        result = sftdata.convert(src, tmp_path / f"o{workers}.jsonl", to="openai", workers=workers, register=tmp_path / "info.json", name=f"w{workers}")
        entries.append({k: v for k, v in result.registered.items() if k != "file_name"})
    assert entries[0] == entries[1]


def test_refusals_happen_before_writing(realdata: Path, tmp_path: Path) -> None:
    src = realdata / "alpaca_zh_demo.json"
    with pytest.raises(UsageError, match="cannot load 'o.xlsx'"):
        sftdata.convert(src, tmp_path / "o.xlsx", to="alpaca", register=tmp_path / "info.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(ReadError, match="left unchanged"):
        sftdata.convert(src, tmp_path / "o.json", to="alpaca", register=bad)
    assert bad.read_text() == "{oops"

    class Opaque(Format):
        name = "opaque"
        kinds = ("sft",)

    with pytest.raises(UsageError, match="LLaMA-Factory cannot read format 'opaque'"):
        sftdata.convert(src, tmp_path / "o.json", to=Opaque(), register=tmp_path / "info.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_mixed_kinds_cannot_be_registered(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b'{"instruction": "q", "output": "a"}\n{"instruction": "q", "output": "a", "kto_tag": true}\n')
    with pytest.raises(DataError, match=r"several kinds \(kto: 1, sft: 1\)"):
        sftdata.convert(src, tmp_path / "o.jsonl", to="alpaca", from_="alpaca", register=tmp_path / "info.json")
    assert not (tmp_path / "info.json").exists()


def test_cli_register_default_name(realdata: Path, tmp_path: Path) -> None:
    from test_cli import run

    info = info_copy(realdata, tmp_path)
    proc = run("convert", str(realdata / "identity.json"), "-o", str(tmp_path / "data" / "identity_sharegpt.json"), "--to", "openai", "--register", str(info))
    assert proc.returncode == 0, proc.stderr
    assert "registered 'identity_sharegpt'" in proc.stdout
    assert orjson.loads(info.read_bytes())["identity_sharegpt"]["file_name"] == "identity_sharegpt.json"
    proc = run("convert", str(realdata / "identity.json"), "-o", str(tmp_path / "x.json"), "--to", "openai", "--name", "x")
    assert proc.returncode == 2 and "--name needs --register" in proc.stderr


def test_register_dataset_creates_the_file(tmp_path: Path) -> None:
    entry = register_dataset(tmp_path / "new" / "dataset_info.json", "k", tmp_path / "k.jsonl", sftdata.get_format("alpaca"), "kto", ["instruction", "output", "kto_tag", "system"])
    assert orjson.loads((tmp_path / "new" / "dataset_info.json").read_bytes()) == {"k": entry}
    assert entry == {"file_name": "../k.jsonl", "columns": {"prompt": "instruction", "query": "input", "response": "output", "kto_tag": "kto_tag", "system": "system"}}
