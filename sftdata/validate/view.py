"""A record seen as located turns: each canonical message with its path in the wire spelling.

Rules run on canonical records but must point at the user's file: ``conversations[3].from``,
not ``messages[4].role``. A *path mapper* per format turns (section, index) into wire paths;
formats without one get the canonical spelling (``messages[4].role``).

>>> from sftdata.record import Message, SFTRecord
>>> rec = SFTRecord(messages=(Message(role="user", content="hi"), Message(role="assistant", content="yo")))
>>> [t.role_path for t in turns_of(rec, canonical_paths(rec))["messages"]]
['messages[0].role', 'messages[1].role']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..record import KTORecord, Message, PreferenceRecord, PretrainRecord, SFTRecord

Section = Literal["messages", "prompt", "chosen", "rejected", "completion"]


@dataclass(frozen=True, slots=True)
class Where:
    """Wire paths of one message: the message itself, its role and its content, and
    where the content ends when two fields make it (alpaca's ``instruction`` + ``input``)."""

    path: str
    role: str
    content: str
    content_end: str | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    section: Section
    index: int
    message: Message
    where: Where

    @property
    def path(self) -> str:
        return self.where.path

    @property
    def role_path(self) -> str:
        return self.where.role

    @property
    def content_path(self) -> str:
        return self.where.content


Locate = Callable[[Section, int], Where]
PathMapper = Callable[[Any, dict[str, Any], Any], Locate]

_MAPPERS: dict[str, PathMapper] = {}


def register_paths(format_name: str, mapper: PathMapper) -> None:
    """Register how a format spells message locations: ``mapper(fmt, row, record) -> locate``."""
    _MAPPERS[format_name] = mapper


def canonical_paths(record: Any = None) -> Locate:
    def locate(section: Section, index: int) -> Where:
        base = f"{section}[{index}]"
        return Where(base, f"{base}.role", f"{base}.content")

    return locate


def locator(fmt: Any, row: dict[str, Any] | None, record: Any) -> Locate:
    mapper = _MAPPERS.get(getattr(fmt, "name", ""))
    if mapper is None or row is None:
        return canonical_paths(record)
    return mapper(fmt, row, record)


def sections(record: Any) -> dict[Section, tuple[Message, ...]]:
    if isinstance(record, SFTRecord):
        return {"messages": record.messages}
    if isinstance(record, PreferenceRecord):
        return {"prompt": record.prompt, "chosen": record.chosen, "rejected": record.rejected}
    if isinstance(record, KTORecord):
        return {"prompt": record.prompt, "completion": record.completion}
    assert isinstance(record, PretrainRecord)
    return {}


def turns_of(record: Any, locate: Locate) -> dict[Section, list[Turn]]:
    """Every message of ``record`` by section, with its wire location."""
    return {sec: [Turn(sec, i, m, locate(sec, i)) for i, m in enumerate(msgs)] for sec, msgs in sections(record).items()}


# -- sharegpt ----------------------------------------------------------------------------
def _sharegpt_paths(fmt: Any, row: dict[str, Any], record: Any) -> Locate:
    s = fmt.spec
    system = row.get(s.system)
    offset = 1 if isinstance(system, str) and system else 0
    prompt_len = len(record.prompt) if isinstance(record, (PreferenceRecord, KTORecord)) else 0

    def turn(i: int) -> Where:
        if i < offset:
            return Where(s.system, s.system, s.system)
        base = f"{s.messages}[{i - offset}]"
        return Where(base, f"{base}.{s.role_tag}", f"{base}.{s.content_tag}")

    def locate(section: Section, index: int) -> Where:
        if section in ("messages", "prompt"):
            return turn(index)
        if section == "completion":
            return turn(prompt_len + index)
        key = s.chosen if section == "chosen" else s.rejected
        return Where(key, f"{key}.{s.role_tag}", f"{key}.{s.content_tag}")

    return locate


register_paths("sharegpt", _sharegpt_paths)


# -- openai messages -----------------------------------------------------------------------
def _openai_paths(fmt: Any, row: dict[str, Any], record: Any) -> Locate:
    prompt_len = len(record.prompt) if isinstance(record, (PreferenceRecord, KTORecord)) else 0

    def at(base: str) -> Where:
        return Where(base, f"{base}.role", f"{base}.content")

    def locate(section: Section, index: int) -> Where:
        if section in ("messages", "prompt"):
            return at(f"messages[{index}]")
        if section == "completion":
            return at(f"messages[{prompt_len + index}]")
        return at(f"{section}[{index}]" if isinstance(row.get(section), list) else section)

    return locate


register_paths("openai", _openai_paths)


# -- alpaca ----------------------------------------------------------------------------------
def _alpaca_paths(fmt: Any, row: dict[str, Any], record: Any) -> Locate:
    s = fmt.spec
    system = row.get(s.system) if s.system else None
    offset = 1 if isinstance(system, str) and system else 0
    history = row.get(s.history) if s.history else None
    pairs = len(history) if isinstance(history, list) else 0

    def column(name: str | None) -> Where:
        name = name or "?"
        return Where(name, name, name)

    def turn(i: int) -> Where:
        if i < offset:
            return column(s.system)
        j = i - offset
        if j < 2 * pairs:
            base = f"{s.history}[{j // 2}][{j % 2}]"
            return Where(base, base, base)
        if j == 2 * pairs:
            first = column(s.prompt if s.prompt and row.get(s.prompt) else s.query)
            if s.prompt and s.query and row.get(s.prompt) and row.get(s.query):
                return Where(first.path, first.role, first.content, s.query)
            return first
        return column(s.response)

    def locate(section: Section, index: int) -> Where:
        if section in ("messages", "prompt"):
            return turn(index)
        if section == "completion":
            return column(s.response)
        return column(s.chosen if section == "chosen" else s.rejected)

    return locate


register_paths("alpaca", _alpaca_paths)


# -- TRL column sets ---------------------------------------------------------------------------
def _trl_paths(fmt: Any, row: dict[str, Any], record: Any) -> Locate:
    """``messages[i]``, ``prompt[i]`` then ``completion[j]``, ``chosen[j]``/``rejected[j]``;
    a column holding a plain string (trl-standard) is its own path."""

    def at(key: str, index: int) -> Where:
        if not isinstance(row.get(key), list):
            return Where(key, key, key)
        base = f"{key}[{index}]"
        return Where(base, f"{base}.role", f"{base}.content")

    def count(key: str) -> int:
        value = row.get(key)
        return len(value) if isinstance(value, list) else 1 if isinstance(value, str) else 0

    implicit = isinstance(record, PreferenceRecord) and "prompt" not in row  # prompt = shared head of chosen/rejected
    head = len(record.prompt) if implicit else 0

    def locate(section: Section, index: int) -> Where:
        if section == "messages":
            if "messages" in row:
                return at("messages", index)
            n = count("prompt")
            return at("prompt", index) if index < n else at("completion", index - n)
        if section == "prompt":
            return at("chosen", index) if implicit else at("prompt", index)
        return at(section, head + index)

    return locate


register_paths("trl", _trl_paths)
register_paths("trl-standard", _trl_paths)
