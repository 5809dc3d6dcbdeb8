"""Benchmark: ``sftdata convert`` of a sharegpt JSONL against a bare orjson loop.

Builds (in a temporary folder, never committed) an N-record sharegpt JSONL from the
LLaMA-Factory demo records (glaive tool-call conversations and alpaca_zh rewritten as
sharegpt conversations), then times, in one run and alternating to cancel drift:

* baseline: ``for line in f: out.write(orjson.dumps(orjson.loads(line)) + b"\\n")``
* sftdata: ``sftdata.convert(src, dst, to=TARGET, from_="sharegpt")`` (decode to
  canonical records, encode to the target, atomic write)

Each measurement runs in its own process so that its peak RSS (``ru_maxrss``) is its
own. Prints records/s, the ratio sftdata/baseline (medians of repeats) and peak RSS.

Usage::

    python benchmarks/convert_bench.py                # 1,000,000 records, 3 repeats
    python benchmarks/convert_bench.py -n 100000 -r 5 --to sharegpt
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("SFTDATA_REALDATA", ROOT.parent / "shared" / "realdata" / "llamafactory"))
if not REALDATA.is_dir():
    REALDATA = Path("/work/shared/realdata/llamafactory")

BASELINE = """
import sys, orjson
loads, dumps, opt = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
n = 0
with open(sys.argv[1], "rb", buffering=1 << 20) as src, open(sys.argv[2], "wb", buffering=1 << 20) as dst:
    for line in src:
        dst.write(dumps(loads(line), option=opt))
        n += 1
print(n)
"""

SFTDATA = """
import sys
sys.path.insert(0, sys.argv[4])
import sftdata
workers = int(sys.argv[5]) if sys.argv[5] != "auto" else None
result = sftdata.convert(sys.argv[1], sys.argv[2], to=sys.argv[3], from_="sharegpt", workers=workers)
assert result.read == result.written + result.rejected, result
print(result.written)
"""


def seed_records() -> list[dict]:
    """Real sharegpt-shaped rows: glaive (tools, function calls) and alpaca_zh as chats."""
    rows: list[dict] = list(orjson.loads((REALDATA / "glaive_toolcall_en_demo.json").read_bytes()))
    for r in orjson.loads((REALDATA / "alpaca_zh_demo.json").read_bytes()):
        human = r["instruction"] + ("\n" + r["input"] if r.get("input") else "")
        rows.append({"conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": r["output"]}]})
    return rows


def build(path: Path, n: int) -> None:
    seeds = [orjson.dumps(r) + b"\n" for r in seed_records()]
    with open(path, "wb", buffering=1 << 20) as fh:
        for i in range(n):
            fh.write(seeds[i % len(seeds)])


def run(script: str, *args: str) -> tuple[float, int, int]:
    """(seconds, records, peak RSS in bytes) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed with exit code {proc.returncode}")
    return elapsed, int(out.strip()), usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="records in the generated file")
    ap.add_argument("-r", "--repeats", type=int, default=3)
    ap.add_argument("--to", default="openai", help="target format (default openai)")
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--workers", default="auto", help="sftdata convert --workers (default auto: one per CPU)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="sftdata-bench-") as tmp:
        src = Path(tmp) / "bench.jsonl"
        t0 = time.perf_counter()
        build(src, args.n)
        size = src.stat().st_size
        print(f"built {args.n:,} records, {size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f}s", flush=True)
        base: list[float] = []
        ours: list[float] = []
        rss_base = rss_ours = 0
        for rep in range(args.repeats):
            t, n, rss = run(BASELINE, str(src), str(Path(tmp) / "base.jsonl"))
            base.append(n / t)
            rss_base = max(rss_base, rss)
            t, n2, rss = run(SFTDATA, str(src), str(Path(tmp) / "out.jsonl"), args.to, str(ROOT), args.workers)
            assert n2 == n == args.n, (n, n2)
            ours.append(n / t)
            rss_ours = max(rss_ours, rss)
            print(f"repeat {rep + 1}: baseline {base[-1]:,.0f} rec/s, sftdata {ours[-1]:,.0f} rec/s", flush=True)
        b, o = statistics.median(base), statistics.median(ours)
        print(f"baseline (orjson parse+dump): {b:,.0f} rec/s, peak RSS {rss_base / 2**20:,.0f} MiB")
        print(f"sftdata convert --to {args.to} (workers {args.workers}): {o:,.0f} rec/s, peak RSS {rss_ours / 2**20:,.0f} MiB (largest process)")
        print(f"ratio sftdata/baseline: {o / b:.1%} (target >= 40%, RSS < 300 MiB)")


if __name__ == "__main__":
    main()
