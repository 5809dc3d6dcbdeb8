"""Tokenizers by name: the built-in offline ``qwen2.5``, tiktoken encodings, local
Hugging Face folders and hub ids. See :func:`get_tokenizer`.
"""

from __future__ import annotations

from .base import Tokenizer
from .registry import get_tokenizer, list_tokenizers, register_tokenizer

__all__ = ["Tokenizer", "get_tokenizer", "list_tokenizers", "register_tokenizer"]
