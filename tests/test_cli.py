from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _paths import FIXTURES, ROOT


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_convert_counts_and_output(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc = run("convert", str(FIXTURES / "sharegpt" / "sft.jsonl"), "-o", str(out), "--to", "sharegpt", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["read"], result["written"], result["rejected"]) == (4, 4, 0)
    assert len(json.loads(out.read_text())) == 4


def test_bad_json_line_is_one_paragraph_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}\n{"conversations": [\n')
    out = tmp_path / "out.jsonl"
    proc = run("convert", str(bad), "-o", str(out), "--to", "sharegpt", "--from", "sharegpt")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{bad}:2" in proc.stderr and "invalid-json" in proc.stderr
    assert not out.exists()


def test_unknown_format_is_usage_error_with_suggestion(tmp_path: Path) -> None:
    proc = run("convert", str(FIXTURES / "sharegpt" / "sft.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--to", "sharegtp")
    assert proc.returncode == 2
    assert "Did you mean 'sharegpt'" in proc.stderr


def test_import_is_light() -> None:
    code = "import sys, sftdata; sftdata.read; heavy = [m for m in ('torch', 'transformers', 'datasets', 'pandas', 'pyarrow', 'openpyxl', 'numpy') if m in sys.modules]; print(heavy)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.strip() == "[]", proc.stderr
