"""``sftdata runs compare``: training runs side by side, from the files they leave behind.

Reads, per run folder: ``config.json`` (the model; else the base model's, named by
``adapter_config.json`` or the launch config), ``adapter_config.json``, the safetensors
headers (parameter counts, exact), ``trainer_state.json``, ``all_results.json``,
``train_results.json``, ``eval_results.json``, ``trainer_log.jsonl`` and the launch config
(``train_config.yaml``, written by ``sftdata train``; LLaMA-Factory's YAML can be named
with ``configs``). It works for ``sftdata train``, LLaMA-Factory and HF Trainer folders.
Nothing is unpickled: ``training_args.bin`` stays unread, so fields only it holds show as
unknown (``None``).

>>> _params_from_config({"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 10, "tie_word_embeddings": True})
560
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

CONFIG_FILE = "train_config.yaml"
SECTIONS = ("model", "setup", "results")


@dataclass
class Run:
    name: str
    path: Path
    model: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)
    eval_curve: list[tuple[int, float]] = field(default_factory=list)


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"'{path}' is not valid JSON ({err}).", path=str(path), remedy="Fix or remove the file.") from None
    return value if isinstance(value, dict) else {}


def _yaml(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    import yaml

    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UsageError(f"'{path}' is not a readable YAML file ({type(err).__name__}).", path=str(path), remedy="Name the run's launch YAML with --config RUN=PATH.") from None
    return value if isinstance(value, dict) else {}


def safetensors_params(folder: Path, pattern: str) -> int | None:
    """Parameter count from the headers of ``folder/pattern`` safetensors files (JSON
    headers only; the tensors are not read)."""
    files = sorted(folder.glob(pattern))
    if not files:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(min(size, 100 << 20)))
        for name, meta in header.items():
            if name != "__metadata__":
                n = 1
                for d in meta["shape"]:
                    n *= d
                total += n
    return total


def _params_from_config(c: dict[str, Any]) -> int | None:
    """Parameters of a Llama/Qwen2-style decoder from its config (q/k/v biases as in Qwen2)."""
    try:
        h, i, layers, heads = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["num_attention_heads"]
        v, kv = c["vocab_size"], c.get("num_key_value_heads", heads)
    except KeyError:
        return None
    head_dim = c.get("head_dim") or h // heads
    bias = c.get("model_type", "qwen2") == "qwen2"
    attn = h * heads * head_dim + 2 * h * kv * head_dim + heads * head_dim * h + (heads * head_dim + 2 * kv * head_dim if bias else 0)
    per_layer = attn + 3 * h * i + 2 * h
    return v * h * (1 if c.get("tie_word_embeddings") else 2) + layers * per_layer + h


def _model(run_dir: Path, launch: dict[str, Any], adapter: dict[str, Any]) -> dict[str, Any]:
    config = _json(run_dir / "config.json")
    base = adapter.get("base_model_name_or_path") or launch.get("model_name_or_path")
    if not config and base and Path(str(base)).is_dir():
        config = _json(Path(str(base)) / "config.json")
    exact = safetensors_params(run_dir, "model*.safetensors")
    if exact is None and base and Path(str(base)).is_dir():
        exact = safetensors_params(Path(str(base)), "model*.safetensors")
    return {
        "name": base or config.get("_name_or_path"),
        "architecture": (config.get("architectures") or [None])[0],
        "parameters": exact if exact is not None else _params_from_config(config),
        "hidden_size": config.get("hidden_size"),
        "layers": config.get("num_hidden_layers"),
        "attention_heads": config.get("num_attention_heads"),
        "kv_heads": config.get("num_key_value_heads"),
        "vocab_size": config.get("vocab_size"),
        "tie_word_embeddings": config.get("tie_word_embeddings"),
        "sliding_window": config.get("sliding_window") if config.get("use_sliding_window", True) else None,
    }


def _curves(run_dir: Path, state: dict[str, Any]) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    entries: list[dict[str, Any]] = []
    log = run_dir / "trainer_log.jsonl"
    if log.is_file():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                entries.append({**value, "step": value.get("step", value.get("current_steps"))})
    if not entries:
        entries = [e for e in state.get("log_history", []) if isinstance(e, dict)]
    train = [(int(e["step"]), float(e["loss"])) for e in entries if isinstance(e.get("loss"), (int, float)) and e.get("step") is not None]
    evals = [(int(e["step"]), float(e["eval_loss"])) for e in entries if isinstance(e.get("eval_loss"), (int, float)) and e.get("step") is not None]
    return train, evals


def read_run(path: str | Path, config: str | Path | None = None, name: str | None = None) -> Run:
    """Everything known about one run folder (unknown fields are ``None``)."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise UsageError(f"run folder '{run_dir}' does not exist.", remedy="Pass the output_dir of a training run.")
    launch = _yaml(Path(config) if config else run_dir / CONFIG_FILE)
    adapter = _json(run_dir / "adapter_config.json")
    state = _json(run_dir / "trainer_state.json")
    results = {**_json(run_dir / "all_results.json"), **_json(run_dir / "train_results.json")}
    results = {**_json(run_dir / "eval_results.json"), **results}
    curve, evals = _curves(run_dir, state)
    per_device = launch.get("per_device_train_batch_size", state.get("train_batch_size"))
    accum = launch.get("gradient_accumulation_steps")
    world = results.get("world_size")
    lora = adapter or launch.get("finetuning_type") == "lora"
    dtype = "bf16" if launch.get("bf16") else "fp16" if launch.get("fp16") else ("fp32" if launch else None)
    trainable = safetensors_params(run_dir, "adapter_model*.safetensors") if adapter else None
    model = _model(run_dir, launch, adapter)
    setup = {
        "stage": launch.get("stage", results.get("stage")),
        "finetuning_type": "lora" if lora else launch.get("finetuning_type") or ("full" if (run_dir / "config.json").is_file() else None),
        "lora_rank": adapter.get("r", launch.get("lora_rank") if lora else None),
        "lora_alpha": adapter.get("lora_alpha") if adapter else None,
        "lora_target": ",".join(sorted(adapter["target_modules"])) if isinstance(adapter.get("target_modules"), list) else adapter.get("target_modules", launch.get("lora_target") if lora else None),
        "dtype": dtype,
        "gradient_checkpointing": launch.get("gradient_checkpointing"),
        "learning_rate": launch.get("learning_rate"),
        "cutoff_len": launch.get("cutoff_len"),
        "samples": (results.get("data") or {}).get("train") if isinstance(results.get("data"), dict) else results.get("train_samples"),
        "epochs": launch.get("num_train_epochs", state.get("num_train_epochs")),
        "per_device_batch": per_device,
        "gradient_accumulation": accum,
        "devices": world,
        "total_batch": per_device * accum * (world or 1) if isinstance(per_device, int) and isinstance(accum, int) else None,
        "steps": results.get("global_step", state.get("global_step", state.get("max_steps"))),
        "trainable_parameters": trainable if trainable is not None else (model["parameters"] if setup_full(lora, launch) else None),
        **_data_lock(results.get("dataset_lock")),
    }
    out = {
        "runtime_s": results.get("train_runtime"),
        "samples_per_second": results.get("train_samples_per_second"),
        "steps_per_second": results.get("train_steps_per_second"),
        "train_loss": results.get("train_loss"),
        "final_logged_loss": curve[-1][1] if curve else None,
        "eval_loss": results.get("eval_loss"),
        "flos": results.get("total_flos", state.get("total_flos")),
    }
    return Run(name or run_dir.name, run_dir, model, setup, out, curve, evals)


def _data_lock(lock: Any) -> dict[str, Any]:
    """What ``sftdata train`` recorded of its data (``dataset_lock`` in train_results.json):
    the lock's digest and the files with their sha256, so two runs on different data differ."""
    if not isinstance(lock, dict):
        return {"data_digest": None, "data_files": None}
    files = [f for f in lock.get("files", []) if isinstance(f, dict)]
    digest = lock.get("digest")
    return {
        "data_digest": digest.removeprefix("sha256:")[:16] if isinstance(digest, str) else None,
        "data_files": ", ".join(f"{Path(str(f.get('path'))).name}@{str(f.get('sha256', ''))[:12]}" for f in files) or None,
    }


def setup_full(lora: bool, launch: dict[str, Any]) -> bool:
    return not lora and launch.get("finetuning_type") == "full"


@dataclass
class Comparison:
    runs: list[Run]

    def rows(self) -> list[tuple[str, str, list[Any], bool]]:
        """``(section, key, values per run, differs)`` for every field."""
        out = []
        for section in SECTIONS:
            keys: list[str] = []
            for run in self.runs:
                keys += [k for k in getattr(run, section) if k not in keys]
            for key in keys:
                values = [getattr(run, section).get(key) for run in self.runs]
                known = [v for v in values if v is not None]
                differs = len(self.runs) > 1 and len({json.dumps(v, sort_keys=True) for v in known}) > 1 and section != "results"
                out.append((section, key, values, differs))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [{"name": r.name, "path": str(r.path), "model": r.model, "setup": r.setup, "results": r.results} for r in self.runs],
            "differences": [f"{s}.{k}" for s, k, _, d in self.rows() if d],
        }

    def to_markdown(self) -> str:
        head = "| section | field | " + " | ".join(r.name for r in self.runs) + " |"
        lines = [head, "|" + "---|" * (len(self.runs) + 2)]
        for section, key, values, differs in self.rows():
            cells = [_fmt(v) for v in values]
            label = f"**{key}**" if differs else key
            lines.append(f"| {section} | {label} | " + " | ".join(f"**{c}**" if differs else c for c in cells) + " |")
        return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:,}"
    return str(value)


def compare(paths: list[str | Path], configs: dict[str, str] | None = None) -> Comparison:
    """Read every run; ``configs`` maps a run folder's name (or path) to its launch YAML."""
    configs = configs or {}
    runs = []
    for p in paths:
        key = next((k for k in (str(p), Path(p).name) if k in configs), None)
        runs.append(read_run(p, configs[key] if key else None))
    return Comparison(runs)


def plot_curves(comparison: Comparison, out: str | Path) -> Path | None:
    """Overlay the runs' training (and eval) loss curves; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from ..io import atomic_path

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in comparison.runs:
        if run.curve:
            line = ax.plot(*zip(*run.curve), label=f"{run.name} train")[0]
            if run.eval_curve:
                ax.plot(*zip(*run.eval_curve), "o--", color=line.get_color(), label=f"{run.name} eval")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    target = Path(out)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return target
