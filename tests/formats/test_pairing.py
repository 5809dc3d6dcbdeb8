"""convert --unpair / --pair: preference <-> KTO, with nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import Carry, records

import sftdata
from sftdata.formats.pairing import UNPAIRED, pair, unpair
from sftdata.record import KTORecord, Message

RICH = Carry(media=("image",), tools=True, tool_calls=True, call_ids=True, reasoning=True, multi_branch=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(records(RICH, ("preference",)), max_size=4).flatmap(lambda rs: st.just(rs + rs[:1])))
def test_pair_of_unpair_is_the_identity(pairs) -> None:  # type: ignore[no-untyped-def]
    rows = list(unpair(pairs))
    assert len(rows) == 2 * len(pairs)
    assert [r.label for r in rows] == [True, False] * len(pairs)
    back, unmatched = pair(rows)
    assert back == pairs and unmatched == []


@settings(max_examples=100, deadline=None)
@given(st.lists(records(RICH, ("kto",)), max_size=6))
def test_pair_loses_nothing(rows) -> None:  # type: ignore[no-untyped-def]
    paired, unmatched = pair(rows)
    assert 2 * len(paired) + len(unmatched) == len(rows)
    assert all(u.code == UNPAIRED for u in unmatched)


def test_unmatched_rows_are_rejected_with_their_line(tmp_path: Path) -> None:
    q = [{"role": "user", "content": "2+2?"}]
    lines = [
        {"prompt": q, "completion": [{"role": "assistant", "content": "4"}], "label": True},
        {"prompt": q, "completion": [{"role": "assistant", "content": "4!"}], "label": True},
        {"prompt": q, "completion": [{"role": "assistant", "content": "5"}], "label": False},
    ]
    src = tmp_path / "kto.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = sftdata.convert(src, tmp_path / "dpo.jsonl", to="trl", reshape="pair", rejects=tmp_path / "rej.jsonl")
    assert result.to_dict() | {} == {
        "from": "trl", "to": "trl", "read": 3, "written": 1, "rejected": 1, "reject_codes": {UNPAIRED: 1}, "losses": {},
        "reshape": {"mode": "pair", "records_in": 3, "records_out": 1, "unmatched": 1},
    }
    assert [json.loads(ln) for ln in (tmp_path / "dpo.jsonl").read_text().splitlines()] == [
        {"prompt": q, "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}
    ]
    (rej,) = [json.loads(ln) for ln in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert (rej["line"], rej["codes"], rej["record"]) == (2, [UNPAIRED], lines[1])


def test_unpair_cli_on_a_preference_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sftdata.cli import cli as main

    src = tmp_path / "dpo.jsonl"
    src.write_text(json.dumps({"prompt": "Sky?", "chosen": "Blue.", "rejected": "Green."}) + "\n")
    out = tmp_path / "kto.jsonl"
    res = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), "--to", "trl", "--unpair"])
    assert res.exit_code == 0, res.output
    assert "unpair: 1 records -> 2" in res.output
    assert list(sftdata.read(out)) == [
        KTORecord(prompt=(Message(role="user", content="Sky?"),), completion=(Message(role="assistant", content="Blue."),), label=True),
        KTORecord(prompt=(Message(role="user", content="Sky?"),), completion=(Message(role="assistant", content="Green."),), label=False),
    ]
    both = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), "--to", "trl", "--unpair", "--pair"])
    assert both.exit_code != 0 and "cannot be combined" in str(both.exception)
