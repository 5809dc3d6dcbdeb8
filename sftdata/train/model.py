"""Model loading (full or LoRA), the loss on trained positions only, and saving.

The loss never materialises logits for positions without a label: the decoder returns
hidden states, the trained positions are selected, and only those go through the LM head.
With Qwen2.5's 151,936-token vocabulary the full logits tensor dominates memory and time
when most positions are prompt or padding.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

from ..errors import UsageError, missing
from .config import TrainConfig

IGNORE = -100

# files that make a model folder's tokenizer loadable with AutoTokenizer
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as err:
        raise missing(err.name or "torch", "train", "Training") from None
    return torch, transformers


def lora_target_modules(model: Any, targets: list[str] | str) -> list[str]:
    """Module names LoRA adapts. ``all`` = every ``nn.Linear`` except the output embeddings
    (the LM head), given as full module paths so nothing is matched by accident."""
    torch, _ = _imports()
    head = model.get_output_embeddings()
    linear = [name for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear) and mod is not head]
    if targets == "all":
        return linear
    short = {name.rsplit(".", 1)[-1] for name in linear}
    unknown = [t for t in targets if t not in short]
    if unknown:
        raise UsageError(f"lora_target names no linear layer of this model: {', '.join(unknown)}.", field="lora_target", remedy=f"Use all, or some of: {', '.join(sorted(short))}.")
    return [name for name in linear if name.rsplit(".", 1)[-1] in targets]


def load_model(cfg: TrainConfig, device: str, dtype: str, weights_from: str | None = None) -> Any:
    """Load the model on ``device`` for training; LoRA-wrapped when ``finetuning_type: lora``.

    Full fine-tuning keeps float32 master weights (autocast does the half-precision math);
    LoRA loads the frozen base in the autocast dtype to halve its memory and keeps the
    adapter weights in float32. ``weights_from`` is a checkpoint folder to resume from.
    """
    torch, transformers = _imports()
    path = Path(cfg.model_name_or_path)
    if not path.is_dir():
        raise UsageError(f"model folder '{path}' does not exist.", field="model_name_or_path", remedy="Download the model first (e.g. `huggingface-cli download Qwen/Qwen2.5-7B-Instruct --local-dir ...`) and pass its folder.")
    base_dtype = getattr(torch, dtype) if cfg.finetuning_type == "lora" else torch.float32
    source = weights_from if (weights_from and cfg.finetuning_type == "full") else str(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype=base_dtype, attn_implementation=cfg.attn_implementation)
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        # non-reentrant checkpointing works with frozen inputs (LoRA); transformers 5.x renamed the call
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.finetuning_type == "lora":
        try:
            import peft
        except ImportError:
            raise missing("peft", "train", "LoRA training") from None
        if weights_from:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # peft calls a deprecated transformers helper
                model = peft.PeftModel.from_pretrained(model, weights_from, is_trainable=True)
        else:
            lora = peft.LoraConfig(
                r=cfg.lora_rank,
                lora_alpha=cfg.lora_alpha_value,
                lora_dropout=cfg.lora_dropout,
                target_modules=lora_target_modules(model, cfg.lora_targets),
                task_type="CAUSAL_LM",
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # peft calls a deprecated transformers helper
                model = peft.get_peft_model(model, lora)
        for p in model.parameters():
            if p.requires_grad:
                p.data = p.data.float()
    return model.to(device)


def _parts(model: Any) -> tuple[Any, Any]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def token_loss_sum(model: Any, input_ids: Any, targets: Any, position_ids: Any | None) -> Any:
    """Sum of cross-entropy over positions whose target is not IGNORE (a 0-dim tensor).

    Only trained positions reach the LM head, chunk by chunk (:mod:`.fused_ce`), so the
    logits of a whole batch never exist at once.

    ``use_cache=False`` matters twice: no KV cache is built during training, and in
    transformers 5.x packed rows are isolated from ``position_ids`` only without a cache.
    """
    torch, _ = _imports()
    decoder, head = _parts(model)
    hidden = decoder(input_ids=input_ids, position_ids=position_ids, use_cache=False).last_hidden_state
    keep = targets != IGNORE
    if isinstance(head, torch.nn.Linear) and head.bias is None:
        from .fused_ce import linear_cross_entropy_sum

        return linear_cross_entropy_sum(hidden[keep], head.weight, targets[keep])
    logits = head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="sum")


def save_model(model: Any, out: Path, tokenizer_src: Any) -> None:
    """Write the model (or only the LoRA adapter) and tokenizer files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    save_tokenizer(tokenizer_src, out)


def has_tokenizer_files(folder: str | Path) -> bool:
    return any((Path(folder) / name).is_file() for name in ("tokenizer.json", "vocab.json", "tokenizer.model"))


def save_tokenizer(tokenizer_src: Any, out: Path) -> list[str]:
    """Make ``out`` loadable with AutoTokenizer where possible.

    ``tokenizer_src`` is a folder (copy its tokenizer files) or one of sftdata's built-in
    tokenizers (written out by its exporter, e.g. a rebuilt tokenizer.json for qwen2.5).
    Returns the names written.
    """
    written: list[str] = []
    if isinstance(tokenizer_src, (str, Path)):
        for name in TOKENIZER_FILES:
            src = Path(tokenizer_src) / name
            if src.is_file():
                shutil.copyfile(src, out / name)
                written.append(name)
        return written
    from ..tokenizers.export import EXPORTERS

    exporter = EXPORTERS.get(getattr(tokenizer_src, "name", ""))
    if exporter is None:
        return []
    folder = exporter(out)
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("tokenizer"))


def sequence_logps(model: Any, input_ids: Any, targets: Any, position_ids: Any | None = None) -> tuple[Any, Any]:
    """Per row: the sum of log-probabilities of its trained targets, and how many there are.

    As in :func:`token_loss_sum`, only trained positions reach the LM head.
    """
    torch, _ = _imports()
    decoder, head = _parts(model)
    hidden = decoder(input_ids=input_ids, position_ids=position_ids, use_cache=False).last_hidden_state
    keep = targets != IGNORE
    rows = torch.arange(targets.shape[0], device=targets.device)[:, None].expand_as(targets)[keep]
    if isinstance(head, torch.nn.Linear) and head.bias is None:
        from .fused_ce import linear_token_logprobs

        per_token = linear_token_logprobs(hidden[keep], head.weight, targets[keep])
    else:
        per_token = torch.log_softmax(head(hidden[keep]).float(), -1).gather(1, targets[keep][:, None]).squeeze(1)
    n = targets.shape[0]
    sums = torch.zeros(n, dtype=torch.float32, device=targets.device).index_add(0, rows, per_token)
    counts = keep.sum(dim=1)
    return sums, counts
