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
TokenCounts(kind='sft', total=13, prompt=10, trainable=3, overhead=10, turns=1, media=0, cut=0, cut_trainable=0, rejected_total=None, rejected_trainable=None, label=None, images=0, image_tokens=0, media_unknown=0)
"""

from __future__ import annotations

import unicodedata
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .record import KTORecord, PreferenceRecord, PretrainRecord, Record, SFTRecord, conversation
from .templates import Rendered, Template, TrainOn
from .tokenizers import Tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from .media.tokens import ImageCount, MediaTokens

IGNORE_INDEX = -100
Branch = Literal["chosen", "rejected"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """Token ids and labels of one rendered record (``labels[i] == -100``: not trained).

    ``cut`` tokens (``cut_trainable`` of them trainable) were removed by ``cutoff_len``;
    ``overhead`` counts the template's own tokens (role markers, default system prompt).
    With ``media=``, ``image_tokens`` is how many ids stand for images (before the cut)
    and ``media_unknown`` how many images counted as placeholders (size unreadable).
    """

    input_ids: list[int]
    labels: list[int]
    overhead: int = 0
    cut: int = 0
    cut_trainable: int = 0
    image_tokens: int = 0
    media_unknown: int = 0

    @property
    def trainable(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Per-record counts after the template (before ``cutoff_len`` unless stated).

    ``total = prompt + trainable``. ``turns`` counts assistant turns; ``media`` counts
    images, videos and audios. Without ``media=`` every one counts as its template
    placeholder; with it (:func:`sftdata.media.tokens.media_tokens`) each image's pad
    token is expanded to the real number, ``image_tokens`` says how many tokens stand
    for the ``images`` and ``media_unknown`` how many images kept their placeholder
    because their size could not be read. Videos and audios stay placeholders. For
    preference records the main fields describe ``prompt + chosen`` and ``rejected_*``
    the other branch; ``cut`` is the larger of the two.
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
    images: int = 0
    image_tokens: int = 0
    media_unknown: int = 0


Piece = tuple[str, bool]  # text, template-owned
Run = tuple[list[Piece], bool]  # neighbouring pieces that are all trained or all not


class _Encoder:
    """Encodes runs for one tokenizer, reusing the ids of template-owned text.

    A run is tokenized as one text. When the tokenizer can tell where its
    pre-tokenizer always splits (``safe_boundary``), the run is cut there first and a
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
        # tokenizer.safe_boundary, inlined: this loop runs for every piece of every record
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


_ENCODERS: "weakref.WeakKeyDictionary[Any, _Encoder]" = weakref.WeakKeyDictionary()


def _encoder(tokenizer: Tokenizer) -> _Encoder:
    try:
        enc = _ENCODERS.get(tokenizer)
        if enc is None:
            enc = _ENCODERS[tokenizer] = _Encoder(tokenizer)
        return enc
    except TypeError:  # not weak-referenceable: no reuse across records
        return _Encoder(tokenizer)


def _runs(record: Record, template: Template, train_on: TrainOn, branch: Branch) -> list[Run]:
    """The record's text as trained/untrained runs of pieces."""
    segments = getattr(template, "segments", None)
    runs: list[Run] = []
    current: list[Piece] = []
    state: bool | None = None
    if segments is not None:  # data templates: walk the pieces, no spans built
        pieces: Iterable[tuple[str, Any, bool, bool]] = segments(record, train_on=train_on, branch=branch)
    else:
        rendered = template.render(record, train_on=train_on, branch=branch)  # type: ignore[call-arg]
        pieces = [(rendered.text[s.start : s.end], s.role, s.trainable, s.template) for s in rendered.spans]
    for text, _, trainable, own in pieces:
        if not text:
            continue
        if trainable is not state and current:
            runs.append((current, bool(state)))
            current = []
        state = trainable
        current.append((text, own))
    if current:
        runs.append((current, bool(state)))
    return runs


Expand = tuple[int, list["ImageCount"]]  # the pad id, and the images in render order


def _encode_runs(runs: list[Run], tokenizer: Tokenizer, cutoff_len: int | None, expand: Expand | None = None) -> Encoded:
    enc = _encoder(tokenizer)
    ids: list[int] = []
    labels: list[int] = []
    overhead = 0
    pads = 0
    images: Iterator[ImageCount] | None = None
    if expand is not None:
        from .media.tokens import expand_ids

        images = iter(expand[1])
    for pieces, trainable in runs:
        run, own = enc.run(pieces)
        if images is not None:
            run, n = expand_ids(run, expand[0], images)  # type: ignore[index]
            pads += n
        ids.extend(run)
        labels.extend(run if trainable else [IGNORE_INDEX] * len(run))
        overhead += own
    out = _cut(ids, labels, overhead, cutoff_len)
    if expand is None:
        return out
    unknown = sum(1 for img in expand[1] if img.problem is not None)
    return Encoded(out.input_ids, out.labels, out.overhead, out.cut, out.cut_trainable, pads, unknown)


def encode_rendered(rendered: Rendered, tokenizer: Tokenizer, cutoff_len: int | None = None) -> Encoded:
    """Tokenize a rendered conversation run by run (a run = neighbouring spans that are
    all trainable or all not) and build labels; then cut to ``cutoff_len`` from the right."""
    text = rendered.text
    runs: list[Run] = []
    for s in rendered.spans:
        if runs and runs[-1][1] == s.trainable:
            runs[-1][0].append((text[s.start : s.end], s.template))
        else:
            runs.append(([(text[s.start : s.end], s.template)], s.trainable))
    return _encode_runs(runs, tokenizer, cutoff_len)


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
    media: MediaTokens | None = None,
) -> Encoded:
    """Render ``record`` with ``template`` and tokenize it into ids and labels.

    Preference records render ``prompt + chosen`` (or ``+ rejected`` with
    ``branch="rejected"``), KTO records ``prompt + completion``; a pretrain record is
    its text plus the tokenizer's EOS, all trained. With ``media`` (see
    :func:`sftdata.media.tokens.media_tokens`) each image's pad token is repeated as
    often as the model's run repeats it.
    """
    if isinstance(record, PretrainRecord):
        ids = tokenizer.encode(record.text + tokenizer.eos_token)
        return _cut(ids, list(ids), 0, cutoff_len)
    expand = (media.pad_id, media.images(record, branch)) if media is not None and _media(record) else None
    return _encode_runs(_runs(record, template, train_on, branch), tokenizer, cutoff_len, expand)


class _Lengths(NamedTuple):
    total: int
    trainable: int
    overhead: int
    cut: int
    cut_trainable: int
    image_tokens: int = 0


def _lengths(record: Record, tokenizer: Tokenizer, template: Template, train_on: TrainOn, cutoff_len: int | None, branch: Branch, expand: Expand | None = None) -> _Lengths:
    """Counts without building id or label lists (the stats hot path)."""
    if isinstance(record, PretrainRecord):
        runs: list[Run] = [([(record.text + tokenizer.eos_token, False)], True)]
    else:
        runs = _runs(record, template, train_on, branch)
    enc = _encoder(tokenizer)
    total = trainable = cut_trainable = overhead = pads = 0
    limit = cutoff_len if cutoff_len is not None else 1 << 62
    # each pad id in a run stands for the next image: it adds that image's tokens but one
    images = iter(expand[1]) if expand is not None else None
    for pieces, trained in runs:
        ids, own = enc.run(pieces)
        n = len(ids)
        if images is not None and (k := ids.count(expand[0])):  # type: ignore[index]
            for _ in range(k):
                img = next(images, None)
                grow = img.tokens if img is not None else 1
                n += grow - 1
                pads += grow
        overhead += own
        if trained:
            trainable += n
            cut_trainable += max(0, total + n - max(total, limit))
        total += n
    return _Lengths(total, trainable, overhead, max(0, total - limit), cut_trainable, pads)


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


def _images(record: Record) -> int:
    if isinstance(record, PretrainRecord):
        return 0
    return sum(len(m.media("image")) for m in conversation(record) if not isinstance(m.content, str))


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
        images=_images(record),
        image_tokens=enc.image_tokens,
        media_unknown=enc.media_unknown,
    )


def count_record(
    record: Record,
    tokenizer: Tokenizer,
    template: Template,
    train_on: TrainOn = "all",
    cutoff_len: int | None = None,
    media: MediaTokens | None = None,
) -> TokenCounts:
    """Token counts of one record after the template (see :class:`TokenCounts`).

    Equal to :func:`counts_of` over :func:`encode_record`, without building id lists.
    ``media`` expands images to their real token counts (see :class:`TokenCounts`).
    """
    n_media = _media(record)
    chosen = rejected = None
    if media is not None and n_media:
        chosen = (media.pad_id, media.images(record, "chosen"))
        if isinstance(record, PreferenceRecord):
            rejected = (media.pad_id, media.images(record, "rejected"))
    a = _lengths(record, tokenizer, template, train_on, cutoff_len, "chosen", chosen)
    cut, cut_trainable = a.cut, a.cut_trainable
    rt = rtr = None
    if isinstance(record, PreferenceRecord):
        b = _lengths(record, tokenizer, template, train_on, cutoff_len, "rejected", rejected)
        rt, rtr = b.total, b.trainable
        cut, cut_trainable = max(cut, b.cut), max(cut_trainable, b.cut_trainable)
    return TokenCounts(
        kind=record.kind,
        total=a.total,
        prompt=a.total - a.trainable,
        trainable=a.trainable,
        overhead=a.overhead,
        turns=_turns(record),
        media=n_media,
        cut=cut,
        cut_trainable=cut_trainable,
        rejected_total=rt,
        rejected_trainable=rtr,
        label=record.label if isinstance(record, KTORecord) else None,
        images=_images(record) if n_media else 0,
        image_tokens=a.image_tokens,
        media_unknown=sum(1 for img in chosen[1] if img.problem is not None) if chosen else 0,
    )


__all__ = ["IGNORE_INDEX", "Encoded", "TokenCounts", "count_record", "counts_of", "encode_record", "encode_rendered"]
