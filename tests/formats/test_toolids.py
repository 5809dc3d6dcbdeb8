"""Tool-call ids for OpenAI output: deterministic, unique, paired with results in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata
from sftdata.formats import get_format
from sftdata.formats.fastpath import sharegpt_to_openai
from sftdata.formats.toolids import fill_record, fill_wire, pair
from sftdata.record import KTORecord, Message, PreferenceRecord, SFTRecord, ToolCall
from sftdata.formats.rewrite import Rewrite, Steps

from _paths import FIXTURES

SHAREGPT, OPENAI = get_format("sharegpt"), get_format("openai")


def user(text: str = "q") -> Message:
    return Message(role="user", content=text)


def calls(*ids: str | None) -> Message:
    return Message(role="assistant", content="", tool_calls=tuple(ToolCall(name=f"f{k}", arguments={"k": k}, id=i) for k, i in enumerate(ids)))


def result(ident: str | None = None) -> Message:
    return Message(role="tool", content="r", tool_call_id=ident)


def ids(messages: tuple[Message, ...]) -> list[Any]:
    """Per message: its call ids, or its tool_call_id (tool), or None."""
    return [[c.id for c in m.tool_calls] if m.tool_calls else m.tool_call_id for m in messages]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        # one call, one result
        ((user(), calls(None), result(), Message(role="assistant", content="a")), [None, ["call_1_0"], "call_1_0", None]),
        # parallel calls answered in order
        ((user(), calls(None, None), result(), result()), [None, ["call_1_0", "call_1_1"], "call_1_0", "call_1_1"]),
        # existing ids are kept; the id-less result takes the first unanswered call
        ((user(), calls("a", "b"), result("b"), result()), [None, ["a", "b"], "b", "a"]),
        # a call without id adopts its in-order result's id
        ((user(), calls(None), result("r1")), [None, ["r1"], "r1"]),
        # a synthesized id never clashes with one already in the conversation
        ((user(), calls("call_1_0", None), result(), result()), [None, ["call_1_0", "call_1_1"], "call_1_0", "call_1_1"]),
        ((user(), calls(None), result("call_1_0"), user(), calls(None), result()), [None, ["call_1_0"], "call_1_0", None, ["call_4_0"], "call_4_0"]),
        ((user(), calls(None, "call_1_0"), result(), result()), [None, ["call_1_0_2", "call_1_0"], "call_1_0_2", "call_1_0"]),
        # more results than calls: the extra one is left for validate (orphan-tool-result)
        ((user(), calls(None), result(), result()), [None, ["call_1_0"], "call_1_0", None]),
        # a result that follows no call is untouched
        ((user(), result(), Message(role="assistant", content="a")), [None, None, None]),
        # a later call message: indices are message positions
        ((Message(role="system", content="s"), user(), calls(None), result(), Message(role="assistant", content="a"), user(), calls(None, None), result(), result()),
         [None, None, ["call_2_0"], "call_2_0", None, None, ["call_6_0", "call_6_1"], "call_6_0", "call_6_1"]),
    ],
)
def test_fill_sft(messages: tuple[Message, ...], expected: list[Any]) -> None:
    rec = SFTRecord(messages=messages)
    out = fill_record(rec)
    assert ids(out.messages) == expected
    # nothing but the ids changed
    strip = lambda ms: [m.model_copy(update={"tool_call_id": None, "tool_calls": tuple(c.model_copy(update={"id": None}) for c in m.tool_calls)}) for m in ms]  # noqa: E731
    assert strip(out.messages) == strip(rec.messages)
    assert fill_record(out) == out  # idempotent


def test_nothing_to_fill_returns_the_same_record() -> None:
    rec = SFTRecord(messages=(user(), Message(role="assistant", content="a")))
    assert fill_record(rec) is rec
    rec = SFTRecord(messages=(user(), calls("x"), result("x")))
    assert fill_record(rec) is rec


def test_preference_branches_continue_the_prompt() -> None:
    rec = PreferenceRecord(prompt=(user(), calls(None)), chosen=(result(), Message(role="assistant", content="good")), rejected=(result(), Message(role="assistant", content="bad")))
    out = fill_record(rec)
    assert isinstance(out, PreferenceRecord)
    assert (ids(out.prompt), ids(out.chosen), ids(out.rejected)) == ([None, ["call_1_0"]], ["call_1_0", None], ["call_1_0", None])


def test_kto_prompt_and_completion_are_one_conversation() -> None:
    rec = KTORecord(prompt=(user(), calls(None), result()), completion=(Message(role="assistant", content="a"),), label=True)
    out = fill_record(rec)
    assert isinstance(out, KTORecord)
    assert (ids(out.prompt), ids(out.completion)) == ([None, ["call_1_0"], "call_1_0"], [None])


# -- property: pairing ---------------------------------------------------------------------
_id = st.one_of(st.none(), st.sampled_from(["a", "b", "call_1_0", "call_2_1"]))
_slot = st.one_of(
    st.tuples(st.sampled_from(["user", "assistant", "system"]), st.none(), st.none()),
    st.tuples(st.just("assistant"), st.lists(_id, min_size=1, max_size=3).map(tuple), st.none()),
    st.tuples(st.just("tool"), st.none(), _id),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_slot, max_size=10))
def test_pairing_properties(slots: list[Any]) -> None:
    filled = pair(slots) or slots
    assert pair(slots) == pair(slots)  # deterministic
    source_ids = [i for _, cs, t in slots for i in (*(cs or ()), t) if i is not None]
    for i, ((role, cs, t), (role2, cs2, t2)) in enumerate(zip(slots, filled)):
        assert role == role2
        if t is not None:
            assert t2 == t  # a result's id is never changed
        if cs is not None:
            assert cs2 is not None and None not in cs2  # every call has an id
            assert all(a == b for a, b in zip(cs, cs2) if a is not None)  # existing call ids kept
            new = [b for a, b in zip(cs, cs2) if a is None]
            assert len(set(new)) == len(new)
            assert all(b not in cs for b in new)  # no clash within the message
            assert all(b.startswith("call_") or b in source_ids for b in new)
            # the tool messages right after answer these calls: each filled result id names one
            j = i + 1
            while j < len(slots) and slots[j][0] == "tool":
                if slots[j][2] is None and filled[j][2] is not None:
                    assert filled[j][2] in cs2
                j += 1
            block = range(i + 1, j)
            if all(slots[b][2] is None for b in block):
                # no result named a call: the k-th result answers the k-th call
                assert [filled[b][2] for b in block][: len(cs2)] == list(cs2[: len(block)])
    if len(set(source_ids)) == len(source_ids):
        all_calls = [c for _, cs, _ in filled for c in (cs or ())]
        fresh = [c for c in all_calls if c not in source_ids]
        assert len(set(fresh)) == len(fresh)  # synthesized ids are unique in the conversation


# -- fast path == record path ---------------------------------------------------------------
STEPS = Steps(tool_ids=True)


def both_paths(row: dict[str, Any]) -> bool:
    fast = sharegpt_to_openai(row)
    if fast is None:
        return False
    slow, lost = OPENAI.encode(STEPS(SHAREGPT.decode(row)))
    assert not lost
    assert orjson.dumps(STEPS.wire(fast)) == orjson.dumps(slow), row
    return True


def glaive_rows(realdata: Path) -> list[dict[str, Any]]:
    return orjson.loads((realdata / "glaive_toolcall_en_demo.json").read_bytes())  # type: ignore[no-any-return]


def test_fast_path_writes_the_same_ids(realdata: Path) -> None:
    rows = glaive_rows(realdata) + [orjson.loads(line) for line in (FIXTURES / "sharegpt" / "sft.jsonl").read_bytes().splitlines() if line.strip()]
    rows.append({"conversations": [{"from": "human", "value": "both?"}, {"from": "function_call", "value": '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}, "id": "call_1_0"}]'}, {"from": "observation", "value": "1"}, {"from": "observation", "value": "2"}, {"from": "gpt", "value": "ok"}], "system": "s"})
    assert sum(map(both_paths, rows)) >= 290


def check_pairs(path: Path) -> tuple[int, int]:
    """Every tool message's id names a call of the assistant message before its block;
    call ids are unique per conversation. Returns (calls, results) seen."""
    n_calls = n_results = 0
    for line in path.read_bytes().splitlines():
        messages = orjson.loads(line)["messages"]
        seen: list[str] = []
        current: list[str] = []
        for m in messages:
            if m.get("tool_calls"):
                current = [c["id"] for c in m["tool_calls"]]
                assert all(isinstance(i, str) and i for i in current)
                assert all(set(c) == {"id", "type", "function"} and isinstance(c["function"]["arguments"], str) for c in m["tool_calls"])
                seen += current
                n_calls += len(current)
            elif m["role"] == "tool":
                assert m["tool_call_id"] in current, m
                n_results += 1
            else:
                current = []
        assert len(seen) == len(set(seen))
    return n_calls, n_results


def test_glaive_realdata_every_result_has_its_call(realdata: Path, tmp_path: Path) -> None:
    src = tmp_path / "glaive.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in glaive_rows(realdata)))
    serial, parallel, plain = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl", tmp_path / "plain.jsonl"
    result = sftdata.convert(src, serial, to="openai", workers=1)
    assert (result.read, result.written, result.rejected) == (300, 300, 0)
    assert check_pairs(serial) == (211, 211)
    assert sftdata.convert(src, parallel, to="openai", workers=2).written == 300
    assert parallel.read_bytes() == serial.read_bytes()
    # opting out writes what the codec alone writes: calls without ids
    sftdata.convert(src, plain, to="openai", workers=1, rewrite=Rewrite(tool_call_ids=False))
    assert b'"id"' not in plain.read_bytes() and b"tool_call_id" not in plain.read_bytes()
    # the output passes validate's id pairing check
    report = sftdata.validate(serial)
    assert "orphan-tool-result" not in report.rules and report.valid == 300
    # sftdata.write fills them the same way (the Python API and the CLI agree)
    records = list(sftdata.read(src))
    sftdata.write(records, tmp_path / "written.jsonl", "openai")
    assert (tmp_path / "written.jsonl").read_bytes() == serial.read_bytes()
    sftdata.write(records, tmp_path / "written_plain.jsonl", "openai", tool_call_ids=False)
    assert (tmp_path / "written_plain.jsonl").read_bytes() == plain.read_bytes()


def test_other_targets_keep_ids_off_by_default(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(orjson.dumps({"conversations": [{"from": "human", "value": "x"}, {"from": "function_call", "value": '{"name": "f", "arguments": {}}'}, {"from": "observation", "value": "1"}, {"from": "gpt", "value": "y"}]}) + b"\n")
    sftdata.convert(src, tmp_path / "trl.jsonl", to="trl")
    assert b'"id"' not in (tmp_path / "trl.jsonl").read_bytes()
    sftdata.convert(src, tmp_path / "trl2.jsonl", to="trl", rewrite=Rewrite(tool_call_ids=True))
    row = orjson.loads((tmp_path / "trl2.jsonl").read_bytes())
    assert [m.get("tool_call_id") or [c.get("id") for c in m.get("tool_calls", [])] for m in row["messages"]] == [[], ["call_1_0"], "call_1_0", []]


def wire_of(slots: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for role, cs, t in slots:
        m: dict[str, Any] = {"role": role, "content": None if cs else "x"}
        if cs is not None:
            m["tool_calls"] = [{**({"id": c} if c is not None else {}), "type": "function", "function": {"name": "f", "arguments": "{}"}} for c in cs]
        if t is not None:
            m["tool_call_id"] = t
        if role == "tool" and len(out) % 2:
            m["name"] = "f"  # tool_call_id must land before name, as the encoder writes it
        out.append(m)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_slot, max_size=10), st.booleans())
def test_wire_shortcut_equals_general_path(slots: list[Any], strip_ids: bool) -> None:
    if strip_ids:  # the shortcut's case: no id anywhere
        slots = [(r, tuple(None for _ in cs) if cs is not None else None, None) for r, cs, _ in slots]
    fast, general = wire_of(slots), wire_of(slots)
    fill_wire(fast)
    fill_wire(general, shortcut=False)
    assert orjson.dumps(fast) == orjson.dumps(general)
    # and both equal the record path through the openai encoder
    record = OPENAI.decode({"messages": wire_of(slots)})
    encoded, _ = OPENAI.encode(fill_record(record))
    assert orjson.dumps(encoded["messages"]) == orjson.dumps(fast)
