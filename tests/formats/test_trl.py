from __future__ import annotations

import pytest

import sftdata

from sftdata.errors import RecordError
from sftdata.formats import get_format
from sftdata.record import ImagePart, KTORecord, Message, PreferenceRecord, PretrainRecord, SFTRecord, TextPart, ToolCall

TRL = get_format("trl")
STD = get_format("trl-standard")
OPENAI = get_format("openai")
U, A, S = (lambda t: Message(role="user", content=t)), (lambda t: Message(role="assistant", content=t)), (lambda t: Message(role="system", content=t))


def conv(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": r, "content": t} for r, t in pairs]


def test_implicit_prompt_is_the_shared_leading_messages() -> None:
    row = {"chosen": conv(("user", "sky?"), ("assistant", "blue")), "rejected": conv(("user", "sky?"), ("assistant", "green")), "id": 9}
    rec = TRL.decode(row)
    assert rec == PreferenceRecord(prompt=(U("sky?"),), chosen=(A("blue"),), rejected=(A("green"),), extra={"id": 9})
    assert TRL.encode(rec) == ({"prompt": conv(("user", "sky?")), "chosen": conv(("assistant", "blue")), "rejected": conv(("assistant", "green")), "id": 9}, [])


def test_standard_strings_are_one_user_and_one_assistant_turn() -> None:
    rec = TRL.decode({"prompt": "The sky is", "completion": " blue."})
    assert rec == SFTRecord(messages=(U("The sky is"), A(" blue.")))
    assert STD.encode(rec) == ({"prompt": "The sky is", "completion": " blue."}, [])
    assert TRL.encode(rec) == ({"messages": conv(("user", "The sky is"), ("assistant", " blue."))}, [])


def test_prompt_only_and_unpaired_and_text() -> None:
    assert TRL.decode({"prompt": conv(("user", "q"))}) == SFTRecord(messages=(U("q"),))
    assert TRL.encode(SFTRecord(messages=(U("q"),))) == ({"prompt": conv(("user", "q"))}, [])
    kto = TRL.decode({"prompt": "q", "completion": "a", "label": False})
    assert kto == KTORecord(prompt=(U("q"),), completion=(A("a"),), label=False)
    assert STD.encode(kto) == ({"prompt": "q", "completion": "a", "label": False}, [])
    assert TRL.decode({"text": "t", "meta": 1}) == PretrainRecord(text="t", extra={"meta": 1})


def test_vision_parts_fill_from_images_column() -> None:
    row = {"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]}], "completion": conv(("assistant", "cat")), "images": ["c.jpg"]}
    rec = TRL.decode(row)
    assert rec.messages[0].content == (ImagePart(url="c.jpg"), TextPart(text="What?"))
    # every turn of a row with media is a list of parts, as TRL's vision collator needs
    answer = [{"role": "assistant", "content": [{"type": "text", "text": "cat"}]}]
    assert TRL.encode(rec) == ({"messages": row["prompt"] + answer, "images": ["c.jpg"]}, [])


def test_every_turn_of_a_media_row_passes_trls_vision_collator(realdata) -> None:  # type: ignore[no-untyped-def]
    """TRL's own ``prepare_multimodal_messages`` accepts every converted mllm_demo row
    (mixed string/part rows got one placeholder too many before)."""
    data_utils = pytest.importorskip("trl.data_utils")
    for record in sftdata.read(realdata / "mllm_demo.json"):
        for fmt in (TRL, OPENAI):
            row, lost = fmt.encode(record)
            assert lost == []
            assert all(isinstance(m["content"], list) for m in row["messages"])
            images = [object()] * len(row.get("images", []))
            prepared = data_utils.prepare_multimodal_messages(row["messages"], images=images)
            assert [m["role"] for m in prepared] == [m.role for m in record.messages]


def test_standard_reports_what_it_cannot_carry() -> None:
    rec = SFTRecord(
        messages=(S("be brief"), U("w?"), Message(role="assistant", tool_calls=(ToolCall(name="f"),)), Message(role="tool", content="1"), A("one"))
    )
    row, lost = STD.encode(rec)
    assert row == {"prompt": "w?", "completion": "one"}
    assert set(lost) == {"roles and extra turns (a standard row holds one prompt and one answer)"}
    _, lost = STD.encode(SFTRecord(messages=(Message(role="user", content=(ImagePart(url="x.jpg"), TextPart(text="what?"))), A("cat"))))
    assert lost == ["media, tool calls and tools (standard rows are plain text)"]


def test_tool_call_arguments_stay_objects_in_conversational_rows() -> None:
    rec = SFTRecord(messages=(U("q"), Message(role="assistant", tool_calls=(ToolCall(name="f", arguments={"x": 1}),)), Message(role="tool", content="2"), A("2")))
    row, lost = TRL.encode(rec)
    assert row["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]}
    assert TRL.decode(row) == rec and lost == []


def test_completion_without_prompt_is_rejected() -> None:
    with pytest.raises(RecordError) as info:
        TRL.decode({"completion": "a"})
    assert (info.value.code, info.value.field) == ("missing-field", "prompt")
