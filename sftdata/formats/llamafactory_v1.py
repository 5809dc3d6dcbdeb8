"""LLaMA-Factory v1 data files: messages of typed content blocks.

LLaMA-Factory's v1 engine (``llamafactory.v1``) reads rows whose every message holds a
list of ``{"type", "value"}`` blocks and an optional per-message ``loss_weight``::

    {"messages": [{"role": "user", "content": [{"type": "text", "value": "hi"}], "loss_weight": 0.0},
                  {"role": "assistant", "content": [{"type": "reasoning", "value": "Greet back."},
                                                    {"type": "text", "value": "Hello!"}], "loss_weight": 1.0}],
     "tools": "[...JSON string...]"}
    {"chosen_messages": [...], "rejected_messages": [...]}          # v1 DPO

Block types: ``text``, ``reasoning``, ``tool_call`` (a JSON string ``{"name", "arguments"}``),
``image_url`` / ``video_url`` / ``audio_url`` (a path or URL). Roles: system, user,
assistant, tool. A DPO row spells both conversations in full: the prompt is the messages
they share, up to the last shared user turn (what LLaMA-Factory's renderer leaves
untrained on both sides).

``loss_weight`` (LLaMA-Factory trains only assistant turns, with the weight as a factor,
default 1.0): on an assistant turn ``1.0``/``0.0`` is ``Message.train`` True/False and
another number ``Message.weight``; on other turns ``0.0`` (what LLaMA-Factory's own
converters write there) is the default and reads as no flag. sftdata writes
``loss_weight`` only where the record has a flag or a weight.

>>> row = {"messages": [{"role": "user", "content": [{"type": "text", "value": "2+2?"}], "loss_weight": 0.0},
...     {"role": "assistant", "content": [{"type": "text", "value": "4"}], "loss_weight": 1.0}]}
>>> rec = LLAMAFACTORY_V1.decode(row)
>>> [(m.role, m.content, m.train) for m in rec.messages]
[('user', '2+2?', None), ('assistant', '4', True)]
>>> LLAMAFACTORY_V1.encode(rec)[0]["messages"][1]
{'role': 'assistant', 'content': [{'type': 'text', 'value': '4'}], 'loss_weight': 1.0}
"""

from __future__ import annotations

import json
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import Issue
from ..record import MEDIA_PARTS, Message, Modality, Part, PreferenceRecord, ReasoningPart, Record, SFTRecord, Source, TextPart, ToolCall
from . import _common as c
from .base import Detection, Format, Row, register_format

_ROLES = ("system", "user", "assistant", "tool")
_MEDIA: dict[str, Modality] = {"image_url": "image", "video_url": "video", "audio_url": "audio"}
_MEDIA_OUT: dict[Modality, str] = {v: k for k, v in _MEDIA.items()}
BLOCK_TYPES = ("text", "reasoning", "tool_call", *_MEDIA)
LOST_IDS = "tool call ids"
LOST_RESULT_IDS = "tool result ids/names"
LOST_BOTH = "message weight next to a train flag"
_COLUMNS = ("messages", "chosen_messages", "rejected_messages", "tools")


# -- wire models (JSON Schema) -------------------------------------------------------------
class _Block(BaseModel):
    type: Literal["text", "reasoning", "tool_call", "image_url", "video_url", "audio_url"]
    value: str = Field(description='Text; for tool_call a JSON string {"name", "arguments"}; for *_url a path or URL.')


class V1Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant", "tool"]
    content: list[_Block]
    loss_weight: float | None = Field(None, description="Assistant turns: 0 = not trained, 1 = trained, else a loss factor (default 1.0).")


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")
    tools: str | None = Field(None, description='JSON string: [{"type": "function", "function": {name, description, parameters}}]')
    extra_info: str | None = None


class V1SFT(_Row):
    messages: list[V1Message]


class V1DPO(_Row):
    chosen_messages: list[V1Message] = Field(description="The whole conversation ending in the chosen answer.")
    rejected_messages: list[V1Message] = Field(description="The same prompt ending in the rejected answer.")


_SCHEMA = TypeAdapter(Union[V1SFT, V1DPO])


def is_v1_message(msg: Any) -> bool:
    """Whether a wire message is spelled as v1 blocks (``value``, not OpenAI's ``text``) or
    carries a ``loss_weight``: OpenAI-style readers cannot decode it."""
    if not isinstance(msg, dict):
        return False
    if "loss_weight" in msg:
        return True
    content = msg.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and "value" in p and p.get("type") in BLOCK_TYPES for p in content)


# -- decoding ----------------------------------------------------------------------------
def _blocks(value: Any, where: str, issues: list[Issue]) -> tuple[list[Part], list[ToolCall]]:
    parts: list[Part] = []
    calls: list[ToolCall] = []
    if not isinstance(value, list):
        issues.append(Issue("wrong-type", "'content' must be a list of {type, value} blocks", field=where))
        return parts, calls
    for i, block in enumerate(value):
        here = f"{where}[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        text = block.get("value") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            issues.append(Issue("unknown-part", f"unknown content block {block!r:.60} (types: {', '.join(BLOCK_TYPES)})", field=here))
            continue
        if not isinstance(text, str):
            issues.append(Issue("wrong-type", f"a {kind} block needs a string 'value'", field=f"{here}.value"))
            continue
        if kind == "text":
            if text:
                if parts and isinstance(parts[-1], TextPart):
                    parts[-1] = TextPart(text=parts[-1].text + text)  # one text, as in the canonical spelling
                else:
                    parts.append(TextPart(text=text))
        elif kind == "reasoning":
            parts.append(ReasoningPart(text=text))
        elif kind == "tool_call":
            call = c.parse_arguments(text)
            # LLaMA-Factory's renderer needs both keys ("tool_call must be a JSON object with 'name' and 'arguments'")
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or "arguments" not in call:
                issues.append(Issue("invalid-tool-call", 'a tool_call block must be a JSON string {"name": ..., "arguments": {...}}', field=here))
                continue
            calls.append(c.tool_call(call["name"], c.parse_arguments(call["arguments"]), call.get("id"), here, issues))
        else:
            parts.append(MEDIA_PARTS[_MEDIA[kind]](url=text))
    return parts, calls


def _flags(role: str, weight: Any, where: str, issues: list[Issue]) -> dict[str, Any]:
    if weight is None:
        return {}
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        issues.append(Issue("wrong-type", f"'loss_weight' must be a number >= 0, got {weight!r}", field=f"{where}.loss_weight"))
        return {}
    if weight == 0:
        return {"train": False} if role == "assistant" else {}
    if weight == 1:
        return {"train": True}
    return {"weight": float(weight)}


def decode_message(value: Any, where: str, issues: list[Issue]) -> Message | None:
    if not isinstance(value, dict):
        issues.append(Issue("wrong-type", "a message must be an object {role, content}", field=where))
        return None
    role = value.get("role")
    if role not in _ROLES:
        issues.append(Issue("unknown-role", f"unknown role {role!r} (expected system, user, assistant or tool)", field=f"{where}.role"))
        return None
    parts, calls = _blocks(value.get("content"), f"{where}.content", issues)
    fields = _flags(role, value.get("loss_weight"), where, issues)
    return Message(role=role, content=tuple(parts), tool_calls=tuple(calls), **fields)


def decode_messages(value: Any, where: str, issues: list[Issue]) -> tuple[Message, ...]:
    if not isinstance(value, list):
        issues.append(Issue("missing-field" if value is None else "wrong-type", f"'{where}' must be a list of messages", field=where))
        return ()
    out = (decode_message(m, f"{where}[{i}]", issues) for i, m in enumerate(value))
    return tuple(m for m in out if m is not None)


def split_pair(chosen: tuple[Message, ...], rejected: tuple[Message, ...]) -> tuple[tuple[Message, ...], tuple[Message, ...], tuple[Message, ...]]:
    """``(prompt, chosen, rejected)`` of two whole conversations: the prompt is their
    shared leading messages up to and including the last shared user turn."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    while n and chosen[n - 1].role != "user":
        n -= 1
    return chosen[:n], chosen[n:], rejected[n:]


# -- encoding ----------------------------------------------------------------------------
def encode_message(msg: Message, lost: list[str]) -> dict[str, Any]:
    blocks: list[dict[str, str]] = []
    for part in msg.parts:
        if isinstance(part, (TextPart, ReasoningPart)):
            blocks.append({"type": part.type, "value": part.text})
        else:
            blocks.append({"type": _MEDIA_OUT[part.type], "value": part.url})  # type: ignore[index, union-attr]
    for call in msg.tool_calls:
        if call.id is not None:
            lost.append(LOST_IDS)
        blocks.append({"type": "tool_call", "value": json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)})
    if msg.tool_call_id is not None or msg.name is not None:
        lost.append(LOST_RESULT_IDS)
    out: dict[str, Any] = {"role": msg.role, "content": blocks}
    if msg.train is not None and msg.weight is not None:
        lost.append(LOST_BOTH)
    if msg.train is not None:
        out["loss_weight"] = 1.0 if msg.train else 0.0
    elif msg.weight is not None:
        out["loss_weight"] = float(msg.weight)
    return out


class LlamaFactoryV1(Format):
    name = "llamafactory-v1"
    wire = _SCHEMA
    kinds = ("sft", "preference")
    summary = "LLaMA-Factory v1: messages of {type, value} blocks (text, reasoning, tool_call, *_url), loss_weight; chosen_messages/rejected_messages"
    cannot_carry = (LOST_IDS, LOST_RESULT_IDS, LOST_BOTH)

    def detect(self, row: Row) -> Detection:
        key = "messages" if "messages" in row else "chosen_messages" if "chosen_messages" in row and "rejected_messages" in row else None
        msgs = row.get(key) if key else None
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and "role" in m for m in msgs):
            return Detection(0.0)
        if not any(is_v1_message(m) for m in msgs):
            return Detection(0.0)
        kind: Any = "sft" if key == "messages" else "preference"
        return Detection(1.0, kind, f"keys {key}/role/content blocks {{type, value}}")

    def decode(self, row: Row, source: Source | None = None) -> Record:
        issues: list[Issue] = []
        tools = c.parse_tools(row.get("tools"), "tools", issues)
        extra = {k: v for k, v in row.items() if k not in _COLUMNS}
        record: Record
        if "chosen_messages" in row or "rejected_messages" in row:
            chosen = decode_messages(row.get("chosen_messages"), "chosen_messages", issues)
            rejected = decode_messages(row.get("rejected_messages"), "rejected_messages", issues)
            if "messages" in row:
                extra["messages"] = row["messages"]
            if issues:
                raise c.fail(issues, source)
            prompt, chosen, rejected = split_pair(chosen, rejected)
            record = PreferenceRecord(prompt=prompt, chosen=chosen, rejected=rejected, tools=tools, extra=extra, source=source)
        else:
            messages = decode_messages(row.get("messages"), "messages", issues)
            if issues:
                raise c.fail(issues, source)
            record = SFTRecord(messages=messages, tools=tools, extra=extra, source=source)
        return record

    def encode(self, record: Record) -> tuple[Row, list[str]]:
        if record.kind not in self.kinds:
            raise self.refuse(record)
        lost: list[str] = []
        if isinstance(record, SFTRecord):
            row: Row = {"messages": [encode_message(m, lost) for m in record.messages]}
        else:
            assert isinstance(record, PreferenceRecord)
            row = {
                "chosen_messages": [encode_message(m, lost) for m in record.prompt + record.chosen],
                "rejected_messages": [encode_message(m, lost) for m in record.prompt + record.rejected],
            }
        if record.tools:
            row["tools"] = json.dumps([c.tool_spec_dict(t, wrap=True) for t in record.tools], ensure_ascii=False)
        for key, value in record.extra.items():
            row.setdefault(key, value)
        return row, lost


LLAMAFACTORY_V1 = register_format(LlamaFactoryV1(), "lf-v1", "llamafactory_v1", "v1")
