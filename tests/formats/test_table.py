"""Spreadsheet column mapping: answers.xlsx -> alpaca / sharegpt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata
from sftdata.errors import RecordError, UsageError
from sftdata.formats.table import TableFormat, TableMapping
from sftdata.io import write_rows
from sftdata.record import Message, PreferenceRecord, Source

from _paths import ROOT


def answers(path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["question", "answer", "model"])
    ws.append(["What is 2+2?", 4, "m1"])
    ws.append(["Capital of France?", "Paris", "m1"])
    ws.append(["Unanswered", None, "m1"])
    ws.append(["Give JSON", '{"a": [1, 2]}', "m2"])
    ws.append([None, None, None])  # formatting left behind: not a record
    ws.append(["Last", "2.5", None])
    wb.save(path)
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sftdata", *args], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_xlsx_to_alpaca_with_rejects(tmp_path: Path) -> None:
    src, out, rej = answers(tmp_path / "answers.xlsx"), tmp_path / "train.json", tmp_path / "rej.jsonl"
    proc = cli("convert", str(src), "-o", str(out), "--to", "alpaca", "--map", "input=A", "--map", "output=answer", "--instruction", "Answer briefly.", "--system", "You are terse.", "--rejects", str(rej), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"from": "table", "to": "alpaca", "read": 4 + 1, "written": 4, "rejected": 1, "reject_codes": {"empty-cell": 1}, "losses": {}}
    rows = json.loads(out.read_text())
    assert rows == [
        {"instruction": "Answer briefly.", "input": "What is 2+2?", "output": "4", "system": "You are terse.", "model": "m1"},
        {"instruction": "Answer briefly.", "input": "Capital of France?", "output": "Paris", "system": "You are terse.", "model": "m1"},
        {"instruction": "Answer briefly.", "input": "Give JSON", "output": '{"a": [1, 2]}', "system": "You are terse.", "model": "m2"},
        {"instruction": "Answer briefly.", "input": "Last", "output": "2.5", "system": "You are terse."},
    ]
    (reject,) = [orjson.loads(line) for line in rej.read_bytes().splitlines()]
    assert reject["source"] == f"{src}:4" and reject["codes"] == ["empty-cell"]
    assert reject["issues"][0]["message"] == "the output cell (column B 'answer') is empty"
    assert reject["record"] == {"question": "Unanswered", "model": "m1"}


def test_cli_without_rejects_stops_at_the_empty_cell(tmp_path: Path) -> None:
    src, out = answers(tmp_path / "answers.xlsx"), tmp_path / "train.jsonl"
    proc = cli("convert", str(src), "-o", str(out), "--to", "sharegpt", "--map", "input=A", "--map", "output=B")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{src}:4 answer: [empty-cell]" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "outptu=B"], "Did you mean 'output'?"),
        (["--map", "output=Z"], "Columns: A='question', B='answer', C='model'."),
        (["--map", "output"], "is not FIELD=VALUE"),
        (["--map", "output=B", "--set", "output=x"], "both a column and a constant"),
        (["--map", "output=B", "--from", "alpaca"], "--from cannot be combined"),
    ],
)
def test_cli_mapping_mistakes_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    src = answers(tmp_path / "answers.xlsx")
    proc = cli("convert", str(src), "-o", str(tmp_path / "o.json"), "--to", "alpaca", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_python_api_to_sharegpt_from_csv(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text('q,good,bad\nWhy?,"Because.","[1]"\n', encoding="utf-8")
    fmt = TableFormat.for_file(src, TableMapping(columns={"instruction": "q", "chosen": "good", "rejected": "C"}))
    (record,) = sftdata.read(src, fmt)
    assert record == PreferenceRecord(prompt=(Message(role="user", content="Why?"),), chosen=(Message(role="assistant", content="Because."),), rejected=(Message(role="assistant", content="[1]"),))
    assert record.source == Source(str(src), 2, "row")
    result = sftdata.convert(src, tmp_path / "o.jsonl", to="sharegpt", from_=fmt)
    assert (result.read, result.written) == (1, 1)
    assert orjson.loads((tmp_path / "o.jsonl").read_bytes()) == {"conversations": [{"from": "human", "value": "Why?"}], "chosen": {"from": "gpt", "value": "Because."}, "rejected": {"from": "gpt", "value": "[1]"}}


def test_json_and_label_columns(tmp_path: Path) -> None:
    fmt = TableFormat(TableMapping(columns={"input": "A", "output": "B", "history": "C", "kto_tag": "D"}), ["q", "a", "h", "ok"])
    rec = fmt.decode({"q": "now?", "a": "yes", "h": '[["before?", "no"]]', "ok": "TRUE"})
    assert rec.kind == "kto" and rec.label is True
    assert [m.content for m in rec.prompt] == ["before?", "no", "now?"]
    with pytest.raises(RecordError) as info:
        fmt.decode({"q": "now?", "a": "yes", "h": "[oops", "ok": "maybe"})
    assert [i.code for i in info.value.issues] == ["invalid-json", "kto-label"]
    with pytest.raises(RecordError, match="empty-prompt|the question is empty"):
        TableFormat(TableMapping(columns={"input": "A", "output": "B"}), ["q", "a"]).decode({"a": "x"})


def test_mapping_validation() -> None:
    with pytest.raises(UsageError, match="no column for the answer"):
        TableMapping(constants={"system": "x"})
    assert TableMapping.parse(["input = A "], ["system=a=b"], instruction="Do.") == TableMapping({"input": "A"}, {"system": "a=b", "instruction": "Do."})
    # An exact header name wins over a letter.
    assert TableMapping({"output": "B"}).resolve(["B", "x"]) == {"output": "B"}
    assert TableMapping({"output": "b"}).resolve(["q", "x"]) == {"output": "x"}


_cell = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(_cell, _cell | st.none() | st.integers(-5, 5)), min_size=1, max_size=8))
def test_nothing_lost_property(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, object]]) -> None:
    """Every non-empty spreadsheet row is written or rejected with a reason."""
    tmp = tmp_path_factory.mktemp("p")
    src = tmp / "t.csv"
    write_rows([{"q": q, "a": a} for q, a in rows], src)
    records = sum(1 for q, a in rows if (q.strip() or (a is not None and str(a).strip())))
    fmt = TableFormat.for_file(src, TableMapping({"input": "q", "output": "a"})) if records else None
    if fmt is None:
        return
    result = sftdata.convert(src, tmp / "o.jsonl", to="alpaca", from_=fmt, rejects=tmp / "r.jsonl")
    assert result.read == records == result.written + result.rejected
    written = [orjson.loads(line) for line in (tmp / "o.jsonl").read_bytes().splitlines()]
    assert all(row["output"].strip() for row in written)
