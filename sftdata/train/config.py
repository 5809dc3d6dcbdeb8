"""The trainer's configuration: one frozen pydantic model, LLaMA-Factory key names.

A YAML file gives the values, ``--key value`` flags override them; every key is checked
here, before torch is imported, so a typo costs a second, not a model load.

>>> cfg = TrainConfig(model_name_or_path="m", dataset="d.jsonl", output_dir="out")
>>> (cfg.template, cfg.lr_scheduler_type, cfg.finetuning_type, cfg.group_by_length)
('qwen', 'cosine', 'lora', True)
>>> apply_overrides({"learning_rate": 1e-4}, ["--learning_rate", "2e-5", "--bf16"])
{'learning_rate': '2e-5', 'bf16': 'true'}
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import UsageError

Scheduler = Literal["cosine", "linear", "constant", "constant_with_warmup"]
FinetuningType = Literal["lora", "full"]
TrainOn = Literal["all", "last"]
Stage = Literal["sft", "dpo", "kto"]
PrefLoss = Literal["sigmoid", "ipo", "hinge", "orpo", "simpo"]
DevicePref = str  # "auto", "cpu", "cuda", "cuda:1", "npu", "npu:0" (checked in device.py)


class TrainConfig(BaseModel):
    """Every setting of ``sftdata train``. Names follow LLaMA-Factory where it has one.

    Attributes:
        model_name_or_path: a local model folder (transformers layout).
        dataset: a data file, or a name in ``dataset_dir``/dataset_info.json; several
            comma-separated names or files are concatenated.
        dataset_lock: a dataset lock (``sftdata lock``): refuse data, tokenizer, template
            or cutoff_len that do not match it.
        tokenizer: ``None`` = the model folder's own; ``qwen2.5`` = sftdata's built-in one.
        template: a chat template name (``qwen``, ``chatml``, ...) or ``hf`` for the
            model folder's own chat template.
        train_on: ``all`` assistant turns (default) or only the ``last`` one.
        cutoff_len: longest sequence in tokens; longer rows are truncated, rows left with
            no trained token are dropped and counted.
        packing: concatenate rows up to ``cutoff_len``; each row still attends only to itself.
        group_by_length: batch rows of similar length (much less padding than random batches).
        val_size: a fraction (< 1) or a count of rows held out for evaluation.
        lora_target: ``all`` = every ``Linear`` except the LM head, or module names.
        max_steps: stop after this many optimizer steps (overrides num_train_epochs when > 0).
        device: ``auto`` (CUDA, then Ascend NPU, then CPU), or ``cpu``/``cuda[:N]``/``npu[:N]``.
        stage: ``sft`` (conversations), ``dpo`` (preference pairs) or ``kto`` (labelled
            completions); LLaMA-Factory's key and option names (``pref_beta``, ``pref_loss``,
            ``pref_ftx``, ``simpo_gamma``, ``kto_chosen_weight``, ``kto_rejected_weight``).
        precompute_ref_log_probs: full fine-tuning DPO/KTO: compute the reference model's
            log-probs in one pass before training instead of keeping a frozen copy (LoRA
            needs neither: the reference is the model with its adapter disabled).
        pad_to_multiple_of: pad every batch to a multiple of this many tokens.
        shape_buckets: comma-separated lengths (e.g. ``256,512,1024,2048``); every batch
            pads to the smallest that fits, so an NPU compiles a few graphs, not one per shape.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # model and data
    stage: Stage = "sft"
    model_name_or_path: str
    dataset: str
    dataset_dir: str = "."
    dataset_lock: str | None = None
    output_dir: str
    tokenizer: str | None = None
    template: str = "qwen"
    train_on: TrainOn = "all"
    cutoff_len: int = Field(2048, gt=1)
    max_samples: int | None = Field(None, gt=0)
    val_size: float = Field(0.0, ge=0)
    packing: bool = False
    group_by_length: bool = True
    # optimisation
    finetuning_type: FinetuningType = "lora"
    per_device_train_batch_size: int = Field(1, gt=0)
    per_device_eval_batch_size: int = Field(1, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    adam_epsilon: float = Field(1e-8, gt=0)
    max_grad_norm: float = Field(1.0, ge=0)
    num_train_epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(-1, ge=-1)
    lr_scheduler_type: Scheduler = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    seed: int = 42
    # precision and memory
    bf16: bool = False
    fp16: bool = False
    gradient_checkpointing: bool = False
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"
    # LoRA
    lora_rank: int = Field(8, gt=0)
    lora_alpha: int | None = Field(None, gt=0)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    lora_target: str = "all"
    # schedule of side effects
    logging_steps: int = Field(10, gt=0)
    eval_steps: int | None = Field(None, gt=0)
    save_steps: int | None = Field(None, gt=0)
    plot_loss: bool = False
    resume_from_checkpoint: str | None = None
    overwrite_output_dir: bool = False
    # preference and KTO stages (LLaMA-Factory's names and defaults)
    pref_beta: float = Field(0.1, gt=0)
    pref_loss: PrefLoss = "sigmoid"
    pref_ftx: float = Field(0.0, ge=0)
    simpo_gamma: float = Field(0.5, ge=0)
    kto_chosen_weight: float = Field(1.0, gt=0)
    kto_rejected_weight: float = Field(1.0, gt=0)
    precompute_ref_log_probs: bool = False
    # device
    device: DevicePref = "auto"
    npu_jit_compile: bool = False
    pad_to_multiple_of: int | None = Field(None, gt=0)
    shape_buckets: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "TrainConfig":
        if self.bf16 and self.fp16:
            raise ValueError("bf16 and fp16 are both on; choose one")
        if self.val_size >= 1 and self.val_size != int(self.val_size):
            raise ValueError("val_size is a fraction below 1 or a whole number of rows")
        if self.packing and self.stage != "sft":
            raise ValueError(f"packing is for stage sft only (stage is {self.stage})")
        if self.shape_buckets is not None:
            self.buckets  # noqa: B018 - parses or raises
        return self

    @property
    def buckets(self) -> tuple[int, ...]:
        """``shape_buckets`` as sorted lengths (empty when unset)."""
        if not self.shape_buckets:
            return ()
        try:
            values = sorted({int(v) for v in self.shape_buckets.split(",") if v.strip()})
        except ValueError:
            raise ValueError(f"shape_buckets is a comma-separated list of lengths, e.g. 256,512,1024 (got {self.shape_buckets!r})") from None
        if not values or values[0] <= 0:
            raise ValueError("shape_buckets lengths must be positive")
        return tuple(values)

    @property
    def lora_alpha_value(self) -> int:
        """LLaMA-Factory's default: twice the rank."""
        return self.lora_alpha if self.lora_alpha is not None else 2 * self.lora_rank

    @property
    def lora_targets(self) -> list[str] | Literal["all"]:
        names = [t.strip() for t in self.lora_target.split(",") if t.strip()]
        return "all" if names == ["all"] else names


_FIELDS = tuple(TrainConfig.model_fields)
# short spellings accepted on the command line
_ALIASES = {"resume": "resume_from_checkpoint", "lr": "learning_rate"}


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, _FIELDS, n=1)
    return f" Did you mean '{close[0]}'?" if close else " `sftdata train --help` lists the keys."


def apply_overrides(values: dict[str, Any], argv: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Merge ``--key value`` (or ``--key=value``; a bare ``--flag`` means true) into ``values``.

    Dashes and underscores are interchangeable in keys. Values stay strings: pydantic
    converts them with the field's type.
    """
    out = dict(values)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise UsageError(f"unexpected argument '{arg}'.", remedy="Overrides are written --key value, e.g. --learning_rate 1e-4.")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        key = _ALIASES.get(key, key)
        if key not in _FIELDS:
            raise UsageError(f"unknown setting '--{key}'.", remedy=_did_you_mean(key).strip())
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            else:
                value = "true"
        out[key] = value
        i += 1
    return out


def load_config(source: str | os.PathLike[str] | dict[str, Any] | TrainConfig, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML file, a dict or a config, plus overrides.

    Relative paths in a YAML file (``dataset_dir``, ``output_dir``, ...) stay relative to the
    working directory, as in LLaMA-Factory.

    Raises:
        UsageError: unreadable YAML, unknown key (with a suggestion) or a bad value, naming
            the file and the key.
    """
    path: str | None = None
    if isinstance(source, TrainConfig):
        values: dict[str, Any] = source.model_dump(exclude_unset=True)
    elif isinstance(source, dict):
        values = dict(source)
    else:
        import yaml

        path = str(source)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except UnicodeDecodeError as err:
            line = Path(path).read_bytes()[: err.start].count(b"\n") + 1
            raise UsageError(f"the config is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}).", path=path, line=line, remedy="Save the YAML file as UTF-8.") from None
        except IsADirectoryError:
            raise UsageError(f"config '{path}' is a folder, not a YAML file.", path=path, remedy="Pass the path of a YAML file; docs/train.md has an example.") from None
        except FileNotFoundError:
            raise UsageError(f"config file '{path}' does not exist.", remedy="Pass the path of a YAML file; docs/train.md has an example.") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise UsageError(f"not valid YAML: {getattr(err, 'problem', err)}.", path=path, line=mark.line + 1 if mark else None, remedy="Fix the YAML syntax.") from None
        if loaded is None:  # an empty file: everything comes from the flags
            loaded = {}
        if not isinstance(loaded, dict):
            raise UsageError("the config must be a mapping of key: value lines.", path=path, remedy="See docs/train.md for an example.")
        values = loaded
    for key in values:
        if key not in _FIELDS:
            raise UsageError(f"unknown setting '{key}'.", path=path, field=key, remedy=_did_you_mean(key).strip())
    values = apply_overrides(values, overrides)
    try:
        return TrainConfig.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or None
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        given = f" (got {first['input']!r})" if key and not isinstance(first.get("input"), dict) else ""
        raise UsageError(f"{first['msg']}{given}{more}.", path=path, field=key, remedy="Fix the value in the config file or its --flag override.") from None
