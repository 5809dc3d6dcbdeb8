"""``sftdata stats`` and ``sftdata render``: token counts after the chat template, and
what the model sees with the trained spans highlighted."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import click
import orjson

from ..errors import UsageError
from .engine import engine_of, engine_options

TEMPLATE_HELP = "Chat template: qwen, qwen2_vl, chatml, llama3, llama2, mistral, vicuna, alpaca, plain, or hf (the tokenizer folder's own)."
TOKENIZER_HELP = "Tokenizer: qwen2.5 (built in, offline; aliases qwen2, qwen), a tiktoken encoding, a local HF tokenizer folder or a hub id."


MEDIA_MODEL_HELP = "How images count: auto (the template's media model; qwen expands <|image_pad|> as Qwen2-VL/Qwen2.5-VL do), placeholder (the template's placeholder tokens only), or a model name (qwen2-vl)."


def media_options(f: Any) -> Any:
    """``--media-model``, ``--image-max-pixels``, ``--image-min-pixels``, ``--media-root``
    (LLaMA-Factory's names) and ``--confine-media``; :func:`media_config` turns them into
    MediaOptions."""
    f = click.option("--confine-media", is_flag=True, help="Never open an image path that resolves outside the dataset's folder and --media-root (its size is then unknown: media-outside).")(f)
    f = click.option("--media-root", type=click.Path(file_okay=False), help="Folder that relative image paths are relative to (default: the dataset file's folder).")(f)
    f = click.option("--image-min-pixels", type=click.IntRange(min=1), default=32 * 32, show_default=True, help="LLaMA-Factory's image_min_pixels: smaller images are scaled up first.")(f)
    f = click.option("--image-max-pixels", type=click.IntRange(min=1), default=768 * 768, show_default=True, help="LLaMA-Factory's image_max_pixels: larger images are scaled down first.")(f)
    f = click.option("--media-model", default="auto", show_default=True, help=MEDIA_MODEL_HELP)(f)
    return f


def media_config(media_model: str, image_max_pixels: int, image_min_pixels: int, media_root: str | None, unknown: str = "count", confine: bool = False) -> Any:
    from ..media.tokens import MODES, MediaOptions, get_media_model

    if media_model not in MODES:
        media_model = get_media_model(media_model).name  # a usage error names the choices
    return MediaOptions(model=media_model, image_max_pixels=image_max_pixels, image_min_pixels=image_min_pixels, media_root=media_root, unknown=unknown, confine=confine)  # type: ignore[arg-type]


TRAINER_HELP = ("Whose labels and cut rule to count with: sftdata (answers and their end-of-turn token, cut from the right), "
                "llamafactory (LLaMA-Factory: also the separator after each answer; cutoff_len split per turn), "
                "trl (TRL's SFT/DPO/KTO trainers: every token unless --train-on all = assistant_only_loss; cut from the right).")
TRAIN_ON_HELP = ("Train on all assistant turns, the last one only, or every token; default: the trainer's own "
                 "(trl: everything = assistant_only_loss false; llamafactory: last = mask_history, everything = train_on_prompt).")
CUTOFF_HELP = "The trainer's cutoff_len / max_length: report what it cuts. Default: the trainer's own (llamafactory 2048, trl 1024, sftdata none); 0 cuts nothing."


def trainer_option(f: Any) -> Any:
    return click.option("--trainer", type=click.Choice(["sftdata", "llamafactory", "trl"]), default="sftdata", show_default=True, help=TRAINER_HELP)(f)


def cutoff_for(trainer: str, cutoff_len: int | None) -> int | None:
    """``--cutoff-len`` as given; when absent, the trainer's own default; 0 means none."""
    from ..templates.trainers import get_trainer

    if cutoff_len is None:
        return get_trainer(trainer).default_cutoff
    return cutoff_len or None


def _common(f: Any) -> Any:
    f = trainer_option(f)
    f = click.option("--train-on", type=click.Choice(["all", "last", "everything"]), help=TRAIN_ON_HELP)(f)
    f = click.option("--from", "from_", default="auto", show_default=True, help="Source format, or auto to detect it.")(f)
    f = click.option("--template", default="qwen", show_default=True, help=TEMPLATE_HELP)(f)
    f = click.option("--tokenizer", default="qwen2.5", show_default=True, help=TOKENIZER_HELP)(f)
    return f


@click.command("stats")
@click.argument("input", type=click.Path(dir_okay=True))
@_common
@click.option("--cutoff-len", type=click.IntRange(min=0), help=CUTOFF_HELP)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, help="Epochs, for the total training tokens.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: 2 for files over 4 MB, else 1).")
@click.option("--rejects", type=click.Path(), help="Write rows that do not decode here (JSONL with reasons) instead of stopping.")
@click.option("--plot", type=click.Path(), help="Write a length histogram with the cutoff marked (.png needs matplotlib; .html needs nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--buckets", help="Comma-separated shape buckets (e.g. 256,512,1024,2048): the padding they cost and how many distinct shapes an epoch compiles (Ascend NPU).")
@media_options
@engine_options
def stats_cmd(input: str, tokenizer: str, template: str, from_: str, train_on: str | None, trainer: str, cutoff_len: int | None, epochs: float, workers: int | None, rejects: str | None, plot: str | None, as_json: bool,
              buckets: str | None, media_model: str, image_max_pixels: int, image_min_pixels: int, media_root: str | None, confine_media: bool, engine: str, ray_address: str | None) -> None:
    """Token statistics of INPUT after the chat template.

    Per record: total, prompt, trainable and template-overhead tokens, turns and media;
    summaries (mean, min, p50, p90, p95, p99, max), a histogram, and what --cutoff-len
    would cut. Images count as the tokens a Qwen2-VL run gives them (with the qwen
    template); images whose size cannot be read are counted as placeholders and listed.
    --trainer counts what that trainer trains: its labels, its cut rule and default cutoff.
    Example: sftdata stats data.jsonl --tokenizer qwen2.5 --cutoff-len 2048 --trainer llamafactory
    """
    from ..api import RejectSink
    from ..progress import Ticker, progress
    from ..stats.compute import StatsConfig, token_stats

    if plot and not plot.lower().endswith((".png", ".html", ".htm", ".svg")):
        raise UsageError(f"--plot must end in .png, .svg or .html, not '{plot}'.", field="--plot")
    from ..stats.buckets import parse_buckets

    try:
        shapes = parse_buckets(buckets) if buckets is not None else ()
    except ValueError:
        raise UsageError(f"--buckets takes comma-separated positive lengths such as 256,512,1024,2048, not '{buckets}'.", field="--buckets") from None
    config = StatsConfig(tokenizer=tokenizer, template=template, train_on=train_on, cutoff_len=cutoff_for(trainer, cutoff_len), epochs=epochs, format=from_,  # type: ignore[arg-type]
                         media=media_config(media_model, image_max_pixels, image_min_pixels, media_root, confine=confine_media), trainer=trainer, buckets=shapes)
    with RejectSink(rejects) as sink, (nullcontext(Ticker()) if as_json else progress(f"tokenizing {input}")) as bar:
        report = token_stats(input, config, workers=workers, rejects=sink if rejects else None, progress=bar.update, engine=engine_of(engine, ray_address))
    if plot:
        from ..stats.plot import plot_lengths

        plot_lengths(report, plot)
    if as_json:
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    from . import quiet
    from .stats_view import print_report

    if not quiet():
        print_report(report, rejects=rejects, plot=plot)


@click.command("render")
@click.argument("input", type=click.Path(dir_okay=True))
@_common
@click.option("-n", "count", type=click.IntRange(min=1), default=3, show_default=True, help="How many records to show.")
@click.option("--skip", type=click.IntRange(min=0), default=0, show_default=True, help="Records to skip first.")
@click.option("--json", "as_json", is_flag=True, help="Print text, spans and token counts as JSON lines.")
@media_options
def render_cmd(input: str, tokenizer: str, template: str, from_: str, train_on: str | None, trainer: str, count: int, skip: int, as_json: bool,
               media_model: str, image_max_pixels: int, image_min_pixels: int, media_root: str | None, confine_media: bool) -> None:
    """Show exactly what the model sees for the first records of INPUT.

    Trained spans are highlighted on a terminal and wrapped in [[ ]] otherwise; an
    expanded image shows as its pad token times its count (<|image_pad|>x66). With
    --trainer, the trained spans are those that trainer labels (nothing is cut).
    Example: sftdata render data.jsonl --template qwen -n 3 --trainer llamafactory
    """
    from itertools import islice

    from ..api import read
    from ..media.tokens import media_tokens
    from ..record import PreferenceRecord, PretrainRecord
    from ..templates import get_template
    from ..tokenizers import get_tokenizer
    from ..tokens import encode_record, render_as
    from .stats_view import print_rendered

    tok = get_tokenizer(tokenizer)
    tpl = get_template(template, tokenizer=tok)
    media = media_tokens(tok, tpl, media_config(media_model, image_max_pixels, image_min_pixels, media_root, unknown="error", confine=confine_media))
    for record in islice(read(input, from_), skip, skip + count):
        branches = ("chosen", "rejected") if isinstance(record, PreferenceRecord) else ("chosen",)
        for branch in branches:
            images = []
            if isinstance(record, PretrainRecord):
                from ..templates import Rendered, Span

                text = record.text + tok.eos_token
                rendered = Rendered(text, (Span(0, len(text), True, "assistant"),))
                enc = encode_record(record, tok, tpl)
            else:
                rendered = render_as(record, tpl, train_on, branch, trainer)  # type: ignore[arg-type]
                enc = encode_record(record, tok, tpl, train_on=train_on, branch=branch, media=media, trainer=trainer)  # type: ignore[arg-type]
                images = media.images(record, branch) if media is not None and enc.image_tokens else []  # type: ignore[arg-type]
            counts = [img.tokens for img in images]
            where = str(record.source) if record.source else "?"
            label = f"{where} {record.kind}" + (f" ({branch})" if len(branches) > 1 else "")
            if as_json:
                spans = [{"start": s.start, "end": s.end, "trainable": s.trainable, "role": s.role, "template": s.template} for s in rendered.spans]
                shown = [{"url": img.url, "size": list(img.size) if img.size else None, "tokens": img.tokens} for img in images]
                click.echo(orjson.dumps({"source": where, "kind": record.kind, "branch": branch, "text": rendered.text, "spans": spans, "tokens": len(enc.input_ids), "trainable": enc.trainable,
                                         "images": shown, "image_tokens": enc.image_tokens}).decode())
            else:
                print_rendered(label, rendered, len(enc.input_ids), enc.trainable, (media.model.image_pad, counts) if media is not None and counts else None)
