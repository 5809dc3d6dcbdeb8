"""Unbounded resources: one huge line must not take any command past 500 MB.

Each case crafts its file in the test (compressed where it can be, a few MB on disk) and
runs one command in a fresh process that reports its own peak resident memory (VmHWM).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _paths import ROOT
from _run import jsonl, sftdata, sharegpt

PEAK_MB = 500
GB = 1 << 30


# The command runs under this wrapper, which writes its own VmHWM when it exits. The
# peak must come from the new process's own memory map: ``ru_maxrss`` (wait4, getrusage)
# keeps the largest map the process ever had, and a child forked or vforked from a large
# pytest worker starts out with the worker's peak (about 550 MB in the full suite).
_WRAP = """
import atexit, os, runpy, sys

def _hwm():
    with open(os.environ["SFTDATA_TEST_HWM"], "w") as out:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                out.write(line.split()[1])

atexit.register(_hwm)
sys.argv = ["sftdata", *sys.argv[1:]]
runpy.run_module("sftdata", run_name="__main__", alter_sys=True)
"""


def _peak(args: list[object], tmp_path: Path) -> tuple[int, str, float]:
    """Exit code, stderr and peak RSS (MB) of ``python -m sftdata ARGS``."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc")
    hwm = tmp_path / "hwm.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "SFTDATA_TEST_HWM": str(hwm)}
    with open(tmp_path / "err.txt", "wb") as err, open(tmp_path / "out.txt", "wb") as out:
        code = subprocess.call([sys.executable, "-c", _WRAP, *map(str, args)], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    text = (tmp_path / "err.txt").read_text() + (tmp_path / "out.txt").read_text()
    assert "Traceback" not in text, text
    return code, text, int(hwm.read_text()) / 1024


BLOCK = 16 << 20


def _repeated(path: Path, head: bytes, block: bytes, times: int, tail: bytes, compress: object) -> None:
    """A file of concatenated gzip members / zstd frames (both formats allow it): one
    block compressed once and repeated, so a gigabyte costs a second to craft."""
    member = compress(block)  # type: ignore[operator]
    with open(path, "wb") as fh:
        if head:
            fh.write(compress(head))  # type: ignore[operator]
        for _ in range(times):
            fh.write(member)
        if tail:
            fh.write(compress(tail))  # type: ignore[operator]


def test_gzip_bomb_of_zeros_is_too_long_not_out_of_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    _repeated(bomb, b"", b"\0" * BLOCK, GB // BLOCK, b"", gzip.compress)
    assert bomb.stat().st_size < 4 << 20
    code, text, peak = _peak(["detect", bomb], tmp_path)
    # NULs are not UTF-8 text: refused at the first bytes, before any line is read
    assert code == 1 and "bomb.jsonl.gz" in text, text
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"


def test_gzip_bomb_of_one_long_line_is_too_long(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    _repeated(bomb, jsonl([sharegpt(0)]) + b'{"text": "', b"a" * BLOCK, GB // BLOCK, b'"}\n', gzip.compress)
    code, text, peak = _peak(["validate", bomb], tmp_path)
    assert code == 1 and "too-long" in text and "bomb.jsonl.gz:2" in text, text
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"


def test_zst_of_a_gigabyte_of_spaces_is_too_long(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    src = tmp_path / "spaces.jsonl.zst"
    with open(src, "wb") as fh, zstandard.ZstdCompressor(level=1).stream_writer(fh) as w:
        block = b" " * (16 << 20)
        for _ in range(GB // len(block)):
            w.write(block)
    code, text, peak = _peak(["convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai"], tmp_path)
    assert code == 1 and "too-long" in text and "spaces.jsonl.zst:1" in text, text
    assert not (tmp_path / "out.jsonl").exists()
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"


@pytest.mark.parametrize("command", ["convert", "stats"])
def test_a_700_mb_record_is_too_long_and_the_rest_can_be_set_aside(tmp_path: Path, command: str) -> None:
    src = tmp_path / "big.jsonl"
    with open(src, "wb") as fh:
        fh.write(jsonl([sharegpt(i) for i in range(3)]))
        fh.write(b'{"conversations": [{"from": "human", "value": "')
        block = b"x" * (16 << 20)
        for _ in range(700 * (1 << 20) // len(block)):
            fh.write(block)
        fh.write(b'"}]}\n')
        fh.write(jsonl([sharegpt(i) for i in range(3, 6)]))
    rejects = tmp_path / "rejects.jsonl"
    args = ["-o", tmp_path / "out.jsonl", "--to", "openai"] if command == "convert" else ["--tokenizer", "qwen2.5", "--json"]
    code, text, peak = _peak([command, src, *args, "--rejects", rejects], tmp_path)
    assert code == 0, text
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    lines = rejects.read_text().splitlines()
    assert len(lines) == 1 and '"too-long"' in lines[0] and '"line":4' in lines[0]
    if command == "convert":
        assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 6  # 7 read == 6 written + 1 rejected


def test_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    for command in ("detect", "validate", "stats"):
        r = sftdata(command, link, timeout=60)
        assert r.code == 1 and "zero.jsonl" in r.err and "not a data file" in r.err, r.text


def test_max_line_bytes_sets_the_cap(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    long_row = {"conversations": [{"from": "human", "value": "q" * 5000}, {"from": "gpt", "value": "a"}]}
    src.write_bytes(jsonl([sharegpt(0), long_row, sharegpt(1)]))
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai", "--max-line-bytes", "4096")
    assert r.code == 1 and "in.jsonl:2" in r.err and "too-long" in r.err and "--max-line-bytes" in r.err, r.text
    assert sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai").code == 0
