from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _clean_helpers import read_jsonl, sharegpt, write_jsonl
from _paths import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def dataset(tmp_path: Path) -> Path:
    rows = [
        sharegpt("Explain gravity.", "Gravity pulls masses toward each other, which is why apples fall and planets orbit the sun in stable paths."),
        sharegpt("Explain  gravity.", "Gravity pulls masses toward each other, which is why apples fall and planets orbit the sun in stable paths."),
        sharegpt("Say hi", "skip"),
        sharegpt("Say hi", "   "),
        {"conversations": [{"from": "bot", "value": "x"}]},
    ]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def test_dedup_cli(tmp_path: Path) -> None:
    path = dataset(tmp_path)
    proc = run("dedup", str(path), "-o", str(tmp_path / "o.jsonl"), "--from", "sharegpt", "--mode", "exact", "--rejects", str(tmp_path / "r.jsonl"), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["read"], result["kept"], result["rejected"], result["reasons"]) == (5, 3, 2, {"duplicate": 1, "unknown-role": 1})
    assert [r["line"] for r in read_jsonl(tmp_path / "r.jsonl")] == [2, 5]


def test_filter_cli_composes(tmp_path: Path) -> None:
    path = dataset(tmp_path)
    proc = run("filter", str(path), "-o", str(tmp_path / "o.jsonl"), "--from", "sharegpt", "--drop-empty", "--drop-if", "assistant:^skip$", "--max-tokens", "2048", "--min-turns", "1", "--rejects", str(tmp_path / "r.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"{path} -> {tmp_path / 'o.jsonl'}: read 5, kept 2, rejected 3"
    assert [(r["line"], r["codes"]) for r in read_jsonl(tmp_path / "r.jsonl")] == [(3, ["regex-match"]), (4, ["empty-turn"]), (5, ["unknown-role"])]


def test_filter_without_conditions_is_usage_error(tmp_path: Path) -> None:
    proc = run("filter", str(dataset(tmp_path)), "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2 and "no condition given" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_row_without_rejects_is_one_paragraph(tmp_path: Path) -> None:
    proc = run("dedup", str(dataset(tmp_path)), "-o", str(tmp_path / "o.jsonl"), "--from", "sharegpt")
    assert proc.returncode == 1 and "in.jsonl:5" in proc.stderr and "unknown-role" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_split_cli(tmp_path: Path) -> None:
    rows = [sharegpt(f"question {i}", f"answer number {i} with some words {i * 3}") for i in range(20)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    proc = run("split", str(path), "-o", str(tmp_path / "s"), "--val-size", "0.25", "--seed", "42", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["read"], result["train"], result["val"]) == (20, 15, 5)
    assert len(read_jsonl(tmp_path / "s" / "val.jsonl")) == 5
    bad = run("split", str(path), "-o", str(tmp_path / "s2"), "--val-size", "2.5")
    assert bad.returncode == 2 and "val-size" in bad.stderr
