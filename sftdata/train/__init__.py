"""The bundled minimal trainer: ``sftdata train CONFIG.yaml`` / ``sftdata.train(config)``.

torch, transformers and peft are imported only inside this package, and only once a run
starts; reading and checking the configuration needs none of them.

>>> import sftdata
>>> metrics = sftdata.train("examples/train_lora.yaml", overrides=["--max_steps", "10"])  # doctest: +SKIP
>>> sorted(metrics)[:3]  # doctest: +SKIP
['data', 'device', 'epoch']
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .config import TrainConfig, load_config

__all__ = ["TrainConfig", "load_config", "train"]

logger = logging.getLogger("sftdata.train")


def _tokenization(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """The tokenizer, template and record encoder ``stats`` uses, bound to this config."""
    from ..templates import get_template
    from ..tokenizers import get_tokenizer
    from ..tokens import encode_record

    tokenizer = get_tokenizer(cfg.tokenizer or cfg.model_name_or_path)
    template = get_template(cfg.template, tokenizer=tokenizer, model_dir=cfg.model_name_or_path)

    def encode(record: Any, branch: str = "chosen") -> Any:
        return encode_record(record, tokenizer, template, train_on=cfg.train_on, cutoff_len=cfg.cutoff_len, branch=branch)  # type: ignore[arg-type]

    return tokenizer, template, encode


def _pad_id(tokenizer: Any) -> int:
    # Padding is never attended to nor trained, so any valid id works; prefer the tokenizer's.
    value = getattr(tokenizer, "pad_token_id", None)
    return value if isinstance(value, int) else 0


def _tokenizer_source(cfg: TrainConfig, tokenizer: Any) -> Any:
    """Where output tokenizer files come from: a folder's own files (the model's when it has
    them), else the built-in tokenizer object, which writes its Hugging Face files."""
    from .model import has_tokenizer_files

    if cfg.tokenizer is not None and Path(cfg.tokenizer).is_dir():
        return cfg.tokenizer
    if cfg.tokenizer is None or has_tokenizer_files(cfg.model_name_or_path):
        return cfg.model_name_or_path
    return tokenizer


def train(config: str | os.PathLike[str] | dict[str, Any] | TrainConfig, overrides: list[str] | tuple[str, ...] = (), *, echo: Any = None) -> dict[str, Any]:
    """Fine-tune a local model on an SFT, preference (DPO) or KTO dataset and write the
    results to ``output_dir``.

    Several devices: run under ``torchrun`` (or ``sftdata train --nproc N``); each process
    trains its shard and rank 0 writes the outputs (see :mod:`sftdata.train.dist`).

    Args:
        config: a YAML file, a dict of settings or a :class:`TrainConfig`.
        overrides: ``--key value`` strings that override the config (as on the CLI).
        echo: called with each progress message (default: the ``sftdata.train`` logger).

    Returns:
        The final metrics, also written to ``output_dir/train_results.json``.

    Raises:
        UsageError: a bad setting, missing model folder or an output_dir already in use.
    """
    from . import dist as distributed
    from .data import DataReport, load_examples, resolve_dataset, split
    from .device import DeviceChoice, choose_precision, prepare_device, select_device

    cfg = load_config(config, overrides)
    rank = distributed.from_env()
    say = echo or logger.info
    if not rank.is_main:
        say = _quiet
    out = Path(cfg.output_dir)
    if out.is_dir() and any(out.iterdir()) and not cfg.overwrite_output_dir and not cfg.resume_from_checkpoint:
        raise UsageError(f"output_dir '{out}' exists and is not empty.", field="output_dir", remedy="Choose another output_dir, set overwrite_output_dir: true, or pass --resume to continue.")
    from .pretokenized import load_tokenized, tokenized_folder

    folder = tokenized_folder(cfg.dataset, cfg.dataset_dir)
    files = resolve_dataset(cfg.dataset, cfg.dataset_dir) if folder is None else [(folder, "tokenized")]
    choice = select_device(cfg.device)
    if rank.active:
        choice = DeviceChoice(rank.device(choice.device), choice.type, f"{choice.reason}; rank {rank.rank} of {rank.world}")
        distributed.init(rank, choice.type)
        rank.barrier()  # every rank has checked output_dir before rank 0 writes into it
    say(f"device: {choice.device} ({choice.reason})")
    precision = choose_precision(choice, bf16=cfg.bf16, fp16=cfg.fp16)
    say(f"precision: {precision.reason}")
    prepare_device(choice, npu_jit_compile=cfg.npu_jit_compile)
    tokenizer, template, encode = _tokenization(cfg)
    stage = get_stage(cfg)
    from ..lock import training_lock

    data_lock = training_lock(cfg.dataset_lock, files, tokenizer, template, cfg.cutoff_len)  # LockMismatch before the model loads
    report = DataReport()
    if folder is not None:  # written by `sftdata tokenize --trainer sftdata`: no tokenizing here
        if cfg.stage != "sft":
            raise UsageError(f"dataset '{folder}' is a tokenized folder, which holds SFT rows; stage {cfg.stage} needs the records.", field="dataset", remedy="Point dataset at the data file for stage dpo/kto.")
        examples = load_tokenized(folder, cfg, tokenizer, template, report)
    else:
        examples = load_examples(files, encode, max_samples=cfg.max_samples, report=report, stage=stage)
    if not examples:
        raise UsageError(f"no trainable rows in {', '.join(str(f) for f, _ in files)} (read {report.read}, dropped {dict(report.dropped)}).", field="dataset", remedy="Check the data with `sftdata validate` and `sftdata stats` (a small cutoff_len can leave no trained token).")
    train_ex, eval_ex = split(examples, cfg.val_size, cfg.seed)
    report.train, report.eval = len(train_ex), len(eval_ex)
    if report.dropped:
        say(f"data: dropped {sum(report.dropped.values())} of {report.read} rows: {dict(report.dropped)}; first: {'; '.join(report.first_drops)}")
    from .loop import RunContext, run

    ctx = RunContext(stage, choice, precision, _pad_id(tokenizer), _tokenizer_source(cfg, tokenizer), report, say, rank, dataset_lock=data_lock)
    try:
        return run(cfg, train_ex, eval_ex, ctx)
    finally:
        distributed.shutdown(rank)


def get_stage(cfg: TrainConfig) -> Any:
    """The stage object (:class:`sftdata.train.stage.Stage`) for ``cfg.stage``."""
    if cfg.stage == "dpo":
        from .dpo import DPOStage

        return DPOStage(cfg)
    if cfg.stage == "kto":
        from .kto import KTOStage

        return KTOStage(cfg)
    from .sft import SFTStage

    return SFTStage(cfg)


def _quiet(message: str) -> None:
    """Ranks other than 0 keep their messages to the debug log."""
    logger.debug(message)
