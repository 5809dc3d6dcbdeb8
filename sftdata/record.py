"""Canonical, typed, frozen values that every format decodes into and encodes from.

A *kind* says what a record teaches; a *format* says how it is spelled on disk. This
module knows only kinds::

    SFTRecord         a conversation (messages), trained on assistant turns
    PreferenceRecord  prompt messages + chosen messages + rejected messages
    KTORecord         prompt messages + completion messages + a bool label
    PretrainRecord    plain text

Multimodal data is not a kind: images, videos and audios are parts of a message's
content, in the position where the wire format put its ``<image>`` placeholder.

>>> m = Message(role="user", content="hi")
>>> SFTRecord(messages=(m, Message(role="assistant", content="hello"))).kind
'sft'

Provenance (:class:`Source`) travels with every record read from a file but is not part
of its value: two records with equal content compare equal wherever they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")
Kind = Literal["sft", "preference", "kto", "pretrain"]
KINDS: tuple[Kind, ...] = ("sft", "preference", "kto", "pretrain")
Modality = Literal["image", "video", "audio"]
MODALITIES: tuple[Modality, ...] = ("image", "video", "audio")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record came from: a file and a 1-based line (JSONL), row (tables) or
    record number (JSON arrays)."""

    path: str
    line: int
    unit: Literal["line", "row", "record"] = "line"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextPart(_Frozen):
    type: Literal["text"] = "text"
    text: str


class ReasoningPart(_Frozen):
    """Chain-of-thought text that precedes an assistant's answer (``<think>`` blocks)."""

    type: Literal["reasoning"] = "reasoning"
    text: str


class ImagePart(_Frozen):
    """An image by path (relative to the dataset file) or URL (``http(s)://``, ``data:``)."""

    type: Literal["image"] = "image"
    url: str


class VideoPart(_Frozen):
    type: Literal["video"] = "video"
    url: str


class AudioPart(_Frozen):
    type: Literal["audio"] = "audio"
    url: str


Part = Annotated[
    Union[TextPart, ReasoningPart, ImagePart, VideoPart, AudioPart], Field(discriminator="type")
]
MEDIA_PARTS: dict[Modality, type[ImagePart] | type[VideoPart] | type[AudioPart]] = {
    "image": ImagePart,
    "video": VideoPart,
    "audio": AudioPart,
}


class ToolCall(_Frozen):
    """A function call made by an assistant.

    ``arguments`` holds the parsed JSON value. A wire string that is not valid JSON is
    kept verbatim as a ``str`` so that validation can point at it.
    """

    name: str
    arguments: JsonValue = Field(default_factory=dict)
    id: str | None = None


class ToolSpec(_Frozen):
    """A declared function: name, description and a JSON Schema for its parameters."""

    name: str
    description: str | None = None
    parameters: dict[str, JsonValue] | None = None
    extra: dict[str, JsonValue] = Field(default_factory=dict)


class Message(_Frozen):
    """One turn.

    ``content`` is a plain ``str`` for text-only turns, else a tuple of parts; a tuple
    holding one text part is normalised to its string so that equal content compares
    equal. ``train`` overrides the template's default loss mask for this turn and
    ``weight`` scales its loss (``None`` means the trainer's default).

    ``input_start`` keeps the layout of an alpaca user turn written as an ``instruction``
    and an ``input``. The content is the text LLaMA-Factory trains on,
    ``instruction + "\\n" + input``, and ``input_start`` is where the input begins in
    :attr:`text` (after that ``"\\n"``; 0 when the instruction was empty; ``None`` when
    there was no input). Like a record's provenance it is not part of the value: it is
    left out of equality, hashing and serialisation, so the same text compares equal
    however it was spelled. :meth:`split_input` gives the two halves back.

    >>> m = Message(role="user", content="Translate\\nbonjour", input_start=10)
    >>> m == Message(role="user", content="Translate\\nbonjour")
    True
    >>> m.split_input()
    ((TextPart(type='text', text='Translate'),), (TextPart(type='text', text='bonjour'),))
    """

    role: Role
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    train: bool | None = None
    weight: float | None = None
    input_start: int | None = Field(default=None, ge=0, exclude=True)

    @field_validator("content", mode="after")
    @classmethod
    def _collapse_single_text(cls, value: str | tuple[Any, ...]) -> str | tuple[Any, ...]:
        if isinstance(value, tuple):
            if not value:
                return ""
            if len(value) == 1 and isinstance(value[0], TextPart):
                return value[0].text
        return value

    @field_validator("input_start", mode="after")
    @classmethod
    def _input_start_fits(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Only runs when input_start is given: a split that does not cut the content into a
        # non-empty instruction, the "\n" separator and a non-empty input is a caller's bug.
        content = info.data.get("content")
        if value is not None and content is not None and _split_at(content, value) is None:
            raise ValueError(f"input_start={value} does not split the content into instruction + '\\n' + input")
        return value

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return _value(self) == _value(other)  # type: ignore[arg-type]

    def __hash__(self) -> int:
        return hash(_value(self))

    def split_input(self) -> tuple[tuple[Part, ...], tuple[Part, ...]] | None:
        """``(instruction parts, input parts)`` of an alpaca user turn that had an input,
        without the ``"\\n"`` that joined them; ``None`` when it had none.

        Media parts stay on the side of the separator where the row put their placeholder.
        A stale ``input_start`` (content replaced with ``model_copy``) that no longer
        splits the content reads as no input.
        """
        if self.input_start is None:
            return None
        return _split_at(self.content, self.input_start)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts, whatever its spelling."""
        if isinstance(self.content, str):
            return (TextPart(text=self.content),) if self.content else ()
        return self.content

    @property
    def text(self) -> str:
        """Concatenated text parts (reasoning and media excluded)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    def media(self, modality: Modality | None = None) -> list[ImagePart | VideoPart | AudioPart]:
        """Media parts in order, optionally of one modality."""
        if isinstance(self.content, str):
            return []
        return [
            p
            for p in self.content
            if p.type in MODALITIES and (modality is None or p.type == modality)
        ]  # type: ignore[misc]


def _value(message: Message) -> tuple[Any, ...]:
    """A message's value: every field but the ``input_start`` layout hint."""
    return tuple(v for k, v in message.__dict__.items() if k != "input_start")


def _split_at(content: str | tuple[Part, ...], at: int) -> tuple[tuple[Part, ...], tuple[Part, ...]] | None:
    """Cut ``content`` at text offset ``at`` into the parts before the ``"\\n"`` at
    ``at - 1`` and the parts from ``at`` on; ``None`` unless both sides are non-empty
    (the instruction side may be empty only when ``at == 0``)."""
    parts: tuple[Part, ...] = ((TextPart(text=content),) if content else ()) if isinstance(content, str) else content
    cut = at - 1 if at else 0  # the instruction ends where the separator starts
    head: list[Part] = []
    tail: list[Part] = []
    seen = 0  # text characters before the current part
    for part in parts:
        if not isinstance(part, TextPart):
            # a media (or reasoning) part before the separator belongs to the instruction
            (tail if seen >= at else head).append(part)
            continue
        text, start = part.text, seen
        seen += len(text)
        if at and start <= cut < seen and text[cut - start] != "\n":
            return None
        if start < cut:
            head.append(TextPart(text=text[: cut - start]))
        if seen > at:
            tail.append(TextPart(text=text[max(at - start, 0) :]))
    if seen < at or not tail or (at and not head):
        return None
    return tuple(head), tuple(tail)


class _Record(_Frozen):
    """Base of the four kinds. ``extra`` keeps the source row's unknown fields;
    ``source`` is provenance and excluded from equality and serialisation."""

    extra: dict[str, JsonValue] = Field(default_factory=dict)
    source: Source | None = Field(default=None, exclude=True, repr=False)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        mine = {k: v for k, v in self.__dict__.items() if k != "source"}
        theirs = {k: v for k, v in other.__dict__.items() if k != "source"}  # type: ignore[attr-defined]
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]  # dict fields make records unhashable

    def with_source(self, source: Source | None) -> "_Record":
        return self.model_copy(update={"source": source})


class SFTRecord(_Record):
    kind: Literal["sft"] = "sft"
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()


class PreferenceRecord(_Record):
    """``prompt`` ends with the user turn; ``chosen``/``rejected`` are the two answers
    (usually one assistant message each, possibly with tool turns)."""

    kind: Literal["preference"] = "preference"
    prompt: tuple[Message, ...]
    chosen: tuple[Message, ...]
    rejected: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()


class KTORecord(_Record):
    """An unpaired preference: ``label`` is True for a desirable completion."""

    kind: Literal["kto"] = "kto"
    prompt: tuple[Message, ...]
    completion: tuple[Message, ...]
    label: bool
    tools: tuple[ToolSpec, ...] = ()


class PretrainRecord(_Record):
    kind: Literal["pretrain"] = "pretrain"
    text: str


Record = Annotated[
    Union[SFTRecord, PreferenceRecord, KTORecord, PretrainRecord], Field(discriminator="kind")
]
RECORD_TYPES: dict[Kind, type[_Record]] = {
    "sft": SFTRecord,
    "preference": PreferenceRecord,
    "kto": KTORecord,
    "pretrain": PretrainRecord,
}


def conversation(record: SFTRecord | PreferenceRecord | KTORecord, branch: Literal["chosen", "rejected"] = "chosen") -> tuple[Message, ...]:
    """The full message list of a record: ``messages`` for SFT, ``prompt + chosen``
    (or ``rejected``) for preference, ``prompt + completion`` for KTO."""
    if isinstance(record, SFTRecord):
        return record.messages
    if isinstance(record, PreferenceRecord):
        return record.prompt + (record.chosen if branch == "chosen" else record.rejected)
    return record.prompt + record.completion
