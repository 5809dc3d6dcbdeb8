"""Plain .txt pretraining files: one {"text": line} record per line, as LLaMA-Factory's loader reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paths import FIXTURES

import sftdata
from sftdata.errors import ReadError
from sftdata.io import read_rows
from sftdata.record import PretrainRecord

WIKI = FIXTURES / "text" / "wiki.txt"
LINES = [
    "Tidal forces stretch a moon along the line to its planet.",
    "A lunar day on the Moon lasts about 29.5 Earth days.",
    "The far side of the Moon is not dark; it is only unseen from Earth.",
]


def test_lines_are_text_rows_with_their_physical_line() -> None:
    got = [(row, src.line) for row, src in read_rows(WIKI)]
    assert got == [({"text": LINES[0]}, 1), ({"text": LINES[1]}, 3), ({"text": LINES[2]}, 4)]


def test_detected_as_pretraining_and_converted(tmp_path: Path) -> None:
    found = sftdata.detect(WIKI)
    assert (found.format, found.kind) == ("alpaca", "pretrain")
    assert list(sftdata.read(WIKI)) == [PretrainRecord(text=t) for t in LINES]
    result = sftdata.convert(WIKI, tmp_path / "out.jsonl", to="trl")
    assert (result.read, result.written, result.rejected) == (3, 3, 0)
    assert [json.loads(ln) for ln in (tmp_path / "out.jsonl").read_text().splitlines()] == [{"text": t} for t in LINES]


def test_same_rows_as_huggingface_text_loader(tmp_path: Path) -> None:
    """Hugging Face's ``text`` builder (what LLaMA-Factory uses for .txt) ends lines at
    \\n, \\r\\n and \\r, not at U+2028; its empty rows are the only difference (not records here)."""
    datasets = pytest.importorskip("datasets")
    p = tmp_path / "odd.txt"
    p.write_bytes("one\r\ntwo\rthree\n\nfour\u2028five\n".encode())
    theirs = [r["text"] for r in datasets.load_dataset("text", data_files=str(p), split="train", cache_dir=str(tmp_path / "c"))]
    ours = [row["text"] for row, _ in read_rows(p)]
    assert ours == [t for t in theirs if t]


def test_compressed_and_invalid_utf8(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "w.txt.gz"
    gz.write_bytes(gzip.compress(WIKI.read_bytes()))
    assert [row for row, _ in read_rows(gz)] == [{"text": t} for t in LINES]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(ReadError) as info:
        list(read_rows(bad))
    assert (info.value.path, info.value.line, info.value.code) == (str(bad), 2, "invalid-text")


def test_input_type_forces_the_reader(tmp_path: Path) -> None:
    from sftdata.errors import UsageError

    log = tmp_path / "export.log"
    log.write_text('{"instruction": "2+2?", "output": "4"}\n\n{"instruction": "3+3?", "output": "6"}\n')
    with pytest.raises(UsageError):
        sftdata.detect(log)
    found = sftdata.detect(log, input_type="jsonl")
    assert (found.format, found.kind) == ("alpaca", "sft")
    result = sftdata.convert(log, tmp_path / "out.jsonl", to="trl-standard", input_type="jsonl", rejects=tmp_path / "rej.jsonl")
    assert (result.read, result.written, result.rejected) == (2, 2, 0)
    assert [json.loads(ln) for ln in (tmp_path / "out.jsonl").read_text().splitlines()] == [
        {"prompt": "2+2?", "completion": "4"},
        {"prompt": "3+3?", "completion": "6"},
    ]
    # a .txt file read as text, and a JSON Lines file named .txt read as JSON Lines
    named_txt = tmp_path / "rows.txt"
    named_txt.write_text('{"text": "a"}\n')
    assert list(sftdata.read(named_txt)) == [PretrainRecord(text='{"text": "a"}')]
    assert sftdata.convert(named_txt, tmp_path / "t.jsonl", to="trl", input_type="jsonl").written == 1
    assert json.loads((tmp_path / "t.jsonl").read_text()) == {"text": "a"}
    with pytest.raises(UsageError, match="unknown input type 'jsnl'"):
        sftdata.convert(log, tmp_path / "x.jsonl", to="trl", input_type="jsnl")


def test_text_lines_are_capped_as_jsonl_lines_are(tmp_path: Path) -> None:
    """--max-line-bytes applies to .txt too: a longer line is a located too-long error, never held."""
    from sftdata.io.files import max_line_bytes, set_max_line_bytes

    p = tmp_path / "big.txt"
    p.write_bytes(b"short\n" + b"a" * 5000 + b"\r\nlast\n")
    assert [row["text"] for row, _ in read_rows(p)] == ["short", "a" * 5000, "last"]
    before = max_line_bytes()
    set_max_line_bytes(1024)
    try:
        with pytest.raises(ReadError) as info:
            list(read_rows(p))
    finally:
        set_max_line_bytes(before)
    assert (info.value.path, info.value.line, info.value.code) == (str(p), 2, "too-long")


def test_input_type_keeps_the_input_checks(tmp_path: Path) -> None:
    """--input-type picks the reader only: missing files, unreadable lines sent to
    --rejects and the same-file refusal work as for any other input."""
    from sftdata.errors import InputNotFoundError

    with pytest.raises(InputNotFoundError):
        sftdata.detect(tmp_path / "missing.log", input_type="jsonl")
    log = tmp_path / "export.log"
    log.write_text('{"instruction": "2+2?", "output": "4"}\nnot json\n')
    result = sftdata.convert(log, tmp_path / "out.jsonl", to="trl", input_type="jsonl", rejects=tmp_path / "rej.jsonl")
    assert (result.read, result.written, result.rejected, result.reject_codes) == (2, 1, 1, {"invalid-json": 1})
    assert [json.loads(ln)["source"] for ln in (tmp_path / "rej.jsonl").read_text().splitlines()] == [f"{log}:2"]
