"""Trained tokens per second: ``sftdata train`` vs TRL's SFTTrainer, same model, data and batches.

Usage::

    PYTHONPATH=. python benchmarks/train_bench.py [--rows 96] [--batch 8] [--repeat 1]

Builds a tiny random Qwen2 (hidden 64, 2 layers, 4 heads) with Qwen2.5's full 151,936-token
vocabulary, tokenizes ``--rows`` real records (LLaMA-Factory's alpaca_zh and glaive tool-call
demos, mixed) once with sftdata's ``encode_record`` (qwen template, built-in qwen2.5
tokenizer), and trains one epoch of full fine-tuning on the CPU with each engine:

- ``sftdata``: ``sftdata.train`` (length-grouped batches, LM head on trained positions only);
- ``trl``: TRL ``SFTTrainer`` with its default batching (random order, padded per batch);
- ``trl-grouped``: the same with length-grouped batches (``group_by_length``, spelled
  ``train_sampling_strategy="group_by_length"`` in transformers 5).

TRL gets the very same ``input_ids`` and ``labels`` (a pre-tokenized dataset), batch size,
learning rate, schedule and epoch; its own throughput is trained tokens / its
``train_runtime``. Each engine runs in a fresh subprocess so that its peak RSS is its own.
The VM's speed drifts over minutes, so compare the ratios printed by one invocation; with
``--repeat N`` the engines alternate and medians are reported.

Measured (``--rows 48 --batch 8``, 2-core VM under load): sftdata 44.5 trained tokens/s,
TRL default 5.5 (8.0x), TRL group_by_length 5.5 (8.1x); peak RSS 2,349 / 5,055 / 5,040 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# tests/_paths.py's location, or --realdata (worktrees live one level deeper than main)
REALDATA = ROOT.parent / "shared" / "realdata" / "llamafactory"
ENGINES = ("sftdata", "trl", "trl-grouped")


def build(work: Path, rows: int, seed: int, realdata: Path) -> tuple[Path, Path, Path]:
    """The tiny model folder, a JSONL of the chosen records, and their token examples."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    import sftdata
    from sftdata.templates import get_template
    from sftdata.tokenizers import get_tokenizer
    from sftdata.tokens import encode_record

    torch.manual_seed(seed)
    model_dir = work / "tiny-qwen2"
    config = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096, tie_word_embeddings=False)
    Qwen2ForCausalLM(config).save_pretrained(model_dir)
    records = []
    for name, fmt in (("alpaca_zh_demo.json", "alpaca"), ("glaive_toolcall_en_demo.json", "sharegpt")):
        records += list(sftdata.read(realdata / name, fmt))
    random.Random(seed).shuffle(records)
    records = records[:rows]
    data = work / "data.jsonl"
    sftdata.write(records, data, "sharegpt")
    tok, tpl = get_tokenizer("qwen2.5"), get_template("qwen")
    examples = work / "examples.jsonl"
    with open(examples, "w") as fh:
        for record in sftdata.read(data, "sharegpt"):
            enc = encode_record(record, tok, tpl, cutoff_len=1024)
            fh.write(json.dumps({"input_ids": enc.input_ids, "labels": enc.labels}) + "\n")
    return model_dir, data, examples


def run_sftdata(model: Path, data: Path, out: Path, batch: int, seed: int) -> dict:
    import sftdata

    metrics = sftdata.train(
        {
            "model_name_or_path": str(model), "dataset": str(data), "output_dir": str(out), "tokenizer": "qwen2.5",
            "template": "qwen", "cutoff_len": 1024, "finetuning_type": "full", "per_device_train_batch_size": batch,
            "learning_rate": 1e-4, "num_train_epochs": 1, "lr_scheduler_type": "linear", "logging_steps": 1000,
            "device": "cpu", "seed": seed,
        }
    )
    return {"trained_tokens": metrics["trained_tokens"], "runtime": metrics["train_runtime"], "loss": metrics["train_loss"]}


def run_trl(model: Path, examples: Path, out: Path, batch: int, seed: int, grouped: bool) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer


    rows = [json.loads(line) for line in examples.read_text().splitlines()]
    trained = sum(1 for r in rows for t in r["labels"][1:] if t != -100)
    dataset = Dataset.from_list(rows)
    args = SFTConfig(
        output_dir=str(out), per_device_train_batch_size=batch, learning_rate=1e-4, num_train_epochs=1,
        lr_scheduler_type="linear", logging_steps=1000, save_strategy="no", report_to="none", seed=seed,
        max_length=1024, train_sampling_strategy="group_by_length" if grouped else "random", use_cpu=True, dataloader_num_workers=0, bf16=False, fp16=False,
    )
    model_obj = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    from transformers import PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models

    # TRL wants a processing class; the data is pre-tokenized, so a stub with the pad id will do
    stub = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<|endoftext|>": 151643}, unk_token="<|endoftext|>")), pad_token="<|endoftext|>", eos_token="<|endoftext|>")
    trainer = SFTTrainer(model=model_obj, args=args, train_dataset=dataset, processing_class=stub)
    result = trainer.train()
    return {"trained_tokens": trained, "runtime": result.metrics["train_runtime"], "loss": result.metrics["train_loss"]}


def child(engine: str, work: Path, batch: int, seed: int) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"{engine}-", dir=work))
    if engine == "sftdata":
        result = run_sftdata(work / "tiny-qwen2", work / "data.jsonl", out, batch, seed)
    else:
        result = run_trl(work / "tiny-qwen2", work / "examples.jsonl", out, batch, seed, grouped=engine == "trl-grouped")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--realdata", type=Path, default=REALDATA, help="folder of LLaMA-Factory's demo datasets")
    parser.add_argument("--child", choices=ENGINES)
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.work), args.batch, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        build(work, args.rows, args.seed, args.realdata)
        print(f"built model and {args.rows} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        results: dict[str, list[dict]] = {e: [] for e in ENGINES}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        for _ in range(args.repeat):
            for engine in ENGINES:
                proc = subprocess.run([sys.executable, __file__, "--child", engine, "--work", str(work), "--batch", str(args.batch), "--seed", str(args.seed)], capture_output=True, text=True, env=env)
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    sys.exit(f"{engine} failed:\n{proc.stderr[-3000:]}")
                res = json.loads(line[7:])
                res["tps"] = res["trained_tokens"] / res["runtime"]
                results[engine].append(res)
                print(f"{engine:<12} {res['trained_tokens']:>7} trained tokens in {res['runtime']:7.1f}s = {res['tps']:7.1f} tok/s, loss {res['loss']:.4f}, peak RSS {res['peak_rss_mb']:.0f} MB", flush=True)
    med = {e: statistics.median(r["tps"] for r in rs) for e, rs in results.items()}
    rss = {e: max(r["peak_rss_mb"] for r in rs) for e, rs in results.items()}
    print(f"\nmedian trained tokens/s over {args.repeat} run(s): " + ", ".join(f"{e} {v:.1f}" for e, v in med.items()))
    print(f"peak RSS (MB): " + ", ".join(f"{e} {v:.0f}" for e, v in rss.items()))
    print(f"sftdata / TRL default batching : {med['sftdata'] / med['trl']:.2f}x (target >= 1.5x)")
    print(f"sftdata / TRL group_by_length  : {med['sftdata'] / med['trl-grouped']:.2f}x (target >= 1.0x)")


if __name__ == "__main__":
    main()
