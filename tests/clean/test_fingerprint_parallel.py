from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _clean_helpers import sharegpt

from sftdata.clean import _parallel
from sftdata.clean.index import MatchConfig, fingerprint
from sftdata.errors import ReadError
from sftdata.formats import get_format

SHAREGPT = get_format("sharegpt")


def test_two_processes_give_the_same_fingerprints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    rows = [sharegpt(f"question {i}", f"answer {i % 40} with words {i % 7} and more {i % 3}", topic=f"t{i % 4}") for i in range(600)]
    lines = [orjson.dumps(r) for r in rows]
    lines[17] = orjson.dumps({"conversations": [{"from": "bot", "value": "x"}]})  # does not decode
    lines.insert(300, b"   ")  # blank lines are skipped but still counted as lines
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "CHUNK_BYTES", 4096)  # many ranges
    for mode in ("near", "exact"):
        one = fingerprint(path, SHAREGPT, MatchConfig(mode=mode), label="topic", workers=1)  # type: ignore[arg-type]
        two = fingerprint(path, SHAREGPT, MatchConfig(mode=mode), label="topic", workers=2)  # type: ignore[arg-type]
        assert np.array_equal(one.keys, two.keys) and np.array_equal(one.lines, two.lines) and np.array_equal(one.lengths, two.lengths)
        assert one.labels == two.labels and len(one) == 600
        assert {i: (e.line, e.code) for i, e in one.failed.items()} == {i: (e.line, e.code) for i, e in two.failed.items()} == {17: (18, "unknown-role")}
        assert one.lines[-1] == 601


def test_unreadable_line_is_reported_at_its_file_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    body = [orjson.dumps(sharegpt(f"q{i}", f"a{i}")) for i in range(300)]
    body[250] = b'{"conversations": ['
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(body) + b"\n")
    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "CHUNK_BYTES", 2048)
    with pytest.raises(ReadError) as info:
        fingerprint(path, SHAREGPT, MatchConfig(), workers=2)
    assert (info.value.line, info.value.code) == (251, "invalid-json")
