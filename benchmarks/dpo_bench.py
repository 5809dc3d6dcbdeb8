"""Trained preference pairs per second and peak RSS: ``sftdata train`` (stage dpo) vs TRL's
DPOTrainer, same model, data and hyper-parameters.

Usage::

    PYTHONPATH=. python benchmarks/dpo_bench.py [--pairs 48] [--batch 4] [--repeat 3] [--modes lora,full]

Builds a tiny random Qwen2 (hidden 64, 2 layers, 4 heads, Qwen2.5's full 151,936-token
vocabulary; the config of ``train_bench.py``), reads ``--pairs`` real preference rows of
LLaMA-Factory's ``dpo_en_demo.json`` (multi-turn prompts, answers of a few hundred tokens),
tokenizes them once with sftdata's ``encode_record`` (qwen template, built-in qwen2.5
tokenizer, cutoff 1024) and trains one epoch on the CPU in float32 with each engine:

- ``sftdata``: ``sftdata.train`` with ``stage: dpo`` (length-grouped batches, chosen and
  rejected in one forward, LM head on trained positions only);
- ``trl``: TRL ``DPOTrainer`` with its default batching (random order, padded per batch).

Both use the sigmoid loss, beta 0.1, batch ``--batch`` pairs, learning rate 1e-4 (full) or
1e-3 (LoRA rank 8, alpha 16, every linear layer but the LM head), a linear schedule, no
gradient checkpointing, max length 1024. The reference model is what each trainer does by
default: the adapter disabled for LoRA, a frozen second copy of the model for full
fine-tuning. TRL gets sftdata's very tokens: ``prompt_ids`` are the untrained head of each
row, ``chosen_ids``/``rejected_ids`` the rest up to the last trained token (TRL trains every
completion token), so both train the same tokens; its dataset preparation (which would
re-tokenize text) is skipped. Throughput is pairs (and tokens through the policy) divided
by each trainer's own ``train_runtime``.

Each engine runs in a fresh subprocess, which reports its own peak RSS (``VmHWM`` of
``/proc/self/status``; ``ru_maxrss`` would carry the parent's peak over fork/exec). The VM's
speed drifts over minutes, so engines alternate and medians of ``--repeat`` runs are
compared within one invocation.

Measured (``--pairs 8 --batch 4 --repeat 3``, 2-core VM under load): LoRA 0.325 vs 0.037
pairs/s (8.9x), full 0.306 vs 0.041 (7.5x); peak RSS 2,052 / 4,937 MB (LoRA), 2,116 / 5,167 MB
(full); final losses equal to 1e-4.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# /work/shared next to the main checkout, or two levels up from a worktree (/work/wt/<name>)
REALDATA = next((p for p in (ROOT.parent / "shared" / "realdata" / "llamafactory", ROOT.parent.parent / "shared" / "realdata" / "llamafactory") if p.is_dir()), ROOT.parent / "shared" / "realdata" / "llamafactory")
ENGINES = ("sftdata", "trl")
MODES = ("lora", "full")
CUTOFF = 1024
BETA = 0.1
LR = {"full": 1e-4, "lora": 1e-3}
IGNORE = -100


def build(work: Path, n_pairs: int, seed: int, realdata: Path) -> dict:
    """The tiny model folder, a JSONL of the chosen rows, and their token pairs for TRL."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    import sftdata
    from sftdata.templates import get_template
    from sftdata.tokenizers import get_tokenizer
    from sftdata.tokens import encode_record

    torch.manual_seed(seed)
    config = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096, tie_word_embeddings=False)
    Qwen2ForCausalLM(config).save_pretrained(work / "tiny-qwen2")
    records = list(sftdata.read(realdata / "dpo_en_demo.json", "sharegpt"))
    random.Random(seed).shuffle(records)
    tok, tpl = get_tokenizer("qwen2.5"), get_template("qwen")
    kept, rows, tokens = [], [], 0
    for record in records:
        if len(kept) == n_pairs:
            break
        sides = [encode_record(record, tok, tpl, cutoff_len=CUTOFF, branch=b) for b in ("chosen", "rejected")]
        if any(all(t == IGNORE for t in s.labels) for s in sides):
            continue  # a prompt longer than the cutoff: sftdata drops the row, TRL filters it out
        kept.append(record)
        starts = [next(i for i, t in enumerate(s.labels) if t != IGNORE) for s in sides]
        ends = [max(i for i, t in enumerate(s.labels) if t != IGNORE) + 1 for s in sides]
        assert starts[0] == starts[1] and sides[0].input_ids[: starts[0]] == sides[1].input_ids[: starts[1]], "chosen and rejected share the prompt"
        for s, a, b in zip(sides, starts, ends):
            assert all(t != IGNORE for t in s.labels[a:b]), "one trained span per side"
        k = starts[0]
        rows.append({"prompt_ids": list(sides[0].input_ids[:k]), "chosen_ids": list(sides[0].input_ids[k : ends[0]]), "rejected_ids": list(sides[1].input_ids[k : ends[1]])})
        tokens += len(sides[0].input_ids) + len(sides[1].input_ids)
    sftdata.write(kept, work / "data.jsonl", "sharegpt")
    with open(work / "pairs.jsonl", "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    trained = sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows)
    return {"pairs": len(rows), "tokens": tokens, "trained": trained}


def run_sftdata(work: Path, out: Path, mode: str, batch: int, seed: int) -> dict:
    import sftdata

    metrics = sftdata.train(
        {
            "stage": "dpo", "model_name_or_path": str(work / "tiny-qwen2"), "dataset": str(work / "data.jsonl"), "output_dir": str(out),
            "tokenizer": "qwen2.5", "template": "qwen", "cutoff_len": CUTOFF, "finetuning_type": mode, "lora_rank": 8, "lora_alpha": 16,
            "lora_target": "all", "pref_loss": "sigmoid", "pref_beta": BETA, "per_device_train_batch_size": batch, "learning_rate": LR[mode],
            "num_train_epochs": 1, "lr_scheduler_type": "linear", "logging_steps": 1000, "device": "cpu", "seed": seed,
        }
    )
    return {"pairs": metrics["data"]["train"], "tokens": metrics["num_tokens"], "runtime": metrics["train_runtime"], "loss": metrics["train_loss"]}


def run_trl(work: Path, out: Path, mode: str, batch: int, seed: int) -> dict:
    import torch
    from datasets import Dataset
    from tokenizers import Tokenizer, models
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    from trl import DPOConfig, DPOTrainer

    class PreTokenizedDPOTrainer(DPOTrainer):
        """The rows already hold sftdata's prompt_ids/chosen_ids/rejected_ids."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):  # type: ignore[no-untyped-def]
            return dataset

    rows = [json.loads(line) for line in (work / "pairs.jsonl").read_text().splitlines()]
    args = DPOConfig(
        output_dir=str(out), per_device_train_batch_size=batch, learning_rate=LR[mode], num_train_epochs=1, lr_scheduler_type="linear",
        logging_steps=1000, save_strategy="no", report_to="none", seed=seed, max_length=CUTOFF, beta=BETA, loss_type=["sigmoid"],
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False, dataloader_num_workers=0, precompute_ref_log_probs=False,
    )
    model = AutoModelForCausalLM.from_pretrained(work / "tiny-qwen2", dtype=torch.float32)
    peft_config = None
    if mode == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    # the data is pre-tokenized; TRL only needs the pad id from its processing class
    stub = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<|endoftext|>": 151643}, unk_token="<|endoftext|>")), pad_token="<|endoftext|>", eos_token="<|endoftext|>")
    trainer = PreTokenizedDPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=stub, peft_config=peft_config)
    result = trainer.train()
    tokens = sum(2 * len(r["prompt_ids"]) + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows)
    return {"pairs": len(rows), "tokens": tokens, "runtime": result.metrics["train_runtime"], "loss": result.metrics["train_loss"]}


def vm_hwm_mb() -> float:
    """This process's own peak resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(engine: str, mode: str, work: Path, batch: int, seed: int) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"{engine}-{mode}-", dir=work))
    run = run_sftdata if engine == "sftdata" else run_trl
    result = run(work, out, mode, batch, seed)
    result["peak_rss_mb"] = vm_hwm_mb()
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="lora,full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--realdata", type=Path, default=REALDATA, help="folder of LLaMA-Factory's demo datasets")
    parser.add_argument("--child", choices=ENGINES)
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode, Path(args.work), args.batch, args.seed)
        return
    modes = [m.strip() for m in args.modes.split(",")]
    results: dict[tuple[str, str], list[dict]] = {(m, e): [] for m in modes for e in ENGINES}
    with tempfile.TemporaryDirectory(prefix="dpo-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        data = build(work, args.pairs, args.seed, args.realdata)
        print(f"built model and {data['pairs']} pairs ({data['tokens']} tokens, {data['trained']} trained) in {time.perf_counter() - t0:.1f}s", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        for rep in range(args.repeat):
            for mode in modes:
                # alternate which engine goes first, so drift does not favour one
                for engine in ENGINES if rep % 2 == 0 else ENGINES[::-1]:
                    cmd = [sys.executable, __file__, "--child", engine, "--mode", mode, "--work", str(work), "--batch", str(args.batch), "--seed", str(args.seed)]
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                    if line is None:
                        sys.exit(f"{engine} {mode} failed:\n{proc.stderr[-3000:]}")
                    res = json.loads(line[7:])
                    res["pps"], res["tps"] = res["pairs"] / res["runtime"], res["tokens"] / res["runtime"]
                    results[(mode, engine)].append(res)
                    print(f"run {rep + 1} {mode:<4} {engine:<7} {res['pairs']} pairs in {res['runtime']:6.1f}s = {res['pps']:6.3f} pairs/s, {res['tps']:7.1f} tok/s, loss {res['loss']:.4f}, peak RSS {res['peak_rss_mb']:.0f} MB", flush=True)
    print(f"\nmedians over {args.repeat} run(s), {data['pairs']} pairs, batch {args.batch}:")
    print(f"{'mode':<5} {'engine':<8} {'pairs/s':>8} {'tok/s':>8} {'peak RSS MB':>12}")
    for mode in modes:
        med = {}
        for engine in ENGINES:
            rs = results[(mode, engine)]
            med[engine] = {k: statistics.median(r[k] for r in rs) for k in ("pps", "tps", "peak_rss_mb", "runtime")}
            print(f"{mode:<5} {engine:<8} {med[engine]['pps']:8.3f} {med[engine]['tps']:8.1f} {med[engine]['peak_rss_mb']:12.0f}")
        ratios = [a["pps"] / b["pps"] for a, b in zip(results[(mode, "sftdata")], results[(mode, "trl")])]
        print(f"{mode:<5} sftdata/TRL pairs/s {med['sftdata']['pps'] / med['trl']['pps']:.2f}x (per-run ratios {', '.join(f'{r:.2f}' for r in ratios)}; target >= 1.5x), peak RSS TRL/sftdata {med['trl']['peak_rss_mb'] / med['sftdata']['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
