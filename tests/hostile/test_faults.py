"""Every fault a clean, located error: no traceback, the file named, the old output intact."""

from __future__ import annotations

import gzip
import os
import resource
import signal
import time
from pathlib import Path

import pytest

from _run import jsonl, read_jsonl, sftdata, sharegpt

import sftdata as api
from sftdata.errors import DataError, InputNotFoundError, SftdataError, UsageError

ROWS = [sharegpt(i) for i in range(200)]


def _src(tmp_path: Path, n: int = 200) -> Path:
    src = tmp_path / "train.jsonl"
    src.write_bytes(jsonl(ROWS[:n]))
    return src


def test_plain_text_named_gz_is_a_located_error(tmp_path: Path) -> None:
    src = tmp_path / "train.jsonl.gz"
    src.write_bytes(jsonl(ROWS))
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai")
    assert r.code == 1 and "train.jsonl.gz" in r.err and "corrupt-compression" in r.err, r.text


def test_corrupt_gz_crc_is_a_located_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(jsonl(ROWS)))
    data[-6] ^= 0xFF  # the CRC-32 in the trailer
    src = tmp_path / "train.jsonl.gz"
    src.write_bytes(bytes(data))
    r = sftdata("validate", src)
    assert r.code == 1 and "train.jsonl.gz" in r.text and "CRC" in r.text, r.text


def test_corrupt_parquet_page_is_a_located_error(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    src = _src(tmp_path)
    pq = tmp_path / "train.parquet"
    assert sftdata("convert", src, "-o", pq, "--to", "sharegpt").code == 0
    data = bytearray(pq.read_bytes())
    for i in range(100, min(len(data) - 100, 400)):
        data[i] ^= 0x5A  # inside the first data page
    pq.write_bytes(bytes(data))
    r = sftdata("convert", pq, "-o", tmp_path / "out.jsonl", "--to", "openai", "--from", "sharegpt")
    assert r.code == 1 and "train.parquet" in r.err, r.text
    assert not (tmp_path / "out.jsonl").exists()


def test_utf16_input_says_utf16(tmp_path: Path) -> None:
    src = tmp_path / "train.jsonl"
    src.write_bytes(jsonl(ROWS[:3]).decode().encode("utf-16"))
    for command in ("validate", "detect"):
        r = sftdata(command, src)
        assert r.code == 1 and "UTF-16" in r.text and "surrogates" not in r.text, r.text


def test_unbalanced_csv_quote_is_a_located_error(tmp_path: Path) -> None:
    src = tmp_path / "sheet.csv"
    src.write_text('instruction,output\n"hello,world\nplain,row\n')
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "alpaca")
    assert r.code == 1 and "sheet.csv:2" in r.err and "quote" in r.err, r.text


def _fsize_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv", "xlsx", "parquet", "jsonl.gz"])
def test_disk_full_is_a_located_error_and_the_old_output_stays(tmp_path: Path, suffix: str) -> None:
    if suffix == "xlsx":
        pytest.importorskip("openpyxl")
    if suffix == "parquet":
        pytest.importorskip("pyarrow")
    big = [{"conversations": [{"from": "human", "value": f"q{i} " + os.urandom(200).hex()}, {"from": "gpt", "value": os.urandom(200).hex()}]} for i in range(600)]
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(big))
    out = tmp_path / f"out.{suffix}"
    out.write_bytes(b"old output")
    r = sftdata("convert", src, "-o", out, "--to", "sharegpt", preexec=_fsize_limit)
    assert r.code == 1, r.text
    assert f"out.{suffix}" in r.err and "disk is full" in r.err
    assert out.read_bytes() == b"old output"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_read_only_output_folder_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    src = _src(tmp_path, 5)
    os.chmod(folder, 0o555)
    try:
        if os.geteuid() != 0:
            r = sftdata("convert", src, "-o", folder / "out.jsonl", "--to", "openai")
            assert r.code == 1 and "out.jsonl" in r.err and "read-only" in r.err, r.text
            return
        # root writes anywhere: make creating a file in the folder fail as it would for a user
        real_touch = Path.touch

        def touch(self: Path, *args: object, **kwargs: object) -> None:
            if self.parent == folder:
                raise PermissionError(13, "Permission denied", str(self))
            real_touch(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "touch", touch)
        from sftdata.cli import main

        with pytest.raises(SystemExit) as exit_:
            main(["convert", str(src), "-o", str(folder / "out.jsonl"), "--to", "openai"])
        err = capsys.readouterr().err
        assert exit_.value.code == 1 and "out.jsonl" in err and "read-only" in err and "Traceback" not in err, err
    finally:
        os.chmod(folder, 0o755)


def test_output_whose_parent_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    src = _src(tmp_path)
    r = sftdata("convert", src, "-o", src / "out.jsonl", "--to", "openai")
    assert r.code == 2 and "is a file, not a folder" in r.err, r.text


def test_rejects_pointing_at_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    src = _src(tmp_path)
    (tmp_path / "rej").mkdir()
    r = sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai", "--rejects", tmp_path / "rej")
    assert r.code == 2 and "is a folder" in r.err, r.text
    assert not (tmp_path / "out.jsonl").exists()


def test_python_api_errors_subclass_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as missing:
        list(api.read(tmp_path / "nope.jsonl", "sharegpt"))
    assert isinstance(missing.value, InputNotFoundError) and isinstance(missing.value, SftdataError)
    assert "nope.jsonl" in str(missing.value)
    src = _src(tmp_path, 3)
    with pytest.raises(ValueError) as bad_to:
        api.convert(src, tmp_path / "out.jsonl", to=5)  # type: ignore[arg-type]
    assert isinstance(bad_to.value, UsageError) and "format name" in str(bad_to.value)
    with pytest.raises(ValueError) as bad_rows:
        api.write([{"conversations": []}], tmp_path / "out.jsonl", "sharegpt")  # type: ignore[list-item]
    assert isinstance(bad_rows.value, UsageError) and "Record" in str(bad_rows.value)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError) as bad_data:
        list(api.read(tmp_path / "bad.jsonl", "sharegpt"))
    assert isinstance(bad_data.value, DataError)


def test_leftover_tmp_of_a_dead_run_is_removed_and_a_live_one_kept(tmp_path: Path) -> None:
    src = _src(tmp_path, 5)
    dead_pid = 4_000_000  # above pid_max: no such process
    dead = tmp_path / f".out.jsonl.sftdata-{dead_pid}-abcd1234.tmp"
    live = tmp_path / f".out.jsonl.sftdata-{os.getpid()}-abcd1234.tmp"
    other = tmp_path / f".other.jsonl.sftdata-{dead_pid}-abcd1234.tmp"
    for p in (dead, live, other):
        p.write_text("partial")
    assert sftdata("convert", src, "-o", tmp_path / "out.jsonl", "--to", "openai").code == 0
    assert not dead.exists() and live.exists() and other.exists()
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5


def test_orphaned_workers_exit_when_the_parent_dies(tmp_path: Path) -> None:
    import subprocess
    import sys

    from _paths import ROOT

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from sftdata.engines.local import worker_pool\n"
        "pool = worker_pool(2)\n"
        "pids = [p.pid for p in pool._pool]\n"
        "print(' '.join(map(str, pids)), flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.kill()  # SIGKILL: the pool cannot clean up
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.2)
    assert not any(_running(p) for p in pids)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
