"""Benchmark: ``sftdata tokenize --trainer llamafactory`` against LLaMA-Factory's own
preprocessing (``get_dataset``: its ``datasets`` load, converter and
``SupervisedDatasetProcessor.preprocess_dataset`` through ``datasets.map``, then
``save_to_disk`` to its ``tokenized_path``) on the same file, in one run.

Builds (in a temporary folder, never committed) an N-record sharegpt JSONL from the
LLaMA-Factory demo records (glaive tool-call conversations and alpaca_zh / identity as
one-turn conversations) with a dataset_info.json entry for it, and exports the built-in
Qwen2.5 tokenizer as a Hugging Face folder for LLaMA-Factory. Then times, alternating to
cancel drift, each end to end in a fresh process (tokenizer load included):

* ``llamafactory``: LLaMA-Factory 0.9.5's data code in its own venv (``/work/venv-lf``,
  installed ``--no-deps`` beside our versions; ``SFTDATA_LF_PYTHON`` overrides), with
  ``preprocessing_num_workers`` = W and ``tokenized_path`` set, so it writes its folder;
* ``sftdata``: ``python -m sftdata tokenize FILE -o DIR --trainer llamafactory --workers W``.

Prints tokens/s (output tokens / wall seconds, medians) and the ratio sftdata/LF. Without
LLaMA-Factory it says so and times sftdata alone.

Usage::

    python benchmarks/tokenize_bench.py               # 20,000 records, W=2, 1 repeat
    python benchmarks/tokenize_bench.py -n 50000 -r 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REALDATA = Path(os.environ.get("SFTDATA_REALDATA", "/work/shared/realdata/llamafactory"))
LF_PYTHON = Path(os.environ.get("SFTDATA_LF_PYTHON", "/work/venv-lf/bin/python"))
CUTOFF = 1024

LF_SCRIPT = r"""
import os, sys, types, json, importlib.machinery
os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
stub = types.ModuleType("torchaudio"); stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None); sys.modules["torchaudio"] = stub
from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments, ModelArguments
from transformers import AutoTokenizer, Seq2SeqTrainingArguments
tok_dir, data_dir, out, workers, cutoff, work = sys.argv[1:7]
tokenizer = AutoTokenizer.from_pretrained(tok_dir)
data_args = DataArguments(template="qwen", dataset="bench", dataset_dir=data_dir, cutoff_len=int(cutoff), overwrite_cache=True,
                          tokenized_path=out, preprocessing_num_workers=int(workers) if int(workers) > 1 else None)
model_args = ModelArguments(model_name_or_path=tok_dir, cache_dir=work)
training_args = Seq2SeqTrainingArguments(output_dir=work, report_to="none")
template = get_template_and_fix_tokenizer(tokenizer, data_args)
ds = get_dataset(template, model_args, data_args, training_args, "sft", tokenizer)["train_dataset"]
print(json.dumps({"rows": len(ds), "tokens": sum(len(x) for x in ds["input_ids"])}))
"""


def build(folder: Path, n: int) -> Path:
    """An n-record sharegpt JSONL of real demo records, registered in a dataset_info.json."""
    import sftdata

    sharegpt = sftdata.get_format("sharegpt")
    rows = []
    for name in ("glaive_toolcall_en_demo.json", "alpaca_zh_demo.json", "identity.json"):
        rows += [sharegpt.encode(r)[0] for r in sftdata.read(REALDATA / name)]
    path = folder / "bench.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(rows[i % len(rows)], ensure_ascii=False) + "\n")
    present = {k for r in rows for k in r}
    cols = {"messages": "conversations", **{k: k for k in ("system", "tools") if k in present}}
    (folder / "dataset_info.json").write_text(json.dumps({"bench": {"file_name": "bench.jsonl", "formatting": "sharegpt", "columns": cols}}))
    return path


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1] if cmd[1] == "-c" else done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="records")
    parser.add_argument("-r", type=int, default=1, help="repeats")
    parser.add_argument("-w", type=int, default=2, help="worker processes for both")
    args = parser.parse_args()
    from sftdata.tokenizers.export import export_qwen_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = build(folder, args.n)
        tok_dir = export_qwen_tokenizer(folder / "qwen25-hf")
        have_lf = LF_PYTHON.exists()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        times: dict[str, list[float]] = {"sftdata": [], "llamafactory": []}
        tokens: dict[str, int] = {}
        for rep in range(args.r):
            order = ["llamafactory", "sftdata"] if rep % 2 == 0 else ["sftdata", "llamafactory"]
            for who in order:
                out = folder / f"out-{who}-{rep}"
                if who == "sftdata":
                    cmd = [sys.executable, "-m", "sftdata", "tokenize", str(path), "-o", str(out), "--trainer", "llamafactory",
                           "--tokenizer", str(tok_dir), "--cutoff-len", str(CUTOFF), "--workers", str(args.w), "--json"]  # fmt: skip
                    seconds, result = timed(cmd, env)
                    tokens[who] = result["tokens"]
                elif have_lf:
                    cmd = [str(LF_PYTHON), "-c", LF_SCRIPT, str(tok_dir), str(folder), str(out), str(args.w), str(CUTOFF), str(folder / f"work-{rep}")]
                    seconds, result = timed(cmd, {**os.environ, "PYTHONPATH": ""})
                    tokens[who] = result["tokens"]
                else:
                    continue
                times[who].append(seconds)
        print(f"{args.n:,} records, cutoff_len {CUTOFF}, {args.w} workers, {args.r} repeat(s), wall time end to end (process start, tokenizer load, write)")
        for who, ts in times.items():
            if ts:
                med = statistics.median(ts)
                print(f"  {who:<13} {med:7.1f} s  {tokens[who] / med:>10,.0f} tokens/s  ({tokens[who]:,} tokens)")
        if times["llamafactory"]:
            ratio = statistics.median(times["llamafactory"]) / statistics.median(times["sftdata"])
            print(f"  sftdata / LLaMA-Factory: {ratio:.2f}x")
        else:
            print(f"  LLaMA-Factory is not installed at {LF_PYTHON}: sftdata alone")


if __name__ == "__main__":
    main()
