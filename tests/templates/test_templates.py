"""Templates: the built-in qwen template equals Qwen2.5's real jinja chat template, spans
cover the text, train_on choices, tools, and every built-in template's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata.api import read
from sftdata.errors import UsageError
from sftdata.record import ImagePart, Message, PreferenceRecord, SFTRecord, TextPart, ToolCall, ToolSpec
from sftdata.templates import Rendered, Span, get_template, list_templates
from sftdata.templates.jinja import HFTemplate

HERE = Path(__file__).parent
QWEN25_JINJA = (HERE / "qwen25_chat_template.jinja").read_text()


def msgs(*pairs: tuple[str, str]) -> tuple[Message, ...]:
    return tuple(Message(role=r, content=c) for r, c in pairs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("qwen25")
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": QWEN25_JINJA, "eos_token": "<|im_end|>"}))
    return folder


def trained_runs(r: Rendered) -> list[str]:
    """Trainable text, one string per run of neighbouring trainable spans."""
    runs: list[str] = []
    prev_end = -1
    for s in r.spans:
        if s.trainable:
            if s.start == prev_end:
                runs[-1] += r.text[s.start : s.end]
            else:
                runs.append(r.text[s.start : s.end])
            prev_end = s.end
    return runs


def assert_covering(r: Rendered) -> None:
    assert r.spans[0].start == 0 and r.spans[-1].end == len(r.text)
    for a, b in zip(r.spans, r.spans[1:]):
        assert a.end == b.start and a.start < a.end


TOOL = ToolSpec(name="get_weather", description="Weather of a city", parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
CASES = {
    "no-system": SFTRecord(messages=msgs(("user", "Hi"), ("assistant", "Hello!"))),
    "system": SFTRecord(messages=msgs(("system", "Be brief."), ("user", "你好"), ("assistant", "你好！"), ("user", "2+2?"), ("assistant", "4"))),
    "tools-no-system": SFTRecord(
        messages=(
            Message(role="user", content="Weather in Paris and Oslo?"),
            Message(role="assistant", tool_calls=(ToolCall(name="get_weather", arguments={"city": "Paris"}), ToolCall(name="get_weather", arguments={"city": "Oslo"}))),
            Message(role="tool", content='{"temp": 21}'),
            Message(role="tool", content='{"temp": 9}'),
            Message(role="assistant", content="Paris 21°C, Oslo 9°C."),
        ),
        tools=(TOOL,),
    ),
    "tools-system-content-and-call": SFTRecord(
        messages=(
            Message(role="system", content="You are a weather bot."),
            Message(role="user", content="Paris?"),
            Message(role="assistant", content="Let me check.", tool_calls=(ToolCall(name="get_weather", arguments={"city": "Paris"}),)),
            Message(role="tool", content="sunny"),
            Message(role="assistant", content="Sunny."),
        ),
        tools=(TOOL,),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_qwen_equals_qwen25_jinja(case: str, qwen_folder: Path) -> None:
    record = CASES[case]
    ours = get_template("qwen").render(record)
    theirs = HFTemplate.load(model_dir=qwen_folder).render(record)
    assert ours.text == theirs.text
    assert ours.trainable_text() == theirs.trainable_text()
    assert_covering(ours)
    assert_covering(theirs)


def test_qwen_equals_jinja_on_real_tool_data(realdata: Path, qwen_folder: Path) -> None:
    hf = HFTemplate.load(model_dir=qwen_folder)
    qwen = get_template("qwen")
    records = list(read(realdata / "glaive_toolcall_en_demo.json"))
    assert len(records) == 300
    for record in records:
        assert qwen.render(record).text == hf.render(record).text


def test_spans_mark_answers_and_end_of_turn() -> None:
    r = get_template("qwen").render(CASES["system"])
    assert trained_runs(r) == ["你好！<|im_end|>", "4<|im_end|>"]
    assert r.text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n你好！<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
    )
    data = [r.text[s.start : s.end] for s in r.spans if not s.template]
    assert data == ["Be brief.", "你好", "你好！", "2+2?", "4"]
    assert [s.role for s in r.spans if not s.template] == ["system", "user", "assistant", "user", "assistant"]


def test_train_on_choices() -> None:
    t = get_template("chatml")
    rec = CASES["system"]
    assert t.render(rec, train_on="last").trainable_text() == "4<|im_end|>"
    everything = t.render(rec, train_on="everything")
    assert everything.trainable_text() == everything.text
    # a per-message override wins over train_on
    rec2 = SFTRecord(messages=(rec.messages[0], rec.messages[1], rec.messages[2].model_copy(update={"train": False}), *rec.messages[3:]))
    assert t.render(rec2).trainable_text() == "4<|im_end|>"


def test_preference_branches() -> None:
    rec = PreferenceRecord(prompt=msgs(("user", "Pick")), chosen=msgs(("assistant", "A")), rejected=msgs(("assistant", "B")))
    t = get_template("chatml")
    assert t.render(rec).trainable_text() == "A<|im_end|>"
    assert t.render(rec, branch="rejected").trainable_text() == "B<|im_end|>"


def test_media_placeholders() -> None:
    rec = SFTRecord(messages=(Message(role="user", content=(ImagePart(url="a.jpg"), TextPart(text="Who?"))), Message(role="assistant", content="Kane.")))
    assert "<|vision_start|><|image_pad|><|vision_end|>Who?" in get_template("qwen").render(rec).text
    assert "<image>Who?" in get_template("chatml").render(rec).text


TWO_TURNS = SFTRecord(messages=msgs(("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2"), ("assistant", "A2")))
EXPECTED = {
    "chatml": ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\nA2<|im_end|>\n", ["A1<|im_end|>", "A2<|im_end|>"]),
    "llama3": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA2<|eot_id|>",
        ["A1<|eot_id|>", "A2<|eot_id|>"],
    ),
    "llama2": ("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST] A2 </s>", ["A1 </s>", "A2 </s>"]),
    "mistral": ("<s>[INST] S\n\nU1[/INST] A1</s>[INST] U2[/INST] A2</s>", ["A1</s>", "A2</s>"]),
    "vicuna": ("S USER: U1 ASSISTANT: A1</s>USER: U2 ASSISTANT: A2</s>", ["A1</s>", "A2</s>"]),
    "alpaca": ("S\n\n### Instruction:\nU1\n\n### Response:\nA1</s>\n\n### Instruction:\nU2\n\n### Response:\nA2</s>\n\n", ["A1</s>", "A2</s>"]),
    "plain": ("S\n\nU1\nA1</s>\nU2\nA2</s>\n", ["A1</s>", "A2</s>"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_template_shapes(name: str) -> None:
    r = get_template(name).render(TWO_TURNS)
    assert (r.text, trained_runs(r)) == EXPECTED[name]
    assert_covering(r)


def test_alpaca_stanford_prompts_with_and_without_input() -> None:
    from sftdata.tokenizers import get_tokenizer

    t = get_template("alpaca", tokenizer=get_tokenizer("qwen2.5"))
    plain = SFTRecord(messages=msgs(("user", "Name a color."), ("assistant", "Blue.")))
    assert t.render(plain).text == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nName a color.\n\n### Response:\nBlue.<|im_end|>\n\n"
    )
    with_input = SFTRecord(messages=(Message(role="user", content="Translate.\nBonjour", input_start=11), Message(role="assistant", content="Hello")))
    assert t.render(with_input).text == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nTranslate.\n\n### Input:\nBonjour\n\n### Response:\nHello<|im_end|>\n\n"
    )


STANFORD_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
)
STANFORD_PLAIN = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"


def test_alpaca_template_renders_the_input_of_alpaca_rows() -> None:
    """An alpaca row with an input renders Stanford's "### Input:" prompt; the same text
    folded into the instruction (or from another format) renders the plain one."""
    from sftdata.formats import get_format
    from sftdata.tokenizers import get_tokenizer
    from sftdata.tokens import count_record

    tok = get_tokenizer("qwen2.5")
    t = get_template("alpaca", tokenizer=tok)
    alpaca = get_format("alpaca")
    split = alpaca.decode({"instruction": "Translate to English.", "input": "bonjour", "output": "hello"})
    folded = alpaca.decode({"instruction": "Translate to English.\nbonjour", "input": "", "output": "hello"})
    r = t.render(split)
    assert r.pieces() == [
        (STANFORD_INPUT, Span(0, 159, False, "system", True)),
        ("### Instruction:\n", Span(159, 176, False, "user", True)),
        ("Translate to English.", Span(176, 197, False, "user", False)),
        ("\n\n### Input:\n", Span(197, 210, False, "user", True)),
        ("bonjour", Span(210, 217, False, "user", False)),
        ("\n\n", Span(217, 219, False, "user", True)),
        ("### Response:\n", Span(219, 233, False, "assistant", True)),
        ("hello", Span(233, 238, True, "assistant", False)),
        ("<|im_end|>", Span(238, 248, True, "assistant", True)),
        ("\n\n", Span(248, 250, False, "assistant", True)),
    ]
    assert t.render(folded).text == STANFORD_PLAIN + "### Instruction:\nTranslate to English.\nbonjour\n\n### Response:\nhello<|im_end|>\n\n"
    # Token counts: each run of equally-trained spans is tokenized on its own.
    for rec, total in ((split, 46), (folded, 34)):
        text = t.render(rec).text
        prompt, answer = text.split("### Response:\n")
        runs = [prompt + "### Response:\n", "hello<|im_end|>", "\n\n"]
        assert sum(len(tok.encode(run)) for run in runs) == total
        counts = count_record(rec, tok, t)
        assert (counts.total, counts.trainable, counts.prompt) == (total, 2, total - 2)
    # media stay where the row put them; an empty instruction still gets its heading
    pic = alpaca.decode({"instruction": "", "input": "<image>What is this?", "output": "A cat.", "images": ["cat.jpg"]})
    assert t.render(pic).text == STANFORD_INPUT + "### Instruction:\n\n\n### Input:\n<image>What is this?\n\n### Response:\nA cat.<|im_end|>\n\n"
    # several text parts (e.g. OpenAI content blocks) are not an input
    blocks = SFTRecord(messages=(Message(role="user", content=(TextPart(text="a"), TextPart(text="b"))), Message(role="assistant", content="c")))
    assert t.render(blocks).text == STANFORD_PLAIN + "### Instruction:\nab\n\n### Response:\nc<|im_end|>\n\n"


def test_unknown_template_suggests() -> None:
    with pytest.raises(UsageError, match="Did you mean 'chatml'"):
        get_template("chatlm")
    assert "hf" in list_templates() and "qwen" in list_templates()


def test_hf_without_folder_is_usage_error() -> None:
    with pytest.raises(UsageError, match="needs a local tokenizer folder"):
        get_template("hf")


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=4), st.sampled_from(sorted(EXPECTED) + ["qwen"]), st.sampled_from(["all", "last", "everything"]))
def test_spans_cover_text_and_keep_every_answer(turns: list[tuple[str, str]], name: str, train_on: str) -> None:
    messages = tuple(m for u, a in turns for m in (Message(role="user", content=u), Message(role="assistant", content=a)))
    r = get_template(name).render(SFTRecord(messages=messages), train_on=train_on)  # type: ignore[arg-type]
    if r.text:
        assert_covering(r)
    trained = r.trainable_text()
    if train_on == "everything":
        assert trained == r.text
    else:
        answers = [a for _, a in turns] if train_on == "all" else [turns[-1][1]]
        stop = get_template(name).stop  # type: ignore[attr-defined]
        assert trained == "".join(a + EXPECTED_STOP[name] for a in answers), (trained, stop)


EXPECTED_STOP = {"chatml": "<|im_end|>", "qwen": "<|im_end|>", "llama3": "<|eot_id|>", "llama2": " </s>", "mistral": "</s>", "vicuna": "</s>", "alpaca": "</s>", "plain": "</s>"}


def test_span_is_frozen() -> None:
    s = Span(0, 1, True, "assistant")
    with pytest.raises(AttributeError):
        s.start = 2  # type: ignore[misc]
