"""OpenAI preference fine-tuning (DPO): ``input`` / ``preferred_output`` / ``non_preferred_output``.

The JSONL that OpenAI's fine-tuning API takes with ``method: dpo``::

    {"input": {"messages": [{"role": "user", "content": "Capital of France?"}],
               "tools": [], "parallel_tool_calls": true},
     "preferred_output": [{"role": "assistant", "content": "Paris."}],
     "non_preferred_output": [{"role": "assistant", "content": "Lyon."}]}

Messages are spelled as in :mod:`sftdata.formats.openai` (same codec). ``input.tools``
are the record's tools; other ``input`` keys (``parallel_tool_calls``) are kept in the
record's extra field ``input`` and written back into ``input``.

>>> rec = OPENAI_PREFERENCE.decode({"input": {"messages": [{"role": "user", "content": "2+2?"}]},
...     "preferred_output": [{"role": "assistant", "content": "4"}], "non_preferred_output": [{"role": "assistant", "content": "5"}]})
>>> rec.kind, rec.chosen[0].content, rec.rejected[0].content
('preference', '4', '5')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import Issue
from ..record import PreferenceRecord, Record, Source
from . import _common as c
from ._messages import Media, MessageCodec, has_media
from .base import Detection, Format, Row, register_format
from .openai import WireMessage, tools_wire

_OUTPUTS = ("preferred_output", "non_preferred_output")


class _Input(BaseModel):
    model_config = ConfigDict(extra="allow")
    messages: list[WireMessage] = Field(description="The prompt: the conversation up to the last user turn.")
    tools: list[dict[str, Any]] | None = None
    parallel_tool_calls: bool | None = None


class OpenAIPreferenceRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: _Input
    preferred_output: list[WireMessage] = Field(description="The preferred answer (one assistant message).")
    non_preferred_output: list[WireMessage] = Field(description="The answer not preferred (one assistant message).")


_SCHEMA = TypeAdapter(OpenAIPreferenceRow)


class OpenAIPreference(Format):
    name = "openai-preference"
    wire = _SCHEMA
    kinds = ("preference",)
    summary = "OpenAI preference fine-tuning (DPO): input.messages, preferred_output, non_preferred_output"
    cannot_carry = ("reasoning parts after other content", "message weight next to a train flag")
    codec = MessageCodec("openai")
    pairs_tools_by_id = True

    def detect(self, row: Row) -> Detection:
        inp = row.get("input")
        if not isinstance(inp, dict) or "messages" not in inp or not all(k in row for k in _OUTPUTS):
            return Detection(0.0)
        return Detection(1.0, "preference", "keys input.messages/preferred_output/non_preferred_output")

    def decode(self, row: Row, source: Source | None = None) -> Record:
        issues: list[Issue] = []
        inp = row.get("input")
        media = Media(c.media_lists(row, c.MEDIA_COLUMNS, issues))
        if isinstance(inp, dict):
            prompt = self.codec.decode_list(inp.get("messages"), "input.messages", media, issues)
        else:
            issues.append(Issue("missing-field" if inp is None else "wrong-type", "'input' must be an object {messages, tools}", field="input"))
            inp, prompt = {}, ()
        chosen = self.codec.decode_list(row.get("preferred_output"), "preferred_output", media, issues)
        rejected = self.codec.decode_list(row.get("non_preferred_output"), "non_preferred_output", media, issues)
        tools = c.parse_tools(inp.get("tools"), "input.tools", issues)
        c.check_media_consumed(media.lists, media.cursor, c.MEDIA_COLUMNS, issues)
        if issues:
            raise c.fail(issues, source)
        extra = {k: v for k, v in row.items() if k not in ("input", *_OUTPUTS, *c.MEDIA_COLUMNS.values())}
        rest = {k: v for k, v in inp.items() if k not in ("messages", "tools")}
        if rest:
            extra["input"] = rest
        return PreferenceRecord(prompt=prompt, chosen=chosen, rejected=rejected, tools=tools, extra=extra, source=source)

    def encode(self, record: Record) -> tuple[Row, list[str]]:
        if not isinstance(record, PreferenceRecord):
            raise self.refuse(record)
        lost: list[str] = []
        media = Media.empty()
        parts = has_media(record.prompt, record.chosen, record.rejected)
        inp: dict[str, Any] = {"messages": self.codec.encode_list(record.prompt, media, lost, parts)}
        if record.tools:
            inp["tools"] = tools_wire(record)
        extra = dict(record.extra)
        rest = extra.pop("input", None)
        if isinstance(rest, dict):
            for key, value in rest.items():
                inp.setdefault(key, value)
        elif rest is not None:
            extra["input"] = rest  # not ours: kept under its own name below (setdefault skips it)
        row: Row = {
            "input": inp,
            "preferred_output": self.codec.encode_list(record.chosen, media, lost, parts),
            "non_preferred_output": self.codec.encode_list(record.rejected, media, lost, parts),
        }
        for key, value in extra.items():
            row.setdefault(key, value)
        return row, lost


OPENAI_PREFERENCE = register_format(OpenAIPreference(), "openai-dpo", "openai_preference")
