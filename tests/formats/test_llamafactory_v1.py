"""LLaMA-Factory v1 content-block files: decode, encode, detection, loss weights."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings

from strategies import Carry, records

import sftdata
from sftdata.detect import detect_rows
from sftdata.formats import get_format
from sftdata.record import ImagePart, Message, PreferenceRecord, ReasoningPart, SFTRecord, TextPart, ToolCall, ToolSpec

V1 = get_format("llamafactory-v1")


def block(kind: str, value: str) -> dict[str, str]:
    return {"type": kind, "value": value}


def test_reasoning_tool_call_and_tool_turns() -> None:
    call = json.dumps({"name": "circle_area", "arguments": {"radius": 2}})
    tools = json.dumps([{"type": "function", "function": {"name": "circle_area", "parameters": {"type": "object"}}}])
    row = {
        "messages": [
            {"role": "user", "content": [block("text", "Area?")]},
            {"role": "assistant", "content": [block("reasoning", "Use the tool."), block("tool_call", call)]},
            {"role": "tool", "content": [block("text", "12.566")]},
            {"role": "assistant", "content": [block("text", "About 12.57.")]},
        ],
        "tools": tools,
        "extra_info": "x",
    }
    rec = V1.decode(row)
    assert rec == SFTRecord(
        messages=(
            Message(role="user", content="Area?"),
            Message(role="assistant", content=(ReasoningPart(text="Use the tool."),), tool_calls=(ToolCall(name="circle_area", arguments={"radius": 2}),)),
            Message(role="tool", content="12.566"),
            Message(role="assistant", content="About 12.57."),
        ),
        tools=(ToolSpec(name="circle_area", parameters={"type": "object"}),),
        extra={"extra_info": "x"},
    )
    assert V1.encode(rec) == (row, [])


def test_loss_weight_on_each_role() -> None:
    row = {
        "messages": [
            {"role": "system", "content": [block("text", "s")], "loss_weight": 0.0},
            {"role": "user", "content": [block("image_url", "a.jpg"), block("text", "q")], "loss_weight": 0.0},
            {"role": "assistant", "content": [block("text", "a")], "loss_weight": 0.0},
            {"role": "user", "content": [block("text", "q2")]},
            {"role": "assistant", "content": [block("text", "b")], "loss_weight": 0.25},
            {"role": "user", "content": [block("text", "q3")]},
            {"role": "assistant", "content": [block("text", "c")], "loss_weight": 1.0},
        ]
    }
    rec = V1.decode(row)
    assert [(m.role, m.train, m.weight) for m in rec.messages] == [
        ("system", None, None),
        ("user", None, None),
        ("assistant", False, None),
        ("user", None, None),
        ("assistant", None, 0.25),
        ("user", None, None),
        ("assistant", True, None),
    ]
    assert rec.messages[1].content == (ImagePart(url="a.jpg"), TextPart(text="q"))
    # LLaMA-Factory's 0.0 on non-assistant turns is its default: written back without it
    expected = copy.deepcopy(row)
    for m in expected["messages"][:2]:
        del m["loss_weight"]
    assert V1.encode(rec) == (expected, [])


def test_dpo_rows_share_the_prompt_up_to_the_last_shared_user_turn() -> None:
    sys_ = {"role": "system", "content": [block("text", "Be brief.")]}
    user = {"role": "user", "content": [block("text", "Sky?")]}
    same = {"role": "assistant", "content": [block("text", "Blue.")]}
    row = {"chosen_messages": [sys_, user, same], "rejected_messages": [sys_, user, same]}
    rec = V1.decode(row)
    assert rec == PreferenceRecord(
        prompt=(Message(role="system", content="Be brief."), Message(role="user", content="Sky?")),
        chosen=(Message(role="assistant", content="Blue."),),
        rejected=(Message(role="assistant", content="Blue."),),
    )
    assert V1.encode(rec) == (row, [])


def test_detection_is_v1_not_openai() -> None:
    rows = [
        {"messages": [{"role": "user", "content": [block("text", "hi")], "loss_weight": 0.0}, {"role": "assistant", "content": [block("text", "yo")], "loss_weight": 1.0}]},
        {"messages": [{"role": "user", "content": [block("text", "hi")]}, {"role": "assistant", "content": [block("reasoning", "r"), block("text", "yo")]}]},
    ]
    found = detect_rows(rows)
    assert (found.format, found.kind, found.confidence) == ("llamafactory-v1", "sft", 1.0)
    assert get_format("openai").detect(rows[0]).score == 0 == get_format("trl").detect(rows[0]).score
    dpo = detect_rows([{"chosen_messages": rows[0]["messages"], "rejected_messages": rows[1]["messages"]}])
    assert (dpo.format, dpo.kind) == ("llamafactory-v1", "preference")


def test_openai_rows_are_not_v1() -> None:
    row = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": "yo"}]}
    assert V1.detect(row).score == 0
    assert detect_rows([row]).format == "openai"


def test_what_v1_cannot_carry_is_reported() -> None:
    rec = SFTRecord(
        messages=(
            Message(role="user", content="q"),
            Message(role="assistant", tool_calls=(ToolCall(name="f", id="c1"),)),
            Message(role="tool", content="1", tool_call_id="c1"),
            Message(role="assistant", content="a", train=True, weight=0.5),
        )
    )
    _, lost = V1.encode(rec)
    assert sorted(set(lost)) == ["message weight next to a train flag", "tool call ids", "tool result ids/names"]


def _defaults(record):  # type: ignore[no-untyped-def]
    """0.0 on a non-assistant turn is the default: a record spells it as no flag."""

    def fix(msgs):  # type: ignore[no-untyped-def]
        return tuple(m.model_copy(update={"train": None}) if m.role != "assistant" and m.train is False else m for m in msgs)

    if isinstance(record, SFTRecord):
        return record.model_copy(update={"messages": fix(record.messages)})
    return record.model_copy(update={"prompt": fix(record.prompt), "chosen": fix(record.chosen), "rejected": fix(record.rejected)})


@settings(max_examples=150, deadline=None)
@given(records(Carry(media=("image", "video", "audio"), tools=True, tool_calls=True, call_text=True, reasoning=True, train_flags=True), ("sft", "preference")).map(_defaults))
def test_round_trip_with_loss_weights(record) -> None:  # type: ignore[no-untyped-def]
    row, lost = V1.encode(record)
    assert lost == []
    assert V1.decode(row) == record


def test_files_convert_both_ways(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from _paths import FIXTURES

    for kind in ("sft", "preference"):
        src = FIXTURES / "llamafactory-v1" / f"{kind}.jsonl"
        out, back = tmp_path / f"{kind}.openai.jsonl", tmp_path / f"{kind}.v1.jsonl"
        first = sftdata.convert(src, out, to="openai")
        assert (first.read, first.written, first.rejected) == (first.written, len(src.read_text().splitlines()), 0)
        sftdata.convert(out, back, to="llamafactory-v1", rewrite=None)
        assert list(sftdata.read(back)) == list(sftdata.read(src))



