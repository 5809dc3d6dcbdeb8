"""The ``sftdata`` command: a thin shell over the Python API.

Each subcommand lives in its own module and is listed in ``_COMMANDS``; it is imported
only when invoked (or when ``--help`` lists commands), so ``sftdata --help`` stays fast.
Every command reads and writes remote URIs (``s3://``, ``gs://``, ``hf://``; see
:mod:`.staging`). Exit codes: 0 ok, 1 invalid data or failure, 2 usage error. ``SftdataError`` is printed
as one paragraph, never as a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .. import __version__

# command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": ("check", "check_cmd", "Everything worth knowing before training: validation, duplicates, leaks, tokens."),
    "convert": ("convert", "convert_cmd", "Convert a dataset to another format."),
    "dedup": ("clean", "dedup_cmd", "Remove exact or near-duplicate records (and eval-set leaks)."),
    "filter": ("clean", "filter_cmd", "Keep or drop records by tokens, turns, length, script, regex, repetition."),
    "split": ("clean", "split_cmd", "Split into train/val without separating near-duplicates."),
    "detect": ("convert", "detect_cmd", "Name a file's format and kind, with evidence."),
    "formats": ("convert", "formats_cmd", "List formats, the kinds they carry and what they cannot carry."),
    "mix": ("mix", "mix_cmd", "Mix datasets with exact ratios by rows or tokens, reproducibly."),
    "lock": ("lock", "lock_cmd", "Pin a dataset (contents, counts, tokens) in a lock file that check and train verify."),
    "render": ("stats", "render_cmd", "Show what the model sees, with trained spans highlighted."),
    "runs": ("runs", "runs_cmd", "Compare training runs side by side: model, setup, results, loss curves."),
    "schema": ("convert", "schema_cmd", "Print the JSON Schema of a format's records."),
    "stats": ("stats", "stats_cmd", "Token statistics after the chat template, and what cutoff_len cuts."),
    "tokenize": ("tokenize", "tokenize_cmd", "Tokenize once into the layout a trainer loads directly (LLaMA-Factory, TRL, sftdata)."),
    "train": ("train", "train_cmd", "Fine-tune a local model: SFT, DPO or KTO on CUDA, Ascend NPU or CPU, one or several devices."),
    "validate": ("validate", "validate_cmd", "Check a dataset: located, explained errors; rejects and fixes."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = _COMMANDS.get(name)
        if entry is None:
            return None
        from .staging import with_staging

        module = importlib.import_module(f"{__name__}.{entry[0]}")
        from .paths import guarded

        return with_staging(guarded(getattr(module, entry[1])))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in sorted(_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sftdata")
def cli() -> None:
    """Validate, convert, clean and measure fine-tuning datasets."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to exit codes without tracebacks."""
    from ..errors import SftdataError

    try:
        cli.main(args=argv, prog_name="sftdata", standalone_mode=False)
    except SftdataError as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(err.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort; outputs are written atomically, so say so.
        click.echo("Interrupted; no partial output was left behind.", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(0)


def run(argv: list[str]) -> Any:  # pragma: no cover - convenience for debugging
    return main(argv)
