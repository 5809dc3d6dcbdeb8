"""The CLI shell (exit codes, JSON schema) and the generated rule catalogue page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _paths import FIXTURES, ROOT

from sftdata.validate.docs import DOC, render_rules_md
from sftdata.validate.rules import RULES


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", "validate", *args], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_rules_doc_is_complete_and_current() -> None:
    text = DOC.read_text()
    assert text == render_rules_md(), "run: python -m sftdata.validate.docs --write"
    for code in RULES:
        assert f"| `{code}` |" in text


def test_exit_codes_and_json_report(tmp_path: Path) -> None:
    case = FIXTURES / "invalid" / "role-order"
    proc = run(str(case / "data.jsonl"), "--format", "json", "--rejects", str(tmp_path / "r.jsonl"))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema"] == "sftdata.validate/1"
    assert report["records"] == {"total": 2, "valid": 1, "rejected": 1, "fixed": 0}
    assert report["rules"] == [
        {
            "code": "role-order",
            "severity": "error",
            "count": 1,
            "records": 1,
            "summary": RULES["role-order"].summary,
            "remedy": RULES["role-order"].remedy,
            "first": [{"path": str(case / "data.jsonl"), "line": 1, "field": "conversations[1].from", "message": "two user turns in a row (conversations[0], [1])"}],
        }
    ]
    ok = run(str(FIXTURES / "invalid" / "surrounding-whitespace" / "data.jsonl"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "conversations[1].value  surrounding-whitespace" in ok.stdout
    assert run(str(FIXTURES / "invalid" / "surrounding-whitespace" / "data.jsonl"), "--fail-on", "warning").returncode == 1


def test_usage_mistakes_exit_2_without_traceback() -> None:
    for args in (["nope.jsonl"], [str(FIXTURES / "sharegpt" / "sft.jsonl"), "--profile", "trll"], [str(FIXTURES / "sharegpt" / "sft.jsonl"), "--from", "sharegtp"]):
        proc = run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert "Did you mean 'trl'" in run(str(FIXTURES / "sharegpt" / "sft.jsonl"), "--profile", "trll").stderr


def test_help_documents_every_option() -> None:
    proc = run("--help")
    page = (ROOT / "docs" / "validate.md").read_text()
    for opt in ("--profile", "--format", "--from", "--rejects", "--output", "--fix", "--strict", "--fail-on", "--media-root", "--no-media-check", "--max-chars", "--workers", "--dataset-info"):
        assert opt in proc.stdout and opt in page


def test_every_code_a_decoder_raises_is_in_the_catalogue() -> None:
    import re

    codes = set()
    for path in (ROOT / "sftdata" / "formats").glob("*.py"):
        codes |= set(re.findall(r'Issue\(\s*"([a-z-]+)"', path.read_text()))
    assert codes and codes <= set(RULES), codes - set(RULES)
