"""Run LLaMA-Factory's own data code once on the real demo files and save what it trains.

LLaMA-Factory's package pins (datasets<=4, transformers<=5.6, peft<=0.18, ...) would
downgrade sftdata's stack, so it runs in a venv of its own, installed without its
dependencies (its data code works with ours)::

    python3 -m venv /work/venv-lf
    /work/venv-lf/bin/pip install torch==2.13.0 transformers==5.24.0 datasets==5.2.0 \
        tokenizers==0.23.3 omegaconf jinja2 pillow peft accelerate
    /work/venv-lf/bin/pip install --no-deps llamafactory==0.9.5
    # the Qwen2.5 tokenizer as a Hugging Face folder, built offline by sftdata:
    python -c "from sftdata.tokenizers.export import export_qwen_tokenizer as e; e('/tmp/qwen25-tok')"
    /work/venv-lf/bin/python tests/parity/make_llamafactory_fixtures.py \
        --data /work/shared/realdata/llamafactory --tokenizer /tmp/qwen25-tok

For every (demo file, stage) below and cutoff_len in (100000, 1024, 512) it runs
``llamafactory.data.get_dataset`` (LLaMA-Factory's converter, template ``qwen`` and its
supervised / pairwise / feedback / pretrain processor) and writes, per file and cutoff,
one JSON line per processed row: the number of ids, of trained labels (``!= -100``)
and a hash of the ids and of the labels (see :func:`digest`), for each label column.
tests/parity/test_llamafactory.py compares ``encode_record(..., trainer="llamafactory")``
with them. ``mask_history`` and ``train_on_prompt`` runs are saved for the sft files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import types
from array import array
from pathlib import Path

OUT = Path(__file__).resolve().parent / "fixtures" / "llamafactory"
CUTOFFS = (100_000, 1024, 512)
#: dataset_info.json name -> (file, stage)
RUNS = {
    "alpaca_zh_demo": "sft",
    "identity": "sft",
    "glaive_toolcall_en_demo": "sft",
    "dpo_en_demo": "rm",
    "kto_en_demo": "kto",
    "c4_demo": "pt",
}
#: extra sft runs: option -> value
OPTIONS = {"mask_history": True, "train_on_prompt": True}


def digest(values: list[int]) -> str:
    """16 hex digits of the SHA-1 of the values as little-endian int64s."""
    return hashlib.sha1(array("q", values).tobytes()).hexdigest()[:16]


def _stub_torchaudio() -> None:
    # its version pins are checked on import; its data code runs with our versions
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
    # mm_plugin imports torchaudio at module level; the text processors never call it
    if "torchaudio" not in sys.modules:
        import importlib.machinery

        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stub


def run(data: Path, tokenizer_dir: Path, name: str, stage: str, cutoff: int, **options: bool) -> list[dict[str, object]]:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import AutoTokenizer, Seq2SeqTrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    with tempfile.TemporaryDirectory() as tmp:
        data_args = DataArguments(template="qwen", dataset=name, dataset_dir=str(data), cutoff_len=cutoff, overwrite_cache=True, packing=False, **options)
        model_args = ModelArguments(model_name_or_path=str(tokenizer_dir), cache_dir=tmp)
        training_args = Seq2SeqTrainingArguments(output_dir=tmp, report_to="none")
        template = get_template_and_fix_tokenizer(tokenizer, data_args)
        module = get_dataset(template, model_args, data_args, training_args, stage, tokenizer)  # type: ignore[arg-type]
        dataset = module["train_dataset"]
        columns = [c for c in ("input_ids", "chosen_input_ids", "rejected_input_ids") if c in dataset.column_names]
        rows = []
        for row in dataset:
            out: dict[str, object] = {}
            for ids_col in columns:
                side = ids_col.removesuffix("input_ids").rstrip("_") or "main"
                ids = row[ids_col]
                labels = row.get(ids_col.replace("input_ids", "labels")) or ids  # pt: labels are the ids
                out[side] = [len(ids), sum(1 for x in labels if x != -100), digest(ids), digest(labels)]
            rows.append(out)
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of LLaMA-Factory's dataset_info.json and demo files")
    parser.add_argument("--tokenizer", type=Path, required=True, help="the Qwen2.5 tokenizer as a Hugging Face folder")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", choices=list(RUNS), help="these datasets only (default: all)")
    args = parser.parse_args()
    _stub_torchaudio()
    import llamafactory

    args.out.mkdir(parents=True, exist_ok=True)
    for name, stage in RUNS.items():
        if args.only and name not in args.only:
            continue
        variants: list[dict[str, bool]] = [{}]
        if stage == "sft":
            variants += [{k: v} for k, v in OPTIONS.items()]
        for options in variants:
            for cutoff in CUTOFFS:
                rows = run(args.data, args.tokenizer, name, stage, cutoff, **options)
                tag = "".join(f".{k}" for k in options)
                path = args.out / f"{name}{tag}.{cutoff}.jsonl"
                header = {"llamafactory": llamafactory.__version__, "stage": stage, "cutoff_len": cutoff, "template": "qwen", **options}
                path.write_text(json.dumps(header) + "\n" + "".join(json.dumps(r) + "\n" for r in rows))
                print(f"{path.name}: {len(rows)} rows", flush=True)


if __name__ == "__main__":
    main()
