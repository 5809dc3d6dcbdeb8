"""The tokenizer registry: built-in qwen2.5, special tokens, offline errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sftdata.errors import UsageError
from sftdata.tokenizers import Tokenizer, get_tokenizer, list_tokenizers
from sftdata.tokenizers.tiktoken_tok import QWEN2_SPECIAL_TOKENS


def test_qwen_aliases_are_one_cached_tokenizer() -> None:
    tok = get_tokenizer("qwen2.5")
    assert get_tokenizer("qwen") is tok and get_tokenizer("Qwen2") is tok
    assert isinstance(tok, Tokenizer)
    assert (tok.name, tok.eos_token, tok.pad_token_id, tok.vocab_size) == ("qwen2.5", "<|im_end|>", 151643, 151665)
    assert "qwen2.5" in list_tokenizers()


def test_special_tokens_are_recognised_in_text() -> None:
    tok = get_tokenizer("qwen2.5")
    assert [tok.token_id(t) for t in QWEN2_SPECIAL_TOKENS] == list(range(151643, 151665))
    text = "".join(QWEN2_SPECIAL_TOKENS)
    assert tok.encode(text) == list(range(151643, 151665))
    assert tok.encode("<|im_start|>user\nHi<|im_end|>") == [151644, 872, 198, 13048, 151645]
    assert tok.decode(tok.encode(text)) == text


def test_nfc_normalisation() -> None:
    tok = get_tokenizer("qwen2.5")
    decomposed = "Cafe\u0301"  # e + combining acute: NFC makes it é
    assert tok.encode(decomposed) == tok.encode("Café")


def test_round_trip_mixed_text() -> None:
    tok = get_tokenizer("qwen2.5")
    text = "def f(x):\n    return x**2  # 平方 🎉\n"
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode("Hello world") == [9707, 1879]


def test_token_id_of_non_token_is_usage_error() -> None:
    with pytest.raises(UsageError, match="not a single token"):
        get_tokenizer("qwen2.5").token_id("Hello world")


def test_unknown_name_suggests() -> None:
    with pytest.raises(UsageError, match="Did you mean 'qwen2.5'"):
        get_tokenizer("qwen2.6")


def test_tiktoken_encoding_without_cached_data_fails_without_network(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    with pytest.raises(UsageError, match="not available offline"):
        get_tokenizer("o200k_base")


def test_missing_folder_is_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="not a folder"):
        get_tokenizer(str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="no tokenizer files"):
        get_tokenizer(str(tmp_path))


def test_hub_id_offline_fails_fast() -> None:
    code = "from sftdata.tokenizers import get_tokenizer\ntry:\n    get_tokenizer('Qwen/Qwen2.5-0.5B-Instruct')\nexcept Exception as e:\n    print(type(e).__name__, e)"
    # the timeout only guards against a hang (a network wait); it is not a speed test
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent", "PYTHONPATH": ".", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.stdout.startswith("UsageError"), proc.stderr
    assert "hub id" in proc.stdout and "HF_HUB_OFFLINE" in proc.stdout
