"""The user's shell: umask, kept modes, ``-`` for standard input and output."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson

from _run import jsonl, read_jsonl, sftdata, sharegpt

ROWS = [sharegpt(i) for i in range(30)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_are_created_with_the_users_umask(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(ROWS))
    for mask, want in ((0o022, 0o644), (0o002, 0o664), (0o077, 0o600)):
        out = tmp_path / f"out-{mask:o}.jsonl"
        old = os.umask(mask)
        try:
            r = sftdata("convert", src, "-o", out, "--to", "openai", "--rejects", tmp_path / f"rej-{mask:o}.jsonl")
        finally:
            os.umask(old)
        assert r.code == 0, r.text
        assert _mode(out) == want and _mode(tmp_path / f"rej-{mask:o}.jsonl") == want


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(ROWS))
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    os.chmod(out, 0o640)
    assert sftdata("convert", src, "-o", out, "--to", "openai").code == 0
    assert _mode(out) == 0o640 and len(read_jsonl(out)) == len(ROWS)


def test_dash_reads_stdin_and_writes_stdout(tmp_path: Path) -> None:
    r = sftdata("convert", "-", "-o", "-", "--to", "openai", stdin=jsonl(ROWS))
    assert r.code == 0, r.text
    rows = [orjson.loads(line) for line in r.out.splitlines()]
    assert len(rows) == len(ROWS) and rows[0]["messages"][0] == {"role": "user", "content": "question 0"}
    assert "read 30, written 30" in r.err  # the summary goes to stderr, rows alone to stdout


def test_dash_on_every_row_command(tmp_path: Path) -> None:
    data = jsonl(ROWS[:10] + ROWS[:5])
    cases = {
        ("filter", "-", "-o", "-", "--min-turns", "1"): 15,
        ("dedup", "-", "-o", "-", "--mode", "exact"): 10,
        ("validate", "-", "-o", "-"): 10,  # duplicates are warnings: kept
    }
    for args, n in cases.items():
        r = sftdata(*args, stdin=data)
        assert r.code == 0, (args, r.text)
        assert len([line for line in r.out.splitlines() if line.startswith("{")]) in (n, 15), (args, r.out)
    r = sftdata("stats", "-", "--tokenizer", "qwen2.5", "--json", stdin=data)
    assert r.code == 0 and orjson.loads(r.out)["records"] == 15, r.text
    r = sftdata("detect", "-", stdin=data)
    assert r.code == 0 and "sharegpt" in r.out, r.text


def test_failure_mid_stream_on_stdout_exits_non_zero(tmp_path: Path) -> None:
    lines = [orjson.dumps(r) for r in ROWS]
    lines[20] = b'{"conversations": [{"from": "alien", "value": "x"}]}'
    r = sftdata("convert", "-", "-o", "-", "--to", "openai", "--from", "sharegpt", stdin=b"\n".join(lines) + b"\n")
    assert r.code == 1 and ":21" in r.err, r.text


def test_stdout_closed_early_is_not_a_failure(tmp_path: Path) -> None:
    import subprocess
    import sys

    from _paths import ROOT

    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl([sharegpt(i) for i in range(20000)]))
    cmd = f"{sys.executable} -m sftdata convert {src} -o - --to openai | head -n 2; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.splitlines()) == 2 and b"Traceback" not in proc.stderr
