from __future__ import annotations

import json

import pytest

from sftdata.errors import RecordError
from sftdata.formats import get_format
from sftdata.record import ImagePart, KTORecord, Message, PreferenceRecord, SFTRecord, TextPart, ToolCall

SHAREGPT = get_format("sharegpt")


def test_decode_tool_call_turns() -> None:
    row = {
        "conversations": [
            {"from": "human", "value": "weather?"},
            {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
            {"from": "observation", "value": '{"temp": 20}'},
            {"from": "gpt", "value": "20 degrees."},
        ],
        "tools": '[{"name": "get_weather", "parameters": {"type": "object"}}]',
    }
    rec = SHAREGPT.decode(row)
    assert isinstance(rec, SFTRecord)
    assert rec.messages == (
        Message(role="user", content="weather?"),
        Message(role="assistant", content="", tool_calls=(ToolCall(name="get_weather", arguments={"city": "Paris"}),)),
        Message(role="tool", content='{"temp": 20}'),
        Message(role="assistant", content="20 degrees."),
    )
    assert [t.name for t in rec.tools] == ["get_weather"]
    back, lost = SHAREGPT.encode(rec)
    assert lost == []
    assert SHAREGPT.decode(back) == rec


def test_media_placeholders_become_parts_in_place() -> None:
    row = {"conversations": [{"from": "human", "value": "a<image>b<image>"}, {"from": "gpt", "value": "ok"}], "images": ["1.jpg", "2.jpg"]}
    rec = SHAREGPT.decode(row)
    assert rec.messages[0].content == (TextPart(text="a"), ImagePart(url="1.jpg"), TextPart(text="b"), ImagePart(url="2.jpg"))
    assert SHAREGPT.encode(rec) == (row, [])


def test_media_count_mismatch_is_a_located_error() -> None:
    row = {"conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "ok"}], "images": ["1.jpg", "2.jpg"]}
    with pytest.raises(RecordError) as info:
        SHAREGPT.decode(row)
    assert [(i.code, i.field) for i in info.value.issues] == [("media-count", "images")]


def test_unknown_role_names_the_turn() -> None:
    row = {"conversations": [{"from": "bot", "value": "x"}]}
    with pytest.raises(RecordError) as info:
        SHAREGPT.decode(row)
    assert info.value.issues[0].code == "unknown-role"
    assert info.value.issues[0].field == "conversations[0].from"


def test_preference_and_kto() -> None:
    pref = {"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}
    rec = SHAREGPT.decode(pref)
    assert isinstance(rec, PreferenceRecord)
    assert rec.chosen == (Message(role="assistant", content="a"),)
    assert SHAREGPT.encode(rec) == (pref, [])
    kto = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "kto_tag": False}
    krec = SHAREGPT.decode(kto)
    assert isinstance(krec, KTORecord) and krec.label is False
    assert SHAREGPT.encode(krec) == (kto, [])


def test_string_label_is_rejected_not_coerced() -> None:
    with pytest.raises(RecordError) as info:
        SHAREGPT.decode({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "kto_tag": "true"})
    assert info.value.issues[0].code == "kto-label"


@pytest.mark.parametrize("name", ["glaive_toolcall_en_demo.json", "dpo_en_demo.json"])
def test_realdata_round_trip(realdata, name: str) -> None:
    rows = json.loads((realdata / name).read_text())
    for row in rows:
        rec = SHAREGPT.decode(row)
        back, lost = SHAREGPT.encode(rec)
        assert lost == []
        assert SHAREGPT.decode(back) == rec
