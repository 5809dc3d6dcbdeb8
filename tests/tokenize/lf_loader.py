"""Load a `sftdata tokenize --trainer llamafactory` folder with LLaMA-Factory's own loader,
and make LLaMA-Factory's own tokenized folder from the raw file, in its own venv.

Run by tests/tokenize/test_llamafactory_loader.py with /work/venv-lf/bin/python (where
``llamafactory`` is installed ``--no-deps`` beside our versions; see FACTS.md); prints one
JSON object: ``{"loaded": rows of our folder as LLaMA-Factory's get_dataset returns them,
"own": rows of the folder LLaMA-Factory saves with its own tokenized_path,
"own_features": its column types, "loaded_features": ours as it loaded them}``.

usage: lf_loader.py TOKENIZER_DIR DATASET_DIR DATASET_NAME STAGE CUTOFF OUR_FOLDER WORK_DIR [VAL_SIZE]

With VAL_SIZE, "loaded_validation" and "own_validation" hold the validation split too.
"""

from __future__ import annotations

import json
import os
import sys
import types


def _stub_torchaudio() -> None:
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
    if "torchaudio" not in sys.modules:  # mm_plugin imports it at module level; text never uses it
        import importlib.machinery

        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = stub


def _get(tokenizer_dir: str, dataset_dir: str, name: str, stage: str, cutoff: int, tokenized_path: str, work: str, val_size: float = 0.0) -> dict:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import AutoTokenizer, Seq2SeqTrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    data_args = DataArguments(template="qwen", dataset=name, dataset_dir=dataset_dir, cutoff_len=cutoff, overwrite_cache=True, tokenized_path=tokenized_path, val_size=val_size)
    model_args = ModelArguments(model_name_or_path=tokenizer_dir, cache_dir=work)
    training_args = Seq2SeqTrainingArguments(output_dir=work, report_to="none")
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    return get_dataset(template, model_args, data_args, training_args, stage, tokenizer)  # type: ignore[arg-type,return-value]


def main(argv: list[str]) -> None:
    tokenizer_dir, dataset_dir, name, stage, cutoff, ours, work = argv[:7]
    val_size = float(argv[7]) if len(argv) > 7 else 0.0
    _stub_torchaudio()
    from datasets import load_from_disk

    module = _get(tokenizer_dir, dataset_dir, name, stage, int(cutoff), ours, work, val_size)
    loaded = module["train_dataset"]
    own_path = os.path.join(work, "lf-own")
    _get(tokenizer_dir, dataset_dir, name, stage, int(cutoff), own_path, work, val_size)
    own_dict = load_from_disk(own_path)
    own = own_dict["train"]
    out = {
        "loaded": loaded.to_list(),  # type: ignore[attr-defined]
        "loaded_features": {k: str(v) for k, v in loaded.features.items()},  # type: ignore[attr-defined]
        "own": own.to_list(),
        "own_features": {k: str(v) for k, v in own.features.items()},
    }
    if val_size:
        out["loaded_validation"] = module["eval_dataset"].to_list()
        out["own_validation"] = own_dict["validation"].to_list()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
