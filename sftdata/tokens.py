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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .record import KTORecord, PreferenceRecord, PretrainRecord, Record, SFTRecord, conversation
from .errors import UsageError
from .templates import Rendered, Template, TrainOn
from .templates.trained import Shape, encode_as, relabel
from .templates.trainers import SFTDATA, TrainerConvention, TrainerName, get_trainer, resolve_train_on
from .tokenizers import Tokenizer
from .tokenizers.runs import encoder_for

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
    the other branch (its ``rejected_cut`` / ``rejected_cut_trainable`` what the cutoff
    removes from it).
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
    rejected_cut: int | None = None
    rejected_cut_trainable: int | None = None


Piece = tuple[str, bool]  # text, template-owned
Run = tuple[list[Piece], bool]  # neighbouring pieces that are all trained or all not
_encoder = encoder_for


def untrained_prompt(record: Record) -> Record:
    """A preference/KTO record whose prompt turns are marked not trained (``train=False``):
    no trainer trains the prompt of such a row, even when it holds earlier assistant
    turns (LLaMA-Factory's pairwise and KTO processors, TRL's DPO and KTO trainers)."""
    if not isinstance(record, (PreferenceRecord, KTORecord)):
        return record
    if not any(m.role == "assistant" and m.train is not False for m in record.prompt):
        return record
    prompt = tuple(m.model_copy(update={"train": False}) if m.role == "assistant" else m for m in record.prompt)
    return record.model_copy(update={"prompt": prompt})


def _runs(record: Record, template: Template, train_on: TrainOn, branch: Branch) -> list[Run]:
    """The record's text as trained/untrained runs of pieces."""
    record = untrained_prompt(record)
    segments = getattr(template, "segments", None)
    runs: list[Run] = []
    current: list[Piece] = []
    state: bool | None = None
    if segments is not None:  # data templates: walk the pieces, no spans built
        pieces: Iterable[tuple[Any, ...]] = segments(record, train_on=train_on, branch=branch)
    else:
        rendered = template.render(record, train_on=train_on, branch=branch)  # type: ignore[call-arg]
        pieces = [(rendered.text[s.start : s.end], s.role, s.trainable, s.template) for s in rendered.spans]
    for piece in pieces:
        text, trainable, own = piece[0], piece[2], piece[3]
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
    train_on: TrainOn | None = None,
    cutoff_len: int | None = None,
    branch: Branch = "chosen",
    media: MediaTokens | None = None,
    trainer: TrainerName | TrainerConvention | None = None,
) -> Encoded:
    """Render ``record`` with ``template`` and tokenize it into ids and labels.

    Preference records render ``prompt + chosen`` (or ``+ rejected`` with
    ``branch="rejected"``), KTO records ``prompt + completion``; their prompt is never
    trained. A pretrain record is its text plus the tokenizer's EOS, all trained. With
    ``media`` (see :func:`sftdata.media.tokens.media_tokens`) each image's pad token is
    repeated as often as the model's run repeats it.

    ``trainer`` picks whose labels and cut these are (see
    :mod:`sftdata.templates.trainers`): ``"sftdata"`` (the default: answers and their
    end-of-turn token, cut from the right), ``"llamafactory"`` (answers with the separator
    after them, ``cutoff_len`` split per turn by ``infer_seqlen``) or ``"trl"`` (TRL's
    SFT/DPO/KTO trainers: the whole conversation tokenized at once, every token trained
    unless ``train_on="all"`` (``assistant_only_loss=True``), cut from the right).
    ``train_on=None`` is the trainer's default; ``cutoff_len=None`` cuts nothing.
    """
    convention = get_trainer(trainer)
    train_on = resolve_train_on(convention, train_on)
    if isinstance(record, PretrainRecord):
        ids = tokenizer.encode(record.text + tokenizer.eos_token)
        return _cut(ids, list(ids), 0, cutoff_len)
    expand = (media.pad_id, media.images(record, branch)) if media is not None and _media(record) else None
    if convention is not SFTDATA:
        return _encode_as(record, tokenizer, template, convention, train_on, cutoff_len, branch, expand)
    return _encode_runs(_runs(record, template, train_on, branch), tokenizer, cutoff_len, expand)


def render_as(record: SFTRecord | PreferenceRecord | KTORecord, template: Template, train_on: TrainOn | None = None, branch: Branch = "chosen",
              trainer: TrainerName | TrainerConvention | None = None) -> Rendered:
    """The text of ``record`` with the spans ``trainer`` trains (what ``sftdata render`` shows)."""
    from .templates.base import _assemble

    convention = get_trainer(trainer)
    train_on = resolve_train_on(convention, train_on)
    if convention is SFTDATA:
        return template.render(untrained_prompt(record), train_on=train_on, branch=branch)  # type: ignore[call-arg]
    segs, shape = _shaped(record, template, convention, train_on, branch)
    return _assemble(relabel(convention, template.name, segs, shape, train_on))


def _shaped(record: Record, template: Template, convention: TrainerConvention, train_on: TrainOn, branch: Branch) -> tuple[list[Any], Shape]:
    segments = getattr(template, "segments", None)
    if segments is None:
        raise UsageError(
            f"trainer '{convention.name}' needs one of sftdata's built-in templates, not '{template.name}'.",
            field="--template",
            remedy="Pick the built-in template of the model (e.g. --template qwen for Qwen2.5), as the trainer's own template would render it.",
        )
    segs = segments(record, train_on=train_on, branch=branch)
    shape = Shape()
    if isinstance(record, PreferenceRecord):
        other: Branch = "rejected" if branch == "chosen" else "chosen"
        shape = Shape(len(record.prompt), segments(record, train_on=train_on, branch=other))
    elif isinstance(record, KTORecord):
        shape = Shape(len(record.prompt))
    return segs, shape


def _encode_as(record: Record, tokenizer: Tokenizer, template: Template, convention: TrainerConvention, train_on: TrainOn, cutoff_len: int | None, branch: Branch, expand: Expand | None) -> Encoded:  # noqa: PLR0913
    segs, shape = _shaped(record, template, convention, train_on, branch)
    out = encode_as(convention, template.name, _encoder(tokenizer), segs, shape, train_on, cutoff_len, expand)
    if expand is None:
        return Encoded(out.ids, out.labels, out.overhead, out.cut, out.cut_trainable)
    unknown = sum(1 for img in expand[1] if img.problem is not None)
    return Encoded(out.ids, out.labels, out.overhead, out.cut, out.cut_trainable, out.pads, unknown)


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
    rt = rtr = rc = rct = None
    if rejected is not None:
        rt = len(rejected.input_ids) + rejected.cut
        rtr = rejected.trainable + rejected.cut_trainable
        rc, rct = rejected.cut, rejected.cut_trainable
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
        rejected_cut=rc,
        rejected_cut_trainable=rct,
    )


def count_record(
    record: Record,
    tokenizer: Tokenizer,
    template: Template,
    train_on: TrainOn | None = None,
    cutoff_len: int | None = None,
    media: MediaTokens | None = None,
    trainer: TrainerName | TrainerConvention | None = None,
) -> TokenCounts:
    """Token counts of one record after the template (see :class:`TokenCounts`).

    Equal to :func:`counts_of` over :func:`encode_record` (same ``trainer`` and
    ``train_on``), without building id lists for the default trainer. ``media`` expands
    images to their real token counts (see :class:`TokenCounts`).
    """
    convention = get_trainer(trainer)
    if convention is not SFTDATA and not isinstance(record, PretrainRecord):
        chosen_enc = encode_record(record, tokenizer, template, train_on, cutoff_len, "chosen", media, convention)
        rejected_enc = encode_record(record, tokenizer, template, train_on, cutoff_len, "rejected", media, convention) if isinstance(record, PreferenceRecord) else None
        return counts_of(record, chosen_enc, rejected_enc)
    train_on = resolve_train_on(convention, train_on)
    n_media = _media(record)
    chosen = rejected = None
    if media is not None and n_media:
        chosen = (media.pad_id, media.images(record, "chosen"))
        if isinstance(record, PreferenceRecord):
            rejected = (media.pad_id, media.images(record, "rejected"))
    a = _lengths(record, tokenizer, template, train_on, cutoff_len, "chosen", chosen)
    rt = rtr = rc = rct = None
    if isinstance(record, PreferenceRecord):
        b = _lengths(record, tokenizer, template, train_on, cutoff_len, "rejected", rejected)
        rt, rtr, rc, rct = b.total, b.trainable, b.cut, b.cut_trainable
    return TokenCounts(
        kind=record.kind,
        total=a.total,
        prompt=a.total - a.trainable,
        trainable=a.trainable,
        overhead=a.overhead,
        turns=_turns(record),
        media=n_media,
        cut=a.cut,
        cut_trainable=a.cut_trainable,
        rejected_total=rt,
        rejected_trainable=rtr,
        label=record.label if isinstance(record, KTORecord) else None,
        images=_images(record) if n_media else 0,
        image_tokens=a.image_tokens,
        media_unknown=sum(1 for img in chosen[1] if img.problem is not None) if chosen else 0,
        rejected_cut=rc,
        rejected_cut_trainable=rct,
    )


__all__ = ["IGNORE_INDEX", "Encoded", "TokenCounts", "count_record", "counts_of", "encode_record", "encode_rendered", "render_as", "untrained_prompt"]
