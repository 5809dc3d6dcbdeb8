"""Row-to-row fast paths for the conversions people run on millions of rows.

``convert`` decodes every row into a validated, frozen record and encodes it again;
building the pydantic models costs most of the time. For a *plain* row (one whose every
value is of the expected type and holds nothing the slow path would question) a fast
path maps the wire row straight to the target's wire row. It returns ``None`` for any
other row, which then takes the normal decode/encode path, so errors, rejects and loss
reports are unchanged. A property test asserts the fast path's output equals
``target.encode(source.decode(row))`` on every row it accepts.

convert's record rewrites (:mod:`sftdata.formats.rewrite`) apply to fast-path rows through
``Steps.wire``; fast paths never accept a row with media (columns or placeholders), so
media path rewriting only ever sees records.

>>> fast = fast_path(get_format("sharegpt"), get_format("openai"))
>>> fast({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}], "system": "Be brief."})
{'messages': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}]}
>>> fast({"conversations": [{"from": "human", "value": "<image>Who?"}], "images": ["a.jpg"]}) is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .base import Format, Row, get_format

FastPath = Callable[[Row], "Row | None"]

_SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "observation": "tool", "system": "system"}
# Keys whose presence means a kind or media the fast path does not handle.
_SHAREGPT_SPECIAL = frozenset({"chosen", "rejected", "kto_tag", "images", "videos", "audios"})
_SHAREGPT_KNOWN = frozenset({"conversations", "system", "tools"})
_loads = orjson.loads
_JSONError = orjson.JSONDecodeError


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tools(value: Any) -> list[dict[str, Any]] | None:
    """``tools`` as the openai codec writes them, or None when not plain."""
    if isinstance(value, str):
        try:
            value = _loads(value)
        except _JSONError:
            return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    out = []
    for spec in value:
        if isinstance(spec, dict) and spec.get("type") == "function" and isinstance(spec.get("function"), dict):
            spec = spec["function"]
        if not isinstance(spec, dict):
            return None
        name, description, parameters = spec.get("name"), spec.get("description"), spec.get("parameters")
        if not isinstance(name, str) or not (description is None or isinstance(description, str)) or not (parameters is None or isinstance(parameters, dict)):
            return None
        wire: dict[str, Any] = {"name": name}
        if description is not None:
            wire["description"] = description
        if parameters is not None:
            wire["parameters"] = parameters
        for key, item in spec.items():
            if key not in ("name", "description", "parameters"):
                wire[key] = item
        out.append({"type": "function", "function": wire})
    return out


def _parsed(value: Any) -> Any:
    """Tool-call arguments as the record keeps them (``_common.parse_arguments``)."""
    if isinstance(value, str):
        try:
            return _loads(value)
        except _JSONError:
            return value
    return value


def _arguments(value: Any) -> str:
    """What the openai codec writes for a call's ``arguments`` as read by sharegpt."""
    args = _parsed(value)
    if isinstance(args, str):
        # a string that would parse as JSON must be quoted to survive the round trip
        return _dumps(args) if _parsed(args) is not args else args
    return _dumps(args)


def _calls(value: str) -> list[dict[str, Any]] | None:
    try:
        parsed = _loads(value)
    except _JSONError:
        return None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list) or not parsed:
        return None
    calls = []
    for call in parsed:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            return None
        one: dict[str, Any] = {"id": call_id} if call_id is not None else {}
        one.update(type="function", function={"name": call["name"], "arguments": _arguments(call.get("arguments", {}))})
        calls.append(one)
    return calls


def sharegpt_to_openai(row: Row) -> Row | None:
    """A plain sharegpt SFT row (text turns, function calls, tools, extra keys) as openai."""
    if not _SHAREGPT_SPECIAL.isdisjoint(row):
        return None
    turns = row.get("conversations")
    if type(turns) is not list or not turns:
        return None
    messages: list[dict[str, Any]] = []
    system = row.get("system")
    if system is not None:
        if type(system) is not str:
            return None
        if system:
            if "<" in system:
                return None
            messages.append({"role": "system", "content": system})
    roles = _SHAREGPT_ROLES
    for turn in turns:
        if type(turn) is not dict:
            return None
        value = turn.get("value")
        if type(value) is not str:
            return None
        tag = turn.get("from")
        role = roles.get(tag) if type(tag) is str else None  # a list is unhashable
        if role is not None:
            if "<" in value:
                return None  # possible media placeholder: the slow path decides
            messages.append({"role": role, "content": value})
        elif tag == "function_call":
            calls = _calls(value)
            if calls is None:
                return None
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        else:
            return None
    out: Row = {"messages": messages}
    tools = row.get("tools")
    if tools not in (None, "", []):
        wire = _tools(tools)
        if wire is None:
            return None
        if wire:
            out["tools"] = wire
    for key, value in row.items():
        if key not in _SHAREGPT_KNOWN:
            out.setdefault(key, value)
    return out


_FAST: dict[tuple[str, str], FastPath] = {("sharegpt", "openai"): sharegpt_to_openai}


def fast_path(source: Format, target: Format) -> FastPath | None:
    """The fast path between two formats, when both are the registered default codecs
    (a configured codec, e.g. from a ``dataset_info.json`` entry, has none)."""
    fn = _FAST.get((source.name, target.name))
    if fn is None or source is not get_format(source.name) or target is not get_format(target.name):
        return None
    return fn


__all__ = ["fast_path", "sharegpt_to_openai"]
