"""ShareGPT, as LLaMA-Factory reads it.

>>> row = {"conversations": [{"from": "human", "value": "<image>Who?"}, {"from": "gpt", "value": "Kane."}],
...        "images": ["1.jpg"]}
>>> rec = SHAREGPT.decode(row)
>>> rec.messages[0].content
(ImagePart(type='image', url='1.jpg'), TextPart(type='text', text='Who?'))
>>> SHAREGPT.encode(rec)[0] == row
True

Kinds: sft (``conversations``), preference (``chosen``/``rejected`` single messages after
the conversation), kto (a bool ``kto_tag`` column; the last turn is the completion).
Column names and role tags are configurable through :class:`ShareGPTSpec`, which is how
LLaMA-Factory's ``dataset_info.json`` entries are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import Issue
from ..record import Kind, KTORecord, Message, Modality, PreferenceRecord, Record, SFTRecord, Source
from . import _common as c
from .base import Detection, Format, Row, register_format


@dataclass(frozen=True)
class ShareGPTSpec:
    """Column names and role tags (LLaMA-Factory's ``columns`` and ``tags``)."""

    messages: str = "conversations"
    system: str = "system"
    tools: str = "tools"
    chosen: str = "chosen"
    rejected: str = "rejected"
    kto_tag: str = "kto_tag"
    media: dict[Modality, str] = field(default_factory=lambda: dict(c.MEDIA_COLUMNS))
    role_tag: str = "from"
    content_tag: str = "value"
    user_tag: str = "human"
    assistant_tag: str = "gpt"
    observation_tag: str = "observation"
    function_tag: str = "function_call"
    system_tag: str = "system"
    ranking: bool = False


# -- wire models (JSON Schema of a row with the default spec) -----------------------------
class _Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: Literal["human", "gpt", "system", "function_call", "observation"] = Field(alias="from")
    value: str = Field(description="Text; <image>/<video>/<audio> mark media; a function_call turn holds JSON {name, arguments}.")


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")
    conversations: list[_Turn]
    system: str | None = None
    tools: str | list[dict[str, Any]] | None = Field(None, description="Function specs, as a JSON string or a list.")
    images: list[str] | None = Field(None, description="Paths or URLs, one per <image> placeholder, in order.")
    videos: list[str] | None = None
    audios: list[str] | None = None


class ShareGPTSFT(_Row):
    pass


class ShareGPTPreference(_Row):
    chosen: _Turn
    rejected: _Turn


class ShareGPTKTO(_Row):
    kto_tag: bool = Field(description="True for a desirable last turn.")


_SCHEMA = TypeAdapter(Union[ShareGPTSFT, ShareGPTPreference, ShareGPTKTO])


class ShareGPT(Format):
    name = "sharegpt"
    wire = _SCHEMA
    kinds = ("sft", "preference", "kto")
    summary = "LLaMA-Factory sharegpt: conversations of {from, value}, system, tools, images/videos/audios"
    cannot_carry = (
        "assistant text next to tool calls",
        "tool call ids",
        "tool result ids/names",
        "reasoning parts",
        "message.train/weight",
        "multi-message chosen/rejected",
    )

    def __init__(self, spec: ShareGPTSpec | None = None) -> None:
        self.spec = spec or ShareGPTSpec()
        s = self.spec
        self._role_of = {
            s.user_tag: "user",
            s.assistant_tag: "assistant",
            s.observation_tag: "tool",
            s.function_tag: "function_call",
            s.system_tag: "system",
        }
        # Precomputed per spec: decode runs once per record on files of millions.
        self._known = frozenset({s.messages, s.system, s.tools, s.chosen, s.rejected, s.kto_tag, *s.media.values()})
        self._media_columns = frozenset(s.media.values())
        self._plain_roles = {tag: role for tag, role in self._role_of.items() if role != "function_call"}

    def with_spec(self, **changes: Any) -> "ShareGPT":
        return ShareGPT(replace(self.spec, **changes))

    # -- detection ---------------------------------------------------------------------
    def detect(self, row: Row) -> Detection:
        s = self.spec
        turns = row.get(s.messages)
        if not isinstance(turns, list) or not turns or not isinstance(turns[0], dict):
            return Detection(0.0)
        if s.role_tag not in turns[0] or s.content_tag not in turns[0]:
            return Detection(0.0)
        kind = "sft"
        if s.chosen in row and s.rejected in row:
            kind = "preference"
        elif isinstance(row.get(s.kto_tag), bool):
            kind = "kto"
        return Detection(1.0, kind, f"keys {s.messages}/{s.role_tag}/{s.content_tag}")

    # -- decoding ----------------------------------------------------------------------
    def _message(self, turn: Any, where: str, media: dict[Modality, list[str]], cursor: dict[Modality, int], issues: list[Issue]) -> Message | None:
        s = self.spec
        if not isinstance(turn, dict):
            issues.append(Issue("wrong-type", "a turn must be an object", field=where))
            return None
        tag = turn.get(s.role_tag)
        value = turn.get(s.content_tag)
        if not isinstance(tag, str) or tag not in self._role_of:
            issues.append(Issue("unknown-role", f"unknown role {tag!r} (expected one of {', '.join(map(repr, self._role_of))})", field=f"{where}.{s.role_tag}"))
            return None
        if not isinstance(value, str):
            issues.append(Issue("wrong-type", f"'{s.content_tag}' must be a string", field=f"{where}.{s.content_tag}"))
            return None
        role = self._role_of[tag]
        if role == "function_call":
            calls = c.parse_calls(value, f"{where}.{s.content_tag}", issues)
            return Message(role="assistant", content="", tool_calls=calls)
        return Message(role=role, content=c.split_placeholders(value, media, cursor))  # type: ignore[arg-type]

    def decode(self, row: Row, source: Source | None = None) -> Record:
        s = self.spec
        issues: list[Issue] = []
        turns = row.get(s.messages)
        if not isinstance(turns, list):
            issues.append(Issue("missing-field" if turns is None else "wrong-type", f"'{s.messages}' must be a list of turns", field=s.messages))
            raise c.fail(issues, source)
        media = c.media_lists(row, s.media, issues) if not self._media_columns.isdisjoint(row) else {}
        cursor: dict[Modality, int] = dict.fromkeys(media, 0)
        messages: list[Message] = []
        system = row.get(s.system)
        if isinstance(system, str) and system:
            messages.append(Message(role="system", content=system))
        elif system not in (None, ""):
            issues.append(Issue("wrong-type", f"'{s.system}' must be a string", field=s.system))
        plain, role_tag, content_tag = self._plain_roles, s.role_tag, s.content_tag
        for i, turn in enumerate(turns):
            # Fast path for the common turn: a known text role, a string, no placeholders.
            if type(turn) is dict:
                tag = turn.get(role_tag)
                role = plain.get(tag) if type(tag) is str else None
                value = turn.get(content_tag)
                if role is not None and type(value) is str and not media and "<" not in value:
                    messages.append(Message(role=role, content=value))
                    continue
            msg = self._message(turn, f"{s.messages}[{i}]", media, cursor, issues)
            if msg is not None:
                messages.append(msg)
        tools = c.parse_tools(row.get(s.tools), s.tools, issues)
        known = self._known
        extra = {k: v for k, v in row.items() if k not in known}
        record: Record
        if s.chosen in row or s.rejected in row:
            branches = []
            for key in (s.chosen, s.rejected):
                turn = row.get(key)
                if turn is None:
                    issues.append(Issue("missing-field", f"preference record has no '{key}'", field=key))
                    continue
                msg = self._message(turn, key, media, cursor, issues)
                if msg is not None:
                    branches.append((msg,))
            c.check_media_consumed(media, cursor, s.media, issues)
            if issues:
                raise c.fail(issues, source)
            record = PreferenceRecord(prompt=tuple(messages), chosen=branches[0], rejected=branches[1], tools=tools, extra=extra, source=source)
        elif s.kto_tag in row:
            label = row[s.kto_tag]
            if not isinstance(label, bool):
                issues.append(Issue("kto-label", f"'{s.kto_tag}' must be true or false, got {label!r}", field=s.kto_tag))
            c.check_media_consumed(media, cursor, s.media, issues)
            if not messages:
                issues.append(Issue("empty-conversation", "a KTO record needs a prompt and a completion", field=s.messages))
            if issues:
                raise c.fail(issues, source)
            record = KTORecord(prompt=tuple(messages[:-1]), completion=(messages[-1],), label=label, tools=tools, extra=extra, source=source)
        else:
            c.check_media_consumed(media, cursor, s.media, issues)
            if issues:
                raise c.fail(issues, source)
            record = SFTRecord(messages=tuple(messages), tools=tools, extra=extra, source=source)
        return record

    # -- encoding ----------------------------------------------------------------------
    def _turn(self, msg: Message, media: dict[Modality, list[str]], lost: list[str]) -> dict[str, str]:
        s = self.spec
        if msg.train is not None or msg.weight is not None:
            lost.append("message.train/weight")
        if msg.role == "assistant" and msg.tool_calls:
            if msg.text:
                lost.append("assistant text next to tool calls")
            if any(call.id for call in msg.tool_calls):
                lost.append("tool call ids")
            calls = [{"name": call.name, "arguments": call.arguments} for call in msg.tool_calls]
            value = c.dumps(calls[0] if len(calls) == 1 else calls)
            return {s.role_tag: s.function_tag, s.content_tag: value}
        tag = {"user": s.user_tag, "assistant": s.assistant_tag, "tool": s.observation_tag, "system": s.system_tag}[msg.role]
        if msg.tool_call_id or msg.name:
            lost.append("tool result ids/names")
        if not isinstance(msg.content, str) and any(p.type == "reasoning" for p in msg.content):
            lost.append("reasoning parts")
        return {s.role_tag: tag, s.content_tag: c.join_placeholders(msg, media)}

    def encode(self, record: Record) -> tuple[Row, list[str]]:
        s = self.spec
        if record.kind not in self.kinds:
            raise self.refuse(record)
        lost: list[str] = []
        media: dict[Modality, list[str]] = {}
        if isinstance(record, SFTRecord):
            head: tuple[Message, ...] = record.messages
        else:
            head = record.prompt
        row: Row = {}
        system = None
        if head and head[0].role == "system":
            system, head = head[0], head[1:]
        turns = [self._turn(m, media, lost) for m in head]
        row[s.messages] = turns
        if isinstance(record, PreferenceRecord):
            for key, branch in ((s.chosen, record.chosen), (s.rejected, record.rejected)):
                if len(branch) != 1:
                    lost.append("multi-message chosen/rejected")
                row[key] = self._turn(branch[-1], media, lost) if branch else {s.role_tag: s.assistant_tag, s.content_tag: ""}
        elif isinstance(record, KTORecord):
            turns.extend(self._turn(m, media, lost) for m in record.completion)
            row[s.kto_tag] = record.label
        if system is not None:
            row[s.system] = c.join_placeholders(system, media)
        if record.tools:
            row[s.tools] = c.dumps([c.tool_spec_dict(t) for t in record.tools])
        for modality, urls in media.items():
            row[s.media[modality]] = urls
        for key, value in record.extra.items():
            row.setdefault(key, value)
        return row, lost


    # -- LLaMA-Factory -----------------------------------------------------------------
    def dataset_info_entry(self, file_name: str, kind: Kind = "sft", present: Iterable[str] | None = None) -> dict[str, Any]:
        """The LLaMA-Factory entry for a file this codec wrote (tags only where they differ
        from LLaMA-Factory's defaults).

        >>> SHAREGPT.dataset_info_entry("d.json", "preference")
        {'file_name': 'd.json', 'formatting': 'sharegpt', 'ranking': True, 'columns': {'messages': 'conversations', 'chosen': 'chosen', 'rejected': 'rejected'}}
        """
        s = self.spec
        have = set(present or ())
        entry: dict[str, Any] = {"file_name": file_name, "formatting": "sharegpt"}
        columns = {"messages": s.messages}
        if kind == "preference":
            entry["ranking"] = True
            columns.update(chosen=s.chosen, rejected=s.rejected)
        elif kind == "kto":
            columns["kto_tag"] = s.kto_tag
        for key, column in (("system", s.system), ("tools", s.tools)):
            if column in have:
                columns[key] = column
        for modality, column in s.media.items():
            if column in have:
                columns[c.MEDIA_COLUMNS[modality]] = column
        entry["columns"] = columns
        default = ShareGPTSpec()
        tags = {t: getattr(s, t) for t in _TAGS if getattr(s, t) != getattr(default, t)}
        if tags:
            entry["tags"] = tags
        return entry


_TAGS = ("role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag")


SHAREGPT = register_format(ShareGPT(), "share_gpt", "llamafactory-sharegpt")
