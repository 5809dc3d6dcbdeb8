"""Real image token counts (sftdata.media.tokens) and their use in counting, stats,
filter and render."""

from __future__ import annotations

import dataclasses
import doctest
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import sftdata.media.tokens as mt
from _paths import FIXTURES
from sftdata.api import read
from sftdata.cli import cli, main
from sftdata.clean.filters import Tokens, filter
from sftdata.errors import UsageError
from sftdata.media.tokens import ImageCount, MediaError, MediaModel, MediaOptions, media_tokens, qwen2_vl_image_tokens
from sftdata.record import ImagePart, Message, PreferenceRecord, SFTRecord, Source, TextPart
from sftdata.stats.compute import StatsConfig, token_stats
from sftdata.templates import get_template
from sftdata.tokenizers import get_tokenizer
from sftdata.tokens import count_record, counts_of, encode_record

TOK = get_tokenizer("qwen2.5")
QWEN = get_template("qwen", tokenizer=TOK)
PAD = TOK.token_id("<|image_pad|>")
MEDIA = media_tokens(TOK, QWEN)


# -- the Qwen2-VL arithmetic ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "options", "tokens"),
    [
        ((640, 480), MediaOptions(), 391),  # 476 x 644 after rounding to 28s: 17 x 23
        ((300, 168), MediaOptions(), 66),  # mllm_demo 1.jpg
        ((300, 199), MediaOptions(), 77),  # mllm_demo 2.jpg
        ((4000, 3000), MediaOptions(), 768),  # over 768*768: scaled to 886 x 665 first
        ((4000, 3000), MediaOptions(image_max_pixels=1024 * 1024), 1344),  # 1182 x 886 -> 896 x 1176
        ((4000, 3000), MediaOptions(image_max_pixels=10**9), 15_301),  # 2996 x 4004, under the processor's 12.8M cap
        ((8, 8), MediaOptions(), 4),  # tiny: 32 x 32, then the processor's 56 x 56 minimum
        ((1, 1), MediaOptions(), 4),
        ((10_000, 10), MediaOptions(), 180),  # aspect ratio 1000 clamped to 180 x 28
        ((28, 5000), MediaOptions(), 179),  # ratio 178.6 is kept: 28 x 5012
    ],
)
def test_qwen2_vl_image_tokens(size: tuple[int, int], options: MediaOptions, tokens: int) -> None:
    assert qwen2_vl_image_tokens(*size, options) == tokens


def test_matches_transformers_qwen2_vl_image_processor() -> None:
    """The processor stage against transformers' own processor, built from a config in
    code: the image LLaMA-Factory hands it (our regularized size) -> grid -> tokens."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    cases = [((640, 480), MediaOptions()), ((300, 168), MediaOptions()), ((4000, 3000), MediaOptions()), ((8, 8), MediaOptions()),
             ((10_000, 10), MediaOptions()), ((1, 1), MediaOptions()), ((3000, 2000), MediaOptions(image_max_pixels=10**8, processor_max_pixels=1_003_520)),
             ((50, 40), MediaOptions(image_min_pixels=100, processor_min_pixels=56 * 56))]  # fmt: skip
    for size, options in cases:
        w, h = mt._regularize(*size, options.image_max_pixels, options.image_min_pixels)
        processor = Qwen2VLImageProcessorPil(min_pixels=options.processor_min_pixels, max_pixels=options.processor_max_pixels)
        grid = processor(images=[Image.new("RGB", (w, h))], return_tensors="np")["image_grid_thw"][0]
        assert (int(grid.prod()) // 4, size) == (qwen2_vl_image_tokens(*size, options), size)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(28 * 28, 20_000_000), st.integers(1, 28 * 28 * 8))
def test_smart_resize_matches_transformers(height: int, width: int, max_pixels: int, min_pixels: int) -> None:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    if max(height, width) / min(height, width) > 200:
        return  # transformers refuses those; LLaMA-Factory clamps the ratio before
    assert mt.smart_resize(height, width, 28, min_pixels, max_pixels) == smart_resize(height, width, 28, min_pixels, max_pixels)


def test_regularize_matches_pillow_resizes() -> None:
    """LLaMA-Factory resizes with PIL to the truncated sides: the same sizes as ours."""
    for size in [(4000, 3000), (999, 1001), (7, 9), (10_000, 10)]:
        w, h = mt._regularize(*size, 768 * 768, 32 * 32)
        img = Image.new("RGB", size)
        if img.width * img.height > 768 * 768:
            f = (768 * 768 / (img.width * img.height)) ** 0.5
            img = img.resize((int(img.width * f), int(img.height * f)))
        if img.width * img.height < 32 * 32:
            f = (32 * 32 / (img.width * img.height)) ** 0.5
            img = img.resize((int(img.width * f), int(img.height * f)))
        if min(img.size) < 28:
            img = img.resize((max(img.width, 28), max(img.height, 28)))
        if img.width / img.height > 200:
            img = img.resize((img.height * 180, img.height))
        assert (w, h) == img.size


def test_module_doctests() -> None:
    import sftdata.cli.stats_view as view

    for module in (mt, view):
        assert doctest.testmod(module).failed == 0


# -- options and the registry --------------------------------------------------------------------
def test_media_tokens_resolution() -> None:
    assert MEDIA is not None and (MEDIA.model.name, MEDIA.pad_id) == ("qwen2-vl", PAD)
    assert media_tokens(TOK, QWEN, MediaOptions(model="placeholder")) is None
    assert media_tokens(TOK, get_template("chatml")) is None  # no media model: placeholders
    assert media_tokens(TOK, get_template("chatml"), MediaOptions(model="qwen2.5-vl")).model is mt.QWEN2_VL  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="Did you mean 'qwen2-vl'"):
        media_tokens(TOK, QWEN, MediaOptions(model="qwen2-v"))
    with pytest.raises(UsageError, match="image_min_pixels is larger"):
        MediaOptions(image_min_pixels=10, image_max_pixels=5)

    class NoPad:
        name = "toy"

        def token_id(self, tok: str) -> int:
            raise UsageError("no such token")

    assert media_tokens(NoPad(), QWEN) is None  # auto: the pair cannot expand, stats warns
    with pytest.raises(UsageError, match="has no <\\|image_pad\\|> token"):
        media_tokens(NoPad(), QWEN, MediaOptions(model="qwen2-vl"))


def test_a_registered_model_is_one_entry() -> None:
    toy = MediaModel("toy-vl", "<|image_pad|>", lambda w, h, o: w * h // 10)
    mt.register_media_model(toy, "toy")
    try:
        media = media_tokens(TOK, get_template("chatml"), MediaOptions(model="toy"))
        rec = _rec(FIXTURES / "sharegpt" / "images" / "1.png")  # 8 x 8 -> 6 tokens
        assert count_record(rec, TOK, QWEN, media=media).image_tokens == 6
    finally:
        del mt._MODELS["toy-vl"], mt._ALIASES["toy"]


# -- counting ------------------------------------------------------------------------------------------
def _rec(*images: Path | str, source: Source | None = None) -> SFTRecord:
    parts = tuple(ImagePart(url=str(p)) for p in images) + (TextPart(text="What is this?"),)
    return SFTRecord(messages=(Message(role="user", content=parts), Message(role="assistant", content="A picture.")), source=source)


def test_count_expands_each_pad_and_encode_agrees(tmp_path: Path) -> None:
    Image.new("RGB", (640, 480)).save(tmp_path / "a.png")
    Image.new("RGB", (300, 168)).save(tmp_path / "b.png")
    rec = _rec("a.png", "b.png", source=Source(str(tmp_path / "data.jsonl"), 7))
    plain = count_record(rec, TOK, QWEN)
    real = count_record(rec, TOK, QWEN, media=MEDIA)
    grow = 391 + 66 - 2
    assert real == dataclasses.replace(plain, total=plain.total + grow, prompt=plain.prompt + grow, images=2, image_tokens=457)
    enc = encode_record(rec, TOK, QWEN, media=MEDIA)
    assert counts_of(rec, enc) == real
    start = TOK.token_id("<|vision_start|>")
    i = enc.input_ids.index(start)
    assert enc.input_ids[i : i + 393] == [start] + [PAD] * 391 + [TOK.token_id("<|vision_end|>")]
    assert enc.input_ids.count(PAD) == 457 and enc.image_tokens == 457
    # the cutoff cuts expanded tokens, the same way in both paths
    for cutoff in (100, 420, real.total - 1):
        assert counts_of(rec, encode_record(rec, TOK, QWEN, cutoff_len=cutoff, media=MEDIA)) == count_record(rec, TOK, QWEN, cutoff_len=cutoff, media=MEDIA)
    assert len(encode_record(rec, TOK, QWEN, cutoff_len=420, media=MEDIA).input_ids) == 420


def test_fixture_images_resolve_against_the_dataset_folder() -> None:
    records = list(read(FIXTURES / "sharegpt" / "sft.jsonl"))
    for rec in records:
        plain, real = count_record(rec, TOK, QWEN), count_record(rec, TOK, QWEN, media=MEDIA)
        n = real.images
        # images/1.png is 8 x 8: 4 tokens instead of the placeholder's 1 pad
        assert real == dataclasses.replace(plain, total=plain.total + 3 * n, prompt=plain.prompt + 3 * n, images=n, image_tokens=4 * n)
    assert sum(count_record(r, TOK, QWEN, media=MEDIA).images for r in records) == 1


def test_media_root_option(tmp_path: Path) -> None:
    Image.new("RGB", (640, 480)).save(tmp_path / "x.png")
    rec = _rec("x.png", source=Source("/nowhere/data.jsonl", 1))
    assert count_record(rec, TOK, QWEN, media=media_tokens(TOK, QWEN, MediaOptions(media_root=str(tmp_path)))).image_tokens == 391
    assert count_record(rec, TOK, QWEN, media=MEDIA).media_unknown == 1


def test_unknown_images_count_as_placeholders_or_raise(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rec = _rec("gone.png", "broken.png", "https://example.com/c.jpg", source=Source(str(tmp_path / "d.jsonl"), 3))
    plain = count_record(rec, TOK, QWEN)
    assert count_record(rec, TOK, QWEN, media=MEDIA) == dataclasses.replace(plain, images=3, image_tokens=3, media_unknown=3)
    found = MEDIA.images(rec)  # type: ignore[union-attr]
    assert [(i.url, i.tokens, i.size) for i in found] == [("gone.png", 1, None), ("broken.png", 1, None), ("https://example.com/c.jpg", 1, None)]
    strict = media_tokens(TOK, QWEN, MediaOptions(unknown="error"))
    with pytest.raises(MediaError) as err:
        count_record(rec, TOK, QWEN, media=strict)
    assert str(err.value) == (
        f"{tmp_path / 'd.jsonl'}:3 messages[0]: [media-missing] image file not found: {tmp_path / 'gone.png'}, so its tokens cannot be counted. "
        "Fix the path or pass --media-root DIR (the folder image paths are relative to); `sftdata validate` lists every missing image; "
        "--media-model placeholder counts placeholders only."
    )


def test_preference_branches_both_expand(tmp_path: Path) -> None:
    Image.new("RGB", (640, 480)).save(tmp_path / "a.png")
    prompt = (Message(role="user", content=(ImagePart(url="a.png"), TextPart(text="Describe."))),)
    rec = PreferenceRecord(prompt=prompt, chosen=(Message(role="assistant", content="A grey square."),), rejected=(Message(role="assistant", content="No."),), source=Source(str(tmp_path / "p.jsonl"), 1))
    plain, real = count_record(rec, TOK, QWEN), count_record(rec, TOK, QWEN, media=MEDIA)
    assert real == dataclasses.replace(plain, total=plain.total + 390, prompt=plain.prompt + 390, rejected_total=plain.rejected_total + 390, images=1, image_tokens=391)  # type: ignore[operator]


def test_expand_ids_with_more_pads_than_images() -> None:
    assert mt.expand_ids([PAD, 1, PAD], PAD, iter([ImageCount("a", 3)])) == ([PAD, PAD, PAD, 1, PAD], 4)


# -- stats, filter, render --------------------------------------------------------------------------
def test_stats_on_mllm_demo(realdata: Path) -> None:
    path = realdata / "mllm_demo.json"
    report = token_stats(path, workers=1)
    plain = token_stats(path, StatsConfig(media=MediaOptions(model="placeholder")), workers=1)
    # 1.jpg x4 (66 each), 2.jpg x2 (77), 3.jpg x2 (66): 550 pad tokens instead of 8
    assert (report.media_model, report.images, report.image_tokens, report.media_unknown, report.tokens) == ("qwen2-vl", 8, 550, 0, 1085)
    assert (plain.media_model, plain.images, plain.image_tokens, plain.tokens) == (None, 8, 0, 1085 - 542)
    assert [report.fields["total"].min, report.fields["total"].max] == [150, 205]
    assert round(report.image_share, 4) == round(550 / 1085, 4)


def test_stats_two_workers_count_the_same(realdata: Path) -> None:
    path = realdata / "mllm_demo.json"
    one, two = token_stats(path, workers=1), token_stats(path, workers=2)
    assert (one.fields, one.image_tokens, one.tokens) == (two.fields, two.image_tokens, two.tokens)


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI entry point (which maps errors to exit codes) and capture its output."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def test_stats_cli_reports_share_and_unknown_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    # openai/sft.jsonl: line 3 has a remote image (not fetched), line 4 img/1.jpg (8 x 8)
    path = str(FIXTURES / "openai" / "sft.jsonl")
    result = CliRunner().invoke(cli, ["stats", path])
    assert result.exit_code == 0, result.output
    report = token_stats(path, workers=1)
    assert (report.images, report.image_tokens, report.media_unknown, report.media_unknown_lines) == (2, 5, 1, [3])
    assert f"images: 2 (5 tokens, {5 / report.tokens:.1%} of all tokens; expanded as qwen2-vl)" in result.output
    assert "images of unknown size: 1 (missing, undecodable or remote; counted as placeholders) on lines 3" in result.output
    data = orjson.loads(CliRunner().invoke(cli, ["stats", path, "--json", "--media-model", "placeholder"]).output)
    assert (data["media_model"], data["images"], data["image_tokens"]) == (None, 2, 0)
    code, _, err = _main(capsys, "stats", path, "--media-model", "qwen-vl")
    assert code == 2 and "unknown media model 'qwen-vl'. Did you mean 'qwen2-vl'?" in err


def test_filter_drops_by_real_length_and_unknown_images(tmp_path: Path) -> None:
    Image.new("RGB", (640, 480)).save(tmp_path / "big.png")
    rows = [
        {"conversations": [{"from": "human", "value": "<image>What?"}, {"from": "gpt", "value": "Grey."}], "images": ["big.png"]},
        {"conversations": [{"from": "human", "value": "<image>What?"}, {"from": "gpt", "value": "Grey."}], "images": ["missing.png"]},
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = filter(src, tmp_path / "out.jsonl", [Tokens(max=300)], rejects=tmp_path / "rej.jsonl")
    assert (report.read, report.kept, report.rejected, report.reasons) == (3, 1, 2, {"media-missing": 1, "too-many-tokens": 1})
    assert [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()] == [rows[2]]
    plain = filter(src, tmp_path / "out2.jsonl", [Tokens(max=300, media=MediaOptions(model="placeholder"))])
    assert (plain.read, plain.kept) == (3, 3)
    cli_run = CliRunner().invoke(cli, ["filter", str(src), "-o", str(tmp_path / "o3.jsonl"), "--max-tokens", "300", "--image-max-pixels", str(100 * 100), "--rejects", str(tmp_path / "r3.jsonl"), "--json"])
    assert cli_run.exit_code == 0, cli_run.output
    assert orjson.loads(cli_run.output)["reasons"] == {"media-missing": 1}  # 640x480 scaled to 115 x 86: 12 tokens


def test_render_shows_expanded_pads(realdata: Path) -> None:
    result = CliRunner().invoke(cli, ["render", str(realdata / "mllm_demo.json"), "-n", "1"])
    assert result.exit_code == 0, result.output
    assert "mllm_demo.json:1 sft: 205 tokens, 21 trained (132 of them for 2 images)" in result.output
    assert result.output.count("<|vision_start|><|image_pad|>x66<|vision_end|>") == 2
    line = orjson.loads(CliRunner().invoke(cli, ["render", str(realdata / "mllm_demo.json"), "-n", "1", "--json"]).output)
    assert (line["tokens"], line["image_tokens"], line["images"]) == (205, 132, [{"url": "mllm_demo_data/1.jpg", "size": [300, 168], "tokens": 66}] * 2)


def test_render_missing_image_is_one_paragraph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"conversations": [{"from": "human", "value": "<image>What?"}, {"from": "gpt", "value": "Grey."}], "images": ["nope.png"]}) + "\n")
    code, _, err = _main(capsys, "render", str(src))
    assert code == 1
    assert err.startswith(f"Error: {src}:1 messages[0]: [media-missing] image file not found: {tmp_path / 'nope.png'}, so its tokens cannot be counted.")
    assert "Traceback" not in err and err.count("\n") == 1


def test_without_pillow_image_sizes_come_from_headers(monkeypatch: pytest.MonkeyPatch, realdata: Path) -> None:
    """The core install (no Pillow) reads sizes with imagesize: the same counts as with Pillow, no warning."""
    import sys

    from sftdata.media import sizes

    with_pillow = token_stats(realdata / "mllm_demo.json", workers=1)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now fails
    sizes.has_pillow.cache_clear()
    sizes._size_of_file.cache_clear()
    try:
        assert not sizes.has_pillow()
        report = token_stats(realdata / "mllm_demo.json", workers=1)
        rec = next(iter(read(realdata / "mllm_demo.json")))
        counted = count_record(rec, TOK, QWEN, media=media_tokens(TOK, QWEN, MediaOptions(unknown="error")))
    finally:
        sizes.has_pillow.cache_clear()
        sizes._size_of_file.cache_clear()
    assert (report.images, report.image_tokens, report.media_unknown, report.tokens, report.warnings) == (with_pillow.images, with_pillow.image_tokens, 0, with_pillow.tokens, [])
    assert report.media_unknown == with_pillow.media_unknown == 0 and report.images == 8
    assert counted.image_tokens == 132  # two 300x168 images, 66 tokens each


def test_qwen2_vl_template_is_llamafactory_qwen2_vl(realdata: Path) -> None:
    """LLaMA-Factory's qwen2_vl template: Qwen2.5's ChatML with "You are a helpful
    assistant.", and each <image> replaced in place by the vision block."""
    tpl = get_template("qwen2.5-vl", tokenizer=TOK)
    rec = next(iter(read(realdata / "mllm_demo.json")))
    assert tpl.render(rec).text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Who are they?<|im_end|>\n"
        "<|im_start|>assistant\nThey're Kane and Gretzka from Bayern Munich.<|im_end|>\n"
        "<|im_start|>user\nWhat are they doing?<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\nThey are celebrating on the soccer field.<|im_end|>\n"
    )
    report = token_stats(realdata / "mllm_demo.json", StatsConfig(template="qwen2_vl"), workers=1)
    # the same images as with `qwen`; 10 fewer system-prompt tokens per row
    assert (report.template, report.images, report.image_tokens, report.tokens) == ("qwen2_vl", 8, 550, 1085 - 60)


def test_hf_template_finds_its_media_model(tmp_path: Path) -> None:
    """A jinja chat template that writes <|image_pad|> (Qwen2-VL's does) expands images
    with --media-model auto, counting the same as the built-in qwen2_vl template."""
    from sftdata.templates.jinja import HFTemplate

    source = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content is string %}{{ m.content }}{% else %}"
        "{% for c in m.content %}{% if c.type == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c.text }}{% endif %}{% endfor %}"
        "{% endif %}<|im_end|>\n{% endfor %}"
    )
    hf = HFTemplate(source, stop="<|im_end|>")
    assert hf.media_model == "qwen2-vl" and HFTemplate("{{ messages }}").media_model is None
    Image.new("RGB", (640, 480)).save(tmp_path / "a.png")
    rec = _rec("a.png", source=Source(str(tmp_path / "d.jsonl"), 1))
    media = media_tokens(TOK, hf)
    assert media is not None
    plain, real = count_record(rec, TOK, hf), count_record(rec, TOK, hf, media=media)
    assert real == dataclasses.replace(plain, total=plain.total + 390, prompt=plain.prompt + 390, images=1, image_tokens=391)
