"""The reference model of DPO and KTO, without a second copy where possible.

- LoRA: the model itself with its adapter disabled (``peft``'s ``disable_adapter``).
- Full fine-tuning: a frozen copy loaded from ``model_name_or_path``, or, with
  ``precompute_ref_log_probs: true``, one pass over the data before training that stores
  each row's reference log-probs and frees the copy (also what a resumed run recomputes).
- ``pref_loss: orpo | simpo`` use no reference.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import TrainConfig

Mode = Literal["none", "adapter", "copy", "precompute"]


def reference_mode(cfg: TrainConfig, needs_reference: bool) -> Mode:
    if not needs_reference:
        return "none"
    if cfg.precompute_ref_log_probs:
        return "precompute"
    return "adapter" if cfg.finetuning_type == "lora" else "copy"


@dataclass
class PrepareContext:
    """What a stage may need before training: the examples (replaced in place when
    reference log-probs are precomputed), the device, and a loader of the reference model."""

    train: list[Any]
    eval: list[Any]
    device: str
    pad_id: int
    load_reference: Callable[[], Any]
    echo: Callable[[str], None] = field(default=print)


class Reference:
    """Reference log-probs for a stage (see the module docstring)."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.model: Any = None

    def setup(self, model: Any, ctx: PrepareContext) -> None:
        if self.mode == "copy":
            self.model = frozen(ctx.load_reference())

    @contextlib.contextmanager
    def scope(self, model: Any) -> Iterator[Any]:
        """The model to call for reference log-probs, under ``no_grad``."""
        import torch

        with torch.no_grad():
            if self.model is not None:
                yield self.model
            elif hasattr(model, "disable_adapter"):
                was_training = model.training
                model.eval()
                with model.disable_adapter():
                    yield model
                model.train(was_training)
            else:
                yield model


def frozen(model: Any) -> Any:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def precompute_model(model: Any, ctx: PrepareContext, cfg: TrainConfig) -> tuple[Any, bool]:
    """The model whose log-probs are the reference, and whether it is a temporary copy."""
    if cfg.finetuning_type == "lora":
        return model, False
    return frozen(ctx.load_reference()), True
