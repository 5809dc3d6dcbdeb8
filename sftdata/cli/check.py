"""``sftdata check``: validation, near-duplicates, eval leaks and token lengths in one report."""

from __future__ import annotations

import sys

import click
import orjson

from .engine import engine_of, engine_options
from .stats import TEMPLATE_HELP, TOKENIZER_HELP

_MARK = {"error": "ERROR  ", "warning": "WARNING", "info": "INFO   "}


@click.command("check")
@click.argument("input", type=click.Path(dir_okay=True))
@click.option("--cutoff-len", type=click.IntRange(min=1), help="The trainer's cutoff_len: report what it cuts.")
@click.option("--against", type=click.Path(dir_okay=True), help="An eval set: report training records that leak from it.")
@click.option("--tokenizer", default="qwen2.5", show_default=True, help=TOKENIZER_HELP)
@click.option("--template", default="qwen", show_default=True, help=TEMPLATE_HELP)
@click.option("--no-tokens", is_flag=True, help="Skip the token statistics.")
@click.option("--no-dedup", is_flag=True, help="Skip near-duplicate detection (exact copies are still reported).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True, help="Jaccard similarity that makes two records near-duplicates.")
@click.option("-p", "--profile", default="sftdata", show_default=True, help="Validation rules of a trainer: sftdata, trl, llamafactory, openai.")
@click.option("--from", "from_", default="auto", show_default=True, help="The file's format, or auto to detect it.")
@click.option("--media-root", type=click.Path(file_okay=False), help="Folder that media paths are relative to (default: the dataset's folder).")
@click.option("--no-media-check", is_flag=True, help="Do not open media files.")
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema sftdata.check/1).")
def check_cmd(input: str, cutoff_len: int | None, against: str | None, tokenizer: str, template: str, no_tokens: bool, no_dedup: bool, threshold: float, profile: str, from_: str, media_root: str | None, no_media_check: bool,
              engine: str, ray_address: str | None, as_json: bool) -> None:
    """Everything worth knowing about INPUT before a training run, read-only.

    Runs validation, near-duplicate detection (and, with --against, eval-set leaks)
    and token statistics, then lists what to fix, each finding with the command that
    fixes it. Exit code 1 when a finding is an error (invalid records, eval leaks).

    \b
    Example:
      sftdata check train.json --cutoff-len 2048 --against eval.json
    """
    from ..check import check

    options = {"check_media": not no_media_check}
    if media_root:
        options["media_root"] = media_root  # type: ignore[assignment]
    report = check(
        input,
        format=from_,
        profile=profile,
        tokenizer=None if no_tokens else tokenizer,
        template=template,
        cutoff_len=cutoff_len,
        against=against,
        threshold=threshold,
        near_duplicates=not no_dedup,
        engine=engine_of(engine, ray_address),
        **options,
    )
    if as_json:
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.exit(report.exit_code)
    v = report.validation
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(v.kinds.items()))
    click.echo(f"{input}: {report.format or 'unknown format'}, {report.records:,} records" + (f" ({kinds})" if kinds else ""))
    click.echo(f"  validation  {v.valid:,} valid, {v.rejected:,} rejected; {v.errors:,} errors, {v.warnings:,} warnings ({profile} profile)")
    d = report.duplicates
    if d is not None:
        leaks = f"; {d.eval_leaks:,} leak from {against}" if d.eval_leaks is not None else ""
        click.echo(f"  duplicates  {d.duplicates:,} near-duplicates in {d.clusters:,} clusters (Jaccard >= {d.threshold}){leaks}")
    s = report.stats
    if s is not None:
        t = s.fields["total"]
        cut = f"; {s.over_cutoff:,} over cutoff_len={cutoff_len}" if cutoff_len else ""
        click.echo(f"  tokens      p50 {t.p50:g}, p95 {t.p95:g}, p99 {t.p99:g}, max {t.max:g} per record; {s.trainable_tokens:,} trainable in all ({template}, {tokenizer}){cut}")
        if s.images:
            model = f"as {s.media_model} sees them" if s.media_model else "as placeholders only"
            click.echo(f"  images      {s.images:,} images, {s.image_tokens:,} tokens ({s.image_share:.1%} of all tokens, {model})")
    if report.findings:
        click.echo("")
    for f in report.findings:
        click.echo(f"{_MARK[f.severity]} {f.code}: {f.message}")
        if f.fix:
            click.echo(f"         {'try' if f.severity == 'info' else 'fix'}: {f.fix}")
    severities = {f.severity for f in report.findings}
    verdict = "Fix the errors before training." if "error" in severities else "No errors: the warnings are worth a look." if "warning" in severities else "Nothing to fix: ready to train."
    click.echo(f"\n{verdict}")
    sys.exit(report.exit_code)
