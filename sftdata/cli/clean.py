"""``sftdata dedup``, ``filter`` and ``split``: thin shells over :mod:`sftdata.clean`."""

from __future__ import annotations

from typing import Any

import click
import orjson

from ..errors import UsageError
from . import say
from .engine import engine_of, engine_options
from .stats import TRAIN_ON_HELP, media_config, media_options, trainer_option
from .stats_view import _n

FROM_HELP = "Input format, or auto to detect it."


def _echo_result(result: Any, as_json: bool, head: str, rejects: str | None) -> None:
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    say(head)
    if result.reasons:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.reasons.items()))
        say(f"rejected by reason: {reasons}" + (f"; see {rejects}" if rejects else " (add --rejects FILE to keep them)"))
    for warning in getattr(result, "warnings", []):
        say(f"warning: {warning}", err=True)


@click.command("dedup")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Kept rows, in the input's format (suffix picks the file type).")
@click.option("--mode", type=click.Choice(["exact", "near"]), default="near", show_default=True, help="exact: equal after normalisation; near: MinHash LSH candidates verified by exact Jaccard.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True, help="Jaccard similarity of shingle sets at which two records are near-duplicates.")
@click.option("--view", type=click.Choice(["record", "prompt", "user", "assistant"]), default="record", show_default=True, help="What to compare: the whole record, the prompt, user turns or assistant turns.")
@click.option("--normalize", "normalize_", default=None, help="Comma-separated: whitespace, case, nfkc, or none. Default: exact whitespace,nfkc; near nfkc,case.")
@click.option("--keep", type=click.Choice(["first", "longest", "last"]), default="first", show_default=True, help="Which copy of a cluster survives.")
@click.option("--ngram", type=click.IntRange(1, 8), default=3, show_default=True, help="Words per shingle (near mode).")
@click.option("--char-ngram", type=click.IntRange(1, 8), default=3, show_default=True, help="Characters per shingle for CJK text (near mode).")
@click.option("--unit", type=click.Choice(["auto", "word", "char"]), default="auto", show_default=True, help="Shingle unit; auto uses characters for CJK text, words otherwise.")
@click.option("--against", type=click.Path(dir_okay=False), help="Eval set: drop training records that duplicate one of its records (contamination check).")
@click.option("--within/--no-within", default=True, show_default=True, help="Also remove duplicates inside INPUT (turn off to only check --against).")
@click.option("--rejects", type=click.Path(), help="JSONL of dropped rows with reason, duplicate_of (file:line) and similarity.")
@click.option("--report", type=click.Path(), help="JSON cluster report: sizes, kept record, members, examples, eval matches.")
@click.option("--from", "from_", default="auto", show_default=True, help=FROM_HELP)
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def dedup_cmd(input: str, output: str, mode: str, threshold: float, view: str, normalize_: str | None, keep: str, ngram: int, char_ngram: int, unit: str,
              against: str | None, within: bool, rejects: str | None, report: str | None, from_: str, engine: str, ray_address: str | None, as_json: bool) -> None:
    """Remove exact or near-duplicate records from INPUT.

    Example: sftdata dedup train.jsonl -o dedup.jsonl --rejects dups.jsonl --report clusters.json
    """
    from ..clean.dedup import DedupConfig, dedup
    from ..clean.sketch import SketchConfig, choose_bands
    from ..clean.views import parse_norms

    bands, rows = choose_bands(threshold)
    sketch = SketchConfig(ngram=ngram, char_ngram=char_ngram, unit=unit, bands=bands, rows=rows)  # type: ignore[arg-type]
    norms = parse_norms(normalize_, None) if normalize_ is not None else None  # type: ignore[arg-type]
    config = DedupConfig(mode=mode, view=view, threshold=threshold, normalize=norms, sketch=sketch, keep=keep, within=within)  # type: ignore[arg-type]
    result = dedup(input, output, config, against=against, rejects=rejects, report=report, format=from_, engine=engine_of(engine, ray_address))
    head = f"{input} -> {output}: read {result.read}, kept {result.kept}, rejected {result.rejected} ({_n(result.clusters, 'cluster')}, largest {result.largest_cluster})"
    if against:
        head += f"; {result.eval_matches} match {against}"
    _echo_result(result, as_json, head, rejects)


def _regex(spec: str, action: str) -> Any:
    from ..clean.filters import Regex

    target, sep, pattern = spec.partition(":")
    if not sep or not (target in ("assistant", "user", "system", "tool", "record", "prompt") or target.startswith("field")):
        target, pattern = "assistant", spec
    if target == "field":  # field:NAME:PATTERN
        name, _, pattern = pattern.partition(":")
        target = f"field:{name}"
    return Regex(pattern, target=target, action=action)  # type: ignore[arg-type]


def _script(spec: str) -> Any:
    from ..clean.filters import Script

    name, _, rest = spec.partition(":")
    bounds = rest.split(":") if rest else []
    try:
        lo = float(bounds[0]) if bounds and bounds[0] else None
        hi = float(bounds[1]) if len(bounds) > 1 and bounds[1] else None
    except ValueError:
        raise UsageError(f"--script {spec!r}: shares must be numbers.", remedy="Write NAME:MIN[:MAX], e.g. han:0.5 or latin::0.2.") from None
    return Script(name, min=lo, max=hi)


@click.command("filter")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Kept rows, in the input's format.")
@click.option("--drop-empty", is_flag=True, help="Drop records with an empty or whitespace-only user/assistant turn.")
@click.option("--min-turns", type=int, help="Minimum assistant turns.")
@click.option("--max-turns", type=int, help="Maximum assistant turns.")
@click.option("--min-chars", type=int, help="Minimum characters of --chars-view.")
@click.option("--max-chars", type=int, help="Maximum characters of --chars-view.")
@click.option("--chars-view", type=click.Choice(["record", "prompt", "user", "assistant"]), default="record", show_default=True, help="What --min/--max-chars measure.")
@click.option("--script", "scripts", multiple=True, help="NAME:MIN[:MAX] share of letters in a script (latin, han, kana, hangul, cyrillic, greek, arabic, devanagari); repeatable.")
@click.option("--keep-if", "keep_if", multiple=True, help="[TARGET:]REGEX that must match (TARGET: assistant (default), user, system, tool, prompt, record, field:NAME); repeatable.")
@click.option("--drop-if", "drop_if", multiple=True, help="[TARGET:]REGEX that drops the record when it matches; repeatable.")
@click.option("--max-repetition", type=click.FloatRange(0, 1), help="Maximum share of repeated n-grams in any assistant turn (looping answers).")
@click.option("--repetition-n", type=click.IntRange(1, 10), default=3, show_default=True, help="n of --max-repetition.")
@click.option("--min-tokens", type=int, help="Minimum total tokens after the template.")
@click.option("--max-tokens", type=int, help="Maximum total tokens after the template (e.g. your cutoff_len).")
@click.option("--max-prompt-tokens", type=int, help="Maximum prompt tokens.")
@click.option("--min-trainable-tokens", type=int, help="Minimum trainable (assistant) tokens.")
@click.option("--max-trainable-tokens", type=int, help="Maximum trainable tokens.")
@click.option("--tokenizer", default="qwen2.5", show_default=True, help="Tokenizer for token filters (as in `sftdata stats`).")
@click.option("--template", default="qwen", show_default=True, help="Chat template for token filters (as in `sftdata stats`).")
@trainer_option
@click.option("--train-on", type=click.Choice(["all", "last", "everything"]), help=TRAIN_ON_HELP)
@media_options
@click.option("--rejects", type=click.Path(), help="JSONL of dropped rows with reason code, message and source line.")
@click.option("--from", "from_", default="auto", show_default=True, help=FROM_HELP)
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def filter_cmd(input: str, output: str, drop_empty: bool, min_turns: int | None, max_turns: int | None, min_chars: int | None, max_chars: int | None, chars_view: str,
               scripts: tuple[str, ...], keep_if: tuple[str, ...], drop_if: tuple[str, ...], max_repetition: float | None, repetition_n: int,
               min_tokens: int | None, max_tokens: int | None, max_prompt_tokens: int | None, min_trainable_tokens: int | None, max_trainable_tokens: int | None,
               tokenizer: str, template: str, trainer: str, train_on: str | None, media_model: str, image_max_pixels: int, image_min_pixels: int, media_root: str | None, confine_media: bool,
               rejects: str | None, from_: str, engine: str, ray_address: str | None, as_json: bool) -> None:
    """Keep the records of INPUT that pass every condition; all conditions run in one pass.

    Example: sftdata filter in.jsonl -o out.jsonl --max-tokens 2048 --min-turns 1 --rejects dropped.jsonl
    """
    from ..clean import filters as F

    # Cheapest first: the first failing condition names the reason.
    chain: list[Any] = []
    if drop_empty:
        chain.append(F.EmptyTurns())
    if min_turns is not None or max_turns is not None:
        chain.append(F.Turns(min_turns, max_turns))
    if min_chars is not None or max_chars is not None:
        chain.append(F.Chars(min_chars, max_chars, view=chars_view))  # type: ignore[arg-type]
    chain += [_script(s) for s in scripts]
    chain += [_regex(s, "keep") for s in keep_if] + [_regex(s, "drop") for s in drop_if]
    if max_repetition is not None:
        chain.append(F.Repetition(max_share=max_repetition, n=repetition_n))
    media = media_config(media_model, image_max_pixels, image_min_pixels, media_root, confine=confine_media)
    for lo, hi, measure in ((min_tokens, max_tokens, "total"), (None, max_prompt_tokens, "prompt"), (min_trainable_tokens, max_trainable_tokens, "trainable")):
        if lo is not None or hi is not None:
            chain.append(F.Tokens(lo, hi, measure=measure, tokenizer=tokenizer, template=template, media=media, trainer=trainer, train_on=train_on))  # type: ignore[arg-type]
    if not chain:
        raise UsageError("no condition given, so nothing would be filtered.", remedy="Add at least one condition, e.g. --max-tokens 2048 or --drop-empty; see `sftdata filter --help`.")
    result = F.filter(input, output, chain, rejects=rejects, format=from_, engine=engine_of(engine, ray_address))
    _echo_result(result, as_json, f"{input} -> {output}: read {result.read}, kept {result.kept}, rejected {result.rejected}", rejects)


@click.command("split")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for train.jsonl and val.jsonl.")
@click.option("--val-size", required=True, type=float, help="Validation share (0.1) or record count (500).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the shuffle; same seed, same split.")
@click.option("--stratify", help="A column whose values keep their proportions in both files.")
@click.option("--group", type=click.Choice(["near", "exact", "none"]), default="near", show_default=True, help="Records kept on one side: near-duplicates, exact duplicates, or none.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True, help="Jaccard threshold of --group near.")
@click.option("--rejects", type=click.Path(), help="JSONL of rows that do not decode (otherwise the first one stops the split).")
@click.option("--from", "from_", default="auto", show_default=True, help=FROM_HELP)
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def split_cmd(input: str, out_dir: str, val_size: float, seed: int, stratify: str | None, group: str, threshold: float, rejects: str | None, from_: str, engine: str, ray_address: str | None, as_json: bool) -> None:
    """Split INPUT into OUT/train.jsonl and OUT/val.jsonl without separating near-duplicates.

    Example: sftdata split data.jsonl -o splits --val-size 0.1 --seed 42
    """
    from ..clean.index import MatchConfig
    from ..clean.sketch import SketchConfig, choose_bands
    from ..clean.split import SplitConfig, split

    bands, rows = choose_bands(threshold)
    config = SplitConfig(val_size=val_size, seed=seed, stratify=stratify, group=group, match=MatchConfig(threshold=threshold, sketch=SketchConfig(bands=bands, rows=rows)))  # type: ignore[arg-type]
    result = split(input, out_dir, config, rejects=rejects, format=from_, engine=engine_of(engine, ray_address))
    head = f"{input} -> {out_dir}: train {result.train}, val {result.val}, rejected {result.rejected} ({_n(result.groups, 'duplicate group')} kept on one side, largest {result.largest_group})"
    _echo_result(result, as_json, head, rejects)
