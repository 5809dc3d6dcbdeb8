"""The sharegpt -> openai fast path equals decode + encode on every row it accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.errors import SftdataError
from sftdata.formats import get_format
from sftdata.formats.fastpath import fast_path, sharegpt_to_openai
from sftdata.formats.rewrite import Steps

from _paths import FIXTURES
from strategies import Carry, records

SHAREGPT, OPENAI = get_format("sharegpt"), get_format("openai")
IDS = Steps(tool_ids=True)


def slow(row: dict[str, Any]) -> dict[str, Any] | None:
    try:
        out, lost = OPENAI.encode(SHAREGPT.decode(row))
    except (SftdataError, ValueError):  # pydantic's ValidationError is a ValueError
        return None
    return out if not lost else None


def check(row: dict[str, Any]) -> bool:
    """True when the fast path took the row (and then matched the slow path exactly)."""
    before = orjson.dumps(row)
    fast = sharegpt_to_openai(row)
    assert orjson.dumps(row) == before  # input untouched
    if fast is None:
        return False
    assert slow(row) is not None, row
    assert orjson.dumps(fast) == orjson.dumps(slow(row)), row  # same keys, same order
    # with convert's default rewrite for openai (tool-call ids), still byte-identical
    filled, _ = OPENAI.encode(IDS(SHAREGPT.decode(row)))
    assert orjson.dumps(IDS.wire(sharegpt_to_openai(row))) == orjson.dumps(filled), row  # type: ignore[arg-type]
    return True


def test_realdata_and_fixtures(realdata: Path) -> None:
    taken = 0
    rows = orjson.loads((realdata / "glaive_toolcall_en_demo.json").read_bytes())
    for path in sorted((FIXTURES / "sharegpt").glob("*.jsonl")):
        rows += [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    for row in rows:
        taken += check(row)
    assert taken >= 290  # nearly all glaive rows are plain


_arg = st.one_of(st.text(max_size=8), st.sampled_from(['{"a": 1}', '"quoted"', "[1, 2]", "not json", "5", "null"]), st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=2), st.integers(-1000, 1000), st.none())
_turn = st.one_of(
    st.fixed_dictionaries({"from": st.one_of(st.sampled_from(["human", "gpt", "observation", "system", "alien"]), st.just(["human"]), st.just({"a": 1}), st.none()), "value": st.one_of(st.text(max_size=10), st.integers(-1000, 1000), st.just("<image>x"))}),
    st.builds(lambda name, args, cid: {"from": "function_call", "value": orjson.dumps({"name": name, "arguments": args, **({"id": cid} if cid is not None else {})}).decode()}, st.one_of(st.text(max_size=5), st.integers(-1000, 1000)), _arg, st.one_of(st.none(), st.text(max_size=3), st.integers(-1000, 1000))),
    st.just({"from": "function_call", "value": "not json"}),
)
_tools = st.one_of(st.none(), st.just(""), st.just("[]"), st.just("{oops"), st.lists(st.fixed_dictionaries({"name": st.one_of(st.text(max_size=4), st.integers(-1000, 1000))}, optional={"description": st.one_of(st.none(), st.text(max_size=4), st.integers(-1000, 1000)), "parameters": st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=2), st.just("x")), "strict": st.booleans()}), max_size=2).map(lambda v: orjson.dumps(v).decode()))


@settings(max_examples=300, deadline=None)
@given(turns=st.lists(_turn, max_size=5), system=st.one_of(st.none(), st.just(""), st.text(max_size=5), st.integers(-1000, 1000)), tools=_tools, extra=st.dictionaries(st.sampled_from(["id", "source", "kto_tag", "images", "meta"]), st.one_of(st.none(), st.text(max_size=3), st.booleans()), max_size=2))
def test_random_rows(turns: list[dict[str, Any]], system: Any, tools: Any, extra: dict[str, Any]) -> None:
    row: dict[str, Any] = {"conversations": turns, **extra}
    if system is not None:
        row["system"] = system
    if tools is not None:
        row["tools"] = tools
    check(row)


@settings(max_examples=100, deadline=None)
@given(records(Carry(tools=True, tool_calls=True, extra=True), kinds=("sft",)))
def test_encoded_records(record: Any) -> None:
    row, _ = SHAREGPT.encode(record)
    check(row)


def test_only_for_the_default_codecs() -> None:
    assert fast_path(SHAREGPT, OPENAI) is sharegpt_to_openai
    assert fast_path(SHAREGPT.with_spec(messages="messages"), OPENAI) is None
    assert fast_path(OPENAI, SHAREGPT) is None
