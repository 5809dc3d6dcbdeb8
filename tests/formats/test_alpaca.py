from __future__ import annotations

import json

import orjson
import pytest

from sftdata.errors import RecordError
from sftdata.formats import get_format
from sftdata.formats.alpaca import Alpaca, AlpacaSpec
from sftdata.record import ImagePart, KTORecord, Message, PreferenceRecord, PretrainRecord, SFTRecord, TextPart, ToolCall

ALPACA = get_format("alpaca")


def test_instruction_and_input_join_with_newline() -> None:
    rec = ALPACA.decode({"instruction": "Translate", "input": "bonjour", "output": "hello", "system": "Be brief.", "history": [["hi", "hey"]], "id": 3})
    assert rec == SFTRecord(
        messages=(
            Message(role="system", content="Be brief."),
            Message(role="user", content="hi"),
            Message(role="assistant", content="hey"),
            Message(role="user", content="Translate\nbonjour"),
            Message(role="assistant", content="hello"),
        ),
        extra={"id": 3},
    )
    assert (rec.messages[1].input_start, rec.messages[3].input_start) == (None, len("Translate\n"))
    assert ALPACA.encode(rec) == (
        {"instruction": "Translate", "input": "bonjour", "output": "hello", "history": [["hi", "hey"]], "system": "Be brief.", "id": 3},
        [],
    )


def test_input_only_and_null_columns() -> None:
    rec = ALPACA.decode({"instruction": None, "input": "just input", "output": "ok", "system": None})
    assert rec == SFTRecord(messages=(Message(role="user", content="just input"), Message(role="assistant", content="ok")))
    assert rec.messages[0].input_start == 0
    assert ALPACA.encode(rec) == ({"instruction": "", "input": "just input", "output": "ok"}, [])


def test_preference_kto_pretrain() -> None:
    pref = ALPACA.decode({"instruction": "q", "input": "", "chosen": "good", "rejected": "bad"})
    assert pref == PreferenceRecord(
        prompt=(Message(role="user", content="q"),), chosen=(Message(role="assistant", content="good"),), rejected=(Message(role="assistant", content="bad"),)
    )
    kto = ALPACA.decode({"instruction": "q", "output": "a", "label": False})
    assert kto == KTORecord(prompt=(Message(role="user", content="q"),), completion=(Message(role="assistant", content="a"),), label=False)
    assert ALPACA.encode(kto) == ({"instruction": "q", "input": "", "output": "a", "kto_tag": False}, [])
    assert ALPACA.decode({"text": "plain", "url": "u"}) == PretrainRecord(text="plain", extra={"url": "u"})


def test_non_bool_label_is_an_extra_field_not_a_kto_tag() -> None:
    rec = ALPACA.decode({"instruction": "q", "output": "a", "label": "positive"})
    assert rec == SFTRecord(messages=(Message(role="user", content="q"), Message(role="assistant", content="a")), extra={"label": "positive"})


def test_media_placeholders_across_history_and_output() -> None:
    row = {"instruction": "and <image>?", "input": "", "output": "b", "history": [["<image>a", "ok"]], "images": ["1.jpg", "2.jpg"]}
    rec = ALPACA.decode(row)
    assert rec.messages[0].content == (ImagePart(url="1.jpg"), TextPart(text="a"))
    assert rec.messages[2].content == (TextPart(text="and "), ImagePart(url="2.jpg"), TextPart(text="?"))
    assert ALPACA.encode(rec) == (row, [])


def test_tool_calls_are_reported_lost() -> None:
    rec = SFTRecord(
        messages=(
            Message(role="user", content="weather?"),
            Message(role="assistant", content="", tool_calls=(ToolCall(name="w", arguments={}),)),
            Message(role="tool", content="20"),
            Message(role="assistant", content="20 degrees", train=True),
        )
    )
    row, lost = ALPACA.encode(rec)
    assert row == {"instruction": "weather?", "input": "", "output": "20 degrees"}
    assert sorted(set(lost)) == ["message.train/weight", "tool calls and tool results"]


def test_open_ended_conversation_is_reported() -> None:
    row, lost = ALPACA.encode(SFTRecord(messages=(Message(role="user", content="q"),)))
    assert row == {"instruction": "q", "input": "", "output": ""}
    assert lost == ["conversations not ending in an assistant turn"]


def test_refuses_nothing_but_reports_each_error_code() -> None:
    with pytest.raises(RecordError) as info:
        ALPACA.decode({"instruction": "q", "output": 5, "images": ["1.jpg"]})
    assert [(i.code, i.field) for i in info.value.issues] == [("wrong-type", "output")]


def test_llamafactory_column_mapping() -> None:
    fmt = Alpaca(AlpacaSpec(prompt="question", query=None, response="answer", history=None, system="sys"))
    rec = fmt.decode({"question": "q", "answer": "a", "sys": "s", "input": "kept"})
    assert rec == SFTRecord(messages=(Message(role="system", content="s"), Message(role="user", content="q"), Message(role="assistant", content="a")), extra={"input": "kept"})
    assert fmt.encode(rec) == ({"question": "q", "answer": "a", "sys": "s", "input": "kept"}, [])


def test_dataset_info_entry_maps_present_columns() -> None:
    assert ALPACA.dataset_info_entry("p.json", "preference", present={"instruction", "input", "chosen", "rejected", "system", "images"}) == {
        "file_name": "p.json",
        "ranking": True,
        "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected", "system": "system", "images": "images"},
    }
    assert ALPACA.dataset_info_entry("c4.jsonl", "pretrain") == {"file_name": "c4.jsonl", "columns": {"prompt": "text"}}


@pytest.mark.parametrize("name", ["alpaca_zh_demo.json", "identity.json"])
def test_realdata_round_trip(realdata, name: str) -> None:
    rows = json.loads((realdata / name).read_text())
    for row in rows:
        rec = ALPACA.decode(row)
        back, lost = ALPACA.encode(rec)
        assert lost == []
        assert orjson.dumps(back) == orjson.dumps(row)  # byte for byte, key order included
        user = "\n".join(t for t in (row["instruction"], row["input"]) if t)
        assert rec == SFTRecord(messages=(Message(role="user", content=user), Message(role="assistant", content=row["output"])))
