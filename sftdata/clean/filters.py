"""``filter``: keep or drop records by conditions that compose in one streaming pass.

Each condition is a small frozen value with a ``code`` and a ``check(record)`` that
returns ``None`` to keep the record or a :class:`Drop` saying why not. Conditions run
in order and the first drop wins (the CLI orders them cheapest first, token counting
last), so every rejected row carries exactly one reason code.

>>> from sftdata.record import Message, SFTRecord
>>> rec = SFTRecord(messages=(Message(role="user", content="Hi"), Message(role="assistant", content="skip")))
>>> Regex("skip", target="assistant", action="drop").check(rec)
Drop(code='regex-match', message="assistant text matches 'skip'", field=None)
>>> Chars(min=3, view="user").check(rec).code
'too-short'
>>> first_drop(rec, [Turns(min=1), Chars(max=100)]) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..api import RejectSink
from ..engines.base import Engine
from ..formats import Format
from ..io import write_rows
from ..progress import progress
from ..record import Message, PretrainRecord, Record, conversation
from ._stream import PathLike, counted, items, resolve_format
from .views import View, message_text, plain_text

if TYPE_CHECKING:  # pragma: no cover
    from ..media.tokens import MediaOptions, MediaTokens
    from ..templates import Template, TrainOn
    from ..tokenizers import Tokenizer


@dataclass(frozen=True, slots=True)
class Drop:
    """Why a record is dropped: a stable code, a sentence, and the field it is about."""

    code: str
    message: str
    field: str | None = None


class Filter(Protocol):
    """A condition: ``check`` returns ``None`` to keep the record."""

    def check(self, record: Record) -> Drop | None: ...


def first_drop(record: Record, filters: Sequence[Filter]) -> Drop | None:
    """The first condition that drops ``record``, or ``None`` when all keep it."""
    for f in filters:
        drop = f.check(record)
        if drop is not None:
            return drop
    return None


def _messages(record: Record) -> tuple[Message, ...]:
    return () if isinstance(record, PretrainRecord) else conversation(record)  # type: ignore[arg-type]


def _bounds(value: float, lo: float | None, hi: float | None, what: str, low_code: str, high_code: str, field: str | None = None) -> Drop | None:
    if lo is not None and value < lo:
        return Drop(low_code, f"{what} {value:g} < minimum {lo:g}", field)
    if hi is not None and value > hi:
        return Drop(high_code, f"{what} {value:g} > maximum {hi:g}", field)
    return None


@dataclass(frozen=True)
class Turns:
    """Number of assistant turns (for preference records: prompt + chosen)."""

    min: int | None = None
    max: int | None = None

    def check(self, record: Record) -> Drop | None:
        n = sum(1 for m in _messages(record) if m.role == "assistant")
        return _bounds(n, self.min, self.max, "assistant turns", "too-few-turns", "too-many-turns")


@dataclass(frozen=True)
class Chars:
    """Character length of a view's text (see :func:`~sftdata.clean.views.plain_text`)."""

    min: int | None = None
    max: int | None = None
    view: View = "record"

    def check(self, record: Record) -> Drop | None:
        n = len(plain_text(record, self.view))
        return _bounds(n, self.min, self.max, f"{self.view} characters", "too-short", "too-long", self.view)


# Script name -> character class; letters are ``[^\W\d_]`` (any alphabet, no digits).
SCRIPTS: dict[str, str] = {
    "latin": r"[A-Za-z\u00C0-\u024F]",
    "han": r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]",
    "kana": r"[\u3040-\u30FF]",
    "hangul": r"[\uAC00-\uD7AF\u1100-\u11FF]",
    "cyrillic": r"[\u0400-\u04FF]",
    "greek": r"[\u0370-\u03FF]",
    "arabic": r"[\u0600-\u06FF]",
    "devanagari": r"[\u0900-\u097F]",
}
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Script:
    """Share of a view's letters written in one script (e.g. keep >= 0.5 ``han``)."""

    script: str
    min: float | None = None
    max: float | None = None
    view: View = "record"

    def __post_init__(self) -> None:
        from ..errors import UsageError

        if self.script not in SCRIPTS:
            raise UsageError(f"unknown script '{self.script}'.", remedy=f"Choose from: {', '.join(SCRIPTS)}.")

    def check(self, record: Record) -> Drop | None:
        text = plain_text(record, self.view)
        letters = len(_LETTER.findall(text))
        share = len(re.findall(SCRIPTS[self.script], text)) / letters if letters else 0.0
        return _bounds(round(share, 3), self.min, self.max, f"{self.script} share of letters", "script-share-low", "script-share-high", self.view)


@dataclass(frozen=True)
class EmptyTurns:
    """Drop records with a user or assistant turn that has no text, media or tool call."""

    def check(self, record: Record) -> Drop | None:
        field_of = "messages" if not isinstance(record, PretrainRecord) else "text"
        if isinstance(record, PretrainRecord):
            return Drop("empty-turn", "text is empty or whitespace", "text") if not record.text.strip() else None
        for i, m in enumerate(_messages(record)):
            if m.role in ("user", "assistant") and not m.text.strip() and not m.tool_calls and not m.media():
                return Drop("empty-turn", f"{m.role} turn {i} is empty or whitespace only", f"{field_of}[{i}]")
        return None


@dataclass(frozen=True)
class Regex:
    """A regular expression searched in a role's text (``assistant``, ``user``,
    ``system``, ``tool``), a view (``record``, ``prompt``) or an extra column
    (``field:NAME``). ``action="keep"`` keeps only matching records, ``"drop"`` drops them."""

    pattern: str
    target: str = "assistant"
    action: Literal["keep", "drop"] = "keep"
    flags: int = 0
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from ..errors import UsageError

        try:
            object.__setattr__(self, "_compiled", re.compile(self.pattern, self.flags))
        except re.error as exc:
            raise UsageError(f"invalid regular expression {self.pattern!r}: {exc}.", remedy="Check the pattern (Python re syntax).") from None

    def _text(self, record: Record) -> str:
        if self.target.startswith("field:"):
            value = record.extra.get(self.target[6:])
            return "" if value is None else str(value)
        if self.target in ("record", "prompt"):
            return plain_text(record, self.target)  # type: ignore[arg-type]
        if isinstance(record, PretrainRecord):
            return record.text
        return "\n".join(message_text(m) for m in _messages(record) if m.role == self.target)

    def check(self, record: Record) -> Drop | None:
        found = self._compiled.search(self._text(record)) is not None
        if self.action == "drop" and found:
            return Drop("regex-match", f"{self.target} text matches {self.pattern!r}")
        if self.action == "keep" and not found:
            return Drop("regex-no-match", f"{self.target} text does not match {self.pattern!r}")
        return None


_CJK = re.compile(r"[\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF]")


def repetition(text: str, n: int = 3) -> float:
    """Share of word n-grams (character n-grams for CJK text) that repeat an earlier one.

    >>> repetition("a b c a b c a b c a b c")
    0.7
    >>> repetition("one two three four five")
    0.0
    """
    units: list[str] | str = text if len(_CJK.findall(text)) > 0.3 * max(1, len(text.replace(" ", ""))) else text.split()
    total = len(units) - n + 1
    if total <= 0:
        return 0.0
    grams = {tuple(units[i : i + n]) for i in range(total)}
    return (total - len(grams)) / total


@dataclass(frozen=True)
class Repetition:
    """Drop records whose answer repeats itself: in any assistant turn, the share of
    repeated n-grams exceeds ``max_share`` (looping text teaches models to loop).
    Turns shorter than ``min_ngrams`` n-grams are not judged."""

    max_share: float = 0.3
    n: int = 3
    role: str = "assistant"
    min_ngrams: int = 10

    def check(self, record: Record) -> Drop | None:
        texts = [(0, record.text)] if isinstance(record, PretrainRecord) else [(i, m.text) for i, m in enumerate(_messages(record)) if m.role == self.role]
        for i, text in texts:
            if len(text.split()) - self.n + 1 < self.min_ngrams and len(text) < 4 * self.min_ngrams:
                continue
            share = repetition(text, self.n)
            if share > self.max_share:
                where = "text" if isinstance(record, PretrainRecord) else f"messages[{i}]"
                return Drop("repetitive", f"{share:.0%} of {self.n}-grams repeat (maximum {self.max_share:.0%})", where)
        return None


Measure = Literal["total", "prompt", "trainable"]
RANGE_BYTES = 1 << 20  # token filters count ~750 records of 1.3 KB per range


@dataclass(frozen=True)
class Tokens:
    """Token length after the chat template, counted by :func:`sftdata.tokens.count_record`
    (the same numbers as ``sftdata stats``; images expanded as ``media`` says, by default
    with the template's media model, see :mod:`sftdata.media.tokens`). A record
    with an image whose size cannot be read is dropped as ``media-missing`` /
    ``media-unreadable`` / ``media-remote``: its length is unknown. ``trainer`` and
    ``train_on`` say whose labels ``trainable`` and ``prompt`` follow (as in ``stats``)."""

    min: int | None = None
    max: int | None = None
    measure: Measure = "total"
    tokenizer: str = "qwen2.5"
    template: str = "qwen"
    media: "MediaOptions | None" = None
    trainer: str = "sftdata"
    train_on: "TrainOn | None" = None
    _tools: Any = field(default=None, init=False, repr=False, compare=False)

    def _load(self) -> tuple["Tokenizer", "Template", "MediaTokens | None"]:
        if self._tools is None:
            import dataclasses

            from ..media.tokens import MediaOptions, media_tokens
            from ..templates import get_template
            from ..tokenizers import get_tokenizer

            tok = get_tokenizer(self.tokenizer)
            tpl = get_template(self.template, tokenizer=tok)
            options = dataclasses.replace(self.media or MediaOptions(), unknown="error")
            object.__setattr__(self, "_tools", (tok, tpl, media_tokens(tok, tpl, options)))
        return self._tools  # type: ignore[no-any-return]

    def __getstate__(self) -> dict[str, Any]:
        # a worker process loads its own tokenizer (the loaded one does not pickle)
        return {**self.__dict__, "_tools": None}

    def check(self, record: Record) -> Drop | None:
        from ..media.tokens import MediaError
        from ..tokens import count_record

        tok, tpl, media = self._load()
        try:
            counts = count_record(record, tok, tpl, self.train_on, media=media, trainer=self.trainer)  # type: ignore[arg-type]
        except MediaError as err:
            return Drop(err.code, err.message, err.field)
        value = getattr(counts, self.measure)
        if self.measure == "total" and counts.rejected_total is not None:
            value = max(value, counts.rejected_total)  # a pair is as long as its longer branch
        return _bounds(value, self.min, self.max, f"{self.measure} tokens", "too-few-tokens", "too-many-tokens")


@dataclass(frozen=True)
class Predicate:
    """A custom condition from Python: ``fn(record)`` returns True to keep it.

    >>> from sftdata.record import Message, SFTRecord
    >>> Predicate(lambda r: "gpt" not in r.messages[-1].text, code="mentions-gpt").check(
    ...     SFTRecord(messages=(Message(role="assistant", content="as gpt"),))).code
    'mentions-gpt'
    """

    fn: Callable[[Record], bool]
    code: str = "predicate"
    message: str = "rejected by a custom predicate"

    def check(self, record: Record) -> Drop | None:
        return None if self.fn(record) else Drop(self.code, self.message)


@dataclass
class FilterReport:
    """Counts (``read == kept + rejected``) and drops per reason code."""

    read: int = 0
    kept: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def filter(  # noqa: A001 - the API mirrors the command name
    input: PathLike,
    output: PathLike,
    filters: Sequence[Filter],
    *,
    rejects: PathLike | None = None,
    format: str | Format = "auto",
    engine: Engine | None = None,
) -> FilterReport:
    """Write the rows of ``input`` that pass every condition to ``output`` (verbatim).

    Dropped rows go to ``rejects`` (JSONL: reason code, message, field, source line and
    the row) when given; rows that do not decode go there too (otherwise the first one
    stops the run, as in ``convert``). ``engine=Engine("ray")`` filters the byte ranges
    of a ``.jsonl`` file or URI on Ray, with the same kept rows, order and rejects;
    ``output`` may then be a folder of shards (``out/``) with a manifest.

    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": a}]} for a in ["ok", "  "]]
    >>> _ = (d / "in.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in rows))
    >>> filter(d / "in.jsonl", d / "out.jsonl", [EmptyTurns()], rejects=d / "rej.jsonl")
    FilterReport(read=2, kept=1, rejected=1, reasons={'empty-turn': 1})
    """
    fmt = resolve_format(input, format, majority=rejects is not None)
    if engine is not None and engine.ray:
        return _filter_ranges(input, output, fmt, filters, rejects, engine)
    kept = [0]
    with RejectSink(rejects) as sink, progress(f"filtering {input}") as advance:

        def passing() -> Any:
            for item in items(input, fmt):
                advance()
                if item.record is None:
                    if rejects is None:
                        raise item.error  # type: ignore[misc]
                    sink.add(item.row, item.source, item.error)  # type: ignore[arg-type]
                    continue
                drop = first_drop(item.record, filters)
                if drop is None:
                    yield item.row
                else:
                    sink.reject(item.row, item.source, drop.code, drop.message, field=drop.field)

        write_rows(counted(passing(), kept), output)
    return FilterReport(read=kept[0] + sink.total, kept=kept[0], rejected=sink.total, reasons=dict(sorted(sink.counts.items())))


# The per-range step of the Ray engine: the same decode, the same first_drop and the
# same JSONL bytes as the loop above, with line numbers local to the range. A line that
# is not a JSON object is an event too (rejected with --rejects, else the error), as
# :func:`._stream.tolerant_rows` makes it for the loop above.
_JOB: dict[str, Any] = {}
_Event = tuple[int, Any, tuple[Any, ...] | None, Drop | None, str | None]  # line, row, decode issues, drop, remedy


def _init_ranges(path: str, fmt: Format, filters: tuple[Filter, ...]) -> None:
    _JOB.update(path=path, fmt=fmt, filters=filters)


def _filter_range(span: tuple[int, int]) -> tuple[int, bytes, int, list[_Event]]:
    from ..engines.local import line_count, read_span
    from ..errors import Issue, RecordError
    from ..io.files import BadLine, range_rows
    from ..io.lines import dumps_line
    from ..record import Source

    path: str = _JOB["path"]
    data = read_span(path, span)
    decode, filters = _JOB["fmt"].decode, _JOB["filters"]
    kept: list[bytes] = []
    events: list[_Event] = []
    for lineno, row in range_rows(data, tolerant=True):
        if type(row) is BadLine:
            events.append((lineno, row.text, (Issue(row.code, row.message),), None, row.remedy))
            continue
        try:
            # the Source matters: relative media paths resolve from the file's folder
            record = decode(row, Source(path, lineno, "line"))
        except RecordError as err:
            events.append((lineno, row, err.issues, None, err.remedy))
            continue
        drop = first_drop(record, filters)
        if drop is None:
            kept.append(dumps_line(row))
        else:
            events.append((lineno, row, None, drop, None))
    return line_count(data), b"".join(kept), len(kept), events


def _filter_ranges(input: PathLike, output: PathLike, fmt: Format, filters: Sequence[Filter], rejects: PathLike | None, engine: Engine) -> FilterReport:
    from ..engines.run import ordered_ranges, require_ranges
    from ..errors import RecordError
    from ..io import remote
    from ..io.safety import active_budget
    from ..io.shards import ShardWriter, jsonl_output
    from ..record import Source

    require_ranges(input, output)
    path, base, kept, rows = str(input), 0, 0, 0
    total = remote.size(path) if remote.is_uri(path) else Path(path).stat().st_size
    job = ordered_ranges(input, _filter_range, workers=1, chunk=RANGE_BYTES, initializer=_init_ranges, initargs=(path, fmt, tuple(filters)), engine=engine)
    with RejectSink(rejects) as sink, jsonl_output(output) as out, job as results, progress(f"filtering {input}", total=total, unit="bytes") as advance:
        for (start, end), (lines, data, n, events) in results:
            for lineno, row, issues, drop, remedy in events:
                source = Source(path, base + lineno, "line")
                if drop is not None:
                    rows += 1
                    sink.reject(row, source, drop.code, drop.message, field=drop.field)
                    continue
                error = RecordError(list(issues or ()), path=path, line=source.line, remedy=remedy)
                if rejects is None:
                    raise error
                rows += not isinstance(row, (str, type(None)))
                sink.add(row, source, error)
            out.write(data)
            kept, rows, base = kept + n, rows + n, base + lines
            advance(end - start)
        if (budget := active_budget()) is not None:  # --max-rejects FRACTION: what was read here
            budget.note_read(path, rows)
        report = FilterReport(read=kept + sink.total, kept=kept, rejected=sink.total, reasons=dict(sorted(sink.counts.items())))
        if isinstance(out, ShardWriter):
            out.summary = {"source": path, "engine": engine.name, **report.to_dict()}
    return report
