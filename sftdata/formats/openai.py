"""OpenAI chat messages: the fine-tuning format, TRL's conversational ``messages`` and
LLaMA-Factory's role/content sharegpt variant.

>>> row = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4", "weight": 1}]}
>>> rec = OPENAI.decode(row)
>>> rec.messages[1]
Message(role='assistant', content='4', tool_calls=(), tool_call_id=None, name=None, train=True, weight=None)
>>> OPENAI.encode(rec) == (row, [])
True

Kinds: sft (``messages``); preference (``messages`` holds the prompt, ``chosen`` and
``rejected`` one message or a list); kto (a bool ``label``, or ``kto_tag``: the last
message is the completion, as in LLaMA-Factory's ``kto_en_demo.json``).
Media are written as ``image_url`` / ``input_audio`` / ``audio_url`` / ``video_url``
parts; read also from ``{"type": "image"}`` parts or ``<image>`` placeholders matched
to an ``images`` column. ``weight`` 0/1 is ``Message.train``; a float is
``Message.weight``. See :mod:`sftdata.formats._messages` for the message codec.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import Issue
from ..record import Kind, KTORecord, PreferenceRecord, Record, SFTRecord, Source
from . import _common as c
from ._messages import Media, MessageCodec, has_media
from .base import Detection, Format, Row, register_format
from .llamafactory_v1 import is_v1_message

KTO_TAGS = ("label", "kto_tag")


# -- wire models (JSON Schema) -------------------------------------------------------------
class _Url(BaseModel):
    url: str


class _TextPart(BaseModel):
    type: Literal["text"]
    text: str


class _ImageUrlPart(BaseModel):
    type: Literal["image_url"]
    image_url: _Url


class _AudioData(BaseModel):
    data: str = Field(description="Base64-encoded audio.")
    format: str = "wav"


class _InputAudioPart(BaseModel):
    type: Literal["input_audio"]
    input_audio: _AudioData


class _AudioUrlPart(BaseModel):
    type: Literal["audio_url"]
    audio_url: _Url


class _VideoUrlPart(BaseModel):
    type: Literal["video_url"]
    video_url: _Url


class _ColumnMediaPart(BaseModel):
    type: Literal["image", "video", "audio"] = Field(description="Filled, in order, from the row's images/videos/audios column.")


_WirePart = Union[_TextPart, _ImageUrlPart, _InputAudioPart, _AudioUrlPart, _VideoUrlPart, _ColumnMediaPart]


class _Function(BaseModel):
    name: str
    arguments: str | dict[str, Any] = Field(description="A JSON string (OpenAI) or an object (TRL / chat templates).")


class _WireCall(BaseModel):
    id: str | None = None
    type: Literal["function"] = "function"
    function: _Function


class WireMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_WirePart] | None = None
    reasoning_content: str | None = Field(None, description="Assistant chain of thought, before the answer.")
    tool_calls: list[_WireCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    weight: int | float | None = Field(None, description="0/1: do not train / train on this turn (OpenAI); a float scales its loss.")


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")
    tools: list[dict[str, Any]] | str | None = Field(None, description='[{"type": "function", "function": {name, description, parameters}}]')
    images: list[str] | None = None


class OpenAISFT(_Row):
    messages: list[WireMessage]


class OpenAIPreference(_Row):
    messages: list[WireMessage] = Field(description="The prompt.")
    chosen: WireMessage | list[WireMessage]
    rejected: WireMessage | list[WireMessage]


class OpenAIKTO(_Row):
    messages: list[WireMessage] = Field(description="The prompt, then the completion as the last message.")
    label: bool


_SCHEMA = TypeAdapter(Union[OpenAISFT, OpenAIPreference, OpenAIKTO])


def tools_wire(record: Any) -> list[dict[str, Any]]:
    return [c.tool_spec_dict(t, wrap=True) for t in record.tools]


class OpenAI(Format):
    name = "openai"
    wire = _SCHEMA
    kinds = ("sft", "preference", "kto")
    summary = "OpenAI chat messages (fine-tuning format, TRL conversational): tool_calls, content parts, weight"
    cannot_carry = (
        "reasoning parts after other content",
        "message weight next to a train flag",
        "multi-message KTO completions",
    )
    codec = MessageCodec("openai")
    # OpenAI's Chat Completions API rejects a tool message without tool_call_id, and its
    # fine-tuning examples give every call an id: convert fills missing ones by default.
    pairs_tools_by_id = True

    def _kto_tag(self, row: Row) -> str | None:
        return next((t for t in KTO_TAGS if isinstance(row.get(t), bool)), None)

    def detect(self, row: Row) -> Detection:
        msgs = row.get("messages")
        if not isinstance(msgs, list) or not msgs or not isinstance(msgs[0], dict) or "role" not in msgs[0]:
            return Detection(0.0)
        if any(is_v1_message(m) for m in msgs):
            return Detection(0.0)  # LLaMA-Factory v1 blocks ({type, value}, loss_weight): not readable here
        kind: Kind = "sft"
        if "chosen" in row and "rejected" in row:
            kind = "preference"
        elif self._kto_tag(row):
            kind = "kto"
        return Detection(1.0, kind, "keys messages/role/content")

    def decode(self, row: Row, source: Source | None = None) -> Record:
        issues: list[Issue] = []
        media = Media(c.media_lists(row, c.MEDIA_COLUMNS, issues))
        messages = self.codec.decode_list(row.get("messages"), "messages", media, issues)
        tools = c.parse_tools(row.get("tools"), "tools", issues)
        known = {"messages", "tools", *c.MEDIA_COLUMNS.values()}
        fields: dict[str, Any]
        if "chosen" in row or "rejected" in row:
            kind: type[Record] = PreferenceRecord  # type: ignore[assignment]
            chosen = self.codec.decode_list(row.get("chosen"), "chosen", media, issues)
            rejected = self.codec.decode_list(row.get("rejected"), "rejected", media, issues)
            known.update(("chosen", "rejected"))
            fields = {"prompt": messages, "chosen": chosen, "rejected": rejected}
        elif (tag := self._kto_tag(row) or ("kto_tag" if "kto_tag" in row else None)) is not None:
            kind = KTORecord  # type: ignore[assignment]
            if not isinstance(row[tag], bool):
                issues.append(Issue("kto-label", f"'{tag}' must be true or false, got {row[tag]!r}", field=tag))
            if not messages:
                issues.append(Issue("empty-conversation", "a KTO record needs a prompt and a completion", field="messages"))
            known.add(tag)
            fields = {"prompt": messages[:-1], "completion": messages[-1:], "label": row[tag]}
        else:
            kind = SFTRecord  # type: ignore[assignment]
            fields = {"messages": messages}
        c.check_media_consumed(media.lists, media.cursor, c.MEDIA_COLUMNS, issues)
        if issues:
            raise c.fail(issues, source)
        extra = {k: v for k, v in row.items() if k not in known}
        # Messages are validated models already; pydantic does not revalidate them here.
        return kind(**fields, tools=tools, extra=extra, source=source)  # type: ignore[operator]

    def encode(self, record: Record) -> tuple[Row, list[str]]:
        if record.kind not in self.kinds:
            raise self.refuse(record)
        lost: list[str] = []
        media = Media.empty()
        branches = (record.messages,) if isinstance(record, SFTRecord) else (record.prompt, record.chosen, record.rejected) if isinstance(record, PreferenceRecord) else (record.prompt, record.completion)  # type: ignore[union-attr]
        parts = has_media(*branches)

        def enc(messages: tuple[Any, ...], media: Media, lost: list[str]) -> list[dict[str, Any]]:
            return self.codec.encode_list(messages, media, lost, parts)

        if isinstance(record, SFTRecord):
            row: Row = {"messages": enc(record.messages, media, lost)}
        elif isinstance(record, PreferenceRecord):
            row = {"messages": enc(record.prompt, media, lost)}
            for key, branch in (("chosen", record.chosen), ("rejected", record.rejected)):
                wire = enc(branch, media, lost)
                row[key] = wire[0] if len(wire) == 1 else wire
        else:
            assert isinstance(record, KTORecord)
            if len(record.completion) != 1:
                lost.append("multi-message KTO completions")
            row = {"messages": enc(record.prompt + record.completion, media, lost), "label": record.label}
        if record.tools:
            row["tools"] = tools_wire(record)
        for key, value in record.extra.items():
            row.setdefault(key, value)
        return row, lost


    def dataset_info_entry(self, file_name: str, kind: Kind = "sft", present: Iterable[str] | None = None) -> dict[str, Any]:
        """LLaMA-Factory reads role/content messages as sharegpt with tags (text turns only:
        it reads neither ``tool_calls`` nor content parts).

        >>> OPENAI.dataset_info_entry("k.json", "kto")["columns"]
        {'messages': 'messages', 'kto_tag': 'label'}
        """
        columns: dict[str, str] = {"messages": "messages"}
        entry: dict[str, Any] = {"file_name": file_name, "formatting": "sharegpt"}
        if kind == "preference":
            entry["ranking"] = True
            columns.update(chosen="chosen", rejected="rejected")
        elif kind == "kto":
            columns["kto_tag"] = "label"
        if "tools" in set(present or ()):
            columns["tools"] = "tools"
        entry["columns"] = columns
        entry["tags"] = {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "observation_tag": "tool",
            "system_tag": "system",
        }
        return entry


OPENAI = register_format(OpenAI(), "messages", "chatml", "openai-messages")
