"""Role/content message lists, as OpenAI, TRL and Hugging Face chat templates spell them.

One codec, two spellings (:data:`Style`):

- ``"openai"``: media as content parts that carry their URL (``image_url``,
  ``input_audio``, ``audio_url``, ``video_url``), tool-call ``arguments`` as a JSON
  string, per-message ``weight`` (0/1 -> ``Message.train``, a float -> ``Message.weight``);
- ``"hf"``: the spelling of TRL datasets and ``apply_chat_template``: media as
  ``{"type": "image"}`` parts filled from the row's ``images``/``videos``/``audios``
  columns in order, ``arguments`` as a JSON object.

Both decode either spelling, plus LLaMA-Factory's string content with ``<image>``
placeholders and an ``images`` column. An assistant's leading reasoning part travels
as ``reasoning_content`` (the DeepSeek / vLLM / Qwen3-template field).

>>> codec = MessageCodec("openai")
>>> msg = codec.decode_one({"role": "assistant", "content": None, "tool_calls": [
...     {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]}, "m", Media.empty(), [])
>>> msg.tool_calls[0]
ToolCall(name='f', arguments={'x': 1}, id='c1')
>>> codec.encode_one(msg, Media.empty(), [])
{'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': 'f', 'arguments': '{"x":1}'}}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import Issue
from ..record import MEDIA_PARTS, MODALITIES, Message, Modality, Part, ReasoningPart, TextPart, ToolCall
from . import _common as c

Style = Literal["openai", "hf"]
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
# OpenAI-style URL-carrying part types -> modality
_URL_PARTS: dict[str, Modality] = {"image_url": "image", "video_url": "video", "audio_url": "audio"}
_OUT_URL_PART: dict[Modality, str] = {v: k for k, v in _URL_PARTS.items()}


@dataclass
class Media:
    """The row's media columns and how many items each has consumed so far."""

    lists: dict[Modality, list[str]] = field(default_factory=dict)
    cursor: dict[Modality, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for modality in self.lists:
            self.cursor.setdefault(modality, 0)

    @classmethod
    def empty(cls) -> "Media":
        return cls()

    def take(self, modality: Modality, where: str, issues: list[Issue]) -> str:
        i = self.cursor.get(modality, 0)
        self.cursor[modality] = i + 1
        urls = self.lists.get(modality, [])
        if i >= len(urls):
            issues.append(Issue("media-count", f"more {{'type': '{modality}'}} parts than items in '{c.MEDIA_COLUMNS[modality]}'", field=where))
            return ""
        return urls[i]


def _audio_from_input(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("data"), str):
        return f"data:audio/{value.get('format') or 'wav'};base64,{value['data']}"
    return None


def _url_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return value["url"]
    return None


class MessageCodec:
    """Decode and encode one message in a given :data:`Style`."""

    def __init__(self, style: Style) -> None:
        self.style = style

    # -- decoding ----------------------------------------------------------------------
    def _parts(self, value: list[Any], where: str, media: Media, issues: list[Issue]) -> tuple[Part, ...]:
        parts: list[Part] = []
        for i, part in enumerate(value):
            here = f"{where}[{i}]"
            kind = part.get("type") if isinstance(part, dict) else None
            kind = kind if isinstance(kind, str) else None
            if kind == "text" and isinstance(part.get("text"), str):
                if part["text"]:
                    # placeholders inside a text part (rare, but LLaMA-Factory-made data has them)
                    got = c.split_placeholders(part["text"], media.lists, media.cursor) if media.lists else part["text"]
                    parts.extend((TextPart(text=got),) if isinstance(got, str) else got)
            elif kind in _URL_PARTS:
                url = _url_of(part.get(kind))
                if url is None:
                    issues.append(Issue("wrong-type", f"'{kind}' needs a url", field=here))
                    continue
                parts.append(MEDIA_PARTS[_URL_PARTS[kind]](url=url))
            elif kind == "input_audio":
                url = _audio_from_input(part.get("input_audio"))
                if url is None:
                    issues.append(Issue("wrong-type", "'input_audio' needs {data, format}", field=here))
                    continue
                parts.append(MEDIA_PARTS["audio"](url=url))
            elif kind in MODALITIES:
                inline = next((part[k] for k in ("url", "path", kind) if isinstance(part.get(k), str)), None)
                parts.append(MEDIA_PARTS[kind](url=inline if inline is not None else media.take(kind, here, issues)))  # type: ignore[index]
            else:
                issues.append(Issue("unknown-part", f"unknown content part {part!r:.60}", field=here))
        # adjacent text parts (split by nothing) are one text, as in the canonical spelling
        merged: list[Part] = []
        for p in parts:
            if merged and p.type == "text" and merged[-1].type == "text":
                merged[-1] = TextPart(text=merged[-1].text + p.text)  # type: ignore[union-attr]
            else:
                merged.append(p)
        return tuple(merged)

    def _calls(self, value: Any, where: str, issues: list[Issue]) -> tuple[ToolCall, ...]:
        if not isinstance(value, list):
            issues.append(Issue("invalid-tool-call", "'tool_calls' must be a list", field=where))
            return ()
        calls: list[ToolCall] = []
        for i, call in enumerate(value):
            fn = call.get("function", call) if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                issues.append(Issue("invalid-tool-call", "a tool call needs function.name", field=f"{where}[{i}]"))
                continue
            calls.append(c.tool_call(fn["name"], c.parse_arguments(fn.get("arguments", {})), call.get("id"), f"{where}[{i}]", issues))
        return tuple(calls)

    def decode_one(self, value: Any, where: str, media: Media, issues: list[Issue]) -> Message | None:
        if not isinstance(value, dict):
            issues.append(Issue("wrong-type", "a message must be an object {role, content}", field=where))
            return None
        tag = value.get("role")
        role = _ROLES.get(tag) if isinstance(tag, str) else None
        if role is None:
            issues.append(Issue("unknown-role", f"unknown role {value.get('role')!r} (expected system, user, assistant or tool)", field=f"{where}.role"))
            return None
        raw = value.get("content")
        if type(raw) is str and len(value) == 2 and not (media.lists and "<" in raw):
            return Message(role=role, content=raw)  # type: ignore[arg-type]  # the common {role, content} message
        content: str | tuple[Part, ...]
        if raw is None:
            content = ""
        elif isinstance(raw, str):
            content = c.split_placeholders(raw, media.lists, media.cursor) if media.lists else raw
        elif isinstance(raw, list):
            content = self._parts(raw, f"{where}.content", media, issues)
        else:
            issues.append(Issue("wrong-type", "'content' must be a string or a list of parts", field=f"{where}.content"))
            return None
        reasoning = value.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            body = content if isinstance(content, tuple) else ((TextPart(text=content),) if content else ())
            content = (ReasoningPart(text=reasoning), *body)
        fields: dict[str, Any] = {}
        if "tool_calls" in value and value["tool_calls"] is not None:
            fields["tool_calls"] = self._calls(value["tool_calls"], f"{where}.tool_calls", issues)
        for key in ("tool_call_id", "name"):
            if isinstance(value.get(key), str):
                fields[key] = value[key]
        weight = value.get("weight")
        if weight is not None:
            if isinstance(weight, int) and weight in (0, 1):
                fields["train"] = bool(weight)  # OpenAI fine-tuning: 0 = do not train on this turn
            elif isinstance(weight, float):
                fields["weight"] = weight
            else:
                issues.append(Issue("wrong-type", f"'weight' must be 0, 1 or a float, got {weight!r}", field=f"{where}.weight"))
        return Message(role=role, content=content, **fields)  # type: ignore[arg-type]

    def decode_list(self, value: Any, where: str, media: Media, issues: list[Issue]) -> tuple[Message, ...]:
        if isinstance(value, dict):
            value = [value]  # LLaMA-Factory writes a single chosen/rejected message as an object
        if not isinstance(value, list):
            issues.append(Issue("missing-field" if value is None else "wrong-type", f"'{where}' must be a list of messages", field=where))
            return ()
        out = []
        for i, item in enumerate(value):
            msg = self.decode_one(item, f"{where}[{i}]", media, issues)
            if msg is not None:
                out.append(msg)
        return tuple(out)

    # -- encoding ----------------------------------------------------------------------
    def _encode_part(self, part: Part, media: Media, lost: list[str]) -> dict[str, Any]:
        if part.type == "text":
            return {"type": "text", "text": part.text}  # type: ignore[union-attr]
        if part.type == "reasoning":
            lost.append("reasoning parts after other content")
            return {"type": "text", "text": part.text}  # type: ignore[union-attr]
        modality: Modality = part.type  # type: ignore[assignment]
        url: str = part.url  # type: ignore[union-attr]
        if self.style == "hf":
            media.lists.setdefault(modality, []).append(url)
            return {"type": modality}
        if modality == "audio" and url.startswith("data:audio/") and ";base64," in url:
            fmt, data = url[len("data:audio/") :].split(";base64,", 1)
            return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}
        kind = _OUT_URL_PART[modality]
        return {"type": kind, kind: {"url": url}}

    def encode_one(self, msg: Message, media: Media, lost: list[str], parts: bool = False) -> dict[str, Any]:
        """One message on the wire; ``parts`` writes text content as a list of parts too
        (TRL's convention for every turn of a row that has media)."""
        out: dict[str, Any] = {"role": msg.role}
        content = msg.content
        reasoning: str | None = None
        if isinstance(content, tuple) and content and content[0].type == "reasoning":
            reasoning, content = content[0].text, content[1:]  # type: ignore[union-attr]
            if len(content) == 1 and content[0].type == "text":
                content = content[0].text  # type: ignore[union-attr]
            elif not content:
                content = ""
        if isinstance(content, str):
            if content == "" and msg.tool_calls and self.style == "openai":
                out["content"] = None
            elif parts:
                out["content"] = [{"type": "text", "text": content}] if content else []
            else:
                out["content"] = content
        else:
            out["content"] = [self._encode_part(p, media, lost) for p in content]
        if reasoning is not None:
            out["reasoning_content"] = reasoning
        if msg.tool_calls:
            calls = []
            for call in msg.tool_calls:
                args = call.arguments
                if isinstance(args, str):
                    # decode keeps a non-JSON string verbatim; a string that parses must be quoted
                    if c.parse_arguments(args) is not args:
                        args = c.dumps(args)
                elif self.style == "openai":
                    args = c.dumps(args)
                one: dict[str, Any] = {"id": call.id} if call.id is not None else {}
                one.update(type="function", function={"name": call.name, "arguments": args})
                calls.append(one)
            out["tool_calls"] = calls
        if msg.tool_call_id is not None:
            out["tool_call_id"] = msg.tool_call_id
        if msg.name is not None:
            out["name"] = msg.name
        if self.style == "openai":
            if msg.train is not None and msg.weight is not None:
                lost.append("message weight next to a train flag")
            if msg.train is not None:
                out["weight"] = int(msg.train)
            elif msg.weight is not None:
                out["weight"] = float(msg.weight)
        elif msg.train is not None or msg.weight is not None:
            lost.append("message.train/weight")
        return out

    def encode_list(self, messages: tuple[Message, ...], media: Media, lost: list[str], parts: bool = False) -> list[dict[str, Any]]:
        return [self.encode_one(m, media, lost, parts) for m in messages]


def has_media(*branches: tuple[Message, ...]) -> bool:
    """Whether any message of a record holds a media part: then every turn is written as
    a list of parts. TRL's ``prepare_multimodal_messages`` puts the row's images before
    the first user turn whose content is a string, so a row mixing strings and part
    lists gets more image placeholders than images."""
    return any(not isinstance(m.content, str) and m.media() for branch in branches for m in branch)
