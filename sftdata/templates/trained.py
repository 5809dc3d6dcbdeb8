"""Ids and labels of a rendered record as LLaMA-Factory and TRL make them.

:func:`sftdata.tokens.encode_record` calls :func:`encode_as` for ``trainer="llamafactory"``
and ``trainer="trl"`` (the conventions are data in :mod:`.trainers`). Input is the
template's pieces (:data:`~sftdata.templates.base.Seg`), so the text is the same for every
trainer; what differs is which ids are labelled, how the ids are cut, and (TRL) that the
conversation is tokenized as one text:

* LLaMA-Factory encodes each turn's prompt and answer apart, labels the answer with the
  separator after it, and cuts with ``infer_seqlen`` per turn (last turns first under
  ``mask_history``); pairwise and KTO rows are one prompt and the branch's last message.
* TRL tokenizes the whole conversation; SFT labels every token or (assistant-only) the
  spans of its training template; preference and KTO rows label what follows the
  tokenized prompt plus generation prompt; every row is cut from the right.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..tokenizers.runs import RunEncoder, common_prefix
from .base import Seg, TrainOn
from .trainers import TrainerConvention, infer_seqlen

if TYPE_CHECKING:  # pragma: no cover
    from ..media.tokens import ImageCount

IGNORE = -100
Unit = tuple[list[tuple[str, bool]], bool]  # pieces (text, template-owned), trained
Expand = tuple[int, list["ImageCount"]]


@dataclass(frozen=True, slots=True)
class Shape:
    """What :func:`encode_as` needs to know of the record besides its pieces.

    ``prompt`` is the number of prompt messages of a preference/KTO record (``None``:
    SFT); ``other`` the pieces of the other branch of a preference record (LLaMA-Factory
    gives both answers one budget; TRL splits both at their shortest common prompt).
    """

    prompt: int | None = None
    other: list[Seg] | None = None


@dataclass(slots=True)
class Out:
    ids: list[int]
    labels: list[int]
    overhead: int = 0
    cut: int = 0
    cut_trainable: int = 0
    pads: int = 0


class _Expander:
    """Repeats each image pad id as often as the next image needs (see media.tokens)."""

    def __init__(self, expand: Expand | None) -> None:
        self.pad = expand[0] if expand is not None else None
        self.images: Iterator[ImageCount] | None = iter(expand[1]) if expand is not None else None
        self.pads = 0

    def __call__(self, ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
        pad = self.pad
        if pad is None or pad not in ids:
            return ids, labels
        out_ids: list[int] = []
        out_labels: list[int] = []
        for t, lab in zip(ids, labels):
            n = 1
            if t == pad:
                img = next(self.images, None)  # type: ignore[arg-type]
                n = img.tokens if img is not None else 1
                self.pads += n
            out_ids.extend([t] * n)
            out_labels.extend([lab] * n)
        return out_ids, out_labels


def _overhead(enc: RunEncoder, segs: list[Seg]) -> int:
    return sum(len(enc.owned(s[0])) for s in segs if s[3] and s[0])


def _encode_units(enc: RunEncoder, units: list[Unit], expander: _Expander) -> tuple[list[int], list[int]]:
    ids: list[int] = []
    labels: list[int] = []
    for pieces, trained in units:
        run, _ = enc.run(pieces)
        run, lab = expander(run, list(run) if trained else [IGNORE] * len(run))
        ids += run
        labels += lab
    return ids, labels


def _add(units: list[Unit], text: str, own: bool, trained: bool) -> None:
    if not text:
        return
    if units and units[-1][1] == trained:
        units[-1][0].append((text, own))
    else:
        units.append(([(text, own)], trained))


# -- LLaMA-Factory ----------------------------------------------------------------------------
def _lf_turns(segs: list[Seg]) -> list[tuple[list[Unit], list[Unit]]]:
    """(prompt units, answer units) per turn: an answer is an assistant turn's answer and
    the separator after it; its prompt is everything since the previous answer."""
    turns: list[tuple[list[Unit], list[Unit]]] = []
    source: list[Unit] = []
    target: list[Unit] = []
    answer_trained = False
    for text, _, trainable, own, slot, _ in segs:
        if not text:
            continue
        if slot == "answer" or slot == "after":
            if slot == "answer":
                answer_trained = trainable
            _add(target, text, own, trainable or (slot == "after" and answer_trained))
        else:
            if target:
                turns.append((source, target))
                source, target = [], []
            _add(source, text, own, trainable)
    if source or target:
        turns.append((source, target))
    return turns


def _lf_sft(enc: RunEncoder, segs: list[Seg], train_on: TrainOn, cutoff: int | None, expander: _Expander) -> Out:
    encoded = [(_encode_units(enc, s, expander), _encode_units(enc, t, expander)) for s, t in _lf_turns(segs)]
    full = sum(len(s[0]) + len(t[0]) for s, t in encoded)
    full_trained = sum(sum(1 for x in s[1] + t[1] if x != IGNORE) for s, t in encoded)
    if cutoff is None:
        kept = encoded
    else:
        # LLaMA-Factory's SupervisedDatasetProcessor: with mask_history the last turns
        # get the budget first; a turn that finds the budget spent is dropped whole.
        order = list(range(len(encoded)))
        if train_on == "last":
            order.reverse()
        total = 0
        keep: dict[int, tuple[tuple[list[int], list[int]], tuple[list[int], list[int]]]] = {}
        for i in order:
            if total >= cutoff:
                break
            (s_ids, s_lab), (t_ids, t_lab) = encoded[i]
            s_len, t_len = infer_seqlen(len(s_ids), len(t_ids), cutoff - total)
            keep[i] = ((s_ids[:s_len], s_lab[:s_len]), (t_ids[:t_len], t_lab[:t_len]))
            total += s_len + t_len
        kept = [keep[i] for i in sorted(keep)]
    ids: list[int] = []
    labels: list[int] = []
    for (s_ids, s_lab), (t_ids, t_lab) in kept:
        ids += s_ids + t_ids
        labels += s_lab + t_lab
    trained = sum(1 for x in labels if x != IGNORE)
    return Out(ids, labels, _overhead(enc, segs), full - len(ids), full_trained - trained, expander.pads)


def _last_message(segs: list[Seg]) -> tuple[list[Seg], list[Seg]]:
    """LLaMA-Factory's ``encode_oneturn``: the prompt is every message but the last, whose
    answer (and separator) is the response; its header stays with the prompt."""
    last = max(s[5] for s in segs)
    tail = [s for s in segs if s[5] == last and s[4] != "head"]
    if not any(s[4] for s in tail):  # not an assistant turn: the whole message
        tail = [s for s in segs if s[5] == last]
    chosen = {id(s) for s in tail}
    return [s for s in segs if id(s) not in chosen], tail


def _lf_pair(enc: RunEncoder, segs: list[Seg], shape: Shape, cutoff: int | None, expander: _Expander) -> Out:
    head, tail = _last_message(segs)
    p_units: list[Unit] = []
    for s in head:
        _add(p_units, s[0], s[3], False)
    r_units: list[Unit] = []
    for s in tail:
        _add(r_units, s[0], s[3], True)
    p_ids, p_lab = _encode_units(enc, p_units, expander)
    r_ids, r_lab = _encode_units(enc, r_units, expander)
    full, full_trained = len(p_ids) + len(r_ids), len(r_ids)
    if cutoff is not None:
        longest = len(r_ids)
        if shape.other is not None:  # both answers share one budget: the longer one sets it
            _, other_tail = _last_message(shape.other)
            o_units: list[Unit] = []
            for s in other_tail:
                _add(o_units, s[0], s[3], True)
            o_ids, _ = _encode_units(enc, o_units, _Expander(None))
            longest = max(longest, len(o_ids))  # images sit in the prompt, not in answers
        s_len, t_len = infer_seqlen(len(p_ids), longest, cutoff)
        p_ids, p_lab, r_ids, r_lab = p_ids[:s_len], p_lab[:s_len], r_ids[:t_len], r_lab[:t_len]
    ids, labels = p_ids + r_ids, p_lab + r_lab
    return Out(ids, labels, _overhead(enc, segs), full - len(ids), full_trained - len(r_ids), expander.pads)


# -- TRL --------------------------------------------------------------------------------------
def _trl_flags(segs: list[Seg], trainer: TrainerConvention, template: str, train_on: TrainOn) -> list[tuple[str, bool, bool]]:
    """Pieces with TRL's SFT labels: all, or its training template's generation spans."""
    if train_on == "everything":
        return [(s[0], True, s[3]) for s in segs if s[0]]
    newline = trainer.head_newline and template in trainer.head_templates
    out: list[tuple[str, bool, bool]] = []
    for text, _, _, own, slot, _ in segs:
        if not text:
            continue
        if slot == "head" and newline and text.endswith("\n"):
            out.append((text[:-1], False, own))
            out.append(("\n", True, own))
        else:
            out.append((text, slot in ("answer", "after"), own))
    return out


def _right_cut(ids: list[int], labels: list[int], cutoff: int | None) -> tuple[list[int], list[int], int, int]:
    if cutoff is None or len(ids) <= cutoff:
        return ids, labels, 0, 0
    dropped = labels[cutoff:]
    return ids[:cutoff], labels[:cutoff], len(dropped), sum(1 for x in dropped if x != IGNORE)


def _trl_sft(enc: RunEncoder, segs: list[Seg], trainer: TrainerConvention, template: str, train_on: TrainOn, cutoff: int | None, expander: _Expander) -> Out:
    ids, flags = enc.labelled(_trl_flags(segs, trainer, template, train_on))
    labels = [t if f else IGNORE for t, f in zip(ids, flags)]
    ids, labels = expander(ids, labels)
    ids, labels, cut, cut_trained = _right_cut(ids, labels, cutoff)
    return Out(ids, labels, _overhead(enc, segs), cut, cut_trained, expander.pads)


def _trl_split(segs: list[Seg], prompt: int) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """The prompt with TRL's generation prompt (the first answer's header), and the rest."""
    head: list[tuple[str, bool]] = []
    rest: list[tuple[str, bool]] = []
    for text, _, _, own, slot, at in segs:
        if not text:
            continue
        if at < prompt or (at == prompt and slot == "head" and not rest):
            head.append((text, own))
        else:
            rest.append((text, own))
    return head, rest


def _trl_prompt_len(enc: RunEncoder, segs: list[Seg], prompt: int) -> tuple[list[int], int]:
    """TRL's ``prompt_ids + completion`` tokens and where the completion starts: where
    the tokenized prompt and the tokenized whole stop agreeing."""
    head, rest = _trl_split(segs, prompt)
    p_ids, _ = enc.run(head) if head else ([], 0)
    if not rest:
        return p_ids, len(p_ids)
    if head and enc._split(head[-1][0], rest[0][0]):
        r_ids, _ = enc.run(rest)
        return p_ids + r_ids, len(p_ids)
    whole, _ = enc.run(head + rest)
    return whole, common_prefix(p_ids, whole)


def _trl_pair(enc: RunEncoder, segs: list[Seg], shape: Shape, cutoff: int | None, expander: _Expander) -> Out:
    assert shape.prompt is not None
    ids, start = _trl_prompt_len(enc, segs, shape.prompt)
    if shape.other is not None:  # DPO: the prompt ends where either branch leaves it
        _, other = _trl_prompt_len(enc, shape.other, shape.prompt)
        start = min(start, other)
    labels = [IGNORE] * start + ids[start:]
    ids, labels = expander(ids, labels)
    full_trained = sum(1 for x in labels if x != IGNORE)
    ids, labels, cut, cut_trained = _right_cut(ids, labels, cutoff)
    return Out(ids, labels, _overhead(enc, segs), cut, cut_trained if full_trained else 0, expander.pads)


def relabel(trainer: TrainerConvention, template: str, segs: list[Seg], shape: Shape, train_on: TrainOn) -> list[Seg]:
    """The pieces with ``trainer``'s trained flags, for showing them (``sftdata render``)."""
    def mark(s: Seg, trained: bool) -> Seg:
        return (s[0], s[1], trained, s[3], s[4], s[5])

    if shape.prompt is not None:
        if trainer.cut == "per_turn":
            _, tail = _last_message(segs)
            ids = {id(s) for s in tail}
            return [mark(s, id(s) in ids) for s in segs]
        out: list[Seg] = []
        started = False
        for s in segs:  # TRL: everything after the prompt and its generation prompt
            started = started or s[5] > shape.prompt or (s[5] == shape.prompt and s[4] != "head")
            out.append(mark(s, started))
        return out
    if trainer.cut == "per_turn":
        out, answer = [], False
        for s in segs:
            if s[4] == "answer":
                answer = s[2]
            out.append(mark(s, s[2] or (s[4] == "after" and answer)))
        return out
    flags = iter(_trl_flags(segs, trainer, template, train_on))
    out = []
    for s in segs:
        if not s[0]:
            continue
        text, trained, _ = next(flags)
        if text != s[0]:  # the header split in two: its newline is trained
            out.append((text, s[1], trained, s[3], s[4], s[5]))
            text, trained, _ = next(flags)
        out.append((text, s[1], trained, s[3], s[4], s[5]))
    return out


def encode_as(trainer: TrainerConvention, template: str, enc: RunEncoder, segs: list[Seg], shape: Shape, train_on: TrainOn, cutoff: int | None, expand: Expand | None = None) -> Out:
    """Ids, labels and cut of one rendered branch under ``trainer`` (not ``sftdata``)."""
    expander = _Expander(expand)
    if trainer.cut == "per_turn":
        if shape.prompt is None:
            return _lf_sft(enc, segs, train_on, cutoff, expander)
        return _lf_pair(enc, segs, shape, cutoff, expander)
    if shape.prompt is None:
        return _trl_sft(enc, segs, trainer, template, train_on, cutoff, expander)
    return _trl_pair(enc, segs, shape, cutoff, expander)


__all__ = ["IGNORE", "Out", "Shape", "encode_as", "relabel"]
