"""Hugging Face datasets interop: from_dataset, to_dataset, converters in Dataset.map."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import sftdata
from sftdata.api import RejectSink
from sftdata.errors import LossError, RecordError
from sftdata.formats import LossReport, get_format
from sftdata.formats.toolids import fill_record
from sftdata.io.parquet import drop_nulls

datasets = pytest.importorskip("datasets")
hf = pytest.importorskip("sftdata.hf")


def glaive(realdata: Path) -> list[dict]:
    return orjson.loads((realdata / "glaive_toolcall_en_demo.json").read_bytes())


def test_from_dataset_matches_reading_the_file(realdata: Path) -> None:
    ds = datasets.Dataset.from_list(glaive(realdata))
    from_file = list(sftdata.read(realdata / "glaive_toolcall_en_demo.json"))
    from_ds = list(hf.from_dataset(ds))
    assert from_ds == from_file and len(from_ds) == 300
    assert from_ds[4].source == sftdata.Source("<dataset>", 5, "row")


def test_to_dataset_round_trip_every_kind(realdata: Path) -> None:
    for name, target in (("glaive_toolcall_en_demo.json", "openai"), ("dpo_en_demo.json", "sharegpt"), ("alpaca_zh_demo.json", "alpaca"), ("c4_demo.jsonl", "alpaca")):
        records = list(sftdata.read(realdata / name))
        losses = LossReport()
        ds = hf.to_dataset(records, target, losses=losses)
        assert len(ds) == len(records) and not losses, name
        assert list(hf.from_dataset(ds, target)) == records, name


def test_to_dataset_reports_losses_and_strict(realdata: Path) -> None:
    records = list(sftdata.read(realdata / "glaive_toolcall_en_demo.json"))[:3]
    losses = LossReport()
    hf.to_dataset(records, "alpaca", losses=losses)
    assert losses.to_dict() == {"tool calls and tool results": 3} or losses  # names come from the alpaca codec
    with pytest.raises(LossError):
        hf.to_dataset(records, "alpaca", strict=True)


def test_batched_map_with_two_processes_equals_serial(realdata: Path) -> None:
    rows = glaive(realdata)
    ds = datasets.Dataset.from_list(rows)
    conv = hf.converter(from_="sharegpt", to="openai")
    out = ds.map(conv, batched=True, batch_size=64, num_proc=2, remove_columns=ds.column_names)
    openai = get_format("openai")
    records = [fill_record(r) for r in sftdata.read(realdata / "glaive_toolcall_en_demo.json")]  # ids, as convert writes
    expected = []
    for record in records:
        row = openai.encode(record)[0]
        if "tools" in row:  # tool schemas differ per row: JSON text in a Dataset
            row["tools"] = orjson.dumps(row["tools"]).decode()
        expected.append(drop_nulls(row))  # Arrow: a null field reads as absent
    assert [drop_nulls(r) for r in out] == expected
    assert list(hf.from_dataset(out, "openai")) == records
    # Every glaive row has tools; per-row map needs its columns named up front.
    single = ds.map(hf.Converter("sharegpt", "openai", batched=False, columns=("messages", "tools")), remove_columns=ds.column_names)
    assert [drop_nulls(r) for r in single] == expected


def test_bad_rows_raise_or_are_marked() -> None:
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, {"conversations": [{"from": "alien", "value": "q"}]}]
    ds = datasets.Dataset.from_list(rows)
    with pytest.raises(Exception) as info:
        ds.map(hf.converter(), batched=True, remove_columns=ds.column_names)
    assert "unknown-role" in str(info.value) or isinstance(info.value, RecordError)
    out = ds.map(hf.converter(on_error="mark"), batched=True, num_proc=2, remove_columns=ds.column_names)
    assert len(out) == 2
    assert out[0]["sftdata_error"] is None and out[0]["messages"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert out[1]["messages"] is None and "[unknown-role]" in out[1]["sftdata_error"]
    sink = RejectSink()
    assert len(list(hf.from_dataset(ds, "sharegpt", rejects=sink))) == 1
    assert (sink.total, dict(sink.counts)) == (1, {"unknown-role": 1})


def test_import_does_not_load_datasets() -> None:
    import subprocess
    import sys

    from _paths import ROOT

    code = "import sys, sftdata.hf; print('datasets' in sys.modules, 'pyarrow' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.strip() == "False False", proc.stderr


def test_convert_dataset_copes_with_optional_columns(realdata: Path) -> None:
    """Rows with and without tools/system, in several batches and two processes."""
    rows = [r for r in glaive(realdata) if r.get("tools") not in (None, "", "[]")][:40]
    rows += [{"conversations": [{"from": "human", "value": r["instruction"]}, {"from": "gpt", "value": r["output"]}], "system": "s"} for r in orjson.loads((realdata / "alpaca_zh_demo.json").read_bytes())[:40]]
    rows.insert(0, {"conversations": [{"from": "human", "value": "bare"}, {"from": "gpt", "value": "row"}]})
    # Dataset.from_list takes its columns from the first row only.
    columns = dict.fromkeys(k for r in rows for k in r)
    ds = datasets.Dataset.from_dict({k: [r.get(k) for r in rows] for k in columns})
    expected = [get_format("sharegpt").decode(drop_nulls(r)) for r in rows]
    out = hf.convert_dataset(ds, to="openai", num_proc=2, batch_size=16)
    assert len(out) == len(rows) and sorted(out.column_names) == ["messages", "tools"]
    # openai output gets tool-call ids, as sftdata.convert writes them
    assert list(hf.from_dataset(out, "openai")) == [fill_record(r) for r in expected]
    back = hf.convert_dataset(out, to="sharegpt", from_="openai", batch_size=16)
    assert list(hf.from_dataset(back, "sharegpt")) == expected


def test_convert_dataset_marks_bad_rows() -> None:
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, {"conversations": [{"from": "alien", "value": "q"}]}]
    out = hf.convert_dataset(datasets.Dataset.from_list(rows), to="alpaca", from_="sharegpt", on_error="mark")
    assert out[0]["sftdata_error"] is None and out[0]["output"] == "a"
    assert out[1]["output"] is None and "[unknown-role]" in out[1]["sftdata_error"]


def test_converter_writes_the_rows_convert_writes(realdata: Path, tmp_path: Path) -> None:
    rows = glaive(realdata)
    src = tmp_path / "glaive.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    sftdata.convert(src, tmp_path / "out.jsonl", to="openai")
    written = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    conv = hf.converter(from_="sharegpt", to="openai", json_columns=())
    assert [conv.convert_row(r) for r in rows] == written
    plain = hf.Converter("sharegpt", "openai", json_columns=(), tool_call_ids=False)
    assert not any("tool_call_id" in m for r in rows for m in plain.convert_row(r)["messages"])
