"""The multi-process JSONL path gives exactly what one process gives."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import sftdata
from sftdata.engines import convert as parallel
from sftdata.errors import LossError, ReadError, RecordError
from sftdata.io.files import spans

GOOD = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
TOOL = {"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": '{"name": "f", "arguments": {}, "id": "c1"}'}, {"from": "observation", "value": "1"}, {"from": "gpt", "value": "a"}]}
BAD = {"conversations": [{"from": "alien", "value": "q"}]}


def make(path: Path, n: int, every_bad: int = 0) -> None:
    lines = []
    for i in range(n):
        row = dict(BAD if every_bad and i % every_bad == 7 else (TOOL if i % 5 == 0 else GOOD))
        row["id"] = i
        lines.append(orjson.dumps(row))
        if i % 11 == 3:
            lines.append(b"   ")  # blank lines count as lines, not records
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 997)  # many ranges, cut mid-way anywhere


def test_same_output_rejects_and_counts(tmp_path: Path, small_chunks: None) -> None:
    src = tmp_path / "in.jsonl"
    make(src, 600, every_bad=50)
    results = {}
    for workers in (1, 2):
        out, rej = tmp_path / f"out{workers}.jsonl", tmp_path / f"rej{workers}.jsonl"
        result = sftdata.convert(src, out, to="sharegpt", from_="sharegpt", rejects=rej, workers=workers)
        results[workers] = (result.to_dict(), out.read_bytes(), rej.read_bytes())
    assert results[1] == results[2]
    summary = results[2][0]
    assert (summary["read"], summary["written"], summary["rejected"]) == (600, 588, 12)
    assert summary["losses"] == {"tool call ids": 120}
    first = orjson.loads(results[2][2].splitlines()[0])
    assert first["line"] == 9 and first["source"] == f"{src}:9"


def test_first_error_in_file_order(tmp_path: Path, small_chunks: None) -> None:
    src = tmp_path / "in.jsonl"
    make(src, 300, every_bad=100)
    errors = []
    for workers in (1, 2):
        with pytest.raises(RecordError) as info:
            sftdata.convert(src, tmp_path / "o.jsonl", to="sharegpt", from_="sharegpt", workers=workers)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and f"{src}:9 " in errors[0]
    assert not (tmp_path / "o.jsonl").exists()


def test_strict_and_bad_json_stop_with_the_right_line(tmp_path: Path, small_chunks: None) -> None:
    src = tmp_path / "in.jsonl"
    make(src, 200)
    for workers in (1, 2):
        with pytest.raises(LossError) as info:
            sftdata.convert(src, tmp_path / "o.jsonl", to="sharegpt", from_="sharegpt", strict=True, workers=workers)
        assert info.value.line == 1
    src.write_bytes(src.read_bytes() + b'{"conversations": [\n')
    lines = src.read_bytes().count(b"\n")
    for workers in (1, 2):
        with pytest.raises(ReadError) as info:
            sftdata.convert(src, tmp_path / "o.jsonl", to="sharegpt", from_="sharegpt", workers=workers)
        assert (info.value.line, info.value.code) == (lines, "invalid-json")
    assert list(tmp_path.iterdir()) == [src]


def test_spans_cover_the_file_at_line_ends(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    make(src, 100)
    data = src.read_bytes()
    got = list(spans(src, 100))
    assert got[0][0] == 0 and got[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(got, got[1:]))
    assert all(data[end - 1 : end] == b"\n" for _, end in got)


def test_small_files_stay_in_one_process(tmp_path: Path) -> None:
    from sftdata.api import _parallel_workers

    src = tmp_path / "in.jsonl"
    make(src, 10)
    assert _parallel_workers(src, tmp_path / "o.jsonl", None) == 1
    assert _parallel_workers(src, tmp_path / "o.parquet", 4) == 1
    assert _parallel_workers(src, tmp_path / "o.jsonl", 4) == 4


def test_fast_path_changes_nothing_but_speed(tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """sharegpt -> openai, with and without the row fast path, in one and two processes."""
    import sftdata.api
    import sftdata.formats.fastpath

    src = tmp_path / "in.jsonl"
    make(src, 400, every_bad=50)
    outputs = set()
    for use_fast in (True, False):
        if not use_fast:
            monkeypatch.setattr(sftdata.api, "fast_path", lambda *a: None)
            monkeypatch.setattr(sftdata.formats.fastpath, "fast_path", lambda *a: None)
        for workers in (1, 2):
            out, rej = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
            result = sftdata.convert(src, out, to="openai", from_="sharegpt", rejects=rej, workers=workers, register=tmp_path / "info.json", name="x")
            outputs.add((orjson.dumps(result.to_dict()), out.read_bytes(), rej.read_bytes()))
    assert len(outputs) == 1
    summary = orjson.loads(next(iter(outputs))[0])
    assert (summary["read"], summary["written"], summary["rejected"], summary["losses"]) == (400, 392, 8, {})
