"""The optimisation loop, the same for every stage (:mod:`.sft`, :mod:`.dpo`, :mod:`.kto`):
AdamW, warmup + cosine/linear/constant, gradient accumulation, clipping, mixed precision,
evaluation, checkpoints, resume, and several devices (:mod:`.dist`).

Gradient accumulation divides the *sum* of each micro-batch's losses by the weight
(trained tokens for SFT, pairs for DPO, rows for KTO) of the whole accumulation window on
every device, so a window's gradient equals the gradient of one big batch (the
mean-per-micro-batch / steps shortcut weights short and long micro-batches wrongly: a 3.9%
gradient error on real data).
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .config import TrainConfig
from .data import DataReport, batch_order, make_units
from .device import DeviceChoice, Precision
from .dist import Dist, shard
from .model import load_model, save_model
from .outputs import TrainerLog, find_checkpoint, lr_factor, new_folder, plot_loss, write_results
from .stage import Stage, pad_width
from .state import load_state, python_rng, save_state

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything a run needs besides the config and the examples."""

    stage: Stage
    choice: DeviceChoice
    precision: Precision
    pad_id: int
    tokenizer_src: Any
    report: DataReport
    echo: Echo
    dist: Dist = Dist()
    dataset_lock: dict[str, Any] | None = None  # the lock of the data this run trains on


@dataclass(frozen=True, slots=True)
class Plan:
    """How many optimizer steps the run takes and how batches map onto them."""

    batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    accumulation: int = 1
    world: int = 1


def make_plan(cfg: TrainConfig, n_units: int, world: int = 1, accumulation: int | None = None) -> Plan:
    accum = accumulation or cfg.gradient_accumulation_steps
    per_epoch = math.ceil(n_units / (cfg.per_device_train_batch_size * world))
    steps_per_epoch = math.ceil(per_epoch / accum)
    total = cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(cfg.num_train_epochs * steps_per_epoch))
    return Plan(per_epoch, steps_per_epoch, total, math.ceil(cfg.warmup_ratio * total), accum, world)


def accumulate(stage: Stage, model: Any, window: list[Any], device: str, *, weight: float | None = None, autocast: Any = contextlib.nullcontext, scaler: Any = None) -> tuple[float, dict[str, float]]:
    """Backward over one accumulation window; returns its summed loss and metric sums.

    Each micro-batch's summed loss is divided by ``weight``, the weight of the whole
    window (over every device; this window's own weight by default), so the accumulated
    gradient is that of the window's mean loss.
    """
    weight = weight if weight is not None else sum(b.weight for b in window)
    total = 0.0
    sums = dict.fromkeys(stage.metric_names, 0.0)
    for batch in window:
        with autocast():
            loss_sum, metrics = stage.loss(model, batch, device)
        loss = loss_sum / weight
        (scaler.scale(loss) if scaler is not None else loss).backward()
        total += float(loss_sum.detach())
        for k, v in metrics.items():
            sums[k] += v
    return total, sums


def evaluate(stage: Stage, model: Any, examples: list[Any], cfg: TrainConfig, device: str, autocast: Any, pad_id: int, dist: Dist = Dist()) -> tuple[float, dict[str, float]]:
    """Mean loss over ``examples`` (this rank's share, summed over ranks) and the stage's
    eval metrics (``eval_rewards/accuracies``, ...); the loss only, no logits are kept."""
    import torch

    mine = [e for i, e in enumerate(examples) if i % dist.world == dist.rank]
    order = sorted(range(len(mine)), key=lambda i: -len(mine[i]))
    bs = cfg.per_device_eval_batch_size
    total, count = 0.0, 0
    sums = dict.fromkeys(stage.metric_names, 0.0)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), bs):
            batch = stage.collate([[mine[i]] for i in order[start : start + bs]], pad_id)
            with autocast():
                loss_sum, metrics = stage.loss(model, batch, device)
            total += float(loss_sum)
            count += batch.weight
            for k, v in metrics.items():
                sums[k] += v
    model.train(was_training)
    reduced = dist.sum([total, count, *sums.values()])
    sums = dict(zip(stage.metric_names, reduced[2:]))
    sums["count"] = reduced[1]
    return reduced[0] / max(1, reduced[1]), stage.summarize(sums, prefix="eval_")


class _Progress:
    """A rich progress bar with loss and tokens/s when stderr is a terminal; silent otherwise."""

    def __init__(self, total: int, start: int, enabled: bool = True) -> None:
        self.bar: Any = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task("train", total=total, completed=start, info="")
            self.bar.start()

    def update(self, info: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, info=info)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _accumulation_on_resume(cfg: TrainConfig, state: dict[str, Any], world: int, echo: Echo) -> int:
    """Same world size: the saved accumulation. Another: keep the global batch."""
    saved_world = int(state.get("world_size", 1))
    accum = int(state.get("gradient_accumulation_steps", cfg.gradient_accumulation_steps))
    if saved_world == world:
        return accum
    global_batch = cfg.per_device_train_batch_size * accum * saved_world
    per_step = cfg.per_device_train_batch_size * world
    if global_batch % per_step:
        raise UsageError(
            f"the checkpoint was trained on {saved_world} device(s) with a global batch of {global_batch}; {world} device(s) x per_device_train_batch_size {cfg.per_device_train_batch_size} does not divide it.",
            field="resume_from_checkpoint",
            remedy=f"Resume with {saved_world} device(s), or a world size and per_device_train_batch_size whose product divides {global_batch}.",
        )
    new = global_batch // per_step
    echo(f"resuming on {world} device(s) instead of {saved_world}: gradient_accumulation_steps {new} keeps the global batch of {global_batch}; the batch order differs from the first run's")
    return new


def _optimizer(torch: Any, cfg: TrainConfig, params: list[Any], choice: DeviceChoice) -> Any:
    # no weight decay on biases and norm weights (1-d tensors), as HF Trainer does
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon, foreach=choice.type != "npu")


def run(cfg: TrainConfig, train_ex: list[Any], eval_ex: list[Any], ctx: RunContext) -> dict[str, Any]:
    """Train on tokenized examples and write every output (rank 0); returns the final metrics."""
    import torch

    from .reference import PrepareContext

    stage, dist, echo, choice = ctx.stage, ctx.dist, ctx.echo, ctx.choice
    out = Path(cfg.output_dir)
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_config(out, cfg)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    ckpt = find_checkpoint(out, cfg.resume_from_checkpoint) if cfg.resume_from_checkpoint else None
    state: dict[str, Any] = load_state(ckpt) if ckpt else {}
    model = load_model(cfg, choice.device, ctx.precision.dtype, weights_from=str(ckpt) if ckpt else None)
    model.train()
    stage.prepare(model, cfg, PrepareContext(train_ex, eval_ex, choice.device, ctx.pad_id, lambda: load_model(cfg.model_copy(update={"finetuning_type": "full", "gradient_checkpointing": False}), choice.device, "float32"), echo))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(torch, cfg, params, choice)
    units = make_units(train_ex, packing=cfg.packing, cutoff_len=cfg.cutoff_len)
    accum = _accumulation_on_resume(cfg, state, dist.world, echo) if state else cfg.gradient_accumulation_steps
    plan = make_plan(cfg, len(units), dist.world, accum)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg.lr_scheduler_type, step=s, total=plan.total_steps, warmup=plan.warmup_steps))
    scaler = torch.amp.GradScaler(choice.type) if ctx.precision.grad_scaler else None
    step = 0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        random.setstate(state["rng_python"])
        torch.set_rng_state(state["rng_torch"])
        step = state["global_step"]
        echo(f"resuming from {ckpt} at step {step}")
    log = TrainerLog(out, state.get("log_history"), enabled=dist.is_main)
    amp_dtype = getattr(torch, ctx.precision.dtype)
    autocast = (lambda: torch.autocast(choice.type, dtype=amp_dtype)) if ctx.precision.dtype != "float32" else contextlib.nullcontext
    n_trainable = sum(p.numel() for p in params)
    world = f" on {dist.world} devices" if dist.active else ""
    echo(f"training {n_trainable:,} parameters ({cfg.finetuning_type}, stage {cfg.stage}) on {len(train_ex)} rows ({len(units)} units){world}, {plan.total_steps} steps, eval on {len(eval_ex)} rows")
    width = lambda n: pad_width(n, multiple=cfg.pad_to_multiple_of, buckets=cfg.buckets)  # noqa: E731
    global_micro = cfg.per_device_train_batch_size * dist.world

    totals = state.get("totals", {"tokens": 0, "trained": 0, "loss_sum": 0.0, "weight": 0, "rows": 0, "skipped": 0, "time": 0.0})
    win = _Window(stage.metric_names)
    eval_loss: float | None = state.get("eval_loss")
    progress = _Progress(plan.total_steps, step, dist.is_main)
    batches: list[list[int]] = []
    epoch_of_batches = -1
    try:
        while step < plan.total_steps:
            t0 = time.perf_counter()
            epoch, in_epoch = divmod(step, plan.steps_per_epoch)
            if epoch != epoch_of_batches:
                batches = batch_order([sum(len(e) for e in u) for u in units], global_micro, group_by_length=cfg.group_by_length, seed=cfg.seed, epoch=epoch)
                epoch_of_batches = epoch
            start = in_epoch * accum
            window = [stage.collate([units[i] for i in mine], ctx.pad_id, width) for b in batches[start : start + accum] if (mine := shard(b, dist))]
            local = [sum(b.weight for b in window), sum(b.n_tokens for b in window), sum(b.n_trained for b in window), sum(b.n_rows for b in window)]
            weight = dist.sum(local[:1])[0]
            step_loss, metrics = accumulate(stage, model, window, choice.device, weight=weight, autocast=autocast, scaler=scaler)
            dist.reduce_grads(params)
            if scaler is not None:
                scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))
            lr = scheduler.get_last_lr()[0]
            finite = bool(torch.isfinite(norm))
            if not finite:
                totals["skipped"] += 1
                echo(f"step {step + 1}: gradient norm is {float(norm)}; step skipped")
                log.add({"step": step + 1, "skipped": True, "grad_norm": str(float(norm))})
                if scaler is not None:
                    scaler.update()  # lowers the scale so the next step can succeed
            elif scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            with warnings.catch_warnings():
                # after a skipped step torch warns that the schedule moved without an
                # optimizer step; moving on keeps the schedule aligned with the step count
                warnings.simplefilter("ignore", UserWarning)
                scheduler.step()
            step += 1
            loss_sum, weight, tokens, trained, rows, *msums = dist.sum([step_loss, *local, *metrics.values()])
            dt = time.perf_counter() - t0
            for key, value in (("tokens", tokens), ("trained", trained), ("loss_sum", loss_sum), ("weight", weight), ("rows", rows), ("time", dt)):
                totals[key] += value
            win.add(loss_sum, weight, tokens, trained, dt, msums)
            if step % cfg.logging_steps == 0 or step == plan.total_steps:
                entry = win.entry(stage, step=step, epoch=round(step / plan.steps_per_epoch, 4), lr=lr, norm=float(norm) if finite else None)
                log.add(entry)
                progress.update(f"loss {entry['loss']:.4f}  {entry['tokens_per_second']:.0f} tok/s")
            else:
                progress.update(f"loss {loss_sum / max(1, weight):.4f}")
            if eval_ex and cfg.eval_steps and step % cfg.eval_steps == 0 and step < plan.total_steps:
                eval_loss, eval_metrics = evaluate(stage, model, eval_ex, cfg, choice.device, autocast, ctx.pad_id, dist)
                log.add({"step": step, "eval_loss": eval_loss, **eval_metrics})
            if cfg.save_steps and step % cfg.save_steps == 0 and dist.is_main:
                snapshot = {"global_step": step, "world_size": dist.world, "gradient_accumulation_steps": accum, "per_device_train_batch_size": cfg.per_device_train_batch_size, "log_history": log.history, "totals": dict(totals), "eval_loss": eval_loss}
                _save_checkpoint(out / f"checkpoint-{step}", model, ctx.tokenizer_src, {**snapshot, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler is not None else None, "rng_python": python_rng(random.getstate()), "rng_torch": torch.get_rng_state()})
    finally:
        progress.close()
    eval_metrics: dict[str, float] = {}
    if eval_ex:
        eval_loss, eval_metrics = evaluate(stage, model, eval_ex, cfg, choice.device, autocast, ctx.pad_id, dist)
        log.add({"step": step, "eval_loss": eval_loss, **eval_metrics})
    results = {
        "train_runtime": round(totals["time"], 4),
        "train_samples_per_second": totals["rows"] / max(totals["time"], 1e-9),
        "train_steps_per_second": plan.total_steps / max(totals["time"], 1e-9),
        "train_loss": totals["loss_sum"] / max(1, totals["weight"]),
        "eval_loss": eval_loss,
        **eval_metrics,
        "trained_tokens": int(totals["trained"]),
        "num_tokens": int(totals["tokens"]),
        "trained_tokens_per_second": totals["trained"] / max(totals["time"], 1e-9),
        "skipped_steps": totals["skipped"],
        "global_step": step,
        "epoch": round(step / plan.steps_per_epoch, 4),
        "stage": cfg.stage,
        "world_size": dist.world,
        "device": choice.device,
        "precision": ctx.precision.dtype,
        "data": ctx.report.to_dict(),
        "dataset_lock": ctx.dataset_lock,  # `runs compare` shows it
    }
    if dist.is_main:
        with new_folder(out / ".final") as tmp:
            save_model(model, tmp, ctx.tokenizer_src)
        for item in (out / ".final").iterdir():
            item.replace(out / item.name)
        (out / ".final").rmdir()
        write_results(out, results)
        if cfg.plot_loss and plot_loss(out, log.history) is None:
            echo("plot_loss: matplotlib is not installed (pip install 'sftdata[plot]'); no plot written")
    dist.barrier()
    return results


class _Window:
    """Sums over the steps since the last log line."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.reset()

    def reset(self) -> None:
        self.loss = self.weight = self.tokens = self.trained = self.time = 0.0
        self.metrics = dict.fromkeys(self.names, 0.0)

    def add(self, loss: float, weight: float, tokens: float, trained: float, dt: float, metrics: list[float]) -> None:
        self.loss += loss
        self.weight += weight
        self.tokens += tokens
        self.trained += trained
        self.time += dt
        for k, v in zip(self.names, metrics):
            self.metrics[k] += v

    def entry(self, stage: Stage, *, step: int, epoch: float, lr: float, norm: float | None) -> dict[str, Any]:
        out = {
            "step": step,
            "epoch": epoch,
            "loss": self.loss / max(1, self.weight),
            "lr": lr,
            "grad_norm": norm,
            "tokens_per_second": self.tokens / self.time,
            "trained_tokens_per_second": self.trained / self.time,
            **stage.summarize({**self.metrics, "count": self.weight}),
        }
        self.reset()
        return out


def _write_config(out: Path, cfg: TrainConfig) -> None:
    """The resolved config, for `sftdata runs compare` and for the record."""
    import yaml

    from ..io import atomic_path

    with atomic_path(out / "train_config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False), encoding="utf-8")


def _save_checkpoint(path: Path, model: Any, tokenizer_src: Any, state: dict[str, Any]) -> None:
    with new_folder(path) as tmp:
        save_model(model, tmp, tokenizer_src)
        save_state(tmp, state)
