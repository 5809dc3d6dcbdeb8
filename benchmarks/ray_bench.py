"""Benchmark: the Ray engine against the local engine, and 1 vs 2 Ray workers.

Builds (in a temporary folder, never committed) an N-record sharegpt JSONL from the
LLaMA-Factory demo records (see convert_bench.py), then, each measurement in a fresh
process:

* ``local-1``: ``convert`` / ``stats`` with one local process (``workers=1``);
* ``ray-1`` and ``ray-2``: the same call with ``Engine("ray", workers=1|2)`` on a local
  Ray started in that process (the start-up is timed apart: a cluster is started once and
  serves many runs).

Prints records/s per step, the overhead ratio ``ray-1 / local-1`` (one node, one worker:
what Ray costs), the scaling ratio ``ray-2 / ray-1``, and peak RSS: the driver's and each
actor's (per node). Medians of ``--repeats`` runs; timings on a shared machine drift, so
compare ratios within one run.

Usage::

    python benchmarks/ray_bench.py                 # 200,000 records, 3 repeats
    python benchmarks/ray_bench.py -n 50000 -r 1 --steps convert
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
src, out, step, mode, workers = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
from sftdata.api import convert
from sftdata.engines.base import Engine
from sftdata.stats.compute import token_stats
engine, startup = None, 0.0
if mode == "ray":
    from sftdata.engines import ray as engine_ray
    engine = Engine("ray", workers=workers)
    t = time.perf_counter()
    engine_ray.pool(engine)  # start Ray and its actors: a cluster does this once
    startup = time.perf_counter() - t
t = time.perf_counter()
if step == "convert":
    n = convert(src, out / "out.jsonl", to="openai", from_="sharegpt", workers=workers if engine is None else None, engine=engine).read
else:
    n = token_stats(src, tokenizer="qwen2.5", template="qwen", format="sharegpt", workers=workers, engine=engine).records
seconds = time.perf_counter() - t
actors = engine_ray.usage(engine) if engine is not None else []
print(json.dumps({"records": n, "seconds": seconds, "startup": startup,
                  "driver_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "actors": actors}))
"""


def measure(src: Path, scratch: Path, step: str, mode: str, workers: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(src), str(scratch), step, mode, str(workers)], capture_output=True, text=True, check=False, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"{step} {mode}-{workers} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("RAY_ADDRESS", None)
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200_000, help="records in the generated file")
    ap.add_argument("-r", "--repeats", type=int, default=3)
    ap.add_argument("--steps", default="convert,stats", help="comma-separated: convert, stats")
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    from convert_bench import build

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        scratch = Path(tmp)
        src = scratch / "bench.jsonl"
        build(src, args.n)
        print(f"{args.n:,} records, {src.stat().st_size / 1e6:.0f} MB; medians of {args.repeats}")
        for step in args.steps.split(","):
            runs: dict[str, list[dict]] = {"local-1": [], "ray-1": [], "ray-2": []}
            for _ in range(args.repeats):  # alternate, so drift hits every variant alike
                for name in runs:
                    mode, workers = name.split("-")
                    runs[name].append(measure(src, scratch, step, mode, int(workers)))
            rate = {name: statistics.median(r["records"] / r["seconds"] for r in rs) for name, rs in runs.items()}
            for name, rs in runs.items():
                last = rs[-1]
                actors = ", ".join(f"node {node[:6]} {rss / 2**20:.0f} MiB" for node, rss in last["actors"]) or "-"
                startup = f", Ray start {statistics.median(r['startup'] for r in rs):.1f} s" if name.startswith("ray") else ""
                print(f"{step:8} {name:8} {rate[name]:>9,.0f} rec/s  driver {last['driver_rss'] / 2**20:.0f} MiB  actors: {actors}{startup}")
            print(f"{step:8} overhead ray-1/local-1 {rate['ray-1'] / rate['local-1']:.2f}x   scaling ray-2/ray-1 {rate['ray-2'] / rate['ray-1']:.2f}x")


if __name__ == "__main__":
    main()
