"""Trainer conventions: what sftdata, LLaMA-Factory and TRL train of the same record, and how
each cuts it. Parity with the trainers' own code is in tests/parity/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.api import read
from sftdata.errors import UsageError
from sftdata.record import KTORecord, Message, PreferenceRecord, SFTRecord
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.templates import get_template
from sftdata.templates.trainers import get_trainer, infer_seqlen
from sftdata.tokenizers import get_tokenizer
from sftdata.tokens import IGNORE_INDEX, count_record, counts_of, encode_record, render_as

TOK = get_tokenizer("qwen2.5")
QWEN = get_template("qwen")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SYSTEM = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"


def m(role: str, content: str) -> Message:
    return Message(role=role, content=content)  # type: ignore[arg-type]


REC = SFTRecord(messages=(m("user", "What is 2+2?"), m("assistant", "4."), m("user", "And 3+3?"), m("assistant", "6.")))
TEXT = SYSTEM + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n6.<|im_end|>\n"


def trained(enc: object) -> str:
    return TOK.decode([i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("trainer", "train_on", "expected"),
    [
        ("sftdata", None, "4.<|im_end|>6.<|im_end|>"),
        ("llamafactory", None, "4.<|im_end|>\n6.<|im_end|>\n"),
        ("llamafactory", "last", "6.<|im_end|>\n"),
        ("llamafactory", "everything", TEXT),
        ("trl", None, TEXT),
        ("trl", "all", "\n4.<|im_end|>\n\n6.<|im_end|>\n"),
    ],
)
def test_same_ids_different_labels(trainer: str, train_on: str | None, expected: str) -> None:
    enc = encode_record(REC, TOK, QWEN, train_on=train_on, trainer=trainer)  # type: ignore[arg-type]
    assert enc.input_ids == TOK.encode(TEXT)
    assert trained(enc) == expected
    assert all(label in (IGNORE_INDEX, i) for i, label in zip(enc.input_ids, enc.labels))


def test_unknown_trainer_and_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="Did you mean 'trl'"):
        get_trainer("trll")
    with pytest.raises(UsageError, match="cannot train on 'last'") as err:
        encode_record(REC, TOK, QWEN, train_on="last", trainer="trl")
    assert "assistant_only_loss" in (err.value.remedy or "")
    hf_like = type("T", (), {"name": "hf", "stop": "", "render": QWEN.render})()
    with pytest.raises(UsageError, match="built-in templates"):
        encode_record(REC, TOK, hf_like, trainer="llamafactory")  # type: ignore[arg-type]


def test_infer_seqlen_matches_llamafactory_cases() -> None:
    # short answer kept whole, short prompt kept whole, both long: shared in proportion
    assert infer_seqlen(900, 300, 1024) == (724, 300)
    assert infer_seqlen(100, 2000, 1024) == (100, 924)
    assert infer_seqlen(1500, 1500, 1024) == (512, 512)
    assert infer_seqlen(10, 10, 1024) == (10, 10)
    assert infer_seqlen(5, 5, 0) == (0, 0)


def test_llamafactory_cuts_each_turn_and_keeps_answers() -> None:
    long_q = " ".join(["word"] * 300)
    rec = SFTRecord(messages=(m("user", long_q), m("assistant", "Yes."), m("user", "Again?"), m("assistant", "No.")))
    full = encode_record(rec, TOK, QWEN, trainer="llamafactory")
    lf = encode_record(rec, TOK, QWEN, trainer="llamafactory", cutoff_len=100)
    right = encode_record(rec, TOK, QWEN, trainer="sftdata", cutoff_len=100)
    # the first turn's prompt is cut mid-text, its answer kept; the second turn finds no budget
    first_target = TOK.encode("Yes.<|im_end|>\n")
    assert lf.input_ids[-len(first_target):] == first_target and len(lf.input_ids) == 100
    assert trained(lf) == "Yes.<|im_end|>\n"
    assert lf.input_ids[: 100 - len(first_target)] == full.input_ids[: 100 - len(first_target)]
    assert (lf.cut, lf.cut_trainable) == (len(full.input_ids) - 100, full.trainable - len(first_target))
    assert trained(right) == ""  # a right cut leaves nothing to train
    # mask_history: the last turn gets the budget first and the first turn is cut
    last = encode_record(rec, TOK, QWEN, train_on="last", trainer="llamafactory", cutoff_len=100)
    assert trained(last) == "No.<|im_end|>\n"
    second = TOK.encode("<|im_start|>user\nAgain?<|im_end|>\n<|im_start|>assistant\nNo.<|im_end|>\n")
    assert last.input_ids[-len(second):] == second and len(last.input_ids) == 100


PROMPT = (m("user", "Name a colour."), m("assistant", "Red, a warm colour that many flags use."), m("user", "Another one?"))
PAIR = PreferenceRecord(prompt=PROMPT, chosen=(m("assistant", "Blue."),), rejected=(m("assistant", "No. " * 60),))
KTO = KTORecord(prompt=PROMPT, completion=(m("assistant", "Blue."),), label=True)


@pytest.mark.parametrize("trainer", ["sftdata", "llamafactory", "trl"])
def test_preference_and_kto_never_train_the_prompt(trainer: str) -> None:
    tail = "" if trainer == "sftdata" else "\n"
    for rec in (PAIR, KTO):
        enc = encode_record(rec, TOK, QWEN, trainer=trainer)  # type: ignore[arg-type]
        assert trained(enc) == "Blue.<|im_end|>" + tail
        c = count_record(rec, TOK, QWEN, trainer=trainer)  # type: ignore[arg-type]
        assert c.trainable == enc.trainable and c.prompt == len(enc.input_ids) - enc.trainable
    rejected = encode_record(PAIR, TOK, QWEN, branch="rejected", trainer=trainer)  # type: ignore[arg-type]
    assert trained(rejected) == "No. " * 60 + "<|im_end|>" + tail


def test_preference_cut_keeps_each_side_own_count() -> None:
    n_prompt = len(encode_record(PAIR, TOK, QWEN).input_ids) - 4  # "Blue", ".", "<|im_end|>", "\n"
    c = count_record(PAIR, TOK, QWEN, cutoff_len=n_prompt + 10)
    chosen = encode_record(PAIR, TOK, QWEN, cutoff_len=n_prompt + 10)
    rejected = encode_record(PAIR, TOK, QWEN, cutoff_len=n_prompt + 10, branch="rejected")
    assert c == counts_of(PAIR, chosen, rejected)
    assert (c.cut, c.cut_trainable) == (0, 0)  # the chosen side fits
    assert c.rejected_cut_trainable == rejected.cut_trainable > 0


def test_stats_no_longer_lists_pairs_whose_chosen_side_trains(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": [message_dict(x) for x in PAIR.prompt], "chosen": [message_dict(PAIR.chosen[0])], "rejected": [message_dict(PAIR.rejected[0])]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    n = len(encode_record(PAIR, TOK, QWEN).input_ids)
    report = token_stats(path, StatsConfig(cutoff_len=n, format="trl"), workers=1)
    chosen = encode_record(PAIR, TOK, QWEN, cutoff_len=n)
    rejected = encode_record(PAIR, TOK, QWEN, cutoff_len=n, branch="rejected")
    assert report.zero_trainable_lines == []
    assert report.trainable_tokens == chosen.trainable + rejected.trainable
    assert (report.over_cutoff, report.cut_tokens, report.cut_trainable) == (1, rejected.cut, rejected.cut_trainable)


def message_dict(x: Message) -> dict[str, str]:
    return {"role": x.role, "content": x.text}


def test_trl_drops_prompt_filling_rows_as_nothing_to_train() -> None:
    full = encode_record(PAIR, TOK, QWEN, trainer="trl")
    n_prompt = len(full.input_ids) - full.trainable
    assert n_prompt == len(TOK.encode(QWEN.render(PAIR.prompt).text + "<|im_start|>assistant\n"))
    enc = encode_record(PAIR, TOK, QWEN, trainer="trl", cutoff_len=n_prompt)
    assert enc.trainable == 0 and enc.cut_trainable == 4
    lf = encode_record(PAIR, TOK, QWEN, trainer="llamafactory", cutoff_len=n_prompt)
    assert trained(lf) == "Blue.<|im_end|>\n"  # LLaMA-Factory cuts the prompt instead


def test_trl_whole_text_tokens_where_an_answer_starts_with_a_newline() -> None:
    rec = SFTRecord(messages=(m("user", "Hi"), m("assistant", "\n\nHello")))
    text = SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n\n\nHello<|im_end|>\n"
    trl = encode_record(rec, TOK, QWEN, trainer="trl", train_on="all")
    assert trl.input_ids == TOK.encode(text)  # one "\n\n\n" token, as apply_chat_template makes it
    assert trained(trl) == "\n\n\nHello<|im_end|>\n"
    lf = encode_record(rec, TOK, QWEN, trainer="llamafactory")
    assert lf.input_ids != trl.input_ids and trained(lf) == "\n\nHello<|im_end|>\n"  # per-turn encoding
    pair = PreferenceRecord(prompt=(m("user", "Hi"),), chosen=(m("assistant", "\n\nHello"),), rejected=(m("assistant", "Bye"),))
    dpo = encode_record(pair, TOK, QWEN, trainer="trl")
    assert dpo.input_ids == TOK.encode(text)
    assert trained(dpo) == "\n\n\nHello<|im_end|>\n"  # the merged token belongs to the completion


def test_render_as_shows_the_trainers_spans() -> None:
    assert render_as(REC, QWEN, trainer="llamafactory").trainable_text() == "4.<|im_end|>\n6.<|im_end|>\n"
    assert render_as(REC, QWEN, trainer="trl", train_on="all").trainable_text() == "\n4.<|im_end|>\n\n6.<|im_end|>\n"
    assert render_as(PAIR, QWEN, trainer="trl").trainable_text() == "Blue.<|im_end|>\n"
    assert render_as(PAIR, QWEN).trainable_text() == "Blue.<|im_end|>"
    for rec in (REC, PAIR, KTO):
        for trainer in ("sftdata", "llamafactory", "trl"):
            assert render_as(rec, QWEN, trainer=trainer).text == QWEN.render(rec).text  # type: ignore[arg-type]


FILES = sorted(p for p in FIXTURES.glob("*/*.jsonl") if "invalid" not in p.name and p.parent.name != "invalid")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("trainer", ["llamafactory", "trl"])
def test_counts_equal_encodings_on_every_fixture(path: Path, trainer: str) -> None:
    for rec in read(path):
        for cutoff in (None, 24):
            c = count_record(rec, TOK, QWEN, cutoff_len=cutoff, trainer=trainer)  # type: ignore[arg-type]
            chosen = encode_record(rec, TOK, QWEN, cutoff_len=cutoff, trainer=trainer)  # type: ignore[arg-type]
            rejected = encode_record(rec, TOK, QWEN, cutoff_len=cutoff, branch="rejected", trainer=trainer) if isinstance(rec, PreferenceRecord) else None  # type: ignore[arg-type]
            assert c == counts_of(rec, chosen, rejected)
            assert len(chosen.input_ids) <= (cutoff or 1 << 30)
            if cutoff is None:
                assert chosen.input_ids == encode_record(rec, TOK, QWEN).input_ids or trainer == "trl"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=" \n\tab.é<|>", max_size=12), min_size=2, max_size=6), st.integers(1, 80))
def test_llamafactory_cut_keeps_a_prefix_of_every_turn(texts: list[str], cutoff: int) -> None:
    msgs = tuple(m("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts))
    if msgs[-1].role != "assistant":
        msgs = msgs[:-1]
    rec = SFTRecord(messages=msgs)
    full = encode_record(rec, TOK, QWEN, trainer="llamafactory")
    cut = encode_record(rec, TOK, QWEN, trainer="llamafactory", cutoff_len=cutoff)
    assert len(cut.input_ids) == min(cutoff, len(full.input_ids))
    assert len(cut.input_ids) + cut.cut == len(full.input_ids)
    assert cut.trainable + cut.cut_trainable == full.trainable
    assert set(cut.input_ids) <= set(full.input_ids)
