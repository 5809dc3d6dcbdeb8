"""``sftdata validate``."""

from __future__ import annotations

import sys

import click
import orjson

from . import say
from .engine import engine_of, engine_options


@click.command("validate")
@click.argument("input", type=click.Path(dir_okay=True), required=False)
@click.option("--dataset-info", "dataset_info", nargs=2, metavar="PATH NAME", default=None, help="Read INPUT through entry NAME of LLaMA-Factory's dataset_info.json at PATH; INPUT defaults to the entry's file.")
@click.option("-p", "--profile", default="sftdata", show_default=True, help="Rules of a trainer: sftdata (all rules), trl, llamafactory, openai.")
@click.option("--format", "report_format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Report as text or as JSON (schema sftdata.validate/1).")
@click.option("--from", "from_", default="auto", show_default=True, help="The file's format, or auto to detect it.")
@click.option("--rejects", type=click.Path(), help="Write each rejected record verbatim, with its issues and line, to this JSONL file.")
@click.option("-o", "--output", type=click.Path(), help="Write the valid records (repaired with --fix) to this file.")
@click.option("--fix", is_flag=True, help="Apply safe repairs (role aliases, trimming, \"true\"/\"false\" labels, tools as objects) and list them.")
@click.option("--strict", is_flag=True, help="Make unknown fields and tool-schema mismatches errors.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True, help="Exit 1 (and reject records) on errors only, or on warnings too.")
@click.option("--media-root", type=click.Path(file_okay=False), help="Folder that media paths are relative to (default: the dataset's folder).")
@click.option("--no-media-check", is_flag=True, help="Do not open media files (placeholder counts are still checked).")
@click.option("--confine-media", is_flag=True, help="Never open a media path that resolves outside the dataset's folder and --media-root (media-outside becomes an error).")
@click.option("--max-chars", type=int, default=100_000, show_default=True, help="Warn (long-record) above this many characters of text per record.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=65_536, show_default=True, help="Profile openai: warn (long-example-tokens) above this many tokens per example; set your model's limit.")
@click.option("--tokenizer", default="qwen2.5", show_default=True, help="Tokenizer that counts --max-tokens (a built-in name, a cached tiktoken encoding such as o200k_base, or a local folder).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes for large sharegpt JSONL files (default: one per CPU from 32 MiB, like convert; 1 = never).")
@engine_options
def validate_cmd(
    input: str | None,
    dataset_info: tuple[str, str] | None,
    profile: str,
    report_format: str,
    from_: str,
    rejects: str | None,
    output: str | None,
    fix: bool,
    strict: bool,
    fail_on: str,
    media_root: str | None,
    no_media_check: bool,
    confine_media: bool,
    max_chars: int,
    max_tokens: int,
    tokenizer: str,
    workers: int | None,
    engine: str,
    ray_address: str | None,
) -> None:
    """Check INPUT before training: every problem with file:line, field, rule and remedy.

    Exit code 0 when there are no errors (warnings allowed unless --fail-on warning),
    1 when there are, 2 for usage mistakes.

    \b
    Examples:
      sftdata validate train.jsonl --profile llamafactory --rejects bad.jsonl
      sftdata validate --dataset-info data/dataset_info.json kto_en_demo -p llamafactory
    """
    from ..validate import validate

    report = validate(
        input,
        profile,
        format=from_,
        dataset_info=dataset_info,
        rejects=rejects,
        output=output,
        workers=workers,
        engine=engine_of(engine, ray_address),
        progress=True,
        fix=fix,
        strict=strict,
        fail_on=fail_on,
        media_root=media_root,
        check_media=not no_media_check,
        confine_media=confine_media,
        max_chars=max_chars,
        max_tokens=max_tokens,
        tokenizer=tokenizer,
    )
    if report_format == "json":
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        say(report.render())
    sys.exit(report.exit_code)
