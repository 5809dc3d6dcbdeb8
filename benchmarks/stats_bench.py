"""Benchmark: ``sftdata stats --tokenizer qwen2.5`` against two baselines, in one run.

Builds (in a temporary folder, never committed) an N-record sharegpt JSONL from the
LLaMA-Factory demo records (glaive tool-call conversations, alpaca_zh and identity
rewritten as sharegpt conversations) and the qwen-template renders of those records.
Then times, alternating to cancel drift, each in its own process:

* ``tiktoken loop``: a bare single-process ``enc.encode(text, allowed_special="all")``
  loop over the rendered texts (the same Qwen2.5 ranks, regex and special tokens);
* ``HF fast batch``: transformers ``Qwen2TokenizerFast`` (the same ranks exported to a
  tokenizer.json) encoding the rendered texts in batches of 1,000, all cores;
* ``sftdata stats``: :func:`sftdata.stats.compute.token_stats` end to end on the JSONL file
  (read, decode, render, tokenize span by span, summarise) with 2 worker processes.

Prints tokens/s per method (median of repeats), the ratios sftdata/baseline and peak RSS.
The acceptance bar: >= 3x HF fast batch and >= 1.3x the tiktoken loop.

Usage::

    python benchmarks/stats_bench.py              # 100,000 records, 3 repeats
    python benchmarks/stats_bench.py -n 20000 -r 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REALDATA = Path(os.environ.get("SFTDATA_REALDATA", ROOT.parent / "shared" / "realdata" / "llamafactory"))
if not REALDATA.is_dir():
    REALDATA = Path("/work/shared/realdata/llamafactory")

HWM = """
def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
"""

TIKTOKEN = HWM + """
import json, resource, sys, time
from sftdata.tokenizers.tiktoken_tok import get_qwen
enc = get_qwen()._enc
texts = json.load(open(sys.argv[1], encoding="utf-8"))
c0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = time.perf_counter()
n = 0
nfc = len(sys.argv) > 2 and sys.argv[2] == "nfc"
from unicodedata import normalize
for text in texts:
    n += len(enc.encode(normalize("NFC", text) if nfc else text, allowed_special="all"))
s = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"tokens": n, "seconds": s, "cpu": u.ru_utime + u.ru_stime - c0, "rss_mb": hwm_mb()}))
"""

HF = HWM + """
import json, os, resource, sys, time
os.environ["TOKENIZERS_PARALLELISM"] = "true"
from transformers import Qwen2TokenizerFast
tok = Qwen2TokenizerFast(tokenizer_file=sys.argv[2], eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None, bos_token=None)
texts = json.load(open(sys.argv[1], encoding="utf-8"))
c0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = time.perf_counter()
n = 0
for i in range(0, len(texts), 1000):
    n += sum(map(len, tok(texts[i : i + 1000], add_special_tokens=False)["input_ids"]))
s = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"tokens": n, "seconds": s, "cpu": u.ru_utime + u.ru_stime - c0, "rss_mb": hwm_mb()}))
"""

SFTDATA = HWM + """
import json, resource, sys, time
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.tokenizers import get_tokenizer
get_tokenizer("qwen2.5")  # built before timing, as the baselines' tokenizers are
c0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = time.perf_counter()
report = token_stats(sys.argv[1], StatsConfig(tokenizer="qwen2.5", template="qwen", cutoff_len=2048, format="sharegpt"), workers=2)
s = time.perf_counter() - t
cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - c0 + sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
rss = max(hwm_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(json.dumps({"tokens": report.tokens, "seconds": s, "cpu": cpu, "rss_mb": rss, "records": report.records}))
"""


def source_rows(shape: str = "mixed") -> list[dict]:
    """mixed: glaive tool calls + alpaca_zh + identity; alpaca: alpaca_zh rows only (short
    single-turn rows, where per-row costs weigh most; the only alpaca demo set here)."""
    if shape == "alpaca":
        rows: list[dict] = []
        names: tuple[str, ...] = ("alpaca_zh_demo.json",)
    else:
        rows = list(json.loads((REALDATA / "glaive_toolcall_en_demo.json").read_text(encoding="utf-8")))
        names = ("alpaca_zh_demo.json", "identity.json")
    for name in names:
        for r in json.loads((REALDATA / name).read_text(encoding="utf-8")):
            human = r["instruction"] + ("\n" + r["input"] if r.get("input") else "")
            rows.append({"conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": r["output"]}]})
    return rows


def build(folder: Path, n: int, shape: str = "mixed") -> tuple[Path, Path, Path]:
    from sftdata.formats import get_format
    from sftdata.templates import get_template
    from sftdata.tokenizers.export import export_qwen_tokenizer

    data, texts_path = folder / "sharegpt.jsonl", folder / "texts.json"
    fmt, tpl = get_format("sharegpt"), get_template("qwen")
    with open(data, "w", encoding="utf-8") as fh, open(texts_path, "w", encoding="utf-8") as out:
        out.write("[")
        for i, row in enumerate(itertools.islice(itertools.cycle(source_rows(shape)), n)):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.write(("," if i else "") + json.dumps(tpl.render(fmt.decode(row)).text, ensure_ascii=False))
        out.write("]")
    return data, texts_path, export_qwen_tokenizer(folder / "hf") / "tokenizer.json"


def run(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="records")
    parser.add_argument("-r", type=int, default=3, help="repeats")
    parser.add_argument("--shape", choices=("mixed", "alpaca"), default="mixed", help="mixed: glaive + alpaca_zh + identity; alpaca: alpaca_zh rows only")
    parser.add_argument("--nfc", action="store_true", help="the tiktoken loop NFC-normalises each text first (as sftdata does)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, texts, tokenizer_json = build(Path(tmp), args.n, args.shape)
        print(f"{args.shape} shape, tiktoken loop {'with' if args.nfc else 'without'} NFC; {args.n:,} records, {data.stat().st_size / 1e6:.0f} MB JSONL; {os.cpu_count()} cores; medians of {args.r}")
        results: dict[str, list[dict]] = {"tiktoken loop": [], "HF fast batch": [], "sftdata stats": []}
        for _ in range(args.r):
            results["tiktoken loop"].append(run(TIKTOKEN, str(texts), "nfc" if args.nfc else "raw"))
            results["HF fast batch"].append(run(HF, str(texts), str(tokenizer_json)))
            results["sftdata stats"].append(run(SFTDATA, str(data)))
    rate = {k: statistics.median(r["tokens"] / r["seconds"] for r in v) for k, v in results.items()}
    for k, v in results.items():
        secs = statistics.median(r["seconds"] for r in v)
        cpu = statistics.median(r["cpu"] for r in v)
        print(f"{k:<14} {v[0]['tokens']:>12,} tokens  {secs:7.2f} s wall  {cpu:7.2f} s CPU  {rate[k] / 1e6:6.2f} M tokens/s  peak RSS {max(r['rss_mb'] for r in v):6.0f} MB")
    print("(baselines hold every rendered text in memory; sftdata stats streams the file)")
    ours = rate["sftdata stats"]
    print(f"sftdata stats / HF fast batch: {ours / rate['HF fast batch']:.2f}x (target >= 3)")
    print(f"sftdata stats / tiktoken loop: {ours / rate['tiktoken loop']:.2f}x (target >= 1.3)")
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in results.items()}
    print(f"CPU seconds, sftdata stats / tiktoken loop: {cpu['sftdata stats'] / cpu['tiktoken loop']:.2f} (the per-core cost of reading, decoding and rendering)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (ratios need idle cores)")


if __name__ == "__main__":
    main()
