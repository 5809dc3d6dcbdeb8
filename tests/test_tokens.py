"""encode_record / count_record: labels line up with spans, counts add up, cutoff."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.api import read
from sftdata.record import KTORecord, Message, PreferenceRecord, PretrainRecord, SFTRecord
from sftdata.templates import get_template
from sftdata.tokenizers import get_tokenizer
from sftdata.tokenizers.runs import RunEncoder as _Encoder
from sftdata.tokens import IGNORE_INDEX, Encoded, TokenCounts, count_record, encode_record

TOK = get_tokenizer("qwen2.5")
QWEN = get_template("qwen")


def m(role: str, content: str) -> Message:
    return Message(role=role, content=content)  # type: ignore[arg-type]


REC = SFTRecord(messages=(m("user", "What is 2+2?"), m("assistant", "4."), m("user", "And 3+3?"), m("assistant", "6.")))


def test_encode_whole_value() -> None:
    enc = encode_record(REC, TOK, QWEN)
    expected_text = (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n"
        "<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n6.<|im_end|>\n"
    )
    assert enc.input_ids == TOK.encode(expected_text)
    trained = [i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX]
    assert TOK.decode(trained) == "4.<|im_end|>6.<|im_end|>"
    assert all(label in (IGNORE_INDEX, i) for i, label in zip(enc.input_ids, enc.labels))


def test_counts_add_up() -> None:
    c = count_record(REC, TOK, QWEN)
    enc = encode_record(REC, TOK, QWEN)
    content_tokens = sum(len(TOK.encode(x.text)) for x in REC.messages)
    assert c == TokenCounts(kind="sft", total=len(enc.input_ids), prompt=len(enc.input_ids) - 6, trainable=6, overhead=len(enc.input_ids) - content_tokens, turns=2)


def test_cutoff_counts_what_it_cuts() -> None:
    full = encode_record(REC, TOK, QWEN)
    n = len(full.input_ids)
    cut = encode_record(REC, TOK, QWEN, cutoff_len=n - 2)
    assert cut == Encoded(full.input_ids[: n - 2], full.labels[: n - 2], full.overhead, cut=2, cut_trainable=1)
    c = count_record(REC, TOK, QWEN, cutoff_len=n - 2)
    assert (c.total, c.trainable, c.cut, c.cut_trainable) == (n, 6, 2, 1)


def test_train_on_last() -> None:
    enc = encode_record(REC, TOK, QWEN, train_on="last")
    assert TOK.decode([i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX]) == "6.<|im_end|>"


def test_preference_kto_pretrain() -> None:
    pref = PreferenceRecord(prompt=(m("user", "Pick one"),), chosen=(m("assistant", "A good answer"),), rejected=(m("assistant", "Bad"),))
    c = count_record(pref, TOK, QWEN)
    assert (c.trainable, c.rejected_trainable, c.total - c.rejected_total) == (4, 2, 2)  # type: ignore[operator]
    kto = KTORecord(prompt=(m("user", "Q"),), completion=(m("assistant", "A"),), label=False)
    ck = count_record(kto, TOK, QWEN)
    assert (ck.kind, ck.label, ck.trainable) == ("kto", False, 2)
    pre = PretrainRecord(text="Hello world")
    enc = encode_record(pre, TOK, QWEN)
    assert enc == Encoded([9707, 1879, 151645], [9707, 1879, 151645])


def test_real_records_labels_equal_template_spans(realdata: Path) -> None:
    """For every real tool conversation, the trained tokens decode to the trainable text."""
    for record in read(realdata / "glaive_toolcall_en_demo.json"):
        enc = encode_record(record, TOK, QWEN)
        trained = [i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX]
        assert TOK.decode(trained) == QWEN.render(record).trainable_text()
        assert TOK.decode(enc.input_ids) == QWEN.render(record).text


@pytest.mark.parametrize("name", ["chatml", "llama3", "llama2", "mistral", "vicuna", "alpaca", "plain"])
def test_every_template_counts(name: str) -> None:
    t = get_template(name, tokenizer=TOK)
    c = count_record(REC, TOK, t)
    assert c.total == c.prompt + c.trainable and c.trainable > 0 and 0 < c.overhead < c.total


# Pieces built from what makes pre-tokenizer boundaries tricky: newlines, spaces,
# punctuation, special tokens, CJK, digits, combining marks, contractions.
_atoms = st.sampled_from(["\n", "\n\n", " ", "  ", "\t", "\r\n", ".", "!?", ":", "<|im_end|>", "<|im_start|>", "<tool_call>", "</tool_call>", "<", ">", "|", "a", "Hi", "user", "你好", "12", "'s", "\u0301", "\u0338", "é", "{", "}", '"'])
_piece = st.tuples(st.lists(_atoms, min_size=1, max_size=6).map("".join), st.booleans())


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, min_size=1, max_size=8))
def test_reusing_template_ids_never_changes_tokens(pieces: list[tuple[str, bool]]) -> None:
    enc = _Encoder(TOK)
    assert enc.run(pieces)[0] == TOK.encode("".join(t for t, _ in pieces))
    assert enc.run(pieces)[0] == TOK.encode("".join(t for t, _ in pieces))  # again, from the cache


def test_reuse_is_exercised() -> None:
    enc = _Encoder(TOK)
    pieces = [("<|im_start|>system\n", True), ("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", True), ("<|im_end|>\n<|im_start|>user\n", True), ("Hi", False)]
    assert enc.run(pieces) == (TOK.encode("".join(t for t, _ in pieces)), 3 + 16 + 5)
    assert "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." in enc.cache


@settings(max_examples=300, deadline=None)
@given(_piece, _piece)
def test_safe_boundary_means_separate_encoding_is_exact(a: tuple[str, bool], b: tuple[str, bool]) -> None:
    left, right = a[0], b[0]
    if TOK.safe_boundary(left, right):  # type: ignore[attr-defined]
        assert TOK.encode(left) + TOK.encode(right) == TOK.encode(left + right)
