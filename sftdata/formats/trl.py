"""TRL's dataset column sets, conversational (``trl``) and standard (``trl-standard``).

TRL names a dataset by its columns; each column holds either text (*standard*) or a list
of role/content messages (*conversational*)::

    text                           -> pretrain      (language modeling)
    messages                       -> sft           (conversational language modeling)
    prompt                         -> sft           (prompt-only: the record ends on a user turn)
    prompt, completion             -> sft
    prompt, chosen, rejected       -> preference    (explicit prompt)
    chosen, rejected               -> preference    (implicit prompt: the shared leading
                                                     messages become the prompt)
    prompt, completion, label      -> kto           (unpaired preference)

Both formats read both spellings. They differ in what they write: ``trl`` writes
conversational rows (``messages`` for SFT, so every turn is kept), ``trl-standard``
writes plain strings (a standard prompt is one user turn and a standard answer one
assistant turn; anything more is named in the loss report).

>>> rec = TRL.decode({"prompt": [{"role": "user", "content": "2+2?"}], "completion": [{"role": "assistant", "content": "4"}]})
>>> [(m.role, m.content) for m in rec.messages]
[('user', '2+2?'), ('assistant', '4')]
>>> TRL_STANDARD.encode(rec)[0]
{'prompt': '2+2?', 'completion': '4'}
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import Issue
from ..record import Kind, KTORecord, Message, PreferenceRecord, PretrainRecord, Record, SFTRecord, Source
from . import _common as c
from ._messages import Media, MessageCodec, has_media
from ._pairs import message_losses
from .base import Detection, Format, Row, register_format
from .llamafactory_v1 import is_v1_message
from .openai import WireMessage, tools_wire

Style = Literal["conversational", "standard"]
LOST_TURNS = "roles and extra turns (a standard row holds one prompt and one answer)"
LOST_RICH = "media, tool calls and tools (standard rows are plain text)"


# -- wire models (JSON Schema) -------------------------------------------------------------
class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Conv(_Row):
    tools: list[dict[str, Any]] | None = None
    images: list[str] | None = Field(None, description='Filled into {"type": "image"} parts, in order.')


_Turns = Union[str, list[WireMessage]]


class TRLLanguageModeling(_Row):
    text: str


class TRLConversationalLM(_Conv):
    messages: list[WireMessage]


class TRLPromptCompletion(_Conv):
    prompt: _Turns
    completion: _Turns | None = Field(None, description="Absent in prompt-only rows.")


class TRLPreference(_Conv):
    prompt: _Turns | None = Field(None, description="Absent with an implicit prompt: the messages chosen and rejected share.")
    chosen: _Turns
    rejected: _Turns


class TRLUnpaired(_Conv):
    prompt: _Turns
    completion: _Turns
    label: bool


_SCHEMA = TypeAdapter(Union[TRLLanguageModeling, TRLConversationalLM, TRLPreference, TRLUnpaired, TRLPromptCompletion])
_COLUMNS = ("text", "messages", "prompt", "completion", "chosen", "rejected", "label", "tools", *c.MEDIA_COLUMNS.values())


def _shape(row: Row) -> tuple[Kind, str] | None:
    """The kind a row's columns spell and a name for the column set, or None."""
    if "chosen" in row and "rejected" in row:
        return "preference", "prompt/chosen/rejected" if "prompt" in row else "chosen/rejected (implicit prompt)"
    if "prompt" in row:
        if "completion" in row:
            return ("kto", "prompt/completion/label") if "label" in row else ("sft", "prompt/completion")
        return "sft", "prompt (prompt-only)"
    if "messages" in row:
        return "sft", "messages"
    if "text" in row:
        return "pretrain", "text"
    return None


def _shared_prefix(a: tuple[Message, ...], b: tuple[Message, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


class TRL(Format):
    name = "trl"
    wire = _SCHEMA
    kinds = ("sft", "preference", "kto", "pretrain")
    summary = "TRL column sets, conversational: messages; prompt/completion; prompt/chosen/rejected; prompt/completion/label; text"
    cannot_carry = ("message.train/weight", "reasoning parts after other content")
    style: Style = "conversational"
    codec = MessageCodec("hf")

    # -- detection ---------------------------------------------------------------------
    def detect(self, row: Row) -> Detection:
        shape = _shape(row)
        if shape is None:
            return Detection(0.0)
        kind, columns = shape
        lead = row.get("text" if kind == "pretrain" else "messages" if columns == "messages" else "chosen" if kind == "preference" else "prompt")
        conversational = isinstance(lead, list) and (not lead or isinstance(lead[0], dict))
        if not conversational and not isinstance(lead, str):
            return Detection(0.0)
        if columns == "messages" and (not conversational or any(is_v1_message(m) for m in lead)):  # type: ignore[union-attr]
            return Detection(0.0)
        if columns in ("messages", "text"):
            # openai (messages) and alpaca (text) are the usual names for these shapes
            score = 0.8
        else:
            score = 1.0 if conversational == (self.style == "conversational") else 0.95
        return Detection(score, kind, f"keys {columns} ({'conversational' if conversational else 'standard'})")

    def prompt_only(self, row: Row) -> bool:
        """Whether ``row`` is a prompt-only row (``prompt``, no answer): the dataset type of
        TRL's online trainers (GRPO, RLOO), which generate the completions themselves."""
        shape = _shape(row)
        return shape is not None and shape[1] == "prompt (prompt-only)"

    # -- decoding ----------------------------------------------------------------------
    def _turns(self, row: Row, key: str, role: Literal["user", "assistant"], media: Media, issues: list[Issue]) -> tuple[Message, ...]:
        value = row.get(key)
        if isinstance(value, str):
            return (Message(role=role, content=value),)
        return self.codec.decode_list(value, key, media, issues)

    def decode(self, row: Row, source: Source | None = None) -> Record:
        shape = _shape(row)
        if shape is None:
            what = "completion without a prompt" if "completion" in row else "none of text, messages, prompt, chosen/rejected"
            raise c.fail([Issue("missing-field", f"not a TRL row: {what}", field="prompt")], source)
        kind, columns = shape
        extra = {k: v for k, v in row.items() if k not in _COLUMNS}
        if kind == "pretrain":
            text = row["text"]
            if not isinstance(text, str):
                raise c.fail([Issue("wrong-type", "'text' must be a string", field="text")], source)
            return PretrainRecord(text=text, extra=extra, source=source)
        issues: list[Issue] = []
        media = Media(c.media_lists(row, c.MEDIA_COLUMNS, issues))
        tools = c.parse_tools(row.get("tools"), "tools", issues)
        # columns this shape does not use are kept, not lost
        used = {"sft": ("messages", "prompt", "completion"), "preference": ("prompt", "chosen", "rejected"), "kto": ("prompt", "completion", "label")}[kind]
        extra.update({k: row[k] for k in ("text", "messages", "prompt", "completion", "label") if k in row and k not in used})
        record: Record
        if kind == "sft":
            if columns == "messages":
                messages = self.codec.decode_list(row["messages"], "messages", media, issues)
            else:
                messages = self._turns(row, "prompt", "user", media, issues)
                if "completion" in row:
                    messages += self._turns(row, "completion", "assistant", media, issues)
            fields: dict[str, Any] = {"messages": messages}
        elif kind == "preference":
            prompt = self._turns(row, "prompt", "user", media, issues) if "prompt" in row else ()
            chosen = self._turns(row, "chosen", "assistant", media, issues)
            rejected = self._turns(row, "rejected", "assistant", media, issues)
            if "prompt" not in row:
                n = _shared_prefix(chosen, rejected)
                prompt, chosen, rejected = chosen[:n], chosen[n:], rejected[n:]
            fields = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        else:
            label = row["label"]
            if not isinstance(label, bool):
                issues.append(Issue("kto-label", f"'label' must be true or false, got {label!r}", field="label"))
            prompt = self._turns(row, "prompt", "user", media, issues)
            fields = {"prompt": prompt, "completion": self._turns(row, "completion", "assistant", media, issues), "label": label}
        c.check_media_consumed(media.lists, media.cursor, c.MEDIA_COLUMNS, issues)
        if issues:
            raise c.fail(issues, source)
        cls = {"sft": SFTRecord, "preference": PreferenceRecord, "kto": KTORecord}[kind]
        return cls(**fields, tools=tools, extra=extra, source=source)  # type: ignore[return-value]

    # -- encoding ----------------------------------------------------------------------
    def _write(self, messages: tuple[Message, ...], role: str, media: Media, lost: list[str], parts: bool = False) -> Any:
        return self.codec.encode_list(messages, media, lost, parts)

    def encode(self, record: Record) -> tuple[Row, list[str]]:
        lost: list[str] = []
        if isinstance(record, PretrainRecord):
            row: Row = {"text": record.text}
        else:
            media = Media.empty()
            branches = (record.messages,) if isinstance(record, SFTRecord) else (record.prompt, record.chosen, record.rejected) if isinstance(record, PreferenceRecord) else (record.prompt, record.completion)  # type: ignore[union-attr]
            parts = has_media(*branches)

            def w(messages: tuple[Message, ...], role: str, media: Media, lost: list[str]) -> Any:
                return self._write(messages, role, media, lost, parts)

            if isinstance(record, SFTRecord):
                msgs = record.messages
                if self.style == "conversational":
                    # prompt-only rows (no final answer) keep TRL's name for them
                    key = "messages" if msgs and msgs[-1].role == "assistant" else "prompt"
                    row = {key: w(msgs, "user", media, lost)}
                else:
                    split = len(msgs) - 1 if msgs and msgs[-1].role == "assistant" else len(msgs)
                    row = {"prompt": w(msgs[:split], "user", media, lost)}
                    if split < len(msgs):
                        row["completion"] = w(msgs[split:], "assistant", media, lost)
            elif isinstance(record, PreferenceRecord):
                row = {"prompt": w(record.prompt, "user", media, lost)} if (record.prompt or self.style == "conversational") else {}
                row["chosen"] = w(record.chosen, "assistant", media, lost)
                row["rejected"] = w(record.rejected, "assistant", media, lost)
            else:
                assert isinstance(record, KTORecord)
                row = {"prompt": w(record.prompt, "user", media, lost), "completion": w(record.completion, "assistant", media, lost), "label": record.label}
            if record.tools:
                if self.style == "standard":
                    lost.append(LOST_RICH)
                else:
                    row["tools"] = tools_wire(record)
            for modality, urls in media.lists.items():
                row[c.MEDIA_COLUMNS[modality]] = urls
        for key, value in record.extra.items():
            row.setdefault(key, value)
        return row, lost



class TRLStandard(TRL):
    name = "trl-standard"
    summary = "TRL column sets, standard (plain strings): text; prompt/completion; prompt/chosen/rejected; prompt/completion/label"
    cannot_carry = (LOST_TURNS, LOST_RICH, "reasoning parts", "tool result ids/names", "message.train/weight")
    style: Style = "standard"

    def _write(self, messages: tuple[Message, ...], role: str, media: Media, lost: list[str], parts: bool = False) -> Any:
        """One message of the expected role becomes its text; anything else is reported."""
        if len(messages) != 1 or messages[0].role != role:
            lost.append(LOST_TURNS)
        msg = next((m for m in reversed(messages) if m.role == role), None)
        if msg is None:
            return ""
        message_losses(msg, lost)
        if msg.tool_calls or msg.media():
            lost.append(LOST_RICH)
        return msg.text


TRL = register_format(TRL(), "trl-conversational")
TRL_STANDARD = register_format(TRLStandard())
