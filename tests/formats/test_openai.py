from __future__ import annotations

import json

import pytest

from sftdata.errors import RecordError
from sftdata.formats import get_format
from sftdata.record import AudioPart, ImagePart, KTORecord, Message, ReasoningPart, SFTRecord, TextPart, ToolCall, ToolSpec

OPENAI = get_format("openai")


def test_tool_calls_ids_and_tools() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "20"},
            {"role": "assistant", "content": "20 degrees."},
        ],
        "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
    }
    rec = OPENAI.decode(row)
    assert rec == SFTRecord(
        messages=(
            Message(role="user", content="Weather in Paris?"),
            Message(role="assistant", tool_calls=(ToolCall(name="w", arguments={"city": "Paris"}, id="c1"),)),
            Message(role="tool", content="20", tool_call_id="c1"),
            Message(role="assistant", content="20 degrees."),
        ),
        tools=(ToolSpec(name="w", parameters={"type": "object"}),),
    )
    assert OPENAI.encode(rec) == (row, [])


def test_weight_int_is_train_flag_float_is_weight() -> None:
    rec = OPENAI.decode({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}, {"role": "assistant", "content": "b", "weight": 0.5}]})
    assert [(m.train, m.weight) for m in rec.messages] == [(None, None), (False, None), (None, 0.5)]


def test_parts_audio_and_reasoning() -> None:
    row = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Listen"}, {"type": "input_audio", "input_audio": {"data": "QUJD", "format": "mp3"}}]},
            {"role": "assistant", "content": "A bell.", "reasoning_content": "It rings."},
        ]
    }
    rec = OPENAI.decode(row)
    assert rec.messages == (
        Message(role="user", content=(TextPart(text="Listen"), AudioPart(url="data:audio/mp3;base64,QUJD"))),
        Message(role="assistant", content=(ReasoningPart(text="It rings."), TextPart(text="A bell."))),
    )
    # a row with media writes every turn's content as parts (TRL's multimodal convention)
    written = {"messages": [row["messages"][0], {**row["messages"][1], "content": [{"type": "text", "text": "A bell."}]}]}
    assert OPENAI.encode(rec) == (written, [])
    assert OPENAI.decode(written) == rec


def test_llamafactory_placeholders_become_url_parts() -> None:
    rec = OPENAI.decode({"messages": [{"role": "user", "content": "<image>Who?"}, {"role": "assistant", "content": "Kane."}], "images": ["1.jpg"]})
    assert rec.messages[0].content == (ImagePart(url="1.jpg"), TextPart(text="Who?"))
    row, lost = OPENAI.encode(rec)
    assert row["messages"][0]["content"] == [{"type": "image_url", "image_url": {"url": "1.jpg"}}, {"type": "text", "text": "Who?"}]
    assert "images" not in row and lost == []


def test_kto_label_last_message_is_completion() -> None:
    rec = OPENAI.decode({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": True, "id": 1})
    assert rec == KTORecord(prompt=(Message(role="user", content="q"),), completion=(Message(role="assistant", content="a"),), label=True, extra={"id": 1})


def test_invalid_json_arguments_are_kept_verbatim() -> None:
    row = {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}
    rec = OPENAI.decode(row)
    assert rec.messages[0].tool_calls == (ToolCall(name="f", arguments="{oops"),)
    assert OPENAI.encode(rec) == (row, [])


def test_every_issue_is_reported_at_once() -> None:
    with pytest.raises(RecordError) as info:
        OPENAI.decode({"messages": [{"role": "bot", "content": "x"}, {"role": "user", "content": [{"type": "hologram"}]}]})
    assert [(i.code, i.field) for i in info.value.issues] == [("unknown-role", "messages[0].role"), ("unknown-part", "messages[1].content[0]")]


@pytest.mark.parametrize("name", ["kto_en_demo.json", "mllm_demo.json"])
def test_realdata_decodes_and_round_trips(realdata, name: str) -> None:
    rows = json.loads((realdata / name).read_text())
    for row in rows:
        rec = OPENAI.decode(row)
        back, lost = OPENAI.encode(rec)
        assert lost == []
        assert OPENAI.decode(back) == rec
        if name.startswith("kto"):
            assert rec.label is row["label"]
            assert [m.content for m in rec.prompt + rec.completion] == [m["content"] for m in row["messages"]]
        else:
            assert sum(len(m.media("image")) for m in rec.messages) == len(row["images"])


def test_bad_tool_spec_and_call_id_are_issues_not_crashes() -> None:
    with pytest.raises(RecordError) as info:
        OPENAI.decode(
            {
                "messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": 7, "type": "function", "function": {"name": "f", "arguments": "{}"}}]}],
                "tools": [{"type": "function", "function": {"name": "f", "description": 5}}],
            }
        )
    assert [(i.code, i.field) for i in info.value.issues] == [("invalid-tool-call", "messages[0].tool_calls[0]"), ("wrong-type", "tools[0]")]
