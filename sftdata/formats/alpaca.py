"""Alpaca, as LLaMA-Factory reads it: instruction/input/output, system, history.

>>> row = {"instruction": "Translate", "input": "bonjour", "output": "hello", "history": [["hi", "hey"]]}
>>> rec = ALPACA.decode(row)
>>> [(m.role, m.content) for m in rec.messages]
[('user', 'hi'), ('assistant', 'hey'), ('user', 'Translate\\nbonjour'), ('assistant', 'hello')]
>>> ALPACA.encode(rec)[0]
{'instruction': 'Translate', 'input': 'bonjour', 'output': 'hello', 'history': [['hi', 'hey']]}

The user turn's content is ``instruction + "\\n" + input`` (either part left out when
empty): exactly the text LLaMA-Factory feeds the model, and what every other format
receives. The user message also remembers where the input starts
(:attr:`~sftdata.record.Message.input_start`, not part of the record's value), so
encoding back to alpaca writes the two columns as they were read, and the ``alpaca``
chat template can render its ``### Input:`` section. A record from another format has
no such split: its whole user turn goes to ``instruction``, with ``input: ""``.

Kinds: sft; preference (``chosen``/``rejected`` strings, LLaMA-Factory's ``ranking``);
kto (a bool ``kto_tag`` column, ``label`` also accepted); pretrain (a ``text`` column).
Media: ``images``/``videos``/``audios`` lists matched to ``<image>``/``<video>``/``<audio>``
placeholders in history, instruction/input, then output (or chosen, rejected).
Column names are configurable through :class:`AlpacaSpec` (LLaMA-Factory ``columns``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import Issue
from ..record import Kind, KTORecord, Message, Modality, PreferenceRecord, PretrainRecord, Record, SFTRecord, Source
from . import _common as c
from ._pairs import EMPTY_ASSISTANT, message_losses, split_turns
from .base import Detection, Format, Row, register_format


@dataclass(frozen=True)
class AlpacaSpec:
    """Column names (LLaMA-Factory's ``columns``); ``None`` means the column is not used."""

    prompt: str | None = "instruction"
    query: str | None = "input"
    response: str | None = "output"
    history: str | None = "history"
    system: str | None = "system"
    tools: str | None = "tools"
    chosen: str | None = "chosen"
    rejected: str | None = "rejected"
    #: Bool KTO label columns; the first is written. A non-bool value in any column
    #: but the first is treated as an ordinary extra field (``label`` is a common name).
    kto_tags: tuple[str, ...] = ("kto_tag", "label")
    #: Pretraining text column (LLaMA-Factory maps it as ``prompt`` with no response).
    text: str | None = "text"
    media: dict[Modality, str] = field(default_factory=lambda: dict(c.MEDIA_COLUMNS))


# -- wire models: the JSON Schema of a row (decoding is hand-written for speed and messages)
class _Base(BaseModel):
    model_config = ConfigDict(extra="allow")

    system: str | None = Field(None, description="System prompt.")
    history: list[tuple[str, str]] | None = Field(None, description="Earlier [user, assistant] turns, oldest first.")
    tools: str | list[dict[str, Any]] | None = Field(None, description="Function specs, as a JSON string or a list.")
    images: list[str] | None = Field(None, description="Paths or URLs, one per <image> placeholder, in order.")
    videos: list[str] | None = None
    audios: list[str] | None = None


class AlpacaSFT(_Base):
    instruction: str
    input: str = Field("", description='Appended to the instruction after "\\n" when not empty (kept as its own column on a round trip).')
    output: str


class AlpacaPreference(_Base):
    instruction: str
    input: str = ""
    chosen: str
    rejected: str


class AlpacaKTO(_Base):
    instruction: str
    input: str = ""
    output: str
    kto_tag: bool = Field(description="True for a desirable output (`label` is accepted too).")


class AlpacaPretrain(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str


_SCHEMA = TypeAdapter(Union[AlpacaSFT, AlpacaPreference, AlpacaKTO, AlpacaPretrain])


def _opt_str(row: Row, key: str | None, issues: list[Issue]) -> str:
    """A string column that may be absent or null (read as empty)."""
    if key is None:
        return ""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        issues.append(Issue("wrong-type", f"'{key}' must be a string, got {type(value).__name__}", field=key))
        return ""
    return value


class Alpaca(Format):
    name = "alpaca"
    wire = _SCHEMA
    kinds = ("sft", "preference", "kto", "pretrain")
    summary = "instruction/input/output with system and history; chosen/rejected; kto_tag; text"
    cannot_carry = (
        "tool calls and tool results",
        "turns that do not alternate user/assistant",
        "system messages after the first turn",
        "conversations not ending in an assistant turn",
        "media in the system prompt",
        "reasoning parts",
        "tool result ids/names",
        "message.train/weight",
        "multi-message chosen/rejected",
        "multi-message completion",
    )

    def __init__(self, spec: AlpacaSpec | None = None) -> None:
        self.spec = spec or AlpacaSpec()
        s = self.spec
        self._known = {k for k in (s.prompt, s.query, s.response, s.history, s.system, s.tools, s.chosen, s.rejected, s.text) if k}
        self._known.update(s.media.values())

    def with_spec(self, **changes: Any) -> "Alpaca":
        return Alpaca(replace(self.spec, **changes))

    # -- detection ---------------------------------------------------------------------
    def _kto_tag(self, row: Row) -> str | None:
        for i, tag in enumerate(self.spec.kto_tags):
            if tag in row and (i == 0 or isinstance(row[tag], bool)):
                return tag
        return None

    def _is_pretrain(self, row: Row) -> bool:
        s = self.spec
        return s.text is not None and s.text in row and not (s.prompt and s.prompt in row) and not (s.response and s.response in row)

    def detect(self, row: Row) -> Detection:
        s = self.spec
        if self._is_pretrain(row):
            if not isinstance(row[s.text], str):  # type: ignore[index]
                return Detection(0.0)
            # TRL's language-modeling rows look the same; alpaca is LLaMA-Factory's spelling.
            return Detection(0.9, "pretrain", f"key {s.text}")
        if not ((s.prompt and s.prompt in row) or (s.query and s.query in row)):
            return Detection(0.0)
        if s.chosen and s.rejected and s.chosen in row and s.rejected in row:
            if not isinstance(row[s.chosen], str):
                return Detection(0.0)  # chosen/rejected as messages: not alpaca
            return Detection(1.0, "preference", f"keys {s.prompt}/{s.chosen}/{s.rejected}")
        if not (s.response and s.response in row):
            return Detection(0.0)
        kind: Kind = "kto" if self._kto_tag(row) else "sft"
        return Detection(1.0, kind, f"keys {s.prompt}/{s.query}/{s.response}" if s.query in row else f"keys {s.prompt}/{s.response}")

    # -- decoding ----------------------------------------------------------------------
    def decode(self, row: Row, source: Source | None = None) -> Record:
        s = self.spec
        issues: list[Issue] = []
        if self._is_pretrain(row):
            text = row[s.text]  # type: ignore[index]
            if not isinstance(text, str):
                raise c.fail([Issue("wrong-type", f"'{s.text}' must be a string", field=s.text)], source)
            return PretrainRecord(text=text, extra={k: v for k, v in row.items() if k != s.text}, source=source)
        media = c.media_lists(row, s.media, issues)
        cursor: dict[Modality, int] = dict.fromkeys(media, 0)

        def content(text: str) -> Any:
            return c.split_placeholders(text, media, cursor) if media else text

        messages: list[Message] = []
        system = _opt_str(row, s.system, issues)
        if system:
            messages.append(Message(role="system", content=system))
        history = row.get(s.history) if s.history else None
        if history is not None:
            if not isinstance(history, list):
                issues.append(Issue("wrong-type", f"'{s.history}' must be a list of [user, assistant] pairs", field=s.history))
            else:
                for i, pair in enumerate(history):
                    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
                        issues.append(Issue("wrong-type", "a history entry must be a [user, assistant] pair of strings", field=f"{s.history}[{i}]"))
                        continue
                    messages.append(Message(role="user", content=content(pair[0])))
                    messages.append(Message(role="assistant", content=content(pair[1])))
        if not ((s.prompt and s.prompt in row) or (s.query and s.query in row)):
            issues.append(Issue("missing-field", f"no '{s.prompt}' column", field=s.prompt))
        instruction, query = _opt_str(row, s.prompt, issues), _opt_str(row, s.query, issues)
        if query:
            # LLaMA-Factory's text, plus where the input starts so that encode can split it again
            at = c.text_length(instruction, media) + 1 if instruction else 0
            messages.append(Message(role="user", content=content(f"{instruction}\n{query}" if instruction else query), input_start=at))
        else:
            messages.append(Message(role="user", content=content(instruction)))
        tools = c.parse_tools(row.get(s.tools), s.tools, issues) if s.tools else ()
        kto_tag = self._kto_tag(row)
        extra = {k: v for k, v in row.items() if k not in self._known and k != kto_tag}
        if s.chosen and s.rejected and (s.chosen in row or s.rejected in row):
            branches = []
            for key in (s.chosen, s.rejected):
                value = row.get(key)
                if not isinstance(value, str):
                    code = "missing-field" if value is None else "wrong-type"
                    issues.append(Issue(code, f"preference record needs a string '{key}'", field=key))
                    continue
                branches.append((Message(role="assistant", content=content(value)),))
            c.check_media_consumed(media, cursor, s.media, issues)
            if issues:
                raise c.fail(issues, source)
            if s.response and s.response in row:
                extra[s.response] = row[s.response]  # not part of a preference record: kept, not lost
            return PreferenceRecord(prompt=tuple(messages), chosen=branches[0], rejected=branches[1], tools=tools, extra=extra, source=source)
        output = row.get(s.response) if s.response else None
        if not isinstance(output, str):
            code = "missing-field" if output is None else "wrong-type"
            issues.append(Issue(code, f"'{s.response}' must be a string", field=s.response))
            raise c.fail(issues, source)
        answer = Message(role="assistant", content=content(output))
        c.check_media_consumed(media, cursor, s.media, issues)
        if kto_tag is not None:
            label = row[kto_tag]
            if not isinstance(label, bool):
                issues.append(Issue("kto-label", f"'{kto_tag}' must be true or false, got {label!r}", field=kto_tag))
            if issues:
                raise c.fail(issues, source)
            return KTORecord(prompt=tuple(messages), completion=(answer,), label=label, tools=tools, extra=extra, source=source)
        if issues:
            raise c.fail(issues, source)
        messages.append(answer)
        return SFTRecord(messages=tuple(messages), tools=tools, extra=extra, source=source)

    # -- encoding ----------------------------------------------------------------------
    def encode(self, record: Record) -> tuple[Row, list[str]]:
        s = self.spec
        if record.kind not in self.kinds:
            raise self.refuse(record)
        lost: list[str] = []
        row: Row = {}
        if isinstance(record, PretrainRecord):
            if s.text is None:
                raise self.refuse(record)
            row[s.text] = record.text
            for key, value in record.extra.items():
                row.setdefault(key, value)
            return row, lost
        if isinstance(record, SFTRecord):
            convo = record.messages
        elif isinstance(record, KTORecord):
            if len(record.completion) != 1:
                lost.append("multi-message completion")
            convo = record.prompt + record.completion[-1:]
        else:
            if len(record.chosen) != 1 or len(record.rejected) != 1:
                lost.append("multi-message chosen/rejected")
            convo = record.prompt + (record.chosen[-1] if record.chosen else EMPTY_ASSISTANT,)
        system, pairs = split_turns(convo, lost)
        media: dict[Modality, list[str]] = {}
        texts: list[tuple[str, str]] = []
        for user, assistant in pairs:
            message_losses(user, lost)
            message_losses(assistant, lost)
            texts.append((c.join_placeholders(user, media), c.join_placeholders(assistant, media)))
        instruction, output = texts[-1]
        query = ""
        split = pairs[-1][0].split_input()
        if split is not None and s.prompt and s.query:
            # the turn was read as instruction + "\n" + input: write the two columns again
            ignored: dict[Modality, list[str]] = {}  # the media were collected above, in order
            instruction, query = (c.join_content(half, ignored) for half in split)
        row[s.prompt or s.query or "instruction"] = instruction
        if s.query and s.prompt:
            row[s.query] = query
        if isinstance(record, PreferenceRecord):
            rejected = record.rejected[-1] if record.rejected else EMPTY_ASSISTANT
            for msg in (rejected,):
                message_losses(msg, lost)
            row[s.chosen or "chosen"] = output
            row[s.rejected or "rejected"] = c.join_placeholders(rejected, media)
        else:
            row[s.response or "output"] = output
        if isinstance(record, KTORecord):
            row[s.kto_tags[0]] = record.label
        if len(texts) > 1:
            row[s.history or "history"] = [list(t) for t in texts[:-1]]
        if system is not None:
            if system.media():
                lost.append("media in the system prompt")
            row[s.system or "system"] = system.text
        if record.tools:
            row[s.tools or "tools"] = c.dumps([c.tool_spec_dict(t) for t in record.tools])
        for modality, urls in media.items():
            row[s.media[modality]] = urls
        for key, value in record.extra.items():
            row.setdefault(key, value)
        return row, lost

    # -- schema and LLaMA-Factory ------------------------------------------------------

    def dataset_info_entry(self, file_name: str, kind: Kind = "sft", present: Iterable[str] | None = None) -> dict[str, Any]:
        """The LLaMA-Factory entry for a file this codec wrote.

        >>> ALPACA.dataset_info_entry("out.json", "kto")
        {'file_name': 'out.json', 'columns': {'prompt': 'instruction', 'query': 'input', 'response': 'output', 'kto_tag': 'kto_tag'}}
        """
        s = self.spec
        have = set(present or ())
        if kind == "pretrain":
            return {"file_name": file_name, "columns": {"prompt": s.text or "text"}}
        columns: dict[str, str] = {"prompt": s.prompt or "instruction", "query": s.query or "input"}
        entry: dict[str, Any] = {"file_name": file_name}
        if kind == "preference":
            entry["ranking"] = True
            columns.update(chosen=s.chosen or "chosen", rejected=s.rejected or "rejected")
        else:
            columns["response"] = s.response or "output"
        if kind == "kto":
            columns["kto_tag"] = s.kto_tags[0]
        for key, column in (("history", s.history), ("system", s.system), ("tools", s.tools)):
            if column and column in have:
                columns[key] = column
        for modality, column in s.media.items():
            if column in have:
                columns[c.MEDIA_COLUMNS[modality]] = column
        entry["columns"] = columns
        return entry


ALPACA = register_format(Alpaca())
