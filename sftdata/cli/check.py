"""``sftdata check``: validation, near-duplicates, eval leaks and token lengths in one report."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from . import quiet
from .engine import engine_of, engine_options
from .stats import CUTOFF_HELP, TEMPLATE_HELP, TOKENIZER_HELP, cutoff_for, trainer_option
from .stats_view import _n

_MARK = {"error": "ERROR  ", "warning": "WARNING", "info": "INFO   "}


@click.command("check")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=True))
@click.option("--cutoff-len", type=click.IntRange(min=0), help=CUTOFF_HELP)
@trainer_option
@click.option("--against", type=click.Path(dir_okay=True), help="An eval set: report training records that leak from it.")
@click.option("--tokenizer", help=f"{TOKENIZER_HELP} [default: qwen2.5, or the lock's]")
@click.option("--template", help=f"{TEMPLATE_HELP} [default: qwen, or the lock's]")
@click.option("--no-tokens", is_flag=True, help="Skip the token statistics.")
@click.option("--no-dedup", is_flag=True, help="Skip near-duplicate detection (exact copies are still reported).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True, help="Jaccard similarity that makes two records near-duplicates.")
@click.option("-p", "--profile", default="sftdata", show_default=True, help="Validation rules of a trainer: sftdata, trl, llamafactory, openai.")
@click.option("--from", "from_", default="auto", show_default=True, help="The file's format, or auto to detect it.")
@click.option("--media-root", type=click.Path(file_okay=False), help="Folder that media paths are relative to (default: the dataset's folder).")
@click.option("--no-media-check", is_flag=True, help="Do not open media files.")
@click.option("--confine-media", is_flag=True, help="Never open a media path that resolves outside the dataset's folder and --media-root (media-outside becomes an error).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Also write the report as one self-contained HTML page (charts, clusters, rows as the model sees them).")
@click.option("--lock", "lock_file", type=click.Path(dir_okay=False), help="A dataset lock (sftdata lock): say what changed since, instead of checking. INPUT defaults to the locked files.")
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema sftdata.check/1; with --lock sftdata.lock-diff/1).")
def check_cmd(inputs: tuple[str, ...], cutoff_len: int | None, trainer: str, against: str | None, tokenizer: str | None, template: str | None, no_tokens: bool, no_dedup: bool, threshold: float, profile: str, from_: str, media_root: str | None, no_media_check: bool, confine_media: bool, html_file: str | None, lock_file: str | None,
              engine: str, ray_address: str | None, as_json: bool) -> None:
    """Everything worth knowing about INPUTS before a training run, read-only.

    INPUTS is one file, several files, or a LLaMA-Factory dataset_info.json (every
    entry with a local file, read as the entry says): one block per source, then
    every finding named by its file.

    Runs validation, near-duplicate detection (and, with --against, eval-set leaks)
    and token statistics, then lists what to fix, each finding with the command that
    fixes it. Exit code 1 when a finding is an error (invalid records, eval leaks).

    With --lock FILE: what changed since the lock was made (files, order, record
    counts, validation, tokens; --tokenizer/--template/--cutoff-len compare under other
    settings). An unchanged dataset is verified by hashing each file once. Exit code 1
    when something changed.

    With --html FILE: the same report as one page that opens from disk (inline CSS,
    JS and SVG; nothing loaded from the network): findings with their rows, length
    histograms, the cutoff what-if curve, clusters and leaks side by side.

    \b
    Example:
      sftdata check train.json --cutoff-len 2048 --against eval.json
      sftdata check train.json --html report.html
      sftdata check --lock sftdata.lock.json
    """
    from ..check import check

    if lock_file is not None:
        _compare_lock(lock_file, inputs, tokenizer, template, cutoff_len, no_tokens, as_json)
    if not inputs:
        raise click.UsageError("Missing argument 'INPUTS' (or give --lock FILE).")
    tokenizer, template = tokenizer or "qwen2.5", template or "qwen"

    options = {"check_media": not no_media_check, "confine_media": confine_media}
    if media_root:
        options["media_root"] = media_root  # type: ignore[assignment]
    report = check(
        list(inputs),
        format=from_,
        profile=profile,
        tokenizer=None if no_tokens else tokenizer,
        template=template,
        cutoff_len=cutoff_for(trainer, cutoff_len),
        against=against,
        trainer=trainer,
        threshold=threshold,
        near_duplicates=not no_dedup,
        details=html_file is not None,
        engine=engine_of(engine, ray_address),
        **options,
    )
    if html_file is not None:
        from ..io import atomic_path

        with atomic_path(html_file) as tmp:
            tmp.write_text(report.to_html(), encoding="utf-8")
    if as_json:
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.exit(report.exit_code)
    if quiet():
        sys.exit(report.exit_code)
    for r in report.sources or [report]:
        _summary(r, profile, against, template, tokenizer, cutoff_len)
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


def _summary(report: Any, profile: str, against: str | None, template: str, tokenizer: str, cutoff_len: int | None) -> None:
    v = report.validation
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(v.kinds.items()))
    click.echo(f"{report.path}: {report.format or 'unknown format'}, {_n(report.records, 'record')}" + (f" ({kinds})" if kinds else ""))
    click.echo(f"  validation  {v.valid:,} valid, {v.rejected:,} rejected; {_n(v.errors, 'error')}, {_n(v.warnings, 'warning')} ({profile} profile)")
    d = report.duplicates
    if d is not None:
        leaks = f"; {d.eval_leaks:,} leak from {against}" if d.eval_leaks is not None else ""
        click.echo(f"  duplicates  {_n(d.duplicates, 'near-duplicate')} in {_n(d.clusters, 'cluster')} (Jaccard >= {d.threshold}){leaks}")
    s = report.stats
    if s is not None:
        t = s.fields["total"]
        cut = f"; {s.over_cutoff:,} over cutoff_len={s.cutoff_len}" if s.cutoff_len else ""
        if s.media_total > s.images:
            click.echo(f"  media       {_n(s.media_total - s.images, 'video/audio')} counted as placeholder tokens only: the token counts are placeholders for them (not modelled)")
        click.echo(f"  tokens      p50 {t.p50:g}, p95 {t.p95:g}, p99 {t.p99:g}, max {t.max:g} per record; {s.trainable_tokens:,} trainable in all ({template}, {tokenizer}){cut}")
        if s.images:
            model = f"as {s.media_model} sees them" if s.media_model else "as placeholders only"
            click.echo(f"  images      {_n(s.images, 'image')}, {_n(s.image_tokens, 'token')} ({s.image_share:.1%} of all tokens, {model})")


def _compare_lock(lock_file: str, inputs: tuple[str, ...], tokenizer: str | None, template: str | None, cutoff_len: int | None, no_tokens: bool, as_json: bool) -> None:
    from pathlib import Path

    from ..lock import compare, load_settings, read_lock

    locked = read_lock(lock_file)
    s = locked.settings
    settings = None
    if tokenizer or template or cutoff_len or no_tokens:
        name = None if no_tokens else (tokenizer or s.tokenizer or "qwen2.5")
        settings = load_settings(name, template or s.template or "qwen", cutoff_len or s.cutoff_len, s.profile)
    diff = compare(locked, list(inputs) or None, base=Path(lock_file).resolve().parent, settings=settings)
    if as_json:
        click.echo(orjson.dumps(diff.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.exit(0 if diff.unchanged else 1)
    if quiet():
        sys.exit(0 if diff.unchanged else 1)
    n = len(diff.current.files)
    if diff.unchanged:
        click.echo(f"{lock_file}: unchanged ({_n(n, 'file')} hashed, digest {diff.locked.digest}).")
        sys.exit(0)
    click.echo(f"{lock_file}: {_n(len(diff.changes), 'change')} ({diff.locked.digest} -> {diff.current.digest}):")
    for c in diff.changes:
        click.echo(f"  {c.what:<10} {c.message}")
    click.echo("Lock the data again with `sftdata lock` once the change is intended.")
    sys.exit(1)
