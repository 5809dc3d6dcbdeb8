"""convert's progress bar: bytes of input for JSON files (serial and parallel), silent off a terminal."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

import sftdata
from sftdata import api
from sftdata.io import read_rows
from sftdata.progress import Ticker, progress

from _paths import FIXTURES, ROOT


class Recorder(Ticker):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def __call__(self, n: int = 1) -> None:
        self.events.append(("advance", n))

    def update(self, completed: int) -> None:
        self.events.append(("update", completed))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, str, Recorder]]:
    bars: list[tuple[str, Any, str, Recorder]] = []

    @contextmanager
    def fake(label: str, total: int | None = None, unit: str = "records") -> Iterator[Recorder]:
        rec = Recorder()
        bars.append((label, total, unit, rec))
        yield rec

    monkeypatch.setattr(api, "progress", fake)
    return bars


def big_jsonl(path: Path, n: int = 3000) -> int:
    row = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}
    data = b"".join(orjson.dumps({**row, "id": i}, option=orjson.OPT_APPEND_NEWLINE) for i in range(n))
    path.write_bytes(data)
    return len(data)


def test_serial_reports_byte_positions_up_to_the_file_size(tmp_path: Path, recorded: list[Any]) -> None:
    size = big_jsonl(tmp_path / "in.jsonl")
    sftdata.convert(tmp_path / "in.jsonl", tmp_path / "out.jsonl", to="openai", workers=1)
    [(label, total, unit, rec)] = recorded
    assert (label, total, unit) == ("converting in.jsonl", size, "bytes")
    positions = [n for kind, n in rec.events if kind == "update"]
    assert len(positions) == 2 + 1  # at lines 1,024 and 2,048, then at the end
    assert positions == sorted(positions) and positions[-1] == size
    assert all(kind == "update" for kind, _ in rec.events)


def test_parallel_advances_by_each_range(tmp_path: Path, recorded: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdata.engines import convert as parallel

    size = big_jsonl(tmp_path / "in.jsonl", 5000)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", size // 4)
    sftdata.convert(tmp_path / "in.jsonl", tmp_path / "out.jsonl", to="openai", workers=2)
    [(_, total, unit, rec)] = recorded
    assert (total, unit) == (size, "bytes")
    steps = [n for kind, n in rec.events if kind == "advance"]
    assert len(steps) >= 4 and sum(steps) == size


def test_json_array_and_table_units(tmp_path: Path, recorded: list[Any]) -> None:
    rows = [orjson.loads(line) for line in (FIXTURES / "alpaca" / "sft.jsonl").read_bytes().splitlines() if line.strip()]
    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(rows))
    sftdata.convert(src, tmp_path / "out.jsonl", to="sharegpt")
    _, total, unit, rec = recorded[-1]
    assert (total, unit) == (src.stat().st_size, "bytes") and rec.events[-1] == ("update", src.stat().st_size)
    pytest.importorskip("openpyxl")
    xlsx = tmp_path / "in.xlsx"
    sftdata.convert(src, xlsx, to="alpaca")
    sftdata.convert(xlsx, tmp_path / "back.jsonl", to="sharegpt")
    _, total, unit, rec = recorded[-1]
    assert (total, unit) == (None, "records") and rec.events == [("advance", 1)] * len(rows)


def test_read_rows_positions_for_compressed_jsonl(tmp_path: Path) -> None:
    raw = tmp_path / "in.jsonl"
    size = big_jsonl(raw, 2100)
    gz = tmp_path / "in.jsonl.gz"
    gz.write_bytes(gzip.compress(raw.read_bytes()))
    seen: list[int] = []
    assert sum(1 for _ in read_rows(gz, position=seen.append)) == 2100
    assert seen[-1] == size and len(seen) == 3  # uncompressed bytes


def test_silent_ticker_off_a_terminal() -> None:
    with progress("x", 10, "bytes") as bar:
        assert type(bar) is Ticker
        bar(5)
        bar.update(7)


def test_rich_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    out.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", out)
    with progress("converting a.jsonl", 2048, "bytes") as bar:
        bar.update(1024)
    assert type(bar) is not Ticker
    assert "converting a.jsonl" in out.getvalue()


def test_cli_prints_nothing_on_stderr_off_a_terminal(tmp_path: Path) -> None:
    big_jsonl(tmp_path / "in.jsonl", 10)
    proc = subprocess.run([sys.executable, "-m", "sftdata", "convert", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--to", "openai"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith(f"{tmp_path / 'in.jsonl'} (sharegpt) -> ")


def test_validate_redraws_its_counter_every_8192_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sftdata.validate import api as vapi

    bars: list[tuple[str, Recorder]] = []

    @contextmanager
    def fake(label: str, total: int | None = None, unit: str = "records") -> Iterator[Recorder]:
        rec = Recorder()
        bars.append((label, rec))
        yield rec

    monkeypatch.setattr(vapi, "progress_bar", fake)
    big_jsonl(tmp_path / "in.jsonl", 20_000)
    report = sftdata.validate(tmp_path / "in.jsonl", progress=True)
    [(label, rec)] = bars
    assert label == f"validating {tmp_path / 'in.jsonl'}" and report.total == 20_000
    assert [e for e, _ in rec.events] == ["update"] * len(rec.events) and 2 <= len(rec.events) <= 3
    assert all(b - a >= 8192 for (_, a), (_, b) in zip(rec.events, rec.events[1:]))
    sftdata.validate(tmp_path / "in.jsonl")  # progress=False (the default): no bar at all
    assert len(bars) == 1
