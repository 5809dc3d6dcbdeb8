"""The SFT stage: token cross-entropy on the trained spans of conversations.

>>> from sftdata.train.config import TrainConfig
>>> stage = SFTStage(TrainConfig(model_name_or_path="m", dataset="d", output_dir="o"))
>>> (stage.name, stage.kind, stage.metric_names)
('sft', 'sft', ())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .config import TrainConfig
from .data import Batch, Example, collate
from .stage import Drop, Encode


def tensors(batch: Batch, device: str) -> tuple[Any, Any, Any]:
    """``input_ids``, ``targets`` and ``position_ids`` (or None) of a batch on ``device``."""
    import torch

    ids = torch.tensor(batch.input_ids, dtype=torch.long).to(device)
    tgt = torch.tensor(batch.targets, dtype=torch.long).to(device)
    pos = torch.tensor(batch.position_ids, dtype=torch.long).to(device) if batch.position_ids is not None else None
    return ids, tgt, pos


def token_example(encoded: Any, record: Any) -> Example:
    return Example(tuple(encoded.input_ids), tuple(encoded.labels), record.source, bool(encoded.cut))


class SFTStage:
    name = "sft"
    kind = "sft"
    metric_names: tuple[str, ...] = ()

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg

    def example(self, record: Any, encode: Encode) -> Example | Drop:
        example = token_example(encode(record), record)
        if example.n_trained == 0:
            return Drop("no-trained-token", "[no-trained-token] no trained token is left after cutoff_len", example.cut)
        return example

    def finish(self, examples: list[Any], encode: Encode) -> list[Any]:
        return examples

    def collate(self, units: Sequence[list[Example]], pad_id: int, width: Callable[[int], int] = lambda n: n) -> Batch:
        longest = max(sum(len(e) for e in u) for u in units)
        return collate(units, pad_id, width(longest))

    def prepare(self, model: Any, cfg: TrainConfig, ctx: Any) -> None:
        return None

    def loss(self, model: Any, batch: Batch, device: str) -> tuple[Any, dict[str, float]]:
        from .model import token_loss_sum

        return token_loss_sum(model, *tensors(batch, device)), {}

    def summarize(self, sums: dict[str, float], prefix: str = "") -> dict[str, float]:
        return {}
