"""The registry behind :func:`get_tokenizer`.

A name resolves, in order, to: a registered built-in (``qwen2.5`` and its aliases), a
tiktoken encoding whose data is on disk, a local Hugging Face tokenizer folder, and last
a hub id (which needs the network; offline it fails at once with a clear error).

>>> tok = get_tokenizer("qwen")
>>> tok.name, tok.encode("Hello world"), tok.decode([9707, 1879])
('qwen2.5', [9707, 1879], 'Hello world')
>>> tok.encode("<|im_start|>user")  # special tokens in text are recognised, as in HF
[151644, 872]
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import UsageError
from .base import Tokenizer

Factory = Callable[[], Tokenizer]
_REGISTRY: dict[str, Factory] = {}
_ALIASES: dict[str, str] = {}
_CACHE: dict[str, Tokenizer] = {}


def register_tokenizer(name: str, factory: Factory, *aliases: str) -> None:
    """Register a built-in tokenizer under ``name`` (and ``aliases``); built lazily, once."""
    _REGISTRY[name] = factory
    for alias in aliases:
        _ALIASES[alias] = name


def list_tokenizers() -> list[str]:
    """Names of the built-in tokenizers (aliases excluded)."""
    _load_builtin()
    return sorted(_REGISTRY)


_BUILTIN_LOADED = False


def _load_builtin() -> None:
    global _BUILTIN_LOADED
    if _BUILTIN_LOADED:
        return
    _BUILTIN_LOADED = True
    from .tiktoken_tok import get_qwen

    register_tokenizer("qwen2.5", get_qwen, "qwen2", "qwen", "qwen2.5-instruct", "qwen2-instruct")


def get_tokenizer(name_or_path: str | os.PathLike[str]) -> Tokenizer:
    """A tokenizer by built-in name, tiktoken encoding, local folder or hub id.

    Built tokenizers are cached per process, so calling this in a loop is cheap.

    Raises:
        UsageError: unknown name (with a "did you mean"), or a hub id while offline.
    """
    key = os.fspath(name_or_path)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    _load_builtin()
    canonical = _ALIASES.get(key.lower(), key.lower())
    if canonical in _REGISTRY:
        tok = _CACHE.get(canonical) or _REGISTRY[canonical]()
        _CACHE[canonical] = tok
    else:
        tok = _resolve_other(key)
    _CACHE[key] = tok
    return tok


def _resolve_other(key: str) -> Tokenizer:
    from . import hf, tiktoken_tok

    if key in tiktoken_tok.tiktoken_names():
        return tiktoken_tok.load_tiktoken_encoding(key)
    path = Path(key).expanduser()
    if path.is_dir():
        return hf.load_folder(path)
    if path.exists() or key.startswith((".", "/", "~")) or os.sep in key.rstrip("/") and key.count("/") > 1:
        raise UsageError(
            f"tokenizer '{key}' is not a folder with tokenizer files.",
            field="--tokenizer",
            remedy="Pass a folder holding tokenizer.json / tokenizer_config.json, or a built-in name (sftdata stats --help lists them).",
        )
    if key.count("/") == 1:
        return hf.load_hub(key)
    names = sorted({*_REGISTRY, *_ALIASES, *tiktoken_tok.tiktoken_names()})
    close = difflib.get_close_matches(key.lower(), names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UsageError(
        f"unknown tokenizer '{key}'.{hint}",
        field="--tokenizer",
        remedy=f"Use one of: {', '.join(names)}; a local Hugging Face tokenizer folder; or a hub id such as Qwen/Qwen2.5-7B-Instruct.",
    )
