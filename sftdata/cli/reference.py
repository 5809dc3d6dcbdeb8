"""Generate ``docs/cli.md`` from the commands' own ``--help``.

Run ``python -m sftdata.cli.reference --write`` after changing any option or help text;
``tests/test_cli_reference.py`` fails while the file is stale, so the reference can never
drift from the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import _COMMANDS, cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _help(args: list[str]) -> str:
    # the group's own context settings (``-h`` as well as ``--help``), as a real run has them;
    # without them the help text depended on whether a command had run first in the process
    ctx = click.Context(cli, info_name="sftdata", terminal_width=100, max_content_width=100, **cli.context_settings)
    if not args:
        return cli.get_help(ctx)
    command = cli.get_command(ctx, args[0])
    assert command is not None
    sub = click.Context(command, info_name=args[0], parent=ctx, terminal_width=100, max_content_width=100)
    return command.get_help(sub)


def render() -> str:
    """The whole reference page as Markdown."""
    out = [
        "# CLI reference",
        "",
        "Generated from `--help` by `python -m sftdata.cli.reference --write`; do not edit by hand.",
        "Every command is a thin shell over a Python function of the same name (see the pages linked from docs/index.md).",
        "",
        "Exit codes: 0 success, 1 invalid data or a failure (one paragraph naming file, line, field and a remedy), 2 a usage mistake.",
        "",
        "## sftdata",
        "",
        "```text",
        _help([]).rstrip(),
        "```",
    ]
    for name in sorted(_COMMANDS):
        out += ["", f"## sftdata {name}", "", "```text", _help([name]).rstrip(), "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
