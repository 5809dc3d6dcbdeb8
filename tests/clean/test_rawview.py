"""Views read off plain wire rows must equal the views of the decoded records."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.clean.rawview import raw_view
from sftdata.clean.views import VIEWS, view_text
from sftdata.errors import RecordError
from sftdata.formats import get_format

SHAREGPT = get_format("sharegpt")
texts = st.lists(st.sampled_from(list("ab <>\n数") + ["<image>"]), max_size=12).map("".join)
turn = st.fixed_dictionaries({"from": st.sampled_from(["human", "gpt", "system", "observation", "function_call", "bot"]), "value": texts | st.integers()})
row = st.fixed_dictionaries(
    {"conversations": st.lists(turn, max_size=5)},
    optional={
        "system": texts | st.none() | st.integers(),
        "tools": st.sampled_from(["", [], '[{"name": "f"}]']),
        "images": st.just(["a.jpg"]),
        "id": st.integers(),
        "kto_tag": st.booleans(),
    },
)


@settings(max_examples=400, deadline=None)
@given(row=row)
def test_raw_view_equals_decoded_view(row: dict[str, Any]) -> None:
    try:
        record = SHAREGPT.decode(row)
    except RecordError:
        record = None
    for view in VIEWS:
        fast = raw_view(SHAREGPT, view)
        assert fast is not None
        got = fast(row)
        if got is not None:
            # a row the fast reader accepts always decodes, to the same view text
            assert record is not None
            assert got == view_text(record, view)


def test_plain_rows_take_the_fast_path_and_others_do_not() -> None:
    fast = raw_view(SHAREGPT, "prompt")
    assert fast is not None
    plain = {"conversations": [{"from": "human", "value": "Q1"}, {"from": "gpt", "value": "A1"}, {"from": "human", "value": "Q2"}, {"from": "gpt", "value": "A2"}], "system": "S", "id": 7}
    assert fast(plain) == "system\nS\nuser\nQ1\nassistant\nA1\nuser\nQ2"
    assert fast({**plain, "tools": '[{"name": "f"}]'}) is None
    assert fast({"conversations": [{"from": "function_call", "value": "{}"}]}) is None
    assert raw_view(get_format("alpaca"), "record") is None  # no reader: always decode


def test_custom_tags_are_honoured() -> None:
    fmt = SHAREGPT.with_spec(messages="messages", role_tag="role", content_tag="content", user_tag="user", assistant_tag="assistant")
    fast = raw_view(fmt, "record")
    assert fast is not None
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    assert fast(row) == view_text(fmt.decode(row), "record") == "user\nhi\nassistant\nyo"
    assert fast({"conversations": [{"from": "human", "value": "hi"}]}) is None
