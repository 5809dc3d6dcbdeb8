"""Helpers shared by format modules: media placeholders, tool specs, issue building."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..errors import Issue, RecordError
from ..record import MEDIA_PARTS, MODALITIES, Message, Modality, Part, Source, TextPart, ToolCall, ToolSpec

PLACEHOLDERS: dict[Modality, str] = {"image": "<image>", "video": "<video>", "audio": "<audio>"}
MEDIA_COLUMNS: dict[Modality, str] = {"image": "images", "video": "videos", "audio": "audios"}
_PLACEHOLDER_RE = re.compile("(<image>|<video>|<audio>)")
_MODALITY_OF = {v: k for k, v in PLACEHOLDERS.items()}


def fail(issues: list[Issue], source: Source | None) -> RecordError:
    return RecordError(issues, path=source.path if source else None, line=source.line if source else None)


def split_placeholders(text: str, media: dict[Modality, list[str]], cursor: dict[Modality, int]) -> str | tuple[Part, ...]:
    """Turn ``"<image>Who?"`` plus the row's media lists into parts, consuming media in order.

    ``cursor`` counts the media already used per modality; callers check afterwards that
    every list was consumed exactly (see :func:`check_media_consumed`).
    """
    if "<" not in text or not _PLACEHOLDER_RE.search(text):
        return text
    parts: list[Part] = []
    for piece in _PLACEHOLDER_RE.split(text):
        if not piece:
            continue
        modality = _MODALITY_OF.get(piece)
        if modality is None or modality not in media:
            parts.append(TextPart(text=piece))
            continue
        i = cursor[modality]
        cursor[modality] = i + 1
        urls = media[modality]
        url = urls[i] if i < len(urls) else ""
        parts.append(MEDIA_PARTS[modality](url=url))
    return tuple(parts)


def text_length(text: str, media: dict[Modality, list[str]]) -> int:
    """Length of ``text`` once :func:`split_placeholders` has turned the placeholders of
    ``media``'s modalities into parts (the length of the decoded message's ``text``)."""
    if "<" not in text:
        return len(text)
    return len(text) - sum(len(p) for p in _PLACEHOLDER_RE.findall(text) if _MODALITY_OF[p] in media)


def media_lists(row: dict[str, Any], columns: dict[Modality, str], issues: list[Issue]) -> dict[Modality, list[str]]:
    """The row's media columns that are present, as lists of strings."""
    out: dict[Modality, list[str]] = {}
    for modality, column in columns.items():
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.append(Issue("wrong-type", f"'{column}' must be a list of paths or URLs", field=column))
            continue
        out[modality] = value
    return out


def check_media_consumed(media: dict[Modality, list[str]], cursor: dict[Modality, int], columns: dict[Modality, str], issues: list[Issue]) -> None:
    for modality, urls in media.items():
        used = cursor.get(modality, 0)
        if used != len(urls):
            issues.append(
                Issue(
                    "media-count",
                    f"{used} {PLACEHOLDERS[modality]} placeholder(s) in the text but {len(urls)} item(s) in '{columns[modality]}'",
                    field=columns[modality],
                )
            )


def join_placeholders(message: Message, media: dict[Modality, list[str]]) -> str:
    """Inverse of :func:`split_placeholders`: parts -> text with placeholders, media appended to ``media``."""
    return join_content(message.content, media)


def join_content(content: str | tuple[Part, ...], media: dict[Modality, list[str]]) -> str:
    """:func:`join_placeholders` of a content (a string or parts, e.g. one half of
    :meth:`~sftdata.record.Message.split_input`)."""
    if isinstance(content, str):
        return content
    out: list[str] = []
    for part in content:
        if part.type == "text":
            out.append(part.text)
        elif part.type in MODALITIES:
            out.append(PLACEHOLDERS[part.type])  # type: ignore[index]
            media.setdefault(part.type, []).append(part.url)  # type: ignore[arg-type, union-attr]
    return "".join(out)


def parse_tools(value: Any, field: str, issues: list[Issue]) -> tuple[ToolSpec, ...]:
    """Tools as a JSON string or list of specs, either bare ``{name, parameters}`` or
    OpenAI's ``{"type": "function", "function": {...}}``."""
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            issues.append(Issue("invalid-json", f"'{field}' is not valid JSON: {exc}", field=field))
            return ()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        issues.append(Issue("wrong-type", f"'{field}' must be a list of function specs", field=field))
        return ()
    specs: list[ToolSpec] = []
    for i, spec in enumerate(value):
        if isinstance(spec, dict) and spec.get("type") == "function" and isinstance(spec.get("function"), dict):
            spec = spec["function"]
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            issues.append(Issue("wrong-type", "a tool spec needs a string 'name'", field=f"{field}[{i}]"))
            continue
        description, parameters = spec.get("description"), spec.get("parameters")
        if not (description is None or isinstance(description, str)) or not (parameters is None or isinstance(parameters, dict)):
            issues.append(Issue("wrong-type", "a tool spec's 'description' must be a string and 'parameters' an object", field=f"{field}[{i}]"))
            continue
        rest = {k: v for k, v in spec.items() if k not in ("name", "description", "parameters")}
        # Values parsed from JSON are JSON values: skip re-validating (often large) schemas.
        specs.append(ToolSpec.model_construct(name=spec["name"], description=description, parameters=parameters, extra=rest))
    return tuple(specs)


def tool_spec_dict(spec: ToolSpec, wrap: bool = False) -> dict[str, Any]:
    """A tool spec as ``{name, description, parameters}``, or with ``wrap`` as OpenAI's
    ``{"type": "function", "function": {...}}``."""
    out: dict[str, Any] = {"name": spec.name}
    if spec.description is not None:
        out["description"] = spec.description
    if spec.parameters is not None:
        out["parameters"] = spec.parameters
    out.update(spec.extra)
    return {"type": "function", "function": out} if wrap else out


def parse_arguments(value: Any) -> Any:
    """Tool-call arguments: a JSON string is parsed; invalid JSON is kept as the raw string."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def parse_calls(value: Any, field: str, issues: list[Issue]) -> tuple[ToolCall, ...]:
    """A sharegpt ``function_call`` value: one ``{name, arguments}`` object or a list of them, as JSON."""
    parsed = parse_arguments(value)
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list) or not parsed:
        issues.append(Issue("invalid-tool-call", "a function call must be a JSON object {name, arguments}", field=field))
        return ()
    calls: list[ToolCall] = []
    for call in parsed:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            issues.append(Issue("invalid-tool-call", "a function call needs a string 'name'", field=field))
            continue
        calls.append(tool_call(call["name"], parse_arguments(call.get("arguments", {})), call.get("id"), field, issues))
    return tuple(calls)


def tool_call(name: str, arguments: Any, ident: Any, field: str, issues: list[Issue]) -> ToolCall:
    """A ToolCall from parsed JSON; built without re-validation (arguments are JSON already)."""
    if ident is not None and not isinstance(ident, str):
        issues.append(Issue("invalid-tool-call", f"a tool call id must be a string, got {ident!r}", field=field))
        ident = None
    return ToolCall.model_construct(name=name, arguments=arguments, id=ident)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
