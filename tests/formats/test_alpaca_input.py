"""Alpaca's instruction/input split: kept on alpaca round trips, folded for everyone else.

The user turn's content is ``instruction + "\\n" + input`` (LLaMA-Factory's text); the
message's ``input_start`` remembers the split without being part of the record's value.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata
from sftdata.formats import get_format
from sftdata.io import read_rows
from sftdata.record import ImagePart, Message, SFTRecord, TextPart

from _paths import FIXTURES

ALPACA = get_format("alpaca")


def lf_user(instruction: str, query: str) -> str:
    """LLaMA-Factory's AlpacaDatasetConverter: the non-empty parts joined by a newline."""
    return "\n".join(t for t in (instruction, query) if t)


def same_bytes(rows: list[dict], expected: list[dict]) -> bool:
    """Rows equal value for value and key for key, in order (what a writer serialises)."""
    return [orjson.dumps(r) for r in rows] == [orjson.dumps(r) for r in expected]


# -- decode / encode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instruction", "query", "content", "start", "split"),
    [
        ("Translate", "bonjour", "Translate\nbonjour", 10, (("Translate",), ("bonjour",))),
        ("Translate\n", "bonjour", "Translate\n\nbonjour", 11, (("Translate\n",), ("bonjour",))),
        ("Translate", "line 1\nline 2", "Translate\nline 1\nline 2", 10, (("Translate",), ("line 1\nline 2",))),
        ("", "bonjour", "bonjour", 0, ((), ("bonjour",))),
        ("Translate", "", "Translate", None, None),
        ("", "", "", None, None),
    ],
)
def test_decode_keeps_lf_text_and_the_split(instruction: str, query: str, content: str, start: int | None, split: tuple | None) -> None:
    row = {"instruction": instruction, "input": query, "output": "hello"}
    rec = ALPACA.decode(row)
    assert rec == SFTRecord(messages=(Message(role="user", content=content), Message(role="assistant", content="hello")))
    assert content == lf_user(instruction, query)
    user = rec.messages[0]
    assert user.input_start == start
    got = user.split_input()
    assert (None if got is None else tuple(tuple(p.text for p in half) for half in got)) == split  # type: ignore[union-attr]
    assert ALPACA.encode(rec) == (row, [])


def test_media_stay_on_their_side_of_the_split() -> None:
    row = {"instruction": "<image>Compare with", "input": "<image>", "output": "Same.", "images": ["a.jpg", "b.jpg"]}
    rec = ALPACA.decode(row)
    user = rec.messages[0]
    assert user.content == (ImagePart(url="a.jpg"), TextPart(text="Compare with\n"), ImagePart(url="b.jpg"))
    assert (user.input_start, user.split_input()) == (13, ((ImagePart(url="a.jpg"), TextPart(text="Compare with")), (ImagePart(url="b.jpg"),)))
    assert ALPACA.encode(rec) == (row, [])


def test_split_is_not_part_of_the_value() -> None:
    split = ALPACA.decode({"instruction": "Translate", "input": "bonjour", "output": "hello"})
    folded = ALPACA.decode({"instruction": "Translate\nbonjour", "input": "", "output": "hello"})
    assert split == folded and hash(split.messages[0]) == hash(folded.messages[0])
    assert split.model_dump() == folded.model_dump()  # so exact-duplicate keys agree too
    assert ALPACA.encode(folded)[0] == {"instruction": "Translate\nbonjour", "input": "", "output": "hello"}


def test_inconsistent_split_is_refused_and_a_stale_one_ignored() -> None:
    with pytest.raises(ValueError, match="does not split the content"):
        Message(role="user", content="Translate bonjour", input_start=10)
    with pytest.raises(ValueError, match="does not split the content"):
        Message(role="user", content="Translate\n", input_start=10)  # an empty input is no input
    stale = ALPACA.decode({"instruction": "Translate", "input": "bonjour", "output": "x"}).messages[0].model_copy(update={"content": "Translate bonjour"})
    assert stale.split_input() is None
    assert ALPACA.encode(SFTRecord(messages=(stale, Message(role="assistant", content="x"))))[0] == {"instruction": "Translate bonjour", "input": "", "output": "x"}


def test_preference_and_kto_rows_keep_their_input() -> None:
    pref = {"instruction": "Fix the grammar.", "input": "he go home", "chosen": "He goes home.", "rejected": "he go home", "history": [["hi", "hey"]]}
    kto = {"instruction": "Fix the grammar.", "input": "he go home", "output": "He goes home.", "kto_tag": True}
    for row in (pref, kto):
        assert ALPACA.encode(ALPACA.decode(row)) == (row, [])


def test_mapped_column_names_keep_the_split() -> None:
    """A LLaMA-Factory ``columns`` mapping (prompt/query under other names) splits the same way."""
    from sftdata.formats.alpaca import Alpaca, AlpacaSpec

    fmt = Alpaca(AlpacaSpec(prompt="question", query="context", response="answer"))
    row = {"question": "Summarise.", "context": "A long text.", "answer": "Short."}
    rec = fmt.decode(row)
    assert rec.messages[0].content == "Summarise.\nA long text."
    assert fmt.encode(rec) == (row, [])
    assert ALPACA.encode(rec)[0] == {"instruction": "Summarise.", "input": "A long text.", "output": "Short."}


def test_only_the_instruction_column_configured_writes_lf_text() -> None:
    fmt = ALPACA.with_spec(query=None)  # type: ignore[attr-defined]
    rec = ALPACA.decode({"instruction": "Translate", "input": "bonjour", "output": "hello"})
    assert fmt.encode(rec) == ({"instruction": "Translate\nbonjour", "output": "hello"}, [])


# -- properties ------------------------------------------------------------------------------

# Text with newlines, spaces and media placeholders where they hurt most (at the ends).
_piece = st.sampled_from(["\n", " ", "\n\n", "<image>", "a", "é", "Translate", "x\ny"])
_text = st.lists(_piece, max_size=5).map("".join)


@st.composite
def alpaca_rows(draw: st.DrawFn) -> dict:
    row: dict = {"instruction": draw(_text), "input": draw(_text)}
    history = draw(st.lists(st.tuples(_text, _text).map(list), max_size=2))
    kind = draw(st.sampled_from(["sft", "preference", "kto"]))
    if kind == "preference":
        row.update(chosen=draw(_text), rejected=draw(_text))
    else:
        row["output"] = draw(_text)
        if kind == "kto":
            row["kto_tag"] = draw(st.booleans())
    if history:
        row["history"] = history
    if system := draw(st.sampled_from(["", "Be brief.", "\nsys "])):
        row["system"] = system
    images = sum(str(t).count("<image>") for t in (row["instruction"], row["input"], *row.get("history", []), row.get("output"), row.get("chosen"), row.get("rejected")))
    if images:
        row["images"] = [f"{i}.jpg" for i in range(images)]
    return row


@settings(max_examples=300, deadline=None)
@given(alpaca_rows())
def test_any_alpaca_row_round_trips_exactly(row: dict) -> None:
    rec = ALPACA.decode(row)
    back, lost = ALPACA.encode(rec)
    assert lost == []
    assert orjson.dumps(back) == orjson.dumps(row)
    # and the record holds LLaMA-Factory's text, placeholders and all
    prompt = rec.messages if isinstance(rec, SFTRecord) else rec.prompt  # type: ignore[union-attr]
    user = [m for m in prompt if m.role == "user"][-1]
    rebuilt = "".join(p.text if isinstance(p, TextPart) else "<image>" for p in user.parts)
    assert rebuilt == lf_user(row["instruction"], row["input"])


@settings(max_examples=150, deadline=None)
@given(alpaca_rows(), st.sampled_from(["sharegpt", "openai", "trl"]))
def test_other_formats_get_lf_text(row: dict, name: str) -> None:
    """alpaca -> X carries the folded text; X -> alpaca has no split left to restore."""
    target = get_format(name)
    rec = ALPACA.decode(row)
    wire, lost = target.encode(rec)
    assert lost == []
    again = target.decode(wire)
    assert again == rec
    back, _ = ALPACA.encode(again)
    folded = lf_user(row["instruction"], row["input"])
    assert (back["instruction"], back["input"]) == (folded, "")


# -- files: byte for byte -------------------------------------------------------------------


def _rows(path: Path) -> list[dict]:
    return [row for row, _ in read_rows(path)]


@pytest.mark.parametrize("name", ["sft", "preference", "kto", "pretrain"])
def test_fixture_round_trip_through_files(tmp_path: Path, name: str) -> None:
    src = FIXTURES / "alpaca" / f"{name}.jsonl"
    out = tmp_path / "out.jsonl"
    sftdata.convert(src, out, to="alpaca", from_="alpaca")
    expected = _rows(src)
    if name == "kto":
        # the one row spelled with LLaMA-Factory's defaults left out: no input column and
        # `label` for the tag; it comes back in the canonical spelling (same training text)
        assert expected[2] == {"instruction": "Say hi.", "output": "Hi!", "label": True}
        expected[2] = {"instruction": "Say hi.", "input": "", "output": "Hi!", "kto_tag": True}
    assert same_bytes(_rows(out), expected)


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".parquet", ".xlsx", ".csv"])
def test_realdata_round_trip_through_tables(realdata: Path, tmp_path: Path, suffix: str) -> None:
    src = realdata / "alpaca_zh_demo.json"
    rows = json.loads(src.read_text())
    assert sum(bool(r["input"]) for r in rows) == 139  # the rows this is about
    mid, out = tmp_path / f"mid{suffix}", tmp_path / "out.json"
    sftdata.convert(src, mid, to="alpaca")
    sftdata.convert(mid, out, to="alpaca", from_="alpaca")
    assert same_bytes(json.loads(out.read_text()), rows)


def test_spreadsheet_mapping_keeps_the_input_column(tmp_path: Path) -> None:
    """alpaca -> xlsx -> table mapping (--map input=B) -> alpaca."""
    from sftdata.formats.table import TableFormat, TableMapping

    rows = [
        {"instruction": "Translate", "input": "bonjour", "output": "hello"},
        {"instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"instruction": "", "input": "Only input", "output": "ok"},
    ]
    src, mid, out = tmp_path / "in.json", tmp_path / "mid.xlsx", tmp_path / "out.json"
    src.write_text(json.dumps(rows))
    sftdata.convert(src, mid, to="alpaca")
    mapping = TableMapping(columns={"instruction": "A", "input": "B", "output": "C"})
    sftdata.convert(mid, out, to="alpaca", from_=TableFormat.for_file(mid, mapping))
    assert same_bytes(json.loads(out.read_text()), rows)


# -- cleaning and validation -------------------------------------------------------------------


def test_dedup_sees_lf_text(tmp_path: Path) -> None:
    rows = [
        {"instruction": "Translate", "input": "bonjour", "output": "hello"},
        {"instruction": "Translate\nbonjour", "input": "", "output": "hello"},  # same text, folded
        {"instruction": "Translate ", "input": " bonjour", "output": "hello"},  # only whitespace differs
        {"instruction": "Translate", "input": "au revoir", "output": "hello"},
    ]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    exact = sftdata.dedup(src, out, sftdata.DedupConfig(mode="exact", normalize=frozenset()))
    assert (exact.read, exact.kept, exact.rejected) == (4, 3, 1)
    assert _rows(out) == [rows[0], rows[2], rows[3]]
    loose = sftdata.dedup(src, out, sftdata.DedupConfig(mode="exact", normalize=frozenset({"whitespace"})))
    assert (loose.read, loose.kept, loose.rejected, loose.reasons) == (4, 2, 2, {"duplicate": 2})
    assert _rows(out) == [rows[0], rows[3]]  # the kept rows keep their columns


def test_validate_points_at_the_column_and_fix_trims_the_input(tmp_path: Path) -> None:
    rows = [
        {"instruction": "Translate", "input": "bonjour ", "output": "hello"},  # trailing: in the input
        {"instruction": " Translate", "input": "bonjour", "output": "hello"},  # leading: in the instruction
        {"instruction": "Translate", "input": "bonjour", "output": "hello"},
        {"instruction": "", "input": "bonjour ", "output": "hello"},
    ]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    report = sftdata.validate(src)
    assert (report.total, report.valid, report.rejected) == (4, 4, 0)
    assert {code: [(loc.line, loc.field) for loc in stat.first] for code, stat in report.rules.items() if stat.count} == {
        "surrounding-whitespace": [(1, "input"), (2, "instruction"), (4, "input")]
    }
    fixed = sftdata.validate(src, output=out, fix=True)
    assert (fixed.total, fixed.valid, fixed.fixed) == (4, 4, 3)
    assert not any(stat.count for stat in fixed.rules.values())
    clean = {"instruction": "Translate", "input": "bonjour", "output": "hello"}
    assert _rows(out) == [clean, clean, clean, {"instruction": "", "input": "bonjour", "output": "hello"}]


def test_stats_with_the_alpaca_template_counts_the_input_prompt(tmp_path: Path) -> None:
    """`sftdata stats --template alpaca`: 46 tokens for the row with an input (Stanford's
    "### Input:" prompt), 34 for the same text folded into the instruction."""
    from sftdata.stats.compute import token_stats

    src = tmp_path / "s.jsonl"
    rows = [
        {"instruction": "Translate to English.", "input": "bonjour", "output": "hello"},
        {"instruction": "Translate to English.\nbonjour", "input": "", "output": "hello"},
    ]
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    report = token_stats(src, tokenizer="qwen2.5", template="alpaca", workers=1).to_dict()
    assert (report["records"], report["tokens"]) == (2, 46 + 34)
    assert {k: report["fields"]["total"][k] for k in ("min", "max")} == {"min": 34, "max": 46}
