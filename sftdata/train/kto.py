"""The KTO stage (``stage: kto``): labelled completions, LLaMA-Factory's/TRL's KTO loss.

For a desirable row ``w_c * (1 - sigmoid(beta * (r - KL)))``, for an undesirable one
``w_r * (1 - sigmoid(beta * (KL - r)))``, with ``r = pi - ref`` (log-probs summed over
the completion's trained tokens), ``w_c``/``w_r`` = ``kto_chosen_weight`` /
``kto_rejected_weight`` and the batch's KL estimate
``KL = max(0, mean(pi(y'|x) - ref(y'|x)))`` over mismatched pairs, detached. The loss of a
batch is the mean over its rows; ``pref_ftx`` adds LLaMA-Factory's
``pref_ftx * mean(-avg_c) * rows / desirable rows``.

The mismatched pair of row ``i`` is its prompt with the completion of row ``i - 1`` (the
previous trained row of the file; the first row takes the last one's), built with
``encode_record`` like every row, once before training. TRL rotates completions within
each batch instead; the estimate is the same in expectation.

>>> import torch
>>> losses, rc, rr = kto_losses(torch.tensor([-4.0]), torch.tensor([-7.0]), torch.tensor([-5.0]), torch.tensor([-6.0]), torch.tensor(0.2), beta=0.1)
>>> [round(float(x), 4) for x in losses], round(float(rc[0]), 4), round(float(rr[0]), 4)
([0.48, 0.47], 0.1, -0.1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..record import KTORecord, Source
from .config import TrainConfig
from .data import Example, collate
from .reference import PrepareContext, Reference, precompute_model, reference_mode
from .sft import tensors, token_example
from .stage import Drop, Encode, RowsBatch


@dataclass(frozen=True, slots=True)
class Labelled:
    """A tokenized KTO row: the row, its mismatched KL row, its label, and precomputed
    reference log-prob sums ``(row, kl)``."""

    row: Example
    kl: Example | None
    label: bool
    source: Source | None = None
    ref: tuple[float, float] | None = None
    record: KTORecord | None = None

    @property
    def cut(self) -> bool:
        return self.row.cut

    def __len__(self) -> int:
        return len(self.row) + (len(self.kl) if self.kl is not None else 0)


@dataclass(frozen=True, slots=True)
class LabelledBatch(RowsBatch):
    """``rows`` holds the desirable and undesirable rows, ``kl`` their mismatched pairs."""

    rows: Any
    kl: Any
    labels: list[bool]
    ref: list[tuple[float, float]] | None

    @property
    def n_rows(self) -> int:  # type: ignore[override]
        return len(self.labels)


def kto_losses(chosen: Any, rejected: Any, ref_chosen: Any, ref_rejected: Any, kl: Any, *, beta: float, chosen_weight: float = 1.0, rejected_weight: float = 1.0) -> tuple[Any, Any, Any]:
    """Row losses (desirable rows first) and the rewards of each group."""
    import torch

    chosen_r = chosen - ref_chosen
    rejected_r = rejected - ref_rejected
    losses = torch.cat((chosen_weight * (1 - torch.sigmoid(beta * (chosen_r - kl))), rejected_weight * (1 - torch.sigmoid(beta * (kl - rejected_r)))), 0)
    return losses, beta * chosen_r.detach(), beta * rejected_r.detach()


METRICS = ("count/chosen", "count/rejected", "rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected", "kl")


class KTOStage:
    name = "kto"
    kind = "kto"
    metric_names = METRICS

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.reference = Reference(reference_mode(cfg, True))

    def example(self, record: Any, encode: Encode) -> Labelled | Drop:
        row = token_example(encode(record), record)
        if row.n_trained == 0:
            return Drop("no-trained-token", "[no-trained-token] the completion has no trained token left after cutoff_len", row.cut)
        return Labelled(row, None, record.label, record.source, record=record)

    def finish(self, examples: list[Any], encode: Encode) -> list[Any]:
        out = []
        for i, ex in enumerate(examples):
            other = examples[i - 1].record
            mismatched = ex.record.model_copy(update={"completion": other.completion, "label": True})
            kl = token_example(encode(mismatched), mismatched)
            out.append(replace(ex, kl=kl, record=None))
        return out

    def collate(self, units: Sequence[list[Labelled]], pad_id: int, width: Callable[[int], int] = lambda n: n) -> LabelledBatch:
        rows = [u[0] for u in units]
        main = collate([[r.row] for r in rows], pad_id, width(max(len(r.row) for r in rows)))
        kl = collate([[r.kl] for r in rows], pad_id, width(max(len(r.kl) for r in rows)))  # type: ignore[arg-type]
        refs = [r.ref for r in rows]
        return LabelledBatch(main, kl, [r.label for r in rows], refs if all(r is not None for r in refs) else None)  # type: ignore[arg-type]

    def _ref_sums(self, scope: Any, batch: LabelledBatch, device: str) -> tuple[Any, Any]:
        from .model import sequence_logps

        with scope as ref:
            ids, tgt, _ = tensors(batch.rows, device)
            row, _ = sequence_logps(ref, ids, tgt)
            ids, tgt, _ = tensors(batch.kl, device)
            kl, _ = sequence_logps(ref, ids, tgt)
        return row, kl

    def prepare(self, model: Any, cfg: TrainConfig, ctx: PrepareContext) -> None:
        self.reference.setup(model, ctx)
        if self.reference.mode != "precompute":
            return
        ref_model, temporary = precompute_model(model, ctx, cfg)
        for examples in (ctx.train, ctx.eval):
            step = max(1, cfg.per_device_eval_batch_size)
            for i in range(0, len(examples), step):
                chunk = examples[i : i + step]
                scope = Reference("none").scope(ref_model) if temporary else self.reference.scope(model)
                row, kl = self._ref_sums(scope, self.collate([[e] for e in chunk], ctx.pad_id), ctx.device)
                for j, e in enumerate(chunk):
                    examples[i + j] = replace(e, ref=(float(row[j]), float(kl[j])))
        ctx.echo(f"reference log-probs precomputed for {len(ctx.train) + len(ctx.eval)} rows")

    def loss(self, model: Any, batch: LabelledBatch, device: str) -> tuple[Any, dict[str, float]]:
        import torch

        from .model import sequence_logps

        cfg = self.cfg
        ids, tgt, _ = tensors(batch.rows, device)
        sums, counts = sequence_logps(model, ids, tgt)
        with torch.no_grad():
            kl_ids, kl_tgt, _ = tensors(batch.kl, device)
            kl_sums, _ = sequence_logps(model, kl_ids, kl_tgt)
        if batch.ref is not None:
            ref_sums = torch.tensor([r[0] for r in batch.ref], dtype=torch.float32, device=sums.device)
            ref_kl = torch.tensor([r[1] for r in batch.ref], dtype=torch.float32, device=sums.device)
        else:
            ref_sums, ref_kl = self._ref_sums(self.reference.scope(model), batch, device)
        kl = (kl_sums - ref_kl).mean().clamp(min=0).detach()
        mask = torch.tensor(batch.labels, dtype=torch.bool, device=sums.device)
        losses, chosen_r, rejected_r = kto_losses(sums[mask], sums[~mask], ref_sums[mask], ref_sums[~mask], kl, beta=cfg.pref_beta, chosen_weight=cfg.kto_chosen_weight, rejected_weight=cfg.kto_rejected_weight)
        loss = losses.mean()
        n_chosen = int(mask.sum())
        if cfg.pref_ftx > 1e-6 and n_chosen > 0:
            sft = -(sums[mask] / counts[mask].clamp(min=1))
            loss = loss + cfg.pref_ftx * sft.mean() / n_chosen * batch.n_rows
        metrics = {
            "count/chosen": float(n_chosen),
            "count/rejected": float(batch.n_rows - n_chosen),
            "rewards/chosen": float(chosen_r.sum()),
            "rewards/rejected": float(rejected_r.sum()),
            "logps/chosen": float(sums[mask].detach().sum()),
            "logps/rejected": float(sums[~mask].detach().sum()),
            "kl": float(kl) * batch.n_rows,
        }
        return loss * batch.n_rows, metrics

    def summarize(self, sums: dict[str, float], prefix: str = "") -> dict[str, float]:
        out: dict[str, float] = {}
        for side in ("chosen", "rejected"):
            n = sums.get(f"count/{side}", 0.0)
            if n > 0:
                out[f"{prefix}rewards/{side}"] = sums[f"rewards/{side}"] / n
                out[f"{prefix}logps/{side}"] = sums[f"logps/{side}"] / n
        if f"{prefix}rewards/chosen" in out and f"{prefix}rewards/rejected" in out:
            out[f"{prefix}rewards/margins"] = out[f"{prefix}rewards/chosen"] - out[f"{prefix}rewards/rejected"]
        out[f"{prefix}kl"] = sums["kl"] / max(1.0, sums.get("count", 0.0))
        return out
