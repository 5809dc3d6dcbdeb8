"""Chat templates: built-in ones as data, and ``hf`` (a local tokenizer's jinja template).

>>> from sftdata.record import Message
>>> t = get_template("qwen")
>>> print(t.render([Message(role="user", content="Hi"), Message(role="assistant", content="Hello!")]).text)
<|im_start|>system
You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>
<|im_start|>user
Hi<|im_end|>
<|im_start|>assistant
Hello!<|im_end|>
<BLANKLINE>
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path

from ..errors import UsageError
from ..tokenizers import Tokenizer
from .base import TRAIN_ON, ChatTemplate, Rendered, Span, Template, ToolStyle, TrainOn, Turn
from .builtin import ALIASES, BUILTIN

_TEMPLATES: dict[str, ChatTemplate] = {t.name: t for t in BUILTIN}


def register_template(template: ChatTemplate, *aliases: str) -> None:
    """Add a template (data) under its name and aliases."""
    _TEMPLATES[template.name] = template
    for alias in aliases:
        ALIASES[alias] = template.name


def list_templates() -> list[str]:
    """Built-in template names, plus ``hf``."""
    return sorted([*_TEMPLATES, "hf"])


def _with_eos(t: ChatTemplate, eos: str) -> ChatTemplate:
    def fill(turn: Turn) -> Turn:
        return Turn(*(s.replace("{eos}", eos) for s in (turn.prefix, turn.suffix, turn.after)))

    return dataclasses.replace(t, roles={r: fill(turn) for r, turn in t.roles.items()}, stop=t.stop.replace("{eos}", eos))


def get_template(name: str, tokenizer: Tokenizer | None = None, model_dir: str | os.PathLike[str] | None = None) -> Template:
    """A template by name.

    Args:
        name: a built-in name (``sftdata stats --help`` lists them) or ``hf``.
        tokenizer: fills the EOS of templates that use the tokenizer's (alpaca, vicuna,
            plain; ``</s>`` without one); for ``hf``, a local tokenizer folder's template.
        model_dir: for ``hf``, the folder whose ``chat_template`` to use.
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key == "hf":
        from .jinja import HFTemplate

        return HFTemplate.load(tokenizer=tokenizer, model_dir=Path(model_dir) if model_dir else None)
    template = _TEMPLATES.get(key)
    if template is None:
        close = difflib.get_close_matches(key, list_templates(), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"unknown template '{name}'.{hint}", field="--template", remedy=f"Use one of: {', '.join(list_templates())}.")
    eos = tokenizer.eos_token if tokenizer is not None and tokenizer.eos_token else "</s>"
    return _with_eos(template, eos)


__all__ = [
    "TRAIN_ON",
    "ChatTemplate",
    "Rendered",
    "Span",
    "Template",
    "ToolStyle",
    "TrainOn",
    "Turn",
    "get_template",
    "list_templates",
    "register_template",
]
