"""What a run leaves in output_dir: trainer_log.jsonl, train_results.json, training_loss.png,
checkpoint-N/ folders (written under a temporary name and renamed when complete; their
training state is JSON + safetensors, see :mod:`.state`).

>>> lr_factor("cosine", step=0, total=10, warmup=2), lr_factor("cosine", step=2, total=10, warmup=2)
(0.5, 1.0)
>>> lr_factor("linear", step=6, total=10, warmup=2)
0.5
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ..errors import UsageError
from ..io import atomic_path

LOG_FILE = "trainer_log.jsonl"
RESULTS_FILE = "train_results.json"
PLOT_FILE = "training_loss.png"
STATE_FILE = "trainer_state.json"  # with trainer_state.safetensors (see state.py)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def lr_factor(kind: str, *, step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier for optimizer step ``step`` (0-based) of ``total``.

    Warmup rises linearly from 1/warmup to 1 over the first ``warmup`` steps, so the first
    step already learns; then cosine/linear decay to 0 at ``total``, or stay constant.
    """
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if kind in ("constant", "constant_with_warmup"):
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class TrainerLog:
    """Appends one JSON line per logging/eval event and keeps them for the results and plot."""

    def __init__(self, out: Path, history: list[dict[str, Any]] | None = None, enabled: bool = True) -> None:
        self.path = out / LOG_FILE
        self.history: list[dict[str, Any]] = list(history or [])
        self.enabled = enabled  # only rank 0 of a multi-device run writes
        if not enabled:
            return
        # a resumed run restarts the file from the checkpoint's history, dropping the
        # lines a crashed run wrote after that checkpoint
        with open(self.path, "wb") as fh:
            for entry in self.history:
                fh.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))

    def add(self, entry: dict[str, Any]) -> None:
        self.history.append(entry)
        if not self.enabled:
            return
        with open(self.path, "ab") as fh:
            fh.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))


def write_results(out: Path, results: dict[str, Any]) -> None:
    with atomic_path(out / RESULTS_FILE) as tmp:
        tmp.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def plot_loss(out: Path, history: list[dict[str, Any]]) -> Path | None:
    """Plot training (and eval) loss against the step; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    train = [(e["step"], e["loss"]) for e in history if "loss" in e]
    evals = [(e["step"], e["eval_loss"]) for e in history if "eval_loss" in e]
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"training loss of {out.name}")
    ax.legend()
    target = out / PLOT_FILE
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return target


@contextmanager
def new_folder(final: Path) -> Iterator[Path]:
    """Fill a temporary sibling folder, then rename it to ``final`` (replacing an old one)."""
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def find_checkpoint(out: Path, spec: str) -> Path:
    """``true``/``latest`` = the highest checkpoint-N in ``out``; otherwise a folder path."""
    if spec.lower() in ("true", "latest", "yes", "1"):
        found = sorted((int(m.group(1)), p) for p in out.glob("checkpoint-*") if (m := _CHECKPOINT.match(p.name)) and p.is_dir())
        if not found:
            raise UsageError(f"no checkpoint to resume from in '{out}'.", field="resume_from_checkpoint", remedy="Set save_steps so that checkpoints are written, or give a checkpoint folder.")
        return found[-1][1]
    path = Path(spec)
    if not path.is_dir():
        raise UsageError(f"'{path}' is not a checkpoint folder.", field="resume_from_checkpoint", remedy="Pass a checkpoint-N folder written by sftdata train, or --resume for the latest.")
    return path  # state.load_state checks what it holds (and never unpickles)
