"""Hostile chat templates (``--template hf``): a tokenizer folder's jinja is untrusted code.

Each crafted template must end with a clean, located error (code ``template-refused``,
``template-limit`` or ``template-error``), never a traceback, a hang or gigabytes of memory.
The limits are steps, a deadline and size caps (:mod:`sftdata.templates.sandbox`); the
subprocess timeout below only guards against a hang, nothing is timed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile._exec import sftdata

from sftdata.api import read
from sftdata.errors import DataError
from sftdata.templates.jinja import HFTemplate

LIMIT = "template-limit"
ERROR = "template-error"

# case name -> (template, error code, words the message holds)
CASES: dict[str, tuple[str, str, str]] = {
    "raise_exception": ("{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", "template-refused", "refuses this record: Conversation roles must alternate"),
    "nested_loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", LIMIT, "went past a limit on this record: it "),  # steps, or the deadline first on a loaded machine
    "string_times_2e9": ("{{ 'A' * 2e9 }}", ERROR, "TypeError: can't multiply sequence by non-int of type 'float'"),
    "string_times_2e9_as_int": ("{{ 'A' * (2e9 | int) }}", LIMIT, "would repeat a string 2,000,000,000 times"),
    "power_10_10000000": ("{{ 10 ** 10000000 }}", LIMIT, "would raise 10 to the power 10,000,000"),
    "list_times_huge": ("{{ ([1, 2] * 1000000000) | length }}", LIMIT, "would repeat a list 1,000,000,000 times"),
    "doubling_with_tilde": ("{% set ns = namespace(s='A') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}", LIMIT, "built a string of 16,777,216 characters"),
    "doubling_with_plus": ("{% set ns = namespace(s='A') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}", LIMIT, "built a string of 16,777,216 characters"),
    "huge_output": ("{% for i in range(100000) %}{{ 'A' * 100000 }}{% endfor %}", LIMIT, "its output passed 8,388,608 characters"),
    "set_block_output": ("{% set s = 'A' * 1000000 %}{% set big %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endset %}{{ big | length }}", LIMIT, "its output passed"),
    "exponential_macro": ("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}", LIMIT, "ran for more than 3 s"),
    "recursive_loop": ("{% for x in [1] recursive %}{{ loop(range(100000)) }}{% endfor %}", ERROR, "RecursionError"),
    "center_width": ("{{ 'x'.center(2000000000) }}", LIMIT, "argument 2,000,000,000 is above the cap"),
    "center_filter_width": ("{{ 'x' | center(2000000000) }}", LIMIT, "argument 2,000,000,000 is above the cap"),
    "format_width": ("{{ '{:>2000000000}'.format(1) }}", LIMIT, "a format width 2,000,000,000 is above the cap"),
    "format_nested_width": ("{{ '{:>{}}'.format(1, 2000000000) }}", LIMIT, "argument 2,000,000,000 is above the cap"),
    "printf_width": ("{{ '%2000000000d' % 1 }}", LIMIT, "a %-format width 2,000,000,000 is above the cap"),
    "printf_star_width": ("{{ '%*d' % (2000000000, 1) }}", LIMIT, "argument 2,000,000,000 is above the cap"),
    "format_filter_width": ("{{ '%2000000000d' | format(1) }}", LIMIT, "a %-format width 2,000,000,000 is above the cap"),
    "replace_empty": ("{% set s = 'a' * 1000000 %}{{ s.replace('', s) }}", LIMIT, "replace would build more than"),
    "replace_filter_empty": ("{% set s = 'a' * 1000000 %}{{ s | replace('', s) }}", LIMIT, "replace would build more than"),
    "join_repeated_refs": ("{% set s = 'a' * 1000000 %}{{ ([s] * 1000) | join }}", LIMIT, "more than 8,388,608 characters"),
    "join_wide_separator": ("{% set s = 'a' * 1000000 %}{{ s.join(['x'] * 1000) }}", LIMIT, "join would build more than"),
    "join_generator": ("{% set s = 'a' * 1000000 %}{{ s.join(([s] * 100) | map('upper')) }}", LIMIT, "more than 8,388,608 characters"),
    "tojson_repeated_refs": ("{% set s = 'a' * 1000000 %}{{ ([s] * 1000) | tojson }}", LIMIT, "more than 8,388,608 characters"),
    "tojson_huge_indent": ("{{ messages | tojson(indent=1000000000) }}", LIMIT, "argument 1,000,000,000 is above the cap"),
    "indent_many_lines": ("{% set s = '\\n' * 1000000 %}{{ s | indent(100) }}", LIMIT, "indent would build more than"),
    "expandtabs": ("{% set s = '\\t' * 1000000 %}{{ s.expandtabs(100) }}", LIMIT, "expandtabs would build more than"),
    "print_nested_refs": ("{% set s = 'a' * 100000 %}{% set l = [s] * 1000 %}{{ [l] * 1000 }}", LIMIT, "more than 8,388,608 characters"),
    "sandbox_escape_class": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", ERROR, "SecurityError: access to attribute '__class__'"),
    "sandbox_escape_globals": ("{{ raise_exception.__globals__['os'].system('echo pwned') }}", ERROR, "SecurityError"),
    "mutate_list": ("{% set l = [] %}{{ l.append(1) }}", ERROR, "SecurityError"),
    "undefined_attribute": ("{{ foo.bar.baz }}", ERROR, "UndefinedError: 'foo' is undefined"),
    "zero_division": ("{{ 1 // 0 }}", ERROR, "ZeroDivisionError"),
    "float_overflow": ("{{ 2.0 ** 100000 }}", ERROR, "OverflowError"),
}


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "Hello"}]} for i in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_template(case: str, record_file: Path) -> None:
    source, code, words = CASES[case]
    record = list(read(record_file))[1]
    with pytest.raises(DataError) as info:
        HFTemplate(source, stop="</s>").render(record)
    err = info.value
    assert err.code == code
    assert words in err.message
    assert str(err).startswith(f"{record_file}:2: [{code}] the chat template")
    assert "(chat_template" in err.message  # and its line, when the error is raised inside it
    assert err.remedy


def test_template_syntax_error_names_the_template_file(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }")
    template = HFTemplate.load(model_dir=tmp_path)
    with pytest.raises(DataError) as info:
        template.render([])
    assert str(info.value).startswith(f"{tmp_path / 'chat_template.jinja'}: [template-error] the chat template does not compile: ")
    assert "(template line 1)" in str(info.value)


def test_prefix_renders_share_the_records_limits() -> None:
    """A template that only misbehaves when rendering a prefix (add_generation_prompt) is
    still stopped, not swallowed by the fallback that locates answers by their text."""
    source = "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}{{ 'A' * 2000000000 }}{% endif %}"
    with pytest.raises(DataError, match=r"\[template-limit\]"):
        HFTemplate(source).render(list(read_messages()))


def read_messages() -> list:
    from sftdata.record import Message

    return [Message(role="user", content="Hi"), Message(role="assistant", content="Hello")]


def test_real_template_still_renders_and_refusal_is_reported() -> None:
    """Qwen2.5's real template renders as before; a template's raise_exception check on
    a bad conversation is the refusal, not a crash."""
    qwen = (Path(__file__).parents[1] / "templates" / "qwen25_chat_template.jinja").read_text()
    rendered = HFTemplate(qwen, stop="<|im_end|>").render(read_messages())
    assert rendered.text == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny local HF tokenizer folder (loads fast); each test writes its chat_template."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder = tmp_path_factory.mktemp("hostile_tok")
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "</s>": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "unk_token": "[UNK]"}))
    return folder


def _with_template(folder: Path, source: str) -> Path:
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": source}))
    return folder


def test_cli_render_raise_exception(hostile_folder: Path, record_file: Path) -> None:
    folder = _with_template(hostile_folder, "{% if messages[0].content == 'Hi 1' %}{{ raise_exception('Only Hi 0 please') }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}")
    proc = sftdata("render", str(record_file), "--template", "hf", "--tokenizer", str(folder), "-n", "2")
    assert proc.returncode == 1
    assert f"{record_file}:2: [template-refused] the chat template refuses this record: Only Hi 0 please" in proc.stderr


def test_cli_stats_nested_loops(hostile_folder: Path, record_file: Path) -> None:
    folder = _with_template(hostile_folder, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    proc = sftdata("stats", str(record_file), "--template", "hf", "--tokenizer", str(folder))
    assert proc.returncode == 1
    assert f"{record_file}:1: [template-limit] the chat template went past a limit on this record: it " in proc.stderr  # steps or deadline
