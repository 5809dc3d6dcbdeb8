"""Reading a large .json array: parsed whole vs streamed (sftdata/io/jsonarray.py).

Builds a JSON array of ``--records`` sharegpt rows (pretty-printed like LLaMA-Factory's
files, from the dedup benchmark's generator), then reads it with ``sftdata.io.read_rows``
in a fresh process per mode, printing rows/s and peak RSS (VmHWM) of each, medians of
``--repeats`` runs.

Run: PYTHONPATH=. python benchmarks/json_stream_bench.py [--records 300000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def read_all(path: str, stream: bool) -> int:
    """Rows of ``path`` through read_rows, streamed or parsed whole."""
    from sftdata.io import files, read_rows

    files.STREAM_BYTES = 0 if stream else 1 << 62
    return sum(1 for _ in read_rows(path))


def run(path: Path, stream: bool) -> tuple[int, float, float]:
    """(rows, seconds, peak RSS MiB) in a fresh process (dedup_bench.isolated)."""
    import dedup_bench

    secs, rss, out = dedup_bench.isolated(read_all, str(path), stream)
    return out["result"], secs, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import dedup_bench

    work = Path(tempfile.mkdtemp(prefix="json_stream_"))
    jsonl = work / "rows.jsonl"
    dedup_bench.build(jsonl, args.records)
    path = work / "rows.json"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump([json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()], fh, ensure_ascii=False, indent=2)
    jsonl.unlink()
    size = path.stat().st_size
    print(f"data: {args.records:,} sharegpt rows, one pretty-printed JSON array of {size / 1e6:.0f} MB")
    results: dict[str, list[tuple[int, float, float]]] = {"whole": [], "streamed": []}
    for _ in range(args.repeats):
        for mode in results:
            results[mode].append(run(path, mode == "streamed"))
    rates = {}
    for mode, runs in results.items():
        secs = statistics.median(r[1] for r in runs)
        rss = statistics.median(r[2] for r in runs)
        rates[mode] = args.records / secs
        print(f"{mode:9s}: median {secs:.2f} s ({', '.join(f'{r[1]:.2f}' for r in runs)}), {rates[mode]:,.0f} rows/s, {size / secs / 1e6:.0f} MB/s, peak RSS {rss:,.0f} MiB")
    print(f"streamed / whole speed: {rates['streamed'] / rates['whole']:.2f}")


if __name__ == "__main__":
    main()
