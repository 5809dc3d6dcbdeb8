"""``sftdata train`` on a folder written by ``sftdata tokenize --trainer sftdata``.

The folder's manifest holds the cache key parts it was made with; the trainer recomputes
the parts it knows from its own config (tokenizer files, template, convention, stage,
``cutoff_len``, ``train_on``) and refuses the folder when any differs, naming each one:
ids made by another tokenizer or cut at another length would train silently wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import UsageError, missing
from ..record import Source
from ..tokenize.key import KeyParts, template_fingerprint, tokenizer_fingerprint
from ..tokenize.store import MANIFEST, load_manifest
from .data import DataReport, Example

#: key parts that do not change the rows of the sftdata layout or that train cannot know
_IGNORED = ("inputs", "options.packing", "options.format", "options.formats", "options.media_root")


def tokenized_folder(dataset: str, dataset_dir: str) -> Path | None:
    """The folder when ``dataset`` names one that ``sftdata tokenize`` wrote, else None."""
    for candidate in (Path(dataset), Path(dataset_dir) / dataset):
        if candidate.is_dir() and (candidate / MANIFEST).is_file():
            return candidate
    return None


def expected_parts(cfg: Any, tokenizer: Any, template: Any) -> KeyParts:
    """The key parts this config would tokenize with (inputs left empty)."""
    return KeyParts(
        inputs={},
        tokenizer=tokenizer_fingerprint(tokenizer),
        template=template_fingerprint(template),
        trainer="sftdata",
        options={"stage": "sft", "cutoff_len": cfg.cutoff_len, "train_on": cfg.train_on},
    )


def check_key(folder: Path, cfg: Any, tokenizer: Any, template: Any) -> KeyParts:
    """The folder's key parts; raises when they do not match the config."""
    found = load_manifest(folder)
    assert found is not None
    parts, _report = found
    differ = parts.differences(expected_parts(cfg, tokenizer, template), ignore=_IGNORED)
    if differ:
        stored = parts.options
        raise UsageError(
            f"tokenized dataset '{folder}' does not match this config: {', '.join(differ)} differ "
            f"(it was made with trainer={parts.trainer}, template={parts.template.split(':')[0]}, "
            f"tokenizer={parts.tokenizer.get('name')}, cutoff_len={stored.get('cutoff_len')}, train_on={stored.get('train_on')}, stage={stored.get('stage')}).",
            field="dataset",
            remedy="Run `sftdata tokenize ... --trainer sftdata` again with this config's tokenizer, template, cutoff_len and train_on, or set those keys to the folder's values.",
        )
    return parts


def load_tokenized(folder: Path, cfg: Any, tokenizer: Any, template: Any, report: DataReport) -> list[Example]:
    """The folder's rows as examples, after :func:`check_key`; ``max_samples`` applies."""
    check_key(folder, cfg, tokenizer, template)
    try:
        from datasets import load_from_disk
    except ImportError:
        raise missing("datasets", "hf", "Training on a tokenized folder") from None
    ds = load_from_disk(os.fspath(folder))["train"]
    examples: list[Example] = []
    for row in ds:
        report.read += 1
        ex = Example(tuple(row["input_ids"]), tuple(row["labels"]), Source(row["source"], row["line"]) if row.get("source") else None)
        if ex.n_trained == 0:
            report.drop("no-trained-token", str(ex.source or folder), "[no-trained-token] no trained token after the one-token shift")
            continue
        examples.append(ex)
        if cfg.max_samples is not None and len(examples) >= cfg.max_samples:
            break
    return examples


__all__ = ["check_key", "expected_parts", "load_tokenized", "tokenized_folder"]
