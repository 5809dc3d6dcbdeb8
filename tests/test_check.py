"""sftdata check: one read-only report of validation, duplicates, leaks and token lengths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from _clean_helpers import check_data, check_row
from _paths import ROOT

from sftdata.check import check


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})

_row = check_row


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    return check_data(tmp_path)


def test_counts_every_concern_exactly(data: tuple[Path, Path]) -> None:
    train, evalset = data
    r = check(train, cutoff_len=64, against=evalset)
    assert (r.records, r.validation.valid, r.validation.rejected) == (16, 15, 1)
    d = r.duplicates
    assert d is not None and (d.duplicates, d.clusters, d.largest, d.eval_leaks) == (5, 4, 3, 2)
    assert r.stats is not None and r.stats.records == 15 and r.stats.over_cutoff == 15
    codes = [(f.severity, f.code) for f in r.findings]
    assert codes == [("error", "invalid-records"), ("error", "eval-leaks"), ("warning", "validation-warnings"), ("warning", "duplicates"), ("warning", "over-cutoff")]
    assert r.exit_code == 1
    leaks = next(f for f in r.findings if f.code == "eval-leaks")
    assert leaks.message.startswith("2 records repeat") and f"--against {evalset}" in (leaks.fix or "")


def test_clean_data_has_nothing_to_fix_but_the_length_advice(tmp_path: Path) -> None:
    p = tmp_path / "ok.jsonl"
    p.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(5)))
    r = check(p)
    assert r.exit_code == 0 and [f.code for f in r.findings] == ["lengths"]
    assert r.duplicates is not None and r.duplicates.duplicates == 0
    lengths = r.findings[0]
    assert r.stats is not None and f"p99 {r.stats.fields['total'].p99:g}" in lengths.message and "--cutoff-len 128" in (lengths.fix or "")


def test_cli_text_json_and_exit_codes(data: tuple[Path, Path], tmp_path: Path) -> None:
    train, evalset = data
    out = run("check", str(train), "--against", str(evalset), "--no-tokens")
    assert out.returncode == 1, out.stderr
    assert "ERROR   eval-leaks: 2 records repeat" in out.stdout and "fix: sftdata dedup" in out.stdout
    assert "Fix the errors before training." in out.stdout
    out = run("check", str(train), "--json", "--no-dedup", "--no-tokens")
    report = orjson.loads(out.stdout)
    assert out.returncode == 1 and report["schema"] == "sftdata.check/1" and report["duplicates"] is None and report["stats"] is None
    assert report["validation"]["records"] == {"total": 16, "valid": 15, "rejected": 1, "fixed": 0}
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps(_row(1)) + "\n")
    out = run("check", str(ok), "--no-tokens")
    assert out.returncode == 0 and "Nothing to fix: ready to train." in out.stdout
    out = run("check", str(tmp_path / "missing.json"))
    assert out.returncode == 2 and "file not found" in out.stderr and "Traceback" not in out.stderr


def test_glaive_realdata(realdata: Path) -> None:
    r = check(realdata / "glaive_toolcall_en_demo.json", cutoff_len=2048)
    assert (r.records, r.validation.errors, r.validation.codes()["duplicate-record"]) == (300, 0, 35)
    assert r.duplicates is not None and (r.duplicates.duplicates, r.duplicates.clusters) == (38, 35)
    assert r.stats is not None and (r.stats.over_cutoff, r.stats.zero_trainable_lines, r.stats.fields["total"].max) == (1, [244], 11561)
    assert [f.code for f in r.findings] == ["validation-warnings", "duplicates", "over-cutoff", "nothing-to-train"]


def test_core_install_without_numpy_says_what_was_not_checked(data: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdata.clean import sketch
    from sftdata.errors import missing

    def no_numpy() -> None:
        raise missing("numpy", "dedup", "Near-duplicate detection")

    monkeypatch.setattr(sketch, "_np", no_numpy)
    train, evalset = data
    r = check(train, tokenizer=None)
    assert r.duplicates is None and [(f.severity, f.code) for f in r.findings] == [("error", "invalid-records"), ("warning", "validation-warnings"), ("info", "not-checked")]
    assert r.findings[2].fix == "pip install 'sftdata[dedup]'" and "numpy" in r.findings[2].message
    r = check(train, tokenizer=None, against=evalset)  # a leak check that could not run is an error
    assert [(f.severity, f.code) for f in r.findings] == [("error", "invalid-records"), ("error", "not-checked"), ("warning", "validation-warnings")]


def test_images_line_shows_real_image_tokens(realdata: Path) -> None:
    out = run("check", str(realdata / "mllm_demo.json"), "--template", "qwen2_vl", "--cutoff-len", "256")
    assert out.returncode == 0, out.stderr
    assert "  images      8 images, 550 tokens (53.7% of all tokens, as qwen2-vl sees them)" in out.stdout
