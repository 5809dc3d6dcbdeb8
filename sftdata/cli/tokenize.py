"""``sftdata tokenize``: a pre-tokenized dataset a trainer loads without tokenizing."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import click
import orjson

from ..errors import UsageError
from . import say
from .engine import engine_of, engine_options
from .stats import TEMPLATE_HELP, TOKENIZER_HELP
from .stats_view import _n


@click.command("tokenize")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Output folder (replaced atomically when its cache key differs).")
@click.option("--trainer", type=click.Choice(["llamafactory", "trl", "sftdata"]), required=True, help="Whose layout and labels: llamafactory (tokenized_path), trl (SFTTrainer), sftdata (sftdata train).")
@click.option("--stage", type=click.Choice(["sft", "dpo", "kto"]), default="sft", show_default=True, help="Training stage; dpo reads preference records, kto KTO records.")
@click.option("--tokenizer", default="qwen2.5", show_default=True, help=TOKENIZER_HELP)
@click.option("--template", default="qwen", show_default=True, help=TEMPLATE_HELP)
@click.option("--cutoff-len", type=click.IntRange(min=1), default=None, help="The trainer's cutoff_len (TRL: max_length); default: no cut.")
@click.option("--train-on", type=click.Choice(["all", "last", "everything"]), default=None, help="Train on all assistant turns, the last one, or every token (default: the trainer's own default; TRL's is every token).")
@click.option("--packing", is_flag=True, help="Pack rows (LLaMA-Factory: written packed; TRL/sftdata pack at load time: report only).")
@click.option("--from", "from_", default="auto", show_default=True, help="Source format, or auto to detect it.")
@click.option("--media-root", type=click.Path(file_okay=False), default=None, help="Where relative media paths point (LLaMA-Factory's media_dir; default: each input's folder).")
@click.option("--dataset-info", "dataset_info", nargs=2, metavar="FILE NAMES", default=None, help="Inputs by name from LLaMA-Factory's dataset_info.json: FILE a,b,c (read with each entry's columns and tags).")
@click.option("--val-size", type=click.FloatRange(min=0), default=0.0, help="Also write a validation split as LLaMA-Factory's val_size makes it: a share (0.1) or, above 1, a row count.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the --val-size split (LLaMA-Factory's seed).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes (default: 2 for inputs over 4 MB, else 1).")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None, help="Write rows that do not decode or are left out here (JSONL with reasons) instead of stopping.")
@engine_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def tokenize_cmd(inputs: tuple[str, ...], output: str, trainer: str, stage: str, tokenizer: str, template: str, cutoff_len: int | None, train_on: str | None, packing: bool,
                 from_: str, media_root: str | None, dataset_info: tuple[str, str] | None, val_size: float, seed: int, workers: int | None, rejects: str | None, engine: str, ray_address: str | None, as_json: bool) -> None:  # fmt: skip
    """Tokenize INPUTS once into OUTPUT, in the layout --trainer loads directly.

    The folder records a cache key (sha256 of the inputs, the tokenizer's files, the
    template, the trainer convention and these options): running again with the same key
    does nothing; `sftdata train` refuses a folder whose key does not match its config.
    Example: sftdata tokenize data.jsonl -o tok --trainer llamafactory --cutoff-len 2048
    """
    from ..api import RejectSink
    from ..progress import Ticker, progress
    from ..tokenize import TokenizeConfig, tokenize_dataset

    sources: list[Any] = list(inputs)
    if dataset_info is not None:
        from ..formats.llamafactory import from_dataset_info

        sources += [tuple(from_dataset_info(dataset_info[0], n.strip())) for n in dataset_info[1].split(",") if n.strip()]
    if not sources:
        raise UsageError("no input given.", field="INPUTS", remedy="Pass data files, or --dataset-info FILE NAMES.")
    config = TokenizeConfig(tokenizer=tokenizer, template=template, trainer=trainer, stage=stage, cutoff_len=cutoff_len, train_on=train_on, packing=packing, format=from_, media_root=media_root, val_size=val_size, seed=seed)  # type: ignore[arg-type]
    with RejectSink(rejects) as sink, (nullcontext(Ticker()) if as_json else progress("tokenizing")) as bar:
        report = tokenize_dataset(sources, output, config, workers=workers, rejects=sink if rejects else None, progress=bar.update, engine=engine_of(engine, ray_address))
    if as_json:
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    say(render(report))


def render(report: Any) -> str:
    """The terminal report."""
    if report.reused:
        return f"{report.output}: already tokenized with the same key {report.key[:12]} (nothing to do): {_n(report.rows, 'row')}."
    lines = [f"wrote {report.output} ({report.trainer}, {report.stage}, key {report.key[:12]}): {report.rows:,} of {_n(report.read, 'row')}"]
    if len(report.splits) > 1:
        lines.append("  splits: " + ", ".join(f"{name} {n:,}" for name, n in report.splits.items()))
    if report.rejected:
        lines.append("  left out: " + ", ".join(f"{code} {n:,}" for code, n in sorted(report.rejected.items())))
    if report.layout == "tokens":
        lines.append(f"  {_n(report.tokens, 'token')}, {report.trained:,} trained; {_n(report.cut_rows, 'row')} cut at cutoff_len {report.cutoff_len}; longest {report.longest:,}; {report.tokens_per_second:,.0f} tokens/s")
        if report.untrained_rows:
            lines.append(f"  {_n(report.untrained_rows, 'row')} {'has' if report.untrained_rows == 1 else 'have'} no trained token (LLaMA-Factory keeps them)")
        p = report.packing
        if p.get("packs"):
            verb = "packed" if p["packed"] else "packing would give"
            lines.append(
                f"  {verb}: {_n(p['rows'], 'row')} -> {_n(p['packs'], 'pack')} of up to {p['capacity']:,} ({p['rows_per_pack']} per pack), "
                f"padding {p['padding_share']:.1%}, trained tokens {p['trained_share']:.1%} of the packed positions"
            )
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines)
