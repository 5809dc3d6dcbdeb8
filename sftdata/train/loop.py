"""The optimisation loop: AdamW, warmup + cosine/linear/constant, gradient accumulation,
clipping, mixed precision, evaluation, checkpoints and resume.

Gradient accumulation divides the *sum* of token losses of each micro-batch by the number
of trained tokens in the whole accumulation window, so a window's gradient equals the
gradient of one big batch (the mean-per-micro-batch / steps shortcut weights short and
long micro-batches wrongly: a 3.9% gradient error on real data).
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

from .config import TrainConfig
from .data import Batch, DataReport, Example, batch_order, collate, make_units
from .device import DeviceChoice, Precision
from .model import load_model, save_model, token_loss_sum
from .outputs import STATE_FILE, TrainerLog, find_checkpoint, lr_factor, new_folder, plot_loss, write_results

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Plan:
    """How many optimizer steps the run takes and how batches map onto them."""

    batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int


def make_plan(cfg: TrainConfig, n_units: int) -> Plan:
    per_epoch = math.ceil(n_units / cfg.per_device_train_batch_size)
    steps_per_epoch = math.ceil(per_epoch / cfg.gradient_accumulation_steps)
    total = cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(cfg.num_train_epochs * steps_per_epoch))
    return Plan(per_epoch, steps_per_epoch, total, math.ceil(cfg.warmup_ratio * total))


def _tensors(torch: Any, batch: Batch, device: str) -> tuple[Any, Any, Any]:
    ids = torch.tensor(batch.input_ids, dtype=torch.long).to(device)
    tgt = torch.tensor(batch.targets, dtype=torch.long).to(device)
    pos = torch.tensor(batch.position_ids, dtype=torch.long).to(device) if batch.position_ids is not None else None
    return ids, tgt, pos


def accumulate(model: Any, window: list[Batch], device: str, autocast: Any = contextlib.nullcontext, scaler: Any = None) -> float:
    """Backward over one accumulation window; returns the window's summed token loss.

    Each micro-batch's summed loss is divided by the trained tokens of the *whole* window,
    so the accumulated gradient is that of the window's mean token loss.
    """
    import torch

    n_trained = sum(b.n_trained for b in window)
    total = 0.0
    for batch in window:
        with autocast():
            loss_sum = token_loss_sum(model, *_tensors(torch, batch, device))
        loss = loss_sum / n_trained
        (scaler.scale(loss) if scaler is not None else loss).backward()
        total += float(loss_sum.detach())
    return total


def evaluate(model: Any, examples: list[Example], cfg: TrainConfig, device: str, autocast: Any, pad_id: int) -> float:
    """Mean token loss over ``examples``; computes the loss only (no logits are kept)."""
    import torch

    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]))
    bs = cfg.per_device_eval_batch_size
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), bs):
            batch = collate([[examples[i]] for i in order[start : start + bs]], pad_id)
            with autocast():
                total += float(token_loss_sum(model, *_tensors(torch, batch, device)))
            count += batch.n_trained
    model.train(was_training)
    return total / max(1, count)


def _rng_state(torch: Any) -> dict[str, Any]:
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


class _Progress:
    """A rich progress bar with loss and tokens/s when stderr is a terminal; silent otherwise."""

    def __init__(self, total: int, start: int) -> None:
        self.bar: Any = None
        if sys.stderr.isatty():
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


def run(cfg: TrainConfig, train_ex: list[Example], eval_ex: list[Example], *, choice: DeviceChoice, precision: Precision, pad_id: int, tokenizer_src: Any, report: DataReport, echo: Echo) -> dict[str, Any]:
    """Train on tokenized examples and write every output; returns the final metrics."""
    import torch

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    ckpt = find_checkpoint(out, cfg.resume_from_checkpoint) if cfg.resume_from_checkpoint else None
    state: dict[str, Any] = torch.load(ckpt / STATE_FILE, weights_only=False) if ckpt else {}
    model = load_model(cfg, choice.device, precision.dtype, weights_from=str(ckpt) if ckpt else None)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    # no weight decay on biases and norm weights (1-d tensors), as HF Trainer does
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon, foreach=choice.type != "npu")
    units = make_units(train_ex, packing=cfg.packing, cutoff_len=cfg.cutoff_len)
    plan = make_plan(cfg, len(units))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg.lr_scheduler_type, step=s, total=plan.total_steps, warmup=plan.warmup_steps))
    scaler = torch.amp.GradScaler(choice.type) if precision.grad_scaler else None
    step = 0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        random.setstate(state["rng"]["python"])
        torch.set_rng_state(state["rng"]["torch"])
        step = state["step"]
        echo(f"resuming from {ckpt} at step {step}")
    log = TrainerLog(out, state.get("log_history"))
    amp_dtype = getattr(torch, precision.dtype)
    autocast = (lambda: torch.autocast(choice.type, dtype=amp_dtype)) if precision.dtype != "float32" else contextlib.nullcontext
    n_trainable = sum(p.numel() for p in params)
    echo(f"training {n_trainable:,} parameters ({cfg.finetuning_type}) on {len(train_ex)} rows ({len(units)} units), {plan.total_steps} steps, eval on {len(eval_ex)} rows")

    totals = state.get("totals", {"tokens": 0, "trained": 0, "loss_sum": 0.0, "rows": 0, "skipped": 0, "time": 0.0})
    window_loss, window_trained, window_tokens, window_time = 0.0, 0, 0, 0.0
    eval_loss: float | None = state.get("eval_loss")
    progress = _Progress(plan.total_steps, step)
    batches: list[list[int]] = []
    epoch_of_batches = -1
    try:
        while step < plan.total_steps:
            t0 = time.perf_counter()
            epoch, in_epoch = divmod(step, plan.steps_per_epoch)
            if epoch != epoch_of_batches:
                batches = batch_order([sum(len(e) for e in u) for u in units], cfg.per_device_train_batch_size, group_by_length=cfg.group_by_length, seed=cfg.seed, epoch=epoch)
                epoch_of_batches = epoch
            start = in_epoch * cfg.gradient_accumulation_steps
            window = [collate([units[i] for i in b], pad_id) for b in batches[start : start + cfg.gradient_accumulation_steps]]
            n_trained = sum(b.n_trained for b in window)
            step_loss = accumulate(model, window, choice.device, autocast, scaler)
            if scaler is not None:
                scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))
            lr = scheduler.get_last_lr()[0]
            if not torch.isfinite(norm):
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
            dt = time.perf_counter() - t0
            tokens = sum(b.n_tokens for b in window)
            totals["tokens"] += tokens
            totals["trained"] += n_trained
            totals["loss_sum"] += step_loss
            totals["rows"] += sum(b.n_rows for b in window)
            totals["time"] += dt
            window_loss += step_loss
            window_trained += n_trained
            window_tokens += tokens
            window_time += dt
            if step % cfg.logging_steps == 0 or step == plan.total_steps:
                entry = {
                    "step": step,
                    "epoch": round(step / plan.steps_per_epoch, 4),
                    "loss": window_loss / max(1, window_trained),
                    "lr": lr,
                    "grad_norm": float(norm) if torch.isfinite(norm) else None,
                    "tokens_per_second": window_tokens / window_time,
                    "trained_tokens_per_second": window_trained / window_time,
                }
                log.add(entry)
                progress.update(f"loss {entry['loss']:.4f}  {entry['tokens_per_second']:.0f} tok/s")
                window_loss, window_trained, window_tokens, window_time = 0.0, 0, 0, 0.0
            else:
                progress.update(f"loss {step_loss / max(1, n_trained):.4f}")
            if eval_ex and cfg.eval_steps and step % cfg.eval_steps == 0 and step < plan.total_steps:
                eval_loss = evaluate(model, eval_ex, cfg, choice.device, autocast, pad_id)
                log.add({"step": step, "eval_loss": eval_loss})
            if cfg.save_steps and step % cfg.save_steps == 0 and step < plan.total_steps:
                _save_checkpoint(out / f"checkpoint-{step}", model, tokenizer_src, optimizer, scheduler, scaler, step, log, totals, eval_loss, torch)
    finally:
        progress.close()
    if eval_ex:
        eval_loss = evaluate(model, eval_ex, cfg, choice.device, autocast, pad_id)
        log.add({"step": step, "eval_loss": eval_loss})
    with new_folder(out / ".final") as tmp:
        save_model(model, tmp, tokenizer_src)
    for item in (out / ".final").iterdir():
        item.replace(out / item.name)
    (out / ".final").rmdir()
    results = {
        "train_runtime": round(totals["time"], 4),
        "train_samples_per_second": totals["rows"] / max(totals["time"], 1e-9),
        "train_steps_per_second": plan.total_steps / max(totals["time"], 1e-9),
        "train_loss": totals["loss_sum"] / max(1, totals["trained"]),
        "eval_loss": eval_loss,
        "trained_tokens": totals["trained"],
        "num_tokens": totals["tokens"],
        "trained_tokens_per_second": totals["trained"] / max(totals["time"], 1e-9),
        "skipped_steps": totals["skipped"],
        "global_step": step,
        "epoch": round(step / plan.steps_per_epoch, 4),
        "device": choice.device,
        "precision": precision.dtype,
        "data": report.to_dict(),
    }
    write_results(out, results)
    if cfg.plot_loss and plot_loss(out, log.history) is None:
        echo("plot_loss: matplotlib is not installed (pip install 'sftdata[plot]'); no plot written")
    return results


def _save_checkpoint(path: Path, model: Any, tokenizer_src: Any, optimizer: Any, scheduler: Any, scaler: Any, step: int, log: TrainerLog, totals: dict[str, Any], eval_loss: float | None, torch: Any) -> None:
    with new_folder(path) as tmp:
        save_model(model, tmp, tokenizer_src)
        torch.save(
            {
                "step": step,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": _rng_state(torch),
                "log_history": log.history,
                "totals": dict(totals),
                "eval_loss": eval_loss,
            },
            tmp / STATE_FILE,
        )
