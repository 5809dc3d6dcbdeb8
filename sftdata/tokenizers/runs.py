"""Encoding text that arrives in pieces: runs of template and data text, reusing the ids
of template-owned text, and splitting the ids of a whole text where its pieces meet.

:func:`sftdata.tokens.encode_record` calls :meth:`RunEncoder.run` once per run of
equally-trained pieces (as LLaMA-Factory tokenizes each turn on its own);
:meth:`RunEncoder.labelled` tokenizes a whole text at once, as Hugging Face's
``apply_chat_template`` does for TRL, and says which ids belong to trained pieces.

>>> from sftdata.tokenizers import get_tokenizer
>>> enc = encoder_for(get_tokenizer("qwen2.5"))
>>> enc.labelled([("<|im_start|>assistant", False, True), ("\\n\\nHi", True, False)])
([151644, 77091, 271, 13048], [False, False, True, True])
"""

from __future__ import annotations

import unicodedata
import weakref
from typing import Any

from .base import Tokenizer

Piece = tuple[str, bool]  # text, template-owned
Flagged = tuple[str, bool, bool]  # text, trained, template-owned


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading ids ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class RunEncoder:
    """Encodes runs for one tokenizer, reusing the ids of template-owned text.

    A run is tokenized as one text. When the tokenizer can tell where its
    pre-tokenizer always splits (``boundary_specials``), the run is cut there first and a
    part made only of template text (role markers, default system prompt, tool
    preambles: the same few strings in every record) is looked up instead of encoded;
    the ids are the same as the whole run's (tests/test_tokens.py checks it).
    """

    MAX_CACHED = 50_000

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.encode = tokenizer.encode
        # special tokens of a tokenizer whose safe_boundary rule holds (see TiktokenTokenizer)
        self.specials: tuple[str, ...] | None = getattr(tokenizer, "boundary_specials", None)
        self.cache: dict[str, list[int]] = {}

    def owned(self, text: str) -> list[int]:
        ids = self.cache.get(text)
        if ids is None:
            if len(self.cache) >= self.MAX_CACHED:
                self.cache.clear()
            ids = self.cache[text] = self.encode(text)
        return ids

    def _split(self, prev: str, text: str) -> bool:
        """Whether the pre-tokenizer always splits between ``prev`` and ``text``."""
        specials = self.specials
        if specials is None:
            return False
        c = text[0]
        return not (c.isspace() or unicodedata.combining(c)) and (prev[-1] == "\n" or prev.endswith(specials) or text.startswith(specials))

    def run(self, pieces: list[Piece]) -> tuple[list[int], int]:
        """Ids of a run, and how many tokens its template-owned pieces have on their own."""
        owned, cache = self.owned, self.cache
        overhead = 0
        for text, mine in pieces:
            if mine:
                ids = cache.get(text)
                overhead += len(ids if ids is not None else owned(text))
        if len(pieces) == 1:
            text, mine = pieces[0]
            return (cache[text] if mine else self.encode(text)), overhead
        specials = self.specials
        if specials is None:
            return self.encode("".join([t for t, _ in pieces])), overhead
        # _split, inlined: this loop runs for every piece of every record
        combining = unicodedata.combining
        encode = self.encode
        out: list[int] = []
        group: list[str] = []
        own = True
        prev = ""
        for text, mine in pieces:
            if group:
                c = text[0]
                if not (c.isspace() or combining(c)) and (prev[-1] == "\n" or prev.endswith(specials) or text.startswith(specials)):
                    out += owned(group[0] if len(group) == 1 else "".join(group)) if own else encode("".join(group))
                    group, own = [], True
            group.append(text)
            own = own and mine
            prev = text
        if group:
            out += owned(group[0] if len(group) == 1 else "".join(group)) if own else encode("".join(group))
        return out, overhead

    def labelled(self, pieces: list[Flagged]) -> tuple[list[int], list[bool]]:
        """Ids of the whole text ``"".join(pieces)`` and, per id, whether it is trained.

        Where a trained and an untrained piece meet inside one pre-token (``"\\n"`` +
        ``"\\nHi"`` is one ``"\\n\\n"`` token), the id that straddles the boundary counts as
        trained, as Hugging Face's assistant mask and TRL's prompt/completion split do.
        """
        ids: list[int] = []
        flags: list[bool] = []
        group: list[Flagged] = []
        for piece in pieces:
            if not piece[0]:
                continue
            if group and self._split(group[-1][0], piece[0]):
                self._group(group, ids, flags)
                group = []
            group.append(piece)
        if group:
            self._group(group, ids, flags)
        return ids, flags

    def _group(self, group: list[Flagged], ids: list[int], flags: list[bool]) -> None:
        if all(p[1] == group[0][1] for p in group):
            run, _ = self.run([(t, own) for t, _, own in group])
            ids += run
            flags += [group[0][1]] * len(run)
            return
        text = "".join(p[0] for p in group)
        whole = self.encode(text)
        marks = [False] * len(whole)
        at = 0
        start = 0  # first id of the current piece
        for k, (piece, trained, _) in enumerate(group):
            at += len(piece)
            if k + 1 < len(group):
                left = self.encode(text[:at])
                end = common_prefix(left, whole)
                # a straddling id belongs to the trained side of the boundary
                if end < len(left) and trained:
                    end += 1
            else:
                end = len(whole)
            if trained:
                for i in range(start, end):
                    marks[i] = True
            start = max(start, end)
        ids += whole
        flags += marks


_ENCODERS: "weakref.WeakKeyDictionary[Any, RunEncoder]" = weakref.WeakKeyDictionary()


def encoder_for(tokenizer: Tokenizer) -> RunEncoder:
    """The :class:`RunEncoder` of ``tokenizer`` (one per tokenizer, with its cache)."""
    try:
        enc = _ENCODERS.get(tokenizer)
        if enc is None:
            enc = _ENCODERS[tokenizer] = RunEncoder(tokenizer)
        return enc
    except TypeError:  # not weak-referenceable: no reuse across records
        return RunEncoder(tokenizer)


__all__ = ["RunEncoder", "common_prefix", "encoder_for"]
