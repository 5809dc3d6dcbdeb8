from __future__ import annotations

import pytest
from pydantic import ValidationError

from sftdata.record import ImagePart, Message, SFTRecord, Source, TextPart, conversation, PreferenceRecord


def test_single_text_part_collapses_to_string() -> None:
    assert Message(role="user", content=(TextPart(text="hi"),)) == Message(role="user", content="hi")


def test_provenance_is_not_part_of_the_value() -> None:
    a = SFTRecord(messages=(Message(role="user", content="x"),), source=Source("a.jsonl", 1))
    b = SFTRecord(messages=(Message(role="user", content="x"),), source=Source("b.jsonl", 9))
    assert a == b
    assert a.source == Source("a.jsonl", 1)
    assert "source" not in a.model_dump()


def test_records_are_frozen_and_roles_closed() -> None:
    rec = SFTRecord(messages=(Message(role="user", content="x"),))
    with pytest.raises(ValidationError):
        rec.messages = ()  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Message(role="human", content="x")  # type: ignore[arg-type]


def test_parts_text_and_media() -> None:
    msg = Message(role="user", content=(ImagePart(url="1.jpg"), TextPart(text="Who?")))
    assert msg.text == "Who?"
    assert msg.media("image") == [ImagePart(url="1.jpg")]
    assert msg.media("video") == []


def test_conversation_of_preference_record() -> None:
    p = (Message(role="user", content="q"),)
    c = (Message(role="assistant", content="good"),)
    r = (Message(role="assistant", content="bad"),)
    rec = PreferenceRecord(prompt=p, chosen=c, rejected=r)
    assert conversation(rec) == p + c
    assert conversation(rec, "rejected") == p + r
