"""Shared fixtures for the trainer tests: a tiny random Qwen2 with the full vocabulary and
small synthetic SFT datasets. Everything is tiny so the whole folder runs in a few minutes
on two CPU cores."""

from __future__ import annotations

from pathlib import Path

import pytest
from _trainkit import make_records, write_jsonl

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Qwen2 (hidden 64, 4 heads) with Qwen2.5's 151,936-token vocabulary."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
    )
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture
def sft_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "sft.jsonl", make_records(32))


