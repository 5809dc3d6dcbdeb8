"""The user's shell: sftdata behaves like the Unix tools it is piped between.

umask and kept modes, ``-`` for standard input and output; formula cells in CSV/TSV,
``-q``, misspelled commands, bare ``sftdata``, colour and wrapping of ``render``,
``split``'s stratify column and empty sides, plurals, ``check`` on video data, and
``validate``'s default worker processes.
"""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hostile._exec import ROOT
from hostile._exec import sftdata as run

from _run import jsonl, read_jsonl, sftdata, sharegpt
from sftdata.io import read_rows

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


def _alpaca(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"instruction": r.get("instruction", "q"), "input": "", "output": r.get("output", "a")}) + "\n" for r in rows))
    return path


# -- CSV formula injection ---------------------------------------------------------------
FORMULAS = [{"instruction": '=HYPERLINK("http://x.example","click")', "output": "+1 555 0100 call me"}, {"instruction": "@SUM(A1)", "output": "- a list item"}, {"instruction": "\tindent", "output": "-5"}, {"instruction": "plain", "output": "3.5"}]


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_csv_formula_cells_warned_and_unchanged(tmp_path: Path, suffix: str) -> None:
    src = _alpaca(tmp_path / "in.jsonl", FORMULAS)
    out = tmp_path / f"out{suffix}"
    proc = run("convert", str(src), "-o", str(out), "--to", "alpaca")
    assert proc.returncode == 0
    assert "warning: formula-cells: 5 cells of the .csv/.tsv output start with =, +, -, @ or a tab, which a spreadsheet runs as a formula; they were written as is" in " ".join(proc.stderr.split())
    assert "--escape-formulas" in proc.stderr
    back = [(r.get("instruction"), r.get("output")) for r, _ in read_rows(out)]
    assert back == [(r["instruction"], r["output"]) for r in FORMULAS]  # data is data: not changed by default


def test_csv_escape_formulas(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", FORMULAS)
    out = tmp_path / "out.csv"
    proc = run("convert", str(src), "-o", str(out), "--to", "alpaca", "--escape-formulas")
    assert proc.returncode == 0
    assert "5 cells of the .csv/.tsv output start with" in " ".join(proc.stderr.split()) and "they were quoted (--escape-formulas)" in " ".join(proc.stderr.split())
    back = [(r.get("instruction"), r.get("output")) for r, _ in read_rows(out)]
    assert back == [("'" + FORMULAS[0]["instruction"], "'+1 555 0100 call me"), ("'@SUM(A1)", "'- a list item"), ("'\tindent", "-5"), ("plain", "3.5")]


def test_csv_without_formulas_has_no_warning(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", [{"instruction": "hi", "output": "-5"}])
    proc = run("convert", str(src), "-o", str(tmp_path / "o.csv"), "--to", "alpaca")
    assert proc.returncode == 0 and proc.stderr == ""


def test_jsonl_output_is_never_escaped(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", FORMULAS)
    proc = run("convert", str(src), "-o", str(tmp_path / "o.jsonl"), "--to", "alpaca", "--escape-formulas")
    assert proc.returncode == 0 and "formula" not in proc.stderr
    assert [json.loads(x)["instruction"] for x in (tmp_path / "o.jsonl").read_text().splitlines()] == [r["instruction"] for r in FORMULAS]


# -- -q, suggestions, bare sftdata -------------------------------------------------------
def test_quiet_prints_nothing(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", FORMULAS)
    for args in (["-q", "convert", str(src), "-o", str(tmp_path / "a.csv"), "--to", "alpaca"], ["convert", str(src), "-o", str(tmp_path / "b.csv"), "--to", "alpaca", "--quiet"]):
        proc = run(*args)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_quiet_keeps_errors_and_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    proc = run("validate", str(bad), "-q")
    assert (proc.returncode, proc.stdout) == (1, "")
    proc = run("-q", "convert", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--to", "openai")
    assert proc.returncode != 0 and "missing.jsonl" in proc.stderr


def test_quiet_keeps_json(tmp_path: Path) -> None:
    src = _alpaca(tmp_path / "in.jsonl", [{}])
    proc = run("-q", "convert", str(src), "-o", str(tmp_path / "o.jsonl"), "--to", "openai", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["written"] == 1


def test_misspelled_command_suggestion() -> None:
    proc = run("conver", "x.jsonl")
    assert proc.returncode == 2
    assert "Error: No such command 'conver'. Did you mean 'convert'?" in proc.stderr


def test_unknown_command_lists_commands() -> None:
    proc = run("frobnicate")
    assert proc.returncode == 2
    from sftdata.cli import _COMMANDS

    assert f"No such command 'frobnicate'. Commands: {', '.join(sorted(_COMMANDS))}." in proc.stderr


def test_bare_sftdata_exits_0_with_help() -> None:
    proc = run()
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: sftdata [OPTIONS] [COMMAND] [ARGS]...")
    assert "Commands:" in proc.stdout and proc.stderr == ""


# -- render: colour and wrapping ---------------------------------------------------------
def _in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run sftdata with stdout on a pseudo-terminal (so it believes it is a terminal)."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "40", "LINES": "24", **env}
    proc = subprocess.Popen([sys.executable, "-m", "sftdata", *args], stdout=slave, stderr=subprocess.PIPE, env=full_env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


LONG = "word " * 30


@pytest.fixture
def chat(tmp_path: Path) -> Path:
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": LONG.strip()}]}) + "\n")
    return path


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "TERM_dumb"])
def test_render_marks_trained_spans_without_colour(chat: Path, env: dict[str, str]) -> None:
    out = _in_pty(["render", str(chat)], env)
    assert "\x1b[" not in out  # no escape codes at all
    assert f"[[{LONG.strip()}<|im_end|>]]" in out


def test_render_on_a_terminal_does_not_hard_wrap(chat: Path) -> None:
    out = _in_pty(["render", str(chat)], {"TERM": "xterm-256color", "NO_COLOR": ""})
    assert "\x1b[" in out  # coloured
    plain = __import__("re").sub(r"\x1b\[[0-9;]*m", "", out)
    assert LONG.strip() + "<|im_end|>" in plain  # one line, although wider than COLUMNS=40


# -- split -------------------------------------------------------------------------------
def _kto(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i} " * 5}, {"role": "assistant", "content": f"answer {i} " * 5}], "topic": "ab"[i % 2]}) + "\n" for i in range(n)))
    return path


def test_split_unknown_stratify_column(tmp_path: Path) -> None:
    src = _kto(tmp_path / "d.jsonl", 10)
    proc = run("split", str(src), "-o", str(tmp_path / "out"), "--val-size", "0.2", "--stratify", "topik", "--group", "none")
    assert proc.returncode == 2
    assert "--stratify: [usage] --stratify 'topik': no record has this column. Did you mean 'topic'? Name a top-level column of the rows (messages, topic), or drop --stratify." in proc.stderr
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_split_known_stratify_column(tmp_path: Path) -> None:
    src = _kto(tmp_path / "d.jsonl", 10)
    proc = run("split", str(src), "-o", str(tmp_path / "out"), "--val-size", "0.2", "--stratify", "topic", "--group", "none", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["strata"] == {"a": {"train": 4, "val": 1}, "b": {"train": 4, "val": 1}}


def test_split_val_takes_everything(tmp_path: Path) -> None:
    src = _kto(tmp_path / "d.jsonl", 3)
    proc = run("split", str(src), "-o", str(tmp_path / "out"), "--val-size", "5", "--group", "none")
    assert proc.returncode == 0
    assert "train 0, val 3, rejected 0" in proc.stdout
    assert "warning: val takes every record (3) and train.jsonl is empty: --val-size 5 is at least the whole dataset. Use a smaller --val-size (e.g. 0.1)." in proc.stderr


# -- plurals, check on video, validate workers -------------------------------------------
def test_plurals_one_record(tmp_path: Path) -> None:
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello "}]}) + "\n")
    proc = run("validate", str(src))
    assert f"{src}: 1 record (openai, profile sftdata): 1 valid, 0 rejected; 0 errors, 1 warning" in proc.stdout
    assert "in 1 record  " in proc.stdout
    check = run("check", str(src), "--no-dedup")
    assert f"{src}: openai, 1 record (sft 1)" in check.stdout and "0 errors, 1 warning (sftdata profile)" in check.stdout


def test_check_on_video_says_counts_are_placeholders(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    src = tmp_path / "v.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "<video>What happens?"}, {"role": "assistant", "content": "A cat jumps."}], "videos": ["clip.mp4"]}) + "\n")
    proc = run("check", str(src), "--no-dedup")
    assert "media       1 video/audio counted as placeholder tokens only: the token counts are placeholders for them (not modelled)" in proc.stdout


def test_validate_uses_workers_on_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdata.validate import api as vapi

    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    with open(big, "wb") as fh:
        fh.truncate(32 << 20)
    small.write_text("{}\n")
    seen: list[int] = []

    def spy(path: object, fmt: object, opts: object, workers: int, want_rows: bool, engine: object = None) -> None:
        seen.append(workers)
        raise KeyboardInterrupt  # stop here: only the choice of workers is under test

    monkeypatch.setattr(vapi, "_file_units", spy)
    monkeypatch.setattr("sftdata.engines.local.cpu_count", lambda: 2)
    for path in (big, small):
        with pytest.raises(KeyboardInterrupt):
            vapi.validate(path)
    with pytest.raises(KeyboardInterrupt):
        vapi.validate(big, workers=1)
    assert seen == [2, 1, 1]


def test_dash_output_is_standard_output_never_a_folder(tmp_path: Path) -> None:
    """Regression: `-o -` once named a folder of shards (an output without a suffix), so
    `dedup - -o -` printed nothing and made a directory called `-` where it ran."""
    data = jsonl(ROWS[:10] + ROWS[:5])
    for args in (("dedup", "-", "-o", "-", "--mode", "exact"), ("dedup", "-", "-o", "-", "--mode", "near"), ("convert", "-", "-o", "-", "--to", "openai")):
        r = sftdata(*args, stdin=data, cwd=tmp_path)
        assert r.code == 0, (args, r.text)
        assert len(r.out.splitlines()) in (10, 15), (args, r.out)
    assert list(tmp_path.iterdir()) == []
