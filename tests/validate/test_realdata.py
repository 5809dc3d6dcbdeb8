"""LLaMA-Factory's demo sets validate with zero errors; breaking them on purpose is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sftdata.formats import all_formats, get_format
from sftdata.validate import validate

SHAREGPT = get_format("sharegpt")
# dataset_info.json's column/tag mapping, spelled by hand (kept in step with the file)
OPENAI_TAGS = {"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
SHAREGPT_FILES = {
    "glaive_toolcall_en_demo.json": SHAREGPT,
    "dpo_en_demo.json": SHAREGPT,
    "kto_en_demo.json": SHAREGPT.with_spec(**OPENAI_TAGS, kto_tag="label"),
    "mllm_demo.json": SHAREGPT.with_spec(**OPENAI_TAGS),
}
EXPECTED_KINDS = {"glaive_toolcall_en_demo.json": "sft", "dpo_en_demo.json": "preference", "kto_en_demo.json": "kto", "mllm_demo.json": "sft"}
ALL_FILES = ["alpaca_zh_demo.json", "identity.json", "c4_demo.jsonl", *SHAREGPT_FILES]


def _format_for(name: str):
    if name in SHAREGPT_FILES:
        return SHAREGPT_FILES[name]
    if name == "c4_demo.jsonl" or "alpaca" not in {f.name for f in all_formats()}:
        return None
    return get_format("alpaca")


@pytest.mark.parametrize("profile", ["sftdata", "llamafactory"])
@pytest.mark.parametrize("name", ALL_FILES)
def test_realdata_has_zero_errors(realdata: Path, name: str, profile: str) -> None:
    fmt = _format_for(name)
    if fmt is None:
        pytest.skip("this file's format is not registered yet")
    report = validate(realdata / name, profile, format=fmt)
    assert report.errors == 0, report.render()
    assert (report.total, report.valid, report.rejected) == (report.total, report.total, 0)
    assert report.total == len(json.loads((realdata / name).read_text()))
    if name in EXPECTED_KINDS:
        assert dict(report.kinds) == {EXPECTED_KINDS[name]: report.total}


def test_broken_kto_label_is_caught(realdata: Path, tmp_path: Path) -> None:
    rows = json.loads((realdata / "kto_en_demo.json").read_text())
    rows[4]["label"] = "true"  # a string: LLaMA-Factory would silently train it as SFT
    rows[9]["label"] = "false"
    bad = tmp_path / "kto.json"
    bad.write_text(json.dumps(rows))
    fmt = SHAREGPT_FILES["kto_en_demo.json"]
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
    report = validate(tmp_path / "mllm.json", "sftdata", format=SHAREGPT_FILES["mllm_demo.json"], locations=100)
    rows = json.loads((tmp_path / "mllm.json").read_text())
    want_unreadable = [(i, f"images[{k}]") for i, r in enumerate(rows, 1) for k, p in enumerate(r["images"]) if p.endswith(images[0].name)]
    want_missing = [(i, f"images[{k}]") for i, r in enumerate(rows, 1) for k, p in enumerate(r["images"]) if p.endswith(images[1].name)]
    assert want_unreadable and want_missing
    assert [(loc.line, loc.field) for loc in report.rules["media-unreadable"].first] == want_unreadable
    assert [(loc.line, loc.field) for loc in report.rules["media-missing"].first] == want_missing
    assert set(report.codes()) == {"media-unreadable", "media-missing"}
    assert report.rejected == len({i for i, _ in want_unreadable + want_missing})
