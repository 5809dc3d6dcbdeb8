"""Trainer conventions: what each trainer trains of a rendered record, and how it cuts
rows to a length. Data, one entry per trainer (see docs/tokens.md, "Match each trainer").

The same template renders the same text for every trainer; they differ in which tokens
get a label, where a row is cut and which rows they drop:

============  ===========================================  ===========================================
trainer       trained (``train_on="all"``)                  cut to ``cutoff_len``
============  ===========================================  ===========================================
sftdata       each answer and its end-of-turn token          from the right
llamafactory  each answer, its end-of-turn token and the     per turn: ``infer_seqlen`` splits the budget
              separator after it (``<|im_end|>\\n``)          between the turn's prompt and answer
trl           every token (``assistant_only_loss=False``);   from the right (``max_length``); rows left
              with ``train_on="all"`` its training template  with nothing to train are dropped
              (``\\n`` after the header, answer, ``\\n``)
============  ===========================================  ===========================================

Preference and KTO rows: no trainer trains the prompt, even when it holds earlier
assistant turns; LLaMA-Factory trains the last message of the branch, TRL every token of
the completion.

>>> get_trainer("trl").default_cutoff, get_trainer("llamafactory").train_on_meaning["last"]
(1024, 'mask_history: true')
>>> infer_seqlen(900, 300, 1024)  # LLaMA-Factory keeps the answer, cuts the prompt
(724, 300)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from ..errors import UsageError
from .base import TrainOn

TrainerName = Literal["sftdata", "llamafactory", "trl"]
Cut = Literal["right", "per_turn"]


@dataclass(frozen=True, slots=True)
class TrainerConvention:
    """How one trainer turns a rendered record into ids and labels.

    Args:
        name: ``sftdata``, ``llamafactory`` or ``trl``.
        summary: one line for help texts.
        checked: the trainer version the convention was checked against (parity tests).
        train_on: the trainer's default (``trl``: ``everything``, its ``assistant_only_loss=False``).
        train_on_meaning: what each supported ``train_on`` is in the trainer's own options.
        trains_after: the separator after an answer's end-of-turn token is trained.
        head_newline: with assistant-only masking, the newline that ends the assistant
            header is trained too (TRL's Qwen2.5 training template), for ``head_templates``.
        cut: ``right`` (keep the start) or ``per_turn`` (LLaMA-Factory's ``infer_seqlen``).
        whole_text: the rendered conversation is tokenized as one text (``apply_chat_template``),
            not turn by turn.
        drops_untrained: rows left with no trained token after the cut are dropped.
        default_cutoff: the trainer's own default length (``cutoff_len`` / ``max_length``).
    """

    name: TrainerName
    summary: str
    checked: str
    train_on: TrainOn
    train_on_meaning: dict[str, str]
    trains_after: bool = False
    head_newline: bool = False
    head_templates: tuple[str, ...] = ()
    cut: Cut = "right"
    whole_text: bool = False
    drops_untrained: bool = False
    default_cutoff: int | None = None
    options: dict[str, str] = field(default_factory=dict)


SFTDATA = TrainerConvention(
    "sftdata",
    "sftdata's own (and `sftdata train`'s): answers and their end-of-turn token, rows cut from the right",
    "this version",
    train_on="all",
    train_on_meaning={"all": "every assistant turn", "last": "the last assistant turn", "everything": "every token"},
)
LLAMAFACTORY = TrainerConvention(
    "llamafactory",
    "LLaMA-Factory: answers with `<|im_end|>\\n`, cutoff_len split between each turn's prompt and answer",
    "llamafactory 0.9.5",
    train_on="all",
    train_on_meaning={"all": "the default", "last": "mask_history: true", "everything": "train_on_prompt: true"},
    trains_after=True,
    cut="per_turn",
    default_cutoff=2048,
)
TRL = TrainerConvention(
    "trl",
    "TRL SFTTrainer/DPOTrainer/KTOTrainer: every token by default (assistant_only_loss=False), max_length 1024 from the right",
    "trl 1.16.0",
    train_on="everything",
    train_on_meaning={"everything": "assistant_only_loss: false (the default)", "all": "assistant_only_loss: true"},
    trains_after=True,
    head_newline=True,
    head_templates=("qwen", "qwen2_vl", "chatml"),
    whole_text=True,
    drops_untrained=True,
    default_cutoff=1024,
)
_TRAINERS: dict[str, TrainerConvention] = {t.name: t for t in (SFTDATA, LLAMAFACTORY, TRL)}
_ALIASES = {"lf": "llamafactory", "llama-factory": "llamafactory", "llama_factory": "llamafactory", "default": "sftdata"}
TRAINERS: tuple[str, ...] = tuple(_TRAINERS)


def get_trainer(name: str | TrainerConvention | None) -> TrainerConvention:
    """A convention by name (``None``: ``sftdata``); an unknown name is a usage error."""
    if isinstance(name, TrainerConvention):
        return name
    key = (name or "sftdata").lower()
    key = _ALIASES.get(key, key)
    found = _TRAINERS.get(key)
    if found is None:
        close = difflib.get_close_matches(key, list(_TRAINERS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"unknown trainer '{name}'.{hint}", field="--trainer", remedy=f"Use one of: {', '.join(_TRAINERS)}.")
    return found


def resolve_train_on(trainer: TrainerConvention, train_on: TrainOn | None) -> TrainOn:
    """``train_on`` for ``trainer``: its default when None; a usage error when it has no such option."""
    if train_on is None:
        return trainer.train_on
    if train_on not in trainer.train_on_meaning:
        choices = ", ".join(f"{k} ({v})" for k, v in trainer.train_on_meaning.items())
        raise UsageError(f"trainer '{trainer.name}' cannot train on '{train_on}'.", field="--train-on", remedy=f"Use one of: {choices}.")
    return train_on


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LLaMA-Factory's budget split of one turn: how many prompt and answer tokens it keeps.

    A short answer (under half the budget) is kept whole and the prompt cut; a short
    prompt is kept and the answer cut; otherwise both shrink in proportion.
    """
    if target_len * 2 < cutoff_len:
        max_target = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target = cutoff_len - source_len
    else:
        max_target = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target = min(max_target, target_len)
    new_source = min(max(cutoff_len - new_target, 0), source_len)
    return new_source, new_target


__all__ = ["LLAMAFACTORY", "SFTDATA", "TRAINERS", "TRL", "TrainerConvention", "TrainerName", "get_trainer", "infer_seqlen", "resolve_train_on"]
