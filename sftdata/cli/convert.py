"""``sftdata convert``, ``detect``, ``formats`` and ``schema``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from ..errors import UsageError
from . import say
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
@click.option("--input-type", "input_type", default=None, metavar="TYPE", help="Read INPUT as this file type whatever its suffix: jsonl, json, csv, tsv, parquet, xlsx, txt (e.g. a JSON Lines file named data.log).")
@click.option("--unpair", is_flag=True, help="Write each preference pair as two KTO rows: prompt + chosen (label true) and prompt + rejected (label false), as TRL's unpair_preference_dataset does.")
@click.option("--pair", "pair_", is_flag=True, help="Pair KTO rows with the same prompt into preference rows (a desirable with an undesirable, in file order); rows left without a partner go to --rejects (unpaired-kto).")
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
    input_type: str | None,
    unpair: bool,
    pair_: bool,
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
      sftdata convert dpo_en_demo.json -o kto.jsonl --to trl --unpair
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
    if unpair and pair_:
        raise UsageError("--unpair and --pair cannot be combined.", remedy="Use --unpair (preference -> KTO) or --pair (KTO -> preference).")
    rewrite = Rewrite(tool_call_ids=tool_ids, media_root=media_root, media_base=media_base)
    reshape = "unpair" if unpair else "pair" if pair_ else None
    result = convert(input, output, to=to, from_=source, strict=strict, rejects=rejects, workers=workers, register=register, name=name, dataset_info=dataset_info, rewrite=rewrite, reshape=reshape, input_type=input_type, engine=engine_of(engine, ray_address))
    input = input or dataset_info[1]  # type: ignore[index]
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    say(f"{input} ({result.source_format}) -> {output} ({result.target_format}): read {result.read}, written {result.written}, rejected {result.rejected}")
    if result.reshape is not None:
        r = result.reshape
        say(f"{r['mode']}: {r['records_in']} records -> {r['records_out']}" + (f"; {r['unmatched']} without a partner (rejected as unpaired-kto)" if r["mode"] == "pair" else ""))
    if result.rejected:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(result.reject_codes.items()))
        say(f"rejected by reason: {codes}" + (f"; see {rejects}" if rejects else ""))
    if result.losses:
        lost = ", ".join(f"{k} ({v} record{'' if v == 1 else 's'})" for k, v in result.losses.items())
        say(f"not carried by {result.target_format}: {lost}")
    if result.registered is not None:
        say(f"registered '{name or Path(output).name.split('.')[0]}' in {register} (file_name {result.registered['file_name']})")
    if media_root is None and media_base is None and dataset_info is None:
        hint = media_hint(input, output, result.source_format)
        if hint:
            say(f"warning: {hint}", err=True)


def media_hint(input: str, output: str, source_format: str, sample: int = 1000) -> str | None:
    """When INPUT's records hold relative media paths and OUTPUT is in another folder,
    those paths no longer resolve from OUTPUT's folder: say so, with the flags that fix
    it (nothing is rewritten by default; LLaMA-Factory resolves them against its
    ``media_dir`` instead). Looks at the first ``sample`` records only."""
    from itertools import islice

    from ..api import read
    from ..media.paths import is_local_relative

    src, dst = Path(input), Path(output)
    if not src.is_file() or str(output) == "-" or src.resolve().parent == dst.resolve().parent:
        return None
    if _stand_in(src) or _stand_in(dst):  # stdin or a remote URI: its folder means nothing
        return None
    found = None
    try:
        for record in islice(read(src, source_format), sample):
            for name in ("messages", "prompt", "chosen", "rejected", "completion"):
                for m in getattr(record, name, None) or ():
                    found = found or next((p.url for p in m.media() if is_local_relative(p.url)), None)
            if found:
                break
    except Exception:  # the conversion itself succeeded; a hint is not worth an error
        return None
    if found is None:
        return None
    out_dir = dst.resolve().parent
    return (
        f"media-paths: relative media paths such as '{found}' were kept as written: they resolve from {src.resolve().parent}, "
        f"not from {out_dir} where {dst.name} now is. LLaMA-Factory resolves them against its media_dir (dataset_dir by default), "
        f"so keep them if that is the input's folder; otherwise rerun with --media-base {out_dir} (relative to the output's folder) "
        f"or --media-root DIR --media-base DIR for another layout."
    )


def _stand_in(path: Path) -> bool:
    """Whether ``path`` is a temporary stand-in: standard input spooled by ``-``
    (:mod:`.paths`) or a remote URI staged locally (:mod:`sftdata.io.remote`)."""
    return any(p.name.startswith(("sftdata-stdin-", "sftdata-stage-")) for p in path.resolve().parents)


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
    width = max(12, *(len(row["name"]) for row in rows))
    for row in rows:
        click.echo(f"{row['name']:<{width}} kinds: {', '.join(row['kinds'])}")
        click.echo(f"{'':<{width}} {row['summary']}")
        if row["cannot_carry"]:
            click.echo(f"{'':<{width}} cannot carry: {'; '.join(row['cannot_carry'])}")


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
