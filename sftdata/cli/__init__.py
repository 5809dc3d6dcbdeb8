"""The ``sftdata`` command: a thin shell over the Python API.

Each subcommand lives in its own module and is listed in ``_COMMANDS``; it is imported
only when invoked (or when ``--help`` lists commands), so ``sftdata --help`` stays fast.
Every command reads and writes remote URIs (``s3://``, ``gs://``, ``hf://``; see
:mod:`.staging`). Exit codes: 0 ok, 1 invalid data or failure, 2 usage error. ``SftdataError`` is printed
as one paragraph, never as a traceback.

Every command also takes ``-q/--quiet`` (no progress bars, summaries or warnings: errors
and the exit code only; data and ``--json`` still go to stdout), and every command that
writes rows ``--escape-formulas`` (see :mod:`sftdata.io.formulas`); both are added here,
once, rather than in each command. A misspelled command gets a suggestion; ``sftdata``
alone prints the help and exits 0.
"""

from __future__ import annotations

import difflib
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


_STATE = {"quiet": False}


def quiet() -> bool:
    """Whether ``-q/--quiet`` was given: print errors only."""
    return _STATE["quiet"]


def say(message: str = "", err: bool = False) -> None:
    """``click.echo`` unless ``--quiet``: for summaries and warnings, not for data."""
    if not _STATE["quiet"]:
        click.echo(message, err=err)


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # The outermost command sets the state for this run (so one in-process run with -q,
    # e.g. under click's CliRunner, does not silence the next); a subcommand only adds -q.
    if value or ctx.parent is None:
        from .. import progress

        _STATE["quiet"] = progress.QUIET = bool(value)


def _set_escape(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from ..io.formulas import current

    tally = current()
    if value and tally is not None:
        tally.escape = True


#: commands whose -o is a file but not rows (no --escape-formulas)
_NOT_ROWS = {"lock"}

QUIET_HELP = "Print nothing but errors (no progress bar, summary or warning); the exit code says the result."
ESCAPE_HELP = "Prefix cells of a .csv/.tsv output that a spreadsheet would run as formulas (=, +, -, @, tab) with a quote (OWASP); default: written as is, and counted."


def _with_shell_options(command: click.Command) -> click.Command:
    """Add ``-q/--quiet`` to every command, and ``--escape-formulas`` to those that write rows."""
    names = {p.name for p in command.params}
    if "quiet" not in names:
        command.params.append(click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True, callback=_set_quiet, help=QUIET_HELP))
    writes_file = command.name not in _NOT_ROWS and any(p.name == "output" and not (isinstance(p.type, click.Path) and not p.type.file_okay) for p in command.params)
    if writes_file and "escape_formulas" not in names:
        command.params.append(click.Option(["--escape-formulas"], is_flag=True, expose_value=False, callback=_set_escape, help=ESCAPE_HELP))
    if isinstance(command, click.Group):  # `sftdata runs compare -q` too
        for sub in command.commands.values():
            _with_shell_options(sub)
    return command


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

        return with_staging(guarded(_with_shell_options(getattr(module, entry[1]))))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in _COMMANDS:
            close = difflib.get_close_matches(name, list(_COMMANDS), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint} Commands: {', '.join(sorted(_COMMANDS))}.")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in sorted(_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, invoke_without_command=True, no_args_is_help=False, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sftdata")
@click.option("-q", "--quiet", is_flag=True, expose_value=False, is_eager=True, callback=_set_quiet, help=QUIET_HELP)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Validate, convert, clean and measure fine-tuning datasets."""
    if ctx.invoked_subcommand is None:  # `sftdata` alone: the help, and success
        click.echo(ctx.get_help())
        ctx.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to exit codes without tracebacks."""
    from ..io.formulas import formulas

    with formulas() as tally:
        try:
            _run(argv)
        finally:
            if tally.cells:
                what = "were quoted (--escape-formulas)" if tally.escape else "were written as is (LLaMA-Factory and datasets read them as data); add --escape-formulas for files meant for people"
                n = f"{tally.cells:,} cell{'s' if tally.cells != 1 else ''}"
                say(f"warning: formula-cells: {n} of the .csv/.tsv output start{'s' if tally.cells == 1 else ''} with =, +, -, @ or a tab, which a spreadsheet runs as a formula; they {what}.", err=True)


def _run(argv: list[str] | None) -> None:
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
