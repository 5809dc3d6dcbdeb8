"""``sftdata mix``: datasets mixed by exact ratios (rows or tokens), reproducibly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from ..errors import UsageError
from . import say
from .stats import TEMPLATE_HELP, TOKENIZER_HELP
from .stats_view import _n


def _ratio(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"'{text}' in {what} is not a number.", field="ratio", remedy="Write ratios as numbers, e.g. data.jsonl:0.5 or --ratios 0.5,0.3,0.2.") from None
    return value


def parse_sources(specs: tuple[str, ...], dataset_info: tuple[str, str] | None, ratios: str | None) -> list[Any]:
    """``FILE:RATIO`` arguments, or ``--dataset-info FILE a,b,c`` with ``--ratios r1,r2,r3``."""
    from ..clean.mix import MixSource

    if dataset_info is not None:
        from ..formats.llamafactory import from_dataset_info

        if specs:
            raise UsageError("give sources either as FILE:RATIO arguments or with --dataset-info, not both.", field="SOURCES")
        names = [n.strip() for n in dataset_info[1].split(",") if n.strip()]
        values = [_ratio(r.strip(), "--ratios") for r in (ratios or "").split(",") if r.strip()]
        if len(values) != len(names):
            raise UsageError(f"--dataset-info names {len(names)} datasets but --ratios gives {len(values)} numbers.", field="--ratios", remedy="Give one ratio per name, in the same order (as LLaMA-Factory's interleave_probs).")
        out = []
        for name, ratio in zip(names, values):
            fmt, path = from_dataset_info(dataset_info[0], name)
            out.append(MixSource(path, ratio, fmt, name))
        return out
    if ratios:
        raise UsageError("--ratios goes with --dataset-info; with files write FILE:RATIO.", field="--ratios")
    out = []
    for spec in specs:
        path, sep, ratio = spec.rpartition(":")
        if not sep or not path:
            raise UsageError(f"source '{spec}' has no ratio.", field="SOURCES", remedy="Write each source as FILE:RATIO, e.g. a.jsonl:0.5.")
        out.append(MixSource(Path(path), _ratio(ratio, spec), "auto", Path(path).name))
    return out


@click.command("mix")
@click.argument("sources", nargs=-1)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output file; its suffix picks the file type.")
@click.option("--by", type=click.Choice(["rows", "tokens"]), default="rows", show_default=True, help="What the ratios share out: rows, or tokens (counted as `sftdata stats` counts them).")
@click.option("--total", type=click.IntRange(min=1), default=None, help="Rows (or tokens) in the mixture; default: the largest mixture that needs no up-sampling.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling: the same seed gives the same mixture.")
@click.option("--dataset-info", "dataset_info", nargs=2, metavar="FILE NAMES", default=None, help="Sources by name from LLaMA-Factory's dataset_info.json: FILE a,b,c (with --ratios).")
@click.option("--ratios", default=None, help="Ratios for --dataset-info names, comma-separated (the numbers of LLaMA-Factory's interleave_probs).")
@click.option("--to", "to", default=None, help="Output format (default: the sources' own when they share one, else sharegpt).")
@click.option("--tokenizer", default="qwen2.5", show_default=True, help=TOKENIZER_HELP)
@click.option("--template", default="qwen", show_default=True, help=TEMPLATE_HELP)
@click.option("--rejects", type=click.Path(dir_okay=False), default=None, help="Write rows that do not decode here (JSONL with reasons) instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def mix_cmd(sources: tuple[str, ...], output: str, by: str, total: int | None, seed: int, dataset_info: tuple[str, str] | None, ratios: str | None, to: str | None,
            tokenizer: str, template: str, rejects: str | None, as_json: bool) -> None:  # fmt: skip
    """Mix SOURCES (FILE:RATIO ...) with exact ratios by rows or tokens.

    Each source is down- or up-sampled deterministically under --seed; every output row
    keeps its source file and line (mix_source, mix_line).
    Example: sftdata mix a.jsonl:0.5 b.parquet:0.3 c.json:0.2 -o mix.jsonl --by tokens
    """
    from ..api import RejectSink
    from ..clean.mix import MixConfig, mix

    parsed = parse_sources(sources, dataset_info, ratios)
    config = MixConfig(by=by, total=total, seed=seed, to=to, tokenizer=tokenizer, template=template)  # type: ignore[arg-type]
    with RejectSink(rejects) as sink:
        report = mix(parsed, output, config, rejects=sink if rejects else None)
    data = report.to_dict()
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    say(render(data))


def render(data: dict[str, Any]) -> str:
    unit = data["by"]
    lines = [f"wrote {data['output']} ({data['format']}): {_n(data['total'], unit[:-1])} by ratio, seed {data['seed']}"]
    lines.append(f"  {'source':<28} {'ratio':>6} {'rows before':>12} {'rows after':>11} {'tokens before':>14} {'tokens after':>13} {'share':>7}")
    for s in data["sources"]:
        lines.append(f"  {s['name'][:28]:<28} {s['ratio']:>6.3g} {s['rows_before']:>12,} {s['rows_after']:>11,} {s['tokens_before']:>14,} {s['tokens_after']:>13,} {s['share']:>7.2%}")
        if s["rejected"]:
            lines.append(f"    {_n(s['rejected'], 'row')} rejected (see --rejects)")
        if s["losses"]:
            lines.append(f"    {data['format']} cannot carry: " + ", ".join(f"{k} ({_n(v, 'row')})" for k, v in sorted(s["losses"].items())))
    return "\n".join(lines)
