"""Time and peak memory of ``sftdata dedup --mode near`` and ``sftdata split`` per input size.

Each command runs in a fresh child interpreter that calls the CLI in-process and, at exit,
reads its *own* peak RSS (``VmHWM`` in ``/proc/self/status``). ``ru_maxrss`` of a child is
not used: it carries the parent's peak over fork/exec. With ``--trace`` the child also
samples ``VmRSS`` every 0.25 s and prints the peak seen while each progress phase ran
(fingerprinting, verifying, writing...), which shows where the memory goes.

Fingerprinting workers (``--workers 2``) are separate processes: their peaks are not in
the figure, which is the process that holds the index (the parent). The default pins one
process so that runs compare.

Inputs come from ``benchmarks/dedup_bench.py``'s planted shape (14% near-duplicate copies):

    PYTHONPATH=. python benchmarks/mem_bench.py /tmp/d100k.jsonl /tmp/d1m.jsonl --repeats 1

Outputs go to a temporary folder (``--keep DIR`` keeps them, to compare runs byte for byte).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status(field: str) -> int:
    """``field`` of /proc/self/status in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(command: str, src: str, out: str, workers: int, trace: bool) -> None:
    """Run one CLI command in this process; print a JSON line with VmHWM at exit."""
    import atexit
    import threading

    phases: dict[str, int] = {}
    state = {"phase": "start"}
    if trace:
        import sftdata.progress as progress_mod

        real = progress_mod.progress

        def traced(label: str, *a, **k):  # type: ignore[no-untyped-def]
            state["phase"] = label.split(" ")[0]
            return real(label, *a, **k)

        progress_mod.progress = traced
        for mod in ("sftdata.clean.fingerprint", "sftdata.clean.index", "sftdata.clean.dedup", "sftdata.clean.split"):
            __import__(mod)
            sys.modules[mod].progress = traced  # type: ignore[attr-defined]

        for mod in ("sftdata.clean.dedup", "sftdata.clean.split"):
            real_match = sys.modules[mod].match  # type: ignore[attr-defined]

            def matched(*a, _real=real_match, **k):  # type: ignore[no-untyped-def]
                state["phase"] = "matching"
                try:
                    return _real(*a, **k)
                finally:
                    state["phase"] = "after-match"

            sys.modules[mod].match = matched  # type: ignore[attr-defined]

        def sample() -> None:
            while True:
                rss = _status("VmRSS")
                phases[state["phase"]] = max(phases.get(state["phase"], 0), rss)
                time.sleep(0.25)

        threading.Thread(target=sample, daemon=True).start()

    def report() -> None:
        import resource

        use = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"hwm_kib": _status("VmHWM"), "cpu": use.ru_utime + use.ru_stime, "phases_kib": phases}), file=sys.stderr, flush=True)

    atexit.register(report)
    import sftdata.clean.fingerprint as fp

    fp.default_workers = lambda: workers  # pin the process count (the default follows the load)
    from sftdata.cli import main

    args = {
        "dedup": ["dedup", src, "-o", f"{out}/dedup.jsonl", "--mode", "near", "--rejects", f"{out}/dedup.rejects.jsonl", "-q"],
        "split": ["split", src, "-o", f"{out}/split", "--val-size", "0.1", "-q"],
    }[command]
    main(args)


def run(command: str, src: Path, out: Path, workers: int, trace: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", command, str(src), str(out), "--workers", str(workers)] + (["--trace"] if trace else []),
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{command} {src} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stats = json.loads(proc.stderr.strip().splitlines()[-1])
    return {"wall": wall, "cpu": stats["cpu"], "peak_mib": stats["hwm_kib"] / 1024, "phases_mib": {k: round(v / 1024) for k, v in stats["phases_kib"].items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*", type=Path)
    ap.add_argument("--commands", default="dedup,split")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--trace", action="store_true", help="peak RSS per progress phase")
    ap.add_argument("--keep", type=Path, help="keep outputs under this folder")
    ap.add_argument("--child", nargs=3, metavar=("COMMAND", "INPUT", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(*a.child, a.workers, a.trace)
        return
    print("| rows | command | wall s (median) | CPU s (median) | rows/s (CPU) | peak RSS MiB | phases (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for src in a.inputs:
        with open(src, "rb") as f:
            rows = sum(1 for _ in f)
        for command in a.commands.split(","):
            results = []
            for r in range(a.repeats):
                base = a.keep or Path(tempfile.mkdtemp(prefix="sftdata-mem-"))
                out = base / f"{src.stem}.{command}.{r}"
                out.mkdir(parents=True, exist_ok=True)
                results.append(run(command, src, out, a.workers, a.trace))
                if a.keep is None:
                    shutil.rmtree(base)
            wall = statistics.median(x["wall"] for x in results)
            cpu = statistics.median(x["cpu"] for x in results)
            peak = max(x["peak_mib"] for x in results)
            print(f"| {rows:,} | {command} | {wall:.1f} | {cpu:.1f} | {rows / cpu:,.0f} | {peak:.0f} | {results[-1]['phases_mib']} |", flush=True)


if __name__ == "__main__":
    main()
