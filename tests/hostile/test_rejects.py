"""``--rejects`` means "set aside and go on", everywhere; ``--max-rejects`` is the budget."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from _run import jsonl, read_jsonl, sftdata, sharegpt

GOOD = [sharegpt(i) for i in range(12)]
# lines that are not JSON objects, each a different way: BOM mid-file, bad bytes, a
# truncated line, NaN, 10k-deep nesting, a scalar, an array
BAD = [b"\xef\xbb\xbf{}", b'{"conversations": "\xff\xfe"}', b'{"conversations": [{"from"', b'{"x": NaN}', b"[" * 10_000 + b"]" * 10_000, b"42", b"[1, 2]"]


def _mixed(tmp_path: Path) -> Path:
    lines = [orjson.dumps(r) for r in GOOD]
    for i, bad in enumerate(BAD):
        lines.insert(2 + 2 * i, bad)
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    return src


def _bad_lines() -> list[int]:
    return [3 + 2 * i for i in range(len(BAD))]


@pytest.mark.parametrize(
    "command",
    [
        ["convert", "{src}", "-o", "{out}", "--to", "openai"],
        ["filter", "{src}", "-o", "{out}", "--min-turns", "1"],
        ["dedup", "{src}", "-o", "{out}", "--mode", "exact"],
        ["split", "{src}", "-o", "{dir}", "--val-size", "0.25"],
        ["stats", "{src}", "--tokenizer", "qwen2.5", "--json"],
    ],
    ids=["convert", "filter", "dedup", "split", "stats"],
)
def test_rejects_sets_unreadable_lines_aside_and_goes_on(tmp_path: Path, command: list[str]) -> None:
    src = _mixed(tmp_path)
    rejects = tmp_path / "rejects.jsonl"
    args = [a.format(src=src, out=tmp_path / "out.jsonl", dir=tmp_path / "split") for a in command]
    stopped = sftdata(*args)
    assert stopped.code == 1 and "mixed.jsonl:3" in stopped.err, stopped.text
    r = sftdata(*args, "--rejects", rejects)
    assert r.code == 0, r.text
    rejected = read_jsonl(rejects)
    assert [x["line"] for x in rejected] == _bad_lines()
    assert all(x["codes"][0] in ("invalid-json", "wrong-type") for x in rejected)
    if command[0] == "split":
        written = len(read_jsonl(tmp_path / "split" / "train.jsonl")) + len(read_jsonl(tmp_path / "split" / "val.jsonl"))
    elif command[0] == "stats":
        written = orjson.loads(r.out)["records"]
    else:
        written = len(read_jsonl(tmp_path / "out.jsonl"))
    assert written + len(rejected) == len(GOOD) + len(BAD)


def test_check_reports_unreadable_lines_instead_of_stopping(tmp_path: Path) -> None:
    src = _mixed(tmp_path)
    r = sftdata("check", src, "--json")
    assert r.code == 1, r.text
    report = orjson.loads(r.out)
    assert report["validation"]["records"]["total"] == len(GOOD) + len(BAD)


def test_a_misspelled_key_in_one_row_does_not_fail_detection_with_rejects(tmp_path: Path) -> None:
    rows = [sharegpt(i) for i in range(10)]
    rows[4] = {"conversation": rows[4]["conversations"]}  # misspelled
    src = tmp_path / "train.jsonl"
    src.write_bytes(jsonl(rows))
    assert sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai").code == 1
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai", "--rejects", tmp_path / "rej.jsonl", "--json")
    assert r.code == 0, r.text
    result = orjson.loads(r.out)
    assert (result["from"], result["read"], result["written"], result["rejected"]) == ("sharegpt", 10, 9, 1)
    assert read_jsonl(tmp_path / "rej.jsonl")[0]["line"] == 5


@pytest.mark.parametrize("budget,ok", [("7", True), ("6", False), ("0.5", True), ("0.3", False)])
def test_max_rejects_fails_the_run_past_the_budget_and_replaces_nothing(tmp_path: Path, budget: str, ok: bool) -> None:
    src = _mixed(tmp_path)  # 7 bad of 19
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    r = sftdata("convert", src, "-o", out, "--to", "openai", "--rejects", tmp_path / "rej.jsonl", "--max-rejects", budget)
    if ok:
        assert r.code == 0, r.text
        assert len(read_jsonl(out)) == len(GOOD)
    else:
        assert r.code == 1 and "--max-rejects" in r.err, r.text
        assert out.read_text() == "old\n" and not (tmp_path / "rej.jsonl").exists()


def test_max_rejects_that_is_not_a_number_is_a_usage_error(tmp_path: Path) -> None:
    r = sftdata("convert", _mixed(tmp_path), "-o", tmp_path / "o.jsonl", "--to", "openai", "--rejects", tmp_path / "r.jsonl", "--max-rejects", "lots")
    assert r.code == 2 and "--max-rejects" in r.err


def test_max_rejects_fraction_counts_rows_read_by_worker_processes(tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    rows = [orjson.dumps(sharegpt(i)) for i in range(2000)]
    rows[100] = b"{broken"
    src.write_bytes(b"\n".join(rows) + b"\n")
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai", "--workers", "2", "--rejects", tmp_path / "rej.jsonl", "--max-rejects", "0.01")
    assert r.code == 0, r.text
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 1999 and len(read_jsonl(tmp_path / "rej.jsonl")) == 1
