"""A crash or Ctrl-C mid-write leaves the previous output intact and no temporary files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sftdata.io import read_rows, write_rows

from _paths import ROOT

SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".jsonl.zst", ".parquet", ".xlsx", ".csv", ".tsv")


def rows_then(exc: BaseException) -> Iterator[dict]:
    yield {"instruction": "q1", "output": "a1"}
    yield {"instruction": "q2", "output": "a2"}
    raise exc


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()], ids=["crash", "ctrl-c"])
def test_failed_write_keeps_previous_file(tmp_path: Path, suffix: str, exc: BaseException) -> None:
    out = tmp_path / f"out{suffix}"
    previous = [{"instruction": "old", "output": "kept"}]
    write_rows(previous, out)
    before = out.read_bytes()
    with pytest.raises(type(exc)):
        write_rows(rows_then(exc), out)
    assert out.read_bytes() == before
    assert [r for r, _ in read_rows(out)] == previous
    assert os.listdir(tmp_path) == [out.name]


def test_cli_ctrl_c_mid_convert(tmp_path: Path) -> None:
    """SIGINT while the converter waits for input: exit 130, one line, nothing left behind."""
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sftdata", "convert", str(fifo), "-o", str(out), "--to", "openai", "--from", "sharegpt"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with open(fifo, "wb") as writer:
        line = b'{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}\n'
        writer.write(line * 5000)
        writer.flush()
        time.sleep(1.0)  # the child has read and converted these and waits for more
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert out.read_text() == "previous\n"
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "out.jsonl"]
