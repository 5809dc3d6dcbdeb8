"""Hugging Face tokenizers (optional ``transformers``): a local folder or a hub id.

The hub needs the network. With ``HF_HUB_OFFLINE=1``, or when huggingface.co does not
answer within a few seconds, loading fails at once with a clear error instead of hanging.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError, missing


class HFTokenizer:
    """A :class:`~sftdata.tokenizers.Tokenizer` over a ``transformers`` tokenizer.

    ``encode`` adds no BOS/EOS (``add_special_tokens=False``); the chat template adds
    what the model expects.
    """

    def __init__(self, tok: Any, name: str, path: Path | None = None) -> None:
        self.hf = tok
        self.name = name
        self.path = path
        self.eos_token = str(tok.eos_token or "")
        self.pad_token_id = tok.pad_token_id
        self.vocab_size = len(tok)
        self.chat_template: str | None = getattr(tok, "chat_template", None) if isinstance(getattr(tok, "chat_template", None), str) else None

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.hf.decode(list(ids))

    def token_id(self, tok: str) -> int:
        ids = self.hf.convert_tokens_to_ids([tok])
        if not ids or ids[0] is None or ids[0] == self.hf.unk_token_id:
            raise UsageError(f"'{tok}' is not a single token of tokenizer '{self.name}'.")
        return int(ids[0])

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name!r}, vocab_size={self.vocab_size})"


def _auto() -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise missing("transformers", "train", "Loading a Hugging Face tokenizer") from None
    return AutoTokenizer


def load_folder(path: Path) -> HFTokenizer:
    """A tokenizer from a local folder (tokenizer.json / tokenizer_config.json)."""
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")):
        raise UsageError(
            f"'{path}' holds no tokenizer files.",
            field="--tokenizer",
            remedy="Point --tokenizer at the model folder that holds tokenizer.json and tokenizer_config.json.",
        )
    tok = _auto().from_pretrained(str(path), local_files_only=True)
    return HFTokenizer(tok, path.name, path)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co accepts a TCP connection within ``timeout`` (DNS included)."""
    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _offline_error(repo_id: str, why: str) -> UsageError:
    return UsageError(
        f"tokenizer '{repo_id}' is a Hugging Face hub id, but {why}.",
        field="--tokenizer",
        remedy="Download it once while online (huggingface-cli download " + repo_id + " --include 'tokenizer*'), then pass the local folder; or use the built-in qwen2.5.",
    )


def _in_local_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache has a folder for ``repo_id`` (checked without
    importing transformers, so that an offline miss fails in milliseconds)."""
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    return os.path.isdir(os.path.join(hub, "models--" + repo_id.replace("/", "--")))


def load_hub(repo_id: str) -> HFTokenizer:
    """A tokenizer by hub id: from the local HF cache, else downloaded when online."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if not _in_local_cache(repo_id):
        if offline:
            raise _offline_error(repo_id, "HF_HUB_OFFLINE is set and it is not in the local cache")
        if not _hub_reachable():
            raise _offline_error(repo_id, "the hub is not reachable (offline?) and it is not in the local cache")
    auto = _auto()
    try:
        return HFTokenizer(auto.from_pretrained(repo_id, local_files_only=True), repo_id)
    except (OSError, ValueError):
        pass
    if offline:
        raise _offline_error(repo_id, "HF_HUB_OFFLINE is set and it is not in the local cache")
    if not _hub_reachable():
        raise _offline_error(repo_id, "the hub is not reachable (offline?) and it is not in the local cache")
    try:
        return HFTokenizer(auto.from_pretrained(repo_id), repo_id)
    except OSError as exc:
        raise UsageError(f"cannot load tokenizer '{repo_id}' from the hub: {exc}", field="--tokenizer") from None
