"""Parity: the built-in qwen2.5 tokenizer equals a transformers ``Qwen2TokenizerFast``
built from the same BPE ranks, token for token, on every real data file (Chinese,
English, code, tool JSON, emoji) and on ChatML renders with special tokens.

The twin is built from the ranks alone by :func:`export_qwen_tokenizer` (merges recovered
by re-running BPE on each token's bytes with only lower ranks allowed), then run by
Hugging Face's Rust BPE: two independent implementations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sftdata.api import read
from sftdata.templates import get_template
from sftdata.tokenizers import get_tokenizer
from sftdata.tokenizers.export import export_qwen_tokenizer
from sftdata.tokenizers.tiktoken_tok import QWEN2_FIRST_SPECIAL

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


@pytest.fixture(scope="session")
def twin_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_qwen_tokenizer(tmp_path_factory.mktemp("qwen_twin"))


@pytest.fixture(scope="session")
def hf_twin(twin_folder: Path) -> Any:
    from transformers import Qwen2TokenizerFast

    folder = twin_folder
    # tokenizer_file= works; vocab_file=/merges_file= are silently ignored in transformers 5.x
    fast = Qwen2TokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None, bos_token=None)
    assert fast.convert_tokens_to_ids("<|im_start|>") == QWEN2_FIRST_SPECIAL + 1
    assert len(fast) == 151665
    return fast


def test_export_loads_with_auto_tokenizer(hf_twin: Any, twin_folder: Path) -> None:
    from sftdata.tokenizers import get_tokenizer as get

    hf = get(str(twin_folder))  # a local folder goes through transformers
    assert (hf.eos_token, hf.pad_token_id, hf.vocab_size) == ("<|im_end|>", 151643, 151665)
    text = "<|im_start|>user\n你好 🎉<|im_end|>"
    assert hf.encode(text) == get("qwen2.5").encode(text) == hf_twin.encode(text, add_special_tokens=False)


def leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)


def rows(path: Path) -> list[Any]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return json.loads(path.read_text(encoding="utf-8"))


EXTRA = [
    "emoji 🎉👩‍👩‍👧‍👦🇫🇷 ✔︎ and ZWJ", "Cafe\u0301 vs Café", "  leading spaces\n\n\n  trailing  ", "def f(x):\n\treturn {'a': [1, 2]}\r\n",
    "数字123和English混合，全角！？", "<|im_start|>user\n嵌入的<|im_end|>特殊<tool_call>标记</tool_call>", "'s 'S 'LL 're", "\u00a0nbsp\u2028line sep", "<|im_end|>\u0338 and a\u0338=\u0338",
]  # fmt: skip


def test_twin_matches_builtin_on_every_real_file(realdata: Path, hf_twin: Any) -> None:
    tok = get_tokenizer("qwen2.5")
    files = sorted(p for p in realdata.iterdir() if p.suffix in (".json", ".jsonl") and p.name != "dataset_info.json")
    assert {p.name for p in files} >= {"alpaca_zh_demo.json", "glaive_toolcall_en_demo.json", "dpo_en_demo.json", "kto_en_demo.json", "mllm_demo.json", "identity.json", "c4_demo.jsonl"}
    texts: list[str] = list(EXTRA)
    for path in files:
        for row in rows(path):
            strings = list(leaves(row))
            texts.extend(strings)
            # the same strings inside ChatML, special tokens and all
            texts.append("".join(f"<|im_start|>{'user' if i % 2 == 0 else 'assistant'}\n{s}<|im_end|>\n" for i, s in enumerate(strings)))
    qwen = get_template("qwen")
    for name in ("glaive_toolcall_en_demo.json", "dpo_en_demo.json"):
        for record in read(realdata / name):
            texts.append(qwen.render(record).text)
    theirs = hf_twin(texts, add_special_tokens=False)["input_ids"]
    mismatches = [t for t, ids in zip(texts, theirs) if tok.encode(t) != ids]
    assert len(texts) > 5000
    assert mismatches == []


def test_twin_matches_on_extra_texts(hf_twin: Any) -> None:
    tok = get_tokenizer("qwen2.5")
    for text in EXTRA:
        assert tok.encode(text) == hf_twin.encode(text, add_special_tokens=False), text
        assert tok.decode(tok.encode(text)) == hf_twin.decode(hf_twin.encode(text, add_special_tokens=False))


def test_hf_folder_with_jinja_template_counts_like_builtin(realdata: Path, twin_folder: Path, tmp_path: Path) -> None:
    """A local HF tokenizer folder + its own jinja chat template (``--template hf``) gives
    the same counts as the built-in qwen2.5 + qwen pair on real tool conversations."""
    import shutil

    from sftdata.stats.compute import StatsConfig, token_stats

    folder = tmp_path / "qwen25"
    shutil.copytree(twin_folder, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = (Path(__file__).parent.parent / "templates" / "qwen25_chat_template.jinja").read_text()
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    sample = tmp_path / "glaive.jsonl"
    rows_ = rows(realdata / "glaive_toolcall_en_demo.json")[:40]
    sample.write_text("".join(json.dumps(r) + "\n" for r in rows_))
    ours = token_stats(sample, StatsConfig(tokenizer="qwen2.5", template="qwen", cutoff_len=512), workers=1).to_dict()
    theirs = token_stats(sample, StatsConfig(tokenizer=str(folder), template="hf", cutoff_len=512), workers=1).to_dict()
    for key in ("seconds", "tokens_per_second", "tokenizer", "template"):
        ours.pop(key), theirs.pop(key)
    # overhead is the template's own text: the jinja template cannot say which text is its own
    # as finely, so only the counts that matter for training are compared
    for d in (ours, theirs):
        d["fields"].pop("overhead")
    assert theirs == ours
