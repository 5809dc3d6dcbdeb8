"""Nothing lost (in == valid + rejected) on random rows, rejects/output files, fixes, API shapes."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sftdata
from sftdata.errors import UsageError
from sftdata.record import Message, SFTRecord
from sftdata.validate import validate
from sftdata.validate.fixes import fix_row, fix_spec

TAGS = ["human", "gpt", "system", "observation", "function_call", "bot", "user", "humna", 3, None]
texts = st.one_of(st.text(max_size=12), st.sampled_from(["", "  ", " x ", "<image>a", '{"name": "f", "arguments": {}}']))
turn = st.one_of(
    st.fixed_dictionaries({"from": st.sampled_from(TAGS), "value": st.one_of(texts, st.integers(-(2**63), 2**63 - 1))}),
    st.dictionaries(st.sampled_from(["from", "value", "weight"]), st.one_of(texts, st.booleans()), max_size=3),
    st.integers(-(2**63), 2**63 - 1),
)
row = st.fixed_dictionaries(
    {"conversations": st.one_of(st.lists(turn, max_size=5), st.text(max_size=3), st.none())},
    optional={
        "system": st.one_of(texts, st.integers(-(2**63), 2**63 - 1)),
        "images": st.lists(st.sampled_from(["a.png", "b.png"]), max_size=2),
        "kto_tag": st.one_of(st.booleans(), st.sampled_from(["true", "false", "yes"])),
        "tools": st.sampled_from(["", "[]", '[{"name": "f", "parameters": {"type": "object"}}]', "{bad", [{"name": "f"}]]),
        "id": st.integers(-(2**63), 2**63 - 1),  # orjson parses wider ints as floats
    },
)
line = st.one_of(row.map(json.dumps), st.sampled_from(["{bad json", "[1, 2]", '"text"', "null"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(line, max_size=12), profile=st.sampled_from(["sftdata", "llamafactory", "trl", "openai"]), fix=st.booleans(), fail_on=st.sampled_from(["error", "warning"]))
def test_nothing_is_lost(tmp_path_factory, lines: list[str], profile: str, fix: bool, fail_on: str) -> None:
    d = tmp_path_factory.mktemp("v")
    src = d / "in.jsonl"
    src.write_text("".join(x + "\n" for x in lines))
    report = validate(src, profile, format="sharegpt", rejects=d / "rej.jsonl", output=d / "ok.jsonl", fix=fix, fail_on=fail_on, locations=1000)
    n_in = len(lines)
    n_ok = len((d / "ok.jsonl").read_bytes().splitlines())
    rejected = [json.loads(x) for x in (d / "rej.jsonl").read_bytes().splitlines()]  # bytes: str.splitlines also splits on U+0085
    assert (report.total, report.valid, report.rejected) == (n_in, n_ok, len(rejected))
    assert report.total == report.valid + report.rejected
    assert [r["line"] for r in rejected] == sorted(r["line"] for r in rejected)
    for r in rejected:  # verbatim, even with --fix: the parsed row, or the line's text
        original = lines[r["line"] - 1]
        try:
            parsed = json.loads(original)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            assert r["record"] == parsed
        else:
            assert r["record"] == original
    assert report.exit_code == (0 if report.ok else 1)


def test_output_and_rejects_files(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    good = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    bad = {"conversations": [{"from": "human", "value": "q"}]}
    src.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n{oops\n")
    report = validate(src, rejects=tmp_path / "rej.jsonl", output=tmp_path / "ok.jsonl")
    assert [json.loads(x) for x in (tmp_path / "ok.jsonl").read_text().splitlines()] == [good]
    rej = [json.loads(x) for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert rej == [
        {"source": f"{src}:2", "line": 2, "codes": ["no-assistant"], "issues": [{"code": "no-assistant", "severity": "error", "field": "conversations[0]", "message": "no assistant turn: nothing to train on"}], "record": bad},
        {"source": f"{src}:3", "line": 3, "codes": ["invalid-json"], "issues": [rej[1]["issues"][0]], "record": "{oops"},
    ]
    assert rej[1]["issues"][0]["code"] == "invalid-json"
    assert (report.total, report.valid, report.rejected) == (3, 1, 2)


def test_fix_lists_every_repair_and_writes_repaired_rows(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    row = {"conversations": [{"from": "user", "value": "q "}, {"from": "bot", "value": "a"}], "kto_tag": "false", "tools": [{"name": "f"}]}
    src.write_text(json.dumps(row) + "\n")
    report = validate(src, "llamafactory", format="sharegpt", fix=True, output=tmp_path / "ok.jsonl")
    assert report.codes() == {"kto-single-label": 1}
    assert dict(report.repairs) == {"unknown-role": 2, "surrounding-whitespace": 1, "kto-label": 1, "wrong-type": 1}
    assert report.to_dict()["repairs"][0] == {"code": "kto-label", "count": 1, "first": [{"path": str(src), "line": 1, "field": "kto_tag", "message": "'false' -> false"}]}
    assert report.fixed == 1
    assert json.loads((tmp_path / "ok.jsonl").read_text()) == {
        "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
        "kto_tag": False,
        "tools": '[{"name":"f"}]',
    }
    fixed, repairs = fix_row(row, fix_spec(sftdata.get_format("sharegpt")))
    assert [str(r) for r in repairs] == [
        "conversations[0].from [unknown-role] 'user' -> 'human'",
        "conversations[0].value [surrounding-whitespace] trimmed",
        "conversations[1].from [unknown-role] 'bot' -> 'gpt'",
        "kto_tag [kto-label] 'false' -> false",
        "tools [wrong-type] tools given as objects -> JSON string",
    ]
    assert row["kto_tag"] == "false"  # the input row is untouched


def test_records_api_uses_canonical_paths() -> None:
    recs = [
        SFTRecord(messages=(Message(role="user", content="q"), Message(role="user", content="q2"), Message(role="assistant", content="a"))),
        SFTRecord(messages=(Message(role="user", content="q"), Message(role="assistant", content="a"))),
        SFTRecord(messages=(Message(role="user", content="q"), Message(role="assistant", content="a"))),
    ]
    report = sftdata.validate(recs, locations=10)
    assert [(s.code, [(loc.line, loc.field, loc.message) for loc in s.first]) for s in report.sorted_rules()] == [
        ("role-order", [(None, "messages[1].role", "two user turns in a row (messages[0], [1])")]),
        ("duplicate-record", [(None, None, "the same record as record 2")]),
    ]
    assert (report.total, report.valid, report.rejected) == (3, 2, 1)


def test_usage_errors() -> None:
    import pytest

    with pytest.raises(UsageError, match="Did you mean 'trl'"):
        validate("fixtures/sharegpt/sft.jsonl", "trk")
    with pytest.raises(UsageError, match="unknown validation option"):
        validate("fixtures/sharegpt/sft.jsonl", colour=True)
    with pytest.raises(UsageError, match="file not found"):
        validate("nope.jsonl")


def test_json_array_that_does_not_parse_is_one_located_error(tmp_path: Path) -> None:
    src = tmp_path / "d.json"
    src.write_text('[\n{"conversations": []},\n{"conversations": [}\n]\n')
    report = validate(src, format="sharegpt")
    assert [(s.code, [(loc.line, loc.field) for loc in s.first]) for s in report.sorted_rules()] == [("invalid-json", [(3, None)])]
    assert (report.total, report.exit_code) == (0, 1)
