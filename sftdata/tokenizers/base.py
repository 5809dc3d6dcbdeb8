"""The :class:`Tokenizer` protocol: what every tokenizer sftdata uses provides. The
lowest floor of ``tokenizers``; the registry (:mod:`.registry`) and the implementations
(:mod:`.tiktoken_tok`, :mod:`.hf`) build on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Tokenizer(Protocol):
    """What sftdata needs from a tokenizer.

    ``encode`` recognises the tokenizer's special and added tokens when they occur in
    the text (Hugging Face does so for added tokens), and adds no BOS/EOS of its own.
    """

    name: str
    eos_token: str
    pad_token_id: int | None
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_id(self, tok: str) -> int: ...
