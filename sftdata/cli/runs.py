"""``sftdata runs compare RUN_DIR...``: training runs side by side."""

from __future__ import annotations

import click
import orjson

from ..errors import UsageError


@click.group("runs")
def runs_cmd() -> None:
    """Look at training runs (sftdata train, LLaMA-Factory, HF Trainer output folders)."""


@runs_cmd.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--config", "configs", multiple=True, metavar="RUN=PATH", help="The launch YAML of a run (e.g. LLaMA-Factory's), by folder name or path; sftdata train's own train_config.yaml is read by itself.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (differences in bold).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the loss curves overlaid to this .png (needs matplotlib).")
def compare_cmd(run_dirs: tuple[str, ...], configs: tuple[str, ...], as_json: bool, markdown: bool, plot: str | None) -> None:
    """Compare runs: model (parameters, hidden size, layers, heads, vocabulary, ...), setup
    (finetuning type, LoRA, dtype, batch, steps, trainable parameters) and results (runtime,
    samples/s, losses, FLOPs), with the setup differences highlighted. Reads JSON, YAML and
    safetensors headers only; never unpickles (training_args.bin stays unread).
    Example: sftdata runs compare saves/qwen-3b saves/qwen-7b --config qwen-7b=qwen7b.yaml
    """
    from ..train.runs import compare, plot_curves

    mapping = {}
    for item in configs:
        run, eq, path = item.partition("=")
        if not eq or not run or not path:
            raise UsageError(f"--config takes RUN=PATH, not '{item}'.", field="--config")
        mapping[run] = path
    result = compare(list(run_dirs), mapping)
    if plot:
        if plot_curves(result, plot) is None:
            click.echo("--plot needs matplotlib (pip install 'sftdata[plot]'); no plot written", err=True)
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    if markdown:
        click.echo(result.to_markdown(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..train.runs import _fmt

    table = Table(title="runs compare (differences in bold yellow)")
    table.add_column("section")
    table.add_column("field")
    for run in result.runs:
        table.add_column(run.name)
    for section, key, values, differs in result.rows():
        style = "bold yellow" if differs else ""
        table.add_row(section, Text(key, style=style), *(Text(_fmt(v), style=style) for v in values))
    Console(highlight=False).print(table)
