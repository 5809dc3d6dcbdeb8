"""Streaming .json arrays (sftdata/io/jsonarray.py) must read what orjson reads whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftdata.errors import ReadError
from sftdata.io import files, read_rows
from sftdata.io.jsonarray import stream_elements, top_level

# Strings full of the bytes the scanner must not mistake for structure.
tricky = st.lists(st.sampled_from(list('ab,[]{}"\\\n :') + ["\\\\", '\\"', "é", "数", "\U0001f600"]), max_size=12).map("".join)
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | tricky
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky, inner, max_size=4), max_leaves=12)
arrays = st.lists(st.dictionaries(tricky, values, max_size=4), max_size=8)


def _spell(value: list[Any], style: int) -> bytes:
    if style == 0:
        return orjson.dumps(value)
    if style == 1:
        return json.dumps(value, indent=2, ensure_ascii=False).encode()
    if style == 2:
        return ("\n  [ " + " ,\n".join(json.dumps(v, ensure_ascii=True) for v in value) + "\n]\n\n").encode()
    return ("[\n" + ",\n".join(json.dumps(v, ensure_ascii=False) for v in value) + "\n]").encode()  # one per line


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=arrays, style=st.integers(0, 3), chunk=st.integers(1, 64))
def test_streamed_elements_equal_whole_parse(tmp_path: Path, value: list[Any], style: int, chunk: int) -> None:
    p = tmp_path / "d.json"
    p.write_bytes(_spell(value, style))
    assert list(stream_elements(p, chunk=chunk)) == orjson.loads(p.read_bytes())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=arrays.filter(bool), cut=st.integers(0, 10_000), junk=st.sampled_from([b",", b"]", b"}", b'"', b"x", b"", b"\n"]), chunk=st.integers(1, 64))
def test_broken_files_fail_exactly_when_orjson_fails(tmp_path: Path, value: list[Any], cut: int, junk: bytes, chunk: int) -> None:
    text = json.dumps(value, indent=1).encode()
    cut %= len(text) + 1
    broken = text[:cut] + junk + text[cut:]
    p = tmp_path / "d.json"
    p.write_bytes(broken)
    try:
        whole = orjson.loads(broken)
    except orjson.JSONDecodeError:
        whole = None
    if whole is None or not isinstance(whole, list):
        with pytest.raises(ReadError):
            list(stream_elements(p, chunk=chunk))
    else:
        assert list(stream_elements(p, chunk=chunk)) == whole


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        (b'[\n{"a": 1},\n{"a": 2}\n{"a": 3}\n]', 4, "unexpected"),
        (b'[\n{"a": 1},\n{"a": 2},\n]', 3, "trailing comma"),
        (b'[\n{"a": 1},\n,{"a": 2}]', 2, "unexpected"),
        (b'[\n{"a": 1},\n{"a": 2}', 3, "ends inside"),
        (b'[\n{"a": 1}\n]\n\n{"b": 2}', 5, "more data"),
    ],
)
def test_errors_name_the_file_line(tmp_path: Path, text: bytes, line: int, why: str) -> None:
    p = tmp_path / "d.json"
    p.write_bytes(text)
    with pytest.raises(ReadError) as info:
        list(stream_elements(p, chunk=4))
    assert info.value.line == line and info.value.code == "invalid-json"
    assert why in str(info.value).lower() or why == "unexpected"


@pytest.mark.parametrize("chunk", range(1, 80))
def test_layout_cut_inside_a_nested_value_falls_back_to_the_scan(tmp_path: Path, chunk: int) -> None:
    # one element per line, but the first element holds objects laid out the same way
    text = b'[\n{"a": [{"x": 1},\n{"y": "},\\n{"}]},\n{"b": [{"z": 3},\n{}]},\n{"c": 1}\n]'
    p = tmp_path / "d.json"
    p.write_bytes(text)
    assert list(stream_elements(p, chunk=chunk)) == orjson.loads(text)


def test_top_level_ignores_escaped_quotes_and_nested_commas() -> None:
    assert top_level(b'"a\\\\", "b\\"]", [1, {"c": [2, 3]}], 4 ] x') == ([5, 13, 33], 37)


def test_read_rows_streams_large_arrays_with_the_same_rows_and_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"instruction": f"q{i}", "input": "", "output": "a,]}" * (i % 5)} for i in range(500)]
    p = tmp_path / "big.json"
    p.write_bytes(json.dumps(rows, indent=2).encode())
    whole = list(read_rows(p))
    monkeypatch.setattr(files, "STREAM_BYTES", 0)
    seen: list[int] = []
    streamed = list(files._read_json(p, None, seen.append))
    assert [(r, (s.path, s.line, s.unit)) for r, s in streamed] == [(r, (s.path, s.line, s.unit)) for r, s in whole]
    assert seen and seen[-1] == p.stat().st_size  # every byte, up to the closing bracket
    p.write_bytes(b'[{"a": 1}, 2]')
    with pytest.raises(ReadError) as info:
        list(read_rows(p))
    assert info.value.line == 2 and info.value.code == "wrong-type"


def test_without_numpy_large_arrays_are_parsed_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a core install has no numpy: reading must still work, as before streaming existed
    from sftdata.io import jsonarray

    rows = [{"text": f"row {i}"} for i in range(50)]
    p = tmp_path / "big.json"
    p.write_text(json.dumps(rows, indent=2))
    monkeypatch.setattr(files, "STREAM_BYTES", 0)
    monkeypatch.setattr(jsonarray, "available", lambda: False)

    def no_stream(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("streamed without numpy")

    monkeypatch.setattr(jsonarray, "stream_elements", no_stream)
    assert [r for r, _ in read_rows(p)] == rows
