"""Views read straight from wire rows, for the plain rows that make up most datasets.

Dedup and split need only one string per record (its *view*), yet building the validated
record costs more than everything else they do per row (pydantic models for every turn).
For a *plain* row (text turns with known roles, no media, tools or preference/KTO keys)
the view can be read off the row directly. Any other row returns ``None`` and takes the
normal decode path, so errors and rejects are unchanged; a property test asserts that an
accepted row's view equals ``view_text(fmt.decode(row), view)`` exactly.

>>> from sftdata.formats import get_format
>>> fast = raw_view(get_format("sharegpt"), "record")
>>> fast({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}], "system": "Be brief."})
'system\\nBe brief.\\nuser\\nHi\\nassistant\\nYo'
>>> fast({"conversations": [{"from": "human", "value": "<image>Who?"}], "images": ["a.jpg"]}) is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..formats import Format
from .views import View

Row = dict[str, Any]
Turns = list[tuple[str, str]]
RawView = Callable[[Row], "str | None"]


def _sharegpt_turns(fmt: Any) -> Callable[[Row], Turns | None]:
    s = fmt.spec
    roles = {s.user_tag: "user", s.assistant_tag: "assistant", s.observation_tag: "tool", s.system_tag: "system"}
    # Keys that make a row a preference/KTO record or give it media: not plain.
    special = frozenset({s.chosen, s.rejected, s.kto_tag, *s.media.values()})
    messages, system_key, tools_key, role_tag, content_tag = s.messages, s.system, s.tools, s.role_tag, s.content_tag

    def turns(row: Row) -> Turns | None:
        if not special.isdisjoint(row) or row.get(tools_key) not in (None, "", []):
            return None
        convo = row.get(messages)
        if type(convo) is not list:
            return None
        out: Turns = []
        system = row.get(system_key)
        if type(system) is str:
            if system:
                out.append(("system", system))
        elif system is not None:
            return None
        for turn in convo:
            if type(turn) is not dict:
                return None
            tag = turn.get(role_tag)
            role = roles.get(tag) if type(tag) is str else None
            value = turn.get(content_tag)
            # "<" may open a media placeholder, which decoding interprets.
            if role is None or type(value) is not str or "<" in value:
                return None
            out.append((role, value))
        return out

    return turns


# format name -> builder of its plain-row reader; a new format is one entry.
_READERS: dict[str, Callable[[Any], Callable[[Row], Turns | None]]] = {"sharegpt": _sharegpt_turns}


def _record(turns: Turns) -> str:
    return "\n".join(f"{role}\n{text}" for role, text in turns)


def _prompt(turns: Turns) -> str:
    last = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=len(turns))
    return _record(turns[:last])


def _role(name: str) -> Callable[[Turns], str]:
    return lambda turns: "\n".join(text for role, text in turns if role == name)


_VIEWS: dict[View, Callable[[Turns], str]] = {"record": _record, "prompt": _prompt, "user": _role("user"), "assistant": _role("assistant")}


def raw_view(fmt: Format, view: View) -> RawView | None:
    """The ``view`` of a plain row of ``fmt``, or ``None`` for a row that needs decoding;
    ``None`` instead of a function when ``fmt`` has no plain-row reader."""
    build = _READERS.get(fmt.name)
    if build is None:
        return None
    turns_of, of_turns = build(fmt), _VIEWS[view]

    def fast(row: Row) -> str | None:
        turns = turns_of(row)
        return None if turns is None else of_turns(turns)

    return fast
