"""Parity: the built-in qwen2.5 tokenizer equals a transformers ``Qwen2TokenizerFast``
built from the same BPE ranks, token for token, on every real data file (Chinese,
English, code, tool JSON, emoji) and on ChatML renders with special tokens.

The twin is built here from the ranks alone: merges are recovered by re-running BPE on
each token's bytes with only lower ranks allowed (the last merge names the pair).
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
from sftdata.tokenizers.tiktoken_tok import QWEN2_FIRST_SPECIAL, QWEN2_PATTERN, QWEN2_SPECIAL_TOKENS, qwen_ranks

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (ByteLevel's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars)))


def recover_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    merges: list[tuple[int, bytes, bytes]] = []
    for token, rank in ranks.items():
        if len(token) < 2:
            continue
        parts = [token[i : i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best, at = None, -1
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < rank and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            parts[at : at + 2] = [parts[at] + parts[at + 1]]
        assert len(parts) == 2, f"token {token!r} is not reachable by merges"
        merges.append((rank, parts[0], parts[1]))
    merges.sort()
    return [(a, b) for _, a, b in merges]


@pytest.fixture(scope="session")
def hf_twin(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import Qwen2TokenizerFast

    ranks = qwen_ranks()
    table = bytes_to_unicode()
    spell = lambda b: "".join(table[x] for x in b)  # noqa: E731
    vocab = {spell(tok): rank for tok, rank in ranks.items()}
    merges = [(spell(a), spell(b)) for a, b in recover_merges(ranks)]
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in QWEN2_SPECIAL_TOKENS])
    path = tmp_path_factory.mktemp("qwen_twin") / "tokenizer.json"
    tok.save(str(path))
    fast = Qwen2TokenizerFast(tokenizer_file=str(path), eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None, bos_token=None)
    assert fast.convert_tokens_to_ids("<|im_start|>") == QWEN2_FIRST_SPECIAL + 1
    assert len(fast) == 151665
    return fast


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
    "数字123和English混合，全角！？", "<|im_start|>user\n嵌入的<|im_end|>特殊<tool_call>标记</tool_call>", "'s 'S 'LL 're", "\u00a0nbsp\u2028line sep",
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
