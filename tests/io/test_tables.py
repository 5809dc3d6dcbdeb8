"""CSV, TSV, xlsx, Parquet and Hugging Face folders: reading, writing, the JSON-cell rule."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftdata.errors import MissingDependencyError, ReadError, UsageError, WriteError
from sftdata.formats import get_format
from sftdata.io import read_rows, write_rows
from sftdata.io.tables import read_header
from sftdata.record import Source

FLAT = (".csv", ".tsv", ".xlsx")
ALL = (".parquet", *FLAT, ".json", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz")


def rows_of(path: Path, **kw: Any) -> list[dict[str, Any]]:
    return [row for row, _ in read_rows(path, **kw)]


def flat_view(row: dict[str, Any]) -> dict[str, Any]:
    """What a flat table can say about a row: empty strings are empty cells (absent)."""
    return {k: v for k, v in row.items() if v != ""}


@pytest.mark.parametrize("suffix", ALL)
def test_mixed_rows_round_trip(tmp_path: Path, suffix: str) -> None:
    rows = [
        {"instruction": "Say hi", "output": "=1+1", "history": [["q", "a"]], "kto_tag": True, "n": 3},
        {"instruction": "多行\n文本, \"quoted\"\ttab", "output": "{not json", "history": [], "kto_tag": False},
        {"instruction": "only"},
    ]
    path = tmp_path / f"t{suffix}"
    assert write_rows(rows, path) == 3
    back = rows_of(path)
    if suffix in (".csv", ".tsv"):
        # CSV is untyped: the number comes back as text, everything else as written.
        rows[0]["n"] = "3"
    assert back == rows


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_realdata_rows_round_trip(realdata: Path, tmp_path: Path, suffix: str) -> None:
    for name in ("alpaca_zh_demo.json", "identity.json", "c4_demo.jsonl", "dpo_en_demo.json", "kto_en_demo.json", "mllm_demo.json"):
        rows = rows_of(realdata / name)
        if suffix == ".xlsx" and name == "c4_demo.jsonl":
            continue  # has a 37,499-character text: tested below as a refusal
        path = tmp_path / f"{name}{suffix}"
        write_rows(rows, path)
        expected = rows if suffix == ".parquet" else [flat_view(r) for r in rows]
        assert rows_of(path) == expected, name


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_sharegpt_records_survive_tables(realdata: Path, tmp_path: Path, suffix: str) -> None:
    """glaive's `tools` is a JSON string in the source; the JSON-cell rule parses it and
    the format accepts both spellings, so the decoded records are equal."""
    fmt = get_format("sharegpt")
    for name in ("glaive_toolcall_en_demo.json", "dpo_en_demo.json"):
        src = realdata / name
        path = tmp_path / f"{name}{suffix}"
        write_rows(rows_of(src), path)
        before = [fmt.decode(r, s) for r, s in read_rows(src)]
        after = [fmt.decode(r, s) for r, s in read_rows(path)]
        assert after == before, name


def test_xlsx_refuses_long_cell_and_writes_nothing(realdata: Path, tmp_path: Path) -> None:
    out = tmp_path / "c4.xlsx"
    with pytest.raises(WriteError) as info:
        write_rows(rows_of(realdata / "c4_demo.jsonl"), out)
    assert info.value.code == "cell-too-long" and info.value.path == str(out)
    assert "record 193, column 'text': 37499 characters" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_xlsx_refuses_control_characters(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="control characters"):
        write_rows([{"a": "bell\x07"}], tmp_path / "x.xlsx")


def test_json_cell_rule_is_per_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "a,b,c,d\n"
        '"[1, 2]","{""k"": 1}",true,007\n'
        '"{""x"": null}",{oops,false,\n'
        ",,,1e3\n",
        encoding="utf-8",
    )
    assert read_header(path) == ["a", "b", "c", "d"]
    assert rows_of(path) == [
        {"a": [1, 2], "b": '{"k": 1}', "c": True, "d": "007"},
        {"a": {"x": None}, "b": "{oops", "c": False},
        {"d": "1e3"},
    ]
    # The column mapping wants cells verbatim.
    assert rows_of(path, json_cells=False)[0] == {"a": "[1, 2]", "b": '{"k": 1}', "c": "true", "d": "007"}


def test_provenance_is_the_spreadsheet_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("q,a\nq1,a1\n,\nq3,a3\n", encoding="utf-8-sig")
    assert [(r, s) for r, s in read_rows(path)] == [
        ({"q": "q1", "a": "a1"}, Source(str(path), 2, "row")),
        ({"q": "q3", "a": "a3"}, Source(str(path), 4, "row")),
    ]


def test_parquet_rows_numbered_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_rows(({"i": i} for i in range(10_000)), path)
    got = list(read_rows(path))
    assert [r["i"] for r, _ in got] == list(range(10_000))
    assert [s.line for _, s in got] == list(range(1, 10_001))
    assert got[-1][1] == Source(str(path), 10_000, "row")


def test_parquet_mixed_types_and_empty_dicts_round_trip(tmp_path: Path) -> None:
    rows = [{"tools": "[]", "params": {}, "big": 2**60, "m": [{"a": 1, "b": None}]}, {"tools": [{"name": "f"}], "params": {"x": 1}, "big": 1, "m": [{"a": 2}]}]
    path = tmp_path / "t.parquet"
    write_rows(rows, path)
    rows[0]["m"] = [{"a": 1}]  # a null struct field is an absent key
    assert rows_of(path) == rows


def test_xlsx_header_gaps_and_duplicates(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["question", None, "question2"])
    ws.append(["q", "unnamed", 3.5])
    wb.save(tmp_path / "a.xlsx")
    assert rows_of(tmp_path / "a.xlsx") == [{"question": "q", "B": "unnamed", "question2": 3.5}]
    ws.append(["x", "y", "z", "overflow"])
    ws["C1"] = "question"
    wb.save(tmp_path / "b.xlsx")
    with pytest.raises(ReadError, match="repeats column name") as info:
        rows_of(tmp_path / "b.xlsx")
    assert info.value.line == 1


def test_csv_extra_cells_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ReadError) as info:
        rows_of(path)
    assert (info.value.code, info.value.line) == ("extra-cells", 3)


def test_damaged_files_are_read_errors(tmp_path: Path) -> None:
    for suffix in (".parquet", ".xlsx"):
        path = tmp_path / f"bad{suffix}"
        path.write_bytes(b"not really")
        with pytest.raises(ReadError) as info:
            rows_of(path)
        assert info.value.path == str(path)


@pytest.mark.parametrize(("suffix", "package"), [(".xlsx", "openpyxl"), (".parquet", "pyarrow")])
def test_missing_extra_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, package: str) -> None:
    path = tmp_path / f"t{suffix}"
    write_rows([{"a": 1}], path)
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(MissingDependencyError) as info:
        rows_of(path)
    assert "pip install 'sftdata[" in str(info.value)


def test_hf_save_to_disk_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}], "system": "s"}, {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}]
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(tmp_path / "ds"), num_shards=2)
    got = list(read_rows(tmp_path / "ds"))
    assert [r for r, _ in got] == rows
    assert [s for _, s in got] == [Source(str(tmp_path / "ds"), 1, "row"), Source(str(tmp_path / "ds"), 2, "row")]
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(UsageError, match="splits train, test"):
        list(read_rows(tmp_path / "dd"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="not a Hugging Face"):
        list(read_rows(tmp_path / "empty"))


# Values a flat table can carry exactly: non-blank text that is not itself JSON or a bool word.
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"), min_size=1, max_size=20).filter(
    lambda s: s.strip() != "" and s.strip()[:1] not in "[{" and s.strip() not in ("true", "false")
)
# No nulls: Parquet reads a null struct field as absent (tested on its own above).
_json = st.recursive(st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=6)
_nested = st.lists(_json, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=4), _json, max_size=3)


@st.composite
def _tables(draw: Any) -> list[dict[str, Any]]:
    kinds = draw(st.lists(st.sampled_from([_text, _nested, st.booleans()]), min_size=1, max_size=4))
    names = [f"c{i}" for i in range(len(kinds))]
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        row = {name: draw(kind) for name, kind in zip(names, kinds) if draw(st.booleans())}
        if row:
            rows.append(row)
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_tables(), suffix=st.sampled_from([".csv", ".tsv", ".xlsx", ".parquet"]))
def test_tables_round_trip_property(tmp_path: Path, rows: list[dict[str, Any]], suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    assert write_rows(rows, path) == len(rows)
    back = rows_of(path)
    assert back == rows
    orjson.dumps(back)  # plain JSON values only
