"""Data lost or changed silently: each case is a bug that once lost records without a word."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from _paths import ROOT
from _run import jsonl, read_jsonl, sftdata, sharegpt

ROWS = [sharegpt(i) for i in range(2000)]


def _zst(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize("cut", [0.5, 0.999], ids=["mid-block", "last-bytes"])
@pytest.mark.parametrize("command", ["convert", "validate", "stats", "detect", "dedup"])
def test_truncated_zst_is_an_error_not_a_shorter_file(tmp_path: Path, cut: float, command: str) -> None:
    whole = _zst(jsonl(ROWS))
    src = tmp_path / "train.jsonl.zst"
    src.write_bytes(whole[: int(len(whole) * cut)])
    args = {"convert": ["-o", tmp_path / "out.jsonl", "--to", "openai"], "dedup": ["-o", tmp_path / "out.jsonl"], "stats": ["--tokenizer", "qwen2.5"]}.get(command, [])
    r = sftdata(command, src, *args)
    assert r.code == 1, r.text
    assert "train.jsonl.zst" in r.err and "truncated" in r.err
    assert not (tmp_path / "out.jsonl").exists()


def test_complete_multi_frame_zst_reads_every_record(tmp_path: Path) -> None:
    src = tmp_path / "train.jsonl.zst"
    src.write_bytes(_zst(jsonl(ROWS[:700])) + _zst(jsonl(ROWS[700:])))
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai")
    assert r.code == 0, r.text
    assert len(read_jsonl(tmp_path / "out.jsonl")) == len(ROWS)


@pytest.mark.parametrize("command", ["convert", "validate", "detect"])
def test_truncated_gz_is_an_error_not_interrupted(tmp_path: Path, command: str) -> None:
    whole = gzip.compress(jsonl(ROWS))
    src = tmp_path / "train.jsonl.gz"
    src.write_bytes(whole[: len(whole) // 2])
    args = ["-o", tmp_path / "out.jsonl", "--to", "openai"] if command == "convert" else []
    r = sftdata(command, src, *args)
    assert r.code == 1, r.text
    assert "train.jsonl.gz" in r.err and "truncated" in r.err and "Interrupted" not in r.text


def _data(tmp_path: Path, n: int = 20) -> Path:
    src = tmp_path / "train.jsonl"
    src.write_bytes(jsonl(ROWS[:n]))
    return src


@pytest.mark.parametrize(
    "args",
    [
        ["convert", "{src}", "-o", "{src}", "--to", "sharegpt"],
        ["validate", "{src}", "-o", "{src}"],
        ["filter", "{src}", "-o", "{src}", "--min-turns", "5"],
        ["dedup", "{src}", "-o", "{src}", "--mode", "exact"],
        ["convert", "{src}", "-o", "{other}", "--rejects", "{other}", "--to", "openai"],
        ["dedup", "{src}", "-o", "{other}", "--report", "{other}", "--mode", "exact"],
        ["validate", "{src}", "-o", "{other}", "--rejects", "{other}"],
    ],
    ids=["convert-in-place", "validate-in-place", "filter-in-place", "dedup-in-place", "output-is-rejects", "output-is-report", "validate-output-is-rejects"],
)
def test_two_paths_of_one_command_that_are_one_file_are_refused(tmp_path: Path, args: list[str]) -> None:
    src = _data(tmp_path)
    before = src.read_bytes()
    other = tmp_path / "out.jsonl"
    r = sftdata(*[a.format(src=src, other=other) for a in args])
    assert r.code == 2, r.text
    assert "same file" in r.err
    assert src.read_bytes() == before and not other.exists()


@pytest.mark.parametrize("link", ["symlink", "hardlink", "dotdot"])
def test_output_that_is_the_input_through_a_link_is_refused(tmp_path: Path, link: str) -> None:
    src = _data(tmp_path)
    before = src.read_bytes()
    alias = tmp_path / "alias.jsonl"
    if link == "symlink":
        alias.symlink_to(src)
    elif link == "hardlink":
        os.link(src, alias)
    else:
        (tmp_path / "sub").mkdir()
        alias = tmp_path / "sub" / ".." / "train.jsonl"
    r = sftdata("filter", src, "-o", alias, "--min-turns", "5")
    assert r.code == 2 and "same file" in r.err, r.text
    assert src.read_bytes() == before


def test_in_place_replaces_the_input_and_keeps_a_backup(tmp_path: Path) -> None:
    src = _data(tmp_path)
    before = src.read_bytes()
    r = sftdata("filter", src, "-o", src, "--max-chars", "27", "--in-place")
    assert r.code == 0, r.text
    kept = read_jsonl(src)
    assert (tmp_path / "train.jsonl.bak").read_bytes() == before
    assert kept == ROWS[:10]
    assert "train.jsonl.bak" in r.err


@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_csv_writer_quotes_a_lone_carriage_return(tmp_path: Path, suffix: str) -> None:
    rows = [
        {"instruction": "a\rb", "input": "", "output": "one"},
        {"instruction": "c", "input": "", "output": "two\r"},
        {"instruction": "d\r\ne", "input": "", "output": "three"},
        {"instruction": "plain", "input": "", "output": "four"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(rows))
    out = tmp_path / f"out.{suffix}"
    assert sftdata("convert", src, "-o", out, "--to", "alpaca").code == 0
    back = tmp_path / "back.jsonl"
    r = sftdata("convert", out, "-o", back, "--to", "alpaca")
    assert r.code == 0, r.text
    assert read_jsonl(back) == rows


def test_concurrent_register_keeps_every_entry(tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    info.write_text('{"identity": {"file_name": "identity.json"}}')
    src = _data(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "sftdata", "convert", str(src), "-o", str(tmp_path / f"part{i}.jsonl"), "--to", "sharegpt", "--register", str(info), "--name", f"part{i}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(12)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    entries = orjson.loads(info.read_bytes())
    assert sorted(entries) == sorted(["identity", *(f"part{i}" for i in range(12))])
    assert entries["part3"]["file_name"] == "part3.jsonl"


def test_register_into_a_symlinked_dataset_info_edits_its_target(tmp_path: Path) -> None:
    real = tmp_path / "lf" / "data"
    real.mkdir(parents=True)
    (real / "dataset_info.json").write_text("{}")
    work = tmp_path / "work"
    work.mkdir()
    (work / "dataset_info.json").symlink_to(real / "dataset_info.json")
    src = _data(tmp_path)
    r = sftdata("convert", src, "-o", real / "mine.jsonl", "--to", "sharegpt", "--register", work / "dataset_info.json", "--name", "mine")
    assert r.code == 0, r.text
    assert (work / "dataset_info.json").is_symlink()
    assert orjson.loads((real / "dataset_info.json").read_bytes())["mine"]["file_name"] == "mine.jsonl"


def test_integers_above_64_bits_pass_through_exactly(tmp_path: Path) -> None:
    rows = [{**sharegpt(i), "id": 2**64 + i, "neg": -(2**70), "small": 7, "score": 0.5} for i in range(3)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    for to in ("sharegpt", "openai"):
        out = tmp_path / f"out-{to}.jsonl"
        r = sftdata("convert", src, "-o", out, "--to", to, "--json")
        assert r.code == 0, r.text
        back = [__import__("json").loads(line) for line in out.read_text().splitlines()]
        assert [(b["id"], b["neg"], b["small"], b["score"]) for b in back] == [(2**64 + i, -(2**70), 7, 0.5) for i in range(3)]
        assert orjson.loads(r.out)["losses"] == {}


def test_utf8_bom_at_the_start_is_accepted_and_said(tmp_path: Path) -> None:
    src = tmp_path / "bom.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + jsonl(ROWS[:5]))
    r = sftdata("validate", src)
    assert r.code == 0, r.text
    assert "byte-order mark" in r.out
    out = tmp_path / "out.jsonl"
    r = sftdata("convert", src, "-o", out, "--to", "sharegpt")
    assert r.code == 0, r.text
    assert read_jsonl(out) == ROWS[:5]
