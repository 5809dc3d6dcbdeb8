"""The fast path only accepts: whatever it accepts, the full engine finds nothing in."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftdata.formats import get_format
from sftdata.validate import validate
from sftdata.validate.engine import Options, Validator
from sftdata.validate.fast import fast_clean, fast_spec
from sftdata.validate.profiles import PROFILES
from sftdata.validate.tools import compile_schema, schema_errors

SHAREGPT = get_format("sharegpt")
TOOLS = [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}, "u": {"type": "string", "enum": ["a", "b"]}}, "required": ["x"]}}]
texts = st.one_of(st.sampled_from(["hi", "ok.", " pad", "pad ", "", "  ", "\u3000x", "a\nb"]), st.text(max_size=6))
calls = st.sampled_from(['{"name": "f", "arguments": {"x": 1}}', '{"name": "f", "arguments": {"x": "1"}}', '{"name": "g", "arguments": {}}', '{"name": "f", "arguments": "{\\"x\\": 2, \\"u\\": \\"a\\"}"}', "nope", '{"name": "f", "arguments": {"x": 1, "u": "c"}}', '[{"name": "f", "arguments": {"x": 1}}]'])
turn = st.one_of(
    st.builds(lambda tag, v: {"from": tag, "value": v}, st.sampled_from(["human", "gpt", "gpt", "human", "observation", "system", "bot"]), texts),
    st.builds(lambda v: {"from": "function_call", "value": v}, calls),
    st.just({"from": "human", "value": "q", "x": 1}),
)
row = st.fixed_dictionaries(
    {"conversations": st.lists(turn, min_size=0, max_size=7)},
    optional={"system": texts, "tools": st.sampled_from([json.dumps(TOOLS), "", "[]", TOOLS, "{bad"]), "images": st.just(["a.png"]), "extra": st.just(1)},
)


@settings(max_examples=400, deadline=None)
@given(row=row)
def test_fast_accept_implies_no_issue_under_every_profile(row: dict) -> None:
    for profile in PROFILES.values():
        validator = Validator(SHAREGPT, Options(profile=profile, max_chars=40))
        fs = fast_spec(validator)
        assert fs is not None
        if fast_clean(row, fs):
            assert validator.check_row(row, None).issues == ()


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3)), lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "c"]), c, max_size=3)), max_leaves=8)
type_names = st.sampled_from(["string", "integer", "number", "boolean", "object", "array", "null", "weird"])
schemas = st.recursive(
    st.fixed_dictionaries({}, optional={"type": st.one_of(type_names, st.lists(type_names, max_size=2)), "enum": st.lists(json_values, max_size=3)}),
    lambda c: st.fixed_dictionaries({}, optional={"type": type_names, "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), c, max_size=2), "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2), "items": c, "additionalProperties": st.booleans()}),
    max_leaves=5,
)


@settings(max_examples=400, deadline=None)
@given(value=json_values, schema=schemas)
def test_compiled_schema_equals_the_interpreted_walk(value: object, schema: dict) -> None:
    assert compile_schema(schema)(value) == (not schema_errors(value, schema, limit=1000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=30), workers=st.sampled_from([1, 2]))
def test_fast_and_full_paths_report_the_same(tmp_path_factory, rows: list[dict], workers: int) -> None:
    d = tmp_path_factory.mktemp("f")
    src = d / "in.jsonl"
    lines = [json.dumps(r) for r in rows]
    src.write_text("".join(x + "\n" for x in lines[:5] + lines[:3] + [""] + lines[5:]))  # duplicates and a blank line
    fast = validate(src, format="sharegpt", workers=workers, locations=1000, output=d / "a.jsonl", rejects=d / "ra.jsonl", check_media=False)
    full = validate(src, format="sharegpt", fix=False, locations=1000, check_media=False, max_chars=100_000, output=d / "b.jsonl", rejects=d / "rb.jsonl", fast=False)
    assert fast.to_dict() == full.to_dict()
    assert (d / "a.jsonl").read_bytes() == (d / "b.jsonl").read_bytes()
    assert (d / "ra.jsonl").read_bytes() == (d / "rb.jsonl").read_bytes()
