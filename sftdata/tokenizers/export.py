"""Export the built-in ``qwen2.5`` tokenizer as a Hugging Face ``tokenizer.json`` folder.

The BPE ranks hold no merge list, so merges are recovered: re-running BPE on a token's
bytes with only lower ranks allowed ends in exactly two parts, and those are its merge
(about 2-3 s for 151,387 merges). The result loads with ``AutoTokenizer`` or
``Qwen2TokenizerFast(tokenizer_file=...)``; note that in transformers 5.x
``vocab_file=``/``merges_file=`` are silently ignored, so pass ``tokenizer_file=``.

>>> folder = export_qwen_tokenizer("/tmp/qwen25-tok")  # doctest: +SKIP
>>> from transformers import AutoTokenizer  # doctest: +SKIP
>>> AutoTokenizer.from_pretrained(folder).encode("Hello world")  # doctest: +SKIP
[9707, 1879]
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import missing
from .tiktoken_tok import QWEN2_FIRST_SPECIAL, QWEN2_PATTERN, QWEN2_SPECIAL_TOKENS, qwen_ranks


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
    """The merge list, in rank order, that makes BPE reproduce ``ranks``.

    Raises:
        ValueError: a token cannot be built by merging lower-ranked tokens.
    """
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
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) is not reachable by merges")
        merges.append((rank, parts[0], parts[1]))
    merges.sort()
    return [(a, b) for _, a, b in merges]


def _cache_file() -> Path:
    from importlib.metadata import version

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sftdata"
    return root / f"qwen2.5-tokenizer-{version('qwen-tokenizer')}-v2.json"


@functools.lru_cache(maxsize=1)
def qwen_tokenizer_json() -> str:
    """The ``tokenizer.json`` text of the built-in qwen2.5 tokenizer.

    Recovering the merges takes seconds, so the text is kept in the user's cache folder
    (keyed by the qwen-tokenizer version) and in memory.
    """
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
        raise missing("tokenizers", "train", "Exporting the qwen2.5 tokenizer") from None
    ranks = qwen_ranks()
    table = bytes_to_unicode()

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
    # the first 14 are "special" in Qwen2.5's config; all 22 are matched in text
    tok.add_tokens([AddedToken(t, normalized=False, special=i < 14) for i, t in enumerate(QWEN2_SPECIAL_TOKENS)])
    return tok.to_str()


def export_qwen_tokenizer(folder: str | os.PathLike[str]) -> Path:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` for Qwen2.5 into ``folder``."""
    text = qwen_tokenizer_json()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(text, encoding="utf-8")
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "unk_token": None,
        "model_max_length": 131072,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "added_tokens_decoder": {str(QWEN2_FIRST_SPECIAL + i): {"content": t, "special": i < 14, "normalized": False, "lstrip": False, "rstrip": False, "single_word": False} for i, t in enumerate(QWEN2_SPECIAL_TOKENS)},
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


#: built-in tokenizer name -> writer of its Hugging Face files (used by ``sftdata train``)
EXPORTERS: dict[str, Callable[[str | os.PathLike[str]], Path]] = {"qwen2.5": export_qwen_tokenizer}
