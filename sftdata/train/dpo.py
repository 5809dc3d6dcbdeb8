"""The DPO stage (``stage: dpo``): preference pairs, LLaMA-Factory's losses and names.

Chosen and rejected rows go through the model in one forward (the batch is
``[chosen..., rejected...]``), and only their trained positions reach the LM head.
``pref_loss`` follows LLaMA-Factory's ``CustomDPOTrainer``:

- ``sigmoid`` ``-logsigmoid(beta * d)``, ``hinge`` ``relu(1 - beta * d)``, with
  ``d = (pi_c - pi_r) - (ref_c - ref_r)`` on summed log-probs;
- ``ipo`` ``(d - 1 / (2 beta))^2`` on log-probs averaged per trained token;
- ``orpo`` ``-avg_c + beta * -logsigmoid(log_odds)`` (no reference; the NLL term covers
  the chosen response only, not the prompt, unlike TRL's ORPOTrainer);
- ``simpo`` ``-logsigmoid(beta * (avg_c - avg_r) - simpo_gamma)`` (no reference);
- ``pref_ftx`` adds ``pref_ftx * -avg_c`` (the chosen response's mean token NLL).

Rewards are ``beta * (policy - reference)`` (``beta * policy`` without a reference), on
the same (summed or averaged) log-probs as the loss, as LLaMA-Factory logs them.

>>> import torch
>>> losses, rc, rr = preference_losses(torch.tensor([-4.0]), torch.tensor([-6.0]), torch.tensor([-5.0]), torch.tensor([-5.0]), loss="sigmoid", beta=0.1)
>>> round(float(losses[0]), 4), round(float(rc[0]), 4), round(float(rr[0]), 4)
(0.5981, 0.1, -0.1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..record import Source
from .config import TrainConfig
from .data import IGNORE, Example, collate
from .reference import PrepareContext, Reference, precompute_model, reference_mode
from .sft import token_example
from .stage import Drop, Encode, RowsBatch

AVERAGED = ("ipo", "orpo", "simpo")
NO_REFERENCE = ("orpo", "simpo")


@dataclass(frozen=True, slots=True)
class Pair:
    """A tokenized preference row; ``ref`` holds precomputed reference log-prob sums."""

    chosen: Example
    rejected: Example
    source: Source | None = None
    ref: tuple[float, float] | None = None

    @property
    def cut(self) -> bool:
        return self.chosen.cut or self.rejected.cut

    def __len__(self) -> int:
        return len(self.chosen) + len(self.rejected)


@dataclass(frozen=True, slots=True)
class PairBatch(RowsBatch):
    """``rows`` holds the chosen rows then the rejected rows, padded to one width."""

    rows: Any
    n_rows: int
    ref: list[tuple[float, float]] | None


def preference_losses(pc: Any, pr: Any, rc: Any | None, rr: Any | None, *, loss: str, beta: float, simpo_gamma: float = 0.5) -> tuple[Any, Any, Any]:
    """Per-pair losses and the chosen/rejected rewards (LLaMA-Factory's formulas).

    ``pc``/``pr`` are the policy's log-probs of chosen/rejected (summed over trained
    tokens, or averaged for ipo/orpo/simpo); ``rc``/``rr`` the reference's (None for
    orpo/simpo).
    """
    import torch
    import torch.nn.functional as F

    if loss == "orpo":
        log_odds = (pc - pr) - (torch.log1p(-torch.exp(pc)) - torch.log1p(-torch.exp(pr)))
        losses = -pc + beta * -F.logsigmoid(log_odds)
        return losses, beta * pc.detach(), beta * pr.detach()
    if loss == "simpo":
        losses = -F.logsigmoid(beta * ((pc - pr) - simpo_gamma / beta))
        return losses, beta * pc.detach(), beta * pr.detach()
    logits = (pc - pr) - (rc - rr)
    if loss == "sigmoid":
        losses = -F.logsigmoid(beta * logits)
    elif loss == "hinge":
        losses = torch.relu(1 - beta * logits)
    elif loss == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown pref_loss {loss!r}")
    return losses, beta * (pc - rc).detach(), beta * (pr - rr).detach()


METRICS = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "sft_loss", "odds_ratio_loss")


class DPOStage:
    name = "dpo"
    kind = "preference"
    metric_names = METRICS

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.reference = Reference(reference_mode(cfg, cfg.pref_loss not in NO_REFERENCE))

    def example(self, record: Any, encode: Encode) -> Pair | Drop:
        chosen = token_example(encode(record, branch="chosen"), record)
        rejected = token_example(encode(record, branch="rejected"), record)
        if chosen.n_trained == 0 or rejected.n_trained == 0:
            side = "chosen" if chosen.n_trained == 0 else "rejected"
            return Drop("no-trained-token", f"[no-trained-token] the {side} answer has no trained token left after cutoff_len", chosen.cut or rejected.cut)
        return Pair(chosen, rejected, record.source)

    def finish(self, examples: list[Any], encode: Encode) -> list[Any]:
        return examples

    def collate(self, units: Sequence[list[Pair]], pad_id: int, width: Callable[[int], int] = lambda n: n) -> PairBatch:
        pairs = [u[0] for u in units]
        longest = max(max(len(p.chosen), len(p.rejected)) for p in pairs)
        rows = collate([[p.chosen] for p in pairs] + [[p.rejected] for p in pairs], pad_id, width(longest))
        refs = [p.ref for p in pairs]
        return PairBatch(rows, len(pairs), refs if all(r is not None for r in refs) else None)  # type: ignore[arg-type]

    def prepare(self, model: Any, cfg: TrainConfig, ctx: PrepareContext) -> None:
        self.reference.setup(model, ctx)
        if self.reference.mode == "precompute":
            ref_model, temporary = precompute_model(model, ctx, cfg)
            for examples in (ctx.train, ctx.eval):
                for i in range(0, len(examples), max(1, cfg.per_device_eval_batch_size)):
                    chunk = examples[i : i + cfg.per_device_eval_batch_size]
                    batch = self.collate([[p] for p in chunk], ctx.pad_id)
                    scope = Reference("none").scope(ref_model) if temporary else self.reference.scope(model)
                    rc, rr = self._ref_sums(scope, batch, ctx.device)
                    for j, p in enumerate(chunk):
                        examples[i + j] = replace(p, ref=(float(rc[j]), float(rr[j])))
            ctx.echo(f"reference log-probs precomputed for {len(ctx.train) + len(ctx.eval)} pairs")
            if temporary:
                del ref_model

    def _ref_sums(self, scope: Any, batch: PairBatch, device: str) -> tuple[Any, Any]:
        from .model import sequence_logps
        from .sft import tensors

        with scope as ref:
            ids, tgt, _ = tensors(batch.rows, device)
            sums, _ = sequence_logps(ref, ids, tgt)
        return sums.chunk(2)

    def loss(self, model: Any, batch: PairBatch, device: str) -> tuple[Any, dict[str, float]]:
        import torch

        from .model import sequence_logps
        from .sft import tensors

        cfg = self.cfg
        ids, tgt, _ = tensors(batch.rows, device)
        sums, counts = sequence_logps(model, ids, tgt)
        counts = counts.clamp(min=1)
        rc = rr = None
        if self.reference.mode != "none":
            if batch.ref is not None:
                ref_sums = torch.tensor([r[0] for r in batch.ref] + [r[1] for r in batch.ref], dtype=torch.float32, device=sums.device)
            else:
                ref_sums = torch.cat(self._ref_sums(self.reference.scope(model), batch, device))
            ref = ref_sums / counts if cfg.pref_loss in AVERAGED else ref_sums
            rc, rr = ref.chunk(2)
        logps = sums / counts if cfg.pref_loss in AVERAGED else sums
        pc, pr = logps.chunk(2)
        losses, chosen_r, rejected_r = preference_losses(pc, pr, rc, rr, loss=cfg.pref_loss, beta=cfg.pref_beta, simpo_gamma=cfg.simpo_gamma)
        sft = -(sums.chunk(2)[0] / counts.chunk(2)[0])
        if cfg.pref_ftx > 1e-6:
            losses = losses + cfg.pref_ftx * sft
        metrics = {
            "rewards/chosen": float(chosen_r.sum()),
            "rewards/rejected": float(rejected_r.sum()),
            "rewards/accuracies": float((chosen_r > rejected_r).float().sum()),
            "rewards/margins": float((chosen_r - rejected_r).sum()),
            "logps/chosen": float(pc.detach().sum()),
            "logps/rejected": float(pr.detach().sum()),
            "sft_loss": float(sft.detach().sum()),
            "odds_ratio_loss": float(((losses.detach() - sft.detach()) / cfg.pref_beta).sum()) if cfg.pref_loss == "orpo" else 0.0,
        }
        return losses.sum(), metrics

    def summarize(self, sums: dict[str, float], prefix: str = "") -> dict[str, float]:
        n = max(1.0, sums.get("count", 0.0))
        names = METRICS if self.cfg.pref_loss == "orpo" else METRICS[:6]
        return {f"{prefix}{k}": sums[k] / n for k in names}


def pair_targets(pair: Pair) -> tuple[list[int], list[int]]:
    """The trained target ids of both sides (for tests and reports)."""
    return [t for t in pair.chosen.targets if t != IGNORE], [t for t in pair.rejected.targets if t != IGNORE]
