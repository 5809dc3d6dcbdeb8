from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _clean_helpers import sharegpt

from sftdata.clean import fingerprint as _parallel
from sftdata.clean.fingerprint import fingerprint
from sftdata.clean.index import MatchConfig
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
        if mode == "near":
            # the workers' shingles come back, so verification re-reads nothing
            assert one.shingles is not None and two.shingles is not None and one.shingles.rows == two.shingles.rows == 600
            for i in range(600):
                assert np.array_equal(one.shingles.get(i), two.shingles.get(i))  # type: ignore[arg-type]
            assert len(one.shingles.get(17)) == 0 and len(one.shingles.get(18)) > 0  # type: ignore[arg-type]


def test_cache_budget_keeps_a_prefix_and_the_rest_is_reread(tmp_path: Path) -> None:
    import orjson

    from sftdata.clean.index import match

    rows = [sharegpt(f"question {i % 50}", f"the answer number {i % 50} is here") for i in range(3000)]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    full = fingerprint(path, SHAREGPT, MatchConfig(batch_size=256), workers=1)
    capped = fingerprint(path, SHAREGPT, MatchConfig(batch_size=256, cache_mb=0), workers=1)
    assert full.shingles is not None and full.shingles.rows == 3000 and capped.shingles is None
    a, b = match([full], MatchConfig()), match([capped], MatchConfig())
    assert np.array_equal(a.dup_of, b.dup_of) and (a.dup_of[:50] == -1).all() and (a.dup_of[50:] == np.arange(3000)[50:] % 50).all()


def test_unreadable_line_is_reported_at_its_file_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    body = [orjson.dumps(sharegpt(f"q{i}", f"a{i}")) for i in range(300)]
    body[250] = b'{"conversations": ['
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(body) + b"\n")
    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "CHUNK_BYTES", 2048)
    # recorded as a failed row (a reject with --rejects, the error without), as in one process
    parallel = fingerprint(path, SHAREGPT, MatchConfig(), workers=2).failed
    serial = fingerprint(path, SHAREGPT, MatchConfig(), workers=1).failed
    assert list(parallel) == list(serial) == [250]
    assert [(e.line, e.code, e.message) for e in parallel.values()] == [(e.line, e.code, e.message) for e in serial.values()]
    assert (parallel[250].line, parallel[250].code) == (251, "invalid-json")


def test_a_script_without_a_main_guard_can_use_worker_processes(tmp_path: Path) -> None:
    """Workers are forked while this process has not computed a signature: they never
    re-run the caller's script, which spawned workers do (and fail on without a main
    guard). Once rensa ran here, a fork would deadlock, so spawn is used instead."""
    import subprocess
    import sys

    import orjson

    from _paths import ROOT

    data = tmp_path / "in.jsonl"
    data.write_bytes(b"".join(orjson.dumps(sharegpt(f"question {i % 300}", f"answer {i % 300} is right")) + b"\n" for i in range(900)))
    small = tmp_path / "small.jsonl"
    small.write_bytes(data.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
    out = {k: str(tmp_path / f"{k}.jsonl") for k in ("a", "b", "c", "ra", "rb", "rc")}
    script = tmp_path / "script.py"
    script.write_text(
        "from sftdata.clean import fingerprint as _parallel, sketch\n"
        "from sftdata.clean.dedup import dedup\n"
        "_parallel.MIN_BYTES, _parallel.CHUNK_BYTES = 0, 4096\n"
        "used = []\n"
        "real = _parallel.fingerprint_parallel\n"
        "_parallel.fingerprint_parallel = lambda *a: used.append(sketch.fork_safe()) or real(*a)\n"
        f"first = dedup({str(data)!r}, {out['a']!r}, workers=2, rejects={out['ra']!r})  # no main guard: forked\n"
        f"dedup({str(small)!r}, {out['b']!r}, workers=1, rejects={out['rb']!r})  # signs rows in this process\n"
        "if __name__ == '__main__':  # spawned workers need the guard\n"
        f"    second = dedup({str(data)!r}, {out['c']!r}, workers=2, rejects={out['rc']!r})\n"
        "    print(used, first.read, first.kept, first.rejected, second.rejected)\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["[True,", "False]", "900", "300", "600", "600"]
    assert Path(out["a"]).read_bytes() == Path(out["c"]).read_bytes()
