"""Benchmark: ``sftdata.validate`` vs a bare orjson parse loop over the same sharegpt JSONL.

Generates an N-record sharegpt JSONL (default 1,000,000) from LLaMA-Factory's demo sets
(glaive tool-calling conversations, alpaca_zh and identity as sharegpt; every record made
unique so duplicates do not dominate), then in one run measures, with medians:

- the bare loop: ``for line in open(p, "rb", buffering=1 << 20): orjson.loads(line)``
- ``sftdata.validate(p)`` single process, and with ``workers=2``
- the peak RSS of each validation (run in a fresh child process)

Usage: python benchmarks/validate_bench.py [--records N] [--repeat R] [--keep PATH]
The generated file is never committed (it is ~1.3 GB at 1M records).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALDATA = Path(os.environ.get("SFTDATA_REALDATA", "/work/shared/realdata/llamafactory"))


def source_rows() -> list[dict]:
    rows: list[dict] = []
    for r in json.loads((REALDATA / "glaive_toolcall_en_demo.json").read_text()):
        rows.append(r)
    for name in ("alpaca_zh_demo.json", "identity.json"):
        for r in json.loads((REALDATA / name).read_text()):
            q = "\n".join(t for t in (r["instruction"], r["input"]) if t)
            rows.append({"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": r["output"]}]})
    return rows


def generate(path: Path, n: int) -> None:
    rows = source_rows()
    with open(path, "wb", buffering=1 << 20) as fh:
        for i in range(n):
            row = rows[i % len(rows)]
            turns = list(row["conversations"])
            first = dict(turns[0])
            first["value"] = f"{first['value']} (#{i})"  # unique records: no duplicate warnings
            turns[0] = first
            fh.write(orjson.dumps({**row, "conversations": turns}, option=orjson.OPT_APPEND_NEWLINE))


def bare_loop(path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the bare parse loop."""
    loads = orjson.loads
    t, c = time.perf_counter(), time.process_time()
    with open(path, "rb", buffering=1 << 20) as fh:
        for line in fh:
            loads(line)
    return time.perf_counter() - t, time.process_time() - c


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _child(path: str, workers: int, q: "mp.Queue[tuple[float, float, dict, int]]") -> None:
    import sftdata

    sftdata.validate  # import outside the timed region, as the bare loop's orjson is
    from sftdata.formats import all_formats

    all_formats()
    t, c0 = time.perf_counter(), _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    report = sftdata.validate(path, workers=workers)
    dt = time.perf_counter() - t
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - c0  # workers included
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    q.put((dt, cpu, {"total": report.total, "valid": report.valid, "rejected": report.rejected, "codes": report.codes()}, rss))


def run_validate(path: Path, workers: int) -> tuple[float, float, dict, int]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(str(path), workers, q))
    p.start()
    out = q.get()
    p.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024  # largest process so far
    return out[0], out[1], out[2], max(out[3], children)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--keep", type=Path, help="generate (or reuse) the file here instead of a temporary one")
    args = ap.parse_args()
    tmp = None
    if args.keep:
        path = args.keep
    else:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "bench.jsonl"
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.records)
        print(f"generated {args.records:,} records, {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t:.1f}s")
    n = args.records
    print(f"file: {path} ({path.stat().st_size / 1e9:.2f} GB, {path.stat().st_size / n:.0f} B/record)")
    wall: dict[str, list[float]] = {"orjson": []}
    cpu: dict[str, list[float]] = {"orjson": []}
    rss: dict[int, int] = {}
    for _ in range(args.repeat):  # interleaved, so VM drift hits every variant alike
        w_s, c_s = bare_loop(path)
        wall["orjson"].append(w_s)
        cpu["orjson"].append(c_s)
        for w in args.workers:
            dt, c_s, summary, peak = run_validate(path, w)
            wall.setdefault(f"validate workers={w}", []).append(dt)
            cpu.setdefault(f"validate workers={w}", []).append(c_s)
            rss[w] = max(rss.get(w, 0), peak)
            assert summary["total"] == n == summary["valid"] + summary["rejected"], summary
    print(f"validation summary: {summary}")
    base, base_cpu = statistics.median(wall["orjson"]), statistics.median(cpu["orjson"])
    # wall: what a user waits (shared-VM load included); CPU: seconds of CPU spent in total,
    # all processes counted, which is the throughput on idle cores for one process.
    print(f"{'variant':<22} {'wall s':>8} {'rec/s':>10} {'wall vs orjson':>15} {'CPU s':>7} {'CPU vs orjson':>14} {'peak RSS':>9}")
    for name, times in wall.items():
        med, med_cpu = statistics.median(times), statistics.median(cpu[name])
        w = int(name.rsplit("=", 1)[1]) if "=" in name else None
        peak = f"{rss[w]} MB" if w is not None else ""
        print(f"{name:<22} {med:>8.2f} {n / med:>10,.0f} {base / med:>15.0%} {med_cpu:>7.2f} {base_cpu / med_cpu:>14.0%} {peak:>9}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
