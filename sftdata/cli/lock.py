"""``sftdata lock``: pin a dataset (contents, counts, tokens) in one JSON file."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from .stats import TEMPLATE_HELP, TOKENIZER_HELP


@click.command("lock")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", default="sftdata.lock.json", show_default=True, type=click.Path(dir_okay=False), help="Where to write the lock (paths in it are relative to its folder).")
@click.option("--tokenizer", default="qwen2.5", show_default=True, help=TOKENIZER_HELP)
@click.option("--template", default="qwen", show_default=True, help=TEMPLATE_HELP)
@click.option("--cutoff-len", type=click.IntRange(min=1), help="The trainer's cutoff_len: the token totals say what it cuts.")
@click.option("--no-tokens", is_flag=True, help="Lock contents and counts only (no token totals, no tokenizer named).")
@click.option("-p", "--profile", default="sftdata", show_default=True, help="Validation profile of the summary: sftdata, trl, llamafactory, openai.")
@click.option("--json", "as_json", is_flag=True, help="Also print the lock as JSON (schema sftdata.lock/1).")
def lock_cmd(inputs: tuple[str, ...], output: str, tokenizer: str, template: str, cutoff_len: int | None, no_tokens: bool, profile: str, as_json: bool) -> None:
    """Pin INPUTS (in this order) in a dataset lock.

    Per file: sha256, size, format, kinds, record count, validation summary and token
    totals (tokenizer and template named, with fingerprints); one digest over all.
    `sftdata check --lock FILE` then says what changed, and `sftdata train` with
    `dataset_lock: FILE` refuses data that does not match.

    \b
    Example:
      sftdata lock train.jsonl extra.json -o sftdata.lock.json --cutoff-len 2048
    """
    from ..lock import lock

    result = lock(list(inputs), tokenizer=None if no_tokens else tokenizer, template=template, cutoff_len=cutoff_len, profile=profile, base=Path(output).resolve().parent)
    result.write(output)
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    s = result.settings
    for f in result.files:
        v = f.validation or {}
        tokens = f"; {f.tokens['total']:,} tokens, {f.tokens['trainable']:,} trainable" if f.tokens else ""
        click.echo(f"{f.path}: {f.format or 'unknown format'}, {f.records:,} records, {v.get('errors', 0):,} errors, {v.get('warnings', 0):,} warnings{tokens}; sha256 {f.sha256[:12]}")
    named = f" ({s.tokenizer} / {s.template}{f', cutoff_len {s.cutoff_len}' if s.cutoff_len else ''})" if s.tokenizer else ""
    click.echo(f"wrote {output}: {len(result.files)} file{'s' if len(result.files) != 1 else ''}{named}, digest {result.digest}")
