from __future__ import annotations

import json
from pathlib import Path

import pytest
from _clean_helpers import read_jsonl, sharegpt, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sftdata.clean import filters as F
from sftdata.errors import UsageError
from sftdata.formats import get_format
from sftdata.record import Message, PreferenceRecord, PretrainRecord, SFTRecord

SHAREGPT = get_format("sharegpt")


def rec(*turns: str) -> SFTRecord:
    roles = ["user", "assistant"]
    return SFTRecord(messages=tuple(Message(role=roles[i % 2], content=t) for i, t in enumerate(turns)))  # type: ignore[arg-type]


def test_turns_and_chars() -> None:
    assert F.Turns(min=2).check(rec("q", "a")) == F.Drop("too-few-turns", "assistant turns 1 < minimum 2")
    assert F.Turns(max=1).check(rec("q", "a", "q2", "a2")) == F.Drop("too-many-turns", "assistant turns 2 > maximum 1")
    assert F.Turns(min=1, max=1).check(rec("q", "a")) is None
    assert F.Chars(max=5, view="assistant").check(rec("question", "answer")) == F.Drop("too-long", "assistant characters 6 > maximum 5", "assistant")
    assert F.Chars(min=10, view="user").check(rec("question", "answer")) == F.Drop("too-short", "user characters 8 < minimum 10", "user")


def test_script_share() -> None:
    zh = rec("翻译：hello", "你好，世界")
    assert F.Script("han", min=0.5).check(zh) is None  # 6 han of 11 letters
    assert F.Script("latin", min=0.5).check(zh) == F.Drop("script-share-low", "latin share of letters 0.455 < minimum 0.5", "record")
    with pytest.raises(UsageError):
        F.Script("klingon", min=0.1)


def test_empty_turns() -> None:
    assert F.EmptyTurns().check(rec("q", "  \n")) == F.Drop("empty-turn", "assistant turn 1 is empty or whitespace only", "messages[1]")
    assert F.EmptyTurns().check(rec("q", "a")) is None
    assert F.EmptyTurns().check(PretrainRecord(text=" ")) == F.Drop("empty-turn", "text is empty or whitespace", "text")


def test_regex_keep_and_drop() -> None:
    yaml = rec("config?", "Here:\n```yaml\na: 1\n```")
    plain = rec("config?", "skip")
    keep_yaml = F.Regex(r"```yaml", target="assistant", action="keep")
    assert keep_yaml.check(yaml) is None
    assert keep_yaml.check(plain) == F.Drop("regex-no-match", "assistant text does not match '```yaml'")
    drop_skip = F.Regex(r"^skip$", action="drop")
    assert drop_skip.check(plain) == F.Drop("regex-match", "assistant text matches '^skip$'")
    assert F.Regex("config", target="user", action="drop").check(yaml) is not None
    tagged = SHAREGPT.decode({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "source": "web"})
    assert F.Regex("^web$", target="field:source", action="drop").check(tagged) == F.Drop("regex-match", "field:source text matches '^web$'")
    with pytest.raises(UsageError):
        F.Regex("(")


def test_repetition() -> None:
    looping = rec("q", "I am sorry. " * 12)
    assert F.Repetition(max_share=0.3).check(looping) == F.Drop("repetitive", "91% of 3-grams repeat (maximum 30%)", "messages[1]")
    fine = rec("q", "Paris is the capital of France and its largest city with about two million inhabitants in the city proper")
    assert F.Repetition(max_share=0.3).check(fine) is None
    assert F.repetition("好的好的好的好的好的好的") == pytest.approx(0.8)


def test_tokens_uses_the_stats_counts() -> None:
    from sftdata.templates import get_template
    from sftdata.tokenizers import get_tokenizer
    from sftdata.tokens import count_record

    r = rec("What is the capital of France?", "Paris.")
    counts = count_record(r, get_tokenizer("qwen2.5"), get_template("qwen"))
    assert F.Tokens(max=counts.total).check(r) is None
    assert F.Tokens(max=counts.total - 1).check(r) == F.Drop("too-many-tokens", f"total tokens {counts.total} > maximum {counts.total - 1}")
    assert F.Tokens(min=counts.trainable + 1, measure="trainable").check(r) == F.Drop("too-few-tokens", f"trainable tokens {counts.trainable} < minimum {counts.trainable + 1}")
    pair = PreferenceRecord(prompt=(Message(role="user", content="q"),), chosen=(Message(role="assistant", content="a"),), rejected=(Message(role="assistant", content="a much longer rejected answer " * 5),))
    longer = count_record(pair, get_tokenizer("qwen2.5"), get_template("qwen")).rejected_total
    assert F.Tokens(max=longer - 1).check(pair) is not None  # the longer branch counts


def test_predicate_and_composition(tmp_path: Path) -> None:
    rows = [sharegpt("q1", "fine answer here"), sharegpt("q2", "   "), sharegpt("q3", "As an AI language model, I cannot"), sharegpt("q4", "ok")]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    chain = [F.EmptyTurns(), F.Predicate(lambda r: "As an AI" not in r.messages[-1].text, code="refusal", message="refusal boilerplate"), F.Chars(min=3, view="assistant")]
    rep = F.filter(path, tmp_path / "out.jsonl", chain, rejects=tmp_path / "rej.jsonl")
    assert rep == F.FilterReport(read=4, kept=1, rejected=3, reasons={"empty-turn": 1, "refusal": 1, "too-short": 1})
    assert read_jsonl(tmp_path / "out.jsonl") == [rows[0]]
    rejected = read_jsonl(tmp_path / "rej.jsonl")
    assert [(r["line"], r["codes"], r["record"]) for r in rejected] == [(2, ["empty-turn"], rows[1]), (3, ["refusal"], rows[2]), (4, ["too-short"], rows[3])]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(st.text(alphabet="ab \n", max_size=12), min_size=1, max_size=20), lo=st.integers(0, 6))
def test_nothing_lost(tmp_path_factory: pytest.TempPathFactory, answers: list[str], lo: int) -> None:
    d = tmp_path_factory.mktemp("f")
    rows = [sharegpt("q", a) for a in answers]
    path = write_jsonl(d / "in.jsonl", rows)
    rep = F.filter(path, d / "o.jsonl", [F.EmptyTurns(), F.Chars(min=lo, view="assistant")], rejects=d / "r.jsonl")
    kept, rejected = read_jsonl(d / "o.jsonl"), read_jsonl(d / "r.jsonl")
    assert rep.read == len(rows) == rep.kept + rep.rejected == len(kept) + len(rejected)
    assert sorted(map(json.dumps, kept + [r["record"] for r in rejected])) == sorted(map(json.dumps, rows))
