"""LLaMA-Factory's demo sets validate with zero errors; breaking them on purpose is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sftdata.formats.llamafactory import from_dataset_info
from sftdata.validate import validate

ENTRIES = {  # dataset_info.json entry -> kind
    "alpaca_zh_demo": "sft",
    "identity": "sft",
    "glaive_toolcall_en_demo": "sft",
    "dpo_en_demo": "preference",
    "kto_en_demo": "kto",
    "mllm_demo": "sft",
    "c4_demo": "pretrain",
}


def _count(path: Path) -> int:
    text = path.read_text()
    return len(json.loads(text)) if path.suffix == ".json" else len(text.splitlines())


@pytest.mark.parametrize("profile", ["sftdata", "llamafactory"])
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_realdata_has_zero_errors(realdata: Path, name: str, profile: str) -> None:
    fmt, data = from_dataset_info(realdata / "dataset_info.json", name)
    report = validate(data, profile, format=fmt)
    assert report.errors == 0, report.render()
    assert (report.total, report.valid, report.rejected) == (_count(data), _count(data), 0)
    assert dict(report.kinds) == {ENTRIES[name]: report.total}
    # the auto-detected format finds no error either
    assert validate(data, profile).errors == 0


def test_broken_kto_label_is_caught(realdata: Path, tmp_path: Path) -> None:
    rows = json.loads((realdata / "kto_en_demo.json").read_text())
    rows[4]["label"] = "true"  # a string: LLaMA-Factory would silently train it as SFT
    rows[9]["label"] = "false"
    bad = tmp_path / "kto.json"
    bad.write_text(json.dumps(rows))
    fmt, _ = from_dataset_info(realdata / "dataset_info.json", "kto_en_demo")
    report = validate(bad, "llamafactory", format=fmt)
    assert report.codes() == {"kto-label": 2, "surrounding-whitespace": 1}
    assert [(loc.line, loc.field, loc.message) for loc in report.rules["kto-label"].first] == [
        (5, "label", "'label' must be true or false, got 'true'"),
        (10, "label", "'label' must be true or false, got 'false'"),
    ]
    assert (report.total, report.valid, report.rejected, report.exit_code) == (300, 298, 2, 1)
    fixed = validate(bad, "llamafactory", format=fmt, fix=True)
    assert (fixed.errors, fixed.fixed, fixed.repairs["kto-label"]) == (0, 3, 2)


def test_broken_images_are_caught(realdata: Path, tmp_path: Path) -> None:
    shutil.copy(realdata / "mllm_demo.json", tmp_path / "mllm.json")
    media = tmp_path / "mllm_demo_data"
    shutil.copytree(realdata / "mllm_demo_data", media)
    images = sorted(media.glob("*.jpg"))
    images[0].write_bytes(images[0].read_bytes()[:200])  # truncated: exists, does not decode
    images[1].unlink()
    fmt, _ = from_dataset_info(realdata / "dataset_info.json", "mllm_demo")
    report = validate(tmp_path / "mllm.json", "sftdata", format=fmt, locations=100)
    rows = json.loads((tmp_path / "mllm.json").read_text())
    want_unreadable = [(i, f"images[{k}]") for i, r in enumerate(rows, 1) for k, p in enumerate(r["images"]) if p.endswith(images[0].name)]
    want_missing = [(i, f"images[{k}]") for i, r in enumerate(rows, 1) for k, p in enumerate(r["images"]) if p.endswith(images[1].name)]
    assert want_unreadable and want_missing
    assert [(loc.line, loc.field) for loc in report.rules["media-unreadable"].first] == want_unreadable
    assert [(loc.line, loc.field) for loc in report.rules["media-missing"].first] == want_missing
    assert set(report.codes()) == {"media-unreadable", "media-missing"}
    assert report.rejected == len({i for i, _ in want_unreadable + want_missing})
