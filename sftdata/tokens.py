"""Token counts and training ids of a record: the one place they come from.

``sftdata stats``, the length filter and the trainer all call :func:`encode_record` /
:func:`count_record`, so their numbers cannot disagree. A record is rendered by a chat
template into spans, and each run of equally-trained spans is tokenized on its own (as
LLaMA-Factory does per turn), so labels line up with spans exactly.

>>> from sftdata.record import Message, SFTRecord
>>> from sftdata.templates import get_template
>>> from sftdata.tokenizers import get_tokenizer
>>> tok, tpl = get_tokenizer("qwen2.5"), get_template("chatml")
>>> rec = SFTRecord(messages=(Message(role="user", content="Hi"), Message(role="assistant", content="Hello!")))
>>> enc = encode_record(rec, tok, tpl)
>>> tok.decode([i for i, l in zip(enc.input_ids, enc.labels) if l != -100])
'Hello!<|im_end|>'
>>> count_record(rec, tok, tpl)
TokenCounts(kind='sft', total=13, prompt=10, trainable=3, overhead=10, turns=1, media=0, cut=0, cut_trainable=0, rejected_total=None, rejected_trainable=None, label=None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from .record import KTORecord, PreferenceRecord, PretrainRecord, Record, SFTRecord
from .templates import Rendered, Template, TrainOn
from .tokenizers import Tokenizer

IGNORE_INDEX = -100
Branch = Literal["chosen", "rejected"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """Token ids and labels of one rendered record (``labels[i] == -100``: not trained).

    ``cut`` tokens (``cut_trainable`` of them trainable) were removed by ``cutoff_len``;
    ``overhead`` counts the template's own tokens (role markers, default system prompt).
    """

    input_ids: list[int]
    labels: list[int]
    overhead: int = 0
    cut: int = 0
    cut_trainable: int = 0

    @property
    def trainable(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Per-record counts after the template (before ``cutoff_len`` unless stated).

    ``total = prompt + trainable``. ``turns`` counts assistant turns; ``media`` counts
    images, videos and audios (their placeholder tokens only: the real number depends
    on the processor). For preference records the main fields describe ``prompt +
    chosen`` and ``rejected_*`` the other branch; ``cut`` is the larger of the two.
    """

    kind: str
    total: int
    prompt: int
    trainable: int
    overhead: int
    turns: int
    media: int = 0
    cut: int = 0
    cut_trainable: int = 0
    rejected_total: int | None = None
    rejected_trainable: int | None = None
    label: bool | None = None


class _OverheadCache:
    """Token counts of template-owned strings: few distinct ones, counted once each."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str], int] = {}

    def __call__(self, tokenizer: Tokenizer, text: str) -> int:
        key = (id(tokenizer), text)
        n = self._counts.get(key)
        if n is None:
            if len(self._counts) > 100_000:
                self._counts.clear()
            n = self._counts[key] = len(tokenizer.encode(text))
        return n


_overhead = _OverheadCache()


Run = tuple[str, bool]  # text of neighbouring pieces that are all trained or all not


def _runs(record: Record, template: Template, train_on: TrainOn, branch: Branch) -> tuple[list[Run], list[str]]:
    """The record's text as trained/untrained runs, plus the template-owned pieces."""
    segments = getattr(template, "segments", None)
    if segments is not None:  # data templates: walk the pieces, no spans built
        pieces = [(text, trainable, own) for text, _, trainable, own in segments(record, train_on=train_on, branch=branch)]
    else:
        rendered = template.render(record, train_on=train_on, branch=branch)  # type: ignore[call-arg]
        pieces = [(rendered.text[s.start : s.end], s.trainable, s.template) for s in rendered.spans]
    return _group(pieces)


def _group(pieces: list[tuple[str, bool, bool]]) -> tuple[list[Run], list[str]]:
    runs: list[Run] = []
    owned: list[str] = []
    current: list[str] = []
    state: bool | None = None
    for text, trainable, own in pieces:
        if not text:
            continue
        if own:
            owned.append(text)
        if trainable is not state and current:
            runs.append(("".join(current), bool(state)))
            current = []
        state = trainable
        current.append(text)
    if current:
        runs.append(("".join(current), bool(state)))
    return runs, owned


def _overhead_of(tokenizer: Tokenizer, owned: list[str]) -> int:
    return sum(_overhead(tokenizer, text) for text in owned)


def _encode_runs(runs: list[Run], owned: list[str], tokenizer: Tokenizer, cutoff_len: int | None) -> Encoded:
    ids: list[int] = []
    labels: list[int] = []
    encode = tokenizer.encode
    for text, trainable in runs:
        run = encode(text)
        ids.extend(run)
        labels.extend(run if trainable else [IGNORE_INDEX] * len(run))
    return _cut(ids, labels, _overhead_of(tokenizer, owned), cutoff_len)


def encode_rendered(rendered: Rendered, tokenizer: Tokenizer, cutoff_len: int | None = None) -> Encoded:
    """Tokenize a rendered conversation run by run (a run = neighbouring spans that are
    all trainable or all not) and build labels; then cut to ``cutoff_len`` from the right."""
    text = rendered.text
    runs, owned = _group([(text[s.start : s.end], s.trainable, s.template) for s in rendered.spans])
    return _encode_runs(runs, owned, tokenizer, cutoff_len)


def _cut(ids: list[int], labels: list[int], overhead: int, cutoff_len: int | None) -> Encoded:
    if cutoff_len is None or len(ids) <= cutoff_len:
        return Encoded(ids, labels, overhead)
    dropped = labels[cutoff_len:]
    cut_trainable = sum(1 for x in dropped if x != IGNORE_INDEX)
    return Encoded(ids[:cutoff_len], labels[:cutoff_len], overhead, len(dropped), cut_trainable)


def encode_record(
    record: Record,
    tokenizer: Tokenizer,
    template: Template,
    train_on: TrainOn = "all",
    cutoff_len: int | None = None,
    branch: Branch = "chosen",
) -> Encoded:
    """Render ``record`` with ``template`` and tokenize it into ids and labels.

    Preference records render ``prompt + chosen`` (or ``+ rejected`` with
    ``branch="rejected"``), KTO records ``prompt + completion``; a pretrain record is
    its text plus the tokenizer's EOS, all trained.
    """
    if isinstance(record, PretrainRecord):
        ids = tokenizer.encode(record.text + tokenizer.eos_token)
        return _cut(ids, list(ids), 0, cutoff_len)
    runs, owned = _runs(record, template, train_on, branch)
    return _encode_runs(runs, owned, tokenizer, cutoff_len)


class _Lengths(NamedTuple):
    total: int
    trainable: int
    overhead: int
    cut: int
    cut_trainable: int


def _lengths(record: Record, tokenizer: Tokenizer, template: Template, train_on: TrainOn, cutoff_len: int | None, branch: Branch) -> _Lengths:
    """Counts without building id or label lists (the stats hot path)."""
    if isinstance(record, PretrainRecord):
        runs: list[Run] = [(record.text + tokenizer.eos_token, True)]
        owned: list[str] = []
    else:
        runs, owned = _runs(record, template, train_on, branch)
    encode = tokenizer.encode
    total = trainable = cut_trainable = 0
    limit = cutoff_len if cutoff_len is not None else 1 << 62
    for text, trained in runs:
        n = len(encode(text))
        if trained:
            trainable += n
            cut_trainable += max(0, total + n - max(total, limit))
        total += n
    return _Lengths(total, trainable, _overhead_of(tokenizer, owned), max(0, total - limit), cut_trainable)


def _media(record: Record) -> int:
    if isinstance(record, PretrainRecord):
        return 0
    if isinstance(record, SFTRecord):
        messages = record.messages
    elif isinstance(record, PreferenceRecord):
        messages = record.prompt + record.chosen + record.rejected
    else:
        messages = record.prompt + record.completion
    return sum(len(m.media()) for m in messages if not isinstance(m.content, str))


def _turns(record: Record) -> int:
    if isinstance(record, SFTRecord):
        return sum(1 for m in record.messages if m.role == "assistant")
    if isinstance(record, PreferenceRecord):
        return sum(1 for m in record.prompt + record.chosen if m.role == "assistant")
    if isinstance(record, KTORecord):
        return sum(1 for m in record.prompt + record.completion if m.role == "assistant")
    return 0


def counts_of(record: Record, enc: Encoded, rejected: Encoded | None = None) -> TokenCounts:
    """:class:`TokenCounts` from encodings already made (the trainer reuses its own)."""
    total = len(enc.input_ids) + enc.cut
    trainable = enc.trainable + enc.cut_trainable
    cut, cut_trainable = enc.cut, enc.cut_trainable
    rt = rtr = None
    if rejected is not None:
        rt = len(rejected.input_ids) + rejected.cut
        rtr = rejected.trainable + rejected.cut_trainable
        cut, cut_trainable = max(cut, rejected.cut), max(cut_trainable, rejected.cut_trainable)
    return TokenCounts(
        kind=record.kind,
        total=total,
        prompt=total - trainable,
        trainable=trainable,
        overhead=enc.overhead,
        turns=_turns(record),
        media=_media(record),
        cut=cut,
        cut_trainable=cut_trainable,
        rejected_total=rt,
        rejected_trainable=rtr,
        label=record.label if isinstance(record, KTORecord) else None,
    )


def count_record(
    record: Record,
    tokenizer: Tokenizer,
    template: Template,
    train_on: TrainOn = "all",
    cutoff_len: int | None = None,
) -> TokenCounts:
    """Token counts of one record after the template (see :class:`TokenCounts`).

    Equal to :func:`counts_of` over :func:`encode_record`, without building id lists.
    """
    a = _lengths(record, tokenizer, template, train_on, cutoff_len, "chosen")
    cut, cut_trainable = a.cut, a.cut_trainable
    rt = rtr = None
    if isinstance(record, PreferenceRecord):
        b = _lengths(record, tokenizer, template, train_on, cutoff_len, "rejected")
        rt, rtr = b.total, b.trainable
        cut, cut_trainable = max(cut, b.cut), max(cut_trainable, b.cut_trainable)
    return TokenCounts(
        kind=record.kind,
        total=a.total,
        prompt=a.total - a.trainable,
        trainable=a.trainable,
        overhead=a.overhead,
        turns=_turns(record),
        media=_media(record),
        cut=cut,
        cut_trainable=cut_trainable,
        rejected_total=rt,
        rejected_trainable=rtr,
        label=record.label if isinstance(record, KTORecord) else None,
    )


__all__ = ["IGNORE_INDEX", "Encoded", "TokenCounts", "count_record", "counts_of", "encode_record", "encode_rendered"]
