"""What part of a record cleaning looks at (a *view*) and how its text is normalised.

A view turns a record into one string; dedup compares these strings, filters measure them.

>>> from sftdata.record import Message, SFTRecord
>>> rec = SFTRecord(messages=(Message(role="user", content="Hi  there"), Message(role="assistant", content="Hello!")))
>>> view_text(rec, "user")
'Hi  there'
>>> normalize(view_text(rec, "record"), frozenset({"whitespace", "case"}))
'user hi there assistant hello!'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Literal

import orjson

from ..record import KTORecord, Message, PreferenceRecord, PretrainRecord, ReasoningPart, Record, SFTRecord, TextPart

View = Literal["record", "prompt", "user", "assistant"]
VIEWS: tuple[View, ...] = ("record", "prompt", "user", "assistant")
Norm = Literal["whitespace", "case", "nfkc"]
NORMS: tuple[Norm, ...] = ("whitespace", "case", "nfkc")


def message_text(message: Message) -> str:
    """Text and reasoning parts, then tool calls as JSON; media parts as ``<image:url>``
    markers so that two records differing only by their image are not equal."""
    if isinstance(message.content, str):
        out = [message.content]
    else:
        out = []
        for part in message.content:
            if isinstance(part, (TextPart, ReasoningPart)):
                out.append(part.text)
            else:
                out.append(f"<{part.type}:{part.url}>")  # type: ignore[union-attr]
    for call in message.tool_calls:
        out.append(f"{call.name} {orjson.dumps(call.arguments, option=orjson.OPT_SORT_KEYS).decode()}")
    return "\n".join(t for t in out if t)


def _tagged(messages: Iterable[Message]) -> list[str]:
    return [f"{m.role}\n{message_text(m)}" for m in messages]


def _messages(record: Record) -> tuple[Message, ...]:
    if isinstance(record, SFTRecord):
        return record.messages
    if isinstance(record, PreferenceRecord):
        return record.prompt + record.chosen + record.rejected
    if isinstance(record, KTORecord):
        return record.prompt + record.completion
    return ()


def _record_view(record: Record) -> str:
    if isinstance(record, PretrainRecord):
        return record.text
    parts = _tagged(_messages(record))
    if isinstance(record, KTORecord):
        parts.append(f"label\n{record.label}")
    if record.tools:  # type: ignore[union-attr]
        parts.append(orjson.dumps([t.model_dump(mode="json") for t in record.tools], option=orjson.OPT_SORT_KEYS).decode())  # type: ignore[union-attr]
    return "\n".join(parts)


def _prompt_view(record: Record) -> str:
    if isinstance(record, PretrainRecord):
        return record.text
    if isinstance(record, SFTRecord):
        msgs = record.messages
        last = max((i for i, m in enumerate(msgs) if m.role == "assistant"), default=len(msgs))
        prompt = msgs[:last]
    else:
        prompt = record.prompt  # type: ignore[union-attr]
    return "\n".join(_tagged(prompt))


def _role_view(role: str) -> Callable[[Record], str]:
    def view(record: Record) -> str:
        if isinstance(record, PretrainRecord):
            return record.text if role == "assistant" else ""
        return "\n".join(message_text(m) for m in _messages(record) if m.role == role)

    return view


# Registry, not an if/elif ladder: a new view is one entry.
_VIEWS: dict[View, Callable[[Record], str]] = {
    "record": _record_view,
    "prompt": _prompt_view,
    "user": _role_view("user"),
    "assistant": _role_view("assistant"),
}


def view_text(record: Record, view: View) -> str:
    """The text of one view of a record.

    ``record``: every message (role, text, tool calls, media) and the tools; extra columns
    such as ids are ignored so that copies with different ids are still duplicates.
    ``prompt``: everything before the last assistant turn (the prompt of preference/KTO
    records). ``user``/``assistant``: those turns' text (both answers of a preference pair).
    Pretrain records: the text (for ``user``, nothing).
    """
    return _VIEWS[view](record)


def normalize(text: str, norms: frozenset[Norm] | set[Norm]) -> str:
    """Apply the chosen normalisations: NFKC first (it can create spaces and case), then
    case folding, then whitespace runs collapsed to one space and the ends stripped."""
    # ASCII is already NFKC (isascii is O(1)); the quick check skips most other text.
    if "nfkc" in norms and not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if "case" in norms:
        text = text.casefold()
    if "whitespace" in norms:
        text = " ".join(text.split())
    return text


def parse_norms(spec: str | Iterable[str] | None, default: frozenset[Norm]) -> frozenset[Norm]:
    """``"whitespace,case"`` or an iterable -> a validated set; ``"none"`` -> empty."""
    from ..errors import UsageError

    if spec is None:
        return default
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if items == ["none"]:
        return frozenset()
    bad = [s for s in items if s not in NORMS]
    if bad:
        raise UsageError(f"unknown normalisation {', '.join(map(repr, bad))}.", remedy=f"Choose from: {', '.join(NORMS)} (comma-separated), or none.")
    return frozenset(items)  # type: ignore[arg-type]


def plain_text(record: Record, view: View) -> str:
    """Like :func:`view_text` but without role names or tools, for measuring text
    (lengths, scripts, patterns): ``record`` is every message's text, one per line."""
    if view != "record":
        return view_text(record, view)
    if isinstance(record, PretrainRecord):
        return record.text
    return "\n".join(message_text(m) for m in _messages(record))
