"""``sftdata convert``, ``detect``, ``formats`` and ``schema``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from ..errors import UsageError
from .engine import engine_of, engine_options

_DATASET_INFO = click.option(
    "--dataset-info",
    "dataset_info",
    nargs=2,
    metavar="PATH NAME",
    default=None,
    help="Read the input through entry NAME of LLaMA-Factory's dataset_info.json at PATH (its columns and tags); INPUT defaults to the entry's file.",
)


@click.command("convert")
@click.argument("input", type=click.Path(dir_okay=True), required=False)
@click.option("-o", "--output", required=True, type=click.Path(), help="Output file; its suffix picks the file type (.jsonl, .json, .parquet, .xlsx). With --engine ray, a folder (out/) gets part-00000.jsonl... and manifest.json.")
@click.option("--to", "to", required=True, help="Target format (see `sftdata formats`).")
@click.option("--from", "from_", default="auto", show_default=True, help="Source format, or auto to detect it.")
@click.option("--strict", is_flag=True, help="Fail instead of dropping fields the target cannot carry.")
@click.option("--rejects", type=click.Path(), help="Write rows that do not decode here (JSONL with reasons) instead of stopping.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes for a large .jsonl -> .jsonl conversion (default: one per CPU from 32 MiB; 1 = never).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN", help="Spreadsheet mode: fill an alpaca field (instruction, input, output, system, history, chosen, rejected, kto_tag, text, images) from a column, by header name or letter (A, B, ...).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Spreadsheet mode: the same value of a field for every row.")
@click.option("--instruction", default=None, help="Spreadsheet mode: shortcut for --set instruction=TEXT.")
@click.option("--system", default=None, help="Spreadsheet mode: shortcut for --set system=TEXT.")
@click.option("--register", "register", type=click.Path(), default=None, metavar="DATASET_INFO_JSON", help="Add (or update) the output's entry in this LLaMA-Factory dataset_info.json.")
@click.option("--name", default=None, help="Entry name for --register (default: the output file's stem).")
@_DATASET_INFO
@click.option("--tool-ids/--no-tool-ids", "tool_ids", default=None, help="Give tool calls without an id a stable one (call_<message>_<k>) and each tool result its call's id. Default: on for --to openai, off otherwise.")
@click.option("--media-root", type=click.Path(file_okay=False), default=None, help="Folder that relative media paths in INPUT are relative to (default: INPUT's folder). Turns on media path rewriting.")
@click.option("--media-base", type=click.Path(file_okay=False), default=None, help="Rewrite relative media paths to be relative to this folder (default with --media-root: the output's folder); URLs and absolute paths are kept.")
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def convert_cmd(
    input: str | None,
    output: str,
    to: str,
    from_: str,
    strict: bool,
    rejects: str | None,
    workers: int | None,
    maps: tuple[str, ...],
    sets: tuple[str, ...],
    instruction: str | None,
    system: str | None,
    register: str | None,
    name: str | None,
    dataset_info: tuple[str, str] | None,
    tool_ids: bool | None,
    media_root: str | None,
    media_base: str | None,
    engine: str,
    ray_address: str | None,
    as_json: bool,
) -> None:
    """Convert INPUT to another format.

    Examples:

    \b
      sftdata convert data.json -o data.jsonl --to openai
      sftdata convert answers.xlsx -o train.json --to alpaca --map input=A --map output=B --instruction "Answer briefly."
      sftdata convert --dataset-info data/dataset_info.json kto_en_demo -o kto.jsonl --to trl
      sftdata convert data/mllm.json -o out/mllm.jsonl --to openai --media-base out/
    """
    from ..api import convert
    from ..formats.rewrite import Rewrite

    if input is None and dataset_info is None:
        raise UsageError("missing INPUT.", remedy="Give an input file, or --dataset-info PATH NAME.")
    if dataset_info is not None and from_ != "auto":
        raise UsageError("--from cannot be combined with --dataset-info: the entry is the source format.", remedy="Drop --from.")
    source: Any = from_
    if maps or sets or instruction is not None or system is not None:
        from ..formats.table import TableFormat, TableMapping

        if from_ != "auto":
            raise UsageError("--from cannot be combined with --map/--set: the mapping is the source format.", remedy="Drop --from.")
        source = TableFormat.for_file(input, TableMapping.parse(maps, sets, instruction=instruction, system=system))
    if name is not None and register is None:
        raise UsageError("--name needs --register DATASET_INFO_JSON.", remedy="Add --register path/to/dataset_info.json.")
    rewrite = Rewrite(tool_call_ids=tool_ids, media_root=media_root, media_base=media_base)
    result = convert(input, output, to=to, from_=source, strict=strict, rejects=rejects, workers=workers, register=register, name=name, dataset_info=dataset_info, rewrite=rewrite, engine=engine_of(engine, ray_address))
    input = input or dataset_info[1]  # type: ignore[index]
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{input} ({result.source_format}) -> {output} ({result.target_format}): read {result.read}, written {result.written}, rejected {result.rejected}")
    if result.rejected:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(result.reject_codes.items()))
        click.echo(f"rejected by reason: {codes}; see {rejects}")
    if result.losses:
        lost = ", ".join(f"{k} ({v} records)" for k, v in result.losses.items())
        click.echo(f"not carried by {result.target_format}: {lost}")
    if result.registered is not None:
        click.echo(f"registered '{name or Path(output).name.split('.')[0]}' in {register} (file_name {result.registered['file_name']})")


@click.command("detect")
@click.argument("input", type=click.Path(dir_okay=True), required=False)
@_DATASET_INFO
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def detect_cmd(input: str | None, dataset_info: tuple[str, str] | None, as_json: bool) -> None:
    """Name the format and kind of INPUT, with a confidence and the evidence.

    With --dataset-info, check INPUT (default: the entry's file) against that
    LLaMA-Factory entry's column mapping.
    """
    from ..detect import detect

    if input is None and dataset_info is None:
        raise UsageError("missing INPUT.", remedy="Give an input file, or --dataset-info PATH NAME.")
    result = detect(input, dataset_info=dataset_info)
    input = input or dataset_info[1]  # type: ignore[index]
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{input}: format {result.format}, kind {result.kind}, confidence {result.confidence:.2f} ({result.evidence})")


@click.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def formats_cmd(as_json: bool) -> None:
    """List format names, the kinds each carries and what each cannot carry."""
    from ..formats import all_formats

    rows = [{"name": f.name, "kinds": list(f.kinds), "summary": f.summary, "cannot_carry": list(f.cannot_carry)} for f in all_formats()]
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    for row in rows:
        click.echo(f"{row['name']:<12} kinds: {', '.join(row['kinds'])}")
        click.echo(f"{'':<12} {row['summary']}")
        if row["cannot_carry"]:
            click.echo(f"{'':<12} cannot carry: {'; '.join(row['cannot_carry'])}")


@click.command("schema")
@click.argument("format")
def schema_cmd(format: str) -> None:
    """Print the JSON Schema of FORMAT's records."""
    from ..formats import get_format
    from ..formats.schemas import render, schema_of

    fmt = get_format(format)
    try:
        schema = schema_of(fmt)
    except NotImplementedError:
        raise UsageError(f"format '{fmt.name}' has no JSON Schema yet.") from None
    click.echo(render(schema).decode(), nl=False)
