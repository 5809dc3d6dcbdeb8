"""Safe repairs (``--fix``): each one is reported per record, none changes meaning.

- role aliases: ``human``/``gpt``/``bot``/``model``/... become the format's own role tags;
- trimming: leading/trailing whitespace removed from text content;
- KTO labels: the strings ``"true"``/``"false"`` become booleans;
- tools given as objects (a list or one spec) become the JSON string LLaMA-Factory reads.

Repairs work on the raw row, before decoding, and never mutate the input row.

>>> from sftdata.formats import get_format
>>> row = {"conversations": [{"from": "user", "value": " hi "}, {"from": "bot", "value": "yo"}]}
>>> fixed, repairs = fix_row(row, fix_spec(get_format("sharegpt")))
>>> fixed["conversations"]
[{'from': 'human', 'value': 'hi'}, {'from': 'gpt', 'value': 'yo'}]
>>> [str(r) for r in repairs]
["conversations[0].from [unknown-role] 'user' -> 'human'", 'conversations[0].value [surrounding-whitespace] trimmed', "conversations[1].from [unknown-role] 'bot' -> 'gpt'"]
>>> row["conversations"][0]["value"]
' hi '
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

#: Role spellings seen in the wild -> canonical role.
ROLE_ALIASES: dict[str, str] = {
    "user": "user",
    "human": "user",
    "question": "user",
    "prompter": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "ai": "assistant",
    "answer": "assistant",
    "system": "system",
    "tool": "tool",
    "observation": "tool",
    "ipython": "tool",
    "function": "tool",
}


@dataclass(frozen=True, slots=True)
class Repair:
    """One repair applied to one record: the rule it repairs, where, and what changed."""

    code: str
    field: str
    change: str

    def __str__(self) -> str:
        return f"{self.field} [{self.code}] {self.change}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "change": self.change}


@dataclass(frozen=True)
class FixSpec:
    """Where a format keeps turns, roles, labels and tools."""

    lists: tuple[str, ...] = ("messages",)
    singles: tuple[str, ...] = ()
    role_key: str = "role"
    content_key: str = "content"
    #: canonical role -> the format's tag for it
    tags: dict[str, str] = field(default_factory=lambda: {r: r for r in ("system", "user", "assistant", "tool")})
    known: frozenset[str] = frozenset({"system", "user", "assistant", "tool"})
    text_fields: tuple[str, ...] = ("system",)
    label_keys: tuple[str, ...] = ("label", "kto_tag")
    tools_key: str | None = None


def fix_spec(fmt: Any) -> FixSpec:
    """The fix spec of a format (sharegpt-like formats expose a ``spec``)."""
    s = getattr(fmt, "spec", None)
    if getattr(fmt, "name", "") == "sharegpt" and s is not None:
        tags = {"user": s.user_tag, "assistant": s.assistant_tag, "tool": s.observation_tag, "system": s.system_tag}
        return FixSpec(
            lists=(s.messages,),
            singles=(s.chosen, s.rejected),
            role_key=s.role_tag,
            content_key=s.content_tag,
            tags=tags,
            known=frozenset({*tags.values(), s.function_tag}),
            text_fields=(s.system,),
            label_keys=(s.kto_tag,),
            tools_key=s.tools,
        )
    if getattr(fmt, "name", "") == "alpaca" and s is not None:
        texts = tuple(k for k in (s.system, s.prompt, s.query, s.response, s.chosen, s.rejected) if k)
        return FixSpec(lists=(), text_fields=texts, label_keys=tuple(s.kto_tags), tools_key=s.tools)
    return FixSpec()


def _fix_turn(turn: Any, where: str, spec: FixSpec, repairs: list[Repair]) -> Any:
    if not isinstance(turn, dict):
        return turn
    out = turn
    tag = turn.get(spec.role_key)
    if isinstance(tag, str) and tag not in spec.known:
        canonical = ROLE_ALIASES.get(tag.strip().lower())
        if canonical is not None and canonical in spec.tags:
            out = {**out, spec.role_key: spec.tags[canonical]}
            repairs.append(Repair("unknown-role", f"{where}.{spec.role_key}", f"{tag!r} -> {spec.tags[canonical]!r}"))
    text = turn.get(spec.content_key)
    if isinstance(text, str) and text.strip() and text != text.strip():
        out = {**out, spec.content_key: text.strip()}
        repairs.append(Repair("surrounding-whitespace", f"{where}.{spec.content_key}", "trimmed"))
    return out


def fix_row(row: dict[str, Any], spec: FixSpec) -> tuple[dict[str, Any], list[Repair]]:
    """Apply every safe repair to a copy of ``row``; returns it with the list of repairs."""
    repairs: list[Repair] = []
    out = dict(row)
    for key in spec.lists:
        turns = row.get(key)
        if isinstance(turns, list):
            out[key] = [_fix_turn(t, f"{key}[{i}]", spec, repairs) for i, t in enumerate(turns)]
    for key in spec.singles:
        if isinstance(row.get(key), dict):
            out[key] = _fix_turn(row[key], key, spec, repairs)
    for key in spec.text_fields:
        text = row.get(key)
        if isinstance(text, str) and text.strip() and text != text.strip():
            out[key] = text.strip()
            repairs.append(Repair("surrounding-whitespace", key, "trimmed"))
    for key in spec.label_keys:
        label = row.get(key)
        if isinstance(label, str) and label.strip().lower() in ("true", "false"):
            out[key] = label.strip().lower() == "true"
            repairs.append(Repair("kto-label", key, f"{label!r} -> {str(out[key]).lower()}"))
    tools = row.get(spec.tools_key) if spec.tools_key else None
    if isinstance(tools, (list, dict)) and tools:
        out[spec.tools_key] = orjson.dumps(tools if isinstance(tools, list) else [tools]).decode()  # type: ignore[index]
        repairs.append(Repair("wrong-type", spec.tools_key, "tools given as objects -> JSON string"))  # type: ignore[arg-type]
    return (out if repairs else row), repairs
