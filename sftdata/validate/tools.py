"""Tool rules: call arguments are JSON objects, the function is declared, and the
arguments fit its JSON Schema.

The schema check covers what tool specs use in practice (``type`` incl. lists of
types, ``enum``, ``required``, ``properties``, ``items``, ``additionalProperties:
false``); unknown keywords are ignored rather than guessed at.

>>> schema_errors({"city": 3}, {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city", "unit"]})
["missing required property 'unit'", 'city: expected string, got integer']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .checks import Context

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array", type(None): "null"}


def _is(value: Any, name: str) -> bool:
    kinds = _TYPES.get(name)
    if kinds is None:
        return True  # an unknown type name: do not guess
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, kinds)


def schema_errors(value: Any, schema: Any, where: str = "", limit: int = 5) -> list[str]:
    """Where ``value`` breaks ``schema``, as short sentences (at most ``limit``)."""
    out: list[str] = []
    _walk(value, schema, where, out, limit)
    return out[:limit]


def _walk(value: Any, schema: Any, where: str, out: list[str], limit: int) -> None:
    if not isinstance(schema, dict) or len(out) >= limit:
        return
    prefix = f"{where}: " if where else ""
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is(value, n) for n in names if isinstance(n, str)):
            out.append(f"{prefix}expected {' or '.join(map(str, names))}, got {_NAMES.get(type(value), type(value).__name__)}")
            return
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        out.append(f"{prefix}{value!r} is not one of {enum!r}")
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        for name in schema.get("required", []) if isinstance(schema.get("required"), list) else []:
            if name not in value:
                out.append(f"{prefix}missing required property {name!r}")
        for key, item in value.items():
            if key in props:
                _walk(item, props[key], f"{where}.{key}" if where else key, out, limit)
            elif schema.get("additionalProperties") is False:
                out.append(f"{prefix}unexpected property {key!r}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(item, schema["items"], f"{where}[{i}]", out, limit)


def check_tools(ctx: Context) -> None:
    """Arguments are JSON objects, called functions are declared, arguments fit the schema."""
    specs = {spec.name: spec for spec in getattr(ctx.record, "tools", ())}
    for turns in ctx.turns.values():
        for t in turns:
            for j, call in enumerate(t.message.tool_calls):
                where = t.content_path if len(t.message.tool_calls) == 1 else f"{t.content_path}[{j}]"
                args = call.arguments
                if isinstance(args, str):
                    ctx.add("tool-arguments-json", f"arguments of {call.name!r} are not valid JSON: {args[:60]!r}", where)
                    continue
                if not isinstance(args, dict):
                    ctx.add("tool-arguments-json", f"arguments of {call.name!r} must be a JSON object, got {_NAMES.get(type(args), 'value')}", where)
                    continue
                spec = specs.get(call.name)
                if spec is None:
                    declared = ", ".join(sorted(specs)) or "none"
                    ctx.add("undeclared-tool", f"call to {call.name!r}, which `tools` does not declare (declared: {declared})", where)
                    continue
                if spec.parameters:
                    for problem in schema_errors(args, spec.parameters):
                        ctx.add("tool-arguments-schema", f"arguments of {call.name!r}: {problem}", where)


Check = Callable[[Any], bool]


def _true(value: Any) -> bool:
    return True


def _type_check(expected: Any) -> Check | None:
    names = [n for n in (expected if isinstance(expected, list) else [expected]) if isinstance(n, str)]
    if any(n not in _TYPES for n in names):
        return None  # an unknown type name accepts anything (as in _is)
    exact: set[type] = set()
    for n in names:
        exact.update(_TYPES[n] if n != "integer" else (int,))
    # JSON values have exact types, and type(True) is bool, so bools never pass as numbers.
    int_floats = "integer" in names and float not in exact
    if int_floats:
        return lambda v: type(v) in exact or (type(v) is float and v.is_integer())
    return lambda v: type(v) in exact


def compile_schema(schema: Any) -> Check:
    """A predicate equal to ``not schema_errors(value, schema)`` on JSON values, built
    once per schema.

    The fast path checks every tool call of a large file; a compiled closure costs a
    fraction of the interpreted walk.

    >>> ok = compile_schema({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    >>> ok({"n": 3}), ok({"n": "3"}), ok({})
    (True, False, False)
    """
    if not isinstance(schema, dict):
        return _true
    type_ok = _type_check(schema["type"]) if schema.get("type") is not None else None
    enum = schema.get("enum") if isinstance(schema.get("enum"), list) else None
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = list(schema.get("required", [])) if isinstance(schema.get("required"), list) else []
    sub = {k: compile_schema(v) for k, v in props.items()}
    closed = schema.get("additionalProperties") is False
    items = compile_schema(schema["items"]) if isinstance(schema.get("items"), dict) else None

    def check(v: Any) -> bool:
        if type_ok is not None and not type_ok(v):
            return False
        if enum is not None and v not in enum:
            return False
        t = type(v)
        if t is dict:
            for name in required:
                if name not in v:
                    return False
            for key, item in v.items():
                fn = sub.get(key)
                if fn is not None:
                    if not fn(item):
                        return False
                elif closed:
                    return False
        elif t is list and items is not None:
            for x in v:
                if not items(x):
                    return False
        return True

    return check
